//! What the host knows about each provider in effect, for `GET
//! /capabilities` and the metrics: the [`Tracked`] wrapper every chosen
//! provider is put in ([`crate::providers::selection`]).
//!
//! It records calls in flight, the last error (code and time) and, while
//! the admin listener is on, the call metrics; and it keeps where the
//! provider came from (its `Origin`) and how it was chosen (`Source`),
//! reported through `Provider::status`. It never holds the provider's
//! configuration.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use crate::metrics::{Metrics, ProviderLabels};
use crate::providers::seam::{
    LastError, Origin, ProcessStatus, Provider, ProviderFuture, ProviderStatus, Source,
};
use opsorch_plugin_api::methods::{Capability, Method};

/// A provider in effect, with its bookkeeping.
pub struct Tracked {
    inner: Arc<dyn Provider>,
    name: String,
    origin: Origin,
    source: Source,
    labels: ProviderLabels,
    metrics: Option<Arc<Metrics>>,
    in_flight: AtomicU64,
    last_error: Mutex<Option<LastError>>,
}

impl Tracked {
    pub fn new(
        capability: Capability,
        inner: Arc<dyn Provider>,
        name: String,
        origin: Origin,
        source: Source,
        metrics: Option<Arc<Metrics>>,
    ) -> Tracked {
        let labels = ProviderLabels {
            capability: capability.name(),
            provider: name.as_str().into(),
            transport: origin.transport(),
        };
        Tracked {
            inner,
            name,
            origin,
            source,
            labels,
            metrics,
            in_flight: AtomicU64::new(0),
            last_error: Mutex::new(None),
        }
    }

    pub fn in_flight(&self) -> u64 {
        self.in_flight.load(Ordering::Relaxed)
    }

    pub fn last_error(&self) -> Option<LastError> {
        self.last_error
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }
}

/// Decrements the in-flight count however the call ends (also when the
/// request is dropped).
struct InFlight<'a>(&'a AtomicU64);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Provider for Tracked {
    fn call(&self, method: Method, payload: String) -> ProviderFuture<'_> {
        let call = self.inner.call(method, payload);
        Box::pin(async move {
            self.in_flight.fetch_add(1, Ordering::Relaxed);
            let _in_flight = InFlight(&self.in_flight);
            let timing = self.metrics.as_ref().map(|m| m.call_started(&self.labels));
            let result = call.await;
            if let Err(err) = &result {
                let code = if err.code.is_empty() {
                    "error".to_owned()
                } else {
                    err.code.clone()
                };
                *self
                    .last_error
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(LastError {
                    code,
                    at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                });
            }
            if let Some(timing) = timing {
                timing.finish(result.as_ref().map(|_| ()).map_err(|e| e.code.as_str()));
            }
            result
        })
    }

    fn processes(&self) -> Option<ProcessStatus> {
        self.inner.processes()
    }

    fn status(&self) -> Option<ProviderStatus> {
        Some(ProviderStatus {
            name: self.name.clone(),
            origin: self.origin.clone(),
            source: self.source,
            in_flight: self.in_flight(),
            last_error: self.last_error(),
        })
    }

    fn wrapped(&self) -> Option<&Arc<dyn Provider>> {
        Some(&self.inner)
    }
}
