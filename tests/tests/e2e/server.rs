//! The real `opsorch` binary: health, a 501, the json secret provider round
//! trip across a restart, start-up refusals and SIGTERM.
//!
//! The binary and the mock adapter library come from `scripts/test`, which
//! builds the whole workspace before running the suite (see the harness).

use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use opsorch_e2e::{Host, Started, TempDir};
use serde_json::{json, Value};

#[test]
fn health_501_and_json_secret_round_trip_across_a_restart() {
    let dir = TempDir::new("secrets");
    let secrets = dir.path().join("secrets.json");
    std::fs::write(&secrets, r#"{"unrelated":"kept"}"#).unwrap();
    let libs = TempDir::with_libraries("libs", &["opsorch_mock"]);
    let secret_config = json!({ "path": secrets.display().to_string() }).to_string();
    let env = [
        ("OPSORCH_SECRET_PROVIDER", "json"),
        ("OPSORCH_SECRET_CONFIG", secret_config.as_str()),
        ("OPSORCH_PLUGIN_DIR", libs.path().to_str().unwrap()),
    ];

    let mut host = Host::start(&env);
    let health = host.get("/health");
    assert_eq!(health.status, 200);
    assert_eq!(health.json(), json!({"status": "ok"}));
    assert!(health.header("x-request-id").is_some());
    assert_eq!(health.header("access-control-allow-origin"), Some("*"));

    let missing = host.post("/incidents/query", "{}");
    assert_eq!(missing.status, 501, "{}", missing.text());
    assert_eq!(
        missing.json(),
        json!({"code": "incident_provider_missing", "message": "incident provider not configured"})
    );

    // Choose the library's incident provider through the API.
    let names = host.get("/providers/incidents").json();
    let name = names["providers"][0]
        .as_str()
        .unwrap_or_else(|| panic!("the mock library registers an incident provider: {names}"))
        .to_owned();
    let body = json!({ "provider": name, "config": {"token": "e2e-secret-token"} }).to_string();
    let configured = host.post("/providers/incidents", &body);
    assert_eq!(configured.status, 200, "{}", configured.text());
    let queried = host.post("/incidents/query", "{}");
    assert_eq!(queried.status, 200, "{}", queried.text());
    assert!(queried.json().is_array());

    // Persisted in the file, in the Go format, mode 0600, other keys kept.
    let stored: Value = serde_json::from_slice(&std::fs::read(&secrets).unwrap()).unwrap();
    assert_eq!(stored["unrelated"], "kept");
    let choice: Value =
        serde_json::from_str(stored["providers/incident/default"].as_str().unwrap()).unwrap();
    assert_eq!(choice["provider"], name.as_str());
    assert_eq!(choice["config"]["token"], "e2e-secret-token");
    let mode = std::fs::metadata(&secrets).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);

    // SIGTERM: a clean exit, and no secret in the log.
    let status = host
        .terminate(Duration::from_secs(10))
        .expect("exits on SIGTERM");
    assert!(status.success(), "{status:?}");
    let log = host.stderr();
    assert!(!log.contains("e2e-secret-token"), "{log}");

    // Restart: the stored choice is in effect without any env for it.
    let host = Host::start(&env);
    let queried = host.post("/incidents/query", "{}");
    assert_eq!(queried.status, 200, "{}", queried.text());
    let alerts = host.post("/alerts/query", "{}");
    assert_eq!(alerts.error_code(), "alert_provider_missing");
}

#[test]
fn refuses_to_start_with_one_line_naming_the_variable() {
    for (env, variable) in [
        (
            vec![("OPSORCH_LOG_CONFIG", "{not json: hunter2")],
            "OPSORCH_LOG_CONFIG",
        ),
        (
            vec![("OPSORCH_TICKET_PROVIDER", "nope")],
            "OPSORCH_TICKET_PROVIDER",
        ),
        (
            vec![("OPSORCH_TLS_CERT_FILE", "/tmp/cert.pem")],
            "OPSORCH_TLS_KEY_FILE",
        ),
        (
            vec![
                ("OPSORCH_SECRET_PROVIDER", "json"),
                (
                    "OPSORCH_SECRET_CONFIG",
                    r#"{"path":"/nonexistent/secrets.json"}"#,
                ),
            ],
            "OPSORCH_SECRET_CONFIG",
        ),
    ] {
        match Host::try_start(&env) {
            Started::Running(_) => panic!("started with {env:?}"),
            Started::Exited(code, stderr) => {
                assert_eq!(code, Some(1), "{stderr}");
                let lines: Vec<&str> = stderr
                    .lines()
                    .filter(|l| l.starts_with("opsorch: "))
                    .collect();
                assert_eq!(lines.len(), 1, "{stderr}");
                assert!(
                    lines[0].starts_with(&format!("opsorch: {variable}: ")),
                    "{stderr}"
                );
                assert!(!stderr.contains("hunter2"), "{stderr}");
            }
        }
    }
}

#[test]
fn bearer_token_and_unknown_routes() {
    let host = Host::start(&[
        ("OPSORCH_BEARER_TOKEN", "t0ken"),
        ("OPSORCH_CORS_ORIGIN", "http://ui"),
    ]);
    let denied = host.get("/health");
    assert_eq!(denied.status, 401);
    assert_eq!(denied.header("www-authenticate"), Some("Bearer"));
    assert_eq!(
        denied.header("access-control-allow-origin"),
        Some("http://ui")
    );
    let allowed = host.raw_request(
        "GET",
        "/health/",
        &[("Authorization", "Bearer t0ken")],
        None,
    );
    assert_eq!(allowed.status, 200);
    let missing = host.raw_request(
        "GET",
        "/nope",
        &[("Authorization", "Bearer t0ken"), ("X-Request-ID", "abc")],
        None,
    );
    assert_eq!(missing.status, 404);
    assert_eq!(missing.error_code(), "not_found");
    assert_eq!(missing.header("x-request-id"), Some("abc"));
    let preflight = host.request("OPTIONS", "/incidents/query", None);
    assert_eq!(preflight.status, 200);
}

#[test]
fn one_audit_line_per_successful_call_all_written_by_exit() {
    let libs = TempDir::with_libraries("libs", &["opsorch_mock"]);
    let mut host = Host::start(&[
        ("OPSORCH_PLUGIN_DIR", libs.path().to_str().unwrap()),
        ("OPSORCH_INCIDENT_PROVIDER", "mock"),
    ]);
    let mut ids = Vec::new();
    for _ in 0..300 {
        let queried = host.post("/incidents/query", r#"{"limit":1}"#);
        assert_eq!(queried.status, 200, "{}", queried.text());
        ids.push(queried.header("x-request-id").unwrap().to_owned());
    }
    // A failed call is not audited.
    let failed = host.post("/incidents/query", "[]");
    assert_eq!(failed.status, 400);
    let failed_id = failed.header("x-request-id").unwrap().to_owned();

    // Lines are written in batches; exiting writes out the last one.
    let status = host.terminate(Duration::from_secs(10)).expect("exits");
    assert!(status.success(), "{status:?}");
    let log = host.stderr();
    let audited: Vec<Value> = log
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|record| record["message"] == "audit")
        .collect();
    assert_eq!(audited.len(), ids.len(), "{log}");
    for (record, id) in audited.iter().zip(&ids) {
        assert_eq!(record["request_id"], id.as_str());
        assert_eq!(record["action"], "incident.query");
    }
    assert!(audited
        .iter()
        .all(|record| record["request_id"] != failed_id.as_str()));
}
