//! Test doubles and helpers shared by the in-process API tests.

use std::collections::HashMap;
use std::io::Write;
use std::path::Path;
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode};
use axum::Router;
use opsorch::{
    AppState, BuildError, HttpSettings, Json, Provider, ProviderError, ProviderFactory,
    ProviderFuture, ProviderRegistry,
};
use opsorch_plugin_api::methods::{Capability, Method};
use serde_json::{Map, Value};
use tower::ServiceExt;

/// One call a [`FakeProvider`] received.
#[derive(Debug, Clone, PartialEq)]
pub struct Call {
    pub method: Method,
    pub payload: Value,
}

/// A provider that records every call and answers from a script.
#[derive(Default)]
pub struct FakeProvider {
    pub calls: Mutex<Vec<Call>>,
    replies: Mutex<HashMap<Method, Result<String, ProviderError>>>,
    /// The config it was created with.
    pub config: Map<String, Value>,
}

impl FakeProvider {
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    pub fn with_config(config: Map<String, Value>) -> Arc<Self> {
        Arc::new(FakeProvider {
            config,
            ..Default::default()
        })
    }

    /// Answers `method` with this JSON text.
    pub fn reply(&self, method: Method, json: &str) {
        self.replies
            .lock()
            .unwrap()
            .insert(method, Ok(json.to_owned()));
    }

    /// Answers `method` with this error.
    pub fn fail(&self, method: Method, code: &str, message: &str) {
        self.replies
            .lock()
            .unwrap()
            .insert(method, Err(ProviderError::new(code, message)));
    }

    pub fn calls(&self) -> Vec<Call> {
        self.calls.lock().unwrap().clone()
    }

    pub fn last_call(&self) -> Call {
        self.calls()
            .last()
            .cloned()
            .expect("the provider was not called")
    }
}

impl Provider for FakeProvider {
    fn call(&self, method: Method, payload: String) -> ProviderFuture<'_> {
        let payload: Value = serde_json::from_str(&payload).expect("payload is JSON");
        self.calls.lock().unwrap().push(Call { method, payload });
        let reply = self
            .replies
            .lock()
            .unwrap()
            .get(&method)
            .cloned()
            .unwrap_or_else(|| Ok(method.result_kind().empty_json().to_owned()));
        Box::pin(async move { reply.map(|text| Json::check(text).expect("reply is JSON")) })
    }
}

/// Registered as `fake` for every capability. It hands out providers it
/// remembers by capability, so tests can see what a configured provider got.
/// A config with `"fail": true` is rejected.
#[derive(Default)]
pub struct FakeFactory {
    pub created: Mutex<HashMap<Capability, Arc<FakeProvider>>>,
}

impl FakeFactory {
    pub fn created(&self, cap: Capability) -> Option<Arc<FakeProvider>> {
        self.created.lock().unwrap().get(&cap).cloned()
    }
}

impl ProviderFactory for FakeFactory {
    fn create(
        &self,
        capability: Capability,
        config: &Map<String, Value>,
    ) -> Result<Arc<dyn Provider>, BuildError> {
        if config.get("fail") == Some(&Value::Bool(true)) {
            return Err(BuildError::Invalid(
                "the fake provider rejects this config".into(),
            ));
        }
        let provider = FakeProvider::with_config(config.clone());
        self.created
            .lock()
            .unwrap()
            .insert(capability, Arc::clone(&provider));
        Ok(provider)
    }
}

/// A registry with the built-ins plus `fake` (and `other`) for every capability.
pub fn registry(factory: &Arc<FakeFactory>) -> ProviderRegistry {
    let mut registry = opsorch::builtin_registry();
    for cap in Capability::ALL {
        registry.register(cap, "fake", factory.clone()).unwrap();
        registry.register(cap, "Other", factory.clone()).unwrap();
    }
    registry
}

/// A state where every routed capability is served by one shared fake.
pub fn state_with(provider: &Arc<FakeProvider>, http: HttpSettings) -> AppState {
    let state = AppState::new(ProviderRegistry::new(), None, http);
    for cap in Capability::ROUTED {
        state.set_provider(cap, Some(provider.clone() as Arc<dyn Provider>));
    }
    state
}

pub fn app_with(provider: &Arc<FakeProvider>) -> Router {
    opsorch::app(state_with(provider, HttpSettings::default()))
}

/// A response, read whole.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub text: String,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", self.text))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(|v| v.to_str().unwrap())
    }

    /// Asserts the contract's error body.
    pub fn assert_error(&self, status: u16, code: &str) {
        assert_eq!(self.status.as_u16(), status, "body: {}", self.text);
        assert_eq!(self.header("content-type"), Some("application/json"));
        let body = self.json();
        assert_eq!(body["code"], code, "body: {}", self.text);
        assert!(
            body["message"].as_str().is_some_and(|m| !m.is_empty()),
            "body: {}",
            self.text
        );
        assert_eq!(body.as_object().unwrap().len(), 2, "body: {}", self.text);
    }
}

/// How long [`send`] waits for a whole response. Only a bound on a hang
/// (a broken gate or timeout that never answers fails here, in seconds,
/// instead of holding the test run); an answer takes milliseconds.
pub const REPLY_BOUND: std::time::Duration = std::time::Duration::from_secs(10);

/// Sends one request through `app`; panics if no whole response arrives
/// within [`REPLY_BOUND`].
pub async fn send(
    app: &Router,
    method: &str,
    uri: &str,
    body: Option<&str>,
    headers: &[(&str, &str)],
) -> Reply {
    let mut req = Request::builder().method(method).uri(uri);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let req = req
        .body(match body {
            Some(b) => Body::from(b.to_owned()),
            None => Body::empty(),
        })
        .unwrap();
    let exchange = async {
        let response = app.clone().oneshot(req).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        (status, headers, bytes)
    };
    let (status, headers, bytes) = tokio::time::timeout(REPLY_BOUND, exchange)
        .await
        .unwrap_or_else(|_| panic!("{method} {uri}: no response within {REPLY_BOUND:?}"));
    Reply {
        status,
        headers,
        text: String::from_utf8(bytes.to_vec()).unwrap(),
    }
}

pub async fn get(app: &Router, uri: &str) -> Reply {
    send(app, "GET", uri, None, &[]).await
}

pub async fn post(app: &Router, uri: &str, body: &str) -> Reply {
    send(
        app,
        "POST",
        uri,
        Some(body),
        &[("content-type", "application/json")],
    )
    .await
}

/// Writes a secret file and returns the env entries that select it.
pub fn secret_file(dir: &Path, content: &str) -> std::path::PathBuf {
    let path = dir.join("secrets.json");
    std::fs::write(&path, content).unwrap();
    path
}

pub fn json_secret_config(path: &Path) -> String {
    serde_json::json!({ "path": path.display().to_string() }).to_string()
}

/// Log lines captured in memory: a `MakeWriter` into a shared buffer, for
/// a subscriber a test sets up (`opsorch::log_subscriber`). Every clone
/// writes into the same buffer.
#[derive(Clone, Default)]
pub struct LogCapture(Arc<Mutex<Vec<u8>>>);

impl LogCapture {
    /// What has been written so far.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

impl Write for LogCapture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for LogCapture {
    type Writer = LogCapture;

    fn make_writer(&'a self) -> LogCapture {
        self.clone()
    }
}
