//! Faulty plugins: each fault gives its documented status and code, the
//! capability recovers on the next call, and another capability (served by
//! the mock plugin) keeps answering during and after the fault. Every wait
//! is bounded.

use std::time::{Duration, Instant};

use crate::stdio_support::*;
use opsorch_e2e::Host;
use serde_json::Value;

/// A host with `incident` on the faulty fixture (`config`) and `service` on
/// the mock plugin.
fn faulty_host(config: &str, extra: &[(&str, &str)]) -> Host {
    let faulty = plugin("stdio-faulty");
    let mock = plugin("opsorch-mock-plugin");
    let mut env = vec![
        ("OPSORCH_INCIDENT_PLUGIN", faulty.as_str()),
        ("OPSORCH_INCIDENT_CONFIG", config),
        ("OPSORCH_SERVICE_PLUGIN", mock.as_str()),
    ];
    env.extend_from_slice(extra);
    Host::start(&env)
}

/// The other capability answers. Its call is bounded only against a hang
/// (it may start the mock plugin's process, slow on a busy machine); that
/// it is not held up behind a stuck call is checked by
/// `another_capability_answers_while_one_is_stuck`, by order, not time.
fn other_capability_serves(host: &Host) {
    let started = Instant::now();
    let services = expect(&host.post("/services/query", "{}"), 200);
    assert!(services.as_array().is_some_and(|s| !s.is_empty()));
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "service call was held up"
    );
}

fn pid_of(incident: &Value) -> u64 {
    incident["fields"]["pid"].as_u64().expect("fields.pid")
}

#[test]
fn a_crash_mid_call_is_a_502_and_the_next_call_gets_a_fresh_process() {
    let mut host = faulty_host(r#"{"crashOnCall":2}"#, &[]);
    let first = expect(&host.get("/incidents/a"), 200);
    let message = expect_error(&host.get("/incidents/b"), 502, "plugin_crashed");
    assert!(
        message.contains("SIGABRT") || message.contains("signal"),
        "{message}"
    );
    other_capability_serves(&host);
    let third = expect(&host.get("/incidents/c"), 200);
    assert_eq!(third["id"], "c");
    assert_ne!(pid_of(&first), pid_of(&third));
    assert!(log_line(&mut host, &["exited unexpectedly", "capability=incident"]).is_some());
    // The plugin's last words reached the log.
    assert!(log_line(&mut host, &["faulty: crashing on call 2", "plugin"]).is_some());
}

#[test]
fn a_clean_exit_mid_call_is_a_502_plugin_crashed_too() {
    let host = faulty_host(r#"{"exitOnCall":1}"#, &[]);
    let message = expect_error(&host.get("/incidents/a"), 502, "plugin_crashed");
    assert!(message.contains("exit status: 0"), "{message}");
    other_capability_serves(&host);
}

#[test]
fn a_hung_call_times_out_with_504_and_the_call_behind_it_fails_with_502() {
    // The second call must reach the host before the first times out: 5 s
    // leaves a busy machine time for that.
    let mut host = faulty_host(r#"{"hangOnCall":2,"pluginTimeoutMs":5000}"#, &[]);
    let first = expect(&host.get("/incidents/warm"), 200);
    let stuck_pid = pid_of(&first) as u32;
    assert_eq!(children(host.pid()), [stuck_pid]);
    let started = Instant::now();
    let addr = host.addr;
    let call = move |i: usize| {
        let response = get(addr, &format!("/incidents/call-{i}"));
        (
            response.status,
            response.json()["code"].clone(),
            started.elapsed(),
        )
    };
    let results = std::thread::scope(|scope| {
        let hung = scope.spawn(move || call(0));
        // The second request is sent once the plugin has the first (was
        // 300 ms after it: on a busy machine the second could reach the
        // plugin first and be the one that hangs).
        assert!(
            log_line(&mut host, &["faulty: hanging on call 2"]).is_some(),
            "the first call never reached the plugin"
        );
        let behind = scope.spawn(move || call(1));
        [hung.join().unwrap(), behind.join().unwrap()]
    });
    // The killed process is already gone when the errors arrive.
    assert!(is_gone(stuck_pid), "the timed-out process is still running");
    other_capability_serves(&host);
    let (hung, behind) = (&results[0], &results[1]);
    assert_eq!(
        (hung.0, hung.1.as_str()),
        (504, Some("plugin_timeout")),
        "{results:?}"
    );
    assert_eq!(
        (behind.0, behind.1.as_str()),
        (502, Some("plugin_restarted")),
        "{results:?}"
    );
    // Neither waited much beyond the first call's deadline.
    assert!(
        hung.2 < Duration::from_millis(7500) && behind.2 < Duration::from_millis(7500),
        "{results:?}"
    );
    let next = expect(&host.get("/incidents/after"), 200);
    assert_ne!(pid_of(&first), pid_of(&next));
}

#[test]
fn another_capability_answers_while_one_is_stuck() {
    // The stuck call lasts its whole timeout; the other capability must
    // answer before it ends, so the timeout only has to exceed how long a
    // busy machine can take to serve that one call.
    let mut host = faulty_host(r#"{"hangOnCall":1,"pluginTimeoutMs":10000}"#, &[]);
    let addr = host.addr;
    std::thread::scope(|scope| {
        let stuck = scope.spawn(move || get(addr, "/incidents/stuck"));
        // The plugin has the stuck call before the other one starts.
        assert!(
            log_line(&mut host, &["faulty: hanging on call 1"]).is_some(),
            "the stuck call never reached the plugin"
        );
        other_capability_serves(&host);
        assert!(
            !stuck.is_finished(),
            "the other capability answered only once the stuck call ended"
        );
        expect_error(&stuck.join().unwrap(), 504, "plugin_timeout");
    });
}

#[test]
fn garbage_output_is_a_502_bad_output_and_the_next_call_recovers() {
    let mut host = faulty_host(r#"{"garbageOnCall":2}"#, &[]);
    expect(&host.get("/incidents/a"), 200);
    let message = expect_error(&host.get("/incidents/b"), 502, "plugin_bad_output");
    assert!(message.contains("not valid JSON"), "{message}");
    // The raw line is never shown to clients.
    assert!(!message.contains("{{{"), "{message}");
    other_capability_serves(&host);
    expect(&host.get("/incidents/c"), 200);
    assert!(log_line(&mut host, &["bad output", "capability=incident"]).is_some());
}

#[test]
fn an_oversized_response_line_is_bad_output() {
    let host = faulty_host(r#"{"hugeOnCall":2}"#, &[]);
    expect(&host.get("/incidents/a"), 200);
    let message = expect_error(&host.get("/incidents/b"), 502, "plugin_bad_output");
    assert!(message.contains("64 MiB"), "{message}");
    expect(&host.get("/incidents/c"), 200);
}

#[test]
fn slow_plugins_are_timed_out_by_capability_or_by_the_default() {
    let faulty = plugin("stdio-faulty");
    let host = Host::start(&[
        // Within its own timeout.
        ("OPSORCH_INCIDENT_PLUGIN", &faulty),
        (
            "OPSORCH_INCIDENT_CONFIG",
            r#"{"delayMs":300,"pluginTimeoutMs":5000}"#,
        ),
        // Beyond its own timeout.
        ("OPSORCH_ALERT_PLUGIN", &faulty),
        (
            "OPSORCH_ALERT_CONFIG",
            r#"{"delayMs":3000,"pluginTimeoutMs":400}"#,
        ),
        // Beyond the default from OPSORCH_PLUGIN_TIMEOUT_MS.
        ("OPSORCH_TEAM_PLUGIN", &faulty),
        ("OPSORCH_TEAM_CONFIG", r#"{"delayMs":3000}"#),
        ("OPSORCH_PLUGIN_TIMEOUT_MS", "600"),
    ]);
    let started = Instant::now();
    expect(&host.get("/incidents/slow"), 200);
    assert!(started.elapsed() >= Duration::from_millis(300));

    let started = Instant::now();
    let message = expect_error(&host.get("/alerts/slow"), 504, "plugin_timeout");
    assert!(message.contains("400 ms"), "{message}");
    assert!(started.elapsed() < Duration::from_millis(2500));

    let started = Instant::now();
    let message = expect_error(&host.get("/teams/slow"), 504, "plugin_timeout");
    assert!(message.contains("600 ms"), "{message}");
    assert!(started.elapsed() < Duration::from_millis(2500));
}

#[test]
fn a_plugin_that_exits_at_start_fails_fast_and_backs_off() {
    let exits = plugin("stdio-exit-at-start");
    let mock = plugin("opsorch-mock-plugin");
    let mut host = Host::start(&[
        ("OPSORCH_INCIDENT_PLUGIN", &exits),
        ("OPSORCH_SERVICE_PLUGIN", &mock),
    ]);
    // The first call gets the exit status, however quickly the process
    // exits: if it is gone before the request is written, the host tries a
    // fresh process, and when that one is gone too and starts back off,
    // the call still gets plugin_crashed (it got plugin_unavailable
    // before, a race seen under load).
    let message = expect_error(&host.get("/incidents/a"), 502, "plugin_crashed");
    assert!(message.contains("exit status: 2"), "{message}");
    // Restarted at once, fails again; then starts back off and calls fail
    // fast, without starting a process, instead of spawning a process
    // each. Calls go on until one is refused: the waits double from 100 ms
    // to 5 s, so one is unless every call takes seconds.
    let mut codes = Vec::new();
    while !codes.iter().any(|c| c == "plugin_unavailable") {
        assert!(codes.len() < 12, "never backed off: {codes:?}");
        let restarts = host.capability("incident")["restarts"].clone();
        assert!(restarts.is_u64(), "{restarts}");
        let started = Instant::now();
        let response = host.get("/incidents/b");
        // Only a bound on a hang: a crashed call waits for the reap.
        assert!(started.elapsed() < Duration::from_secs(10));
        let code = response.error_code();
        let message = expect_error(&response, 502, &code);
        match code.as_str() {
            "plugin_crashed" => assert!(message.contains("exit status: 2"), "{message}"),
            "plugin_unavailable" => {
                assert!(message.contains("backing off"), "{message}");
                assert_eq!(
                    host.capability("incident")["restarts"],
                    restarts,
                    "a call refused while backing off started a process"
                );
            }
            other => panic!("{other}: {message}"),
        }
        codes.push(code);
    }
    other_capability_serves(&host);
    assert!(log_line(&mut host, &["backing off", "capability=incident"]).is_some());
    assert!(log_line(&mut host, &["missing credentials", "capability=incident"]).is_some());
}

#[test]
fn a_plugin_slow_to_start_is_answered_once_up() {
    let slow = plugin("stdio-slow-start");
    let host = Host::start(&[
        ("OPSORCH_INCIDENT_PLUGIN", &slow),
        // Under the 5 s start-up check, which waits for it too.
        ("STDIO_FIXTURE_START_DELAY_MS", "2000"),
    ]);
    // Lazy start: the host listens before the plugin even runs.
    assert!(children(host.pid()).is_empty());
    let started = Instant::now();
    let first = expect(&host.get("/incidents/a"), 200);
    assert!(started.elapsed() >= Duration::from_millis(1900));
    // Once up, the same process answers the next call (its second), well
    // within the start delay (the bound leaves a busy machine 1.6 s).
    let started = Instant::now();
    let second = expect(&host.get("/incidents/b"), 200);
    assert!(started.elapsed() < Duration::from_millis(1600));
    assert_eq!(pid_of(&second), pid_of(&first));
    assert_eq!(second["fields"]["call"], 2, "{second}");
}

/// SIGKILL from outside (an operator, the OOM killer): a call in flight on
/// the killed process gets 502 `plugin_crashed`, the next call gets a fresh
/// process, and other capabilities never notice.
#[test]
fn a_plugin_killed_with_sigkill_from_outside_is_replaced() {
    // Every call sleeps 3 s: the time this test has to kill the process
    // once the call is in it.
    let mut host = faulty_host(r#"{"delayMs":3000,"stderrEveryCall":true}"#, &[]);
    let first = expect(&host.get("/incidents/before"), 200);
    let victim = pid_of(&first) as u32;
    assert!(children(host.pid()).contains(&victim));

    // A call is in flight (the plugin sleeps) when the process dies.
    let addr = host.addr;
    let in_flight = std::thread::spawn(move || {
        opsorch_e2e::http(addr, "GET", "/incidents/in-flight", &[], None)
    });
    // Killed once the plugin has the call (was 300 ms after sending it: on
    // a busy machine the call could still be unsent, and then went to a
    // fresh process and was answered 200).
    assert!(
        log_line(&mut host, &["faulty: call 2 incident.get"]).is_some(),
        "the call never reached the plugin"
    );
    let killed = std::process::Command::new("kill")
        .args(["-KILL", &victim.to_string()])
        .status()
        .expect("run kill");
    assert!(killed.success());
    let response = in_flight.join().expect("in-flight request");
    expect_error(&response, 502, "plugin_crashed");
    other_capability_serves(&host);

    let after = expect(&host.get("/incidents/after"), 200);
    assert_eq!(after["id"], "after");
    assert_ne!(pid_of(&after) as u32, victim);
    assert!(
        !children(host.pid()).contains(&victim),
        "the dead process was reaped"
    );
    assert!(log_line(&mut host, &["exited unexpectedly", "capability=incident"]).is_some());
}
