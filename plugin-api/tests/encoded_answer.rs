//! `encoded_answer`: a provider's JSON answer is used before its typed
//! method, for its own capability's methods only.

use async_trait::async_trait;
use opsorch_plugin_api::schema::{Incident, Service, ServiceQuery};
use opsorch_plugin_api::{
    Adapter, AsyncServiceProvider, CallContext, Capability, Config, Error, IncidentProvider,
    JsonText, Method, Result,
};

struct Cached;

impl IncidentProvider for Cached {
    fn encoded_answer(&self, method: Method, payload: &str) -> Option<Result<JsonText>> {
        match method {
            Method::IncidentList => Some(JsonText::parse(r#"[{"id":"cached"}]"#)),
            Method::IncidentGet if payload.contains("gone") => {
                Some(Err(Error::not_found("gone from the cache")))
            }
            _ => None,
        }
    }

    fn get(&self, id: &str) -> Result<Incident> {
        Ok(Incident {
            id: format!("typed {id}"),
            ..Default::default()
        })
    }
}

struct AsyncCached;

#[async_trait]
impl AsyncServiceProvider for AsyncCached {
    fn encoded_answer(&self, method: Method, _payload: &str) -> Option<Result<JsonText>> {
        (method == Method::ServiceQuery).then(|| Ok(JsonText::array([])))
    }

    async fn query(&self, _context: &CallContext, _query: ServiceQuery) -> Result<Vec<Service>> {
        Err(Error::internal("the typed method should not be called"))
    }
}

fn adapter() -> Adapter {
    Adapter::new("cached", "1.0.0")
        .incident("cached", |_| Ok(Cached))
        .service_async("cached", |_| Ok(AsyncCached))
}

#[test]
fn the_encoded_answer_comes_first_and_none_falls_back_to_the_typed_method() {
    let p = adapter()
        .construct(Capability::Incident, "cached", &Config::new())
        .unwrap();
    assert_eq!(
        p.call("incident.list", "null").unwrap(),
        r#"[{"id":"cached"}]"#
    );
    let typed: Incident =
        serde_json::from_str(&p.call("incident.get", r#"{"id":"INC-1"}"#).unwrap()).unwrap();
    assert_eq!(typed.id, "typed INC-1");
    let e = p.call("incident.get", r#"{"id":"gone"}"#).unwrap_err();
    assert_eq!(e.code(), "not_found");
    // Not answered encoded and not implemented: unsupported, as before.
    assert_eq!(
        p.call("incident.query", "{}").unwrap_err().code(),
        "unsupported"
    );
    // Another capability's method is never offered to the provider.
    assert_eq!(
        p.call("service.query", "{}").unwrap_err().code(),
        "bad_request"
    );
}

#[test]
fn asynchronous_providers_answer_encoded_too() {
    let p = adapter()
        .construct(Capability::Service, "cached", &Config::new())
        .unwrap();
    assert_eq!(p.call("service.query", "{}").unwrap(), "[]");
}

#[test]
fn decode_payload_reports_a_bad_payload_as_bad_request() {
    let e = opsorch_plugin_api::decode_payload::<ServiceQuery>(r#"{"limit":"x"}"#).unwrap_err();
    assert_eq!(e.code(), "bad_request");
    assert!(e.to_string().contains("invalid payload: "), "{e}");
}

#[test]
fn the_sdk_s_manifest_says_its_results_are_checked() {
    // Every result is serde-encoded or a `JsonText`: the host may take a
    // library's results without parsing them again.
    let manifest = adapter().manifest();
    assert!(manifest.results_checked);
    let text = serde_json::to_string(&manifest).unwrap();
    assert!(text.contains(r#""resultsChecked":true"#), "{text}");
    // Absent (older SDKs, other implementations): not checked.
    let older: opsorch_plugin_api::protocol::Manifest = serde_json::from_str(
        r#"{"name":"x","version":"1","interfaceVersion":"1.1.0","providers":[]}"#,
    )
    .unwrap();
    assert!(!older.results_checked);
}
