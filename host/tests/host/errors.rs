//! Failure paths: every error is the contract's JSON with the right status.

use crate::support::*;
use opsorch::{AppState, HttpSettings, ProviderRegistry};
use opsorch_plugin_api::methods::{Capability, Method};
use serde_json::json;

#[tokio::test]
async fn malformed_bodies_are_400_json() {
    let fake = FakeProvider::new();
    let app = app_with(&fake);
    for body in [
        "{",
        "not json",
        "",
        r#"{"query":"x"} trailing"#,
        r#"{"bogus":1}"#,
        r#"{"scope":{"region":"eu"}}"#,
        r#"{"limit":"ten"}"#,
        r#"{"limit":-1}"#,
        r#"{"statuses":"open"}"#,
        "[]",
    ] {
        let reply = post(&app, "/incidents/query", body).await;
        reply.assert_error(400, "bad_request");
    }
    let unknown = post(&app, "/incidents/query", r#"{"bogus":1}"#).await;
    assert!(unknown.json()["message"]
        .as_str()
        .unwrap()
        .contains("unknown field `bogus`"));
    let wrong = post(&app, "/incidents", r#"{"title":{"secret":"hunter2"}}"#).await;
    wrong.assert_error(400, "bad_request");
    assert!(!wrong.text.contains("hunter2"), "{}", wrong.text);
    let bad_time = post(&app, "/logs/query", r#"{"start":"yesterday"}"#).await;
    bad_time.assert_error(400, "bad_request");
    let patch = send(
        &app,
        "PATCH",
        "/tickets/t1",
        Some(r#"{"assignee":"x"}"#),
        &[],
    )
    .await;
    patch.assert_error(400, "bad_request");
    // A path segment that is not UTF-8 once decoded.
    get(&app, "/incidents/%FF")
        .await
        .assert_error(400, "bad_request");
    assert!(
        fake.calls().is_empty(),
        "a bad request reached the provider"
    );
}

#[tokio::test]
async fn unknown_routes_and_methods_are_404_json() {
    let fake = FakeProvider::new();
    let app = app_with(&fake);
    get(&app, "/nope").await.assert_error(404, "not_found");
    get(&app, "/incidents/i1/nope")
        .await
        .assert_error(404, "not_found");
    send(&app, "DELETE", "/incidents/i1", None, &[])
        .await
        .assert_error(404, "not_found");
    get(&app, "/incidents/query")
        .await
        .assert_error(404, "not_found");
    send(&app, "PUT", "/health", None, &[])
        .await
        .assert_error(404, "not_found");
    assert!(fake.calls().is_empty());
}

#[tokio::test]
async fn provider_error_codes_map_to_statuses() {
    for (code, status, expected_code) in [
        ("not_found", 404, "not_found"),
        ("bad_request", 400, "bad_request"),
        ("plugin_timeout", 504, "plugin_timeout"),
        ("", 502, "provider_error"),
        ("upstream_unavailable", 502, "upstream_unavailable"),
        ("unsupported", 501, "unsupported"),
        ("timeout", 504, "timeout"),
        ("adapter_panic", 502, "adapter_panic"),
        ("rate_limited", 502, "rate_limited"),
    ] {
        let fake = FakeProvider::new();
        fake.fail(Method::IncidentGet, code, "incident i1 is gone");
        let app = app_with(&fake);
        let reply = get(&app, "/incidents/i1").await;
        reply.assert_error(status, expected_code);
        assert_eq!(reply.json()["message"], "incident i1 is gone");
    }
}

#[tokio::test]
async fn unconfigured_capabilities_are_501() {
    let app = opsorch::app(AppState::new(
        ProviderRegistry::new(),
        None,
        HttpSettings::default(),
    ));
    let cases = [
        ("POST", "/incidents/query", "incident"),
        ("GET", "/alerts/a", "alert"),
        ("POST", "/logs/query", "log"),
        ("GET", "/metrics/describe", "metric"),
        ("PATCH", "/tickets/t", "ticket"),
        ("POST", "/messages/send", "messaging"),
        ("POST", "/services/query", "service"),
        ("GET", "/deployments/d", "deployment"),
        ("GET", "/teams/t/members", "team"),
        ("POST", "/orchestration/runs", "orchestration"),
    ];
    for (method, uri, cap) in cases {
        // A malformed body does not matter: the capability is missing.
        let reply = send(&app, method, uri, Some("{"), &[]).await;
        reply.assert_error(501, &format!("{cap}_provider_missing"));
        assert_eq!(
            reply.json()["message"],
            format!("{cap} provider not configured")
        );
    }
}

#[tokio::test]
async fn oversized_bodies_are_413_json() {
    let fake = FakeProvider::new();
    let http = HttpSettings {
        max_body_bytes: 64,
        ..HttpSettings::default()
    };
    let app = opsorch::app(state_with(&fake, http));
    let big = format!(r#"{{"query":"{}"}}"#, "x".repeat(100));
    post(&app, "/incidents/query", &big)
        .await
        .assert_error(413, "payload_too_large");
    // Just under the limit is fine.
    let small = format!(r#"{{"query":"{}"}}"#, "x".repeat(40));
    assert_eq!(post(&app, "/incidents/query", &small).await.status, 200);
    assert_eq!(fake.calls().len(), 1);
}

#[tokio::test]
async fn default_body_limit_is_one_mebibyte() {
    let fake = FakeProvider::new();
    let app = app_with(&fake);
    let big = format!(r#"{{"query":"{}"}}"#, "x".repeat(1 << 20));
    post(&app, "/incidents/query", &big)
        .await
        .assert_error(413, "payload_too_large");
    let fits = format!(r#"{{"query":"{}"}}"#, "x".repeat((1 << 20) - 100));
    assert_eq!(post(&app, "/incidents/query", &fits).await.status, 200);
}

#[tokio::test]
async fn bearer_token_is_required_when_set() {
    let fake = FakeProvider::new();
    let http = HttpSettings {
        bearer_token: Some("s3cret-token".into()),
        ..HttpSettings::default()
    };
    let app = opsorch::app(state_with(&fake, http));
    for auth in [
        None,
        Some("Bearer wrong"),
        Some("Bearer s3cret-token2"),
        Some("s3cret-token"),
        Some("Basic s3cret-token"),
    ] {
        let headers: Vec<(&str, &str)> = auth.iter().map(|a| ("authorization", *a)).collect();
        let reply = send(&app, "POST", "/incidents/query", Some("{}"), &headers).await;
        reply.assert_error(401, "unauthorized");
        assert_eq!(reply.header("www-authenticate"), Some("Bearer"));
        assert!(!reply.text.contains("s3cret"));
        assert_eq!(reply.header("access-control-allow-origin"), Some("*"));
        assert!(reply.header("x-request-id").is_some());
    }
    // Unknown routes are not revealed without a token either.
    get(&app, "/nope").await.assert_error(401, "unauthorized");
    assert!(fake.calls().is_empty());
    let reply = send(
        &app,
        "POST",
        "/incidents/query",
        Some("{}"),
        &[("authorization", "Bearer s3cret-token")],
    )
    .await;
    assert_eq!(reply.status, 200);
    // OPTIONS never needs a token.
    let reply = send(&app, "OPTIONS", "/incidents/query", None, &[]).await;
    assert_eq!(reply.status, 200);
}

#[tokio::test]
async fn cors_headers_are_on_every_response() {
    let fake = FakeProvider::new();
    let http = HttpSettings {
        cors_origin: "http://localhost:3000".into(),
        ..HttpSettings::default()
    };
    let app = opsorch::app(state_with(&fake, http));
    let replies = [
        get(&app, "/health").await,
        get(&app, "/nope").await,
        post(&app, "/incidents/query", "{").await,
        send(&app, "OPTIONS", "/anything/at/all", None, &[]).await,
        send(
            &app,
            "OPTIONS",
            "/incidents/query",
            None,
            &[("access-control-request-method", "POST")],
        )
        .await,
    ];
    for reply in &replies {
        assert_eq!(
            reply.header("access-control-allow-origin"),
            Some("http://localhost:3000")
        );
        assert_eq!(
            reply.header("access-control-allow-headers"),
            Some("Content-Type, Authorization")
        );
        assert_eq!(
            reply.header("access-control-allow-methods"),
            Some("GET,POST,PATCH,OPTIONS")
        );
    }
    assert_eq!(replies[3].status, 200);
    assert_eq!(replies[4].status, 200);
    assert!(fake.calls().is_empty(), "OPTIONS reached a provider");
}

#[tokio::test]
async fn request_ids_are_taken_or_generated_and_always_echoed() {
    let fake = FakeProvider::new();
    let app = app_with(&fake);
    let reply = send(&app, "GET", "/health", None, &[("x-request-id", "req-1")]).await;
    assert_eq!(reply.header("x-request-id"), Some("req-1"));
    for header in ["x-amzn-trace-id", "x-correlation-id", "x-trace-id"] {
        let reply = send(&app, "GET", "/nope", None, &[(header, "trace-9")]).await;
        assert_eq!(reply.status, 404);
        assert_eq!(reply.header("x-request-id"), Some("trace-9"), "{header}");
    }
    // First present wins, in the contract's order.
    let reply = send(
        &app,
        "POST",
        "/incidents/query",
        Some("{"),
        &[
            ("x-trace-id", "d"),
            ("x-correlation-id", "c"),
            ("x-amzn-trace-id", "b"),
        ],
    )
    .await;
    assert_eq!(reply.status, 400);
    assert_eq!(reply.header("x-request-id"), Some("b"));
    let a = get(&app, "/health").await;
    let b = get(&app, "/health").await;
    let (a, b) = (
        a.header("x-request-id").unwrap(),
        b.header("x-request-id").unwrap(),
    );
    assert_eq!(a.len(), 36, "{a}");
    assert_ne!(a, b);
}

#[tokio::test]
async fn unknown_capability_in_providers_api_is_404() {
    let app = app_with(&FakeProvider::new());
    get(&app, "/providers/widgets")
        .await
        .assert_error(404, "not_found");
    get(&app, "/providers/secret")
        .await
        .assert_error(404, "not_found");
    post(&app, "/providers/widgets", r#"{"provider":"x"}"#)
        .await
        .assert_error(404, "not_found");
}

#[tokio::test]
async fn capability_slots_are_independent() {
    let fake = FakeProvider::new();
    let state = AppState::new(ProviderRegistry::new(), None, HttpSettings::default());
    state.set_provider(Capability::Log, Some(fake.clone()));
    let app = opsorch::app(state);
    assert_eq!(post(&app, "/logs/query", "{}").await.status, 200);
    post(&app, "/incidents/query", "{}")
        .await
        .assert_error(501, "incident_provider_missing");
    assert_eq!(
        fake.last_call().payload,
        json!({"start":"0001-01-01T00:00:00Z","end":"0001-01-01T00:00:00Z"})
    );
}
