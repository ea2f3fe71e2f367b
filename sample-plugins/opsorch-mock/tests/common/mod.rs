//! Helpers for driving the mock through `ProviderInstance::call` with the
//! contract's JSON payloads, as both transports do.

#![allow(dead_code)]

use opsorch_plugin_api::{Capability, Config, ProviderInstance};
use serde_json::{json, Value};

pub fn config(value: Value) -> Config {
    match value {
        Value::Object(map) => map,
        _ => Config::new(),
    }
}

/// A provider built from the default config.
pub fn mock(capability: Capability) -> ProviderInstance {
    mock_with(capability, json!({}))
}

pub fn mock_with(capability: Capability, cfg: Value) -> ProviderInstance {
    opsorch_mock::adapter()
        .construct(capability, "mock", &config(cfg))
        .unwrap_or_else(|e| panic!("construct {capability}: {e}"))
}

/// Calls `method` and returns the decoded result, panicking on an error.
pub fn call(p: &ProviderInstance, method: &str, payload: Value) -> Value {
    let out = p
        .call(method, &payload.to_string())
        .unwrap_or_else(|e| panic!("{method} {payload}: {e}"));
    serde_json::from_str(&out).expect("result is JSON")
}

/// Calls `method`, expecting an error; returns its code.
pub fn call_err(p: &ProviderInstance, method: &str, payload: Value) -> String {
    match p.call(method, &payload.to_string()) {
        Ok(out) => panic!("{method} {payload} succeeded: {out}"),
        Err(e) => e.code().to_string(),
    }
}

pub fn list(p: &ProviderInstance, method: &str, payload: Value) -> Vec<Value> {
    match call(p, method, payload) {
        Value::Array(items) => items,
        other => panic!("{method} returned {other}"),
    }
}

pub fn ids(items: &[Value]) -> Vec<String> {
    items.iter().map(|i| s(&i["id"])).collect()
}

pub fn s(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_string()
}
