//! A few seconds of the soak test's traffic against the real host: every
//! route of the `opsorch-load` mix answers 2xx from the mock library and
//! from the stdio mock, and an injected fault (alert switched to the faulty
//! library's `failing` provider) is classified as a fault, not as a failure.
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
    let report = dir.join(format!("report-{}.json", extra.len()));
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

#[test]
fn an_injected_fault_is_not_a_failure() {
    let dir = TempDir::new("soak-fault");
    let host = library_host(&dir);
    let addr = host.addr;
    let injector = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(800));
        let body = br#"{"provider":"failing"}"#;
        let r = opsorch_e2e::http(addr, "POST", "/providers/alert", &[], Some(body));
        assert_eq!(r.status, 200, "{}", r.text());
        std::thread::sleep(Duration::from_millis(800));
        let body = br#"{"provider":"mock"}"#;
        let r = opsorch_e2e::http(addr, "POST", "/providers/alert", &[], Some(body));
        assert_eq!(r.status, 200, "{}", r.text());
    });
    let (ok, report) = load(&host, dir.path(), &["--fault-caps", "alert"]);
    injector.join().unwrap();
    assert!(ok, "{report:#}");
    assert!(report["fault"].as_u64().unwrap() > 0, "{report:#}");
    assert_eq!(report["unexpected"], 0, "{report:#}");

    // The same fault, not announced, fails the run.
    let r = host.post("/providers/alert", r#"{"provider":"failing"}"#);
    assert_eq!(r.status, 200, "{}", r.text());
    let (ok, report) = load(&host, dir.path(), &["--label", "unannounced"]);
    assert!(!ok, "{report:#}");
    assert!(report["unexpected"].as_u64().unwrap() > 0, "{report:#}");
}
