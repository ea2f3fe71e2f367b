//! The router's properties (see `crate::fuzz`): whatever a client sends,
//! the host answers with the contract's JSON and never panics; strict body
//! decoding of every request type.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::http::Request;
use axum::Router;
use opsorch_plugin_api::methods::{Capability, Method};
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use serde_json::{Map, Value};
use tower::ServiceExt;

use super::table::{Http, ROUTES};
use crate::fuzz::{body, run, runtime};
use crate::http::error::ApiError;
use crate::providers::seam::{
    BuildError, Json, Provider, ProviderError, ProviderFactory, ProviderFuture, ProviderRegistry,
};
use crate::providers::state::{AppState, HttpSettings};

/// Answers every method with its empty value after checking the payload
/// the host built is one JSON value.
struct Echo;

impl Provider for Echo {
    fn call(&self, method: Method, payload: String) -> ProviderFuture<'_> {
        Box::pin(async move {
            serde_json::from_str::<Value>(&payload).expect("the host sent valid JSON");
            Ok(Json::check(method.result_kind().empty_json()).unwrap())
        })
    }
}

/// An in-memory secret store.
#[derive(Default)]
struct MemorySecrets(Mutex<HashMap<String, String>>);

impl Provider for MemorySecrets {
    fn call(&self, method: Method, payload: String) -> ProviderFuture<'_> {
        Box::pin(async move {
            let p: Value = serde_json::from_str(&payload).unwrap();
            let key = p["key"].as_str().unwrap_or_default().to_owned();
            let mut map = self.0.lock().unwrap();
            match method {
                Method::SecretPut => {
                    map.insert(key, p["value"].as_str().unwrap_or_default().to_owned());
                    Ok(Json::check("null").unwrap())
                }
                _ => match map.get(&key) {
                    Some(v) => Ok(Json::from(serde_json::value::to_raw_value(v).unwrap())),
                    None => Err(ProviderError::new("not_found", "no such key")),
                },
            }
        })
    }
}

struct EchoFactory;

impl ProviderFactory for EchoFactory {
    fn create(
        &self,
        _: Capability,
        config: &Map<String, Value>,
    ) -> Result<Arc<dyn Provider>, BuildError> {
        if config.contains_key("fail") {
            return Err(BuildError::Invalid("refused".into()));
        }
        Ok(Arc::new(Echo))
    }
}

fn fuzz_app() -> Router {
    let mut registry = ProviderRegistry::new();
    for cap in Capability::ALL {
        registry
            .register(cap, "echo", Arc::new(EchoFactory))
            .unwrap();
    }
    let http = HttpSettings {
        max_body_bytes: 64 << 10,
        ..HttpSettings::default()
    };
    let state = AppState::new(registry, Some(Arc::new(MemorySecrets::default())), http);
    for cap in Capability::ROUTED {
        state.set_provider(cap, Some(Arc::new(Echo)));
    }
    crate::http::app(state)
}

/// A path segment: plain text, percent-encoded arbitrary bytes, or odd.
fn segment() -> impl Strategy<Value = String> {
    prop_oneof![
        "[A-Za-z0-9._~-]{1,12}",
        prop::collection::vec(any::<u8>(), 1..12)
            .prop_map(|b| b.iter().map(|x| format!("%{x:02X}")).collect()),
        prop::sample::select(&["..", ".", "%2F", "%00", "%", "%zz", "%C0%AF", ";", "%2E%2E"][..])
            .prop_map(str::to_owned),
    ]
}

fn path() -> impl Strategy<Value = String> {
    let from_table = (0..ROUTES.len(), segment(), segment()).prop_map(|(route, a, b)| {
        let route = &ROUTES[route];
        let mut n = 0;
        route
            .path
            .split('/')
            .map(|s| {
                if s.starts_with('{') {
                    n += 1;
                    if n == 1 {
                        a.clone()
                    } else {
                        b.clone()
                    }
                } else {
                    s.to_owned()
                }
            })
            .collect::<Vec<_>>()
            .join("/")
    });
    prop_oneof![
        4 => from_table,
        1 => prop::collection::vec(segment(), 0..5).prop_map(|s| format!("/{}", s.join("/"))),
        1 => ".{0,8}".prop_map(|c| format!("/providers/{c}").replace(['?', '#', ' '], "")),
        1 => Just("/metrics/describe?service=a%FF&team=%&x".to_owned()),
    ]
}

#[test]
fn router_never_panics_and_always_answers_json() {
    let rt = runtime();
    let app = fuzz_app();
    let statuses = Mutex::new(std::collections::BTreeMap::<u16, u64>::new());
    let any_method =
        prop::sample::select(&["GET", "POST", "PATCH", "OPTIONS", "DELETE", "PUT"][..]);
    let random = (any_method, path(), body(), prop::option::of(".{0,12}"));
    // The table's own method and path, with plain ids and a (mutated) body,
    // so that most cases reach a provider.
    let aligned = (
        0..ROUTES.len(),
        "[A-Za-z0-9-]{1,10}",
        body(),
        prop::option::of(".{0,12}"),
    )
        .prop_map(|(i, id, body, header)| {
            let route = &ROUTES[i];
            let method = match route.http {
                Http::Get => "GET",
                Http::Post => "POST",
                Http::Patch => "PATCH",
            };
            let path = route
                .path
                .split('/')
                .map(|s| if s.starts_with('{') { id.as_str() } else { s })
                .collect::<Vec<_>>()
                .join("/");
            (method, path, body, header)
        });
    let strategy = prop_oneof![random, aligned];
    run("router", strategy, |(method, path, body, header)| {
        let mut req = Request::builder().method(method).uri(&path);
        if let Some(h) = header.as_deref() {
            if axum::http::HeaderValue::from_str(h).is_ok() {
                req = req.header("x-request-id", h).header("content-type", h);
            }
        }
        let Ok(req) = req.body(Body::from(body.clone())) else {
            return Ok(()); // Not a URI the HTTP layer would accept.
        };
        let response = rt.block_on(app.clone().oneshot(req)).unwrap();
        let status = response.status().as_u16();
        *statuses.lock().unwrap().entry(status).or_default() += 1;
        let bytes = rt
            .block_on(axum::body::to_bytes(response.into_body(), usize::MAX))
            .unwrap();
        prop_assert!(
            matches!(status, 200 | 201 | 400 | 404 | 413),
            "{method} {path}: {status} {}",
            String::from_utf8_lossy(&bytes)
        );
        if method != "OPTIONS" {
            let value: Value = serde_json::from_slice(&bytes)
                .map_err(|e| TestCaseError::fail(format!("{method} {path}: not JSON: {e}")))?;
            if status >= 400 {
                prop_assert!(value["code"].is_string() && value["message"].is_string());
            }
        }
        Ok(())
    });
    println!("fuzz router statuses: {:?}", statuses.lock().unwrap());
}

#[test]
fn strict_decoding_of_every_body_type() {
    use crate::http::extract::decode_strict;
    use opsorch_schema::*;
    fn all(bytes: &[u8]) {
        // Each must be Ok or a BadRequest; a panic fails the property.
        macro_rules! each {
            ($($t:ty),*) => {$(
                if let Err(e) = decode_strict::<$t>(bytes) {
                    assert!(matches!(e, ApiError::BadRequest(_)), "{e:?}");
                }
            )*};
        }
        each!(
            IncidentQuery,
            CreateIncidentInput,
            UpdateIncidentInput,
            TimelineAppendInput,
            AlertQuery,
            LogQuery,
            MetricQuery,
            QueryScope,
            TicketQuery,
            CreateTicketInput,
            UpdateTicketInput,
            Message,
            ServiceQuery,
            DeploymentQuery,
            TeamQuery,
            OrchestrationPlanQuery,
            OrchestrationRunQuery,
            StartRunInput,
            CompleteStepInput,
            super::providers::ProviderConfigInput
        );
    }
    run("decode_strict", body(), |bytes| {
        all(&bytes);
        Ok(())
    });
}

/// Inputs the long fuzz run found, kept as plain tests.
#[tokio::test]
async fn regressions_found_by_fuzzing() {
    let app = fuzz_app();
    // A capability segment that is not UTF-8 once decoded was answered by
    // axum's plain-text path rejection.
    for (method, body) in [("GET", None), ("POST", Some(r#"{"provider":"echo"}"#))] {
        let req = Request::builder()
            .method(method)
            .uri("/providers/%AA")
            .body(Body::from(body.unwrap_or_default()))
            .unwrap();
        let response = app.clone().oneshot(req).await.unwrap();
        assert_eq!(response.status(), 404);
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        let value: Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(value["code"], "not_found", "{value}");
    }
}
