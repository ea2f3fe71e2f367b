//! The command line: `--version`, `--help` at every level, `opsorch check`
//! (the whole configuration, no socket, one line per problem), and
//! `OPSORCH_LOG_FORMAT=json`.

use std::net::TcpListener;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use opsorch_e2e::{binary, library, wait_until, Host, TempDir};

use crate::ops_support::{as_env, make_executable, mock_env};

fn opsorch(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(binary("opsorch"));
    cmd.args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .stdin(Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("run opsorch")
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn version_names_the_host_and_the_interface() {
    let out = opsorch(&["--version"], &[]);
    assert!(out.status.success());
    let line = String::from_utf8_lossy(&out.stdout);
    assert!(line.starts_with("opsorch 0.1.0"), "{line}");
    assert!(line.contains("interface 1."), "{line}");
}

#[test]
fn help_at_every_level() {
    for args in [
        &["--help"][..],
        &["serve", "--help"],
        &["check", "--help"],
        &["plugin", "--help"],
        &["plugin", "inspect", "--help"],
    ] {
        let out = opsorch(args, &[]);
        assert!(out.status.success(), "{args:?}: {}", text(&out));
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("Usage:"),
            "{args:?}"
        );
    }
    let out = opsorch(&["frobnicate"], &[]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn check_passes_a_good_configuration_without_opening_a_socket() {
    let plugins = TempDir::with_libraries("check-ok", &["opsorch_mock"]);
    let dir = TempDir::new("check-ok-secrets");
    let secrets = dir.path().join("secrets.json");
    std::fs::write(&secrets, "{}").unwrap();
    // The API and admin addresses are taken: check must not try to bind them.
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let taken_admin = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let admin = taken_admin.local_addr().unwrap().to_string();
    let config = format!(r#"{{"path":"{}"}}"#, secrets.display());
    let mut env = mock_env(plugins.path().to_str().unwrap());
    env.push(("OPSORCH_ADDR", addr));
    env.push(("OPSORCH_ADMIN_ADDR", admin));
    env.push(("OPSORCH_SECRET_PROVIDER", "json".into()));
    env.push(("OPSORCH_SECRET_CONFIG", config));
    env.push((
        "OPSORCH_SECRET_KEY",
        "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff".into(),
    ));
    let out = opsorch(&["check"], &as_env(&env));
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("configuration is valid"),
        "{}",
        text(&out)
    );
}

#[test]
fn check_prints_one_line_per_problem() {
    let plugins = TempDir::new("check-bad");
    std::fs::write(plugins.path().join("libjunk.so"), b"junk").unwrap();
    std::fs::write(plugins.path().join("libmore.so"), b"more junk").unwrap();
    let not_exec = plugins.path().join("plain.txt");
    std::fs::write(&not_exec, "#!/bin/sh\n").unwrap();
    let missing_secrets = plugins.path().join("no-such-secrets.json");
    let out = opsorch(
        &["check"],
        &[
            ("OPSORCH_PLUGIN_DIR", plugins.path().to_str().unwrap()),
            ("OPSORCH_INCIDENT_PROVIDER", "nosuch"),
            ("OPSORCH_ALERT_PLUGIN", not_exec.to_str().unwrap()),
            ("OPSORCH_TICKET_CONFIG", "{not json"),
            ("OPSORCH_TICKET_PROVIDER", "mock"),
            ("OPSORCH_SECRET_PROVIDER", "json"),
            (
                "OPSORCH_SECRET_CONFIG",
                &format!(r#"{{"path":"{}"}}"#, missing_secrets.display()),
            ),
            ("OPSORCH_ADMIN_ADDR", "not an address"),
        ],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let report = String::from_utf8_lossy(&out.stdout).into_owned();
    let lines: Vec<&str> = report.lines().collect();
    for (needle, what) in [
        ("libjunk.so", "first bad library"),
        ("libmore.so", "second bad library"),
        ("OPSORCH_INCIDENT_PROVIDER", "unknown provider"),
        ("OPSORCH_ALERT_PLUGIN", "plugin not executable"),
        ("OPSORCH_TICKET_CONFIG", "bad JSON"),
        ("OPSORCH_SECRET_CONFIG", "missing secret file"),
        ("OPSORCH_ADMIN_ADDR", "bad admin address"),
    ] {
        let hits = lines.iter().filter(|l| l.contains(needle)).count();
        assert_eq!(hits, 1, "{what}: {needle} on {hits} lines of:\n{report}");
    }
    // A config value never appears, and the summary line counts them.
    assert!(!report.contains("{not json"), "{report}");
    assert!(report.contains("problem"), "{report}");
}

#[test]
fn plugin_inspect_still_describes_a_library() {
    let out = opsorch(
        &[
            "plugin",
            "inspect",
            library("opsorch_mock").to_str().unwrap(),
        ],
        &[],
    );
    assert!(out.status.success(), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("opsorch-mock"));
}

#[test]
fn json_log_format_writes_one_object_per_line_audit_included() {
    let plugins = TempDir::with_libraries("jsonlog", &["opsorch_mock"]);
    let mut env = mock_env(plugins.path().to_str().unwrap());
    env.push(("OPSORCH_LOG_FORMAT", "json".into()));
    let mut host = Host::start(&as_env(&env));
    assert_eq!(host.get("/incidents/INC-1001").status, 200);
    assert!(wait_until(Duration::from_secs(10), || host
        .stderr()
        .contains("\"action\"")));
    let _ = host.terminate(Duration::from_secs(20));
    let log = host.stderr();
    let mut audit = 0;
    let mut ready = 0;
    for line in log.lines().filter(|l| !l.trim().is_empty()) {
        let value: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
        assert!(value.is_object(), "{line}");
        if value.get("action").is_some() {
            audit += 1;
        }
        if line.contains("provider ready") {
            ready += 1;
        }
    }
    assert!(audit >= 1, "{log}");
    assert!(ready >= 1, "{log}");

    let bad = opsorch(&[], &[("OPSORCH_LOG_FORMAT", "yaml")]);
    assert_eq!(bad.status.code(), Some(1));
    assert!(text(&bad).contains("OPSORCH_LOG_FORMAT"), "{}", text(&bad));
}

#[test]
fn check_reports_an_unusable_plugin_directory_path() {
    let dir = TempDir::new("check-plugin");
    let script = dir.path().join("ok.sh");
    std::fs::write(&script, "#!/bin/sh\n").unwrap();
    make_executable(&script);
    let out = opsorch(
        &["check"],
        &[
            ("OPSORCH_PLUGIN_DIR", "/no/such/dir"),
            ("OPSORCH_INCIDENT_PLUGIN", script.to_str().unwrap()),
        ],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(report.contains("/no/such/dir"), "{report}");
    assert!(!report.contains("OPSORCH_INCIDENT_PLUGIN"), "{report}");
}
