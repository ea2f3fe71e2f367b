//! The admin listener of the real binary: `/live`, `/ready` (starting,
//! ready, draining), `/metrics` (route templates, provider calls, library
//! info, build info; `promtool check metrics` passes), a refusal on an
//! address in use, and the WARN on a non-loopback address.

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use opsorch_e2e::{binary, http, wait_until, Host, Response, Started, TempDir};

use crate::ops_support::{as_env, mock_env, need_tool};

fn admin_get(admin: SocketAddr, path: &str) -> Response {
    http(admin, "GET", path, &[], None)
}

#[test]
fn live_ready_and_metrics_with_route_templates_and_provider_calls() {
    let dir = TempDir::with_libraries("admin", &["opsorch_mock"]);
    let plugins = dir.path().to_str().unwrap().to_owned();
    let mut env = mock_env(&plugins);
    env.push(("OPSORCH_ADMIN_ADDR", "127.0.0.1:0".into()));
    let host = Host::start(&as_env(&env));
    let admin = host
        .admin
        .expect("the host printed OPSORCH_ADMIN_LISTENING");

    assert_eq!(admin_get(admin, "/live").status, 200);
    let ready = admin_get(admin, "/ready");
    assert_eq!(ready.status, 200, "{}", ready.text());
    assert_eq!(admin_get(admin, "/nope").status, 404);

    assert_eq!(host.get("/incidents/INC-1001").status, 200);
    assert_eq!(host.get("/incidents/INC-1002").status, 200);
    assert_eq!(host.get("/no/such/route").status, 404);
    // The admin routes are not on the API, and the API's are not on the admin.
    assert_eq!(host.get("/live").status, 404);

    let metrics = admin_get(admin, "/metrics");
    assert_eq!(metrics.status, 200);
    assert!(metrics
        .header("content-type")
        .is_some_and(|t| t.starts_with("text/plain; version=0.0.4")));
    let text = metrics.text();
    for expected in [
        "opsorch_http_requests_total{route=\"/incidents/{id}\",method=\"GET\",status=\"200\"} 2",
        "opsorch_http_requests_total{route=\"unmatched\",method=\"GET\",status=\"404\"} 2",
        "opsorch_http_request_duration_seconds_count{route=\"/incidents/{id}\",method=\"GET\"} 2",
        "opsorch_provider_calls_total{capability=\"incident\",provider=\"mock\",transport=\"library\",code=\"ok\"} 2",
        "opsorch_provider_calls_in_flight{capability=\"incident\",provider=\"mock\",transport=\"library\"} 0",
        "opsorch_provider_call_duration_seconds_bucket{",
        "opsorch_library_info{library=\"opsorch-mock\"",
        "opsorch_build_info{version=\"",
    ] {
        assert!(text.contains(expected), "missing {expected} in:\n{text}");
    }
    // Raw paths (and so record ids) never become label values.
    assert!(!text.contains("INC-1001"), "{text}");
    assert!(!text.contains("/no/such/route"), "{text}");

    // A scraper that asks for OpenMetrics gets it.
    let open = http(
        admin,
        "GET",
        "/metrics",
        &[("Accept", "application/openmetrics-text; version=1.0.0")],
        None,
    );
    assert!(open
        .header("content-type")
        .is_some_and(|t| t.starts_with("application/openmetrics-text")));
    assert!(open.text().ends_with("# EOF\n"));

    if need_tool("promtool", "the Debian package prometheus") {
        let mut check = Command::new("promtool")
            .args(["check", "metrics"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start promtool");
        check
            .stdin
            .take()
            .unwrap()
            .write_all(text.as_bytes())
            .unwrap();
        let out = check.wait_with_output().expect("promtool");
        assert!(
            out.status.success(),
            "promtool check metrics: {}{}\n{text}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn stdio_plugin_events_and_error_codes_are_counted() {
    let dir = TempDir::new("admin-stdio");
    // Answers the first call, then exits: the next call finds it gone.
    let plugin = dir.path().join("once.sh");
    std::fs::write(
        &plugin,
        "#!/bin/sh\nread line\necho '{\"result\":[]}'\nread line\nexit 3\n",
    )
    .unwrap();
    crate::ops_support::make_executable(&plugin);
    let host = Host::start(&[
        ("OPSORCH_ADMIN_ADDR", "127.0.0.1:0"),
        ("OPSORCH_INCIDENT_PLUGIN", plugin.to_str().unwrap()),
        ("OPSORCH_INCIDENT_CONFIG", r#"{"pluginInfo":false}"#),
    ]);
    let admin = host.admin.unwrap();
    assert_eq!(host.post("/incidents/query", "{}").status, 200);
    let crashed = host.post("/incidents/query", "{}");
    assert_eq!(crashed.status, 502, "{}", crashed.text());
    let text = admin_get(admin, "/metrics").text();
    let path = plugin.to_str().unwrap();
    for expected in [
        format!("opsorch_stdio_plugin_events_total{{capability=\"incident\",plugin=\"{path}\",event=\"start\"}} 1"),
        format!("opsorch_stdio_plugin_events_total{{capability=\"incident\",plugin=\"{path}\",event=\"crash\"}} 1"),
        "opsorch_provider_calls_total{capability=\"incident\",provider=\"once.sh\",transport=\"stdio\",code=\"ok\"} 1".to_owned(),
        "opsorch_provider_calls_total{capability=\"incident\",provider=\"once.sh\",transport=\"stdio\",code=\"plugin_crashed\"} 1".to_owned(),
    ] {
        assert!(text.contains(&expected), "missing {expected} in:\n{text}");
    }
}

#[test]
fn an_admin_address_in_use_refuses_start_up_with_one_line() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    match Host::try_start(&[("OPSORCH_ADMIN_ADDR", &addr)]) {
        Started::Running(mut host) => panic!("started on a taken port: {}", host.stderr()),
        Started::Exited(code, stderr) => {
            assert_eq!(code, Some(1), "{stderr}");
            let reason: Vec<&str> = stderr
                .lines()
                .filter(|l| l.starts_with("opsorch: "))
                .collect();
            assert_eq!(reason.len(), 1, "{stderr}");
            assert!(reason[0].contains("OPSORCH_ADMIN_ADDR"), "{stderr}");
            assert!(reason[0].contains(&addr), "{stderr}");
            assert!(reason[0].to_lowercase().contains("in use"), "{stderr}");
        }
    }
}

#[test]
fn an_admin_address_beyond_loopback_logs_a_warning() {
    let mut host = Host::start(&[("OPSORCH_ADMIN_ADDR", "0.0.0.0:0")]);
    assert!(host.admin.is_some());
    assert!(
        wait_until(Duration::from_secs(5), || {
            let log = host.stderr();
            log.contains("WARN") && log.contains("admin listener") && log.contains("not loopback")
        }),
        "{}",
        host.stderr()
    );
    let mut quiet = Host::start(&[("OPSORCH_ADMIN_ADDR", "127.0.0.1:0")]);
    std::thread::sleep(Duration::from_millis(200));
    assert!(
        !quiet.stderr().contains("not loopback"),
        "{}",
        quiet.stderr()
    );
}

/// `/ready` is 503 while the providers are being built (here: the secret
/// store's file is a FIFO nobody writes yet), then 200; `/live` is 200
/// throughout.
#[test]
fn ready_waits_for_the_providers() {
    let dir = TempDir::new("admin-ready");
    let fifo = dir.path().join("secrets.json");
    let made = Command::new("mkfifo").arg(&fifo).status().expect("mkfifo");
    assert!(made.success());
    let config = format!(r#"{{"path":"{}"}}"#, fifo.display());
    let mut child = Command::new(binary("opsorch"))
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("OPSORCH_ADDR", "127.0.0.1:0")
        .env("OPSORCH_ADMIN_ADDR", "127.0.0.1:0")
        .env("OPSORCH_SECRET_PROVIDER", "json")
        .env("OPSORCH_SECRET_CONFIG", &config)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn opsorch");
    let guard = crate::ops_support::KillOnDrop(child.id());
    let (tx, rx) = mpsc::channel();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let first = rx
        .recv_timeout(Duration::from_secs(30))
        .expect("admin line");
    let admin: SocketAddr = first
        .strip_prefix("OPSORCH_ADMIN_LISTENING ")
        .expect("the admin listener is announced first")
        .parse()
        .unwrap();
    assert_eq!(admin_get(admin, "/live").status, 200);
    let starting = admin_get(admin, "/ready");
    assert_eq!(starting.status, 503);
    assert_eq!(starting.text().trim(), "starting");

    // Let start-up finish: write the store's content into the FIFO.
    std::fs::write(&fifo, "{}").unwrap();
    let listening = rx.recv_timeout(Duration::from_secs(30)).expect("API line");
    assert!(listening.starts_with("OPSORCH_LISTENING "), "{listening}");
    assert!(wait_until(Duration::from_secs(10), || admin_get(
        admin, "/ready"
    )
    .status
        == 200));
    drop(guard);
    let _ = child.wait();
}

/// On SIGTERM, `/ready` turns 503 (`draining`) while a call is in flight,
/// and the admin listener keeps answering until the host exits.
#[test]
fn ready_is_503_while_draining() {
    let dir = TempDir::new("admin-drain");
    let plugin = dir.path().join("slow.sh");
    std::fs::write(
        &plugin,
        // Each call takes 5 s: the drain lasts that long, time for a busy
        // machine to see /ready say so.
        "#!/bin/sh\nwhile read line; do sleep 5; echo '{\"result\":[]}'; done\n",
    )
    .unwrap();
    crate::ops_support::make_executable(&plugin);
    let mut host = Host::start(&[
        ("OPSORCH_ADMIN_ADDR", "127.0.0.1:0"),
        ("OPSORCH_INCIDENT_PLUGIN", plugin.to_str().unwrap()),
        ("OPSORCH_INCIDENT_CONFIG", r#"{"pluginInfo":false}"#),
    ]);
    let admin = host.admin.unwrap();
    let addr = host.addr;
    let slow = std::thread::spawn(move || http(addr, "POST", "/incidents/query", &[], Some(b"{}")));
    // The signal comes once the call is running (was 500 ms after it was
    // sent: on a busy machine it could still be on its way, and be refused
    // instead of drained).
    assert!(
        wait_until(Duration::from_secs(10), || {
            host.capability("incident")["inFlight"] == 1
        }),
        "the slow call never started"
    );
    let _ = Command::new("kill")
        .args(["-TERM", &host.pid().to_string()])
        .status();
    assert!(
        wait_until(Duration::from_secs(5), || {
            let r = admin_get(admin, "/ready");
            r.status == 503 && r.text().trim() == "draining"
        }),
        "ready did not turn 503 while draining"
    );
    assert_eq!(admin_get(admin, "/live").status, 200);
    assert_eq!(slow.join().unwrap().status, 200);
    assert!(host.terminate(Duration::from_secs(30)).is_some());
}

/// `GET /capabilities`: behind the token, one entry per capability with
/// the provider, transport, source, library version or plugin pids, and
/// never a config value.
#[test]
fn capabilities_report_providers_without_config_values() {
    let dir = TempDir::with_libraries("caps", &["opsorch_mock"]);
    let plugins = dir.path().to_str().unwrap().to_owned();
    let canary = "canary-4a7f1c0e";
    let mut env = mock_env(&plugins);
    env.retain(|(k, _)| *k != "OPSORCH_ALERT_PROVIDER");
    env.push((
        "OPSORCH_ALERT_PLUGIN",
        binary("opsorch-mock-plugin").to_str().unwrap().to_owned(),
    ));
    env.push(("OPSORCH_ALERT_CONFIG", format!(r#"{{"token":"{canary}"}}"#)));
    env.push((
        "OPSORCH_INCIDENT_CONFIG",
        format!(r#"{{"apiKey":"{canary}"}}"#),
    ));
    env.push(("OPSORCH_BEARER_TOKEN", "t0ken".into()));
    let host = Host::start(&as_env(&env));
    assert_eq!(host.get("/capabilities").status, 401);
    let auth = [("Authorization", "Bearer t0ken")];
    let alert = host.raw_request("POST", "/alerts/query", &auth, Some(b"{}"));
    assert_eq!(alert.status, 200, "{}", alert.text());
    let reply = host.raw_request("GET", "/capabilities", &auth, None);
    assert_eq!(reply.status, 200);
    assert!(!reply.text().contains(canary), "{}", reply.text());
    let body = reply.json();
    let caps = body["capabilities"].as_array().unwrap();
    assert_eq!(caps.len(), 11);
    let find = |name: &str| {
        caps.iter()
            .find(|c| c["capability"] == name)
            .unwrap()
            .clone()
    };

    let incident = find("incident");
    assert_eq!(incident["configured"], true);
    assert_eq!(incident["provider"], "mock");
    assert_eq!(incident["transport"], "library");
    assert_eq!(incident["source"], "environment");
    assert_eq!(incident["library"]["name"], "opsorch-mock");
    assert!(incident["library"]["file"]
        .as_str()
        .unwrap()
        .ends_with("libopsorch_mock.so"));
    assert!(incident["library"]["interfaceVersion"].as_str().is_some());
    assert_eq!(incident["inFlight"], 0);

    let alert = find("alert");
    assert_eq!(alert["transport"], "stdio");
    assert_eq!(alert["provider"], "opsorch-mock-plugin");
    let pids = alert["plugin"]["pids"].as_array().unwrap();
    assert_eq!(pids.len(), 1, "{alert}");
    assert_eq!(alert["restarts"], 0);

    let secret = find("secret");
    assert_eq!(secret["configured"], false);

    // The document describes it.
    let doc = host.raw_request("GET", "/openapi.json", &auth, None).json();
    assert!(doc["paths"]["/capabilities"]["get"].is_object());
}
