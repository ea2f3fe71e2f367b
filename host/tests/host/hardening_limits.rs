//! Limits in process: a body over the limit is refused on every route
//! (the server refusing an announced length before reading a byte is in
//! `host/src/http/server_tests.rs`), and the request timeout answers 504
//! JSON.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::support::*;
use opsorch::{AppState, HttpSettings, Provider, ProviderFuture, ProviderRegistry};
use opsorch_plugin_api::methods::{Capability, Method};

#[tokio::test]
async fn a_body_over_the_limit_is_413_on_every_route() {
    let fake = FakeProvider::new();
    let http = HttpSettings {
        max_body_bytes: 1024,
        ..HttpSettings::default()
    };
    let app = opsorch::app(state_with(&fake, http));
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
