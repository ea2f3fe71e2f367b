//! Bad input through the real binary: bodies over the limit (announced or
//! chunked), malformed bodies of every kind, odd ids in paths, a request
//! that outlives the request timeout, and the start-up warning for an
//! unauthenticated API on a non-loopback address. After each batch the host
//! still answers `/health`: nothing panicked and nothing hung.

use std::io::Write;
use std::time::{Duration, Instant};

use crate::hardening_support::*;
use opsorch_e2e::{Host, TempDir};
use serde_json::json;

fn mock_host(extra: &[(&str, &str)]) -> (Host, TempDir, TempDir) {
    let libs = TempDir::with_libraries("hardening-libs", &["opsorch_mock"]);
    let dir = TempDir::new("hardening-input");
    let secrets = dir.path().join("secrets.json");
    std::fs::write(&secrets, "{}").unwrap();
    let secret_config = json!({ "path": secrets.display().to_string() }).to_string();
    let mut env: Vec<(&str, &str)> = vec![
        ("OPSORCH_PLUGIN_DIR", libs.path().to_str().unwrap()),
        ("OPSORCH_SECRET_PROVIDER", "json"),
        ("OPSORCH_SECRET_CONFIG", &secret_config),
    ];
    env.extend_from_slice(&ALL_MOCK);
    env.extend_from_slice(extra);
    let host = Host::start(&env);
    (host, libs, dir)
}

fn assert_healthy(host: &Host) {
    let health = host.get("/health");
    assert_eq!(health.status, 200, "{}", health.text());
}

#[test]
fn large_content_length_is_413_before_the_body_is_sent() {
    let (host, _libs, _dir) = mock_host(&[]);
    for path in ["/incidents/query", "/providers/incident", "/messages/send"] {
        let started = Instant::now();
        let mut stream = connect(host.addr);
        let request = head(
            "POST",
            path,
            &[
                "Content-Type: application/json".into(),
                "Content-Length: 100000000".into(),
            ],
        );
        stream.write_all(&request).unwrap();
        // Not one byte of the body is sent: the answer must not wait for it.
        let reply = read_response(&mut stream, Duration::from_secs(5))
            .unwrap_or_else(|| panic!("{path}: no prompt answer to a 100 MB Content-Length"));
        assert_eq!(reply.status, 413, "{path}: {}", reply.text());
        assert_eq!(reply.error_code(), "payload_too_large");
        assert!(started.elapsed() < Duration::from_secs(5));
    }
    assert_healthy(&host);
}

#[test]
fn chunked_body_growing_past_the_limit_is_413() {
    let (host, _libs, _dir) = mock_host(&[("OPSORCH_MAX_BODY_BYTES", "4096")]);
    let mut stream = connect(host.addr);
    let request = head(
        "POST",
        "/incidents/query",
        &[
            "Content-Type: application/json".into(),
            "Transfer-Encoding: chunked".into(),
        ],
    );
    stream.write_all(&request).unwrap();
    // {"query":"xxxx… in 1 KiB chunks, up to 64 KiB, never finished; the
    // server answers once it has seen more than 4 KiB.
    let mut sent = 0;
    let opening = b"{\"query\":\"";
    let _ = stream.write_all(format!("{:x}\r\n", opening.len()).as_bytes());
    let _ = stream.write_all(opening);
    let _ = stream.write_all(b"\r\n");
    let chunk = vec![b'x'; 1024];
    while sent < 64 << 10 {
        let mut frame = format!("{:x}\r\n", chunk.len()).into_bytes();
        frame.extend_from_slice(&chunk);
        frame.extend_from_slice(b"\r\n");
        if stream.write_all(&frame).is_err() {
            break; // The server answered and closed.
        }
        sent += chunk.len();
        std::thread::sleep(Duration::from_millis(5));
    }
    let reply = read_response(&mut stream, Duration::from_secs(5)).expect("an answer");
    assert_eq!(reply.status, 413, "{}", reply.text());
    assert_eq!(reply.error_code(), "payload_too_large");
    // Under the limit, chunked works.
    let body = br#"{"limit":1}"#;
    let mut ok = head(
        "POST",
        "/incidents/query",
        &["Transfer-Encoding: chunked".into()],
    );
    ok.extend_from_slice(format!("{:x}\r\n", body.len()).as_bytes());
    ok.extend_from_slice(body);
    ok.extend_from_slice(b"\r\n0\r\n\r\n");
    let reply = exchange(host.addr, &ok, Duration::from_secs(10)).expect("an answer");
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_healthy(&host);
}

/// A chunked `POST /incidents/query` whose body is valid JSON of exactly
/// `len` bytes, sent in chunks of the given sizes (the rest in the last).
fn chunked_query(len: usize, chunks: &[usize]) -> Vec<u8> {
    let opening = br#"{"limit":1,"query":""#;
    let closing = br#""}"#;
    let mut body = opening.to_vec();
    body.resize(len - closing.len(), b'x');
    body.extend_from_slice(closing);
    assert_eq!(body.len(), len);
    let mut request = head(
        "POST",
        "/incidents/query",
        &[
            "Content-Type: application/json".into(),
            "Transfer-Encoding: chunked".into(),
        ],
    );
    let mut rest = &body[..];
    for &size in chunks.iter().chain(std::iter::once(&usize::MAX)) {
        let (chunk, after) = rest.split_at(size.min(rest.len()));
        if !chunk.is_empty() {
            request.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
            request.extend_from_slice(chunk);
            request.extend_from_slice(b"\r\n");
        }
        rest = after;
    }
    request.extend_from_slice(b"0\r\n\r\n");
    request
}

#[test]
fn chunked_bodies_are_held_to_the_limit_to_the_byte() {
    const LIMIT: usize = 4096;
    let (host, _libs, _dir) = mock_host(&[("OPSORCH_MAX_BODY_BYTES", "4096")]);
    // One chunk, many small ones, and a last chunk of one byte.
    for chunks in [&[][..], &[1000, 1000, 1000, 1000], &[LIMIT - 1]] {
        let at_limit = exchange(
            host.addr,
            &chunked_query(LIMIT, chunks),
            Duration::from_secs(10),
        )
        .expect("an answer at the limit");
        assert_eq!(at_limit.status, 200, "{chunks:?}: {}", at_limit.text());
        let over = exchange(
            host.addr,
            &chunked_query(LIMIT + 1, chunks),
            Duration::from_secs(10),
        )
        .expect("an answer one byte over the limit");
        assert_eq!(over.status, 413, "{chunks:?}: {}", over.text());
        assert_eq!(over.error_code(), "payload_too_large");
    }
    assert_healthy(&host);
}

/// Every malformed body the issue lists, on a query, a create, an update
/// and the provider API, whose `config` is a free-form object.
#[test]
fn malformed_bodies_are_400_json_through_the_binary() {
    let (host, _libs, _dir) = mock_host(&[]);
    let deep_array = format!("{{\"metadata\":{}", "[".repeat(100_000));
    let deep_object = format!("{{\"metadata\":{}", "{\"a\":".repeat(100_000));
    let deep_closed = format!(
        "{{\"metadata\":{{\"a\":{}{}}}}}",
        "[".repeat(200),
        "]".repeat(200)
    );
    let deep_config = format!(
        "{{\"provider\":\"mock\",\"config\":{{\"seed\":{}",
        "[".repeat(100_000)
    );
    let deep_config_closed = format!(
        "{{\"provider\":\"mock\",\"config\":{{\"k\":{}{}}}}}",
        "[".repeat(200),
        "]".repeat(200)
    );
    let bodies: Vec<(&str, &str, Vec<u8>)> = vec![
        ("POST", "/incidents/query", b"{".to_vec()),
        ("POST", "/incidents/query", b"not json".to_vec()),
        ("POST", "/incidents/query", b"".to_vec()),
        ("POST", "/incidents/query", b"   ".to_vec()),
        ("POST", "/incidents/query", b"null".to_vec()),
        ("POST", "/incidents/query", b"[]".to_vec()),
        ("POST", "/incidents/query", b"\"text\"".to_vec()),
        ("POST", "/incidents/query", br#"{"query":"trunc"#.to_vec()),
        ("POST", "/incidents/query", br#"{"limit":1"#.to_vec()),
        (
            "POST",
            "/incidents/query",
            br#"{"limit":1} {"limit":2}"#.to_vec(),
        ),
        ("POST", "/incidents/query", deep_array.into_bytes()),
        ("POST", "/incidents/query", deep_object.into_bytes()),
        ("POST", "/incidents/query", deep_closed.into_bytes()),
        (
            "POST",
            "/incidents/query",
            b"{\"query\":\"\xff\xfe\"}".to_vec(),
        ),
        ("POST", "/incidents/query", b"\xef\xbb\xbf{}".to_vec()),
        (
            "POST",
            "/incidents/query",
            br#"{"query":"\ud800"}"#.to_vec(),
        ),
        ("POST", "/incidents/query", br#"{"limit":"ten"}"#.to_vec()),
        ("POST", "/incidents/query", br#"{"limit":1e400}"#.to_vec()),
        ("POST", "/incidents/query", br#"{"limit":-1}"#.to_vec()),
        ("POST", "/incidents/query", br#"{"limit":1.5}"#.to_vec()),
        (
            "POST",
            "/incidents/query",
            br#"{"limit":4294967296}"#.to_vec(),
        ),
        (
            "POST",
            "/incidents/query",
            br#"{"limit":99999999999999999999999}"#.to_vec(),
        ),
        (
            "POST",
            "/incidents/query",
            br#"{"metadata":{"n":1e400}}"#.to_vec(),
        ),
        (
            "POST",
            "/incidents/query",
            br#"{"statuses":"open"}"#.to_vec(),
        ),
        ("POST", "/incidents/query", br#"{"bogus":1}"#.to_vec()),
        (
            "POST",
            "/incidents/query",
            br#"{"scope":{"region":"eu"}}"#.to_vec(),
        ),
        (
            "POST",
            "/incidents/query",
            br#"{"limit":1,"limit":2}"#.to_vec(),
        ),
        (
            "POST",
            "/incidents",
            br#"{"title":{"nested":true}}"#.to_vec(),
        ),
        (
            "POST",
            "/incidents",
            br#"{"title":"t","status":"open","severity":"sev1","createdAt":"x"}"#.to_vec(),
        ),
        ("POST", "/logs/query", br#"{"start":"yesterday"}"#.to_vec()),
        (
            "POST",
            "/logs/query",
            br#"{"start":"2026-13-45T99:99:99Z"}"#.to_vec(),
        ),
        ("POST", "/metrics/query", br#"{"step":-5}"#.to_vec()),
        (
            "POST",
            "/messages/send",
            br#"{"channel":"c","body":"b","blocks":[{"type":"bogus"}]}"#.to_vec(),
        ),
        ("PATCH", "/tickets/TCK-1", br#"{"assignee":"x"}"#.to_vec()),
        ("PATCH", "/incidents/INC-1001", br#"{"status":7}"#.to_vec()),
        (
            "POST",
            "/incidents/INC-1001/timeline",
            br#"{"at":12}"#.to_vec(),
        ),
        (
            "POST",
            "/orchestration/runs",
            br#"{"planId":["a"]}"#.to_vec(),
        ),
        ("POST", "/providers/incident", b"{".to_vec()),
        (
            "POST",
            "/providers/incident",
            br#"{"provider":"mock","config":[1]}"#.to_vec(),
        ),
        (
            "POST",
            "/providers/incident",
            br#"{"provider":"mock","config":"x"}"#.to_vec(),
        ),
        (
            "POST",
            "/providers/incident",
            br#"{"provider":"mock","extra":1}"#.to_vec(),
        ),
        ("POST", "/providers/incident", br#"{"provider":7}"#.to_vec()),
        ("POST", "/providers/incident", br#"{"config":{}}"#.to_vec()),
        (
            "POST",
            "/providers/incident",
            br#"{"provider":"mock","config":{"seed":1e400}}"#.to_vec(),
        ),
        ("POST", "/providers/incident", deep_config.into_bytes()),
        (
            "POST",
            "/providers/incident",
            deep_config_closed.into_bytes(),
        ),
    ];
    let mut tried = 0;
    for (method, path, body) in &bodies {
        let reply = exchange(
            host.addr,
            &with_body(method, path, body),
            Duration::from_secs(10),
        )
        .unwrap_or_else(|| panic!("{method} {path}: no answer"));
        let shown = String::from_utf8_lossy(&body[..body.len().min(80)]).into_owned();
        assert_eq!(
            reply.status,
            400,
            "{method} {path} {shown}: {}",
            reply.text()
        );
        assert_eq!(reply.error_code(), "bad_request", "{shown}");
        assert!(
            !reply.json()["message"]
                .as_str()
                .unwrap_or_default()
                .is_empty(),
            "{shown}"
        );
        tried += 1;
    }
    // Wrong content types are read as JSON, as the Go host does.
    for content_type in ["text/plain", "application/x-www-form-urlencoded", "\u{1}"] {
        let mut request = head(
            "POST",
            "/incidents/query",
            &[
                format!("Content-Type: {content_type}"),
                "Content-Length: 11".into(),
            ],
        );
        request.extend_from_slice(br#"{"limit":1}"#);
        let reply = exchange(host.addr, &request, Duration::from_secs(10)).expect("an answer");
        assert!(
            reply.status == 200 || reply.status == 400,
            "{content_type}: {}",
            reply.status
        );
        tried += 1;
    }
    println!("malformed bodies tried through the binary: {tried}");
    assert_healthy(&host);
}

#[test]
fn odd_ids_are_opaque_or_rejected_never_a_crash() {
    let (host, _libs, _dir) = mock_host(&[]);
    let long_60k = "a".repeat(60_000);
    let long_100k = "b".repeat(100_000);
    let cases: Vec<String> = vec![
        "%2F".into(),
        "a%2Fb".into(),
        "..".into(),
        "%2E%2E".into(),
        "..%2F..%2F..%2Fetc%2Fpasswd".into(),
        "%2E%2E%2F%2E%2E%2Fetc%2Fpasswd".into(),
        "%00".into(),
        "a%00b".into(),
        "%FF".into(),
        "%C0%AF".into(),
        "%ED%A0%80".into(),
        "%E2%9C%93".into(),
        "%".into(),
        "%zz".into(),
        "a;b".into(),
        "%20".into(),
        "%0D%0AX-Injected:%201".into(),
        long_60k,
        long_100k,
    ];
    let prefixes = [
        "/incidents/",
        "/alerts/",
        "/tickets/",
        "/deployments/",
        "/teams/",
        "/orchestration/plans/",
        "/orchestration/runs/",
    ];
    let mut tried = 0;
    for id in &cases {
        for prefix in prefixes {
            let path = format!("{prefix}{id}");
            let reply = exchange(host.addr, &head("GET", &path, &[]), Duration::from_secs(10))
                .unwrap_or_else(|| panic!("GET {prefix}<{} bytes>: no answer", id.len()));
            let short = &id[..id.len().min(40)];
            match reply.status {
                // Rejected by the HTTP layer before any handler: empty body.
                414 | 431 => assert!(id.len() > 60_000, "{short}: {}", reply.status),
                400 | 404 => {
                    let code = reply.error_code();
                    assert!(
                        code == "bad_request" || code == "not_found",
                        "{short}: {code}"
                    );
                    assert!(reply.header("x-injected").is_none());
                }
                other => panic!("{prefix}{short}: unexpected {other}: {}", reply.text()),
            }
            // Nothing from the filesystem, ever.
            assert!(!reply.text().contains("root:"), "{}", reply.text());
            tried += 1;
        }
    }
    // Ids are passed through opaque: the provider sees the decoded text.
    let reply = host.get("/incidents/a%2Fb");
    assert_eq!(reply.status, 404);
    assert!(
        reply.json()["message"].as_str().unwrap().contains("a/b"),
        "{}",
        reply.text()
    );
    let reply = host.get("/incidents/..%2F..%2Fetc%2Fpasswd");
    assert!(reply.json()["message"]
        .as_str()
        .unwrap()
        .contains("../../etc/passwd"));
    // A 60 KB id reaches the provider too.
    let reply = host.get(&format!("/incidents/{}", "c".repeat(60_000)));
    assert_eq!(reply.status, 404, "{}", reply.text());
    println!("odd ids tried through the binary: {tried}");
    assert_healthy(&host);
}

#[test]
fn request_timeout_answers_504_and_other_capabilities_go_on() {
    let libs = TempDir::with_libraries("hardening-libs", &["opsorch_mock", "opsorch_faulty"]);
    let host = Host::start(&[
        ("OPSORCH_PLUGIN_DIR", libs.path().to_str().unwrap()),
        ("OPSORCH_SERVICE_PROVIDER", "sleepy"),
        ("OPSORCH_SERVICE_CONFIG", r#"{"sleepMs":4000}"#),
        ("OPSORCH_INCIDENT_PROVIDER", "mock"),
        ("OPSORCH_REQUEST_TIMEOUT_MS", "1000"),
        ("OPSORCH_PLUGIN_TIMEOUT_MS", "1000"),
    ]);
    let addr = host.addr;
    let slow = std::thread::spawn(move || {
        let started = Instant::now();
        let reply = opsorch_e2e::http(addr, "POST", "/services/query", &[], Some(b"{}"));
        (reply, started.elapsed())
    });
    std::thread::sleep(Duration::from_millis(100));
    let fast = host.post("/incidents/query", r#"{"limit":1}"#);
    assert_eq!(fast.status, 200);
    let (reply, took) = slow.join().unwrap();
    assert_eq!(reply.status, 504, "{}", reply.text());
    assert_eq!(reply.error_code(), "request_timeout");
    assert!(took < Duration::from_secs(3), "{took:?}");
    assert_healthy(&host);
}

#[test]
fn unauthenticated_non_loopback_address_is_warned_about() {
    let warning = "UNAUTHENTICATED API";
    let log_of = |env: &[(&str, &str)]| {
        let mut host = Host::start(env);
        // The warning is logged before the address is announced; give the
        // log writer a moment to flush it.
        let mut log = String::new();
        opsorch_e2e::wait_until(Duration::from_secs(3), || {
            log = host.stderr();
            log.contains(warning) || log.contains("listening on")
        });
        std::thread::sleep(Duration::from_millis(200));
        log.push_str(&host.stderr());
        log
    };
    let exposed = log_of(&[("OPSORCH_ADDR", "0.0.0.0:0")]);
    assert!(exposed.contains(warning), "{exposed}");
    assert!(exposed.contains("OPSORCH_BEARER_TOKEN"), "{exposed}");
    assert!(
        exposed
            .lines()
            .any(|l| l.contains(warning) && l.contains("WARN")),
        "{exposed}"
    );
    let local = log_of(&[("OPSORCH_ADDR", "127.0.0.1:0")]);
    assert!(!local.contains(warning), "{local}");
    let guarded = log_of(&[
        ("OPSORCH_ADDR", "0.0.0.0:0"),
        ("OPSORCH_BEARER_TOKEN", "a-token"),
    ]);
    assert!(!guarded.contains(warning), "{guarded}");
}
