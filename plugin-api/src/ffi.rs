//! The plain `StableAbi` data types that cross the library boundary: errors,
//! log levels, the host's logging callback and the call context. They
//! depend on nothing else in this crate; [`crate::abi`] builds the root
//! modules and provider objects from them.

use abi_stable::std_types::{ROption, RStr, RString};
use abi_stable::StableAbi;

use crate::error::Error;

/// The interface version libraries are built against (this crate's version).
/// Libraries report it in their manifest.
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

/// Log levels for the host logging callback.
#[repr(u8)]
#[derive(StableAbi, Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum LogLevel {
    Error = 1,
    Warn = 2,
    Info = 3,
    Debug = 4,
    Trace = 5,
}

/// The host's logging callback: `log(level, adapter name, message)`.
///
/// Lines logged during an asynchronous call carry the call's request id as a
/// `request_id=<id> ` prefix of the message (see [`crate::log`]).
#[repr(C)]
#[derive(StableAbi, Clone, Copy)]
pub struct HostLogger {
    pub log: extern "C" fn(LogLevel, RStr<'_>, RStr<'_>),
}

/// What the host tells an asynchronous call about the request behind it.
#[repr(C)]
#[derive(StableAbi, Debug, Clone, PartialEq, Eq, Default)]
pub struct AbiCallContext {
    /// Milliseconds left until the call's deadline when the host made the
    /// call (the request timeout or the plugin timeout, whichever is
    /// sooner); none when the call has no deadline.
    pub timeout_ms: ROption<u64>,
    /// The request id the host logs for this request (`x-request-id`).
    pub request_id: RString,
    /// Who made the request, when the host knows (may be empty).
    pub actor: RString,
}
