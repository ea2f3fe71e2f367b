//! Providers: what serves a capability, however it is loaded.
//!
//! A [`Provider`] answers provider methods (`plugin-api/src/methods.rs`) with raw JSON. It may
//! be built in (the `json` secret store), come from a stable-ABI library or be
//! a stdio plugin process; the host does not care. Named constructors live in
//! the [`ProviderRegistry`], and the provider in effect for a capability lives
//! in a [`ProviderSlot`], which is swapped by `POST /providers/{cap}` without
//! blocking calls in flight.

use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::sync::{Arc, RwLock};

use axum::http::HeaderValue;
use opsorch_plugin_api::methods::{Capability, Method};
use opsorch_plugin_api::ErrorKind;
use serde_json::value::RawValue;
use serde_json::{Map, Value};

/// The future a provider call returns.
pub type ProviderFuture<'a> =
    Pin<Box<dyn Future<Output = Result<Json, ProviderError>> + Send + 'a>>;

/// A provider's result: the text of one JSON value, already checked.
///
/// The text stays in whatever buffer the provider produced it in (a
/// library's string, a parsed stdio line) until it is written as the
/// response body: no copy on the way.
pub struct Json(Box<dyn AsRef<str> + Send + Sync>);

impl Json {
    /// Checks that `text` is one JSON value (surrounding whitespace
    /// allowed) and keeps it as it is.
    pub fn check<T>(text: T) -> Result<Json, serde_json::Error>
    where
        T: AsRef<str> + Send + Sync + 'static,
    {
        serde_json::from_str::<&RawValue>(text.as_ref())?;
        Ok(Json(Box::new(text)))
    }

    /// Keeps `text` as one JSON value without checking it: for the results
    /// of a library whose manifest says `resultsChecked` (the SDK built them
    /// by serde encoding or from `JsonText`, which cannot hold anything
    /// else). The check guards against adapter mistakes, which those types
    /// rule out; a library that lies about it runs in the host's process
    /// and could do worse than return bad JSON.
    pub fn vouched_for<T>(text: T) -> Json
    where
        T: AsRef<str> + Send + Sync + 'static,
    {
        Json(Box::new(text))
    }

    /// The JSON text.
    pub fn get(&self) -> &str {
        (*self.0).as_ref()
    }

    /// Whether the value is `null`.
    pub fn is_null(&self) -> bool {
        self.get().trim() == "null"
    }

    /// The text as a response body, without copying it.
    pub fn into_bytes(self) -> bytes::Bytes {
        bytes::Bytes::from_owner(TextBytes(self.0))
    }
}

/// Already checked when it was parsed.
impl From<Box<RawValue>> for Json {
    fn from(raw: Box<RawValue>) -> Self {
        Json(Box::new(Box::<str>::from(raw)))
    }
}

impl fmt::Debug for Json {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Json").field(&self.get()).finish()
    }
}

/// A checked text's bytes, for [`bytes::Bytes::from_owner`].
struct TextBytes(Box<dyn AsRef<str> + Send + Sync>);

impl AsRef<[u8]> for TextBytes {
    fn as_ref(&self) -> &[u8] {
        (*self.0).as_ref().as_bytes()
    }
}

/// Something that serves the methods of one capability.
///
/// Implementations that block (a library call, a file write) move that work
/// off the async workers themselves (the library provider's call pool,
/// `spawn_blocking`); the host only awaits the future. Calls may run
/// concurrently.
pub trait Provider: Send + Sync + 'static {
    /// `payload` is the method's JSON payload (shapes in
    /// `plugin-api/src/protocol.rs`). Returns
    /// the JSON result.
    fn call(&self, method: Method, payload: String) -> ProviderFuture<'_>;

    /// The processes serving this provider, for providers that run some
    /// (stdio plugins); `None` for the others.
    fn processes(&self) -> Option<ProcessStatus> {
        None
    }

    /// What the host knows about a provider in effect (set by the
    /// bookkeeping wrapper, `providers::tracked`); `None` for a bare one.
    fn status(&self) -> Option<ProviderStatus> {
        None
    }

    /// The provider a wrapper wraps.
    fn wrapped(&self) -> Option<&Arc<dyn Provider>> {
        None
    }
}

/// A provider in effect, as `GET /capabilities` shows it.
#[derive(Debug, Clone)]
pub struct ProviderStatus {
    /// A registered name, or a stdio plugin's file name.
    pub name: String,
    pub origin: Origin,
    pub source: Source,
    /// Calls running now.
    pub in_flight: u64,
    pub last_error: Option<LastError>,
}

/// Where a provider's code lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// Compiled into the host (the `json` secret store).
    Builtin,
    /// An adapter library.
    Library {
        file: std::path::PathBuf,
        name: String,
        version: String,
        interface_version: String,
    },
    /// A stdio plugin executable.
    Stdio {
        path: std::path::PathBuf,
        /// The provider names its manifest lists for the capability (empty
        /// when it did not identify itself).
        providers: Vec<String>,
    },
}

impl Origin {
    pub fn transport(&self) -> &'static str {
        match self {
            Origin::Builtin => "builtin",
            Origin::Library { .. } => "library",
            Origin::Stdio { .. } => "stdio",
        }
    }
}

/// How the provider was chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    /// `OPSORCH_<CAP>_PROVIDER` / `_PLUGIN`.
    Environment,
    /// Stored in the secret provider (at start-up, or by `POST /providers`).
    Stored,
}

/// The last error a provider returned.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct LastError {
    /// The error code (`plugin_timeout`, or the adapter's own).
    pub code: String,
    /// When, RFC 3339 UTC.
    pub at: String,
}

/// The processes of a provider that runs some.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct ProcessStatus {
    /// The pids running now.
    pub pids: Vec<u32>,
    /// Processes started to replace one that crashed, timed out or wrote
    /// a bad line.
    pub restarts: u64,
}

/// The code a secret store answers `secret.put` with when it cannot be
/// written at all (a read-only file, directory or file system): storing is
/// refused on purpose, not failing, so `POST /providers` answers 409.
pub const SECRET_STORE_READ_ONLY: &str = "secret_store_read_only";

/// An error a provider reports: its wire `code` (empty when the provider
/// gave none), the [`ErrorKind`] the code classifies as (the HTTP status is
/// a `match` on it, in `http::error`), and a message for the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderError {
    pub kind: ErrorKind,
    pub code: String,
    pub message: String,
}

impl ProviderError {
    /// An error with a wire code; its kind is classified from the code.
    pub fn new(code: impl Into<String>, message: impl Into<String>) -> Self {
        let code = code.into();
        ProviderError {
            kind: ErrorKind::from_code(&code),
            code,
            message: message.into(),
        }
    }

    /// An error the host itself raises, of a kind it knows, under `code`.
    pub fn of_kind(kind: ErrorKind, code: impl Into<String>, message: impl Into<String>) -> Self {
        ProviderError {
            kind,
            code: code.into(),
            message: message.into(),
        }
    }
}

/// An SDK error keeps its kind.
impl From<opsorch_plugin_api::Error> for ProviderError {
    fn from(err: opsorch_plugin_api::Error) -> Self {
        ProviderError::of_kind(err.kind(), err.code(), err.message())
    }
}

impl fmt::Display for ProviderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.code.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.code, self.message)
        }
    }
}

impl std::error::Error for ProviderError {}

/// Why a provider could not be built. Messages are shown to operators and
/// API clients: they never quote configuration values or keys.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BuildError {
    /// The configuration, the adapter or the plugin executable refused.
    #[error("{0}")]
    Invalid(String),
    /// A plugin checked its configuration and refused it (the config
    /// variable is at fault, not the plugin's path).
    #[error("{0}")]
    Config(String),
    /// The provider's encryption key is missing or does not fit its data;
    /// `variable` is the setting at fault.
    #[error("{reason}")]
    Key {
        variable: &'static str,
        reason: String,
    },
}

/// Builds providers of a registered name from their configuration.
pub trait ProviderFactory: Send + Sync + 'static {
    fn create(
        &self,
        capability: Capability,
        config: &Map<String, Value>,
    ) -> Result<Arc<dyn Provider>, BuildError>;

    /// Where the providers it builds come from.
    fn origin(&self) -> Origin {
        Origin::Builtin
    }

    /// Called when the host stops, once no call can reach its providers
    /// any more: releases what they share (an adapter library's runtime),
    /// waiting at most `timeout`. May block. Nothing by default.
    fn shutdown(&self, _timeout: std::time::Duration) {}
}

/// Starts providers served by plugin executables: the stdio transport,
/// reached through this trait so that this layer does not depend on it.
///
/// Start-up builds one from the settings and the application state owns it
/// (see `docs/ARCHITECTURE.md`): two hosts in one process share nothing.
pub trait PluginLauncher: Send + Sync + 'static {
    /// The provider for `capability` served by the plugin at `path`, with
    /// `config`, once the transport has checked what it can. `from_api` is
    /// true when the path came through the HTTP API (directly or from the
    /// stored configuration it wrote), so the transport may apply its own
    /// policy. Errors never quote config values.
    fn launch<'a>(
        &'a self,
        capability: Capability,
        path: &'a Path,
        config: &'a Map<String, Value>,
        from_api: bool,
    ) -> Pin<Box<dyn Future<Output = Result<LaunchedPlugin, BuildError>> + Send + 'a>>;

    /// Ends every plugin process this launcher started; returns once they
    /// are gone. Later launches' calls fail.
    fn shutdown(&self) -> Pin<Box<dyn Future<Output = ()> + Send + '_>>;
}

/// A provider served by a plugin, as [`PluginLauncher::launch`] returns it.
pub struct LaunchedPlugin {
    pub provider: Arc<dyn Provider>,
    /// The provider names the plugin's manifest lists for the capability;
    /// empty when it did not say (plugins written for the Go host).
    pub providers: Vec<String>,
}

/// A name was registered twice for the same capability.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{capability} provider `{name}` is already registered")]
pub struct DuplicateProvider {
    pub capability: Capability,
    pub name: String,
}

/// The named provider constructors known to this process, per capability.
/// Names are case-insensitive (stored lower-cased).
#[derive(Default, Clone)]
pub struct ProviderRegistry {
    factories: BTreeMap<(Capability, String), Arc<dyn ProviderFactory>>,
}

impl ProviderRegistry {
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers `name` for `capability`; a name already taken is an error.
    pub fn register(
        &mut self,
        capability: Capability,
        name: &str,
        factory: Arc<dyn ProviderFactory>,
    ) -> Result<(), DuplicateProvider> {
        let key = (capability, name.to_ascii_lowercase());
        if self.factories.contains_key(&key) {
            return Err(DuplicateProvider {
                capability,
                name: key.1,
            });
        }
        self.factories.insert(key, factory);
        Ok(())
    }

    /// The factory registered as `name` (any case) for `capability`.
    pub fn get(&self, capability: Capability, name: &str) -> Option<Arc<dyn ProviderFactory>> {
        self.factories
            .get(&(capability, name.to_ascii_lowercase()))
            .cloned()
    }

    /// Shuts every factory down ([`ProviderFactory::shutdown`]), each
    /// waiting at most `timeout`. Blocks: call it off the async workers.
    pub fn shutdown(&self, timeout: std::time::Duration) {
        for factory in self.factories.values() {
            factory.shutdown(timeout);
        }
    }

    /// The registered names for `capability`, sorted.
    pub fn names(&self, capability: Capability) -> Vec<String> {
        // BTreeMap order is (capability, name), so this is already sorted.
        self.factories
            .keys()
            .filter(|(cap, _)| *cap == capability)
            .map(|(_, name)| name.clone())
            .collect()
    }
}

impl fmt::Debug for ProviderRegistry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.factories.keys()).finish()
    }
}

/// The provider currently in effect for one capability.
///
/// Readers clone the `Arc` out in a short critical section and call it with
/// no lock held, so calls run concurrently and a swap never waits for one.
#[derive(Default)]
pub struct ProviderSlot {
    current: RwLock<Option<Arc<dyn Provider>>>,
}

impl ProviderSlot {
    pub fn get(&self) -> Option<Arc<dyn Provider>> {
        // A poisoned lock only means a writer panicked between two plain
        // assignments; the value is still whole.
        match self.current.read() {
            Ok(guard) => guard.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Puts `provider` in effect; calls already running keep the old one.
    pub fn set(&self, provider: Option<Arc<dyn Provider>>) {
        let previous = {
            let mut guard = match self.current.write() {
                Ok(guard) => guard,
                Err(poisoned) => poisoned.into_inner(),
            };
            std::mem::replace(&mut *guard, provider)
        };
        // Dropped outside the lock: a stdio provider's drop may do real work.
        drop(previous);
    }
}

/// Calls `provider` and normalises the result for the method's kind: a
/// `null` result becomes the kind's empty value (`[]` for lists).
pub async fn call_normalised(
    provider: &dyn Provider,
    method: Method,
    payload: String,
) -> Result<Json, ProviderError> {
    let result = provider.call(method, payload).await?;
    if result.is_null() {
        let empty = method.result_kind().empty_json();
        return Json::check(empty).map_err(|e| ProviderError::new("", format!("internal: {e}")));
    }
    Ok(result)
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Null;
    impl Provider for Null {
        fn call(&self, _: Method, _: String) -> ProviderFuture<'_> {
            Box::pin(async { Ok(Json::check("null").unwrap()) })
        }
    }
    struct NullFactory;
    impl ProviderFactory for NullFactory {
        fn create(
            &self,
            _: Capability,
            _: &Map<String, Value>,
        ) -> Result<Arc<dyn Provider>, BuildError> {
            Ok(Arc::new(Null))
        }
    }

    #[test]
    fn json_results_are_checked_and_kept_as_given() {
        for bad in ["", "{", "[1,]", "nul", "1 2", "{\"a\":1}x"] {
            assert!(Json::check(bad).is_err(), "{bad:?} accepted");
        }
        let text = " {\"id\":\"é\"}\n";
        let checked = Json::check(text.to_string()).unwrap();
        assert_eq!(checked.get(), text);
        assert!(!checked.is_null());
        assert_eq!(&checked.into_bytes()[..], text.as_bytes());

        let raw = Json::from(RawValue::from_string("[1,2]".into()).unwrap());
        assert_eq!(raw.get(), "[1,2]");
        assert_eq!(&raw.into_bytes()[..], b"[1,2]");
        assert!(Json::check(" null ").unwrap().is_null());
    }

    #[test]
    fn registry_is_case_insensitive_sorted_and_rejects_duplicates() {
        let mut reg = ProviderRegistry::new();
        reg.register(Capability::Incident, "Zeta", Arc::new(NullFactory))
            .unwrap();
        reg.register(Capability::Incident, "alpha", Arc::new(NullFactory))
            .unwrap();
        reg.register(Capability::Log, "beta", Arc::new(NullFactory))
            .unwrap();
        let dup = reg
            .register(Capability::Incident, "ZETA", Arc::new(NullFactory))
            .unwrap_err();
        assert_eq!(dup.name, "zeta");
        assert_eq!(reg.names(Capability::Incident), ["alpha", "zeta"]);
        assert_eq!(reg.names(Capability::Log), ["beta"]);
        assert!(reg.names(Capability::Team).is_empty());
        assert!(reg.get(Capability::Incident, "ALPHA").is_some());
        assert!(reg.get(Capability::Log, "alpha").is_none());
    }

    #[tokio::test]
    async fn null_results_become_empty_values() {
        let list = call_normalised(&Null, Method::IncidentQuery, "{}".into())
            .await
            .unwrap();
        assert_eq!(list.get(), "[]");
        let obj = call_normalised(&Null, Method::IncidentGet, "{}".into())
            .await
            .unwrap();
        assert_eq!(obj.get(), "{}");
    }

    #[test]
    fn slot_swaps() {
        let slot = ProviderSlot::default();
        assert!(slot.get().is_none());
        slot.set(Some(Arc::new(Null)));
        assert!(slot.get().is_some());
        slot.set(None);
        assert!(slot.get().is_none());
    }
}

/// What the HTTP layer knows about the request a provider call serves:
/// set by the request gate for the whole request, read by transports that
/// pass it on (the library transport gives it to asynchronous adapters).
///
/// The gate sets one for every request, most of which call no provider:
/// it keeps the header values as they came (reference-counted) and makes
/// no text until a transport asks.
#[derive(Debug, Clone)]
pub struct CallInfo {
    /// When the request times out.
    pub deadline: Option<std::time::Instant>,
    request_id: HeaderValue,
    actor: Option<HeaderValue>,
}

impl CallInfo {
    /// `request_id` is the one the gate chose (safe ASCII); `actor` the
    /// caller's actor ID header, when it is text and not blank.
    pub fn new(
        deadline: Option<std::time::Instant>,
        request_id: HeaderValue,
        actor: Option<HeaderValue>,
    ) -> Self {
        CallInfo {
            deadline,
            request_id,
            actor,
        }
    }

    pub fn request_id(&self) -> &str {
        self.request_id.to_str().unwrap_or_default()
    }

    /// The actor ID, trimmed; `unknown` when the caller sent none.
    pub fn actor(&self) -> &str {
        self.actor
            .as_ref()
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .unwrap_or("unknown")
    }
}

tokio::task_local! {
    /// The [`CallInfo`] of the request being served by this task.
    pub static CALL_INFO: CallInfo;
}

/// The [`CallInfo`] of the current request, if the call serves one.
pub fn current_call() -> Option<CallInfo> {
    CALL_INFO.try_with(CallInfo::clone).ok()
}

/// The stdio response line's properties (see `crate::fuzz`).
#[cfg(test)]
mod fuzz {
    use opsorch_plugin_api::methods::Method;
    use opsorch_plugin_api::protocol::{StdioResponse, WireError};
    use proptest::prelude::*;

    use super::{call_normalised, Json, Provider, ProviderFuture};
    use crate::fuzz::{json_value, mutated_body, run, runtime};

    /// A response line a plugin might write: valid shapes, near misses, noise.
    fn response_line() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            json_value().prop_map(|v| format!(r#"{{"result":{v}}}"#).into_bytes()),
            json_value().prop_map(|v| format!(r#"{{"error":{v}}}"#).into_bytes()),
            (".{0,12}", ".{0,12}").prop_map(|(c, m)| {
                serde_json::json!({"error": {"code": c, "message": m}})
                    .to_string()
                    .into_bytes()
            }),
            json_value().prop_map(|v| v.to_string().into_bytes()),
            prop::collection::vec(any::<u8>(), 0..128),
            (1usize..5000).prop_map(|n| format!(
                r#"{{"result":{}{}}}"#,
                "[".repeat(n),
                "]".repeat(n)
            )
            .into_bytes()),
            (1usize..5000).prop_map(|n| format!(r#"{{"result":{}"#, "[".repeat(n)).into_bytes()),
            mutated_body().prop_map(|b| {
                let mut line = br#"{"result":"#.to_vec();
                line.extend(b);
                line.push(b'}');
                line
            }),
        ]
    }

    #[test]
    fn stdio_response_lines_never_panic_and_normalise() {
        let rt = runtime();
        run(
            "stdio_response",
            (response_line(), prop::sample::select(Method::ALL)),
            |(line, method)| {
                let Ok(response) = serde_json::from_slice::<StdioResponse>(&line) else {
                    return Ok(());
                };
                // The error classification plugins rely on.
                if let Some(err) = &response.error {
                    let (code, message) = (err.code(), err.message());
                    if let WireError::Text(text) = err {
                        prop_assert_eq!(text.as_str(), message);
                        prop_assert!(code.is_empty());
                    }
                }
                // A result, whatever it is, passes through normalisation intact or
                // becomes the method's empty value.
                if let Some(result) = response.result {
                    struct Fixed(String);
                    impl Provider for Fixed {
                        fn call(&self, _: Method, _: String) -> ProviderFuture<'_> {
                            let text = self.0.clone();
                            Box::pin(async move { Ok(Json::check(text).unwrap()) })
                        }
                    }
                    let raw = result.get().to_owned();
                    let out = rt
                        .block_on(call_normalised(&Fixed(raw.clone()), method, "{}".into()))
                        .unwrap();
                    if raw.trim() == "null" {
                        prop_assert_eq!(out.get(), method.result_kind().empty_json());
                    } else {
                        prop_assert_eq!(out.get(), raw.as_str());
                    }
                }
                Ok(())
            },
        );
    }
}
