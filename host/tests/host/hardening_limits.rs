//! Limits in process: an announced body over the limit is refused before a
//! byte is read, the request timeout answers 504 JSON, the exposure rule,
//! and the connection cap over TLS.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::support::*;
use axum::Router;
use opsorch::http::server::{bind, exposed_without_token, serve_until_shutdown, tls_config};
use opsorch::settings::ServerLimits;
use opsorch::{AppState, HttpSettings, Provider, ProviderFuture, ProviderRegistry};
use opsorch_plugin_api::methods::{Capability, Method};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Serves `app` on 127.0.0.1 with `limits` (and TLS when asked) until the
/// returned sender is dropped.
async fn serve(
    app: Router,
    limits: ServerLimits,
    tls: bool,
) -> (SocketAddr, tokio::sync::oneshot::Sender<()>) {
    let listener = bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let tls = tls.then(|| {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
        tls_config(&opsorch::settings::TlsFiles {
            cert: dir.join("tls-cert.pem"),
            key: dir.join("tls-key.pem"),
        })
        .unwrap()
    });
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(serve_until_shutdown(listener, tls, limits, app, async {
        let _ = stopped.await;
    }));
    (addr, stop)
}

/// Reads until the server closes or `within` passes.
async fn read_all(stream: &mut TcpStream, within: Duration) -> Option<String> {
    let mut raw = Vec::new();
    tokio::time::timeout(within, stream.read_to_end(&mut raw))
        .await
        .ok()?
        .ok()?;
    Some(String::from_utf8_lossy(&raw).into_owned())
}

#[tokio::test]
async fn announced_length_over_the_limit_is_413_without_reading_the_body() {
    let fake = FakeProvider::new();
    let http = HttpSettings {
        max_body_bytes: 1024,
        ..HttpSettings::default()
    };
    let app = opsorch::app(state_with(&fake, http));
    let (addr, _stop) = serve(app.clone(), ServerLimits::default(), false).await;
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(
            b"POST /incidents/query HTTP/1.1\r\nHost: localhost\r\nContent-Length: 100000000\r\n\r\n",
        )
        .await
        .unwrap();
    // Not a byte of the body follows; the answer must not wait for it.
    let started = Instant::now();
    let response = read_all(&mut stream, Duration::from_secs(5))
        .await
        .expect("answered and closed without the body");
    assert!(response.starts_with("HTTP/1.1 413"), "{response}");
    assert!(response.contains("payload_too_large"), "{response}");
    assert!(started.elapsed() < Duration::from_secs(5));

    // At the limit is fine; one over is not, on every route, matched or
    // not, whatever else is wrong with the request.
    let at = "x".repeat(1024 - 12);
    let body = format!(r#"{{"query":"{at}"}}"#);
    let length = body.len().to_string();
    let headers = [("content-length", length.as_str())];
    let reply = send(&app, "POST", "/incidents/query", Some(&body), &headers).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let body = format!(r#"{{"query":"{at}x"}}"#);
    let length = body.len().to_string();
    let headers = [("content-length", length.as_str())];
    for path in [
        "/incidents/query",
        "/providers/incident",
        "/health",
        "/nope",
    ] {
        send(&app, "POST", path, Some(&body), &headers)
            .await
            .assert_error(413, "payload_too_large");
    }
    assert_eq!(fake.calls().len(), 1);
}

/// Never answers.
struct Stuck;
impl Provider for Stuck {
    fn call(&self, _: Method, _: String) -> ProviderFuture<'_> {
        Box::pin(std::future::pending())
    }
}

#[tokio::test]
async fn request_timeout_is_504_json_with_the_usual_headers() {
    let state = AppState::new(
        ProviderRegistry::new(),
        None,
        HttpSettings {
            request_timeout: Duration::from_millis(200),
            ..HttpSettings::default()
        },
    );
    state.set_provider(Capability::Incident, Some(Arc::new(Stuck)));
    let fake = FakeProvider::new();
    state.set_provider(Capability::Alert, Some(fake.clone()));
    let app = opsorch::app(state);
    let started = Instant::now();
    let reply = get(&app, "/incidents/i1").await;
    reply.assert_error(504, "request_timeout");
    assert_eq!(
        reply.json()["message"],
        "the request did not complete within 200 ms"
    );
    assert!(reply.header("x-request-id").is_some());
    assert!(reply.header("access-control-allow-origin").is_some());
    assert!(started.elapsed() < Duration::from_secs(2));
    // Other capabilities are not affected.
    assert_eq!(get(&app, "/alerts/a1").await.status, 200);
}

#[test]
fn exposure_rule() {
    let addr = |s: &str| s.parse::<SocketAddr>().unwrap();
    for exposed in ["0.0.0.0:8080", "[::]:8080", "10.1.2.3:80", "192.168.0.2:1"] {
        assert!(exposed_without_token(addr(exposed), None), "{exposed}");
        assert!(
            !exposed_without_token(addr(exposed), Some("t")),
            "{exposed}"
        );
    }
    for local in ["127.0.0.1:8080", "127.0.0.2:1", "[::1]:8080"] {
        assert!(!exposed_without_token(addr(local), None), "{local}");
    }
}

#[tokio::test]
async fn connection_cap_holds_over_tls_and_frees_slots() {
    let app = app_with(&FakeProvider::new());
    let limits = ServerLimits {
        max_connections: 2,
        header_timeout: Duration::from_millis(300),
        ..ServerLimits::default()
    };
    let (addr, _stop) = serve(app, limits, true).await;
    // Two idle TCP connections (no handshake) take both slots.
    let idle = [
        TcpStream::connect(addr).await.unwrap(),
        TcpStream::connect(addr).await.unwrap(),
    ];
    tokio::time::sleep(Duration::from_millis(50)).await;
    // A third is closed at once, without a plain-text answer on a TLS port.
    let mut third = TcpStream::connect(addr).await.unwrap();
    let closed = read_all(&mut third, Duration::from_secs(2)).await;
    assert_eq!(closed.as_deref(), Some(""));
    // Once the idle ones go, a slot is free again (TLS handshake starts:
    // the server waits for a ClientHello instead of closing).
    drop(idle);
    let mut freed = false;
    for _ in 0..40 {
        let mut probe = TcpStream::connect(addr).await.unwrap();
        let mut buf = [0u8; 1];
        match tokio::time::timeout(Duration::from_millis(100), probe.read(&mut buf)).await {
            Err(_) => {
                freed = true;
                break;
            }
            Ok(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
    assert!(freed, "no slot was freed");
}
