//! The stable ABI between the host and an adapter library.
//!
//! It is deliberately narrow. The root module has three entry points
//! (manifest, logger hook, provider constructor) and its provider object a
//! single synchronous `call(method, payload JSON) -> result JSON | error`.
//! Method names and payloads are JSON, not `StableAbi` types, so the set of
//! methods can grow without changing the layout that abi_stable checks at
//! load time.
//!
//! Since interface 1.1 a library also exports an *asynchronous module*
//! ([`AsyncModule`]) under its own symbol ([`ASYNC_MODULE_SYMBOL`]). Its
//! provider object ([`AbiAsyncProvider`]) has `call_async`, which takes a
//! [`AbiCallContext`] (deadline, request id, actor) and returns an
//! [`async_ffi::FfiFuture`]; dropping that future cancels the call. The host
//! looks the symbol up with [`load_async_module`] and, when a library lacks
//! it (built against 1.0), uses the synchronous path.
//!
//! # Version policy
//!
//! The interface version is this crate's version ([`INTERFACE_VERSION`]);
//! libraries report it in their manifest. What abi_stable checks at load
//! time is each root module's *declared* version and its type layout:
//!
//! * abi_stable accepts a library only when the loader's minor version is at
//!   most the library's (`VersionStrings::is_compatible`). So each root
//!   module declares a fixed version ([`AdapterModule_Ref`]: 1.0.0,
//!   [`AsyncModule_Ref`]: 1.1.0) that is *not* raised when the crate's minor
//!   version is; raising it would make the host refuse every older library.
//! * The layout check refuses a library whose prefix type (root module or
//!   `#[sabi_trait]` vtable) has fewer fields than the host's: measured with
//!   the fixture in `sample-plugins/fixtures/frozen/` (built against a frozen
//!   copy of interface 1.0.0), adding a field after `last_prefix_field` of
//!   [`AdapterModule`] made today's host refuse it with "too many fields",
//!   although abi_stable documents such fields as optional. The reverse (an
//!   older host, a newer library with more fields) is accepted.
//! * Therefore **a new capability comes as a new exported symbol** with a
//!   root module of its own, which the host looks up and treats as absent
//!   when missing (how [`AsyncModule`] was added in 1.1). Existing modules
//!   and provider objects never change. `plugin-api/tests/frozen_interface.rs`
//!   keeps checking that a 1.0 library loads and serves.
//! * The manifest and the payloads are JSON: they gain optional fields in a
//!   minor version, which older hosts ignore and which newer hosts treat
//!   as absent in older libraries (1.2 added the manifest's
//!   `resultsChecked`).
//! * Changing or removing anything that exists bumps the major version, and
//!   every adapter must be rebuilt; the host refuses other majors with a
//!   one-line "version mismatch" error.
//!
//! Adapter authors rebuild against a newer `opsorch-plugin-api` only to use
//! its new features; a library keeps loading in newer hosts of the same
//! major version.
//!
//! Everything exported from a library goes through [`crate::export_adapter!`],
//! which wraps each entry point in `catch_unwind`: a panicking adapter returns
//! an `adapter_panic` error and the host keeps running. Futures returned by
//! `call_async` catch panics of every poll the same way.

use std::path::Path;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use abi_stable::library::{AbiHeaderRef, LibraryError, RawLibrary, RootModule};
use abi_stable::prefix_type::PrefixTypeTrait;
use abi_stable::sabi_types::VersionStrings;
use abi_stable::std_types::{RBox, RResult, RStr, RString};
use abi_stable::{declare_root_module_statics, sabi_trait, StableAbi};
use async_ffi::{FfiFuture, FutureExt};

use crate::context::CallContext;
use crate::error::Error;
pub use crate::ffi::{AbiCallContext, AbiError, HostLogger, LogLevel, INTERFACE_VERSION};
use crate::methods::{Capability, Method};
use crate::panic::catching;
use crate::sdk::{Adapter, Config, ProviderInstance};

/// A provider constructed inside a library (synchronous calls).
#[sabi_trait]
pub trait AbiProvider: Send + Sync {
    /// Calls `method` (a wire name such as `incident.get`) with a JSON payload
    /// and returns the JSON result.
    #[sabi(last_prefix_field)]
    fn call(&self, method: RStr<'_>, payload: RStr<'_>) -> RResult<RString, AbiError>;
}

/// The boxed provider object handed to the host.
pub type ProviderObject = AbiProvider_TO<'static, RBox<()>>;

/// The future of an asynchronous call: the JSON result or an error.
pub type CallFuture = FfiFuture<RResult<RString, AbiError>>;

/// A provider constructed inside a library, callable asynchronously
/// (interface 1.1).
#[sabi_trait]
pub trait AbiAsyncProvider: Send + Sync {
    /// Whether the adapter registered this provider synchronously: its
    /// `call` may block, and the host runs it on a thread pool. When false,
    /// the host uses `call_async`.
    fn is_blocking(&self) -> bool;

    /// Calls `method` with a JSON payload, blocking until it is done.
    fn call(&self, method: RStr<'_>, payload: RStr<'_>) -> RResult<RString, AbiError>;

    /// Starts `method` with a JSON payload. The future may be polled from
    /// any thread; the library enters its own runtime around each poll.
    /// Dropping it cancels the call. When `context.timeout_ms` is set and
    /// passes, the future answers `timeout`.
    #[sabi(last_prefix_field)]
    fn call_async(&self, context: AbiCallContext, method: RStr<'_>, payload: RString)
        -> CallFuture;
}

/// The boxed asynchronous provider object handed to the host.
pub type AsyncProviderObject = AbiAsyncProvider_TO<'static, RBox<()>>;

/// The root module every adapter library exports.
#[repr(C)]
#[derive(StableAbi)]
#[sabi(kind(Prefix(prefix_ref = AdapterModule_Ref)))]
#[sabi(missing_field(panic))]
pub struct AdapterModule {
    /// The library's [`crate::protocol::Manifest`] as JSON.
    pub manifest: extern "C" fn() -> RResult<RString, AbiError>,
    /// Installs the host's logging callback; adapter log lines go through it.
    pub set_logger: extern "C" fn(HostLogger),
    /// Builds the provider registered for `(capability, name)` from a JSON
    /// config object.
    #[sabi(last_prefix_field)]
    pub new_provider:
        extern "C" fn(RStr<'_>, RStr<'_>, RStr<'_>) -> RResult<ProviderObject, AbiError>,
}

impl RootModule for AdapterModule_Ref {
    declare_root_module_statics! {AdapterModule_Ref}
    const BASE_NAME: &'static str = "opsorch_adapter";
    const NAME: &'static str = "opsorch_adapter";
    // Fixed: see the version policy above.
    const VERSION_STRINGS: VersionStrings = VersionStrings::new("1.0.0");
}

/// The symbol under which a library exports its [`AsyncModule`].
pub const ASYNC_MODULE_SYMBOL: &str = "opsorch_adapter_async_v1";

/// The asynchronous module a library exports since interface 1.1, under
/// [`ASYNC_MODULE_SYMBOL`]. It is looked up after the root module was
/// loaded, whose logger and adapter it shares.
#[repr(C)]
#[derive(StableAbi)]
#[sabi(kind(Prefix(prefix_ref = AsyncModule_Ref)))]
#[sabi(missing_field(panic))]
pub struct AsyncModule {
    /// Builds the provider registered for `(capability, name)` from a JSON
    /// config object, as an asynchronous provider object.
    pub new_provider:
        extern "C" fn(RStr<'_>, RStr<'_>, RStr<'_>) -> RResult<AsyncProviderObject, AbiError>,
    /// Stops the library's runtime, waiting at most this many milliseconds
    /// for its blocking tasks. Running calls are cancelled; later
    /// asynchronous calls fail with `upstream_unavailable`.
    #[sabi(last_prefix_field)]
    pub shutdown: extern "C" fn(u64),
}

impl RootModule for AsyncModule_Ref {
    declare_root_module_statics! {AsyncModule_Ref}
    const BASE_NAME: &'static str = "opsorch_adapter_async";
    const NAME: &'static str = "opsorch_adapter_async";
    // Fixed: see the version policy above.
    const VERSION_STRINGS: VersionStrings = VersionStrings::new("1.1.0");
}

/// Looks up the [`AsyncModule`] of the library at `path` (absolute), which
/// the host already loaded. `Ok(None)` when the library does not export one
/// (it was built against interface 1.0); an error when it exports one the
/// host cannot use (a version or layout mismatch).
pub fn load_async_module(path: &Path) -> Result<Option<AsyncModule_Ref>, LibraryError> {
    let library = RawLibrary::load_at(path)?;
    let symbol = format!("{ASYNC_MODULE_SYMBOL}\0");
    // SAFETY: the symbol, when present, is the `LibHeader` static that
    // `export_adapter!` defines (read, like abi_stable's own root module
    // symbol, as a reference to its `AbiHeader`). `upgrade` checks the
    // abi_stable header before the rest is used, and `init_root_module`
    // checks the version and the layout of `AsyncModule`.
    let header: AbiHeaderRef = match unsafe { library.get::<AbiHeaderRef>(symbol.as_bytes()) } {
        Ok(symbol) => *symbol,
        Err(_) => return Ok(None),
    };
    let module = header.upgrade()?.init_root_module::<AsyncModule_Ref>()?;
    // Libraries are never unloaded: module references are 'static.
    std::mem::forget(library);
    Ok(Some(module))
}

static ADAPTER: OnceLock<Adapter> = OnceLock::new();

/// Builds the root module for the adapter returned by `build`. Used by
/// [`crate::export_adapter!`]; not meant to be called directly.
#[doc(hidden)]
pub fn __root_module(build: fn() -> Adapter) -> AdapterModule_Ref {
    crate::panic::install_panic_hook();
    let adapter = ADAPTER.get_or_init(build);
    crate::log::init(adapter.name());
    AdapterModule {
        manifest: ffi_manifest,
        set_logger: ffi_set_logger,
        new_provider: ffi_new_provider,
    }
    .leak_into_prefix()
}

/// Builds the asynchronous module. Used by [`crate::export_adapter!`].
#[doc(hidden)]
pub fn __async_module() -> AsyncModule_Ref {
    AsyncModule {
        new_provider: ffi_new_async_provider,
        shutdown: ffi_shutdown,
    }
    .leak_into_prefix()
}

fn guarded<T>(what: &str, f: impl FnOnce() -> Result<T, Error>) -> RResult<T, AbiError> {
    match catching(what, f) {
        Ok(v) => RResult::ROk(v),
        Err(e) => RResult::RErr(e.into()),
    }
}

fn adapter() -> Result<&'static Adapter, Error> {
    ADAPTER
        .get()
        .ok_or_else(|| Error::internal("adapter not initialised"))
}

extern "C" fn ffi_manifest() -> RResult<RString, AbiError> {
    guarded("manifest", || {
        let manifest = adapter()?.manifest();
        serde_json::to_string(&manifest)
            .map(RString::from)
            .map_err(|e| Error::internal(e.to_string()))
    })
}

extern "C" fn ffi_set_logger(logger: HostLogger) {
    crate::log::set_host_logger(logger);
}

fn construct(
    capability: RStr<'_>,
    name: RStr<'_>,
    config: RStr<'_>,
) -> Result<ProviderInstance, Error> {
    let cap = Capability::from_name(capability.as_str())
        .ok_or_else(|| Error::bad_request(format!("unknown capability {}", capability.as_str())))?;
    let config: Config = if config.as_str().trim().is_empty() {
        Config::new()
    } else {
        serde_json::from_str(config.as_str())
            // The config may hold credentials: never quote it in an error.
            .map_err(|_| Error::bad_request("config must be a JSON object"))?
    };
    adapter()?.construct(cap, name.as_str(), &config)
}

extern "C" fn ffi_new_provider(
    capability: RStr<'_>,
    name: RStr<'_>,
    config: RStr<'_>,
) -> RResult<ProviderObject, AbiError> {
    guarded("provider constructor", || {
        let instance = construct(capability, name, config)?;
        Ok(AbiProvider_TO::from_value(
            LibraryProvider(Arc::new(instance)),
            abi_stable::sabi_trait::TD_Opaque,
        ))
    })
}

extern "C" fn ffi_new_async_provider(
    capability: RStr<'_>,
    name: RStr<'_>,
    config: RStr<'_>,
) -> RResult<AsyncProviderObject, AbiError> {
    guarded("provider constructor", || {
        let instance = construct(capability, name, config)?;
        Ok(AbiAsyncProvider_TO::from_value(
            LibraryProvider(Arc::new(instance)),
            abi_stable::sabi_trait::TD_Opaque,
        ))
    })
}

extern "C" fn ffi_shutdown(timeout_ms: u64) {
    let _ = catching("shutdown", || {
        crate::runtime::shutdown(Duration::from_millis(timeout_ms));
        Ok(())
    });
}

struct LibraryProvider(Arc<ProviderInstance>);

impl LibraryProvider {
    fn call_sync(&self, method: RStr<'_>, payload: RStr<'_>) -> RResult<RString, AbiError> {
        guarded(method.as_str(), || {
            self.0
                .call(method.as_str(), payload.as_str())
                .map(RString::from)
        })
    }
}

impl AbiProvider for LibraryProvider {
    fn call(&self, method: RStr<'_>, payload: RStr<'_>) -> RResult<RString, AbiError> {
        self.call_sync(method, payload)
    }
}

impl AbiAsyncProvider for LibraryProvider {
    fn is_blocking(&self) -> bool {
        self.0.is_blocking()
    }

    fn call(&self, method: RStr<'_>, payload: RStr<'_>) -> RResult<RString, AbiError> {
        self.call_sync(method, payload)
    }

    fn call_async(
        &self,
        context: AbiCallContext,
        method: RStr<'_>,
        payload: RString,
    ) -> CallFuture {
        let Some(method) = Method::from_name(method.as_str()) else {
            let error = Error::bad_request(format!("unknown method {:?}", method.as_str()));
            return std::future::ready(RResult::RErr(error.into())).into_ffi();
        };
        // The payload stays in the host's `RString`, and the context is
        // converted (its strings copied) only for an asynchronous provider:
        // a synchronous one never sees it (no deadline, no request id).
        let context = if self.0.is_synchronous() {
            CallContext::new()
        } else {
            CallContext::from(context)
        };
        let call = self.0.start(context, method, payload);
        async move {
            match call.await {
                Ok(json) => RResult::ROk(RString::from(json)),
                Err(e) => RResult::RErr(e.into()),
            }
        }
        .into_ffi()
    }
}

/// Turns an adapter crate into a loadable library.
///
/// Pass a function returning the [`Adapter`](crate::Adapter). The crate must
/// be built with `crate-type = ["cdylib", "rlib"]` and `panic = "unwind"`
/// (the default). It exports the root module and the asynchronous module.
#[macro_export]
macro_rules! export_adapter {
    ($build:path) => {
        #[doc(hidden)]
        #[no_mangle]
        pub static _1as_0lib_1header_0root_bmodule_bloader: $crate::abi_stable::library::LibHeader = {
            extern "C" fn __opsorch_root_module() -> $crate::abi_stable::library::RootModuleResult {
                fn root() -> $crate::abi::AdapterModule_Ref {
                    $crate::abi::__root_module($build)
                }
                $crate::abi_stable::library::__call_root_module_loader(root)
            }
            // SAFETY: this is what abi_stable's `#[export_root_module]` expands
            // to; the constructor returns exactly the `AdapterModule_Ref` named
            // in the type parameter, whose layout is checked by the loader.
            unsafe {
                $crate::abi_stable::library::LibHeader::from_constructor::<
                    $crate::abi::AdapterModule_Ref,
                >(
                    __opsorch_root_module,
                    $crate::abi_stable::library::CheckTypeLayout::Yes,
                )
            }
        };

        #[doc(hidden)]
        #[no_mangle]
        #[allow(non_upper_case_globals)]
        pub static opsorch_adapter_async_v1: $crate::abi_stable::library::LibHeader = {
            extern "C" fn __opsorch_async_module() -> $crate::abi_stable::library::RootModuleResult {
                $crate::abi_stable::library::__call_root_module_loader($crate::abi::__async_module)
            }
            // SAFETY: as above, for the `AsyncModule_Ref` named in the type
            // parameter; the host checks its version and layout.
            unsafe {
                $crate::abi_stable::library::LibHeader::from_constructor::<
                    $crate::abi::AsyncModule_Ref,
                >(
                    __opsorch_async_module,
                    $crate::abi_stable::library::CheckTypeLayout::Yes,
                )
            }
        };
    };
}
