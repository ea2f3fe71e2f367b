//! The stable ABI between the host and an adapter library.
//!
//! It is deliberately narrow: a root module with three entry points
//! (manifest, logger hook, provider constructor) and a provider object with a
//! single `call(method, payload JSON) -> result JSON | error`. Method names and
//! payloads are JSON, not `StableAbi` types, so the set of methods can grow
//! without changing the layout that abi_stable checks at load time.
//!
//! # Version policy
//!
//! The interface version is this crate's version ([`INTERFACE_VERSION`]).
//! abi_stable compares it when a host loads a library: a host built against
//! interface `M.n` accepts libraries built against `M.k` with `k >= n`, and
//! refuses a different major version with a one-line "version mismatch" error.
//! The layouts of [`AdapterModule`] and [`AbiProvider`] are checked too.
//!
//! * New entry points are added only after the last prefix field, together
//!   with a minor version bump. Older hosts keep loading newer libraries.
//! * A host built against a newer minor refuses libraries built against an
//!   older minor that lacks the new fields. Adapter authors rebuild against
//!   the host's `opsorch-plugin-api` version; no source change is needed
//!   unless they want the new features.
//! * Anything else (changing or removing a field) bumps the major version,
//!   and every adapter must be rebuilt.
//!
//! Everything exported from a library goes through [`crate::export_adapter!`],
//! which wraps each entry point in `catch_unwind`: a panicking adapter returns
//! an `adapter_panic` error and the host keeps running.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::OnceLock;

use abi_stable::library::RootModule;
use abi_stable::prefix_type::PrefixTypeTrait;
use abi_stable::sabi_types::VersionStrings;
use abi_stable::std_types::{RBox, RResult, RStr, RString};
use abi_stable::{declare_root_module_statics, package_version_strings, sabi_trait, StableAbi};

use crate::error::Error;
use crate::methods::Capability;
use crate::sdk::{Adapter, Config, ProviderInstance};

/// The interface version libraries are built against (this crate's version).
pub const INTERFACE_VERSION: &str = env!("CARGO_PKG_VERSION");

/// An error crossing the boundary.
#[repr(C)]
#[derive(StableAbi, Debug, Clone, PartialEq, Eq)]
pub struct AbiError {
    pub code: RString,
    pub message: RString,
}

impl From<Error> for AbiError {
    fn from(e: Error) -> Self {
        AbiError {
            code: e.code().into(),
            message: e.message().into(),
        }
    }
}

impl From<AbiError> for Error {
    fn from(e: AbiError) -> Self {
        Error::new(e.code.into_string(), e.message.into_string())
    }
}

/// A provider constructed inside a library.
#[sabi_trait]
pub trait AbiProvider: Send + Sync {
    /// Calls `method` (a wire name such as `incident.get`) with a JSON payload
    /// and returns the JSON result.
    #[sabi(last_prefix_field)]
    fn call(&self, method: RStr<'_>, payload: RStr<'_>) -> RResult<RString, AbiError>;
}

/// The boxed provider object handed to the host.
pub type ProviderObject = AbiProvider_TO<'static, RBox<()>>;

/// Log levels for the host logging callback.
#[repr(u8)]
#[derive(StableAbi, Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogLevel {
    Error = 1,
    Warn = 2,
    Info = 3,
    Debug = 4,
    Trace = 5,
}

/// The host's logging callback: `log(level, adapter name, message)`.
#[repr(C)]
#[derive(StableAbi, Clone, Copy)]
pub struct HostLogger {
    pub log: extern "C" fn(LogLevel, RStr<'_>, RStr<'_>),
}

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
    const VERSION_STRINGS: VersionStrings = package_version_strings!();
}

static ADAPTER: OnceLock<Adapter> = OnceLock::new();
static HOST_LOGGER: OnceLock<HostLogger> = OnceLock::new();

/// The host logger, once the host installed one.
pub(crate) fn host_logger() -> Option<HostLogger> {
    HOST_LOGGER.get().copied()
}

/// The adapter this library exports, once the root module was loaded.
pub(crate) fn installed_adapter() -> Option<&'static Adapter> {
    ADAPTER.get()
}

/// Builds the root module for the adapter returned by `build`. Used by
/// [`crate::export_adapter!`]; not meant to be called directly.
#[doc(hidden)]
pub fn __root_module(build: fn() -> Adapter) -> AdapterModule_Ref {
    install_panic_hook();
    ADAPTER.get_or_init(build);
    AdapterModule {
        manifest: ffi_manifest,
        set_logger: ffi_set_logger,
        new_provider: ffi_new_provider,
    }
    .leak_into_prefix()
}

fn guarded<T>(what: &str, f: impl FnOnce() -> Result<T, Error>) -> RResult<T, AbiError> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(v)) => RResult::ROk(v),
        Ok(Err(e)) => RResult::RErr(e.into()),
        Err(_) => RResult::RErr(panic_error(what).into()),
    }
}

thread_local! {
    static PANIC_LOCATION: std::cell::RefCell<Option<String>> =
        const { std::cell::RefCell::new(None) };
}

/// Replaces the default panic hook (which prints the panic message to
/// stderr) with one that only remembers where the panic happened. Panic
/// messages may quote configuration, and secrets must not reach logs; the
/// location is enough to find the bug. A library has its own copy of std,
/// so this never touches the host's hook.
pub(crate) fn install_panic_hook() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        std::panic::set_hook(Box::new(|info| {
            let location = info
                .location()
                .map(|l| format!("{}:{}", l.file(), l.line()));
            PANIC_LOCATION.with(|p| *p.borrow_mut() = location);
        }))
    });
}

/// Logs a caught panic (location only) and returns the `adapter_panic` error.
pub(crate) fn panic_error(what: &str) -> Error {
    let location = PANIC_LOCATION
        .with(|p| p.borrow_mut().take())
        .unwrap_or_else(|| "an unknown location".to_string());
    crate::log::error(format_args!("adapter panicked in {what} at {location}"));
    Error::new("adapter_panic", format!("adapter panicked in {what}"))
}

fn adapter() -> Result<&'static Adapter, Error> {
    installed_adapter().ok_or_else(|| Error::internal("adapter not initialised"))
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
    // Only the first logger counts: a library is loaded once per process.
    let _ = HOST_LOGGER.set(logger);
}

extern "C" fn ffi_new_provider(
    capability: RStr<'_>,
    name: RStr<'_>,
    config: RStr<'_>,
) -> RResult<ProviderObject, AbiError> {
    guarded("provider constructor", || {
        let cap = Capability::from_name(capability.as_str()).ok_or_else(|| {
            Error::bad_request(format!("unknown capability {}", capability.as_str()))
        })?;
        let config: Config = if config.as_str().trim().is_empty() {
            Config::new()
        } else {
            serde_json::from_str(config.as_str())
                // The config may hold credentials: never quote it in an error.
                .map_err(|_| Error::bad_request("config must be a JSON object"))?
        };
        let instance = adapter()?.construct(cap, name.as_str(), &config)?;
        Ok(AbiProvider_TO::from_value(
            LibraryProvider(instance),
            abi_stable::sabi_trait::TD_Opaque,
        ))
    })
}

struct LibraryProvider(ProviderInstance);

impl AbiProvider for LibraryProvider {
    fn call(&self, method: RStr<'_>, payload: RStr<'_>) -> RResult<RString, AbiError> {
        guarded(method.as_str(), || {
            self.0
                .call(method.as_str(), payload.as_str())
                .map(RString::from)
        })
    }
}

/// Turns an adapter crate into a loadable library.
///
/// Pass a function returning the [`Adapter`](crate::Adapter). The crate must
/// be built with `crate-type = ["cdylib", "rlib"]` and `panic = "unwind"`
/// (the default).
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
    };
}
