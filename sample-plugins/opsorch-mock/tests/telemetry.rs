//! `log.query`, `metric.query` and `metric.describe`.

mod common;

use chrono::{DateTime, Utc};
use common::{call, call_err, list, mock, mock_with, s};
use opsorch_plugin_api::Capability;
use serde_json::{json, Value};

fn time(v: &Value) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(v.as_str().expect("a time string"))
        .expect("RFC 3339")
        .with_timezone(&Utc)
}

fn entries(v: &Value) -> Vec<Value> {
    v["entries"].as_array().cloned().unwrap_or_default()
}

const START: &str = "2026-10-31T10:00:00Z";
const END: &str = "2026-10-31T11:00:00Z";

// -------------------------------------------------------------------- logs

#[test]
fn logs_lie_inside_the_window_newest_first_with_a_url() {
    let p = mock(Capability::Log);
    let out = call(
        &p,
        "log.query",
        json!({"start": START, "end": END, "limit": 500}),
    );
    let e = entries(&out);
    assert_eq!(e.len(), 500);
    let (start, end) = (time(&json!(START)), time(&json!(END)));
    for entry in &e {
        let t = time(&entry["timestamp"]);
        assert!(t >= start && t < end, "{t} outside window");
        assert!(!s(&entry["message"]).is_empty());
        assert!(["debug", "info", "warn", "error"].contains(&entry["severity"].as_str().unwrap()));
        assert_eq!(entry["labels"]["service"], entry["service"]);
    }
    let times: Vec<_> = e.iter().map(|x| time(&x["timestamp"])).collect();
    assert!(times.windows(2).all(|w| w[0] >= w[1]), "newest first");
    assert!(s(&out["url"]).starts_with("https://mock.opsorch.local/logs?"));
}

#[test]
fn logs_are_deterministic_per_seed_and_consistent_across_windows() {
    let q = json!({"start": START, "end": END, "limit": 50});
    let a = call(&mock(Capability::Log), "log.query", q.clone());
    let b = call(&mock(Capability::Log), "log.query", q.clone());
    let c = call(
        &mock_with(Capability::Log, json!({"seed": 9})),
        "log.query",
        q,
    );
    assert_eq!(a, b);
    assert_ne!(entries(&a), entries(&c));
    // A narrower window ending at the same time sees the same newest lines.
    let narrow = call(
        &mock(Capability::Log),
        "log.query",
        json!({"start": "2026-10-31T10:59:00Z", "end": END, "limit": 10}),
    );
    assert_eq!(entries(&narrow), entries(&a)[..10].to_vec());
}

#[test]
fn limit_defaults_to_100_and_caps_at_1000() {
    let p = mock(Capability::Log);
    let day = json!({"start": "2026-10-30T00:00:00Z", "end": "2026-10-31T00:00:00Z"});
    assert_eq!(entries(&call(&p, "log.query", day.clone())).len(), 100);
    let mut big = day;
    big["limit"] = json!(5000);
    assert_eq!(entries(&call(&p, "log.query", big)).len(), 1000);
    // A one-minute window holds one line per two-second slot.
    let minute = call(
        &p,
        "log.query",
        json!({"start": START, "end": "2026-10-31T10:01:00Z", "limit": 1000}),
    );
    assert_eq!(entries(&minute).len(), 30);
}

#[test]
fn empty_or_inverted_window_means_the_last_hour() {
    let p = mock(Capability::Log);
    let before = Utc::now();
    for q in [json!({}), json!({"start": END, "end": START})] {
        let e = entries(&call(&p, "log.query", q));
        assert!(!e.is_empty());
        for entry in &e {
            let t = time(&entry["timestamp"]);
            assert!(t >= before - chrono::Duration::hours(1) - chrono::Duration::seconds(5));
            assert!(t <= Utc::now());
        }
    }
}

#[test]
fn log_expression_and_scope_filters() {
    let p = mock(Capability::Log);
    let base = json!({"start": START, "end": END, "limit": 1000});
    let all = entries(&call(&p, "log.query", base.clone()));

    let with = |extra: Value| {
        let mut q = base.clone();
        for (k, v) in extra.as_object().unwrap() {
            q[k] = v.clone();
        }
        entries(&call(&p, "log.query", q))
    };

    let errors = with(json!({"expression": {"severityIn": ["error", "WARNING"]}}));
    assert!(!errors.is_empty());
    assert!(errors
        .iter()
        .all(|e| e["severity"] == "error" || e["severity"] == "warn"));

    let timeouts = with(json!({"expression": {"search": "TIMEOUT"}}));
    assert!(!timeouts.is_empty());
    assert!(timeouts
        .iter()
        .all(|e| s(&e["message"]).to_lowercase().contains("timeout")));
    // Filtering never invents lines: every hit is among the unfiltered ones
    // (the unfiltered page holds the newest 1000, so compare by membership
    // only for lines inside its time range).
    let oldest = time(&all.last().unwrap()["timestamp"]);
    for hit in timeouts.iter().filter(|h| time(&h["timestamp"]) >= oldest) {
        assert!(all.contains(hit));
    }

    let checkout = with(json!({"scope": {"service": "checkout", "environment": "prod"}}));
    assert!(!checkout.is_empty());
    assert!(checkout
        .iter()
        .all(|e| e["service"] == "checkout" && e["labels"]["env"] == "production"));

    let commerce = with(json!({"scope": {"team": "commerce"}}));
    assert!(commerce
        .iter()
        .all(|e| ["checkout", "payments", "orders"].contains(&e["service"].as_str().unwrap())));

    let eq = with(
        json!({"expression": {"filters": [{"field": "region", "operator": "=", "value": "eu-west-1"}]}}),
    );
    assert!(!eq.is_empty() && eq.iter().all(|e| e["labels"]["region"] == "eu-west-1"));
    let ne = with(
        json!({"expression": {"filters": [{"field": "region", "operator": "!=", "value": "eu-west-1"}]}}),
    );
    assert!(!ne.is_empty() && ne.iter().all(|e| e["labels"]["region"] != "eu-west-1"));
    let status = with(
        json!({"expression": {"filters": [{"field": "status", "operator": "=", "value": "503"}]}}),
    );
    assert!(!status.is_empty() && status.iter().all(|e| e["fields"]["status"] == 503));
    let contains = with(
        json!({"expression": {"filters": [{"field": "path", "operator": "contains", "value": "checkout"}]}}),
    );
    assert!(
        !contains.is_empty()
            && contains
                .iter()
                .all(|e| s(&e["fields"]["path"]).contains("checkout"))
    );
    let regex = with(
        json!({"expression": {"filters": [{"field": "pod", "operator": "regex", "value": "payments-"}]}}),
    );
    assert!(!regex.is_empty() && regex.iter().all(|e| e["service"] == "payments"));

    let mut bad = base.clone();
    bad["expression"] =
        json!({"filters": [{"field": "region", "operator": "between", "value": "x"}]});
    assert_eq!(call_err(&p, "log.query", bad), "bad_request");
}

// ----------------------------------------------------------------- metrics

fn query(p: &opsorch_plugin_api::ProviderInstance, q: Value) -> Vec<Value> {
    list(p, "metric.query", q)
}

#[test]
fn points_are_spaced_exactly_by_step_over_the_window() {
    let p = mock(Capability::Metric);
    let series = query(
        &p,
        json!({
            "expression": {"metricName": "cpu_usage_percent"},
            "start": "2026-10-31T10:00:00.5Z", "end": "2026-10-31T11:00:00Z", "step": 300,
            "scope": {"service": "checkout"}
        }),
    );
    // checkout × 2 envs × 2 regions.
    assert_eq!(series.len(), 4);
    for sr in &series {
        let pts = sr["points"].as_array().unwrap();
        // 10:00:00.5 + k*300s up to 11:00:00 → k = 0..=11.
        assert_eq!(pts.len(), 12);
        assert_eq!(pts[0]["timestamp"], "2026-10-31T10:00:00.5Z");
        for w in pts.windows(2) {
            assert_eq!(
                (time(&w[1]["timestamp"]) - time(&w[0]["timestamp"])).num_seconds(),
                300
            );
        }
        for pt in pts {
            let v = pt["value"].as_f64().unwrap();
            assert!((0.0..=100.0).contains(&v));
        }
        assert_eq!(sr["service"], "checkout");
        assert_eq!(sr["labels"]["service"], "checkout");
    }

    // Step 0 means 60 seconds.
    let series = query(
        &p,
        json!({"expression": {"metricName": "error_rate"}, "start": START, "end": END, "scope": {"service": "auth"}}),
    );
    assert_eq!(series[0]["points"].as_array().unwrap().len(), 61);
}

#[test]
fn too_many_points_is_a_bad_request() {
    let p = mock(Capability::Metric);
    let q = json!({"expression": {"metricName": "cpu_usage_percent"},
                   "start": "2026-10-01T00:00:00Z", "end": "2026-10-31T00:00:00Z", "step": 1});
    assert_eq!(call_err(&p, "metric.query", q), "bad_request");
    assert_eq!(
        call_err(&p, "metric.query", json!({"start": START, "end": END})),
        "bad_request"
    );
    assert_eq!(
        call_err(
            &p,
            "metric.query",
            json!({"expression": {"metricName": "error_rate"}, "start": END, "end": START})
        ),
        "bad_request"
    );
}

#[test]
fn counters_increase_and_values_are_deterministic() {
    let q = json!({"expression": {"metricName": "http_requests_total",
                                  "filters": [{"label": "service", "operator": "=", "value": "payments"},
                                              {"label": "status", "operator": "=", "value": "2xx"}]},
                   "start": START, "end": END, "step": 60});
    let a = query(&mock(Capability::Metric), q.clone());
    let b = query(&mock(Capability::Metric), q.clone());
    let c = query(&mock_with(Capability::Metric, json!({"seed": 3})), q);
    assert_eq!(a, b);
    assert_ne!(a, c);
    // 2 envs × 2 regions × 2 methods.
    assert_eq!(a.len(), 8);
    for sr in &a {
        assert_eq!(sr["labels"]["status"], "2xx");
        let values: Vec<f64> = sr["points"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["value"].as_f64().unwrap())
            .collect();
        assert!(values.windows(2).all(|w| w[1] >= w[0]), "counter decreased");
        assert!(values.last() > values.first(), "counter grows");
    }
}

#[test]
fn label_filters_group_by_and_aggregation() {
    let p = mock(Capability::Metric);
    let base = |expr: Value| json!({"expression": expr, "start": START, "end": END, "step": 600});

    let ne = query(
        &p,
        base(
            json!({"metricName": "cpu_usage_percent", "filters": [{"label": "env", "operator": "!=", "value": "staging"}]}),
        ),
    );
    assert_eq!(ne.len(), 12 * 2);
    assert!(ne.iter().all(|s| s["labels"]["env"] == "production"));

    let raw = query(
        &p,
        base(
            json!({"metricName": "cpu_usage_percent", "filters": [{"label": "service", "operator": "=", "value": "search"}]}),
        ),
    );
    assert_eq!(raw.len(), 4);

    let grouped = query(
        &p,
        base(
            json!({"metricName": "cpu_usage_percent", "groupBy": ["env"], "aggregation": "max",
                                       "filters": [{"label": "service", "operator": "=", "value": "search"}]}),
        ),
    );
    assert_eq!(grouped.len(), 2);
    for g in &grouped {
        assert_eq!(g["labels"].as_object().unwrap().len(), 1);
        assert_eq!(g["service"], "search");
        let env = g["labels"]["env"].clone();
        for (i, pt) in g["points"].as_array().unwrap().iter().enumerate() {
            let expected = raw
                .iter()
                .filter(|r| r["labels"]["env"] == env)
                .map(|r| r["points"][i]["value"].as_f64().unwrap())
                .fold(f64::NEG_INFINITY, f64::max);
            assert_eq!(pt["value"].as_f64().unwrap(), expected);
        }
    }

    // Default aggregation is sum; groups across services have no service.
    let by_region = query(
        &p,
        base(json!({"metricName": "cpu_usage_percent", "groupBy": ["region"]})),
    );
    assert_eq!(by_region.len(), 2);
    assert!(by_region.iter().all(|g| g.get("service").is_none()));
    let all = query(&p, base(json!({"metricName": "cpu_usage_percent"})));
    let total: f64 = all
        .iter()
        .map(|s| s["points"][0]["value"].as_f64().unwrap())
        .sum();
    let grouped_total: f64 = by_region
        .iter()
        .map(|s| s["points"][0]["value"].as_f64().unwrap())
        .sum();
    assert!((total - grouped_total).abs() < 1e-6);

    let avg = query(
        &p,
        base(json!({"metricName": "cpu_usage_percent", "aggregation": "avg"})),
    );
    assert_eq!(avg.len(), 1);
    assert!(
        (avg[0]["points"][0]["value"].as_f64().unwrap() - total / all.len() as f64).abs() < 1e-6
    );

    assert_eq!(
        call_err(
            &p,
            "metric.query",
            base(json!({"metricName": "cpu_usage_percent", "aggregation": "median"}))
        ),
        "bad_request"
    );
    assert_eq!(
        call_err(
            &p,
            "metric.query",
            base(
                json!({"metricName": "cpu_usage_percent", "filters": [{"label": "env", "operator": ">", "value": "1"}]})
            )
        ),
        "bad_request"
    );
}

#[test]
fn scope_restricts_series_and_unknown_metrics_are_empty() {
    let p = mock(Capability::Metric);
    let q = |scope: Value| json!({"expression": {"metricName": "db_connections"}, "start": START, "end": END, "step": 600, "scope": scope});
    let payments = query(&p, q(json!({"service": "payments"})));
    assert!(!payments.is_empty() && payments.iter().all(|s| s["service"] == "payments"));
    assert!(payments
        .iter()
        .all(|s| s["labels"]["db"] == "postgres-payments"));
    // shipping has no database.
    assert!(query(&p, q(json!({"service": "shipping"}))).is_empty());
    let staging = query(&p, q(json!({"environment": "stg"})));
    assert!(!staging.is_empty() && staging.iter().all(|s| s["labels"]["env"] == "staging"));
    let fulfillment = query(&p, q(json!({"team": "fulfillment"})));
    assert!(fulfillment.iter().all(|s| s["service"] == "inventory"));

    assert!(query(
        &p,
        json!({"expression": {"metricName": "no_such_metric"}, "start": START, "end": END})
    )
    .is_empty());
}

#[test]
fn describe_lists_the_catalogue_per_service() {
    let p = mock(Capability::Metric);
    let all = list(&p, "metric.describe", json!({}));
    assert!(all.len() >= 10);
    let names: Vec<String> = all.iter().map(|m| s(&m["name"])).collect();
    for expected in [
        "http_requests_total",
        "http_request_duration_seconds",
        "cpu_usage_percent",
        "memory_usage_bytes",
        "error_rate",
        "queue_depth",
        "db_connections",
    ] {
        assert!(names.contains(&expected.to_string()), "{expected}");
    }
    let http = all
        .iter()
        .find(|m| m["name"] == "http_requests_total")
        .unwrap();
    assert_eq!(http["type"], "counter");
    assert_eq!(
        http["labels"],
        json!(["service", "env", "region", "method", "status"])
    );

    let payments: Vec<String> = list(&p, "metric.describe", json!({"service": "payments"}))
        .iter()
        .map(|m| s(&m["name"]))
        .collect();
    assert!(payments.contains(&"payment_authorizations_total".to_string()));
    assert!(!payments.contains(&"orders_placed_total".to_string()));
    let shipping: Vec<String> = list(&p, "metric.describe", json!({"service": "shipping"}))
        .iter()
        .map(|m| s(&m["name"]))
        .collect();
    assert!(!shipping.contains(&"db_connections".to_string()));
    assert!(shipping.contains(&"queue_depth".to_string()));
    assert!(list(&p, "metric.describe", json!({"service": "nope"})).is_empty());

    // Every described metric can be queried for a service that emits it.
    for m in &all {
        let svc = s(&m["metadata"]["services"][0]);
        let series = query(
            &p,
            json!({"expression": {"metricName": m["name"]}, "start": START, "end": END, "step": 3600, "scope": {"service": svc}}),
        );
        assert!(!series.is_empty(), "{} for {svc}", m["name"]);
    }
}
