//! Choosing a capability's provider: by registered name or by stdio plugin.
//!
//! The same rules serve the environment at start-up, the stored
//! configuration (`providers/<cap>/default` in the secret store) and
//! `POST /providers/{cap}`: a plugin path wins over a provider name.

use std::path::PathBuf;
use std::sync::Arc;

use opsorch_plugin_api::methods::{Capability, Method};
use opsorch_plugin_api::protocol::{SecretGetPayload, SecretPutPayload};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::metrics::Metrics;
use crate::providers::seam::{
    BuildError, Origin, PluginLauncher, Provider, ProviderError, ProviderRegistry, Source,
};
use crate::providers::tracked::Tracked;

/// Which provider to run for a capability, and with what configuration.
#[derive(Clone, Default)]
pub struct ProviderChoice {
    pub provider: Option<String>,
    pub plugin: Option<PathBuf>,
    pub config: Map<String, Value>,
}

impl std::fmt::Debug for ProviderChoice {
    // The config may hold credentials: show its keys only.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProviderChoice")
            .field("provider", &self.provider)
            .field("plugin", &self.plugin)
            .field("config_keys", &self.config.keys().collect::<Vec<_>>())
            .finish()
    }
}

/// Why a choice could not be put in effect. Messages never quote config.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChoiceError {
    #[error("unknown {capability} provider `{name}`")]
    UnknownProvider {
        capability: Capability,
        name: String,
    },
    /// The registered provider refused its configuration.
    #[error("{capability} provider `{name}`: {source}")]
    Provider {
        capability: Capability,
        name: String,
        source: BuildError,
    },
    /// The plugin could not be used.
    #[error("{0}")]
    Plugin(BuildError),
}

impl ProviderChoice {
    /// Builds the chosen provider. `from_api` is true when the plugin path
    /// came through the HTTP API (directly or from the stored configuration
    /// the API wrote), so the stdio transport may apply its own policy.
    pub async fn build(
        &self,
        registry: &ProviderRegistry,
        plugins: &dyn PluginLauncher,
        metrics: Option<&Arc<Metrics>>,
        capability: Capability,
        from_api: bool,
    ) -> Result<Arc<dyn Provider>, ChoiceError> {
        // Stored choices (and the API's, which are stored) come from the
        // secret store; the others from the environment.
        let source = if from_api {
            Source::Stored
        } else {
            Source::Environment
        };
        if let Some(path) = &self.plugin {
            let launched = plugins
                .launch(capability, path, &self.config, from_api)
                .await
                .map_err(ChoiceError::Plugin)?;
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| path.display().to_string());
            let origin = Origin::Stdio {
                path: path.clone(),
                providers: launched.providers,
            };
            return Ok(Arc::new(Tracked::new(
                capability,
                launched.provider,
                name,
                origin,
                source,
                metrics.cloned(),
            )));
        }
        let name = self.provider.as_deref().unwrap_or_default();
        let factory =
            registry
                .get(capability, name)
                .ok_or_else(|| ChoiceError::UnknownProvider {
                    capability,
                    name: crate::safe_text::quoted(name),
                })?;
        let provider =
            factory
                .create(capability, &self.config)
                .map_err(|error| ChoiceError::Provider {
                    capability,
                    name: crate::safe_text::quoted(name),
                    source: error,
                })?;
        Ok(Arc::new(Tracked::new(
            capability,
            provider,
            name.to_ascii_lowercase(),
            factory.origin(),
            source,
            metrics.cloned(),
        )))
    }
}

/// The secret-store key holding a capability's stored choice.
pub fn stored_key(capability: Capability) -> String {
    format!("providers/{}/default", capability.name())
}

/// The stored form: a JSON string of `{"provider","config","plugin"}`, the
/// same as the Go implementation writes, so existing files keep working.
#[derive(Debug, Serialize, Deserialize)]
struct StoredChoice {
    #[serde(default)]
    provider: String,
    #[serde(default)]
    config: Option<Map<String, Value>>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    plugin: String,
}

impl ProviderChoice {
    /// The stored text of this choice.
    pub fn to_stored(&self) -> String {
        let stored = StoredChoice {
            provider: self.provider.clone().unwrap_or_default(),
            config: Some(self.config.clone()),
            plugin: self
                .plugin
                .as_ref()
                .map(|p| p.display().to_string())
                .unwrap_or_default(),
        };
        // A struct of strings and JSON values always serialises.
        serde_json::to_string(&stored).unwrap_or_default()
    }

    /// Parses a stored choice; the reason never quotes it.
    pub fn from_stored(text: &str) -> Result<ProviderChoice, String> {
        let stored: StoredChoice = serde_json::from_str(text).map_err(|e| {
            format!(
                "stored configuration is not a valid provider configuration (line {} column {})",
                e.line(),
                e.column()
            )
        })?;
        Ok(ProviderChoice {
            provider: Some(stored.provider).filter(|p| !p.is_empty()),
            plugin: Some(stored.plugin)
                .filter(|p| !p.is_empty())
                .map(PathBuf::from),
            config: stored.config.unwrap_or_default(),
        })
    }

    /// What runs, for logs: `plugin <path>` or the provider name (never the
    /// config), bounded.
    pub fn describe(&self) -> String {
        use crate::safe_text::quoted;
        match (&self.plugin, &self.provider) {
            (Some(path), _) => format!("plugin {}", quoted(&path.display().to_string())),
            (None, Some(name)) => quoted(name),
            (None, None) => String::new(),
        }
    }

    /// Whether it names anything to run.
    pub fn is_set(&self) -> bool {
        self.provider.is_some() || self.plugin.is_some()
    }
}

/// Reads the stored choice for `capability`. `Ok(None)` when nothing is stored.
pub async fn load_stored(
    secret: &dyn Provider,
    capability: Capability,
) -> Result<Option<String>, ProviderError> {
    let payload = serde_json::to_string(&SecretGetPayload {
        key: stored_key(capability),
    })
    .map_err(|e| ProviderError::new("", e.to_string()))?;
    match secret.call(Method::SecretGet, payload).await {
        Ok(raw) => match serde_json::from_str::<Option<String>>(raw.get()) {
            Ok(Some(text)) if !text.is_empty() => Ok(Some(text)),
            Ok(_) => Ok(None),
            Err(_) => Err(ProviderError::new("", "secret.get did not return a string")),
        },
        Err(e) if e.code == "not_found" => Ok(None),
        Err(e) => Err(e),
    }
}

/// Stores `choice` for `capability`.
pub async fn store(
    secret: &dyn Provider,
    capability: Capability,
    choice: &ProviderChoice,
) -> Result<(), ProviderError> {
    let payload = serde_json::to_string(&SecretPutPayload {
        key: stored_key(capability),
        value: choice.to_stored(),
    })
    .map_err(|e| ProviderError::new("", e.to_string()))?;
    secret.call(Method::SecretPut, payload).await.map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_round_trip_and_go_compatibility() {
        let mut config = Map::new();
        config.insert("token".into(), Value::String("abc".into()));
        let choice = ProviderChoice {
            provider: Some("incidentmock".into()),
            plugin: None,
            config,
        };
        let text = choice.to_stored();
        assert_eq!(
            text,
            r#"{"provider":"incidentmock","config":{"token":"abc"}}"#
        );
        let back = ProviderChoice::from_stored(&text).unwrap();
        assert_eq!(back.provider.as_deref(), Some("incidentmock"));
        assert_eq!(back.config["token"], "abc");
        // What the Go README shows, and a plugin entry with a null config.
        let go =
            ProviderChoice::from_stored(r#"{"provider":"logmock","config":{"url":"http://x"}}"#)
                .unwrap();
        assert_eq!(go.provider.as_deref(), Some("logmock"));
        let plugin =
            ProviderChoice::from_stored(r#"{"provider":"p","config":null,"plugin":"/bin/p"}"#)
                .unwrap();
        assert_eq!(plugin.plugin, Some(PathBuf::from("/bin/p")));
        assert!(plugin.config.is_empty());
        let err = ProviderChoice::from_stored("{\"provider\": hunter2").unwrap_err();
        assert!(!err.contains("hunter2"));
    }

    #[test]
    fn stored_key_uses_the_singular_name() {
        assert_eq!(
            stored_key(Capability::Messaging),
            "providers/messaging/default"
        );
    }
}

/// The stored choice's, `_CONFIG` objects' and the settings' properties
/// (see `crate::fuzz`).
#[cfg(test)]
mod fuzz {
    use proptest::prelude::*;

    use super::ProviderChoice;
    use crate::fuzz::{json_value, run};
    use crate::settings::Settings;

    #[test]
    fn stored_choices_configs_and_settings_never_panic() {
        let text = prop_oneof![
            ".{0,64}",
            json_value().prop_map(|v| v.to_string()),
            json_value().prop_map(|v| {
                serde_json::json!({"provider": "p", "config": v, "plugin": "/x"}).to_string()
            }),
        ];
        run("stored_and_config_text", text, |text| {
            let _ = ProviderChoice::from_stored(&text);
            let _ = crate::settings::parse_config_object(&text);
            Ok(())
        });
        static NAMES: &[&str] = &[
            "OPSORCH_ADDR",
            "OPSORCH_MAX_BODY_BYTES",
            "OPSORCH_HEADER_TIMEOUT_MS",
            "OPSORCH_MAX_HEADER_BYTES",
            "OPSORCH_MAX_CONNECTIONS",
            "OPSORCH_WRITE_TIMEOUT_MS",
            "OPSORCH_REQUEST_TIMEOUT_MS",
            "OPSORCH_PLUGIN_TIMEOUT_MS",
            "OPSORCH_CORS_ORIGIN",
            "OPSORCH_TLS_CERT_FILE",
            "OPSORCH_INCIDENT_CONFIG",
            "OPSORCH_SECRET_CONFIG",
            "OPSORCH_SECRET_KEY",
            "OPSORCH_PLUGIN_DIR",
            "OPSORCH_LOG_PROVIDER",
        ];
        let env = prop::collection::btree_map(prop::sample::select(NAMES), ".{0,70}", 0..6);
        run("settings_from_env", env, |vars| {
            let vars: std::collections::BTreeMap<String, String> =
                vars.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
            if let Err(e) = Settings::from_env(&vars) {
                prop_assert!(e.variable.starts_with("OPSORCH_"), "{e}");
                prop_assert!(!e.reason.contains('\n'));
            }
            Ok(())
        });
    }
}
