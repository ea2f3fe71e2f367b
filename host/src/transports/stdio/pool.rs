//! A capability's plugin: one or more processes (`"processes": N`), each
//! restarted on demand, with a crash-loop backoff per process slot.
//!
//! Each call goes to the running process with the fewest calls in flight;
//! ties rotate, so sequential calls spread over the pool too. Slots whose
//! process is gone are restarted by the next call that looks at them, so the
//! first call starts the whole pool and a crashed member is replaced without
//! waiting for the others to be busy.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use opsorch_plugin_api::methods::Method;
use tokio::time::Instant;

use super::live::{Live, SpawnError};
use super::process::{CallError, Ending, PluginProcess, PluginSpec};
use super::wire;
use crate::metrics::PluginEvent;
use crate::providers::seam::{Json, ProcessStatus, Provider, ProviderError, ProviderFuture};
use crate::settings::FIXED;

/// The wait before starting a slot's process again after `failures`
/// consecutive failures.
pub(crate) fn backoff(failures: u32) -> Duration {
    match failures {
        0 | 1 => Duration::ZERO,
        n => FIXED
            .plugin_backoff_start
            .saturating_mul(1u32 << (n - 2).min(16))
            .min(FIXED.plugin_backoff_max),
    }
}

pub(crate) fn unavailable(message: impl Into<String>) -> ProviderError {
    ProviderError::new("plugin_unavailable", message)
}

#[derive(Default)]
struct Slot {
    process: Option<Arc<PluginProcess>>,
    /// Failures since the last healthy run.
    failures: u32,
    /// No start before this instant (backing off).
    retry_at: Option<Instant>,
    /// The last process failed: the next start is a restart.
    replacing: bool,
}

/// The [`Provider`] of a capability served by a stdio plugin.
pub(crate) struct PluginPool {
    spec: Arc<PluginSpec>,
    live: Arc<Live>,
    slots: Vec<Mutex<Slot>>,
    cursor: AtomicUsize,
    /// Processes started to replace a failed one.
    restarts: AtomicU64,
}

impl PluginPool {
    pub fn new(spec: PluginSpec, processes: usize, live: Arc<Live>) -> PluginPool {
        PluginPool {
            spec: Arc::new(spec),
            live,
            slots: (0..processes.max(1)).map(|_| Mutex::default()).collect(),
            cursor: AtomicUsize::new(0),
            restarts: AtomicU64::new(0),
        }
    }

    /// What every process of the pool runs.
    pub fn spec(&self) -> &PluginSpec {
        &self.spec
    }

    /// The least busy running process, starting any slot that needs it.
    fn pick(&self) -> Result<Arc<PluginProcess>, ProviderError> {
        let count = self.slots.len();
        let start = self.cursor.fetch_add(1, Ordering::Relaxed) % count;
        let mut best: Option<Arc<PluginProcess>> = None;
        let mut refusal = None;
        for k in 0..count {
            match self.ready(&self.slots[(start + k) % count]) {
                Ok(process) => {
                    if best.as_ref().is_none_or(|b| process.load() < b.load()) {
                        best = Some(process);
                    }
                }
                Err(e) => {
                    refusal.get_or_insert(e);
                }
            }
        }
        best.ok_or_else(|| refusal.unwrap_or_else(|| unavailable("no plugin process is available")))
    }

    /// The slot's process, started if it is not running and may be.
    fn ready(&self, slot: &Mutex<Slot>) -> Result<Arc<PluginProcess>, ProviderError> {
        let mut slot = slot.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(process) = &slot.process {
            match process.ending() {
                None if process.is_running() => return Ok(process.clone()),
                None => {}
                Some(ending) => {
                    slot.process = None;
                    self.account(&mut slot, ending);
                }
            }
        }
        let now = Instant::now();
        if let Some(at) = slot.retry_at.filter(|at| *at > now) {
            return Err(unavailable(format!(
                "the plugin keeps failing; backing off, next start in {} ms",
                (at - now).as_millis().max(1)
            )));
        }
        match self.live.spawn(self.spec.clone()) {
            Ok(process) => {
                let process = Arc::new(process);
                slot.process = Some(process.clone());
                let restart = std::mem::take(&mut slot.replacing);
                if restart {
                    self.restarts.fetch_add(1, Ordering::Relaxed);
                }
                if let Some(m) = &self.spec.metrics {
                    let plugin: Arc<str> = self.spec.shown_path().into();
                    let cap = self.spec.capability.name();
                    m.plugin_event(cap, plugin.clone(), PluginEvent::Start);
                    if restart {
                        m.plugin_event(cap, plugin, PluginEvent::Restart);
                    }
                }
                Ok(process)
            }
            Err(SpawnError::ShuttingDown) => Err(unavailable("the host is shutting down")),
            Err(SpawnError::Io(e)) => {
                slot.failures += 1;
                let delay = backoff(slot.failures);
                slot.retry_at = Some(now + delay);
                tracing::warn!(capability = %self.spec.capability, plugin = %self.spec.shown_path(),
                    error = %e, failures = slot.failures, backoff_ms = delay.as_millis() as u64,
                    "cannot start plugin process");
                Err(unavailable(format!("the plugin could not be started: {e}")))
            }
        }
    }

    /// Counts a process that ended towards the slot's crash-loop backoff.
    fn account(&self, slot: &mut Slot, ending: Ending) {
        slot.replacing = ending.death.is_failure();
        if !ending.death.is_failure() {
            slot.failures = 0;
            slot.retry_at = None;
            return;
        }
        // A run that answered calls (or stayed up a while) starts a new
        // series: one crash after healthy work restarts at once.
        slot.failures = if ending.was_healthy {
            1
        } else {
            slot.failures + 1
        };
        let delay = backoff(slot.failures);
        if delay.is_zero() {
            slot.retry_at = None;
        } else {
            slot.retry_at = Some(ending.at + delay);
            tracing::warn!(capability = %self.spec.capability, plugin = %self.spec.shown_path(),
                failures = slot.failures, backoff_ms = delay.as_millis() as u64,
                "plugin keeps failing without a healthy run; backing off before the next start \
                 (calls fail fast with plugin_unavailable meanwhile)");
        }
    }

    async fn dispatch(&self, method: Method, payload: String) -> Result<Json, ProviderError> {
        let mut line = wire::encode_request(method.name(), &self.spec.config, &payload)?;
        let deadline = Instant::now() + self.spec.call_timeout;
        // A request that was never written may go to another (or a fresh)
        // process: the plugin cannot have acted on it.
        let mut died_first: Option<Arc<PluginProcess>> = None;
        for attempt in 1..=3 {
            let process = match self.pick() {
                Ok(process) => process,
                // Nothing can take it (backing off, most likely, after the
                // process it was meant for failed): it gets that process's
                // death, as it would have had the request been written
                // before the process died. Which of the two happened is a
                // race the client should not see.
                Err(refusal) => {
                    return Err(match died_first {
                        Some(died) => died.unsent_error().await,
                        None => refusal,
                    })
                }
            };
            match process.call(method, line, deadline).await {
                Ok(result) => return Ok(Json::from(result)),
                Err(CallError::Failed(error)) => return Err(error),
                Err(CallError::NotSent(_)) if attempt == 3 => break,
                Err(CallError::NotSent(unsent)) => line = unsent,
            }
            died_first = Some(process);
        }
        // Three processes in a row died before the request reached them.
        Err(match died_first {
            Some(died) => died.unsent_error().await,
            None => unavailable("the plugin process stopped before the request could be sent"),
        })
    }

    /// The pids of the running processes.
    pub fn pids(&self) -> Vec<u32> {
        self.slots
            .iter()
            .filter_map(|slot| {
                let slot = slot.lock().unwrap_or_else(PoisonError::into_inner);
                slot.process
                    .as_ref()
                    .filter(|p| p.is_running())
                    .map(|p| p.pid())
            })
            .collect()
    }
}

impl Provider for PluginPool {
    fn call(&self, method: Method, payload: String) -> ProviderFuture<'_> {
        Box::pin(self.dispatch(method, payload))
    }

    fn processes(&self) -> Option<ProcessStatus> {
        Some(ProcessStatus {
            pids: self.pids(),
            restarts: self.restarts.load(Ordering::Relaxed),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_from_the_second_failure_and_is_bounded() {
        assert_eq!(backoff(0), Duration::ZERO);
        assert_eq!(backoff(1), Duration::ZERO);
        assert_eq!(backoff(2), Duration::from_millis(100));
        assert_eq!(backoff(3), Duration::from_millis(200));
        assert_eq!(backoff(7), Duration::from_millis(3200));
        assert_eq!(backoff(8), FIXED.plugin_backoff_max);
        assert_eq!(backoff(u32::MAX), FIXED.plugin_backoff_max);
    }
}
