//! The Prometheus and Alertmanager adapters as a stdio plugin: point
//! `OPSORCH_METRIC_PLUGIN` and/or `OPSORCH_ALERT_PLUGIN` at this binary. It
//! serves exactly what the `libopsorch_prometheus` library serves.

fn main() -> std::io::Result<()> {
    opsorch_plugin_api::serve_stdio(opsorch_prometheus::adapter())
}
