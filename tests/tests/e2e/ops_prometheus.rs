//! A real Prometheus (Debian's `prometheus` package) scrapes the admin
//! listener: the target is up with no scrape error, and the host's series
//! are queryable. Prometheus runs as this test's own process, on a loopback
//! port, with a temporary data directory.

use std::net::{SocketAddr, TcpListener};
use std::process::{Command, Stdio};
use std::time::Duration;

use opsorch_e2e::{http, wait_until, Host, TempDir};

use crate::ops_support::{as_env, mock_env, need_tool, OwnedChild};

fn free_port() -> u16 {
    let probe = TcpListener::bind("127.0.0.1:0").unwrap();
    probe.local_addr().unwrap().port()
}

/// A GET to Prometheus' API; `Null` while it does not answer yet.
fn api(prometheus: SocketAddr, path: &str) -> serde_json::Value {
    match std::panic::catch_unwind(|| http(prometheus, "GET", path, &[], None)) {
        Ok(r) => serde_json::from_slice(&r.body).unwrap_or(serde_json::Value::Null),
        Err(_) => serde_json::Value::Null,
    }
}

fn query(prometheus: SocketAddr, expr: &str) -> serde_json::Value {
    api(prometheus, &format!("/api/v1/query?query={}", encode(expr)))
}

fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'_' | b'-' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[test]
fn prometheus_scrapes_the_admin_listener() {
    if !need_tool("prometheus", "the Debian package prometheus") {
        return;
    }
    let dir = TempDir::with_libraries("prom", &["opsorch_mock"]);
    let plugins = dir.path().to_str().unwrap().to_owned();
    let mut env = mock_env(&plugins);
    env.push(("OPSORCH_ADMIN_ADDR", "127.0.0.1:0".into()));
    let host = Host::start(&as_env(&env));
    let admin = host.admin.unwrap();
    assert_eq!(host.post("/incidents/query", "{}").status, 200);

    let work = TempDir::new("prom-data");
    let config = work.path().join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n  - job_name: opsorch\n    static_configs:\n      - targets: ['{admin}']\n"
        ),
    )
    .unwrap();
    let port = free_port();
    let listen: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let child = Command::new("prometheus")
        .arg(format!("--config.file={}", config.display()))
        .arg(format!(
            "--storage.tsdb.path={}",
            work.path().join("data").display()
        ))
        .arg(format!("--web.listen-address={listen}"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start prometheus");
    let _prometheus = OwnedChild(child);

    let mut last = serde_json::Value::Null;
    let up = wait_until(Duration::from_secs(90), || {
        last = query(listen, "up{job=\"opsorch\"}");
        last["data"]["result"][0]["value"][1] == "1"
    });
    assert!(up, "the target never came up: {last}");

    let targets = api(listen, "/api/v1/targets");
    let target = &targets["data"]["activeTargets"][0];
    assert_eq!(target["health"], "up", "{target}");
    assert_eq!(target["lastError"], "", "{target}");

    let mut calls = serde_json::Value::Null;
    assert!(
        wait_until(Duration::from_secs(30), || {
            calls = query(
                listen,
                "opsorch_provider_calls_total{capability=\"incident\",code=\"ok\"}",
            );
            calls["data"]["result"][0]["value"][1] == "1"
        }),
        "provider calls not scraped: {calls}"
    );
    let build = query(listen, "opsorch_build_info");
    assert_eq!(build["data"]["result"][0]["value"][1], "1", "{build}");
    let library = query(listen, "opsorch_library_info{library=\"opsorch-mock\"}");
    assert_eq!(library["data"]["result"][0]["value"][1], "1", "{library}");
}
