//! Logging for adapters.
//!
//! A library has its own copy of std and cannot see the host's `tracing`
//! subscriber, so log lines go through a callback the host installs at load
//! time; the host tags them with the adapter's name. Without a host logger
//! (stdio plugins, in-process tests) lines go to stderr, which the host's
//! stdio transport forwards to its own log.

use std::fmt::Display;

use abi_stable::std_types::RStr;

pub use crate::abi::LogLevel as Level;

/// Logs one line at `level`.
pub fn log(level: Level, message: impl Display) {
    let text = message.to_string();
    match crate::abi::host_logger() {
        Some(host) => {
            let name = crate::abi::installed_adapter()
                .map(|a| a.name())
                .unwrap_or("adapter");
            (host.log)(level, RStr::from_str(name), RStr::from_str(&text));
        }
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
