//! What the host decides before a plugin runs: the transport settings and
//! the config keys the host consumes instead of sending them to the plugin.
//! Which file runs is decided in `executable`.
//!
//! Messages are shown to operators (start-up refusals) and API clients
//! (400s). They name the config key and the problem, never a config value.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde_json::value::RawValue;
use serde_json::{Map, Value};

use crate::metrics::Metrics;
use crate::settings::{DEFAULT_PLUGIN_TIMEOUT, FIXED};

/// Config key: how many processes serve the capability (default 1).
pub const PROCESSES_KEY: &str = "processes";
/// Config key: this capability's per-call timeout in milliseconds.
pub const TIMEOUT_KEY: &str = "pluginTimeoutMs";
/// Config key: `false` turns the `plugin.info` probe off.
pub const PROBE_KEY: &str = "pluginInfo";
/// Config key: `false` sends one request at a time per process, as the Go
/// host did, for plugins that cannot read ahead.
pub const PIPELINING_KEY: &str = "pipelining";

/// The transport's settings, taken from [`crate::settings::Settings`].
#[derive(Debug, Clone)]
pub struct TransportSettings {
    /// Where plugins set through the API may live (`OPSORCH_PLUGIN_DIR`).
    pub plugin_dirs: Vec<PathBuf>,
    /// The default per-call timeout (`OPSORCH_PLUGIN_TIMEOUT_MS`).
    pub call_timeout: Duration,
    /// Where plugin process events are counted (the host's metrics, when
    /// its admin listener is on).
    pub metrics: Option<Arc<Metrics>>,
}

impl Default for TransportSettings {
    fn default() -> Self {
        TransportSettings {
            plugin_dirs: Vec::new(),
            call_timeout: DEFAULT_PLUGIN_TIMEOUT,
            metrics: None,
        }
    }
}

/// A capability's plugin options: the host-consumed keys, and the rest of
/// the config as it is sent with every request.
#[derive(Debug)]
pub(crate) struct PluginOptions {
    pub processes: usize,
    pub call_timeout: Duration,
    pub probe: bool,
    pub pipelining: bool,
    pub plugin_config: Box<RawValue>,
}

impl PluginOptions {
    pub fn from_config(
        config: &Map<String, Value>,
        default_timeout: Duration,
    ) -> Result<PluginOptions, String> {
        let processes = match config.get(PROCESSES_KEY).map(Value::as_u64) {
            None => 1,
            Some(Some(n)) if (1..=FIXED.plugin_max_processes).contains(&n) => n as usize,
            Some(_) => {
                let range = format!("from 1 to {}", FIXED.plugin_max_processes);
                return Err(format!(
                    "config key `{PROCESSES_KEY}` must be a whole number {range}"
                ));
            }
        };
        let call_timeout = match config.get(TIMEOUT_KEY).map(Value::as_u64) {
            None => default_timeout,
            Some(Some(ms)) if ms > 0 => Duration::from_millis(ms),
            Some(_) => {
                return Err(format!(
                    "config key `{TIMEOUT_KEY}` must be a positive number of milliseconds"
                ));
            }
        };
        let flag = |key: &str| match config.get(key) {
            None => Ok(true),
            Some(Value::Bool(b)) => Ok(*b),
            Some(_) => Err(format!("config key `{key}` must be true or false")),
        };
        let probe = flag(PROBE_KEY)?;
        let pipelining = flag(PIPELINING_KEY)?;
        let mut rest = config.clone();
        for key in [PROCESSES_KEY, TIMEOUT_KEY, PROBE_KEY, PIPELINING_KEY] {
            rest.remove(key);
        }
        let text = serde_json::to_string(&rest).map_err(|e| format!("config: {e}"))?;
        let plugin_config = RawValue::from_string(text).map_err(|e| format!("config: {e}"))?;
        Ok(PluginOptions {
            processes,
            call_timeout,
            probe,
            pipelining,
            plugin_config,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(json: &str) -> Map<String, Value> {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn host_keys_are_consumed_and_the_rest_is_sent() {
        let opts = PluginOptions::from_config(
            &map(r#"{"processes":3,"pluginTimeoutMs":250,"pluginInfo":false,"pipelining":false,"url":"http://x","token":"t"}"#),
            DEFAULT_PLUGIN_TIMEOUT,
        )
        .unwrap();
        assert_eq!(opts.processes, 3);
        assert_eq!(opts.call_timeout, Duration::from_millis(250));
        assert!(!opts.probe && !opts.pipelining);
        assert_eq!(
            opts.plugin_config.get(),
            r#"{"token":"t","url":"http://x"}"#
        );

        let opts = PluginOptions::from_config(&Map::new(), Duration::from_secs(7)).unwrap();
        assert_eq!(opts.processes, 1);
        assert_eq!(opts.call_timeout, Duration::from_secs(7));
        assert!(opts.probe && opts.pipelining);
        assert_eq!(opts.plugin_config.get(), "{}");
    }

    #[test]
    fn bad_host_keys_name_the_key_not_the_value() {
        for bad in [
            r#"{"processes":0}"#,
            r#"{"processes":65}"#,
            r#"{"processes":"3"}"#,
            r#"{"processes":1.5}"#,
            r#"{"pluginTimeoutMs":0}"#,
            r#"{"pluginTimeoutMs":-5}"#,
            r#"{"pluginInfo":"no"}"#,
        ] {
            let err = PluginOptions::from_config(&map(bad), DEFAULT_PLUGIN_TIMEOUT).unwrap_err();
            assert!(err.starts_with("config key `"), "{bad}: {err}");
        }
    }
}
