//! Start-up refusals for plugin paths from the environment, plugin stderr
//! in the host log, and shutdown: in-flight calls finish and no plugin
//! process outlives the host.

use std::time::{Duration, Instant};

use crate::stdio_support::*;
use opsorch_e2e::{Host, Started, TempDir};

fn refusal(env: &[(&str, &str)]) -> String {
    match Host::try_start(env) {
        Started::Running(_) => panic!("the host started with {env:?}"),
        // A refusal is exit code 1, not a death by signal.
        Started::Exited(code, stderr) => {
            assert_eq!(code, Some(1), "{stderr}");
            stderr
        }
    }
}

#[test]
fn unusable_plugin_paths_from_the_environment_refuse_start_up() {
    use std::os::unix::fs::PermissionsExt;

    let dir = TempDir::new("stdio-refuse");
    let missing = dir.path().join("missing").display().to_string();
    let stderr = refusal(&[("OPSORCH_INCIDENT_PLUGIN", &missing)]);
    assert!(stderr.contains("OPSORCH_INCIDENT_PLUGIN"), "{stderr}");
    assert!(
        stderr.contains("does not exist") && stderr.contains(&missing),
        "{stderr}"
    );

    let plain = dir.path().join("plain");
    std::fs::write(&plain, "#!/bin/sh\n").unwrap();
    std::fs::set_permissions(&plain, std::fs::Permissions::from_mode(0o644)).unwrap();
    let stderr = refusal(&[("OPSORCH_TICKET_PLUGIN", &plain.display().to_string())]);
    assert!(
        stderr.contains("OPSORCH_TICKET_PLUGIN") && stderr.contains("not executable"),
        "{stderr}"
    );

    let stderr = refusal(&[("OPSORCH_SECRET_PLUGIN", &dir.path().display().to_string())]);
    assert!(
        stderr.contains("OPSORCH_SECRET_PLUGIN") && stderr.contains("not a file"),
        "{stderr}"
    );

    // A bad host-consumed key names the key, not the config's values.
    let compat = plugin("stdio-compat");
    let stderr = refusal(&[
        ("OPSORCH_INCIDENT_PLUGIN", &compat),
        (
            "OPSORCH_INCIDENT_CONFIG",
            r#"{"processes":0,"token":"hunter2"}"#,
        ),
    ]);
    assert!(
        stderr.contains("`processes`") && !stderr.contains("hunter2"),
        "{stderr}"
    );

    let stderr = refusal(&[("OPSORCH_PLUGIN_TIMEOUT_MS", "soon")]);
    assert!(stderr.contains("OPSORCH_PLUGIN_TIMEOUT_MS"), "{stderr}");
}

#[test]
fn plugin_stderr_lines_reach_the_host_log_tagged() {
    let compat = plugin("stdio-compat");
    let mut host = Host::start(&[("OPSORCH_INCIDENT_PLUGIN", &compat)]);
    expect(&host.get("/incidents/INC-1"), 200);
    let line = log_line(&mut host, &["compat: handling incident.get"])
        .expect("the plugin's stderr line is in the host log");
    assert!(line.contains("plugin"), "{line}");
    assert!(line.contains("capability=incident"), "{line}");
    assert!(line.contains(&compat), "{line}");
}

#[test]
fn sigterm_finishes_calls_in_flight_and_leaves_no_plugin_running() {
    let compat = plugin("stdio-compat");
    let faulty = plugin("stdio-faulty");
    let mock = plugin("opsorch-mock-plugin");
    let mut host = Host::start(&[
        // Exits when stdin closes; started at start-up to read stored choices.
        ("OPSORCH_SECRET_PLUGIN", &compat),
        // Slow: a call is in flight when the signal arrives.
        ("OPSORCH_INCIDENT_PLUGIN", &faulty),
        (
            "OPSORCH_INCIDENT_CONFIG",
            r#"{"delayMs":1500,"stderrEveryCall":true}"#,
        ),
        // Ignores stdin closing: must be killed.
        ("OPSORCH_ALERT_PLUGIN", &faulty),
        ("OPSORCH_ALERT_CONFIG", r#"{"ignoreEof":true}"#),
        // An SDK plugin, pool of two.
        ("OPSORCH_SERVICE_PLUGIN", &mock),
        ("OPSORCH_SERVICE_CONFIG", r#"{"processes":2}"#),
    ]);
    expect(&host.get("/incidents/warm"), 200);
    expect(&host.get("/alerts/a"), 200);
    expect(&host.post("/services/query", "{}"), 200);
    let plugins = children(host.pid());
    assert_eq!(plugins.len(), 5, "{plugins:?}");

    let addr = host.addr;
    let in_flight = std::thread::spawn(move || get(addr, "/incidents/in-flight"));
    // The signal comes once the plugin has the call (was 300 ms after it
    // was sent: on a busy machine it could still be on its way, and be
    // refused instead of drained).
    assert!(
        log_line(&mut host, &["faulty: call 2 incident.get"]).is_some(),
        "the call never reached the plugin"
    );
    let started = Instant::now();
    let status = host.terminate(Duration::from_secs(20));
    assert!(status.is_some(), "the host did not exit after SIGTERM");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "shutdown took {:?}",
        started.elapsed()
    );
    // The call in flight was answered, not cut off.
    let response = in_flight.join().unwrap();
    assert_eq!(expect(&response, 200)["id"], "in-flight");
    for pid in plugins {
        assert!(
            wait_until(Duration::from_secs(2), || is_gone(pid)),
            "plugin process {pid} outlived the host"
        );
    }
}

#[test]
fn sigterm_gives_plugins_their_grace_to_finish_after_stdin_closes() {
    // The plugin takes 500 ms after end of input to finish, then writes a
    // marker and exits: inside the shutdown grace, so it must not be killed.
    let dir = TempDir::new("eof-marker");
    let marker = dir.path().join("marker");
    let config = serde_json::json!({"eofMarker": marker.to_str().unwrap(), "eofExitDelayMs": 500})
        .to_string();
    let faulty = plugin("stdio-faulty");
    let mut host = Host::start(&[
        ("OPSORCH_INCIDENT_PLUGIN", &faulty),
        ("OPSORCH_INCIDENT_CONFIG", &config),
    ]);
    expect(&host.get("/incidents/warm"), 200);
    let plugins = children(host.pid());
    assert_eq!(plugins.len(), 1, "{plugins:?}");
    let status = host
        .terminate(Duration::from_secs(20))
        .expect("the host did not exit after SIGTERM");
    assert!(status.success(), "{status:?}");
    assert_eq!(
        std::fs::read_to_string(&marker).ok().as_deref(),
        Some("eof"),
        "the plugin was killed before it finished; host log:\n{}",
        host.stderr()
    );
    assert!(is_gone(plugins[0]));
}
