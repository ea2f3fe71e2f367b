//! Adapter libraries loaded by the real host: loader refusals, a panicking
//! adapter, a blocking adapter, and `opsorch plugin inspect`.

use std::path::PathBuf;
use std::process::Command;
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use opsorch_e2e::{binary, library, Host, Started, TempDir};

const ROUTED: [&str; 10] = [
    "incident",
    "alert",
    "log",
    "metric",
    "ticket",
    "messaging",
    "service",
    "deployment",
    "team",
    "orchestration",
];

fn plugin_dir(libs: &[(&str, &str)]) -> TempDir {
    let dir = TempDir::new("libs");
    for (crate_name, file_name) in libs {
        dir.copy_in(&library(crate_name), file_name);
    }
    dir
}

fn refusal(env: &[(&str, &str)]) -> String {
    match Host::try_start(env) {
        Started::Running(mut host) => {
            let log = host.stderr();
            panic!("host started but should have refused: {log}")
        }
        Started::Exited(code, stderr) => {
            // A refusal is exit code 1, not a death by signal.
            assert_eq!(code, Some(1), "refusal must exit with 1: {stderr}");
            stderr
        }
    }
}

#[test]
fn loaded_library_registers_every_capability() {
    let dir = plugin_dir(&[("opsorch_mock", "libopsorch_mock.so")]);
    let host = Host::start(&[("OPSORCH_PLUGIN_DIR", dir.path().to_str().unwrap())]);
    for cap in ROUTED {
        let r = host.get(&format!("/providers/{cap}"));
        assert_eq!(r.status, 200, "{cap}: {}", r.text());
        let names = r.json()["providers"].clone();
        assert!(
            names.as_array().unwrap().iter().any(|n| n == "mock"),
            "{cap} lists {names}"
        );
    }
}

#[test]
fn text_file_named_so_is_refused() {
    let dir = TempDir::new("text");
    std::fs::write(dir.path().join("x.so"), "this is not a library\n").unwrap();
    let err = refusal(&[("OPSORCH_PLUGIN_DIR", dir.path().to_str().unwrap())]);
    assert!(err.contains("x.so"), "{err}");
    assert!(err.contains("not a shared library"), "{err}");
}

/// A real shared library that is not an adapter: the Rust toolchain's own
/// libstd, or the system zlib.
fn foreign_shared_library() -> PathBuf {
    if let Ok(out) = Command::new("rustc").args(["--print", "sysroot"]).output() {
        let lib = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()).join("lib");
        if let Ok(entries) = std::fs::read_dir(&lib) {
            for e in entries.flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                if name.starts_with("libstd-") && name.ends_with(".so") {
                    return e.path();
                }
            }
        }
    }
    for candidate in [
        "/lib/x86_64-linux-gnu/libz.so.1",
        "/usr/lib/x86_64-linux-gnu/libz.so.1",
        "/lib/aarch64-linux-gnu/libz.so.1",
    ] {
        if std::path::Path::new(candidate).exists() {
            return PathBuf::from(candidate);
        }
    }
    panic!("no foreign shared library found on this machine")
}

#[test]
fn non_adapter_shared_library_is_refused() {
    let dir = TempDir::new("foreign");
    dir.copy_in(&foreign_shared_library(), "libforeign.so");
    let err = refusal(&[("OPSORCH_PLUGIN_DIR", dir.path().to_str().unwrap())]);
    assert!(err.contains("libforeign.so"), "{err}");
    assert!(err.contains("not an OpsOrch adapter"), "{err}");
}

#[test]
fn duplicate_registration_is_refused_naming_both_files() {
    let dir = plugin_dir(&[
        ("opsorch_mock", "liba_mock.so"),
        ("opsorch_mock", "libb_mock.so"),
    ]);
    let err = refusal(&[("OPSORCH_PLUGIN_DIR", dir.path().to_str().unwrap())]);
    assert!(err.contains("duplicate"), "{err}");
    assert!(
        err.contains("liba_mock.so") && err.contains("libb_mock.so"),
        "{err}"
    );
}

#[test]
fn incompatible_interface_is_refused_with_a_short_reason() {
    let dir = plugin_dir(&[("opsorch_incompatible", "libopsorch_incompatible.so")]);
    let err = refusal(&[("OPSORCH_PLUGIN_DIR", dir.path().to_str().unwrap())]);
    assert!(err.contains("libopsorch_incompatible.so"), "{err}");
    assert!(
        err.contains("incompatible opsorch-plugin-api interface"),
        "{err}"
    );
    assert!(err.contains("2.0.0"), "{err}");
    // The reason is summarised, not abi_stable's multi-hundred-line dump.
    assert!(err.lines().count() < 20, "{err}");
}

#[test]
fn missing_plugin_directory_is_refused() {
    let err = refusal(&[("OPSORCH_PLUGIN_DIR", "/nonexistent/opsorch/plugins")]);
    assert!(err.contains("/nonexistent/opsorch/plugins"), "{err}");
}

#[test]
fn panicking_adapter_returns_json_error_and_host_survives() {
    let dir = plugin_dir(&[
        ("opsorch_faulty", "libopsorch_faulty.so"),
        ("opsorch_mock", "libopsorch_mock.so"),
    ]);
    let mut host = Host::start(&[
        ("OPSORCH_PLUGIN_DIR", dir.path().to_str().unwrap()),
        ("OPSORCH_INCIDENT_PROVIDER", "panicky"),
        (
            "OPSORCH_INCIDENT_CONFIG",
            r#"{"token":"CANARY-panic-4411"}"#,
        ),
        ("OPSORCH_ALERT_PROVIDER", "failing"),
        ("OPSORCH_SERVICE_PROVIDER", "mock"),
    ]);
    for _ in 0..3 {
        let r = host.post("/incidents/query", "{}");
        assert_eq!(r.status, 502, "{}", r.text());
        assert_eq!(r.error_code(), "adapter_panic");
        let r = host.get("/incidents/INC-1");
        assert_eq!(r.status, 502, "{}", r.text());
        assert_eq!(r.error_code(), "adapter_panic");
    }
    let r = host.post("/alerts/query", "{}");
    assert_eq!(r.status, 502);
    assert_eq!(r.error_code(), "upstream_error");
    // Methods the adapter does not implement default to `unsupported`: 501.
    let r = host.get("/alerts/A-1");
    assert_eq!(r.status, 501);
    assert_eq!(r.error_code(), "unsupported");
    assert_eq!(host.get("/health").status, 200);
    assert_eq!(host.post("/services/query", "{}").status, 200);
    // The adapter's log line reached the host's log, tagged with its name
    // (the log is written by a background thread: wait for it, bounded).
    let mut log = String::new();
    opsorch_e2e::wait_until(Duration::from_secs(10), || {
        log = host.stderr();
        log.contains("adapter panicked") && log.contains("faulty/src/lib.rs:")
    });
    assert!(log.contains("adapter panicked"), "{log}");
    assert!(log.contains("opsorch-faulty"), "{log}");
    // The panic message quoted the config's token: only the location is logged.
    assert!(log.contains("faulty/src/lib.rs:"), "{log}");
    assert!(!log.contains("CANARY-panic-4411"), "{log}");
}

#[test]
fn panicking_constructor_is_a_start_up_error_not_a_crash() {
    let dir = plugin_dir(&[("opsorch_faulty", "libopsorch_faulty.so")]);
    let err = refusal(&[
        ("OPSORCH_PLUGIN_DIR", dir.path().to_str().unwrap()),
        ("OPSORCH_TEAM_PROVIDER", "broken"),
    ]);
    assert!(
        err.contains("OPSORCH_TEAM_PROVIDER") || err.contains("team"),
        "{err}"
    );
    assert!(
        err.contains("adapter_panic") || err.contains("panicked"),
        "{err}"
    );
}

#[test]
fn blocking_adapter_does_not_delay_other_capabilities() {
    let dir = plugin_dir(&[
        ("opsorch_faulty", "libopsorch_faulty.so"),
        ("opsorch_mock", "libopsorch_mock.so"),
    ]);
    let host = Host::start(&[
        ("OPSORCH_PLUGIN_DIR", dir.path().to_str().unwrap()),
        ("OPSORCH_SERVICE_PROVIDER", "sleepy"),
        ("OPSORCH_SERVICE_CONFIG", r#"{"sleepMs":5000}"#),
        ("OPSORCH_INCIDENT_PROVIDER", "mock"),
    ]);
    let addr = host.addr;
    // More blocked calls than the host has async worker threads (one per
    // CPU by default), on any machine.
    let blocked = 2 * thread::available_parallelism().map_or(1, |n| n.get()) + 2;
    let (done_tx, done_rx) = mpsc::channel();
    for _ in 0..blocked {
        let done_tx = done_tx.clone();
        thread::spawn(move || {
            let r = opsorch_e2e::http(addr, "POST", "/services/query", &[], Some(b"{}"));
            let _ = done_tx.send(r.status);
        });
    }
    // Every blocked call is in the adapter (was: 300 ms after sending them,
    // which on a busy machine could be before they all were).
    assert!(
        opsorch_e2e::wait_until(Duration::from_secs(3), || {
            host.capability("service")["inFlight"] == blocked as u64
        }),
        "{}",
        host.capability("service")
    );
    for _ in 0..20 {
        let r = host.post("/incidents/query", r#"{"limit":2}"#);
        assert_eq!(r.status, 200, "{}", r.text());
        assert_eq!(host.get("/health").status, 200);
    }
    // Every other-capability request was answered while all the blocked
    // calls were still in the adapter.
    assert!(
        done_rx.try_recv().is_err(),
        "a blocked call finished before the other requests were served"
    );
    for _ in 0..blocked {
        let status = done_rx
            .recv_timeout(Duration::from_secs(30))
            .expect("sleepy call");
        assert_eq!(status, 200);
    }
}

fn inspect(path: &std::path::Path) -> (bool, String) {
    let out = Command::new(binary("opsorch"))
        .args(["plugin", "inspect"])
        .arg(path)
        .output()
        .expect("run opsorch plugin inspect");
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.success(), text)
}

#[test]
fn plugin_inspect_prints_the_manifest() {
    let (ok, text) = inspect(&library("opsorch_mock"));
    assert!(ok, "{text}");
    assert!(text.contains("name:       opsorch-mock"), "{text}");
    assert!(text.contains("interface:  1.2.0 (host 1.2.0)"), "{text}");
    assert!(
        text.contains("results:    one JSON value by construction (SDK 1.2+)"),
        "{text}"
    );
    for cap in ROUTED.iter().chain(["secret"].iter()) {
        let line = text
            .lines()
            .find(|l| l.split_whitespace().next() == Some(cap))
            .unwrap_or_else(|| panic!("no {cap} line in {text}"));
        assert!(line.ends_with("mock"), "{line}");
    }
    assert!(text.contains("accepted:   yes"), "{text}");
}

#[test]
fn plugin_inspect_explains_a_refusal() {
    let (ok, text) = inspect(&library("opsorch_incompatible"));
    assert!(!ok, "{text}");
    assert!(text.contains("interface:  2.0.0 (host 1.2.0)"), "{text}");
    assert!(text.contains("accepted:   no"), "{text}");
    let dir = TempDir::new("inspect");
    std::fs::write(dir.path().join("x.so"), "text").unwrap();
    let (ok, text) = inspect(&dir.path().join("x.so"));
    assert!(!ok);
    assert!(
        text.contains("accepted:   no: not a shared library"),
        "{text}"
    );
}

/// The names of the host's threads (Linux: `/proc/<pid>/task/*/comm`).
fn thread_names(pid: u32) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(format!("/proc/{pid}/task"))
        .expect("the host's threads")
        .filter_map(|task| std::fs::read_to_string(task.ok()?.path().join("comm")).ok())
        .map(|name| name.trim().to_owned())
        .collect();
    names.sort();
    names
}

/// The mock library is non-blocking: its calls are answered in the
/// request's own task, so no call-pool thread (`adapter-<library>`) and no
/// adapter runtime thread (`<adapter>-rt-<n>`) is ever started. The same
/// source built as a blocking library runs its calls on a call-pool
/// thread.
#[test]
#[cfg(target_os = "linux")]
fn a_non_blocking_library_is_called_without_a_thread_hand_off() {
    for (crate_name, pooled) in [("opsorch_mock", false), ("opsorch_blocking_mock", true)] {
        let dir = plugin_dir(&[(crate_name, "libmock.so")]);
        let mut env = vec![(
            "OPSORCH_PLUGIN_DIR".to_owned(),
            dir.path().display().to_string(),
        )];
        for cap in ROUTED {
            env.push((
                format!("OPSORCH_{}_PROVIDER", cap.to_uppercase()),
                "mock".to_owned(),
            ));
        }
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let host = Host::start(&env);
        for _ in 0..20 {
            for path in [
                "/incidents/query",
                "/alerts/query",
                "/tickets/query",
                "/services/query",
                "/deployments/query",
                "/teams/query",
                "/orchestration/plans/query",
            ] {
                let r = host.post(path, "{}");
                assert_eq!(r.status, 200, "{crate_name} {path}: {}", r.text());
            }
        }
        let names = thread_names(host.pid());
        let pool = names.iter().any(|n| n.starts_with("adapter-"));
        // The SDK names them after the adapter's first 8 characters.
        let runtime = names.iter().any(|n| n.starts_with("opsorch--rt-"));
        assert_eq!(pool, pooled, "{crate_name}: threads {names:?}");
        assert!(!runtime, "{crate_name}: threads {names:?}");
    }
}
