//! The Prometheus HTTP API: request parameters for `query_range`, and its
//! JSON answers (`query_range`, `metadata`, `series`, label values) turned
//! into OpsOrch schema types.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Duration, Utc};
use opsorch_plugin_api::schema::{
    JsonMap, MetricDescriptor, MetricPoint, MetricQuery, MetricSeries, Timestamp,
};
use opsorch_plugin_api::{Error, ErrorKind, Result};
use serde::Deserialize;
use serde_json::Value;

use crate::promql::{selector, MatchOp, Matcher, PromQuery, QueryShape};
use opsorch_adapter_http::config::BaseUrl;

/// A `step` of 0 is replaced by one giving about this many points.
pub const TARGET_POINTS: i64 = 250;
/// Prometheus refuses more points than this per series.
pub const MAX_POINTS: i64 = 11_000;
/// A zero `start` means this long before `end`.
pub const DEFAULT_RANGE: Duration = Duration::hours(1);

/// The time window and resolution of a range query, all defaults applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    /// Seconds, at least 1.
    pub step: i64,
}

impl Window {
    /// Zero `end` is now, zero `start` is an hour before `end`; `step` 0
    /// gives about [`TARGET_POINTS`] points. An inverted window, or a step
    /// giving more than [`MAX_POINTS`] points, is `bad_request`.
    pub fn of(query: &MetricQuery, now: DateTime<Utc>) -> Result<Window> {
        let end = if query.end.is_zero() {
            now
        } else {
            query.end.into_inner()
        };
        let start = if query.start.is_zero() {
            end - DEFAULT_RANGE
        } else {
            query.start.into_inner()
        };
        if end < start {
            return Err(Error::bad_request("end is before start"));
        }
        let range = (end - start).num_seconds();
        let step = if query.step == 0 {
            // Ceiling division keeps the count at or under the target.
            ((range + TARGET_POINTS - 1) / TARGET_POINTS).max(1)
        } else {
            i64::try_from(query.step).map_err(|_| Error::bad_request("step is too large"))?
        };
        if range / step + 1 > MAX_POINTS {
            return Err(Error::bad_request(format!(
                "step {step}s over {range}s gives more than {MAX_POINTS} points per series; use a larger step"
            )));
        }
        Ok(Window { start, end, step })
    }
}

/// Unix seconds with millisecond precision, the form Prometheus parses.
pub fn unix_seconds(t: DateTime<Utc>) -> String {
    let ms = t.timestamp_millis();
    let (secs, frac) = (ms.div_euclid(1000), ms.rem_euclid(1000));
    if frac == 0 {
        secs.to_string()
    } else {
        format!("{secs}.{frac:03}")
    }
}

/// Seconds as Prometheus' `timeout` parameter (`2.5`), at least 1 ms.
pub fn timeout_param(timeout: std::time::Duration) -> String {
    let ms = timeout.as_millis().max(1);
    if ms.is_multiple_of(1000) {
        format!("{}", ms / 1000)
    } else {
        format!("{}.{:03}", ms / 1000, ms % 1000)
    }
}

/// The form body of `POST /api/v1/query_range`.
pub fn query_range_form(expr: &str, window: &Window, timeout: std::time::Duration) -> String {
    form_urlencoded::Serializer::new(String::new())
        .append_pair("query", expr)
        .append_pair("start", &unix_seconds(window.start))
        .append_pair("end", &unix_seconds(window.end))
        .append_pair("step", &window.step.to_string())
        .append_pair("timeout", &timeout_param(timeout))
        .finish()
}

/// A link to the Prometheus graph page showing `expr` over `window`.
pub fn graph_link(ui: &BaseUrl, expr: &str, window: &Window) -> String {
    let query = form_urlencoded::Serializer::new(String::new())
        .append_pair("g0.expr", expr)
        .append_pair("g0.tab", "0")
        .append_pair(
            "g0.range_input",
            &format!("{}s", (window.end - window.start).num_seconds().max(1)),
        )
        .append_pair(
            "g0.end_input",
            &window.end.format("%Y-%m-%d %H:%M:%S").to_string(),
        )
        .append_pair("g0.step_input", &window.step.to_string())
        .finish();
    format!("{}?{query}", ui.join("/graph"))
}

/// The envelope of every Prometheus API answer.
#[derive(Debug, Deserialize)]
pub struct Envelope<T> {
    pub status: String,
    pub data: Option<T>,
    #[serde(rename = "errorType", default)]
    pub error_type: String,
    #[serde(default)]
    pub error: String,
    #[serde(default)]
    pub warnings: Vec<String>,
}

/// Decodes an answer of the Prometheus API (any HTTP status: error answers
/// carry the same envelope), mapping `status: error` to an SDK error.
///
/// `bad_data` and `execution` are the query's fault (`bad_request`, with
/// Prometheus' message); `timeout` and `canceled` are `timeout`;
/// `unavailable` and `internal` are `upstream_unavailable`. A body that is
/// not the envelope is judged by the HTTP status alone.
pub fn decode<T: for<'de> Deserialize<'de>>(
    origin: &str,
    endpoint: &str,
    status: u16,
    body: &[u8],
) -> Result<T> {
    let envelope: Envelope<T> = match serde_json::from_slice(body) {
        Ok(envelope) => envelope,
        Err(e) => {
            if let Some(err) = opsorch_adapter_http::client::status_error(origin, endpoint, status)
            {
                return Err(err);
            }
            return Err(Error::upstream(format!(
                "prometheus at {origin} answered {endpoint} with something that is not its JSON API ({e})"
            )));
        }
    };
    if envelope.status == "success" {
        return envelope.data.ok_or_else(|| {
            Error::upstream(format!(
                "prometheus at {origin} answered {endpoint} with no data"
            ))
        });
    }
    let message = envelope.error;
    Err(match envelope.error_type.as_str() {
        "bad_data" | "execution" => Error::bad_request(message),
        "timeout" | "canceled" => Error::of_kind(
            ErrorKind::Timeout,
            format!("prometheus at {origin} gave up: {message}"),
        ),
        "unavailable" | "internal" => Error::of_kind(
            ErrorKind::Unavailable,
            format!("prometheus at {origin}: {message}"),
        ),
        "not_found" => Error::not_found(message),
        other => {
            if let (Some(err), true) = (
                opsorch_adapter_http::client::status_error(origin, endpoint, status),
                message.is_empty(),
            ) {
                err
            } else {
                Error::upstream(format!(
                    "prometheus at {origin} answered {endpoint} with error {other:?}: {message}"
                ))
            }
        }
    })
}

/// The `data` of a `query_range` answer.
#[derive(Debug, Deserialize)]
pub struct RangeData {
    #[serde(rename = "resultType")]
    pub result_type: String,
    pub result: Vec<SampleStream>,
}

/// One series of a matrix.
#[derive(Debug, Deserialize)]
pub struct SampleStream {
    #[serde(default)]
    pub metric: BTreeMap<String, String>,
    #[serde(default)]
    pub values: Vec<(f64, String)>,
}

/// What a series' name, service and link come from.
pub struct SeriesContext<'a> {
    pub query: &'a PromQuery,
    pub window: &'a Window,
    pub ui: &'a BaseUrl,
    pub service_label: &'a str,
}

/// Converts a `query_range` answer. Every series keeps its labels (without
/// `__name__`), its points in order, and gets a graph link: the exact series
/// for a plain selector, the whole query otherwise. Points whose value is
/// NaN or infinite are left out (JSON has no such numbers) and counted in
/// `metadata.nonFiniteDropped`.
pub fn convert_range(data: RangeData, ctx: &SeriesContext<'_>) -> Result<Vec<MetricSeries>> {
    if data.result_type != "matrix" {
        return Err(Error::upstream(format!(
            "prometheus answered query_range with a {} instead of a matrix",
            data.result_type
        )));
    }
    data.result
        .into_iter()
        .map(|stream| convert_stream(stream, ctx))
        .collect()
}

fn convert_stream(stream: SampleStream, ctx: &SeriesContext<'_>) -> Result<MetricSeries> {
    let mut points = Vec::with_capacity(stream.values.len());
    let mut dropped = 0u64;
    for (ts, raw) in &stream.values {
        let value: f64 = raw.parse().map_err(|_| {
            Error::upstream(format!(
                "prometheus sent a sample value {raw:?} that is not a number"
            ))
        })?;
        if !value.is_finite() {
            dropped += 1;
            continue;
        }
        points.push(MetricPoint {
            timestamp: timestamp_of(*ts)?,
            value,
        });
    }
    let stored_name = stream.metric.get("__name__").cloned().unwrap_or_default();
    let url = match ctx.query.shape {
        QueryShape::Selector if !stored_name.is_empty() => {
            let matchers: Vec<Matcher> = stream
                .metric
                .iter()
                .filter(|(k, _)| k.as_str() != "__name__")
                .map(|(k, v)| Matcher {
                    label: k.clone(),
                    op: MatchOp::Equal,
                    value: v.clone(),
                })
                .collect();
            graph_link(ctx.ui, &selector(&stored_name, &matchers), ctx.window)
        }
        _ => graph_link(ctx.ui, &ctx.query.expr, ctx.window),
    };
    let name = if !stored_name.is_empty() {
        stored_name
    } else if !ctx.query.metric_name.is_empty() {
        ctx.query.metric_name.clone()
    } else {
        ctx.query.expr.clone()
    };
    let service = stream
        .metric
        .get(ctx.service_label)
        .cloned()
        .unwrap_or_default();
    let labels: JsonMap = stream
        .metric
        .into_iter()
        .filter(|(k, _)| k != "__name__")
        .map(|(k, v)| (k, Value::String(v)))
        .collect();
    let mut metadata = JsonMap::new();
    metadata.insert("query".into(), Value::String(ctx.query.expr.clone()));
    metadata.insert("step".into(), Value::from(ctx.window.step));
    if dropped > 0 {
        metadata.insert("nonFiniteDropped".into(), Value::from(dropped));
    }
    Ok(MetricSeries {
        name,
        service,
        labels,
        points,
        url,
        metadata,
    })
}

/// A Prometheus sample time (float seconds, millisecond precision).
fn timestamp_of(seconds: f64) -> Result<Timestamp> {
    let ms = (seconds * 1000.0).round();
    if !ms.is_finite() || ms.abs() > 8.0e15 {
        return Err(Error::upstream(format!(
            "prometheus sent a sample time {seconds} out of range"
        )));
    }
    DateTime::from_timestamp_millis(ms as i64)
        .map(Timestamp::from)
        .ok_or_else(|| {
            Error::upstream(format!(
                "prometheus sent a sample time {seconds} out of range"
            ))
        })
}

/// One entry of `/api/v1/metadata`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct MetadataEntry {
    #[serde(rename = "type", default)]
    pub kind: String,
    #[serde(default)]
    pub help: String,
    #[serde(default)]
    pub unit: String,
}

/// The `data` of `/api/v1/metadata`: metric name → its entries (one per
/// distinct metadata among targets).
pub type MetadataData = BTreeMap<String, Vec<MetadataEntry>>;

/// The `data` of `/api/v1/series`: label sets.
pub type SeriesData = Vec<BTreeMap<String, String>>;

/// The `data` of `/api/v1/label/__name__/values`.
pub type LabelValuesData = Vec<String>;

/// What [`describe`] lists.
pub enum Catalogue {
    /// All metric names (no scope): labels are not listed.
    Names(LabelValuesData),
    /// The series matching the scope: metric names with their label names.
    Series(SeriesData),
}

/// Builds `metric.describe`'s answer: one descriptor per metric name,
/// sorted, with type, help and unit from the metadata (type `unknown` when
/// Prometheus has none, e.g. for backfilled or recording-rule series), the
/// label names seen in the scoped series, and a graph link to the metric
/// (within the scope).
pub fn describe(
    catalogue: Catalogue,
    metadata: &MetadataData,
    scope: &[Matcher],
    ui: &BaseUrl,
    window: &Window,
) -> Vec<MetricDescriptor> {
    let mut metrics: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    match catalogue {
        Catalogue::Names(names) => {
            for name in names {
                metrics.entry(name).or_default();
            }
        }
        Catalogue::Series(series) => {
            for labels in series {
                let Some(name) = labels.get("__name__") else {
                    continue;
                };
                let entry = metrics.entry(name.clone()).or_default();
                entry.extend(labels.keys().filter(|k| *k != "__name__").cloned());
            }
        }
    }
    metrics
        .into_iter()
        .map(|(name, labels)| {
            let meta = metadata
                .get(&name)
                .and_then(|entries| entries.first())
                .cloned()
                .unwrap_or_default();
            let kind = if meta.kind.is_empty() {
                "unknown".to_string()
            } else {
                meta.kind
            };
            MetricDescriptor {
                url: graph_link(ui, &selector(&name, scope), window),
                name,
                kind,
                description: meta.help,
                labels: labels.into_iter().collect(),
                unit: meta.unit,
                metadata: JsonMap::new(),
            }
        })
        .collect()
}

/// The `match[]` form body of `/api/v1/series` for the scope's matchers.
pub fn series_form(scope: &[Matcher]) -> String {
    form_urlencoded::Serializer::new(String::new())
        .append_pair("match[]", &selector("", scope))
        .finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(s: &str) -> Timestamp {
        Timestamp::parse_rfc3339(s).unwrap()
    }

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 1, 12, 0, 0).unwrap()
    }

    fn ui() -> BaseUrl {
        BaseUrl::parse("url", "http://prom.example:9090").unwrap()
    }

    #[test]
    fn step_zero_gives_about_250_points() {
        let q = MetricQuery {
            start: at("2026-11-01T00:00:00Z"),
            end: at("2026-11-01T01:00:00Z"),
            ..Default::default()
        };
        let w = Window::of(&q, now()).unwrap();
        assert_eq!(w.step, 15);
        assert_eq!(3600 / w.step + 1, 241);
        let q = MetricQuery {
            start: at("2026-11-01T00:00:00Z"),
            end: at("2026-11-08T00:00:00Z"),
            ..Default::default()
        };
        let w = Window::of(&q, now()).unwrap();
        assert_eq!(w.step, 2420);
        assert_eq!(7 * 86400 / w.step + 1, 250);
        // A tiny range still has a step of one second.
        let q = MetricQuery {
            start: at("2026-11-01T00:00:00Z"),
            end: at("2026-11-01T00:00:10Z"),
            ..Default::default()
        };
        assert_eq!(Window::of(&q, now()).unwrap().step, 1);
    }

    #[test]
    fn zero_times_default_to_the_last_hour() {
        let w = Window::of(&MetricQuery::default(), now()).unwrap();
        assert_eq!(w.end, now());
        assert_eq!(w.start, now() - Duration::hours(1));
        assert_eq!(w.step, 15);
    }

    #[test]
    fn inverted_windows_and_too_many_points_are_refused() {
        let q = MetricQuery {
            start: at("2026-11-01T01:00:00Z"),
            end: at("2026-11-01T00:00:00Z"),
            ..Default::default()
        };
        assert_eq!(
            Window::of(&q, now()).unwrap_err().kind(),
            ErrorKind::BadRequest
        );
        let q = MetricQuery {
            start: at("2026-11-01T00:00:00Z"),
            end: at("2026-11-08T00:00:00Z"),
            step: 1,
            ..Default::default()
        };
        let err = Window::of(&q, now()).unwrap_err();
        assert!(err.message().contains("11000 points"), "{err}");
    }

    #[test]
    fn times_and_timeouts_as_prometheus_parses_them() {
        assert_eq!(
            unix_seconds(at("2026-11-01T00:00:00Z").into_inner()),
            "1793491200"
        );
        assert_eq!(
            unix_seconds(at("2026-11-01T00:00:00.25Z").into_inner()),
            "1793491200.250"
        );
        assert_eq!(timeout_param(std::time::Duration::from_secs(30)), "30");
        assert_eq!(
            timeout_param(std::time::Duration::from_millis(2500)),
            "2.500"
        );
        assert_eq!(timeout_param(std::time::Duration::from_micros(10)), "0.001");
        let w = Window {
            start: at("2026-11-01T00:00:00Z").into_inner(),
            end: at("2026-11-01T01:00:00Z").into_inner(),
            step: 60,
        };
        let form = query_range_form(r#"up{job="a b"}"#, &w, std::time::Duration::from_secs(5));
        assert_eq!(
            form,
            "query=up%7Bjob%3D%22a+b%22%7D&start=1793491200&end=1793494800&step=60&timeout=5"
        );
    }

    #[test]
    fn graph_links_are_url_encoded() {
        let w = Window {
            start: at("2026-11-01T00:00:00Z").into_inner(),
            end: at("2026-11-01T01:00:00Z").into_inner(),
            step: 60,
        };
        let link = graph_link(&ui(), r#"sum by (a) (m{x="1&2 #"})"#, &w);
        assert_eq!(
            link,
            "http://prom.example:9090/graph?g0.expr=sum+by+%28a%29+%28m%7Bx%3D%221%262+%23%22%7D%29\
             &g0.tab=0&g0.range_input=3600s&g0.end_input=2026-11-01+01%3A00%3A00&g0.step_input=60"
        );
        // Decoding gives the expression back.
        let query = link.split_once('?').unwrap().1;
        let expr = form_urlencoded::parse(query.as_bytes())
            .find(|(k, _)| k == "g0.expr")
            .unwrap()
            .1;
        assert_eq!(expr, r#"sum by (a) (m{x="1&2 #"})"#);
    }

    fn decode_range(body: &str) -> Result<RangeData> {
        decode("http://p", "/api/v1/query_range", 200, body.as_bytes())
    }

    #[test]
    fn matrix_answers_become_series() {
        let data = decode_range(
            r#"{"status":"success","data":{"resultType":"matrix","result":[
                {"metric":{"__name__":"http_requests_total","service":"checkout","code":"200"},
                 "values":[[1793491200,"1"],[1793491260.5,"2.5"],[1793491320,"NaN"],[1793491380,"+Inf"]]}]}}"#,
        )
        .unwrap();
        let query = PromQuery {
            expr: r#"http_requests_total{service="checkout"}"#.into(),
            shape: QueryShape::Selector,
            metric_name: "http_requests_total".into(),
        };
        let w = Window {
            start: at("2026-11-01T00:00:00Z").into_inner(),
            end: at("2026-11-01T00:10:00Z").into_inner(),
            step: 60,
        };
        let ui = ui();
        let ctx = SeriesContext {
            query: &query,
            window: &w,
            ui: &ui,
            service_label: "service",
        };
        let series = convert_range(data, &ctx).unwrap();
        assert_eq!(series.len(), 1);
        let s = &series[0];
        assert_eq!(s.name, "http_requests_total");
        assert_eq!(s.service, "checkout");
        assert_eq!(
            serde_json::to_value(&s.labels).unwrap(),
            serde_json::json!({"code": "200", "service": "checkout"})
        );
        assert_eq!(
            s.points,
            vec![
                MetricPoint {
                    timestamp: at("2026-11-01T00:00:00Z"),
                    value: 1.0
                },
                MetricPoint {
                    timestamp: at("2026-11-01T00:01:00.5Z"),
                    value: 2.5
                },
            ]
        );
        assert_eq!(s.metadata["nonFiniteDropped"], 2);
        assert_eq!(s.metadata["step"], 60);
        // The link selects exactly this series.
        let query_string = s.url.split_once('?').unwrap().1;
        let expr = form_urlencoded::parse(query_string.as_bytes())
            .find(|(k, _)| k == "g0.expr")
            .unwrap()
            .1;
        assert_eq!(
            expr,
            r#"http_requests_total{code="200",service="checkout"}"#
        );
    }

    #[test]
    fn aggregated_series_are_named_after_the_metric_and_link_the_query() {
        let data = decode_range(
            r#"{"status":"success","data":{"resultType":"matrix","result":[
                {"metric":{"code":"500"},"values":[[1793491200,"7"]]}]}}"#,
        )
        .unwrap();
        let query = PromQuery {
            expr: "sum by (code) (http_requests_total)".into(),
            shape: QueryShape::Aggregated,
            metric_name: "http_requests_total".into(),
        };
        let w = Window {
            start: at("2026-11-01T00:00:00Z").into_inner(),
            end: at("2026-11-01T00:10:00Z").into_inner(),
            step: 60,
        };
        let ui = ui();
        let ctx = SeriesContext {
            query: &query,
            window: &w,
            ui: &ui,
            service_label: "service",
        };
        let s = &convert_range(data, &ctx).unwrap()[0];
        assert_eq!(s.name, "http_requests_total");
        assert_eq!(s.service, "");
        assert!(s
            .url
            .contains("g0.expr=sum+by+%28code%29+%28http_requests_total%29"));
    }

    #[test]
    fn prometheus_errors_map_to_kinds() {
        let err = decode::<RangeData>(
            "http://p",
            "/api/v1/query_range",
            400,
            br#"{"status":"error","errorType":"bad_data","error":"1:5: parse error: unexpected"}"#,
        )
        .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::BadRequest);
        assert_eq!(err.message(), "1:5: parse error: unexpected");
        let err = decode::<RangeData>(
            "http://p",
            "/api/v1/query_range",
            503,
            br#"{"status":"error","errorType":"timeout","error":"query timed out in query execution"}"#,
        )
        .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Timeout);
        let err = decode::<RangeData>(
            "http://p",
            "/api/v1/query_range",
            422,
            br#"{"status":"error","errorType":"execution","error":"many-to-many matching not allowed"}"#,
        )
        .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::BadRequest);
        let err = decode::<RangeData>("http://p", "/api/v1/query_range", 200, b"<html>hi</html>")
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Upstream);
        assert!(err.message().contains("not its JSON API"), "{err}");
        let err = decode::<RangeData>("http://p", "/api/v1/query_range", 500, b"oops").unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Unavailable);
        let err = decode::<RangeData>("http://p", "/api/v1/query_range", 401, b"").unwrap_err();
        assert_eq!(err.kind(), ErrorKind::UpstreamAuth);
        let err = decode::<RangeData>(
            "http://p",
            "/api/v1/query_range",
            200,
            br#"{"status":"success","data":{"resultType":"vector","result":[]}}"#,
        )
        .unwrap();
        let ui = ui();
        let query = PromQuery {
            expr: "up".into(),
            shape: QueryShape::Selector,
            metric_name: "up".into(),
        };
        let w = Window::of(&MetricQuery::default(), now()).unwrap();
        let ctx = SeriesContext {
            query: &query,
            window: &w,
            ui: &ui,
            service_label: "service",
        };
        assert_eq!(
            convert_range(err, &ctx).unwrap_err().kind(),
            ErrorKind::Upstream
        );
    }

    #[test]
    fn describe_joins_series_labels_and_metadata() {
        let metadata: MetadataData = serde_json::from_str(
            r#"{"http_requests_total":[{"type":"counter","help":"Requests.","unit":""}],
                "other":[{"type":"gauge","help":"x","unit":"bytes"}]}"#,
        )
        .unwrap();
        let series: SeriesData = serde_json::from_str(
            r#"[{"__name__":"http_requests_total","service":"checkout","code":"200"},
                {"__name__":"http_requests_total","service":"checkout","method":"GET"},
                {"__name__":"backfilled","service":"checkout"}]"#,
        )
        .unwrap();
        let scope = vec![Matcher::new("service", MatchOp::Equal, "checkout").unwrap()];
        let w = Window::of(&MetricQuery::default(), now()).unwrap();
        let out = describe(Catalogue::Series(series), &metadata, &scope, &ui(), &w);
        assert_eq!(out.len(), 2);
        assert_eq!(out[0].name, "backfilled");
        assert_eq!(out[0].kind, "unknown");
        assert_eq!(out[0].labels, vec!["service".to_string()]);
        assert_eq!(out[1].name, "http_requests_total");
        assert_eq!(out[1].kind, "counter");
        assert_eq!(out[1].description, "Requests.");
        assert_eq!(out[1].labels, vec!["code", "method", "service"]);
        assert!(out[1]
            .url
            .contains("g0.expr=http_requests_total%7Bservice%3D%22checkout%22%7D"));
        let out = describe(
            Catalogue::Names(vec!["other".into(), "http_requests_total".into()]),
            &metadata,
            &[],
            &ui(),
            &w,
        );
        assert_eq!(out[1].name, "other");
        assert_eq!(out[1].unit, "bytes");
        assert!(out[1].labels.is_empty());
        assert_eq!(
            series_form(&scope),
            "match%5B%5D=%7Bservice%3D%22checkout%22%7D"
        );
    }
}
