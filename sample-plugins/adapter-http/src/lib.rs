//! What the sample HTTP adapters (`opsorch-prometheus`, `opsorch-webhook`)
//! share: [`config`] reads the upstream settings (base URL, credentials held
//! as redacted [`config::Secret`]s, CA file, timeout, answer size limit),
//! and [`client`] sends requests with them through the SDK's HTTP client
//! (`opsorch_plugin_api::http`), cutting URL paths out of its errors.

pub mod client;
pub mod config;
