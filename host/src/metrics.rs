//! The host's Prometheus metrics, recorded with the `prometheus-client`
//! crate and served by the admin listener (`GET /metrics`).
//!
//! One set per host, made at start-up when the admin listener is on and
//! owned by the application state (`AppState::metrics`), so two hosts in
//! one process share nothing and a host nobody scrapes records nothing:
//! HTTP requests by route template,
//! method and status with latency histograms; provider calls by capability,
//! provider and transport with their outcome (`ok` or the error code) and
//! latency; calls in flight; stdio plugin process events; one info series
//! per loaded adapter library; build information.
//!
//! Label values come from fixed sets (route templates, capability and
//! transport names, the wire error codes of `plugin-api`, with any other
//! code counted as `other`) or from the operator's own configuration
//! (provider names, plugin paths), so no client can grow the series count.
//!
//! [`Metrics::render`] writes the Prometheus text format (version 0.0.4),
//! which `promtool check metrics` reads; [`Metrics::render_openmetrics`]
//! writes OpenMetrics for scrapers that ask for it.

use std::sync::Arc;
use std::time::Duration;

use opsorch_plugin_api::error::codes;
use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue, LabelValueEncoder};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Registry, Unit};

/// Latency bucket bounds in seconds: from 0.5 ms (a call into a library)
/// to 60 s (the default request timeout).
const LATENCY_BUCKETS: [f64; 16] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
    60.0,
];

fn latency_histogram() -> Histogram {
    Histogram::new(LATENCY_BUCKETS)
}

/// The route a request matched: its template (`/incidents/{id}`), never
/// the raw path; `unmatched` for requests answered before routing (CORS
/// preflight, 401, 413) or by no route (404).
#[derive(Clone, Debug)]
pub enum Route {
    Template(&'static str),
    Unmatched,
}

impl Route {
    pub fn as_str(&self) -> &str {
        match self {
            Route::Template(path) => path,
            Route::Unmatched => "unmatched",
        }
    }
}

impl PartialEq for Route {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for Route {}

impl std::hash::Hash for Route {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.as_str().hash(state)
    }
}

impl EncodeLabelValue for Route {
    fn encode(&self, encoder: &mut LabelValueEncoder) -> Result<(), std::fmt::Error> {
        EncodeLabelValue::encode(&self.as_str(), encoder)
    }
}

/// The method as a label: the standard ones by name, anything else `other`.
pub fn method_label(method: &axum::http::Method) -> &'static str {
    use axum::http::Method;
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PATCH => "PATCH",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// An HTTP request, once answered.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct HttpLabels {
    pub route: Route,
    pub method: &'static str,
    pub status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabels {
    pub route: Route,
    pub method: &'static str,
}

/// Which provider served a call.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ProviderLabels {
    pub capability: &'static str,
    pub provider: Arc<str>,
    /// `library`, `stdio` or `builtin`.
    pub transport: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CallLabels {
    pub capability: &'static str,
    pub provider: Arc<str>,
    pub transport: &'static str,
    /// `ok`, or the error code (see [`code_label`]).
    pub code: &'static str,
}

/// What happened to a stdio plugin process.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq)]
pub enum PluginEvent {
    /// A process was started (the first one, or a replacement).
    Start,
    /// A process was started to replace one that failed.
    Restart,
    /// A process exited on its own, or wrote something that was not a
    /// response, and was replaced.
    Crash,
    /// A call ran out of time and its process was killed.
    Timeout,
}

impl PluginEvent {
    fn as_str(self) -> &'static str {
        match self {
            PluginEvent::Start => "start",
            PluginEvent::Restart => "restart",
            PluginEvent::Crash => "crash",
            PluginEvent::Timeout => "timeout",
        }
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PluginLabels {
    pub capability: &'static str,
    /// The plugin executable's path, as configured.
    pub plugin: Arc<str>,
    pub event: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct LibraryLabels {
    pub library: String,
    pub version: String,
    pub interface_version: String,
    pub file: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct BuildLabels {
    version: &'static str,
    interface_version: &'static str,
}

/// Every metric the host records.
pub struct Metrics {
    registry: Registry,
    http_requests: Family<HttpLabels, Counter>,
    http_duration: Family<RouteLabels, Histogram, fn() -> Histogram>,
    provider_calls: Family<CallLabels, Counter>,
    provider_duration: Family<ProviderLabels, Histogram, fn() -> Histogram>,
    in_flight: Family<ProviderLabels, Gauge>,
    plugin_events: Family<PluginLabels, Counter>,
    libraries: Family<LibraryLabels, Gauge>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    /// A fresh set: every counter at zero.
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("opsorch");
        let http_requests = Family::<HttpLabels, Counter>::default();
        registry.register(
            "http_requests",
            "HTTP requests answered, by route template, method and status",
            http_requests.clone(),
        );
        let http_duration: Family<RouteLabels, Histogram, fn() -> Histogram> =
            Family::new_with_constructor(latency_histogram);
        registry.register_with_unit(
            "http_request_duration",
            "Time from receiving a request to its response, by route template and method",
            Unit::Seconds,
            http_duration.clone(),
        );
        let provider_calls = Family::<CallLabels, Counter>::default();
        registry.register(
            "provider_calls",
            "Provider calls, by capability, provider, transport and outcome (ok or the error code)",
            provider_calls.clone(),
        );
        let provider_duration: Family<ProviderLabels, Histogram, fn() -> Histogram> =
            Family::new_with_constructor(latency_histogram);
        registry.register_with_unit(
            "provider_call_duration",
            "Duration of provider calls, by capability, provider and transport",
            Unit::Seconds,
            provider_duration.clone(),
        );
        let in_flight = Family::<ProviderLabels, Gauge>::default();
        registry.register(
            "provider_calls_in_flight",
            "Provider calls started and not yet answered",
            in_flight.clone(),
        );
        let plugin_events = Family::<PluginLabels, Counter>::default();
        registry.register(
            "stdio_plugin_events",
            "Stdio plugin process events: start, restart, crash, timeout",
            plugin_events.clone(),
        );
        let libraries = Family::<LibraryLabels, Gauge>::default();
        registry.register(
            "library_info",
            "One series per loaded adapter library (value 1)",
            libraries.clone(),
        );
        let build = Family::<BuildLabels, Gauge>::default();
        build
            .get_or_create(&BuildLabels {
                version: env!("CARGO_PKG_VERSION"),
                interface_version: opsorch_plugin_api::abi::INTERFACE_VERSION,
            })
            .set(1);
        registry.register(
            "build_info",
            "The host's version and the adapter interface version it was built against (value 1)",
            build,
        );
        Metrics {
            registry,
            http_requests,
            http_duration,
            provider_calls,
            provider_duration,
            in_flight,
            plugin_events,
            libraries,
        }
    }

    /// Records an answered HTTP request.
    pub fn http_request(&self, route: Route, method: &'static str, status: u16, took: Duration) {
        self.http_duration
            .get_or_create(&RouteLabels {
                route: route.clone(),
                method,
            })
            .observe(took.as_secs_f64());
        self.http_requests
            .get_or_create(&HttpLabels {
                route,
                method,
                status,
            })
            .inc();
    }

    /// Marks a provider call as started; the guard records its end.
    pub fn call_started<'a>(&'a self, provider: &'a ProviderLabels) -> CallGuard<'a> {
        self.in_flight.get_or_create(provider).inc();
        CallGuard {
            metrics: self,
            provider,
            started: std::time::Instant::now(),
            code: None,
        }
    }

    /// Counts a stdio plugin process event.
    pub fn plugin_event(&self, capability: &'static str, plugin: Arc<str>, event: PluginEvent) {
        self.plugin_events
            .get_or_create(&PluginLabels {
                capability,
                plugin,
                event: event.as_str(),
            })
            .inc();
    }

    /// Records a loaded adapter library.
    pub fn library_loaded(&self, labels: LibraryLabels) {
        self.libraries.get_or_create(&labels).set(1);
    }

    /// The Prometheus text format, version 0.0.4.
    pub fn render(&self) -> String {
        to_prometheus_text(&self.render_openmetrics())
    }

    /// The OpenMetrics text format.
    pub fn render_openmetrics(&self) -> String {
        let mut out = String::with_capacity(16 << 10);
        // Writing to a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}

/// Ends a provider call in the metrics when dropped: in flight −1, the
/// duration observed, the call counted with its outcome. A call whose
/// future was dropped (the request timed out or the client left) is
/// counted as `cancelled`.
pub struct CallGuard<'a> {
    metrics: &'a Metrics,
    provider: &'a ProviderLabels,
    started: std::time::Instant,
    code: Option<&'static str>,
}

impl CallGuard<'_> {
    /// Sets the outcome: `Ok(())`, or the provider's error code.
    pub fn finish(mut self, outcome: Result<(), &str>) {
        self.code = Some(match outcome {
            Ok(()) => "ok",
            Err(code) => code_label(code),
        });
    }
}

impl Drop for CallGuard<'_> {
    fn drop(&mut self) {
        let m = self.metrics;
        m.in_flight.get_or_create(self.provider).dec();
        m.provider_duration
            .get_or_create(self.provider)
            .observe(self.started.elapsed().as_secs_f64());
        m.provider_calls
            .get_or_create(&CallLabels {
                capability: self.provider.capability,
                provider: Arc::clone(&self.provider.provider),
                transport: self.provider.transport,
                code: self.code.unwrap_or("cancelled"),
            })
            .inc();
    }
}

/// The label of an error code: the stable wire codes as they are, an empty
/// code as `error`, anything else an adapter chose as `other`.
pub fn code_label(code: &str) -> &'static str {
    const KNOWN: [&str; 15] = [
        codes::BAD_REQUEST,
        codes::NOT_FOUND,
        codes::UNSUPPORTED,
        codes::TIMEOUT,
        codes::PLUGIN_TIMEOUT,
        codes::UPSTREAM_AUTH,
        codes::UPSTREAM_UNAVAILABLE,
        codes::UPSTREAM_ERROR,
        codes::PLUGIN_UNAVAILABLE,
        codes::PLUGIN_CRASHED,
        codes::PLUGIN_RESTARTED,
        codes::PLUGIN_BAD_OUTPUT,
        codes::ADAPTER_PANIC,
        codes::INVALID_RESULT,
        codes::INTERNAL,
    ];
    if code.is_empty() {
        return "error";
    }
    KNOWN.into_iter().find(|k| *k == code).unwrap_or("other")
}

/// Turns the OpenMetrics text `prometheus-client` writes into the
/// Prometheus text format: a counter family is named with its `_total`
/// suffix (as its samples are), and `# UNIT` and `# EOF` lines are dropped.
fn to_prometheus_text(open: &str) -> String {
    let mut out = String::with_capacity(open.len());
    let mut help: Option<&str> = None;
    for line in open.lines() {
        if line.starts_with("# EOF") || line.starts_with("# UNIT ") {
            continue;
        }
        if let Some(rest) = line.strip_prefix("# HELP ") {
            if let Some(pending) = help.take() {
                push_line(&mut out, &format!("# HELP {pending}"));
            }
            help = Some(rest);
            continue;
        }
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').unwrap_or((rest, ""));
            let name = if kind == "counter" && !name.ends_with("_total") {
                format!("{name}_total")
            } else {
                name.to_owned()
            };
            if let Some(pending) = help.take() {
                let text = pending.split_once(' ').map_or("", |(_, text)| text);
                push_line(&mut out, &format!("# HELP {name} {text}"));
            }
            push_line(&mut out, &format!("# TYPE {name} {kind}"));
            continue;
        }
        if let Some(pending) = help.take() {
            push_line(&mut out, &format!("# HELP {pending}"));
        }
        push_line(&mut out, line);
    }
    out
}

fn push_line(out: &mut String, line: &str) {
    out.push_str(line);
    out.push('\n');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_take_their_total_name_and_openmetrics_lines_go() {
        let open =
            "# HELP opsorch_x Things.\n# TYPE opsorch_x counter\nopsorch_x_total{a=\"b\"} 3\n\
                    # HELP opsorch_d Time.\n# TYPE opsorch_d histogram\n# UNIT opsorch_d seconds\n\
                    opsorch_d_sum 1.0\n# EOF\n";
        assert_eq!(
            to_prometheus_text(open),
            "# HELP opsorch_x_total Things.\n# TYPE opsorch_x_total counter\n\
             opsorch_x_total{a=\"b\"} 3\n# HELP opsorch_d Time.\n# TYPE opsorch_d histogram\n\
             opsorch_d_sum 1.0\n"
        );
    }

    #[test]
    fn error_codes_are_a_closed_set() {
        assert_eq!(code_label("plugin_timeout"), "plugin_timeout");
        assert_eq!(code_label(""), "error");
        assert_eq!(code_label("my_vendor_said_no_42"), "other");
    }

    #[test]
    fn a_dropped_call_counts_as_cancelled_and_leaves_nothing_in_flight() {
        let m = Metrics::new();
        let p = ProviderLabels {
            capability: "incident",
            provider: "t".into(),
            transport: "library",
        };
        let guard = m.call_started(&p);
        assert_eq!(m.in_flight.get_or_create(&p).get(), 1);
        drop(guard);
        m.call_started(&p).finish(Err("plugin_timeout"));
        m.call_started(&p).finish(Ok(()));
        assert_eq!(m.in_flight.get_or_create(&p).get(), 0);
        let text = m.render();
        for code in ["cancelled", "plugin_timeout", "ok"] {
            assert!(
                text.contains(&format!(
                    "opsorch_provider_calls_total{{capability=\"incident\",provider=\"t\",transport=\"library\",code=\"{code}\"}} 1"
                )),
                "{code} missing in {text}"
            );
        }
    }
}
