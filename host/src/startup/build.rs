//! From settings to a ready [`AppState`]: the secret provider first, then
//! each routed capability from the environment or from its stored choice.

use std::sync::Arc;

use futures_util::stream::{FuturesOrdered, StreamExt};
use opsorch_plugin_api::methods::Capability;

use crate::builtins::json_secrets::{self, JsonSecretFactory};
use crate::metrics::Metrics;
use crate::providers::seam::{BuildError, PluginLauncher, Provider, ProviderRegistry};
use crate::providers::selection::{load_stored, stored_key, ChoiceError, ProviderChoice};
use crate::providers::state::{AppState, HttpSettings};
use crate::settings::{var_name, ConfigError, Selection, Settings, FIXED};

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

    // Each capability's provider is built on its own (a stdio plugin's
    // configuration check runs one process, 7-20 ms or up to the check
    // timeout), so they are built side by side, a bounded number at once
    // (the permits go out in capability order). The results are taken in
    // capability order (`Capability::ROUTED`, the order they were built in
    // one by one): the problem reported is the first in that order
    // whichever check ends first, and stopping there drops (ends) the
    // checks still running after it.
    let at_once = tokio::sync::Semaphore::new(FIXED.provider_builds_at_once);
    let mut builds: FuturesOrdered<_> = Capability::ROUTED
        .into_iter()
        .map(|cap| {
            let (state, at_once) = (&state, &at_once);
            async move {
                // The semaphore is never closed, so a permit always comes.
                let _permit = at_once.acquire().await.ok();
                (cap, provider_for(state, settings, cap).await)
            }
        })
        .collect();
    while let Some((cap, provider)) = builds.next().await {
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
    drop(builds);
    (state, problems)
}

/// The provider the settings choose for `cap`, or its stored choice when
/// the environment names none.
async fn provider_for(
    state: &AppState,
    settings: &Settings,
    cap: Capability,
) -> Result<Option<Arc<dyn Provider>>, ConfigError> {
    let selection = settings.selection(cap);
    if selection.is_set() {
        let what = choice_of(selection.clone()).describe();
        let provider = from_env(
            state.registry(),
            state.plugins(),
            state.metrics(),
            cap,
            selection,
        )
        .await?;
        tracing::info!(capability = %cap, source = "environment", provider = %what, "provider ready");
        Ok(Some(provider))
    } else if let Some(secret) = state.secret() {
        stored(state, secret.as_ref(), cap).await
    } else {
        Ok(None)
    }
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

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::future::Future;
    use std::path::Path;
    use std::pin::Pin;
    use std::sync::Mutex;
    use std::time::Duration;

    use opsorch_plugin_api::methods::Method;
    use serde_json::{Map, Value};
    use tokio::sync::{Barrier, Notify};

    use super::*;
    use crate::providers::seam::{Json, LaunchedPlugin, ProviderFuture};

    /// How long a check waits for the others before it gives up: a bound
    /// on a hang, not a measure of speed.
    const HANG_BOUND: Duration = Duration::from_secs(10);

    struct Quiet;
    impl Provider for Quiet {
        fn call(&self, method: Method, _: String) -> ProviderFuture<'_> {
            let empty = method.result_kind().empty_json().to_owned();
            Box::pin(async move { Ok(Json::check(empty).unwrap()) })
        }
    }
    fn launched() -> LaunchedPlugin {
        LaunchedPlugin {
            provider: Arc::new(Quiet),
            providers: vec!["quiet".into()],
        }
    }

    type Launch<'a> = Pin<Box<dyn Future<Output = Result<LaunchedPlugin, BuildError>> + Send + 'a>>;

    /// Every check waits until all `n` are in flight: checks run one after
    /// the other never get there, and each gives up after `HANG_BOUND`.
    struct AllAtOnce(Barrier);
    impl PluginLauncher for AllAtOnce {
        fn launch<'a>(
            &'a self,
            _: Capability,
            _: &'a Path,
            _: &'a Map<String, Value>,
            _: bool,
        ) -> Launch<'a> {
            Box::pin(async move {
                tokio::time::timeout(HANG_BOUND, self.0.wait())
                    .await
                    .map(|_| launched())
                    .map_err(|_| BuildError::Invalid("the checks ran one at a time".into()))
            })
        }
        fn shutdown(&self) -> Pin<Box<dyn Future<Output = ()> + Send + '_>> {
            Box::pin(async {})
        }
    }

    fn settings(vars: &[(&str, &str)]) -> Settings {
        let env: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Settings::from_env(&env).unwrap()
    }

    const FOUR_PLUGINS: [(&str, &str); 4] = [
        ("OPSORCH_INCIDENT_PLUGIN", "/plugins/incident"),
        ("OPSORCH_LOG_PLUGIN", "/plugins/log"),
        ("OPSORCH_TEAM_PLUGIN", "/plugins/team"),
        ("OPSORCH_ORCHESTRATION_PLUGIN", "/plugins/orchestration"),
    ];

    #[tokio::test]
    async fn the_plugins_are_checked_side_by_side() {
        assert!(FOUR_PLUGINS.len() <= FIXED.provider_builds_at_once);
        let settings = settings(&FOUR_PLUGINS);
        let launcher = Arc::new(AllAtOnce(Barrier::new(FOUR_PLUGINS.len())));
        let state = resolve(&settings, builtin_registry(), launcher, None)
            .await
            .unwrap();
        for cap in [
            Capability::Incident,
            Capability::Log,
            Capability::Team,
            Capability::Orchestration,
        ] {
            assert!(state.provider(cap).is_ok(), "{cap}");
        }
        assert!(state.provider(Capability::Alert).is_err());

        // `opsorch check` builds them the same way.
        let launcher = Arc::new(AllAtOnce(Barrier::new(FOUR_PLUGINS.len())));
        let problems = check_state(&settings, builtin_registry(), launcher).await;
        assert!(problems.is_empty(), "{problems:?}");
    }

    /// Refuses every plugin; `/plugins/slow` only once every other check
    /// has answered, so the later capabilities' refusals come first.
    #[derive(Default)]
    struct RefusesSlowFirst {
        answered: Mutex<usize>,
        others: usize,
        done: Notify,
    }
    impl PluginLauncher for RefusesSlowFirst {
        fn launch<'a>(
            &'a self,
            capability: Capability,
            path: &'a Path,
            _: &'a Map<String, Value>,
            _: bool,
        ) -> Launch<'a> {
            Box::pin(async move {
                let refusal = BuildError::Invalid(format!("{capability} refused"));
                if path == Path::new("/plugins/slow") {
                    let others_done = async {
                        loop {
                            let notified = self.done.notified();
                            if *self.answered.lock().unwrap() == self.others {
                                return;
                            }
                            notified.await;
                        }
                    };
                    if tokio::time::timeout(HANG_BOUND, others_done).await.is_err() {
                        return Err(BuildError::Invalid("the others never answered".into()));
                    }
                } else {
                    *self.answered.lock().unwrap() += 1;
                    self.done.notify_waiters();
                }
                Err(refusal)
            })
        }
        fn shutdown(&self) -> Pin<Box<dyn Future<Output = ()> + Send + '_>> {
            Box::pin(async {})
        }
    }

    #[tokio::test]
    async fn the_problem_reported_is_the_first_in_capability_order() {
        let settings = settings(&[
            ("OPSORCH_INCIDENT_PLUGIN", "/plugins/slow"),
            ("OPSORCH_LOG_PLUGIN", "/plugins/fast"),
            ("OPSORCH_TEAM_PLUGIN", "/plugins/fast"),
        ]);
        let launcher = || {
            Arc::new(RefusesSlowFirst {
                others: 2,
                ..Default::default()
            })
        };
        let err = resolve(&settings, builtin_registry(), launcher(), None)
            .await
            .err()
            .expect("start-up is refused");
        assert_eq!(err.variable, "OPSORCH_INCIDENT_PLUGIN");
        assert_eq!(err.reason, "incident refused");

        // `opsorch check` lists every problem, in the same order.
        let problems = check_state(&settings, builtin_registry(), launcher()).await;
        let problems: Vec<(String, String)> = problems
            .into_iter()
            .map(|p| (p.variable, p.reason))
            .collect();
        assert_eq!(
            problems,
            [
                ("OPSORCH_INCIDENT_PLUGIN".into(), "incident refused".into()),
                ("OPSORCH_LOG_PLUGIN".into(), "log refused".into()),
                ("OPSORCH_TEAM_PLUGIN".into(), "team refused".into()),
            ]
        );
    }
}
