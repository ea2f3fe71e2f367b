//! Audit records and log hygiene, through the real log subscriber.

use std::sync::Arc;

use crate::support::*;
use opsorch::{AppState, HttpSettings};
use opsorch_plugin_api::methods::Method;
use serde_json::Value;

/// The audit records among the captured log lines.
fn audit_records(logs: &LogCapture) -> Vec<Value> {
    logs.text()
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|v| v["target"] == "audit")
        .collect()
}

#[tokio::test]
async fn one_json_audit_record_per_successful_call() {
    let buffer = LogCapture::default();
    let subscriber =
        opsorch::log_subscriber(tracing_subscriber::EnvFilter::new("debug"), buffer.clone());
    let _guard = tracing::subscriber::set_default(subscriber);

    let dir = tempfile::tempdir().unwrap();
    let path = secret_file(dir.path(), "{}");
    let factory = Arc::new(FakeFactory::default());
    let secret = opsorch::builtin_registry()
        .get(opsorch_plugin_api::methods::Capability::Secret, "json")
        .unwrap()
        .create(
            opsorch_plugin_api::methods::Capability::Secret,
            serde_json::json!({"path": path.display().to_string()})
                .as_object()
                .unwrap(),
        )
        .unwrap();
    let state = AppState::new(registry(&factory), Some(secret), HttpSettings::default());
    let fake = FakeProvider::new();
    fake.fail(Method::TicketGet, "not_found", "no such ticket");
    for cap in opsorch_plugin_api::methods::Capability::ROUTED {
        state.set_provider(cap, Some(fake.clone()));
    }
    let app = opsorch::app(state);

    let created = send(
        &app,
        "POST",
        "/incidents",
        Some(r#"{"title":"t"}"#),
        &[("x-request-id", "r-1")],
    )
    .await;
    assert_eq!(created.status, 201);
    let got = send(
        &app,
        "GET",
        "/incidents/i1",
        None,
        &[
            ("x-request-id", "r-2"),
            ("x-actor-type", "copilot"),
            ("x-opsorch-actor-id", "bot-7"),
        ],
    )
    .await;
    assert_eq!(got.status, 200);
    let configured = send(
        &app,
        "POST",
        "/providers/alerts",
        Some(r#"{"provider":"fake","config":{"apiKey":"hunter2-secret"}}"#),
        &[("x-request-id", "r-3"), ("x-user-id", "alice")],
    )
    .await;
    assert_eq!(configured.status, 200, "{}", configured.text);
    // Failures and non-calls are not audited.
    assert_eq!(get(&app, "/tickets/t1").await.status, 404);
    assert_eq!(get(&app, "/health").await.status, 200);
    assert_eq!(post(&app, "/incidents/query", "{").await.status, 400);

    let records = audit_records(&buffer);
    assert_eq!(records.len(), 3, "{}", buffer.text());
    let summary: Vec<(&str, &str, &str, &str)> = records
        .iter()
        .map(|r| {
            (
                r["request_id"].as_str().unwrap(),
                r["actor_type"].as_str().unwrap(),
                r["actor_id"].as_str().unwrap(),
                r["action"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            ("r-1", "user", "unknown", "incident.created"),
            ("r-2", "copilot", "bot-7", "incident.get"),
            ("r-3", "user", "alice", "provider.configured"),
        ]
    );
    for record in &records {
        chrono::DateTime::parse_from_rfc3339(record["timestamp"].as_str().unwrap()).unwrap();
    }
    // Each audit line is a JSON object with no duplicate keys.
    for line in buffer
        .text()
        .lines()
        .filter(|l| l.contains(r#""target":"audit""#))
    {
        assert_eq!(line.matches(r#""timestamp":"#).count(), 1, "{line}");
    }
    // Nothing logged, at debug level, quotes the config.
    let text = buffer.text();
    assert!(!text.contains("hunter2"), "{text}");
    // Failures are logged with their code.
    assert!(text.contains("not_found"), "{text}");
}

/// The level of the one log line about request `id`.
fn level_of(text: &str, id: &str) -> &'static str {
    let lines: Vec<&str> = text
        .lines()
        .filter(|l| !l.starts_with('{') && l.contains(&format!("request_id={id} ")))
        .collect();
    assert_eq!(lines.len(), 1, "{id}:\n{text}");
    ["ERROR", "WARN", "INFO", "DEBUG", "TRACE"]
        .into_iter()
        .find(|level| lines[0].contains(&format!(" {level} ")))
        .unwrap_or_else(|| panic!("no level: {}", lines[0]))
}

#[tokio::test]
async fn failures_are_warnings_rejections_info_and_served_requests_debug() {
    let buffer = LogCapture::default();
    let subscriber =
        opsorch::log_subscriber(tracing_subscriber::EnvFilter::new("debug"), buffer.clone());
    let _guard = tracing::subscriber::set_default(subscriber);
    let state = AppState::new(
        opsorch::ProviderRegistry::new(),
        None,
        HttpSettings::default(),
    );
    let fake = FakeProvider::new();
    fake.fail(Method::IncidentGet, "upstream_error", "the vendor is down");
    fake.fail(Method::TicketGet, "not_found", "no such ticket");
    for cap in [
        opsorch_plugin_api::methods::Capability::Incident,
        opsorch_plugin_api::methods::Capability::Ticket,
    ] {
        state.set_provider(cap, Some(fake.clone()));
    }
    let app = opsorch::app(state);
    let cases = [
        ("GET", "/incidents/i1", "r-502", 502),
        ("GET", "/tickets/t1", "r-404", 404),
        // Alerts are not configured: a state, not a failure.
        ("GET", "/alerts/a1", "r-501", 501),
        ("POST", "/incidents/query", "r-200", 200),
    ];
    for (method, uri, id, status) in cases {
        let body = (method == "POST").then_some("{}");
        let reply = send(&app, method, uri, body, &[("x-request-id", id)]).await;
        assert_eq!(reply.status, status, "{uri}: {}", reply.text);
    }
    let text = buffer.text();
    assert_eq!(level_of(&text, "r-502"), "WARN");
    assert_eq!(level_of(&text, "r-404"), "INFO");
    assert_eq!(level_of(&text, "r-501"), "INFO");
    assert_eq!(level_of(&text, "r-200"), "DEBUG");
}

/// Runs the real binary with `rust_log`, makes `calls` successful calls and
/// one failing one, stops it with SIGTERM and returns its stderr.
fn binary_stderr(rust_log: &str, calls: usize) -> String {
    use std::io::{BufRead, BufReader, Read};
    use std::process::{Command, Stdio};

    let dir = tempfile::tempdir().unwrap();
    let plugin = sh_plugin(dir.path());
    let child = Command::new(env!("CARGO_BIN_EXE_opsorch"))
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("RUST_LOG", rust_log)
        .env("OPSORCH_ADDR", "127.0.0.1:0")
        // Off: its default port (127.0.0.1:9464) is taken whenever another
        // host runs on the machine, e.g. this same test in a concurrent
        // `cargo test` or cargo-mutants run, and the host then refuses to
        // start.
        .env("OPSORCH_ADMIN_ADDR", "")
        .env("OPSORCH_INCIDENT_PLUGIN", &plugin)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Killed if an assertion below fails, so a failing run leaves no host
    // running behind it.
    let mut child = KillOnDrop(child);
    let mut stderr = child.0.stderr.take().unwrap();
    let stderr_reader = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        text
    });
    let mut stdout = BufReader::new(child.0.stdout.take().unwrap());
    let mut line = String::new();
    let addr = loop {
        line.clear();
        if stdout.read_line(&mut line).unwrap() == 0 {
            // Its stdout closed: it is exiting. What it said on the way out
            // is the reason.
            let _ = child.0.kill();
            let status = child.0.wait().unwrap();
            let stderr = stderr_reader.join().unwrap();
            panic!("the host exited before listening ({status}); its stderr:\n{stderr}");
        }
        if let Some(addr) = line.trim().strip_prefix("OPSORCH_LISTENING ") {
            break addr.to_owned();
        }
    };
    for _ in 0..calls {
        assert_eq!(http_post(&addr, "/incidents/query", "{}"), 200);
    }
    // A failing call writes no audit record.
    assert_eq!(http_post(&addr, "/incidents/nope/nope", "{}"), 404);
    let status = Command::new("kill")
        .args(["-TERM", &child.0.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    assert!(child.0.wait().unwrap().success());
    stderr_reader.join().unwrap()
}

/// A child process that is killed (and reaped) when dropped.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// One HTTP/1.1 POST on a fresh connection; returns the status.
fn http_post(addr: &str, path: &str, body: &str) -> u16 {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(30)))
        .unwrap();
    write!(
        stream,
        "POST {path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    response
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP response: {response:?}"))
}

/// An executable `/bin/sh` stdio plugin answering every line with `[]`.
fn sh_plugin(dir: &std::path::Path) -> std::path::PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join("plugin.sh");
    std::fs::write(
        &path,
        "#!/bin/sh\nwhile read -r line; do echo '{\"result\":[]}'; done\n",
    )
    .unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

#[test]
fn the_binary_writes_audit_records_whatever_rust_log_says() {
    for rust_log in ["warn", "error"] {
        let stderr = binary_stderr(rust_log, 3);
        let records: Vec<Value> = stderr
            .lines()
            .filter_map(|line| serde_json::from_str::<Value>(line).ok())
            .filter(|v| v["target"] == "audit")
            .collect();
        assert_eq!(records.len(), 3, "RUST_LOG={rust_log}:\n{stderr}");
        for record in &records {
            assert_eq!(record["action"], "incident.query", "{record}");
        }
        // The level still filters everything else: no INFO line.
        assert!(
            !stderr.lines().any(|l| l.contains(" INFO ")),
            "RUST_LOG={rust_log}:\n{stderr}"
        );
    }
}
