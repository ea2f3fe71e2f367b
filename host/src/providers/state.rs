//! The state every request handler shares.
//!
//! It is built once at start-up and cloned (one `Arc`) into handlers. The
//! only mutable parts are the per-capability [`ProviderSlot`]s, swapped by
//! `POST /providers/{cap}`.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use opsorch_plugin_api::methods::Capability;

use crate::metrics::Metrics;
use crate::providers::seam::{
    BuildError, LaunchedPlugin, PluginLauncher, Provider, ProviderRegistry, ProviderSlot,
};
use crate::settings::{DEFAULT_MAX_BODY_BYTES, DEFAULT_REQUEST_TIMEOUT};

/// HTTP behaviour settings (CORS, auth, body limit, request timeout).
#[derive(Clone)]
pub struct HttpSettings {
    pub cors_origin: String,
    pub bearer_token: Option<String>,
    pub max_body_bytes: usize,
    /// The longest a request may take, body read and provider call
    /// included; past it the client gets 504 `request_timeout`.
    pub request_timeout: Duration,
    /// `OPSORCH_ALLOWED_HOSTS`, normalised (see `settings::host_name`).
    pub allowed_hosts: Vec<String>,
    /// Whether a host without a bearer token checks the `Host` header
    /// (`crate::http::browser_guard`).
    pub check_host: bool,
}

impl std::fmt::Debug for HttpSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpSettings")
            .field("cors_origin", &self.cors_origin)
            .field("bearer_token", &self.bearer_token.as_ref().map(|_| "<set>"))
            .field("max_body_bytes", &self.max_body_bytes)
            .field("request_timeout", &self.request_timeout)
            .field("allowed_hosts", &self.allowed_hosts)
            .field("check_host", &self.check_host)
            .finish()
    }
}

impl Default for HttpSettings {
    fn default() -> Self {
        HttpSettings {
            cors_origin: "*".into(),
            bearer_token: None,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            allowed_hosts: Vec::new(),
            check_host: false,
        }
    }
}

/// Shared, cheaply cloned application state.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<StateInner>,
}

/// The capability has no provider in effect (the HTTP layer answers 501).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{} provider not configured", .0.name())]
pub struct ProviderMissing(pub Capability);

/// The launcher of a state built without a plugin transport
/// ([`AppState::new`]): every plugin choice is refused.
pub(crate) struct NoPlugins;

impl PluginLauncher for NoPlugins {
    fn launch<'a>(
        &'a self,
        _: Capability,
        path: &'a std::path::Path,
        _: &'a serde_json::Map<String, serde_json::Value>,
        _: bool,
    ) -> std::pin::Pin<
        Box<dyn std::future::Future<Output = Result<LaunchedPlugin, BuildError>> + Send + 'a>,
    > {
        Box::pin(std::future::ready(Err(BuildError::Invalid(format!(
            "plugin `{}` refused: this host runs no plugin transport",
            path.display()
        )))))
    }

    fn shutdown(&self) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send + '_>> {
        Box::pin(async {})
    }
}

struct StateInner {
    registry: ProviderRegistry,
    plugins: Arc<dyn PluginLauncher>,
    slots: BTreeMap<Capability, ProviderSlot>,
    secret: Option<Arc<dyn Provider>>,
    http: HttpSettings,
    /// This host's metrics, when its admin listener is on.
    metrics: Option<Arc<Metrics>>,
    /// Serialises the store and the swap of `POST /providers/{cap}` (not
    /// the build before them) so that the order of stores matches the order
    /// of swaps. Provider calls never take it.
    configure: tokio::sync::Mutex<()>,
}

impl AppState {
    /// A state with no provider in effect for any routed capability and no
    /// plugin transport: choosing a stdio plugin is refused.
    pub fn new(
        registry: ProviderRegistry,
        secret: Option<Arc<dyn Provider>>,
        http: HttpSettings,
    ) -> Self {
        Self::with_plugins(registry, Arc::new(NoPlugins), secret, http, None)
    }

    /// A state with no provider in effect for any routed capability, whose
    /// plugin choices are started by `plugins` (the stdio transport) and
    /// whose requests and calls are recorded in `metrics`, if given.
    pub fn with_plugins(
        registry: ProviderRegistry,
        plugins: Arc<dyn PluginLauncher>,
        secret: Option<Arc<dyn Provider>>,
        http: HttpSettings,
        metrics: Option<Arc<Metrics>>,
    ) -> Self {
        let slots = Capability::ROUTED
            .into_iter()
            .map(|cap| (cap, ProviderSlot::default()))
            .collect();
        AppState {
            inner: Arc::new(StateInner {
                registry,
                plugins,
                slots,
                secret,
                http,
                metrics,
                configure: tokio::sync::Mutex::new(()),
            }),
        }
    }

    pub fn registry(&self) -> &ProviderRegistry {
        &self.inner.registry
    }

    /// Builds a stored choice (from the secret store or `POST /providers`)
    /// for `capability` with this host's registry, plugin launcher and
    /// metrics.
    pub(crate) async fn build_stored_choice(
        &self,
        choice: &crate::providers::selection::ProviderChoice,
        capability: Capability,
    ) -> Result<Arc<dyn Provider>, crate::providers::selection::ChoiceError> {
        choice
            .build(
                self.registry(),
                self.plugins(),
                self.metrics(),
                capability,
                true,
            )
            .await
    }

    /// What starts the stdio plugins this state's providers may be.
    pub fn plugins(&self) -> &dyn PluginLauncher {
        self.inner.plugins.as_ref()
    }

    pub fn http(&self) -> &HttpSettings {
        &self.inner.http
    }

    /// The metrics this host records, when its admin listener is on.
    pub fn metrics(&self) -> Option<&Arc<Metrics>> {
        self.inner.metrics.as_ref()
    }

    /// The secret provider, if one is configured.
    pub fn secret(&self) -> Option<&Arc<dyn Provider>> {
        self.inner.secret.as_ref()
    }

    /// The provider in effect for `cap`.
    pub fn provider(&self, cap: Capability) -> Result<Arc<dyn Provider>, ProviderMissing> {
        self.inner
            .slots
            .get(&cap)
            .and_then(ProviderSlot::get)
            .ok_or(ProviderMissing(cap))
    }

    /// Puts `provider` in effect for a routed capability (the secret store is
    /// fixed at start-up, so `Secret` is ignored).
    pub fn set_provider(&self, cap: Capability, provider: Option<Arc<dyn Provider>>) {
        if let Some(slot) = self.inner.slots.get(&cap) {
            slot.set(provider);
        }
    }

    /// Held while a provider configuration, already built, is stored and
    /// put in effect.
    pub async fn configure_guard(&self) -> tokio::sync::MutexGuard<'_, ()> {
        self.inner.configure.lock().await
    }
}
