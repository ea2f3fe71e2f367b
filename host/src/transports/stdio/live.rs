//! The plugin processes one transport started, tracked until they are
//! reaped, so that [`Live::shutdown`] can end every one of them.

use std::sync::{Arc, Mutex, PoisonError, Weak};

use super::process::{PluginProcess, PluginSpec, Shared};
use crate::settings::FIXED;

/// Why no process could be started.
#[derive(Debug)]
pub(crate) enum SpawnError {
    ShuttingDown,
    Io(std::io::Error),
}

/// Every process a transport started, alive until reaped.
#[derive(Default)]
pub(crate) struct Live {
    inner: Mutex<Processes>,
}

#[derive(Default)]
struct Processes {
    shutting_down: bool,
    /// Each entry is alive until its process has been reaped.
    processes: Vec<Weak<Shared>>,
}

impl Live {
    /// Starts a process and tracks it, unless the host is shutting down.
    pub fn spawn(&self, spec: Arc<PluginSpec>) -> Result<PluginProcess, SpawnError> {
        // Held across the spawn so that `shutdown` cannot miss a process.
        let mut live = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        if live.shutting_down {
            return Err(SpawnError::ShuttingDown);
        }
        let (process, shared) = PluginProcess::spawn(spec).map_err(SpawnError::Io)?;
        live.processes.retain(|p| p.strong_count() > 0);
        live.processes.push(Arc::downgrade(&shared));
        Ok(process)
    }

    /// Ends every process (stdin closed, a grace period, then SIGKILL) and
    /// returns once all are reaped. Later spawns are refused.
    pub async fn shutdown(&self) {
        let running: Vec<Arc<Shared>> = {
            let mut live = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
            live.shutting_down = true;
            live.processes
                .drain(..)
                .filter_map(|p| p.upgrade())
                .collect()
        };
        if running.is_empty() {
            return;
        }
        tracing::info!(processes = running.len(), "stopping plugin processes");
        for process in &running {
            process.stop();
        }
        // Each supervisor kills its process after the grace period, so this
        // bound is only a backstop against a wait that never returns.
        let all_exited = async {
            for process in &running {
                process.wait_exited().await;
            }
        };
        if tokio::time::timeout(
            FIXED.plugin_stop_grace + FIXED.plugin_shutdown_margin,
            all_exited,
        )
        .await
        .is_err()
        {
            tracing::warn!("some plugin processes had not exited when shutdown gave up waiting");
        }
    }
}
