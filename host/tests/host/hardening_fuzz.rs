//! Property tests ("fuzzing" on stable): whatever arrives, from a client or
//! from a plugin, the host answers with the contract's JSON and never
//! panics.
//!
//! Each property runs `PROPTEST_CASES` cases (proptest's default, 256, under
//! `cargo test`; `scripts/fuzz` runs many more). Targets:
//! - the whole router in process: arbitrary methods, paths built from the
//!   route table with arbitrary (percent-encoded) segments, arbitrary bodies
//!   and mutated valid bodies, arbitrary headers;
//! - strict body decoding for every request type;
//! - JSON values of any shape in every free-form field (`metadata`,
//!   `config` of `POST /providers/{cap}`);
//! - the stdio response line (`StdioResponse`), its error classification
//!   and the host's result normalisation;
//! - the stored provider choice, `_CONFIG` objects, the secret file decoder
//!   (plain and encrypted envelopes) and encryption keys;
//! - `Settings::from_env` with arbitrary values for every variable.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::http::Request;
use axum::Router;
use opsorch::builtins::json_secrets::{decode_file, SecretKey, KEY_VAR};
use opsorch::http::routes::table::ROUTES;
use opsorch::providers::seam::{call_normalised, BuildError, Json};
use opsorch::providers::selection::ProviderChoice;
use opsorch::settings::KeyMaterial;
use opsorch::{
    AppState, HttpSettings, Provider, ProviderError, ProviderFactory, ProviderFuture,
    ProviderRegistry, Settings,
};
use opsorch_plugin_api::methods::{Capability, Method};
use opsorch_plugin_api::protocol::{StdioResponse, WireError};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use serde_json::{Map, Value};
use tower::ServiceExt;

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
    opsorch::app(state)
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// Runs `test` on `strategy` for the configured number of cases and prints
/// the figure for docs/RELIABILITY.md.
fn run<S: Strategy>(name: &str, strategy: S, test: impl Fn(S::Value) -> Result<(), TestCaseError>)
where
    S::Value: std::fmt::Debug,
{
    // Failing inputs are printed by the panic; no regression files are
    // written into the source tree.
    let config = Config {
        failure_persistence: None,
        ..Config::default()
    };
    let cases = config.cases;
    let mut runner = TestRunner::new(config);
    if let Err(e) = runner.run(&strategy, test) {
        panic!("{name}: {e}");
    }
    println!("fuzz {name}: {cases} cases, 0 failures");
}

/// Arbitrary JSON values, nested a few levels.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        ".{0,20}".prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(".{0,8}", inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Valid bodies to mutate: one per kind of body the API reads.
const SEEDS: &[&str] = &[
    r#"{"query":"x","statuses":["open"],"severities":["sev1"],"scope":{"service":"a"},"limit":5,"metadata":{"k":1}}"#,
    r#"{"title":"t","status":"open","severity":"sev2","service":"s","fields":{"a":[1,2]}}"#,
    r#"{"kind":"note","body":"b","at":"2026-11-01T00:00:00Z","actor":{"id":"u"}}"#,
    r#"{"expression":{"search":"e","filters":[{"field":"f","operator":"=","value":"v"}],"severityIn":["error"]},"start":"2026-11-01T00:00:00Z","end":"2026-11-01T01:00:00Z","limit":20}"#,
    r#"{"expression":{"metricName":"m","aggregation":"sum","groupBy":["s"]},"start":"2026-11-01T00:00:00Z","end":"2026-11-01T01:00:00Z","step":300}"#,
    r##"{"channel":"#c","body":"b","blocks":[{"type":"section","text":"t","fields":{"a":"b"}}]}"##,
    r#"{"provider":"echo","config":{"seed":7,"token":"x"}}"#,
    r#"{"planId":"p"}"#,
    r#"{"actor":"a","note":"n"}"#,
    r#"{"title":"t","assignees":["a"],"status":"done"}"#,
];

/// A seed body with bytes flipped, inserted or removed.
fn mutated_body() -> impl Strategy<Value = Vec<u8>> {
    (
        prop::sample::select(SEEDS),
        prop::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0u8..3), 0..6),
    )
        .prop_map(|(seed, edits)| {
            let mut bytes = seed.as_bytes().to_vec();
            for (at, byte, op) in edits {
                if bytes.is_empty() {
                    bytes.push(byte);
                    continue;
                }
                let i = at.index(bytes.len());
                match op {
                    0 => bytes[i] = byte,
                    1 => bytes.insert(i, byte),
                    _ => {
                        bytes.remove(i);
                    }
                }
            }
            bytes
        })
}

fn body() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        3 => mutated_body(),
        1 => prop::collection::vec(any::<u8>(), 0..256),
        1 => json_value().prop_map(|v| v.to_string().into_bytes()),
        1 => (prop::sample::select(&["metadata", "config", "fields", "scope", "limit"][..]), json_value())
            .prop_map(|(k, v)| format!(r#"{{"provider":"echo","{k}":{v}}}"#).into_bytes()),
        1 => (1usize..3000, prop::sample::select(&["[", "{\"a\":", "[{\"b\":"][..]))
            .prop_map(|(n, open)| format!("{{\"metadata\":{}", open.repeat(n)).into_bytes()),
    ]
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
                opsorch::http::routes::table::Http::Get => "GET",
                opsorch::http::routes::table::Http::Post => "POST",
                opsorch::http::routes::table::Http::Patch => "PATCH",
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
    use opsorch::http::extract::decode_strict;
    use opsorch_schema::*;
    fn all(bytes: &[u8]) {
        // Each must be Ok or a BadRequest; a panic fails the property.
        macro_rules! each {
            ($($t:ty),*) => {$(
                if let Err(e) = decode_strict::<$t>(bytes) {
                    assert!(matches!(e, opsorch::ApiError::BadRequest(_)), "{e:?}");
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
            opsorch::http::routes::ProviderConfigInput
        );
    }
    run("decode_strict", body(), |bytes| {
        all(&bytes);
        Ok(())
    });
}

/// A response line a plugin might write: valid shapes, near misses, noise.
fn response_line() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        json_value().prop_map(|v| format!(r#"{{"result":{v}}}"#).into_bytes()),
        json_value().prop_map(|v| format!(r#"{{"error":{v}}}"#).into_bytes()),
        (".{0,12}", ".{0,12}").prop_map(|(c, m)| {
            serde_json::json!({"error": {"code": c, "message": m}})
                .to_string()
                .into_bytes()
        }),
        json_value().prop_map(|v| v.to_string().into_bytes()),
        prop::collection::vec(any::<u8>(), 0..128),
        (1usize..5000).prop_map(
            |n| format!(r#"{{"result":{}{}}}"#, "[".repeat(n), "]".repeat(n)).into_bytes()
        ),
        (1usize..5000).prop_map(|n| format!(r#"{{"result":{}"#, "[".repeat(n)).into_bytes()),
        mutated_body().prop_map(|b| {
            let mut line = br#"{"result":"#.to_vec();
            line.extend(b);
            line.push(b'}');
            line
        }),
    ]
}

#[test]
fn stdio_response_lines_never_panic_and_normalise() {
    let rt = runtime();
    run(
        "stdio_response",
        (
            response_line(),
            prop::sample::select(opsorch_plugin_api::methods::Method::ALL),
        ),
        |(line, method)| {
            let Ok(response) = serde_json::from_slice::<StdioResponse>(&line) else {
                return Ok(());
            };
            // The error classification plugins rely on.
            if let Some(err) = &response.error {
                let (code, message) = (err.code(), err.message());
                if let WireError::Text(text) = err {
                    prop_assert_eq!(text.as_str(), message);
                    prop_assert!(code.is_empty());
                }
            }
            // A result, whatever it is, passes through normalisation intact or
            // becomes the method's empty value.
            if let Some(result) = response.result {
                struct Fixed(String);
                impl Provider for Fixed {
                    fn call(&self, _: Method, _: String) -> ProviderFuture<'_> {
                        let text = self.0.clone();
                        Box::pin(async move { Ok(Json::check(text).unwrap()) })
                    }
                }
                let raw = result.get().to_owned();
                let out = rt
                    .block_on(call_normalised(&Fixed(raw.clone()), method, "{}".into()))
                    .unwrap();
                if raw.trim() == "null" {
                    prop_assert_eq!(out.get(), method.result_kind().empty_json());
                } else {
                    prop_assert_eq!(out.get(), raw.as_str());
                }
            }
            Ok(())
        },
    );
}

#[test]
fn stored_choices_configs_and_settings_never_panic() {
    let text = prop_oneof![
        ".{0,64}",
        json_value().prop_map(|v| v.to_string()),
        json_value().prop_map(|v| {
            serde_json::json!({"provider": "p", "config": v, "plugin": "/x"}).to_string()
        }),
    ];
    run("stored_and_config_text", text, |text| {
        let _ = ProviderChoice::from_stored(&text);
        let _ = opsorch::settings::parse_config_object(&text);
        Ok(())
    });
    static NAMES: &[&str] = &[
        "OPSORCH_ADDR",
        "OPSORCH_MAX_BODY_BYTES",
        "OPSORCH_HEADER_TIMEOUT_MS",
        "OPSORCH_MAX_HEADER_BYTES",
        "OPSORCH_MAX_CONNECTIONS",
        "OPSORCH_WRITE_TIMEOUT_MS",
        "OPSORCH_REQUEST_TIMEOUT_MS",
        "OPSORCH_PLUGIN_TIMEOUT_MS",
        "OPSORCH_CORS_ORIGIN",
        "OPSORCH_TLS_CERT_FILE",
        "OPSORCH_INCIDENT_CONFIG",
        "OPSORCH_SECRET_CONFIG",
        "OPSORCH_SECRET_KEY",
        "OPSORCH_PLUGIN_DIR",
        "OPSORCH_LOG_PROVIDER",
    ];
    let env = prop::collection::btree_map(prop::sample::select(NAMES), ".{0,70}", 0..6);
    run("settings_from_env", env, |vars| {
        let vars: std::collections::BTreeMap<String, String> =
            vars.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
        if let Err(e) = Settings::from_env(&vars) {
            prop_assert!(e.variable.starts_with("OPSORCH_"), "{e}");
            prop_assert!(!e.reason.contains('\n'));
        }
        Ok(())
    });
}

#[test]
fn secret_files_and_keys_never_panic() {
    let key = SecretKey::new(&KeyMaterial::parse(&"ab".repeat(32), KEY_VAR).unwrap());
    let sealed: Value = serde_json::from_slice(&key.seal(br#"{"a":"b"}"#).unwrap()).unwrap();
    let file = prop_oneof![
        prop::collection::vec(any::<u8>(), 0..200),
        json_value().prop_map(|v| v.to_string().into_bytes()),
        (json_value(), json_value(), json_value()).prop_map(|(a, b, c)| {
            serde_json::json!({"opsorch-encrypted": a, "nonce": b, "ciphertext": c})
                .to_string()
                .into_bytes()
        }),
        (".{0,24}", "[A-Za-z0-9+/=]{0,64}").prop_map(|(n, c)| {
            serde_json::json!({"opsorch-encrypted": 1, "nonce": n, "ciphertext": c})
                .to_string()
                .into_bytes()
        }),
        // The real envelope with one character of the ciphertext changed.
        (any::<prop::sample::Index>(), "[A-Za-z0-9+/]").prop_map({
            let sealed = sealed.clone();
            move |(at, c)| {
                let mut env = sealed.clone();
                let mut text = env["ciphertext"].as_str().unwrap().to_owned();
                let i = at.index(text.len().saturating_sub(2).max(1));
                text.replace_range(i..i + 1, &c);
                env["ciphertext"] = Value::String(text);
                env.to_string().into_bytes()
            }
        }),
    ];
    let original = serde_json::to_vec(&sealed).unwrap();
    run("secret_file", file, |bytes| {
        let with_key = decode_file(&bytes, Some(&key));
        let _ = decode_file(&bytes, None);
        // Only the untouched envelope decrypts.
        if with_key.is_ok() && bytes != original {
            let value: Value = serde_json::from_slice(&bytes).unwrap();
            prop_assert!(!opsorch::builtins::json_secrets::is_envelope(&value) || value == sealed);
        }
        Ok(())
    });
    run("secret_key_text", ".{0,90}", |text| {
        if let Err(e) = KeyMaterial::parse(&text, KEY_VAR) {
            // One fixed reason: the input is never quoted.
            prop_assert_eq!(
                e.to_string(),
                "must be 64 hex characters or the base64 of 32 bytes"
            );
        }
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
        crate::support::send(&app, method, "/providers/%AA", body, &[])
            .await
            .assert_error(404, "not_found");
    }
}
