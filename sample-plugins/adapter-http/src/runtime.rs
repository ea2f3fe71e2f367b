//! The library's own tokio runtime for outbound HTTP.
//!
//! A library links its own copy of tokio and cannot use the host's, so the
//! adapter owns one: created on first use, two named worker threads for the
//! connection pool's I/O. The synchronous provider methods block the calling
//! (host call-pool or stdio) thread on their future; that thread is never a
//! tokio worker.

use std::future::Future;
use std::sync::OnceLock;

use opsorch_plugin_api::{Error, Result};
use tokio::runtime::Runtime;

static RUNTIME: OnceLock<std::result::Result<Runtime, String>> = OnceLock::new();

fn runtime() -> Result<&'static Runtime> {
    RUNTIME
        .get_or_init(|| {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .thread_name("opsorch-adapter-io")
                .enable_all()
                .build()
                .map_err(|e| e.to_string())
        })
        .as_ref()
        .map_err(|e| Error::internal(format!("cannot start the adapter's runtime: {e}")))
}

/// Runs `future` to completion on the adapter's runtime.
pub fn block_on<F: Future>(future: F) -> Result<F::Output> {
    Ok(runtime()?.block_on(future))
}
