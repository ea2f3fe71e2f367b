//! Loading adapter libraries (`.so`/`.dylib`) built against `opsorch-plugin-api`.
//!
//! Every library in the `OPSORCH_PLUGIN_DIR` directories is opened at start-up
//! with `lib_header_from_path` + `init_root_module`, which caches per file
//! (abi_stable's `RootModule::load_from_*` caches per type and would hand back
//! the first library for every later one). Libraries are never unloaded; to
//! swap an adapter, replace the file and restart.
//!
//! Libraries built against interface 1.1 or later also export an
//! asynchronous module (`opsorch_plugin_api::abi::load_async_module`); their
//! providers are built through it. An asynchronous provider's call is an
//! FFI-safe future awaited in the request's own task: a call that is ready
//! on its first poll is answered without a thread hand-off, the request's
//! deadline and id reach the adapter, and dropping the request (timeout,
//! disconnect, shutdown) drops the future, which cancels the adapter's
//! work. Synchronous providers, and every provider of a 1.0 library, run on
//! their provider's [`CallPool`].
//!
//! When the host stops (after the server has drained and the stdio plugins
//! have ended), `serve` calls [`ProviderRegistry::shutdown`]: the
//! asynchronous module's `shutdown` of every such library stops its runtime
//! (waiting at most `FIXED.library_runtime_stop_wait` for its blocking tasks), once per
//! library.
//!
//! Each (capability, provider name) pair a library's manifest lists becomes a
//! [`ProviderFactory`] in the registry. Any library that fails to load, or
//! registers a pair another library already took, stops start-up with one line
//! per file naming the reason.

pub(crate) mod call_pool;

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use abi_stable::library::lib_header_from_path;
use abi_stable::std_types::{RResult, RStr, RString};
use opsorch_plugin_api::abi::{
    load_async_module, AbiCallContext, AbiError, AdapterModule_Ref, AsyncModule_Ref,
    AsyncProviderObject, CallFuture, HostLogger, LogLevel, ProviderObject,
};
use opsorch_plugin_api::error::codes;
use opsorch_plugin_api::methods::{Capability, Method};
use opsorch_plugin_api::protocol::Manifest;
use opsorch_plugin_api::ErrorKind;
use serde_json::{Map, Value};

use crate::metrics::{LibraryLabels, Metrics};
use crate::providers::seam::Origin;
use crate::providers::seam::{
    current_call, BuildError, Json, Provider, ProviderError, ProviderFactory, ProviderFuture,
    ProviderRegistry,
};
use call_pool::{CallPool, PoolError};

/// Why one library could not be used. `reason` is one short line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadError {
    pub path: PathBuf,
    pub reason: String,
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path.display(), self.reason)
    }
}

impl std::error::Error for LoadError {}

/// An opened adapter library and what it offers.
#[derive(Clone)]
pub struct LoadedLibrary {
    pub path: PathBuf,
    pub manifest: Manifest,
    module: AdapterModule_Ref,
    /// The asynchronous module (interface 1.1 and later).
    async_module: Option<AsyncModule_Ref>,
    /// Set once its runtime has been asked to stop.
    stopped: Arc<AtomicBool>,
}

impl fmt::Debug for LoadedLibrary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoadedLibrary")
            .field("path", &self.path)
            .field("manifest", &self.manifest)
            .field("asynchronous", &self.async_module.is_some())
            .finish()
    }
}

impl LoadedLibrary {
    /// Stops the library's runtime through its asynchronous module (a 1.0
    /// library has none); only the first call does anything. Blocks for at
    /// most `timeout`.
    pub fn shutdown_runtime(&self, timeout: Duration) {
        let Some(module) = self.async_module else {
            return;
        };
        if self.stopped.swap(true, Ordering::AcqRel) {
            return;
        }
        let millis = u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX);
        module.shutdown()(millis);
        tracing::debug!(library = %self.manifest.name, path = %self.path.display(),
            "asked the adapter library to stop its runtime");
    }

    /// How its providers' results are taken: as they are when the manifest
    /// vouches for them, else checked.
    fn results(&self) -> Results {
        if self.manifest.results_checked {
            Results::Vouched
        } else {
            Results::Check
        }
    }

    /// The (capability, provider name) pairs, validated against the method table.
    pub fn providers(&self) -> impl Iterator<Item = (Capability, &str)> {
        self.manifest
            .providers
            .iter()
            .filter_map(|p| Capability::from_name(&p.capability).map(|cap| (cap, p.name.as_str())))
    }
}

/// The interface version this host was built against.
pub fn host_interface_version() -> &'static str {
    opsorch_plugin_api::abi::INTERFACE_VERSION
}

/// Opens one adapter library. `path` is made absolute first: a bare file name
/// would otherwise be looked up in the system library path.
pub fn load_library(path: &Path) -> Result<LoadedLibrary, LoadError> {
    let fail = |reason: String| LoadError {
        path: path.to_path_buf(),
        reason,
    };
    let abs = std::path::absolute(path).map_err(|e| fail(format!("bad path: {e}")))?;
    let fail = |reason: String| LoadError {
        path: abs.clone(),
        reason,
    };
    let header = lib_header_from_path(&abs).map_err(|e| fail(summarize(&e.to_string())))?;
    let module = header
        .init_root_module::<AdapterModule_Ref>()
        .map_err(|e| fail(summarize(&e.to_string())))?;
    module.set_logger()(HostLogger { log: host_log });
    let manifest_json = match module.manifest()() {
        RResult::ROk(json) => json.into_string(),
        RResult::RErr(e) => return Err(fail(format!("manifest failed: {}", e.message))),
    };
    let manifest: Manifest = serde_json::from_str(&manifest_json)
        .map_err(|e| fail(format!("manifest is not valid: {e}")))?;
    for entry in &manifest.providers {
        if Capability::from_name(&entry.capability).is_none() {
            return Err(fail(format!(
                "registers unknown capability `{}`",
                entry.capability
            )));
        }
        if entry.name.trim().is_empty() {
            return Err(fail(format!(
                "registers an empty provider name for {}",
                entry.capability
            )));
        }
    }
    // A library without the symbol was built against interface 1.0: it is
    // served through its synchronous entry point.
    let async_module = load_async_module(&abs).map_err(|e| fail(summarize(&e.to_string())))?;
    Ok(LoadedLibrary {
        path: abs,
        manifest,
        module,
        async_module,
        stopped: Arc::default(),
    })
}

/// Turns abi_stable's error text into one line. Layout mismatches come as a
/// dump of hundreds of lines whose useful lines start with `Error:`.
fn summarize(text: &str) -> String {
    let mut errors: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with("Error:"))
        .collect();
    errors.dedup();
    let core = if errors.is_empty() {
        // abi_stable spreads short errors over several lines; keep them all.
        text.split_whitespace().collect::<Vec<_>>().join(" ")
    } else {
        let shown = errors.len().min(3);
        let mut s = format!(
            "incompatible interface layout: {}",
            errors[..shown].join("; ")
        );
        if errors.len() > shown {
            s.push_str(&format!(" (+{} more)", errors.len() - shown));
        }
        s
    };
    let hint = if core.contains(&abi_stable_loader_symbol()) {
        Some("not an OpsOrch adapter (no adapter root module exported)")
    } else if core.contains("invalid ELF header")
        || core.contains("file too short")
        || core.contains("not a mach-o file")
    {
        Some("not a shared library")
    } else if core.contains("version mismatch") {
        Some("built against an incompatible opsorch-plugin-api interface version")
    } else {
        None
    };
    let line = match hint {
        Some(hint) => format!("{hint} ({core})"),
        None => core,
    };
    truncate(&line, 400)
}

fn abi_stable_loader_symbol() -> String {
    abi_stable::library::ROOT_MODULE_LOADER_NAME.to_string()
}

fn truncate(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

/// The `*.so`/`*.dylib` files in `dir`, sorted, absolute.
pub fn library_files(dir: &Path) -> Result<Vec<PathBuf>, LoadError> {
    let fail = |reason: String| LoadError {
        path: dir.to_path_buf(),
        reason,
    };
    let abs = std::path::absolute(dir).map_err(|e| fail(format!("bad path: {e}")))?;
    let entries =
        std::fs::read_dir(&abs).map_err(|e| fail(format!("cannot read plugin directory: {e}")))?;
    let mut files = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| fail(format!("cannot read plugin directory: {e}")))?;
        let path = entry.path();
        let is_library = matches!(
            path.extension().and_then(|e| e.to_str()),
            Some("so") | Some("dylib")
        );
        if is_library && !path.is_dir() {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

/// Loads every library in `dirs` and registers its providers. Every failure
/// is collected; the error lists each failing file with its reason. Each
/// loaded library gets its info series in `metrics`, if given.
pub fn register_libraries(
    dirs: &[PathBuf],
    registry: &mut ProviderRegistry,
    metrics: Option<&Metrics>,
) -> anyhow::Result<()> {
    let failures = register_libraries_collecting(dirs, registry, metrics);
    if failures.is_empty() {
        return Ok(());
    }
    let lines: Vec<String> = failures.iter().map(|f| f.to_string()).collect();
    anyhow::bail!("cannot load adapter libraries: {}", lines.join("; "))
}

/// Loads every library in `dirs` and registers its providers; returns
/// each failing file (or directory) with its reason.
pub fn register_libraries_collecting(
    dirs: &[PathBuf],
    registry: &mut ProviderRegistry,
    metrics: Option<&Metrics>,
) -> Vec<LoadError> {
    let mut failures: Vec<LoadError> = Vec::new();
    let mut owners = Owners::default();
    for dir in dirs {
        let files = match library_files(dir) {
            Ok(files) => files,
            Err(e) => {
                failures.push(e);
                continue;
            }
        };
        for file in files {
            let library = match load_library(&file) {
                Ok(library) => Arc::new(library),
                Err(e) => {
                    failures.push(e);
                    continue;
                }
            };
            failures.extend(owners.register(&library, registry));
            tracing::info!(
                library = %library.manifest.name,
                version = %library.manifest.version,
                path = %library.path.display(),
                providers = library.manifest.providers.len(),
                "loaded adapter library"
            );
            if let Some(m) = metrics {
                m.library_loaded(LibraryLabels {
                    library: library.manifest.name.clone(),
                    version: library.manifest.version.clone(),
                    interface_version: library.manifest.interface_version.clone(),
                    file: library.path.display().to_string(),
                });
            }
        }
    }
    failures
}

/// Which library file registered each (capability, lower-case provider
/// name) pair, so that a refused duplicate can name it.
#[derive(Default)]
struct Owners(Vec<((Capability, String), PathBuf)>);

impl Owners {
    /// Registers every provider of `library`; returns one error per pair
    /// already taken, naming the library file that took it, or a built-in
    /// provider when no library did.
    fn register(
        &mut self,
        library: &Arc<LoadedLibrary>,
        registry: &mut ProviderRegistry,
    ) -> Vec<LoadError> {
        let mut failures = Vec::new();
        for (capability, name) in library.providers() {
            let key = (capability, name.to_ascii_lowercase());
            let factory = Arc::new(LibraryFactory {
                library: library.clone(),
                name: name.to_string(),
            });
            if registry.register(capability, name, factory).is_err() {
                let other = self
                    .0
                    .iter()
                    .find(|(k, _)| *k == key)
                    .map(|(_, p)| format!(" (already registered by {})", p.display()))
                    .unwrap_or_else(|| " (already registered by a built-in provider)".into());
                failures.push(LoadError {
                    path: library.path.clone(),
                    reason: format!("duplicate {capability} provider `{name}`{other}"),
                });
            } else {
                self.0.push((key, library.path.clone()));
            }
        }
        failures
    }
}

/// Builds providers of one (capability, name) pair of a library.
struct LibraryFactory {
    library: Arc<LoadedLibrary>,
    name: String,
}

impl ProviderFactory for LibraryFactory {
    fn create(
        &self,
        capability: Capability,
        config: &Map<String, Value>,
    ) -> Result<Arc<dyn Provider>, BuildError> {
        let config =
            serde_json::to_string(config).map_err(|e| BuildError::Invalid(e.to_string()))?;
        let (cap, name, config) = (
            RStr::from_str(capability.name()),
            RStr::from_str(&self.name),
            RStr::from_str(&config),
        );
        let failed = |e: AbiError| {
            BuildError::Invalid(format!(
                "{} ({}): {}",
                self.library.manifest.name, e.code, e.message
            ))
        };
        let object = match self.library.async_module {
            Some(module) => match module.new_provider()(cap, name, config) {
                RResult::ROk(object) if !object.is_blocking() => {
                    return Ok(Arc::new(AsyncLibraryProvider {
                        object,
                        results: self.library.results(),
                    }));
                }
                RResult::ROk(object) => SyncObject::Current(object),
                RResult::RErr(e) => return Err(failed(e)),
            },
            None => match self.library.module.new_provider()(cap, name, config) {
                RResult::ROk(object) => SyncObject::Legacy(object),
                RResult::RErr(e) => return Err(failed(e)),
            },
        };
        Ok(Arc::new(LibraryProvider {
            object: Arc::new(object),
            pool: CallPool::new(&self.library.manifest.name),
            results: self.library.results(),
        }))
    }

    fn shutdown(&self, timeout: Duration) {
        self.library.shutdown_runtime(timeout);
    }

    fn origin(&self) -> Origin {
        Origin::Library {
            file: self.library.path.clone(),
            name: self.library.manifest.name.clone(),
            version: self.library.manifest.version.clone(),
            interface_version: self.library.manifest.interface_version.clone(),
        }
    }
}

/// A provider object called synchronously.
enum SyncObject {
    /// From a library built against interface 1.0.
    Legacy(ProviderObject),
    /// A synchronous provider of a newer library.
    Current(AsyncProviderObject),
}

impl SyncObject {
    fn call(&self, method: RStr<'_>, payload: RStr<'_>) -> RResult<RString, AbiError> {
        match self {
            SyncObject::Legacy(object) => object.call(method, payload),
            SyncObject::Current(object) => object.call(method, payload),
        }
    }
}

/// Whether a library's results are checked before they are passed on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Results {
    /// Checked to be one JSON value (`invalid_result` otherwise).
    Check,
    /// Passed on as they are: the library's manifest says `resultsChecked`
    /// (built with the SDK since interface 1.2, whose types make every
    /// result one JSON value). Parsing a result took a third of a fast
    /// call's instructions in the host (docs/BENCHMARKS.md).
    Vouched,
}

/// The JSON result of a library call, or its error.
fn result(
    method: Method,
    out: RResult<RString, AbiError>,
    results: Results,
) -> Result<Json, ProviderError> {
    match out {
        RResult::ROk(json) if results == Results::Vouched => Ok(Json::vouched_for(json)),
        RResult::ROk(json) => Json::check(json).map_err(|_| {
            ProviderError::new("invalid_result", format!("{method} returned invalid JSON"))
        }),
        RResult::RErr(e) => Err(ProviderError::new(
            e.code.into_string(),
            e.message.into_string(),
        )),
    }
}

/// An asynchronous provider living in a library: its calls are futures
/// polled in the request's task.
struct AsyncLibraryProvider {
    object: AsyncProviderObject,
    results: Results,
}

impl Provider for AsyncLibraryProvider {
    fn call(&self, method: Method, payload: String) -> ProviderFuture<'_> {
        let context = match current_call() {
            Some(call) => AbiCallContext {
                timeout_ms: call
                    .deadline
                    .map(|d| {
                        let left = d.saturating_duration_since(std::time::Instant::now());
                        u64::try_from(left.as_millis()).unwrap_or(u64::MAX)
                    })
                    .into(),
                request_id: call.request_id().into(),
                actor: call.actor().into(),
            },
            None => AbiCallContext::default(),
        };
        let future = self.object.call_async(
            context,
            RStr::from_str(method.name()),
            RString::from(payload),
        );
        let results = self.results;
        Box::pin(async move {
            match (CatchPanic { future }).await {
                Some(out) => result(method, out, results),
                None => Err(ProviderError::of_kind(
                    ErrorKind::AdapterPanic,
                    codes::ADAPTER_PANIC,
                    format!("adapter panicked in {method}"),
                )),
            }
        })
    }
}

/// Polls a library's future; `None` when a poll panicked. Futures built by
/// the SDK catch their own panics, so this only guards against libraries
/// that build `FfiFuture`s by hand.
struct CatchPanic {
    future: CallFuture,
}

impl std::future::Future for CatchPanic {
    type Output = Option<RResult<RString, AbiError>>;

    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Self::Output> {
        let future = std::pin::Pin::new(&mut self.future);
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| future.poll(cx))) {
            Ok(std::task::Poll::Ready(out)) => std::task::Poll::Ready(Some(out)),
            Ok(std::task::Poll::Pending) => std::task::Poll::Pending,
            Err(_) => std::task::Poll::Ready(None),
        }
    }
}

/// A provider living in a library. Calls run on the provider's own
/// [`CallPool`] threads, so an adapter that blocks never stalls the async
/// workers or other capabilities.
struct LibraryProvider {
    object: Arc<SyncObject>,
    pool: CallPool,
    results: Results,
}

impl Provider for LibraryProvider {
    fn call(&self, method: Method, payload: String) -> ProviderFuture<'_> {
        let object = self.object.clone();
        let results = self.results;
        Box::pin(async move {
            // The result is checked on the pool thread too, and kept in the
            // library's own string until it is written out.
            self.pool
                .run(move || {
                    result(
                        method,
                        object.call(RStr::from_str(method.name()), RStr::from_str(&payload)),
                        results,
                    )
                })
                .await
                .map_err(pool_error)?
        })
    }
}

/// A call the pool could not run. Only a call that ended without an answer
/// (it panicked on its thread) is the adapter's fault.
fn pool_error(err: PoolError) -> ProviderError {
    match err {
        PoolError::Dropped => ProviderError::of_kind(
            ErrorKind::AdapterPanic,
            codes::ADAPTER_PANIC,
            format!("adapter call failed: {err}"),
        ),
        PoolError::ThreadStart(_) | PoolError::Closed => ProviderError::of_kind(
            ErrorKind::Unavailable,
            ADAPTER_UNAVAILABLE,
            format!("adapter call could not run: {err}"),
        ),
    }
}

/// The code of a library call the host could not run (no thread to run it
/// on, or the pool is closed): 502, the adapter is not at fault.
pub const ADAPTER_UNAVAILABLE: &str = "adapter_unavailable";

/// Adapter log lines, tagged with the adapter's name.
extern "C" fn host_log(level: LogLevel, adapter: RStr<'_>, message: RStr<'_>) {
    let adapter = adapter.as_str();
    // Lines logged during an asynchronous call start with its request id.
    let (request_id, message) = match message.as_str().strip_prefix("request_id=") {
        Some(rest) => rest.split_once(' ').unwrap_or((rest, "")),
        None => ("", message.as_str()),
    };
    match level {
        LogLevel::Error => tracing::error!(target: "adapter", adapter, request_id, "{message}"),
        LogLevel::Warn => tracing::warn!(target: "adapter", adapter, request_id, "{message}"),
        LogLevel::Info => tracing::info!(target: "adapter", adapter, request_id, "{message}"),
        LogLevel::Debug => tracing::debug!(target: "adapter", adapter, request_id, "{message}"),
        LogLevel::Trace => tracing::trace!(target: "adapter", adapter, request_id, "{message}"),
    }
}

/// What `opsorch plugin inspect` prints, and whether the host accepts the file.
pub fn inspect(path: &Path) -> (String, bool) {
    let mut out = String::new();
    let abs = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    out.push_str(&format!("library:    {}\n", abs.display()));
    let header = match lib_header_from_path(&abs) {
        Ok(header) => header,
        Err(e) => {
            out.push_str(&format!("accepted:   no: {}\n", summarize(&e.to_string())));
            return (out, false);
        }
    };
    let host = host_interface_version();
    let library_version = header.version_strings().version;
    match load_library(&abs) {
        Ok(library) => {
            let m = &library.manifest;
            out.push_str(&format!("name:       {}\n", m.name));
            out.push_str(&format!("version:    {}\n", m.version));
            out.push_str(&format!(
                "interface:  {} (host {host})\n",
                m.interface_version
            ));
            out.push_str(match library.results() {
                Results::Vouched => {
                    "results:    one JSON value by construction (SDK 1.2+), passed on as they are\n"
                }
                Results::Check => "results:    checked by the host\n",
            });
            out.push_str("providers:\n");
            for p in &m.providers {
                out.push_str(&format!("  {:<14} {}\n", p.capability, p.name));
            }
            out.push_str("accepted:   yes\n");
            (out, true)
        }
        Err(e) => {
            out.push_str(&format!("interface:  {library_version} (host {host})\n"));
            out.push_str(&format!("accepted:   no: {}\n", e.reason));
            (out, false)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use abi_stable::sabi_trait::TD_Opaque;
    use abi_stable::std_types::RString;
    use opsorch_plugin_api::abi::{AbiError, AbiProvider, AbiProvider_TO};

    /// A provider written against the raw ABI, answering fixed text.
    struct Fixed(&'static str);

    impl AbiProvider for Fixed {
        fn call(&self, _: RStr<'_>, _: RStr<'_>) -> RResult<RString, AbiError> {
            RResult::ROk(self.0.into())
        }
    }

    fn provider(text: &'static str) -> LibraryProvider {
        LibraryProvider {
            object: Arc::new(SyncObject::Legacy(AbiProvider_TO::from_value(
                Fixed(text),
                TD_Opaque,
            ))),
            pool: CallPool::new("fixed"),
            results: Results::Check,
        }
    }

    /// The statics `export_adapter!` defines, by name, from its source.
    fn exported_statics() -> Vec<String> {
        let abi = std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../plugin-api/src/abi.rs"),
        )
        .unwrap();
        let start = abi
            .find("macro_rules! export_adapter")
            .expect("the export macro");
        abi[start..]
            .lines()
            .filter_map(|line| line.trim().strip_prefix("pub static "))
            .filter_map(|rest| rest.split(':').next())
            .map(|name| name.trim().to_owned())
            .collect()
    }

    #[test]
    fn the_export_macro_defines_the_symbols_the_loader_looks_up() {
        let exported = exported_statics();
        // abi_stable (pinned to =0.11.3 in Cargo.toml) looks the root module
        // up under this name; the macro spells it out, so a change of
        // abi_stable must not go unnoticed.
        assert!(
            exported.contains(&abi_stable_loader_symbol()),
            "{exported:?} lacks {}",
            abi_stable_loader_symbol()
        );
        assert!(
            exported
                .iter()
                .any(|s| s == opsorch_plugin_api::abi::ASYNC_MODULE_SYMBOL),
            "{exported:?}"
        );
    }

    #[test]
    fn pool_failures_are_typed_and_only_a_lost_call_is_a_panic() {
        let lost = pool_error(PoolError::Dropped);
        assert_eq!(
            (lost.kind, lost.code.as_str()),
            (ErrorKind::AdapterPanic, "adapter_panic")
        );
        for err in [
            PoolError::ThreadStart(std::io::Error::other("no more threads")),
            PoolError::Closed,
        ] {
            let err = pool_error(err);
            assert_eq!(err.kind, ErrorKind::Unavailable, "{err}");
            assert_eq!(err.code, ADAPTER_UNAVAILABLE);
        }
        let no_thread = pool_error(PoolError::ThreadStart(std::io::Error::other("EAGAIN")));
        assert!(
            no_thread.message.contains("cannot start an adapter thread"),
            "{no_thread}"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn results_are_checked_and_passed_on_unchanged() {
        let good = provider(r#"[{"id":"INC-1"}]"#)
            .call(Method::IncidentQuery, "{}".into())
            .await
            .unwrap();
        assert_eq!(&good.into_bytes()[..], br#"[{"id":"INC-1"}]"#);
        for bad in [r#"[{"id":"INC-1"}"#, "", "not json", "{} {}"] {
            let error = provider(bad)
                .call(Method::IncidentQuery, "{}".into())
                .await
                .unwrap_err();
            assert_eq!(error.code, "invalid_result", "{bad:?}");
            assert_eq!(error.message, "incident.query returned invalid JSON");
        }
    }

    #[test]
    fn summarize_keeps_error_lines_of_layout_dumps() {
        let dump = "blah\n  field a\nError: incompatible type size Expected: 96 Found: 128\nmore\n   Error: too many fields\nError: too many fields\n";
        let s = summarize(dump);
        assert!(
            s.contains("incompatible type size Expected: 96 Found: 128"),
            "{s}"
        );
        assert!(s.contains("too many fields"), "{s}");
        assert!(!s.contains("blah"), "{s}");
    }

    #[test]
    fn summarize_explains_common_failures() {
        assert!(
            summarize("Could not open library at:\n\t/x.so\nbecause:\n/x.so: file too short")
                .starts_with("not a shared library")
        );
        assert!(
            summarize("'opsorch_adapter' library version mismatch: user:1.0.0 library:2.0.0")
                .starts_with("built against an incompatible")
        );
    }

    #[test]
    fn missing_directory_is_an_error() {
        let mut registry = ProviderRegistry::new();
        let err = register_libraries(
            &[PathBuf::from("/nonexistent/opsorch-plugins")],
            &mut registry,
            None,
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("/nonexistent/opsorch-plugins"), "{err}");
        assert!(err.contains("cannot read plugin directory"), "{err}");
    }

    #[test]
    fn text_file_named_so_is_refused() {
        let dir = std::env::temp_dir().join(format!("opsorch-lib-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("x.so"), "not a library").unwrap();
        std::fs::write(dir.join("notes.txt"), "ignored").unwrap();
        let mut registry = ProviderRegistry::new();
        let err = register_libraries(std::slice::from_ref(&dir), &mut registry, None)
            .unwrap_err()
            .to_string();
        std::fs::remove_dir_all(&dir).ok();
        assert!(err.contains("x.so"), "{err}");
        assert!(err.contains("not a shared library"), "{err}");
        assert!(!err.contains("notes.txt"), "{err}");
    }

    #[test]
    fn a_load_error_names_the_file_then_the_reason() {
        let err = LoadError {
            path: PathBuf::from("/plugins/libx.so"),
            reason: "not a shared library".into(),
        };
        assert_eq!(err.to_string(), "/plugins/libx.so: not a shared library");
    }

    #[test]
    fn the_interface_version_is_the_plugin_api_s() {
        assert_eq!(
            host_interface_version(),
            opsorch_plugin_api::abi::INTERFACE_VERSION
        );
        assert!(host_interface_version().contains('.'));
    }

    #[test]
    fn summarize_shows_three_layout_errors_and_counts_the_rest() {
        let dump = |n: usize| {
            (1..=n)
                .map(|i| format!("Error: field {i} differs\n"))
                .collect::<String>()
        };
        assert_eq!(
            summarize(&dump(3)),
            "incompatible interface layout: Error: field 1 differs; \
             Error: field 2 differs; Error: field 3 differs"
        );
        let five = summarize(&dump(5));
        assert!(five.ends_with("Error: field 3 differs (+2 more)"), "{five}");
        assert!(!five.contains("field 4"), "{five}");
        // Short errors spread over lines are kept whole, on one line.
        assert_eq!(summarize("no such\n  file"), "no such file");
    }

    #[test]
    fn summarize_names_each_failure_on_its_own() {
        for (text, hint) in [
            ("x: invalid ELF header", "not a shared library"),
            ("x: file too short", "not a shared library"),
            ("x: not a mach-o file", "not a shared library"),
            ("version mismatch", "built against an incompatible"),
        ] {
            assert!(summarize(text).starts_with(hint), "{text}");
        }
        // What dlsym says about a library that exports no root module.
        let missing = "libx.so: undefined symbol: _1as_0lib_1header_0root_bmodule_bloader";
        assert!(
            summarize(missing).starts_with("not an OpsOrch adapter"),
            "{missing}"
        );
        assert_eq!(summarize("something else"), "something else");
    }

    #[test]
    fn truncate_cuts_long_text_at_a_character_boundary() {
        assert_eq!(truncate("short", 5), "short");
        assert_eq!(truncate("longer", 4), "long…");
        // "é" is two bytes: a cut inside it moves back before it.
        assert_eq!(truncate("aé", 2), "a…");
        let long = "x".repeat(1000);
        assert_eq!(summarize(&long).chars().count(), 401);
    }

    #[test]
    fn library_files_are_the_so_and_dylib_files_sorted_and_absolute() {
        let dir = tempfile::tempdir().unwrap();
        for name in ["b.so", "a.dylib", "notes.txt", "c.so.1"] {
            std::fs::write(dir.path().join(name), "").unwrap();
        }
        std::fs::create_dir(dir.path().join("d.so")).unwrap();
        let files = library_files(dir.path()).unwrap();
        assert_eq!(
            files,
            vec![dir.path().join("a.dylib"), dir.path().join("b.so")]
        );
        assert!(files.iter().all(|f| f.is_absolute()));
        assert!(library_files(&dir.path().join("missing")).is_err());
    }

    #[test]
    fn inspect_says_what_is_wrong_with_a_file_it_refuses() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("libx.so");
        std::fs::write(&file, "not a library").unwrap();
        let (text, accepted) = inspect(&file);
        assert!(!accepted, "{text}");
        assert!(
            text.starts_with(&format!("library:    {}\n", file.display())),
            "{text}"
        );
        assert!(
            text.contains("accepted:   no: not a shared library"),
            "{text}"
        );
    }

    #[test]
    fn adapter_log_lines_carry_the_adapter_and_the_request_id() {
        let (buffer, guard) = crate::log_capture::capture_logs();
        host_log(
            LogLevel::Warn,
            RStr::from_str("standin"),
            RStr::from_str("request_id=r-7 the vendor is slow"),
        );
        host_log(
            LogLevel::Error,
            RStr::from_str("standin"),
            RStr::from_str("no request"),
        );
        drop(guard);
        let text = buffer.text();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2, "{text}");
        for want in [
            "WARN",
            "adapter",
            "standin",
            "request_id=\"r-7\"",
            "the vendor is slow",
        ] {
            assert!(lines[0].contains(want), "{want}: {text}");
        }
        assert!(
            lines[1].contains("ERROR") && lines[1].contains("no request"),
            "{text}"
        );
    }

    /// A library built here rather than loaded from a file: its modules are
    /// the extern functions below, so the factory, the providers and the
    /// runtime shutdown run the same code as for a loaded one.
    mod in_process {
        use std::sync::atomic::AtomicU64;

        use abi_stable::prefix_type::PrefixTypeTrait;
        use opsorch_plugin_api::abi::{
            AbiAsyncProvider, AbiAsyncProvider_TO, AdapterModule, AsyncModule,
        };
        use opsorch_plugin_api::protocol::ProviderEntry;
        use serde_json::json;

        use super::*;
        use crate::providers::seam::{CallInfo, CALL_INFO};

        /// What a provider built by the modules below answers: the way it
        /// was called and what it was built and called with.
        struct Echo {
            built: String,
            blocking: bool,
        }

        impl Echo {
            fn answer(&self, path: &str, method: RStr<'_>, payload: &str, extra: Value) -> RString {
                if let Some(text) = payload.strip_prefix("answer ") {
                    return format!("{path}: {text}").into();
                }
                json!({
                    "path": path,
                    "built": self.built,
                    "method": method.as_str(),
                    "payload": payload,
                    "context": extra,
                })
                .to_string()
                .into()
            }
        }

        impl AbiProvider for Echo {
            fn call(&self, method: RStr<'_>, payload: RStr<'_>) -> RResult<RString, AbiError> {
                RResult::ROk(self.answer("legacy", method, payload.as_str(), Value::Null))
            }
        }

        fn explode() -> RResult<RString, AbiError> {
            panic!("the adapter's future panicked")
        }

        impl AbiAsyncProvider for Echo {
            fn is_blocking(&self) -> bool {
                self.blocking
            }

            fn call(&self, method: RStr<'_>, payload: RStr<'_>) -> RResult<RString, AbiError> {
                RResult::ROk(self.answer("sync", method, payload.as_str(), Value::Null))
            }

            fn call_async(
                &self,
                context: AbiCallContext,
                method: RStr<'_>,
                payload: RString,
            ) -> CallFuture {
                if payload.as_str() == "panic" {
                    return CallFuture::new(async { explode() });
                }
                let context = json!({
                    "request_id": context.request_id.as_str(),
                    "actor": context.actor.as_str(),
                    "timeout_ms": context.timeout_ms.into_option(),
                });
                let out = self.answer("async", method, payload.as_str(), context);
                CallFuture::new(async move { RResult::ROk(out) })
            }
        }

        fn built(cap: RStr<'_>, name: RStr<'_>, config: RStr<'_>) -> Result<Echo, AbiError> {
            if config.as_str().contains("refuse") {
                return Err(AbiError {
                    code: "bad_config".into(),
                    message: "no url".into(),
                });
            }
            Ok(Echo {
                built: format!("{}/{}/{}", cap.as_str(), name.as_str(), config.as_str()),
                blocking: config.as_str().contains("blocking"),
            })
        }

        extern "C" fn manifest() -> RResult<RString, AbiError> {
            RResult::ROk("{}".into())
        }

        extern "C" fn set_logger(_: HostLogger) {}

        extern "C" fn new_legacy(
            cap: RStr<'_>,
            name: RStr<'_>,
            config: RStr<'_>,
        ) -> RResult<ProviderObject, AbiError> {
            built(cap, name, config)
                .map(|echo| AbiProvider_TO::from_value(echo, TD_Opaque))
                .into()
        }

        extern "C" fn new_async(
            cap: RStr<'_>,
            name: RStr<'_>,
            config: RStr<'_>,
        ) -> RResult<AsyncProviderObject, AbiError> {
            built(cap, name, config)
                .map(|echo| AbiAsyncProvider_TO::from_value(echo, TD_Opaque))
                .into()
        }

        /// Calls of `shutdown` (only one test shuts a library down), and
        /// the timeout of the last.
        static SHUTDOWNS: AtomicU64 = AtomicU64::new(0);
        static SHUTDOWN_MS: AtomicU64 = AtomicU64::new(0);

        extern "C" fn shutdown(millis: u64) {
            SHUTDOWNS.fetch_add(1, Ordering::SeqCst);
            SHUTDOWN_MS.store(millis, Ordering::SeqCst);
        }

        /// A library offering incident provider `standin`; `asynchronous`
        /// says whether it has the 1.1 module.
        fn library(asynchronous: bool) -> Arc<LoadedLibrary> {
            library_vouching(asynchronous, false)
        }

        /// The same, whose manifest says `resultsChecked` or not.
        fn library_vouching(asynchronous: bool, results_checked: bool) -> Arc<LoadedLibrary> {
            let entry = |capability: &str, name: &str| ProviderEntry {
                capability: capability.into(),
                name: name.into(),
            };
            Arc::new(LoadedLibrary {
                path: PathBuf::from("/plugins/libstandin.so"),
                manifest: Manifest {
                    name: "standin".into(),
                    version: "1.2.3".into(),
                    interface_version: "1.1.0".into(),
                    providers: vec![entry("incident", "standin"), entry("nonsense", "other")],
                    config_check: None,
                    results_checked,
                },
                module: AdapterModule {
                    manifest,
                    set_logger,
                    new_provider: new_legacy,
                }
                .leak_into_prefix(),
                async_module: asynchronous.then(|| {
                    AsyncModule {
                        new_provider: new_async,
                        shutdown,
                    }
                    .leak_into_prefix()
                }),
                stopped: Arc::default(),
            })
        }

        fn factory(asynchronous: bool) -> LibraryFactory {
            LibraryFactory {
                library: library(asynchronous),
                name: "standin".into(),
            }
        }

        fn config(json: Value) -> Map<String, Value> {
            let Value::Object(map) = json else {
                panic!("not an object")
            };
            map
        }

        async fn call(
            factory: &LibraryFactory,
            config: Value,
            payload: &str,
        ) -> Result<Value, ProviderError> {
            let provider = factory
                .create(Capability::Incident, &self::config(config))
                .unwrap();
            let json = provider.call(Method::IncidentGet, payload.into()).await?;
            Ok(serde_json::from_slice(&json.into_bytes()).unwrap())
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn each_provider_is_called_the_way_its_library_and_registration_say() {
            let built = r#"incident/standin/{"url":"u"}"#;
            // 1.1 library, provider registered as asynchronous: its future.
            let answer = call(&factory(true), json!({"url": "u"}), "{}")
                .await
                .unwrap();
            assert_eq!(answer["path"], "async", "{answer}");
            assert_eq!(answer["built"], built, "{answer}");
            assert_eq!(answer["method"], "incident.get", "{answer}");
            assert_eq!(answer["payload"], "{}", "{answer}");
            // Registered as synchronous (blocking): its call, on the pool.
            let answer = call(&factory(true), json!({"blocking": true}), "{}")
                .await
                .unwrap();
            assert_eq!(answer["path"], "sync", "{answer}");
            // A 1.0 library: the root module's provider.
            let answer = call(&factory(false), json!({"url": "u"}), "{}")
                .await
                .unwrap();
            assert_eq!(answer["path"], "legacy", "{answer}");
            assert_eq!(answer["built"], built, "{answer}");
            assert_eq!(answer["method"], "incident.get", "{answer}");
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn results_are_checked_unless_the_manifest_vouches_for_them() {
            // The async path, the blocking path on the pool and a 1.0 library.
            let paths = [(true, "{}", "async"), (true, r#"{"blocking":1}"#, "sync")];
            for (asynchronous, config, path) in paths.into_iter().chain([(false, "{}", "legacy")]) {
                let config: Value = serde_json::from_str(config).unwrap();
                for results_checked in [false, true] {
                    let factory = LibraryFactory {
                        library: library_vouching(asynchronous, results_checked),
                        name: "standin".into(),
                    };
                    let provider = factory
                        .create(Capability::Incident, &self::config(config.clone()))
                        .unwrap();
                    let out = provider
                        .call(Method::IncidentGet, "answer [1,".into())
                        .await;
                    if results_checked {
                        // Taken as it is: the text was not parsed.
                        let text = out.unwrap().into_bytes();
                        assert_eq!(&text[..], format!("{path}: [1,").as_bytes());
                    } else {
                        let error = out.unwrap_err();
                        assert_eq!(error.code, "invalid_result", "{path}");
                        assert_eq!(error.message, "incident.get returned invalid JSON");
                    }
                }
            }
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn an_asynchronous_call_gets_the_request_s_id_actor_and_time_left() {
            let info = CallInfo::new(
                Some(std::time::Instant::now() + Duration::from_secs(30)),
                axum::http::HeaderValue::from_static("r-1"),
                Some(axum::http::HeaderValue::from_static("alice")),
            );
            let answer = CALL_INFO
                .scope(info, call(&factory(true), json!({}), "{}"))
                .await
                .unwrap();
            let context = &answer["context"];
            assert_eq!(context["request_id"], "r-1", "{answer}");
            assert_eq!(context["actor"], "alice", "{answer}");
            let left = context["timeout_ms"].as_u64().unwrap();
            assert!(left > 0 && left <= 30_000, "{answer}");
            // Outside a request: no id, no deadline.
            let answer = call(&factory(true), json!({}), "{}").await.unwrap();
            assert_eq!(answer["context"]["request_id"], "", "{answer}");
            assert_eq!(answer["context"]["timeout_ms"], Value::Null, "{answer}");
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn a_future_that_panics_is_an_adapter_panic() {
            let error = call(&factory(true), json!({}), "panic").await.unwrap_err();
            assert_eq!(error.kind, ErrorKind::AdapterPanic, "{error}");
            assert_eq!(error.code, codes::ADAPTER_PANIC);
            assert_eq!(error.message, "adapter panicked in incident.get");
        }

        #[test]
        fn a_refused_config_names_the_library_and_the_adapter_s_error() {
            for asynchronous in [true, false] {
                let Err(err) = factory(asynchronous)
                    .create(Capability::Incident, &config(json!({"refuse": 1})))
                else {
                    panic!("built a provider from a refused config")
                };
                assert!(
                    matches!(&err, BuildError::Invalid(m) if m == "standin (bad_config): no url"),
                    "{err:?}"
                );
            }
        }

        #[test]
        fn the_runtime_is_stopped_once_and_only_for_a_library_that_has_one() {
            let legacy = factory(false);
            legacy.shutdown(Duration::from_millis(1500));
            assert_eq!(SHUTDOWNS.load(Ordering::SeqCst), 0);
            let current = factory(true);
            current.shutdown(Duration::from_millis(1500));
            current.shutdown(Duration::from_millis(1500));
            assert_eq!(SHUTDOWNS.load(Ordering::SeqCst), 1);
            assert_eq!(SHUTDOWN_MS.load(Ordering::SeqCst), 1500);
        }

        /// The library of [`library`] at `path`, whose manifest lists
        /// `providers` (capability, name).
        fn library_at(
            path: &str,
            providers: &[(&str, &str)],
            asynchronous: bool,
        ) -> Arc<LoadedLibrary> {
            let mut library = LoadedLibrary::clone(&library(asynchronous));
            library.path = PathBuf::from(path);
            library.manifest.providers = providers
                .iter()
                .map(|(capability, name)| ProviderEntry {
                    capability: (*capability).into(),
                    name: (*name).into(),
                })
                .collect();
            Arc::new(library)
        }

        #[test]
        fn a_provider_taken_is_refused_naming_the_file_or_the_built_in_that_took_it() {
            let mut registry = ProviderRegistry::new();
            let built_in = Arc::new(factory(true));
            registry
                .register(Capability::Incident, "builtin", built_in)
                .unwrap();
            let mut owners = Owners::default();
            let first = library_at("/plugins/a/libfirst.so", &[("incident", "pager")], true);
            let second = library_at("/plugins/b/libsecond.so", &[("alert", "pager")], true);
            let third = library_at(
                "/plugins/c/libthird.so",
                &[
                    ("alert", "Pager"),
                    ("incident", "own"),
                    ("incident", "PAGER"),
                    ("incident", "Builtin"),
                ],
                false,
            );
            assert_eq!(owners.register(&first, &mut registry), []);
            assert_eq!(owners.register(&second, &mut registry), []);
            let refused = |reason: &str| LoadError {
                path: PathBuf::from("/plugins/c/libthird.so"),
                reason: reason.into(),
            };
            assert_eq!(
                owners.register(&third, &mut registry),
                [
                    refused(
                        "duplicate alert provider `Pager` (already registered by /plugins/b/libsecond.so)"
                    ),
                    refused(
                        "duplicate incident provider `PAGER` (already registered by /plugins/a/libfirst.so)"
                    ),
                    refused(
                        "duplicate incident provider `Builtin` (already registered by a built-in provider)"
                    ),
                ]
            );
            // What was not taken is registered, to the library that offers it.
            let own = registry.get(Capability::Incident, "own").unwrap();
            assert!(
                matches!(own.origin(), Origin::Library { file, .. } if file == Path::new("/plugins/c/libthird.so"))
            );
            let pager = registry.get(Capability::Alert, "pager").unwrap();
            assert!(
                matches!(pager.origin(), Origin::Library { file, .. } if file == Path::new("/plugins/b/libsecond.so"))
            );
        }

        #[test]
        fn a_library_describes_itself() {
            let factory = factory(true);
            assert_eq!(
                factory.origin(),
                Origin::Library {
                    file: PathBuf::from("/plugins/libstandin.so"),
                    name: "standin".into(),
                    version: "1.2.3".into(),
                    interface_version: "1.1.0".into(),
                }
            );
            // An unknown capability in the manifest is not offered.
            let offered: Vec<_> = factory.library.providers().collect();
            assert_eq!(offered, vec![(Capability::Incident, "standin")]);
            let debug = format!("{:?}", factory.library);
            assert!(debug.contains("asynchronous: true"), "{debug}");
            assert!(debug.contains("libstandin.so"), "{debug}");
        }
    }
}
