//! Conformance: every method of every capability, end to end over HTTP,
//! against the mock adapters. Each case runs through both transports, the
//! stable-ABI library (`libopsorch_mock.so`) and the stdio plugin binary
//! (`opsorch-mock-plugin`), and again for the same mock served through the
//! asynchronous provider traits (`sample-plugins/fixtures/async-mock`:
//! `libopsorch_async_mock.so`, `opsorch-async-mock-plugin`). The mock
//! library is non-blocking (the host calls it in the request's task), so
//! the cases run once more against the same source built as a blocking
//! library (`sample-plugins/fixtures/blocking-mock`,
//! `libopsorch_blocking_mock.so`), whose calls run on the host's call
//! pool. All five must behave identically.

use opsorch_e2e::{binary, Host, TempDir, CAPABILITY_ENV_KEYS as CAPS};
use serde_json::{json, Value};

enum Transport {
    Library,
    Stdio,
    AsyncLibrary,
    AsyncStdio,
    /// The mock built as a blocking synchronous library: every call runs
    /// on the host's call pool.
    BlockingLibrary,
}

fn start(transport: Transport) -> (Host, TempDir) {
    let dir = TempDir::new("conformance");
    let mut env: Vec<(String, String)> = Vec::new();
    let (library, plugin) = match transport {
        Transport::Library | Transport::Stdio => ("opsorch_mock", "opsorch-mock-plugin"),
        Transport::AsyncLibrary | Transport::AsyncStdio => {
            ("opsorch_async_mock", "opsorch-async-mock-plugin")
        }
        Transport::BlockingLibrary => ("opsorch_blocking_mock", ""),
    };
    match transport {
        Transport::Library | Transport::AsyncLibrary | Transport::BlockingLibrary => {
            dir.add_library(library);
            env.push((
                "OPSORCH_PLUGIN_DIR".into(),
                dir.path().display().to_string(),
            ));
            for cap in CAPS {
                env.push((format!("OPSORCH_{cap}_PROVIDER"), "mock".into()));
            }
        }
        Transport::Stdio | Transport::AsyncStdio => {
            let plugin = binary(plugin).display().to_string();
            for cap in CAPS {
                env.push((format!("OPSORCH_{cap}_PLUGIN"), plugin.clone()));
            }
        }
    }
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    (Host::start(&env), dir)
}

/// Runs each case against both transports, for both mocks, and through
/// the blocking library.
macro_rules! conformance {
    ($($case:ident),* $(,)?) => {
        conformance!(@modules [$($case),*]
            library_transport: Library,
            stdio_transport: Stdio,
            async_library_transport: AsyncLibrary,
            async_stdio_transport: AsyncStdio,
            blocking_library_transport: BlockingLibrary);
    };
    (@modules $cases:tt $($module:ident: $transport:ident),*) => {
        $(conformance!(@module $module $transport $cases);)*
    };
    (@module $module:ident $transport:ident [$($case:ident),*]) => {
        mod $module {
            $(
                #[test]
                fn $case() {
                    let (host, _dir) = super::start(super::Transport::$transport);
                    super::$case(&host);
                }
            )*
        }
    };
}

conformance!(
    incidents,
    alerts,
    logs,
    metrics,
    tickets,
    messaging,
    services,
    deployments,
    teams,
    orchestration,
);

fn ok(r: &opsorch_e2e::Response, status: u16) -> Value {
    assert_eq!(r.status, status, "{}", r.text());
    r.json()
}

fn list(v: &Value) -> &Vec<Value> {
    v.as_array()
        .unwrap_or_else(|| panic!("expected a list, got {v}"))
}

fn not_found(r: &opsorch_e2e::Response) {
    assert_eq!(r.status, 404, "{}", r.text());
    assert_eq!(r.error_code(), "not_found");
}

fn incidents(h: &Host) {
    let all = ok(&h.post("/incidents/query", "{}"), 200);
    assert!(
        list(&all).len() >= 20,
        "seeded incidents: {}",
        list(&all).len()
    );

    let five = ok(&h.post("/incidents/query", r#"{"limit":5}"#), 200);
    assert_eq!(list(&five).len(), 5);

    let severity = list(&all)[0]["severity"].as_str().unwrap().to_string();
    let status = list(&all)[0]["status"].as_str().unwrap().to_string();
    let body = json!({"severities": [severity], "statuses": [status]}).to_string();
    let filtered = ok(&h.post("/incidents/query", &body), 200);
    assert!(!list(&filtered).is_empty());
    assert!(list(&filtered).len() < list(&all).len());
    assert!(list(&filtered)
        .iter()
        .all(|i| i["severity"] == severity.as_str() && i["status"] == status.as_str()));

    let scoped = ok(
        &h.post("/incidents/query", r#"{"scope":{"service":"checkout"}}"#),
        200,
    );
    assert!(list(&scoped).iter().all(|i| i["service"] == "checkout"));

    let first = &list(&all)[0];
    let id = first["id"].as_str().unwrap();
    let got = ok(&h.get(&format!("/incidents/{id}")), 200);
    assert_eq!(&got, first);
    not_found(&h.get("/incidents/INC-does-not-exist"));

    let created = ok(
        &h.post(
            "/incidents",
            r#"{"title":"Checkout latency","status":"open","severity":"sev2","service":"checkout"}"#,
        ),
        201,
    );
    let new_id = created["id"].as_str().unwrap().to_string();
    assert_eq!(created["title"], "Checkout latency");
    assert_eq!(ok(&h.get(&format!("/incidents/{new_id}")), 200), created);

    let updated = ok(
        &h.patch(&format!("/incidents/{new_id}"), r#"{"status":"mitigated"}"#),
        200,
    );
    assert_eq!(updated["status"], "mitigated");
    assert_eq!(updated["title"], "Checkout latency", "absent fields stay");
    not_found(&h.patch("/incidents/INC-none", r#"{"status":"resolved"}"#));

    let timeline = ok(&h.get(&format!("/incidents/{id}/timeline")), 200);
    assert!(!list(&timeline).is_empty());
    assert!(list(&timeline).iter().all(|e| e["incidentId"] == id));

    let r = h.post(
        &format!("/incidents/{new_id}/timeline"),
        r#"{"kind":"note","body":"rolled back v2.14.3"}"#,
    );
    assert_eq!(ok(&r, 201), json!({"status":"ok"}));
    let timeline = ok(&h.get(&format!("/incidents/{new_id}/timeline")), 200);
    let note = list(&timeline)
        .iter()
        .find(|e| e["body"] == "rolled back v2.14.3")
        .expect("appended entry");
    assert_ne!(note["at"], "0001-01-01T00:00:00Z", "zero `at` becomes now");
    not_found(&h.post(
        "/incidents/INC-none/timeline",
        r#"{"kind":"note","body":"x"}"#,
    ));
}

fn alerts(h: &Host) {
    let all = ok(&h.post("/alerts/query", "{}"), 200);
    assert!(list(&all).len() >= 30);
    let critical = ok(
        &h.post("/alerts/query", r#"{"severities":["critical"],"limit":3}"#),
        200,
    );
    assert!(!list(&critical).is_empty() && list(&critical).len() <= 3);
    assert!(list(&critical).iter().all(|a| a["severity"] == "critical"));
    let id = list(&all)[0]["id"].as_str().unwrap();
    assert_eq!(&ok(&h.get(&format!("/alerts/{id}")), 200), &list(&all)[0]);
    not_found(&h.get("/alerts/ALR-none"));
}

fn logs(h: &Host) {
    let q = r#"{"start":"2026-11-01T00:00:00Z","end":"2026-11-01T01:00:00Z","limit":50}"#;
    let logs = ok(&h.post("/logs/query", q), 200);
    let entries = list(&logs["entries"]);
    assert!(!entries.is_empty() && entries.len() <= 50);
    for e in entries {
        let ts = e["timestamp"].as_str().unwrap();
        assert!(
            ("2026-11-01T00:00:00Z".."2026-11-01T01:00:00Z").contains(&ts),
            "{ts}"
        );
    }
    let errors = ok(
        &h.post(
            "/logs/query",
            r#"{"expression":{"severityIn":["error"]},"start":"2026-11-01T00:00:00Z","end":"2026-11-01T01:00:00Z"}"#,
        ),
        200,
    );
    assert!(list(&errors["entries"])
        .iter()
        .all(|e| e["severity"] == "error"));
    // The same query gives the same entries.
    assert_eq!(ok(&h.post("/logs/query", q), 200), logs);
}

fn metrics(h: &Host) {
    let series = ok(
        &h.post(
            "/metrics/query",
            r#"{"expression":{"metricName":"http_requests_total","aggregation":"sum"},"start":"2026-11-01T00:00:00Z","end":"2026-11-01T01:00:00Z","step":60}"#,
        ),
        200,
    );
    assert!(!list(&series).is_empty());
    for s in list(&series) {
        assert_eq!(s["name"], "http_requests_total");
        let points = list(&s["points"]);
        assert!(points.len() >= 60, "{} points", points.len());
        assert_eq!(points[0]["timestamp"], "2026-11-01T00:00:00Z");
        assert_eq!(points[1]["timestamp"], "2026-11-01T00:01:00Z");
    }
    let described = ok(&h.get("/metrics/describe?service=checkout"), 200);
    assert!(!list(&described["metrics"]).is_empty());
    let posted = ok(
        &h.post("/metrics/describe", r#"{"service":"checkout"}"#),
        200,
    );
    assert_eq!(posted, described);
}

fn tickets(h: &Host) {
    let all = ok(&h.post("/tickets/query", "{}"), 200);
    assert!(list(&all).len() >= 20);
    let first = &list(&all)[0];
    let id = first["id"].as_str().unwrap();
    assert_eq!(&ok(&h.get(&format!("/tickets/{id}")), 200), first);
    not_found(&h.get("/tickets/OPS-none"));
    let created = ok(
        &h.post("/tickets", r#"{"title":"Rotate checkout TLS certificate"}"#),
        201,
    );
    let new_id = created["id"].as_str().unwrap();
    let updated = ok(
        &h.patch(
            &format!("/tickets/{new_id}"),
            r#"{"status":"in_progress","assignees":["dana"]}"#,
        ),
        200,
    );
    assert_eq!(updated["status"], "in_progress");
    assert_eq!(updated["assignees"], json!(["dana"]));
    assert_eq!(updated["title"], "Rotate checkout TLS certificate");
    let statuses = ok(
        &h.post("/tickets/query", r#"{"statuses":["in_progress"]}"#),
        200,
    );
    assert!(list(&statuses).iter().any(|t| t["id"] == new_id));
    assert!(list(&statuses).iter().all(|t| t["status"] == "in_progress"));
}

fn messaging(h: &Host) {
    let sent = ok(
        &h.post(
            "/messages/send",
            r##"{"channel":"#incidents","body":"Checkout is degraded","blocks":[{"type":"header","text":"Checkout"}]}"##,
        ),
        200,
    );
    assert_eq!(sent["channel"], "#incidents");
    assert!(!sent["id"].as_str().unwrap().is_empty());
    assert!(sent["sentAt"].as_str().unwrap() > "2026");
}

fn services(h: &Host) {
    let all = ok(&h.post("/services/query", "{}"), 200);
    assert!(list(&all).len() >= 10);
    let two = ok(
        &h.post("/services/query", r#"{"ids":["checkout","payments"]}"#),
        200,
    );
    let mut ids: Vec<&str> = list(&two)
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    ids.sort();
    assert_eq!(ids, ["checkout", "payments"]);
    let named = ok(&h.post("/services/query", r#"{"name":"CHECK"}"#), 200);
    assert!(list(&named).iter().any(|s| s["id"] == "checkout"));
    let limited = ok(&h.post("/services/query", r#"{"limit":3}"#), 200);
    assert_eq!(list(&limited).len(), 3);
}

fn deployments(h: &Host) {
    let all = ok(&h.post("/deployments/query", "{}"), 200);
    assert!(list(&all).len() >= 30);
    let prod = ok(
        &h.post(
            "/deployments/query",
            r#"{"statuses":["success"],"scope":{"environment":"production"},"limit":10}"#,
        ),
        200,
    );
    assert!(!list(&prod).is_empty() && list(&prod).len() <= 10);
    assert!(list(&prod)
        .iter()
        .all(|d| d["status"] == "success" && d["environment"] == "production"));
    let id = list(&all)[0]["id"].as_str().unwrap();
    assert_eq!(
        &ok(&h.get(&format!("/deployments/{id}")), 200),
        &list(&all)[0]
    );
    not_found(&h.get("/deployments/DEP-none"));
}

fn teams(h: &Host) {
    let all = ok(&h.post("/teams/query", "{}"), 200);
    assert!(list(&all).len() >= 5);
    assert!(list(&all).iter().any(|t| t["parent"] == "engineering"));
    let team = ok(&h.get("/teams/platform"), 200);
    assert_eq!(team["id"], "platform");
    let members = ok(&h.get("/teams/platform/members"), 200);
    assert!(list(&members).len() >= 3);
    assert!(list(&members).iter().all(|m| m["email"].as_str().is_some()));
    not_found(&h.get("/teams/none"));
    not_found(&h.get("/teams/none/members"));
}

fn orchestration(h: &Host) {
    let plans = ok(&h.post("/orchestration/plans/query", "{}"), 200);
    assert!(list(&plans).len() >= 5);
    let plan = ok(&h.get("/orchestration/plans/release-checklist"), 200);
    let steps = list(&plan["steps"]);
    assert!(steps.iter().any(|s| s["dependsOn"].as_array().is_some()));
    not_found(&h.get("/orchestration/plans/none"));

    let runs = ok(&h.post("/orchestration/runs/query", "{}"), 200);
    assert!(!list(&runs).is_empty());
    let run_id = list(&runs)[0]["id"].as_str().unwrap();
    assert_eq!(
        ok(&h.get(&format!("/orchestration/runs/{run_id}")), 200)["id"],
        run_id
    );
    not_found(&h.get("/orchestration/runs/none"));
    let by_plan = ok(
        &h.post(
            "/orchestration/runs/query",
            r#"{"planIds":["release-checklist"]}"#,
        ),
        200,
    );
    assert!(list(&by_plan)
        .iter()
        .all(|r| r["planId"] == "release-checklist"));

    let r = h.post("/orchestration/runs", r#"{"planId":""}"#);
    assert_eq!(r.status, 400, "{}", r.text());
    not_found(&h.post("/orchestration/runs", r#"{"planId":"none"}"#));
    let run = ok(
        &h.post("/orchestration/runs", r#"{"planId":"release-checklist"}"#),
        201,
    );
    let run_id = run["id"].as_str().unwrap().to_string();
    assert_eq!(run["planId"], "release-checklist");

    // A step whose dependencies are not done cannot be completed.
    let r = h.post(
        &format!("/orchestration/runs/{run_id}/steps/deploy-staging/complete"),
        r#"{"actor":"ops@example.com"}"#,
    );
    assert_eq!(r.status, 400, "{}", r.text());
    for step in ["freeze-check", "review-changelog", "deploy-staging"] {
        let r = h.post(
            &format!("/orchestration/runs/{run_id}/steps/{step}/complete"),
            r#"{"actor":"ops@example.com","note":"done"}"#,
        );
        assert_eq!(ok(&r, 200), json!({"status":"ok"}));
    }
    let after = ok(&h.get(&format!("/orchestration/runs/{run_id}")), 200);
    let state = list(&after["steps"])
        .iter()
        .find(|s| s["stepId"] == "deploy-staging")
        .expect("step state");
    assert_eq!(state["status"], "succeeded");
    assert_eq!(state["actor"], "ops@example.com");
    not_found(&h.post(
        &format!("/orchestration/runs/{run_id}/steps/nope/complete"),
        "{}",
    ));
}

/// `POST /providers/{cap}` stores the choice through the secret capability
/// (`secret.put`), served by the mock adapter library.
#[test]
fn provider_config_persists_through_library_secret_provider() {
    let (h, _dir) = start(Transport::Library);
    let r = h.post(
        "/providers/services",
        r#"{"provider":"mock","config":{"seed":7}}"#,
    );
    assert_eq!(ok(&r, 200), json!({"status":"ok"}));
    let services = ok(&h.post("/services/query", "{}"), 200);
    assert!(list(&services).len() >= 10);
    let r = h.post("/providers/services", r#"{"provider":"nope"}"#);
    assert_eq!(r.status, 400, "{}", r.text());
}

/// The same over stdio: the secret provider is the mock plugin process, and
/// the new service provider is a plugin inside the allowed plugin directory.
#[test]
fn provider_config_persists_through_stdio_secret_provider() {
    let dir = TempDir::new("stdio-config");
    let plugin = dir.copy_in(&binary("opsorch-mock-plugin"), "opsorch-mock-plugin");
    let plugin = plugin.display().to_string();
    let h = Host::start(&[
        ("OPSORCH_PLUGIN_DIR", dir.path().to_str().unwrap()),
        ("OPSORCH_SECRET_PLUGIN", &plugin),
    ]);
    assert_eq!(h.post("/services/query", "{}").status, 501);
    let body = json!({"provider":"mock","config":{"seed":7},"plugin":plugin}).to_string();
    assert_eq!(
        ok(&h.post("/providers/services", &body), 200),
        json!({"status":"ok"})
    );
    let services = ok(&h.post("/services/query", "{}"), 200);
    assert!(list(&services).len() >= 10);
}
