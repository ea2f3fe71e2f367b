//! OpsOrch adapters for Prometheus and Alertmanager.
//!
//! Built as `libopsorch_prometheus.so` it is an adapter library the host
//! loads from `OPSORCH_PLUGIN_DIR`; the `opsorch-prometheus-plugin` binary
//! serves the same providers over stdio. Providers:
//!
//! - metric provider **`prometheus`**, config `{"url": "<prometheus base url>"}`:
//!   `metric.query` translates the expression to PromQL ([`promql`]) and
//!   calls `/api/v1/query_range`; `metric.describe` lists metric names
//!   (label values of `__name__`, or the scope's series from
//!   `/api/v1/series`) typed from `/api/v1/metadata` ([`prom`]).
//! - alert provider **`alertmanager`**, config
//!   `{"alertmanagerURL": "<alertmanager base url>"}`: `alert.query` calls
//!   `/api/v2/alerts` with state flags and `filter` matchers; `alert.get`
//!   takes the alert fingerprint ([`alertmanager`]).
//!
//! Both accept `bearerToken` or `username`/`password`, `caFile`,
//! `timeoutMs` and `maxResponseBytes` (read by `opsorch-adapter-http`); the
//! providers' own keys are in [`config`]. The README of this crate
//! has every key, the mapping tables and the known limits.

pub mod alert;
pub mod alertmanager;
pub mod config;
pub mod metric;
pub mod prom;
pub mod promql;

use opsorch_plugin_api::Adapter;

/// The adapter: metric provider `prometheus`, alert provider `alertmanager`.
pub fn adapter() -> Adapter {
    Adapter::new("opsorch-prometheus", env!("CARGO_PKG_VERSION"))
        .metric_async("prometheus", metric::PrometheusMetrics::new)
        .alert_async("alertmanager", alert::AlertmanagerAlerts::new)
}

opsorch_plugin_api::export_adapter!(adapter);
