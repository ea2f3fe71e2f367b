//! Logging for adapters.
//!
//! A library has its own copy of std and cannot see the host's `tracing`
//! subscriber, so log lines go through a callback the host installs at load
//! time; the host tags them with the adapter's name. Without a host logger
//! (stdio plugins, in-process tests) lines go to stderr, which the host's
//! stdio transport forwards to its own log.

use std::fmt::Display;
use std::sync::OnceLock;

use abi_stable::std_types::RStr;

use crate::ffi::HostLogger;
pub use crate::ffi::LogLevel as Level;

static HOST_LOGGER: OnceLock<HostLogger> = OnceLock::new();
static ADAPTER_NAME: OnceLock<String> = OnceLock::new();

/// Installs the host's logging callback. Only the first one counts: a
/// library is loaded once per process.
pub(crate) fn set_host_logger(logger: HostLogger) {
    let _ = HOST_LOGGER.set(logger);
}

/// Names the adapter this process or library serves; log lines are tagged
/// with it. Only the first name counts.
pub(crate) fn set_adapter_name(name: &str) {
    let _ = ADAPTER_NAME.set(name.to_string());
}

/// The adapter's name, `adapter` before one was set.
pub(crate) fn adapter_name() -> &'static str {
    ADAPTER_NAME.get().map(String::as_str).unwrap_or("adapter")
}

/// Logs one line at `level`.
pub fn log(level: Level, message: impl Display) {
    let text = message.to_string();
    match HOST_LOGGER.get() {
        Some(host) => (host.log)(level, RStr::from_str(adapter_name()), RStr::from_str(&text)),
        None => eprintln!("{} {text}", level_name(level)),
    }
}

fn level_name(level: Level) -> &'static str {
    match level {
        Level::Error => "ERROR",
        Level::Warn => "WARN",
        Level::Info => "INFO",
        Level::Debug => "DEBUG",
        Level::Trace => "TRACE",
    }
}

pub fn error(message: impl Display) {
    log(Level::Error, message)
}

pub fn warn(message: impl Display) {
    log(Level::Warn, message)
}

pub fn info(message: impl Display) {
    log(Level::Info, message)
}

pub fn debug(message: impl Display) {
    log(Level::Debug, message)
}
