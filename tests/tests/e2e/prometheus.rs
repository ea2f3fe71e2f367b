//! The Prometheus and Alertmanager adapters (`sample-plugins/opsorch-prometheus`)
//! through the real host, over both transports (the library and the stdio
//! binary), against real `prometheus` and `prometheus-alertmanager`
//! processes started for the test (see `prometheus_support.rs`).
//!
//! Every answer is compared with what the server itself returns for the same
//! question through its own API, and with the values the backfilled data
//! implies. Upstream faults (unreachable, hung, 500, not JSON, too large) are
//! played by scripted servers and need no installed tool.

use std::collections::BTreeMap;

use opsorch_e2e::{binary, Host, TempDir};
use serde_json::{json, Value};

use crate::prometheus_support::{
    rfc3339, start_alertmanager, start_prometheus, tools, Dataset, Server, CODES, ENVS,
    EXPORTER_TEXT, HOSTILE, SERVICES,
};
use crate::upstream_support::{closed_port, Behaviour, FakeUpstream};

#[derive(Debug, Clone, Copy)]
enum Transport {
    Library,
    Stdio,
}

const TRANSPORTS: [Transport; 2] = [Transport::Library, Transport::Stdio];

/// A host whose metric and alert capabilities use this adapter with the
/// given configs (`None` leaves the capability unconfigured), and whose
/// incident capability is the mock library, to show that other capabilities
/// keep serving.
fn start_host(
    transport: Transport,
    metric: Option<&Value>,
    alert: Option<&Value>,
) -> (Host, TempDir) {
    let dir = TempDir::with_libraries("prom-host", &["opsorch_prometheus", "opsorch_mock"]);
    let plugin = binary("opsorch-prometheus-plugin");
    let plugin = plugin.to_str().expect("utf-8 path").to_string();
    let mut env: Vec<(String, String)> = vec![
        (
            "OPSORCH_PLUGIN_DIR".into(),
            dir.path().display().to_string(),
        ),
        ("OPSORCH_INCIDENT_PROVIDER".into(), "mock".into()),
    ];
    for (cap, provider, config) in [
        ("METRIC", "prometheus", metric),
        ("ALERT", "alertmanager", alert),
    ] {
        let Some(config) = config else { continue };
        env.push((format!("OPSORCH_{cap}_CONFIG"), config.to_string()));
        match transport {
            Transport::Library => env.push((format!("OPSORCH_{cap}_PROVIDER"), provider.into())),
            Transport::Stdio => env.push((format!("OPSORCH_{cap}_PLUGIN"), plugin.clone())),
        }
    }
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    (Host::start(&env), dir)
}

fn form(pairs: &[(&str, &str)]) -> String {
    fn enc(s: &str) -> String {
        s.bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                    (b as char).to_string()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect()
    }
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// A series reduced to what both sides must agree on: labels (without
/// `__name__`) and `(RFC 3339 time, value)` points.
type Series = (BTreeMap<String, String>, Vec<(String, f64)>);

fn sorted(mut series: Vec<Series>) -> Vec<Series> {
    series.sort_by(|a, b| a.0.cmp(&b.0));
    series
}

/// Prometheus' own answer to `expr` over samples `from..=to` of the dataset.
fn direct_range(
    prom: &Server,
    data: &Dataset,
    expr: &str,
    from: i64,
    to: i64,
    step: i64,
) -> Vec<Series> {
    let start = data.t(from).to_string();
    let end = data.t(to).to_string();
    let step = step.to_string();
    let body = form(&[
        ("query", expr),
        ("start", &start),
        ("end", &end),
        ("step", &step),
    ]);
    let answer = prom
        .post(
            "/api/v1/query_range",
            "application/x-www-form-urlencoded",
            &body,
        )
        .json();
    assert_eq!(answer["status"], "success", "{expr}: {answer}");
    let series = answer["data"]["result"]
        .as_array()
        .expect("result")
        .iter()
        .map(|s| {
            let labels = s["metric"]
                .as_object()
                .expect("metric")
                .iter()
                .filter(|(k, _)| k.as_str() != "__name__")
                .map(|(k, v)| (k.clone(), v.as_str().expect("label").to_string()))
                .collect();
            let points = s["values"]
                .as_array()
                .expect("values")
                .iter()
                .map(|p| {
                    let t = p[0].as_f64().expect("time");
                    assert_eq!(t.fract(), 0.0, "whole-second sample times");
                    let v: f64 = p[1].as_str().expect("value").parse().expect("number");
                    (rfc3339(t as i64), v)
                })
                .collect();
            (labels, points)
        })
        .collect();
    sorted(series)
}

fn host_series(answer: &Value) -> Vec<Series> {
    let series = answer
        .as_array()
        .unwrap_or_else(|| panic!("not a list: {answer}"))
        .iter()
        .map(|s| {
            let labels = s["labels"]
                .as_object()
                .map(|m| {
                    m.iter()
                        .map(|(k, v)| (k.clone(), v.as_str().expect("label").to_string()))
                        .collect()
                })
                .unwrap_or_default();
            let points = s["points"]
                .as_array()
                .expect("points")
                .iter()
                .map(|p| {
                    (
                        p["timestamp"].as_str().expect("timestamp").to_string(),
                        p["value"].as_f64().expect("value"),
                    )
                })
                .collect();
            (labels, points)
        })
        .collect();
    sorted(series)
}

/// The points `from..=to` (step one sample) of `f(i)`.
fn points(data: &Dataset, from: i64, to: i64, f: impl Fn(i64) -> f64) -> Vec<(String, f64)> {
    (from..=to).map(|i| (data.rfc3339(i), f(i))).collect()
}

fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

struct MetricCase<'a> {
    host: &'a Host,
    prom: &'a Server,
    data: &'a Dataset,
    transport: Transport,
}

impl MetricCase<'_> {
    /// Asks the host, checks the PromQL it sent (`metadata.query`), and
    /// checks the answer equals Prometheus' own for that PromQL. Returns
    /// the series and the raw answer.
    fn ask(
        &self,
        mut body: Value,
        promql: &str,
        from: i64,
        to: i64,
        step: i64,
    ) -> (Vec<Series>, Value) {
        body["start"] = json!(self.data.rfc3339(from));
        body["end"] = json!(self.data.rfc3339(to));
        body["step"] = json!(step);
        let resp = self.host.post("/metrics/query", &body.to_string());
        assert_eq!(
            resp.status,
            200,
            "{:?} {body}: {}",
            self.transport,
            resp.text()
        );
        let answer = resp.json();
        for s in answer.as_array().expect("list") {
            assert_eq!(
                s["metadata"]["query"], promql,
                "{:?} {body}",
                self.transport
            );
            let url = s["url"].as_str().expect("url");
            assert!(
                url.starts_with(&format!("{}/graph?g0.expr=", self.prom.url())),
                "{url}"
            );
        }
        let got = host_series(&answer);
        let want = direct_range(self.prom, self.data, promql, from, to, step);
        assert_eq!(got, want, "{:?} {body} vs {promql}", self.transport);
        (got, answer)
    }

    fn refused(&self, body: Value) -> Value {
        let mut body = body;
        body["start"] = json!(self.data.rfc3339(0));
        body["end"] = json!(self.data.rfc3339(10));
        let resp = self.host.post("/metrics/query", &body.to_string());
        assert_eq!(
            resp.status,
            400,
            "{:?} {body}: {}",
            self.transport,
            resp.text()
        );
        assert_eq!(resp.error_code(), "bad_request");
        resp.json()
    }
}

fn check_metric_routes(case: &MetricCase<'_>) {
    let data = case.data;
    // A selector from a filter and the scope: exact values and steps.
    let (got, answer) = case.ask(
        json!({"expression": {"metricName": "http_requests_total",
                              "filters": [{"label": "env", "operator": "=", "value": "prod"}]},
               "scope": {"service": "checkout"}}),
        r#"http_requests_total{env="prod",service="checkout"}"#,
        10,
        20,
        60,
    );
    let want: Vec<Series> = CODES
        .iter()
        .map(|code| {
            let rate = Dataset::rate("checkout", "prod", code) as f64;
            (
                labels(&[
                    ("code", code),
                    ("env", "prod"),
                    ("method", "GET"),
                    ("service", "checkout"),
                    ("team", "commerce"),
                ]),
                points(data, 10, 20, |i| i as f64 * rate),
            )
        })
        .collect();
    assert_eq!(got, want);
    for s in answer.as_array().expect("list") {
        assert_eq!(s["name"], "http_requests_total");
        assert_eq!(s["service"], "checkout");
    }

    // Negation and negated regex.
    let (got, _) = case.ask(
        json!({"expression": {"metricName": "http_requests_total", "filters": [
            {"label": "code", "operator": "!=", "value": "200"},
            {"label": "env", "operator": "!~", "value": "stag.*"}]}}),
        r#"http_requests_total{code!="200",env!~"stag.*"}"#,
        0,
        5,
        60,
    );
    let services: Vec<&str> = got.iter().map(|(l, _)| l["service"].as_str()).collect();
    assert_eq!(services, ["checkout", "payments"]);
    assert!(got
        .iter()
        .all(|(l, _)| l["code"] == "500" && l["env"] == "prod"));
    assert_eq!(
        got[1].1,
        points(
            data,
            0,
            5,
            |i| (i * Dataset::rate("payments", "prod", "500")) as f64
        )
    );

    // A regex, and the team and environment scope with the default labels.
    let (got, _) = case.ask(
        json!({"expression": {"metricName": "http_requests_total",
                              "filters": [{"label": "service", "operator": "=~", "value": "pay.*"}]},
               "scope": {"team": "money", "environment": "staging"}}),
        r#"http_requests_total{service=~"pay.*",team="money",env="staging"}"#,
        0,
        3,
        60,
    );
    assert_eq!(got.len(), 2);

    // Aggregation with grouping: exact sums.
    let (got, answer) = case.ask(
        json!({"expression": {"metricName": "http_requests_total", "aggregation": "sum", "groupBy": ["code"]}}),
        "sum by (code) (http_requests_total)",
        30,
        40,
        120,
    );
    let rate_sum = |code: &str| -> i64 {
        SERVICES
            .iter()
            .flat_map(|(s, _)| ENVS.iter().map(move |e| Dataset::rate(s, e, code)))
            .sum()
    };
    let want: Vec<Series> = CODES
        .iter()
        .map(|code| {
            let total = rate_sum(code) as f64;
            (
                labels(&[("code", code)]),
                (30..=40)
                    .step_by(2)
                    .map(|i| (data.rfc3339(i), i as f64 * total))
                    .collect(),
            )
        })
        .collect();
    assert_eq!(got, want);
    assert_eq!(answer[0]["name"], "http_requests_total");
    // groupBy without an aggregation sums too.
    case.ask(
        json!({"expression": {"metricName": "http_requests_total", "groupBy": ["code"]}}),
        "sum by (code) (http_requests_total)",
        30,
        40,
        120,
    );
    // avg over a gauge.
    let (got, _) = case.ask(
        json!({"expression": {"metricName": "queue_depth", "aggregation": "avg"}}),
        "avg(queue_depth)",
        0,
        12,
        60,
    );
    assert_eq!(
        got,
        vec![(
            BTreeMap::new(),
            points(data, 0, 12, |i| (Dataset::queue_depth("checkout", i)
                + Dataset::queue_depth("payments", i))
                / 2.0)
        )]
    );

    // Step 0: about 250 points over the range (here 7140 s → a 29 s step).
    let body = json!({"expression": {"metricName": "queue_depth"}, "scope": {"service": "payments"},
                      "start": data.rfc3339(0), "end": data.rfc3339(119), "step": 0});
    let resp = case.host.post("/metrics/query", &body.to_string());
    assert_eq!(resp.status, 200, "{}", resp.text());
    let answer = resp.json();
    assert_eq!(answer[0]["metadata"]["step"], 29);
    let got = host_series(&answer);
    let want = direct_range(
        case.prom,
        data,
        r#"queue_depth{service="payments"}"#,
        0,
        119,
        29,
    );
    assert_eq!(got, want);
    assert_eq!(got[0].1.len(), 7140 / 29 + 1);

    // Raw PromQL from metadata, as the Go adapter allows.
    let (got, answer) = case.ask(
        json!({"expression": {"metricName": "ignored"}, "metadata": {"query": "sum(http_requests_total)"}}),
        "sum(http_requests_total)",
        0,
        4,
        60,
    );
    assert_eq!(got[0].1, points(data, 0, 4, |i| (i * 36) as f64));
    assert_eq!(answer[0]["name"], "sum(http_requests_total)");

    // Every hostile label value selects exactly its own series.
    for (name, value) in HOSTILE {
        let (got, _) = case.ask(
            json!({"expression": {"metricName": "hostile_info",
                                  "filters": [{"label": "v", "operator": "=", "value": value}]}}),
            &format!("hostile_info{{v={}}}", promql_quote(value)),
            0,
            2,
            60,
        );
        assert_eq!(got.len(), 1, "{name}: {got:?}");
        assert_eq!(got[0].0["v"], value, "{name}");
        assert_eq!(got[0].0["case"], name);
        // The same value as the scope's service label goes through the same path.
        let scoped = json!({"expression": {"metricName": "hostile_info"}, "scope": {"service": value},
                            "start": data.rfc3339(0), "end": data.rfc3339(2), "step": 60});
        let resp = case.host.post("/metrics/query", &scoped.to_string());
        assert_eq!(resp.status, 200, "{name}: {}", resp.text());
        assert_eq!(
            resp.json(),
            json!([]),
            "{name}: no hostile_info has a service label"
        );
    }
    // Escaped regex metacharacters match literally; unescaped ones do not.
    let regex_cases: [(&str, &[&str]); 3] = [
        (r"a\.b\*c", &["regexmeta"]),
        ("a.b.c", &["decoy", "regexmeta"]),
        ("日本.*", &["unicode"]),
    ];
    for (regex, cases) in regex_cases {
        let (got, _) = case.ask(
            json!({"expression": {"metricName": "hostile_info",
                                  "filters": [{"label": "v", "operator": "=~", "value": regex}]}}),
            &format!("hostile_info{{v=~{}}}", promql_quote(regex)),
            0,
            1,
            60,
        );
        let names: Vec<&str> = got.iter().map(|(l, _)| l["case"].as_str()).collect();
        assert_eq!(names, cases, "{regex}");
    }
    // Hostile regexes, names and operators are refused before any query.
    for regex in ["(unclosed", "a{1001}", "(?=x)y", r"(a)\1"] {
        let answer = case.refused(json!({"expression": {"metricName": "hostile_info",
            "filters": [{"label": "v", "operator": "=~", "value": regex}]}}));
        assert!(
            answer["message"]
                .as_str()
                .unwrap()
                .contains("invalid regex"),
            "{answer}"
        );
    }
    case.refused(json!({"expression": {"metricName": "up or vector(1)"}}));
    case.refused(json!({"expression": {"metricName": "up", "filters": [{"label": "a\"b", "operator": "=", "value": "x"}]}}));
    case.refused(json!({"expression": {"metricName": "up", "filters": [{"label": "job", "operator": "~", "value": "x"}]}}));
    case.refused(json!({"expression": {"metricName": "up", "aggregation": "topk"}}));
    // Prometheus' own bad_data answer: 400 with its message.
    let answer = case.refused(json!({"metadata": {"query": "sum(up"}}));
    assert!(
        answer["message"].as_str().unwrap().contains("parse error"),
        "{answer}"
    );
}

/// PromQL's double-quoted literal, written independently of the adapter.
fn promql_quote(value: &str) -> String {
    let mut out = String::from("\"");
    for c in value.chars() {
        match c {
            '\\' => out.push_str(r"\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str(r"\n"),
            '\t' => out.push_str(r"\t"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn check_describe(host: &Host, prom: &Server, transport: Transport) {
    let metadata = prom.get("/api/v1/metadata").json();
    // Scoped: the scope's series give names and label names.
    let resp = host.get("/metrics/describe?service=checkout");
    assert_eq!(resp.status, 200, "{transport:?}: {}", resp.text());
    let got = resp.json();
    let series = prom
        .post(
            "/api/v1/series",
            "application/x-www-form-urlencoded",
            &form(&[("match[]", r#"{service="checkout"}"#)]),
        )
        .json();
    let mut want: BTreeMap<String, std::collections::BTreeSet<String>> = BTreeMap::new();
    for s in series["data"].as_array().expect("series") {
        let obj = s.as_object().expect("labels");
        let name = obj["__name__"].as_str().expect("name").to_string();
        want.entry(name)
            .or_default()
            .extend(obj.keys().filter(|k| *k != "__name__").cloned());
    }
    let metrics = got["metrics"].as_array().expect("metrics");
    let names: Vec<&str> = metrics
        .iter()
        .map(|m| m["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, want.keys().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(names, ["build_info", "http_requests_total", "queue_depth"]);
    for m in metrics {
        let name = m["name"].as_str().unwrap();
        let labels: Vec<String> = serde_json::from_value(m["labels"].clone()).unwrap();
        assert_eq!(
            labels,
            want[name].iter().cloned().collect::<Vec<_>>(),
            "{name}"
        );
        let meta = &metadata["data"][name][0];
        let kind = meta["type"].as_str().unwrap_or("unknown");
        assert_eq!(m["type"], kind, "{name}");
        assert_eq!(
            m["description"],
            meta["help"].as_str().unwrap_or(""),
            "{name}"
        );
    }
    assert_eq!(metrics[0]["type"], "gauge");
    assert_eq!(metrics[0]["description"], "Build information.");
    assert_eq!(
        metrics[1]["labels"],
        json!(["code", "env", "method", "service", "team"])
    );
    // POST with the scope as the body answers the same.
    let resp = host.post("/metrics/describe", r#"{"service": "checkout"}"#);
    assert_eq!(resp.status, 200, "{transport:?}: {}", resp.text());
    assert_eq!(resp.json(), got);
    // Unscoped: every metric name Prometheus knows.
    let resp = host.get("/metrics/describe");
    assert_eq!(resp.status, 200, "{}", resp.text());
    let names: Vec<Value> = resp.json()["metrics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["name"].clone())
        .collect();
    let direct = prom.get("/api/v1/label/__name__/values").json();
    assert_eq!(Value::Array(names), direct["data"]);
}

#[test]
fn metrics_through_the_host_equal_prometheus_answers() {
    let Some(tools) = tools("prometheus::metrics_through_the_host_equal_prometheus_answers") else {
        return;
    };
    let exporter = FakeUpstream::start(Behaviour::Answer(
        200,
        "text/plain; version=0.0.4",
        EXPORTER_TEXT.as_bytes().to_vec(),
    ));
    let data = Dataset::new();
    let prom = start_prometheus(&tools, &data, exporter.addr);
    let config = json!({"url": prom.url()});
    // Prometheus gives up on this query after 10 ms of its own `timeout`.
    let slow = json!({"url": prom.url(), "queryTimeoutMs": 10});
    for transport in TRANSPORTS {
        let (host, _dir) = start_host(transport, Some(&config), None);
        let case = MetricCase {
            host: &host,
            prom: &prom,
            data: &data,
            transport,
        };
        check_metric_routes(&case);
        check_describe(&host, &prom, transport);
        drop(host);

        let (host, _dir) = start_host(transport, Some(&slow), None);
        let body = json!({"metadata": {"query": "count_over_time(vector(1)[10d:1s])"},
                          "start": data.rfc3339(0), "end": data.rfc3339(60), "step": 60});
        let resp = host.post("/metrics/query", &body.to_string());
        assert_eq!(resp.status, 504, "{transport:?}: {}", resp.text());
        assert_eq!(resp.error_code(), "timeout");
        assert!(resp.text().contains("timed out"), "{}", resp.text());
        // The host and the other capabilities keep serving.
        assert_eq!(host.post("/incidents/query", "{}").status, 200);
        let fine = json!({"expression": {"metricName": "queue_depth"},
                          "start": data.rfc3339(0), "end": data.rfc3339(1), "step": 60});
        assert_eq!(host.post("/metrics/query", &fine.to_string()).status, 200);
    }
    drop(exporter);
}

/// Normalises Alertmanager's times (`…:33.000Z`) to Go's form (`…:33Z`).
fn go_time(am: &str) -> String {
    match am.strip_suffix('Z').and_then(|t| t.split_once('.')) {
        Some((secs, frac)) => {
            let frac = frac.trim_end_matches('0');
            if frac.is_empty() {
                format!("{secs}Z")
            } else {
                format!("{secs}.{frac}Z")
            }
        }
        None => am.to_string(),
    }
}

/// The OpsOrch status of an Alertmanager alert, derived independently.
fn am_status(alert: &Value) -> &'static str {
    let status = &alert["status"];
    match status["state"].as_str().unwrap() {
        "active" => "firing",
        "unprocessed" => "pending",
        _ if !status["silencedBy"].as_array().unwrap().is_empty() => "silenced",
        _ => "inhibited",
    }
}

fn post_alerts(am: &Server, hostile_service: &str) {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let starts = rfc3339(now - 60);
    let ends = rfc3339(now + 3600);
    let alert = |labels: Value, annotations: Value| {
        json!({"labels": labels, "annotations": annotations, "startsAt": starts, "endsAt": ends,
               "generatorURL": "http://prometheus.example/graph"})
    };
    let alerts = json!([
        alert(
            json!({"alertname": "Source", "service": "checkout", "severity": "critical",
                     "env": "prod", "team": "commerce"}),
            json!({"description": "p99 above 2s", "summary": "Checkout slow"})
        ),
        alert(
            json!({"alertname": "Target", "service": "checkout", "severity": "warning"}),
            json!({"summary": "inhibited by Source"})
        ),
        alert(
            json!({"alertname": "Quiet", "service": "payments", "severity": "info"}),
            json!({})
        ),
        alert(
            json!({"alertname": "DiskFull", "service": "payments", "severity": "warning",
                     "env": "staging"}),
            json!({"description": "disk 95% full"})
        ),
        alert(
            json!({"alertname": "Hostile", "service": hostile_service, "severity": "critical"}),
            json!({})
        ),
    ]);
    let resp = am.post("/api/v2/alerts", "application/json", &alerts.to_string());
    assert_eq!(resp.status, 200, "{}", resp.text());
    let silence = json!({"matchers": [{"name": "alertname", "value": "Quiet", "isRegex": false, "isEqual": true}],
                         "startsAt": starts, "endsAt": ends, "createdBy": "e2e", "comment": "status mapping"});
    let resp = am.post("/api/v2/silences", "application/json", &silence.to_string());
    assert_eq!(resp.status, 200, "{}", resp.text());
}

/// Alertmanager's own answer: the alerts for a query string.
fn direct_alerts(am: &Server, query: &str) -> Vec<Value> {
    let path = if query.is_empty() {
        "/api/v2/alerts".to_string()
    } else {
        format!("/api/v2/alerts?{query}")
    };
    let resp = am.get(&path);
    assert_eq!(resp.status, 200, "{path}: {}", resp.text());
    resp.json().as_array().expect("alerts").clone()
}

fn ids(alerts: &[Value]) -> Vec<String> {
    alerts
        .iter()
        .map(|a| {
            a.get("id")
                .or_else(|| a.get("fingerprint"))
                .and_then(Value::as_str)
                .expect("id")
                .to_string()
        })
        .collect()
}

fn check_alert_routes(host: &Host, am: &Server, transport: Transport, hostile_service: &str) {
    let query = |body: Value| -> Vec<Value> {
        let resp = host.post("/alerts/query", &body.to_string());
        assert_eq!(resp.status, 200, "{transport:?} {body}: {}", resp.text());
        resp.json().as_array().expect("list").clone()
    };
    // Everything: each alert equals Alertmanager's, field by field.
    let all = query(json!({}));
    let direct = direct_alerts(am, "");
    assert_eq!(ids(&all), ids(&direct));
    assert_eq!(all.len(), 5);
    for (ours, theirs) in all.iter().zip(&direct) {
        let labels = &theirs["labels"];
        assert_eq!(ours["title"], labels["alertname"]);
        assert_eq!(ours["severity"], labels["severity"]);
        assert_eq!(ours["service"], labels["service"]);
        assert_eq!(ours["status"], am_status(theirs), "{ours}");
        assert_eq!(
            ours["createdAt"],
            go_time(theirs["startsAt"].as_str().unwrap())
        );
        assert_eq!(
            ours["updatedAt"],
            go_time(theirs["updatedAt"].as_str().unwrap())
        );
        assert_eq!(ours["fields"]["labels"], theirs["labels"]);
        assert_eq!(ours["fields"]["annotations"], theirs["annotations"]);
        assert_eq!(ours["metadata"]["fingerprint"], theirs["fingerprint"]);
        let url = ours["url"].as_str().unwrap();
        assert!(url.starts_with(&format!("{}/#/alerts?", am.url())), "{url}");
        // alert.get by fingerprint gives the same alert.
        let id = ours["id"].as_str().unwrap();
        let resp = host.get(&format!("/alerts/{id}"));
        assert_eq!(resp.status, 200, "{}", resp.text());
        assert_eq!(&resp.json(), ours);
    }
    let by_title = |title: &str| {
        all.iter()
            .find(|a| a["title"] == title)
            .expect(title)
            .clone()
    };
    assert_eq!(by_title("Source")["status"], "firing");
    assert_eq!(by_title("Source")["description"], "p99 above 2s");
    assert_eq!(by_title("Target")["status"], "inhibited");
    assert_eq!(by_title("Target")["description"], "inhibited by Source");
    assert_eq!(by_title("Quiet")["status"], "silenced");
    assert_eq!(by_title("Hostile")["service"], hostile_service);

    // Status filters are state flags; the answer equals Alertmanager's.
    let flags = |active: bool, suppressed: bool| {
        format!("active={active}&silenced={suppressed}&inhibited={suppressed}&unprocessed=false")
    };
    let firing = query(json!({"statuses": ["firing"]}));
    assert_eq!(ids(&firing), ids(&direct_alerts(am, &flags(true, false))));
    let titles = |alerts: &[Value]| -> Vec<String> {
        let mut t: Vec<String> = alerts
            .iter()
            .map(|a| a["title"].as_str().unwrap().to_string())
            .collect();
        t.sort();
        t
    };
    assert_eq!(titles(&firing), ["DiskFull", "Hostile", "Source"]);
    let suppressed = query(json!({"statuses": ["suppressed"]}));
    assert_eq!(
        ids(&suppressed),
        ids(&direct_alerts(am, &flags(false, true)))
    );
    assert_eq!(titles(&suppressed), ["Quiet", "Target"]);
    assert_eq!(titles(&query(json!({"statuses": ["silenced"]}))), ["Quiet"]);
    assert_eq!(
        titles(&query(json!({"statuses": ["inhibited"]}))),
        ["Target"]
    );
    assert!(query(json!({"statuses": ["resolved"]})).is_empty());
    assert!(query(json!({"statuses": ["pending"]})).is_empty());
    let resp = host.post("/alerts/query", r#"{"statuses": ["state=\"active\""]}"#);
    assert_eq!(resp.status, 400, "{}", resp.text());

    // Severities and scope are label matchers.
    let critical = query(json!({"severities": ["critical"]}));
    assert_eq!(
        ids(&critical),
        ids(&direct_alerts(
            am,
            &form(&[("filter", r#"severity="critical""#)])
        ))
    );
    assert_eq!(titles(&critical), ["Hostile", "Source"]);
    let two = query(json!({"severities": ["critical", "warning"]}));
    assert_eq!(titles(&two), ["DiskFull", "Hostile", "Source", "Target"]);
    assert_eq!(
        ids(&two),
        ids(&direct_alerts(
            am,
            &form(&[("filter", r#"severity=~"critical|warning""#)])
        ))
    );
    let checkout = query(json!({"scope": {"service": "checkout"}}));
    assert_eq!(titles(&checkout), ["Source", "Target"]);
    assert_eq!(
        titles(&query(json!({"scope": {"environment": "staging"}}))),
        ["DiskFull"]
    );
    assert_eq!(
        titles(&query(json!({"scope": {"team": "commerce"}}))),
        ["Source"]
    );
    assert_eq!(
        titles(&query(json!({"scope": {"service": hostile_service}}))),
        ["Hostile"]
    );
    for (_, value) in HOSTILE {
        if value != hostile_service {
            assert!(
                query(json!({"scope": {"service": value}})).is_empty(),
                "{value:?}"
            );
        }
        assert!(
            query(json!({"severities": [value, "nope"]})).is_empty(),
            "{value:?}"
        );
    }
    assert_eq!(
        titles(&query(
            json!({"severities": ["warning"], "statuses": ["firing"]})
        )),
        ["DiskFull"]
    );
    // Free text and limit.
    assert_eq!(titles(&query(json!({"query": "P99"}))), ["Source"]);
    let limited = query(json!({"limit": 2}));
    assert_eq!(ids(&limited), ids(&all[..2]));

    // Unknown fingerprints are 404.
    for id in ["0123456789abcdef", "not-a-fingerprint", "..%2F..%2Fapi"] {
        let resp = host.get(&format!("/alerts/{id}"));
        assert_eq!(resp.status, 404, "{id}: {}", resp.text());
    }
}

#[test]
fn alerts_through_the_host_equal_alertmanager_answers() {
    let Some(tools) = tools("prometheus::alerts_through_the_host_equal_alertmanager_answers")
    else {
        return;
    };
    let am = start_alertmanager(&tools);
    // The hostile alert's service holds a quote, a backslash, a newline and
    // non-ASCII text.
    let hostile_service = "x\"y\\z\n日本";
    post_alerts(&am, hostile_service);
    let config = json!({"alertmanagerURL": am.url()});
    for transport in TRANSPORTS {
        let (host, _dir) = start_host(transport, None, Some(&config));
        check_alert_routes(&host, &am, transport, hostile_service);
    }
}

/// Runs one faulty upstream behind the metric and alert providers and
/// checks the status and code both answer, and that other capabilities
/// keep serving.
fn check_fault(url: &str, extra: Value, status: u16, code: &str, needle: &str) {
    let mut metric = json!({"url": url, "timeoutMs": 1500});
    let mut alert = json!({"alertmanagerURL": url, "timeoutMs": 1500});
    for (k, v) in extra.as_object().unwrap() {
        metric[k] = v.clone();
        alert[k] = v.clone();
    }
    for transport in TRANSPORTS {
        let (host, _dir) = start_host(transport, Some(&metric), Some(&alert));
        for (path, body) in [
            ("/metrics/query", r#"{"expression":{"metricName":"up"}}"#),
            ("/alerts/query", "{}"),
        ] {
            let resp = host.post(path, body);
            assert_eq!(
                resp.status,
                status,
                "{transport:?} {path} {url}: {}",
                resp.text()
            );
            assert_eq!(
                resp.error_code(),
                code,
                "{transport:?} {path}: {}",
                resp.text()
            );
            assert!(
                resp.text().contains(needle),
                "{transport:?} {path}: {}",
                resp.text()
            );
        }
        let resp = host.get("/metrics/describe");
        assert_eq!(
            resp.status,
            status,
            "{transport:?} describe: {}",
            resp.text()
        );
        let resp = host.get("/alerts/0123456789abcdef");
        assert_eq!(resp.status, status, "{transport:?} get: {}", resp.text());
        assert_eq!(host.post("/incidents/query", "{}").status, 200);
        assert_eq!(host.get("/health").status, 200);
    }
}

#[test]
fn upstream_faults_are_clear_errors_and_the_host_keeps_serving() {
    // Nothing listening.
    let url = format!("http://127.0.0.1:{}", closed_port());
    check_fault(
        &url,
        json!({}),
        502,
        "upstream_unavailable",
        "cannot connect",
    );
    // Accepts and never answers: the per-call timeout.
    let hung = FakeUpstream::start(Behaviour::Hang);
    check_fault(
        &hung.url(),
        json!({}),
        504,
        "timeout",
        "did not answer in time",
    );
    drop(hung);
    // A 500 with an HTML page.
    let broken = FakeUpstream::start(Behaviour::Answer(
        500,
        "text/html",
        b"<h1>oops</h1>".to_vec(),
    ));
    check_fault(
        &broken.url(),
        json!({}),
        502,
        "upstream_unavailable",
        "answered 500",
    );
    // 200 with something that is not JSON.
    let garbage = FakeUpstream::start(Behaviour::Answer(200, "text/plain", b"hello".to_vec()));
    check_fault(&garbage.url(), json!({}), 502, "upstream_error", "not");
    // Too large, announced and streamed.
    let big = FakeUpstream::start(Behaviour::Answer(
        200,
        "application/json",
        vec![b' '; 64 * 1024],
    ));
    check_fault(
        &big.url(),
        json!({"maxResponseBytes": 4096}),
        502,
        "upstream_error",
        "4096-byte response limit",
    );
    let streamed = FakeUpstream::start(Behaviour::Streamed(32 * 1024 * 1024));
    check_fault(
        &streamed.url(),
        json!({}),
        502,
        "upstream_error",
        "16777216-byte response limit",
    );
}

#[test]
fn credentials_reach_the_upstream_and_never_a_log_or_an_error() {
    let upstream = FakeUpstream::start(Behaviour::Answer(
        200,
        "application/json",
        br#"{"status":"success","data":{"resultType":"matrix","result":[]}}"#.to_vec(),
    ));
    let secret = "s3cr3t-t0ken-value";
    let unreachable = format!("http://127.0.0.1:{}", closed_port());
    for transport in TRANSPORTS {
        let good = json!({"url": upstream.url(), "bearerToken": secret});
        let bad = json!({"alertmanagerURL": unreachable, "username": "ops", "password": secret});
        let (mut host, _dir) = start_host(transport, Some(&good), Some(&bad));
        let resp = host.post("/metrics/query", r#"{"expression":{"metricName":"up"}}"#);
        assert_eq!(resp.status, 200, "{}", resp.text());
        assert_eq!(resp.json(), json!([]));
        let resp = host.post("/alerts/query", "{}");
        assert_eq!(resp.status, 502, "{}", resp.text());
        assert!(!resp.text().contains(secret), "{}", resp.text());
        assert!(!host.stderr().contains(secret), "{}", host.stderr());
    }
    let requests = upstream.requests();
    assert_eq!(requests.len(), 2);
    for r in requests {
        assert_eq!(r.method, "POST");
        assert_eq!(r.target, "/api/v1/query_range");
        let body = String::from_utf8(r.body.clone()).expect("form body");
        assert!(body.starts_with("query=up&start="), "{body}");
        assert_eq!(
            r.header("authorization"),
            Some(format!("Bearer {secret}").as_str())
        );
    }
}

#[test]
fn rfc3339_matches_known_instants() {
    assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
    assert_eq!(rfc3339(1_793_491_200), "2026-11-01T00:00:00Z");
    assert_eq!(rfc3339(951_782_400 + 86_399), "2000-02-29T23:59:59Z");
}
