//! Panics inside adapter code become `adapter_panic` errors.
//!
//! Every entry point (library exports, stdio requests, the polls of an
//! asynchronous call) runs under `catch_unwind`; the hook installed here
//! records only where a panic happened, never its message, because panic
//! messages may quote configuration and secrets must not reach logs.

use std::panic::{catch_unwind, AssertUnwindSafe};

use crate::error::Error;

thread_local! {
    static PANIC_LOCATION: std::cell::RefCell<Option<String>> =
        const { std::cell::RefCell::new(None) };
}

/// Replaces the default panic hook (which prints the panic message to
/// stderr) with one that only remembers where the panic happened. A library
/// has its own copy of std, so this never touches the host's hook.
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
    Error::new(
        crate::error::codes::ADAPTER_PANIC,
        format!("adapter panicked in {what}"),
    )
}

/// Runs `f`, turning a panic into the `adapter_panic` error.
pub(crate) fn catching<T>(what: &str, f: impl FnOnce() -> Result<T, Error>) -> Result<T, Error> {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|_| Err(panic_error(what)))
}
