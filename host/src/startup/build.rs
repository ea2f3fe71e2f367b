//! From settings to a ready [`AppState`]: the secret provider first, then
//! each routed capability from the environment or from its stored choice.

use std::sync::Arc;

use opsorch_plugin_api::methods::Capability;

use crate::builtins::json_secrets::{self, JsonSecretFactory};
use crate::metrics::Metrics;
use crate::providers::seam::{BuildError, PluginLauncher, Provider, ProviderRegistry};
use crate::providers::selection::{load_stored, stored_key, ChoiceError, ProviderChoice};
use crate::providers::state::{AppState, HttpSettings};
use crate::settings::{var_name, ConfigError, Selection, Settings};

/// A registry holding the built-in providers (the `json` secret store,
/// writing plain files).
pub fn builtin_registry() -> ProviderRegistry {
    builtin_registry_with(None)
}

/// A registry holding the built-in providers; the `json` secret store
/// encrypts its file with `key` when there is one.
pub fn builtin_registry_with(key: Option<json_secrets::SecretKey>) -> ProviderRegistry {
    let mut registry = ProviderRegistry::new();
    // A fresh registry has no names, so this cannot collide.
    let _ = registry.register(
        Capability::Secret,
        json_secrets::NAME,
        Arc::new(JsonSecretFactory { key }),
    );
    registry
}

fn choice_of(selection: Selection) -> ProviderChoice {
    ProviderChoice {
        provider: selection.provider,
        plugin: selection.plugin,
        config: selection.config,
    }
}

/// Builds the environment's choice for `cap`, naming the variable at fault.
async fn from_env(
    registry: &ProviderRegistry,
    plugins: &dyn PluginLauncher,
    metrics: Option<&Arc<Metrics>>,
    cap: Capability,
    selection: Selection,
) -> Result<Arc<dyn Provider>, ConfigError> {
    choice_of(selection)
        .build(registry, plugins, metrics, cap, false)
        .await
        .map_err(|err| match err {
            ChoiceError::UnknownProvider { .. } => {
                let names = registry.names(cap);
                let known = if names.is_empty() {
                    "none registered".to_owned()
                } else {
                    format!("registered: {}", names.join(", "))
                };
                ConfigError::new(var_name(cap, "PROVIDER"), format!("{err} ({known})"))
            }
            // The key's variable is at fault, not the provider's config.
            ChoiceError::Provider {
                source: BuildError::Key { variable, reason },
                ..
            } => ConfigError::new(variable, reason),
            ChoiceError::Provider { .. } => {
                ConfigError::new(var_name(cap, "CONFIG"), err.to_string())
            }
            // The plugin checked its config and refused it.
            ChoiceError::Plugin(BuildError::Config(_)) => {
                ConfigError::new(var_name(cap, "CONFIG"), err.to_string())
            }
            ChoiceError::Plugin(_) => ConfigError::new(var_name(cap, "PLUGIN"), err.to_string()),
        })
}

/// Resolves every provider and returns the state the router serves, which
/// owns `plugins` (the stdio transport) and records into `metrics`; the
/// first problem refuses start-up.
pub async fn resolve(
    settings: &Settings,
    registry: ProviderRegistry,
    plugins: Arc<dyn PluginLauncher>,
    metrics: Option<Arc<Metrics>>,
) -> Result<AppState, ConfigError> {
    let (state, problems) = build(settings, registry, plugins, metrics, false).await;
    match problems.into_iter().next() {
        Some(problem) => Err(problem),
        None => Ok(state),
    }
}

/// Every problem in building the providers, for `opsorch check`: goes on
/// after a capability that cannot be built.
pub async fn check_state(
    settings: &Settings,
    registry: ProviderRegistry,
    plugins: Arc<dyn PluginLauncher>,
) -> Vec<ConfigError> {
    build(settings, registry, plugins, None, true).await.1
}

/// Builds the state; stops at the first problem unless `keep_going`.
async fn build(
    settings: &Settings,
    registry: ProviderRegistry,
    plugins: Arc<dyn PluginLauncher>,
    metrics: Option<Arc<Metrics>>,
    keep_going: bool,
) -> (AppState, Vec<ConfigError>) {
    let mut problems = Vec::new();
    let secret_selection = settings.selection(Capability::Secret);
    let uses_json_store = secret_selection.plugin.is_none()
        && secret_selection
            .provider
            .as_deref()
            .is_some_and(|p| p.eq_ignore_ascii_case(json_secrets::NAME));
    if let Some(key) = &settings.secret_key {
        if !uses_json_store {
            tracing::warn!(
                "{} is set but the secret provider is not the built-in json store; it has no effect",
                key.variable()
            );
        }
    }
    let secret = if secret_selection.is_set() {
        match from_env(
            &registry,
            plugins.as_ref(),
            metrics.as_ref(),
            Capability::Secret,
            secret_selection,
        )
        .await
        {
            Ok(secret) => Some(secret),
            Err(e) => {
                problems.push(e);
                None
            }
        }
    } else {
        None
    };
    let http = HttpSettings {
        cors_origin: settings.cors_origin.clone(),
        bearer_token: settings.bearer_token.clone(),
        max_body_bytes: settings.max_body_bytes,
        request_timeout: settings.request_timeout,
        allowed_hosts: settings.allowed_hosts.clone(),
        check_host: settings.checks_host_names(),
    };
    let state = AppState::with_plugins(registry, plugins, secret, http, metrics);
    if !keep_going && !problems.is_empty() {
        return (state, problems);
    }

    for cap in Capability::ROUTED {
        let selection = settings.selection(cap);
        let provider = if selection.is_set() {
            let what = choice_of(selection.clone()).describe();
            match from_env(
                state.registry(),
                state.plugins(),
                state.metrics(),
                cap,
                selection,
            )
            .await
            {
                Ok(provider) => {
                    tracing::info!(capability = %cap, source = "environment", provider = %what, "provider ready");
                    Ok(Some(provider))
                }
                Err(e) => Err(e),
            }
        } else if let Some(secret) = state.secret() {
            stored(&state, secret.as_ref(), cap).await
        } else {
            Ok(None)
        };
        match provider {
            Ok(provider) => state.set_provider(cap, provider),
            Err(e) => {
                problems.push(e);
                if !keep_going {
                    break;
                }
            }
        }
    }
    (state, problems)
}

/// The stored choice for `cap`, if any. A store that cannot answer is
/// logged and treated as "nothing stored"; a stored choice that cannot be
/// used refuses start-up, naming its key.
async fn stored(
    state: &AppState,
    secret: &dyn Provider,
    cap: Capability,
) -> Result<Option<Arc<dyn Provider>>, ConfigError> {
    let text = match load_stored(secret, cap).await {
        Ok(Some(text)) => text,
        Ok(None) => return Ok(None),
        Err(err) => {
            tracing::warn!(capability = %cap, code = %err.code, message = %err.message,
                "cannot read the stored provider configuration; leaving it unconfigured");
            return Ok(None);
        }
    };
    let key = stored_key(cap);
    let choice = ProviderChoice::from_stored(&text).map_err(|why| ConfigError::new(&key, why))?;
    if !choice.is_set() {
        return Ok(None);
    }
    let provider = state
        .build_stored_choice(&choice, cap)
        .await
        .map_err(|err| ConfigError::new(&key, err.to_string()))?;
    tracing::info!(capability = %cap, source = "secret store",
        provider = %choice.describe(), "provider ready");
    Ok(Some(provider))
}
