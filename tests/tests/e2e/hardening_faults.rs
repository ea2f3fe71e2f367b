//! Adapter faults, repeated: a library that panics on every call, one that
//! fails every call, one that blocks, and one whose constructor panics. The
//! host answers each with the contract's JSON, keeps serving the other
//! capabilities meanwhile, and is still healthy at the end.

use std::time::{Duration, Instant};

use opsorch_e2e::{http, Host, TempDir};
use serde_json::json;

const PANICS: usize = 200;
const ERRORS: usize = 200;
const SLOW: usize = 8;
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
        ("OPSORCH_SERVICE_CONFIG", r#"{"sleepMs":1500}"#),
        ("OPSORCH_TICKET_PROVIDER", "mock"),
    ]);

    // Slow calls in the background, all at once.
    let addr = host.addr;
    let slow: Vec<_> = (0..SLOW)
        .map(|_| {
            std::thread::spawn(move || {
                let started = Instant::now();
                let reply = http(addr, "POST", "/services/query", &[], Some(b"{}"));
                (reply.status, started.elapsed())
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(100));

    // Meanwhile: panics and errors, interleaved with healthy calls.
    let started = Instant::now();
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
    }
    let faults_took = started.elapsed();
    // The blocked adapter held up none of that.
    assert!(faults_took < Duration::from_secs(60), "{faults_took:?}");

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
        // Run side by side, not one after another.
        assert!(took < Duration::from_millis(1500 * SLOW as u64), "{took:?}");
    }
    assert_eq!(host.get("/health").status, 200);
    assert_eq!(host.post("/tickets/query", "{}").status, 200);
    println!(
        "library faults survived: {PANICS} panics, {ERRORS} errors, {SLOW} concurrent slow calls, \
         {CONSTRUCTOR_PANICS} constructor panics ({faults_took:?} for the panics and errors)"
    );
}
