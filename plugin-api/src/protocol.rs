//! Wire types shared by every transport, and nothing else.
//!
//! The stdio framing is compatible with existing OpsOrch plugins: one JSON
//! object per line in each direction, responses in request order. The payload
//! shapes below are what every provider method receives, whichever transport
//! carries it (stable-ABI library or stdio process).

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

/// Extension method (not in the Go protocol): a plugin that knows it answers
/// with its [`Manifest`]. Plugins that answer with an error are treated
/// exactly as before.
///
/// Its payload is `null`, or a [`PluginInfoPayload`] naming a capability:
/// the plugin then also builds its provider for that capability from the
/// request's config and reports the outcome in [`Manifest::config_check`]
/// (the host's configuration check, see docs/PROTOCOL.md).
pub const PLUGIN_INFO_METHOD: &str = "plugin.info";

/// The environment variable in which the host tells a stdio plugin its
/// per-call timeout, in milliseconds (the capability's `pluginTimeoutMs`,
/// else the host's `OPSORCH_PLUGIN_TIMEOUT_MS`, else 30000). The host sets
/// it for every process it starts; the wire format does not change, and
/// plugins that do not know it ignore it. The SDK's stdio server arms each
/// call's deadline from it (see docs/PROTOCOL.md, "Call deadline").
pub const CALL_TIMEOUT_ENV: &str = "OPSORCH_CALL_TIMEOUT_MS";

/// The payload of a `plugin.info` request that asks for a config check.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PluginInfoPayload {
    /// The capability whose provider should be built from the config.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capability: Option<String>,
}

/// Whether a plugin's provider for a capability accepts a config: part of
/// the answer to a `plugin.info` that named the capability.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfigCheck {
    /// The capability asked about.
    pub capability: String,
    /// The provider constructor's error; absent when the config is
    /// accepted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<WireError>,
}

/// One request line written to a stdio plugin.
#[derive(Debug, Serialize)]
pub struct StdioRequest<'a> {
    pub method: &'a str,
    pub config: &'a RawValue,
    pub payload: &'a RawValue,
}

/// One request line as a plugin reads it.
#[derive(Debug, Deserialize)]
pub struct IncomingRequest {
    pub method: String,
    #[serde(default)]
    pub config: Option<Box<RawValue>>,
    #[serde(default)]
    pub payload: Option<Box<RawValue>>,
}

/// One response line. Existing plugins omit `result` when it is empty and
/// may send `error` as a plain string; both are accepted.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct StdioResponse {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<Box<RawValue>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<WireError>,
}

/// A provider error on the wire: `{"code","message"}` or a bare string.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum WireError {
    Object {
        #[serde(default, skip_serializing_if = "String::is_empty")]
        code: String,
        #[serde(default)]
        message: String,
    },
    Text(String),
}

impl WireError {
    /// The error code; empty when the plugin gave none.
    pub fn code(&self) -> &str {
        match self {
            WireError::Object { code, .. } => code,
            WireError::Text(_) => "",
        }
    }

    pub fn message(&self) -> &str {
        match self {
            WireError::Object { message, .. } => message,
            WireError::Text(message) => message,
        }
    }
}

/// What a library or plugin says about itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Manifest {
    pub name: String,
    pub version: String,
    pub interface_version: String,
    pub providers: Vec<ProviderEntry>,
    /// Only in the answer to a `plugin.info` whose payload names a
    /// capability, from plugins that check configs (SDK 1.1 and later).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_check: Option<ConfigCheck>,
    /// Every result the adapter returns is one JSON value by construction
    /// (set by the SDK since interface 1.2: results are serde-encoded or a
    /// [`crate::JsonText`]). The host then takes a library's results without
    /// parsing them again; without it (older libraries, hand-written ones)
    /// it checks each result. Stdio answers are parsed anyway.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub results_checked: bool,
}

/// One (capability, provider name) pair a library offers.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ProviderEntry {
    pub capability: String,
    pub name: String,
}

/// `*.get` and `incident.timeline.get`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct IdPayload {
    pub id: String,
}

/// `incident.update`, `ticket.update`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UpdatePayload<T> {
    pub id: String,
    pub input: T,
}

/// `incident.timeline.append`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TimelineAppendPayload<T> {
    pub id: String,
    pub entry: T,
}

/// `team.members`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TeamMembersPayload {
    #[serde(rename = "teamID")]
    pub team_id: String,
}

/// `orchestration.plans.get`, `orchestration.runs.start`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PlanIdPayload {
    #[serde(rename = "planId")]
    pub plan_id: String,
}

/// `orchestration.runs.get`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunIdPayload {
    #[serde(rename = "runId")]
    pub run_id: String,
}

/// `orchestration.runs.steps.complete`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CompleteStepPayload {
    #[serde(rename = "runId")]
    pub run_id: String,
    #[serde(rename = "stepId")]
    pub step_id: String,
    #[serde(default)]
    pub actor: String,
    #[serde(default)]
    pub note: String,
}

/// `secret.get`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SecretGetPayload {
    pub key: String,
}

/// `secret.put`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SecretPutPayload {
    pub key: String,
    pub value: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_every_error_shape() {
        let r: StdioResponse = serde_json::from_str(r#"{"error":"boom"}"#).unwrap();
        assert_eq!(r.error.as_ref().unwrap().message(), "boom");
        assert_eq!(r.error.as_ref().unwrap().code(), "");
        let r: StdioResponse =
            serde_json::from_str(r#"{"error":{"code":"not_found","message":"nope"}}"#).unwrap();
        assert_eq!(r.error.as_ref().unwrap().code(), "not_found");
        let r: StdioResponse = serde_json::from_str("{}").unwrap();
        assert!(r.result.is_none() && r.error.is_none());
        let r: StdioResponse = serde_json::from_str(r#"{"result":null}"#).unwrap();
        assert!(r.result.is_none());
    }
}
