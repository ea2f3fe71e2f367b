//! A few seconds of the soak test's traffic against the real host: every
//! route of the `opsorch-load` mix answers 2xx from the mock library and
//! from the stdio mock, and an injected fault (alert switched to the faulty
//! library's `failing` provider) is classified as a fault inside its
//! announced window, and as a failure outside it or when alert stays dead.
//! The full soak, with RSS and file-descriptor checks, is `scripts/soak`.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use opsorch_e2e::{binary, library, Host, TempDir, CAPABILITY_ENV_KEYS};

/// Every routed capability (the secret provider is configured separately).
fn caps() -> impl Iterator<Item = &'static str> {
    CAPABILITY_ENV_KEYS.into_iter().filter(|c| *c != "SECRET")
}

/// Runs `opsorch-load` against `host` and returns its exit status and JSON report.
fn load(host: &Host, dir: &Path, extra: &[&str]) -> (bool, serde_json::Value) {
    let label = extra
        .iter()
        .position(|a| *a == "--label")
        .map_or("load", |i| extra[i + 1]);
    let report = dir.join(format!("report-{label}-{}.json", extra.len()));
    let out = Command::new(binary("opsorch-load"))
        .args([
            "--addr",
            &host.addr.to_string(),
            "--connections",
            "16",
            "--duration",
            "3s",
            "--max-requests",
            "200000",
            "--write-rate",
            "10",
            "--timeout",
            "20s",
            "--progress",
            "0",
            "--require-coverage",
            "--json",
            report.to_str().unwrap(),
        ])
        .args(extra)
        .output()
        .expect("run opsorch-load");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let json = std::fs::read(&report)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_else(|| {
            panic!(
                "no report from opsorch-load: {text}\n{}",
                String::from_utf8_lossy(&out.stderr)
            )
        });
    assert!(text.contains("OPSORCH_LOAD requests="), "{text}");
    (out.status.success(), json)
}

fn library_host(dir: &TempDir) -> Host {
    dir.add_library("opsorch_mock");
    dir.copy_in(&library("opsorch_faulty"), "libopsorch_faulty.so");
    let secrets = dir.path().join("secrets.json");
    std::fs::write(&secrets, "{}").unwrap();
    let secret_config = format!(r#"{{"path":"{}"}}"#, secrets.display());
    let plugin_dir = dir.path().to_str().unwrap().to_string();
    let mut env: Vec<(String, String)> = vec![
        ("OPSORCH_PLUGIN_DIR".into(), plugin_dir),
        ("OPSORCH_SECRET_PROVIDER".into(), "json".into()),
        ("OPSORCH_SECRET_CONFIG".into(), secret_config),
        ("RUST_LOG".into(), "warn".into()),
    ];
    for cap in caps() {
        env.push((format!("OPSORCH_{cap}_PROVIDER"), "mock".into()));
    }
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    Host::start(&env)
}

#[test]
fn every_route_answers_2xx_from_the_library() {
    let dir = TempDir::new("soak-lib");
    let host = library_host(&dir);
    let (ok, report) = load(&host, dir.path(), &[]);
    assert!(ok, "{report:#}");
    assert_eq!(report["unexpected"], 0, "{report:#}");
    assert_eq!(report["non2xx"], 0, "{report:#}");
    assert!(report["requests"].as_u64().unwrap() > 100, "{report:#}");
}

#[test]
fn every_route_answers_2xx_from_the_stdio_mock() {
    let dir = TempDir::new("soak-stdio");
    let plugin = binary("opsorch-mock-plugin");
    let plugin = plugin.to_str().unwrap();
    let mut env: Vec<(String, String)> = vec![("RUST_LOG".into(), "warn".into())];
    for cap in caps() {
        env.push((format!("OPSORCH_{cap}_PLUGIN"), plugin.to_string()));
    }
    env.push(("OPSORCH_LOG_CONFIG".into(), r#"{"processes":2}"#.into()));
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let host = Host::start(&env);
    let (ok, report) = load(&host, dir.path(), &[]);
    assert!(ok, "{report:#}");
    assert_eq!(report["non2xx"], 0, "{report:#}");
}

/// Appends `<now> <cap> <what>` to the fault events file `opsorch-load` reads.
fn event(file: &Path, cap: &str, what: &str) {
    use std::io::Write;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(file)
        .unwrap();
    writeln!(f, "{now:.3} {cap} {what}").unwrap();
}

/// Switches alert to `provider` on the host at `addr`.
fn switch_alert(addr: std::net::SocketAddr, provider: &str) {
    let body = format!(r#"{{"provider":"{provider}"}}"#);
    let r = opsorch_e2e::http(addr, "POST", "/providers/alert", &[], Some(body.as_bytes()));
    assert_eq!(r.status, 200, "{}", r.text());
}

/// Loads the host for 3 s while alert is switched to the faulty `failing`
/// provider from 0.8 s to 1.6 s, with the events announced in a file. With
/// `recover: false` the injector announces the end but leaves alert failing,
/// as a host that never recovers would.
fn fault_run(dir: &TempDir, host: &Host, label: &str, recover: bool) -> (bool, serde_json::Value) {
    let events = dir.path().join(format!("{label}.events"));
    std::fs::write(&events, "").unwrap();
    let addr = host.addr;
    let injector = {
        let events = events.clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(800));
            event(&events, "alert", "start");
            switch_alert(addr, "failing");
            std::thread::sleep(Duration::from_millis(800));
            if recover {
                switch_alert(addr, "mock");
            }
            event(&events, "alert", "end");
        })
    };
    let result = load(
        host,
        dir.path(),
        &[
            "--label",
            label,
            "--fault-caps",
            "alert",
            "--fault-events",
            events.to_str().unwrap(),
            "--fault-grace",
            "500ms",
        ],
    );
    injector.join().unwrap();
    if !recover {
        switch_alert(addr, "mock");
    }
    result
}

#[test]
fn an_injected_fault_is_not_a_failure_but_a_dead_capability_is() {
    let dir = TempDir::new("soak-fault");
    let host = library_host(&dir);
    let (ok, report) = fault_run(&dir, &host, "recovered", true);
    assert!(ok, "{report:#}");
    assert!(report["fault"].as_u64().unwrap() > 0, "{report:#}");
    assert_eq!(report["unexpected"], 0, "{report:#}");

    // The capability stays dead after the announced end: its errors after
    // the window are unexpected, and its routes never answered 2xx again.
    let (ok, report) = fault_run(&dir, &host, "dead", false);
    assert!(!ok, "{report:#}");
    assert!(report["fault"].as_u64().unwrap() > 0, "{report:#}");
    assert!(report["unexpected"].as_u64().unwrap() > 0, "{report:#}");
    let checks = report["checkFailures"].to_string();
    assert!(
        checks.contains("not recovered: POST /alerts/query [alert]"),
        "{report:#}"
    );

    // The same fault, not announced, fails the run.
    switch_alert(host.addr, "failing");
    let (ok, report) = load(&host, dir.path(), &["--label", "unannounced"]);
    assert!(!ok, "{report:#}");
    assert!(report["unexpected"].as_u64().unwrap() > 0, "{report:#}");
}
