//! Stdio plugin transport (CONTRACT §3). Placeholder until the transport lands.

use std::path::Path;
use std::sync::Arc;

use opsorch_plugin_api::methods::Capability;
use serde_json::{Map, Value};

use crate::provider::Provider;

/// Starts (or prepares to start) the plugin at `path` for `capability`.
/// `from_api` is true when the path came through `POST /providers/{cap}`
/// (directly or via the configuration it stored).
pub fn plugin_provider(
    _capability: Capability,
    _path: &Path,
    _config: &Map<String, Value>,
    _from_api: bool,
) -> Result<Arc<dyn Provider>, String> {
    Err("stdio plugins are not supported yet".into())
}
