//! Adapter faults, repeated: a library that panics on every call, one that
//! fails every call, one that blocks, and one whose constructor panics. The
//! host answers each with the contract's JSON, keeps serving the other
//! capabilities meanwhile, and is still healthy at the end.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use opsorch_e2e::{http, Host, TempDir};
use serde_json::json;

const PANICS: usize = 200;
const ERRORS: usize = 200;
/// How long each blocked call sleeps in the adapter.
const SLEEP_MS: u64 = 2500;

/// Blocked calls: more than the host has CPUs (and so async workers), on
/// any machine.
fn slow_calls() -> usize {
    2 * std::thread::available_parallelism().map_or(1, |n| n.get()) + 4
}
const CONSTRUCTOR_PANICS: usize = 20;

#[test]
fn library_faults_are_contained() {
    let libs = TempDir::with_libraries("hardening-libs", &["opsorch_mock", "opsorch_faulty"]);
    let dir = TempDir::new("faults");
    let secrets = dir.path().join("secrets.json");
    std::fs::write(&secrets, "{}").unwrap();
    let secret_config = json!({ "path": secrets.display().to_string() }).to_string();
    let host = Host::start(&[
        ("OPSORCH_PLUGIN_DIR", libs.path().to_str().unwrap()),
        ("OPSORCH_SECRET_PROVIDER", "json"),
        ("OPSORCH_SECRET_CONFIG", &secret_config),
        ("OPSORCH_INCIDENT_PROVIDER", "panicky"),
        ("OPSORCH_ALERT_PROVIDER", "failing"),
        ("OPSORCH_SERVICE_PROVIDER", "sleepy"),
        (
            "OPSORCH_SERVICE_CONFIG",
            &format!(r#"{{"sleepMs":{SLEEP_MS}}}"#),
        ),
        ("OPSORCH_TICKET_PROVIDER", "mock"),
    ]);

    // Blocked calls in the background, all at once.
    let addr = host.addr;
    let slow_count = slow_calls();
    let slow_done = Arc::new(AtomicUsize::new(0));
    let slow: Vec<_> = (0..slow_count)
        .map(|_| {
            let slow_done = slow_done.clone();
            std::thread::spawn(move || {
                let started = Instant::now();
                let reply = http(addr, "POST", "/services/query", &[], Some(b"{}"));
                slow_done.fetch_add(1, Ordering::SeqCst);
                (reply.status, started.elapsed())
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(100));

    // Meanwhile: panics and errors, interleaved with healthy calls.
    let started = Instant::now();
    let mut served_while_blocked = 0;
    for i in 0..PANICS.max(ERRORS) {
        if i < PANICS {
            let path = if i % 2 == 0 {
                "/incidents/INC-1"
            } else {
                "/incidents/query"
            };
            let reply = if i % 2 == 0 {
                host.get(path)
            } else {
                host.post(path, "{}")
            };
            assert_eq!(reply.status, 502, "{}", reply.text());
            assert_eq!(reply.error_code(), "adapter_panic");
        }
        if i < ERRORS {
            let reply = host.post("/alerts/query", "{}");
            assert_eq!(reply.status, 502, "{}", reply.text());
            assert_eq!(reply.error_code(), "upstream_error");
            assert_eq!(reply.json()["message"], "upstream is down");
        }
        if i % 50 == 0 {
            assert_eq!(host.post("/tickets/query", r#"{"limit":1}"#).status, 200);
        }
        if slow_done.load(Ordering::SeqCst) == 0 {
            served_while_blocked = i + 1;
        }
    }
    let faults_took = started.elapsed();
    // The blocked adapter held up none of that: the first rounds (a panic,
    // an error and a healthy call each) were answered while every blocked
    // call was still inside the adapter.
    assert!(
        served_while_blocked >= 5,
        "only {served_while_blocked} rounds answered before a blocked call returned"
    );

    // A constructor that panics: refused as a bad configuration, every time.
    for _ in 0..CONSTRUCTOR_PANICS {
        let reply = host.post("/providers/team", r#"{"provider":"broken","config":{}}"#);
        assert_eq!(reply.status, 400, "{}", reply.text());
    }
    // The slot keeps what it had (nothing): 501.
    assert_eq!(host.get("/teams/t").error_code(), "team_provider_missing");

    for handle in slow {
        let (status, took) = handle.join().unwrap();
        assert_eq!(status, 200);
        // Side by side: each finished before a second round of sleeps
        // could have, so none waited for another.
        assert!(took < Duration::from_millis(2 * SLEEP_MS), "{took:?}");
    }
    assert_eq!(host.get("/health").status, 200);
    assert_eq!(host.post("/tickets/query", "{}").status, 200);
    println!(
        "library faults survived: {PANICS} panics, {ERRORS} errors, {slow_count} concurrent slow calls, \
         {CONSTRUCTOR_PANICS} constructor panics ({faults_took:?} for the panics and errors, \
         {served_while_blocked} rounds while every slow call was blocked)"
    );
}
