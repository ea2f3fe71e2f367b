//! What the host decides before a plugin runs: which file to execute (and
//! whether it may), the transport settings from the environment, and the
//! config keys the host consumes instead of sending them to the plugin.
//!
//! Messages are shown to operators (start-up refusals) and API clients
//! (400s). They name the path and the problem, never a config value.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::value::RawValue;
use serde_json::{Map, Value};

use crate::settings::DEFAULT_PLUGIN_TIMEOUT;

/// Config key: how many processes serve the capability (default 1).
pub const PROCESSES_KEY: &str = "processes";
/// Config key: this capability's per-call timeout in milliseconds.
pub const TIMEOUT_KEY: &str = "pluginTimeoutMs";
/// Config key: `false` turns the `plugin.info` probe off.
pub const PROBE_KEY: &str = "pluginInfo";
/// Config key: `false` sends one request at a time per process, as the Go
/// host did, for plugins that cannot read ahead.
pub const PIPELINING_KEY: &str = "pipelining";

/// The largest pool: more processes than this is a typo, not a plan.
pub const MAX_PROCESSES: u64 = 64;

/// The transport's settings, taken from [`crate::settings::Settings`].
#[derive(Debug, Clone)]
pub struct TransportSettings {
    /// Where plugins set through the API may live (`OPSORCH_PLUGIN_DIR`).
    pub plugin_dirs: Vec<PathBuf>,
    /// The default per-call timeout (`OPSORCH_PLUGIN_TIMEOUT_MS`).
    pub call_timeout: Duration,
}

impl Default for TransportSettings {
    fn default() -> Self {
        TransportSettings {
            plugin_dirs: Vec::new(),
            call_timeout: DEFAULT_PLUGIN_TIMEOUT,
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
            Some(Some(n @ 1..=MAX_PROCESSES)) => n as usize,
            Some(_) => {
                let range = format!("from 1 to {MAX_PROCESSES}");
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

/// The file to execute for a plugin path from the environment. Such paths
/// are trusted (whoever sets the environment runs the host), but must name
/// an executable file now rather than fail on the first call. A bare name
/// is looked up in `PATH`, as the Go host's `exec.Command` does.
pub(crate) fn resolve_trusted(path: &Path) -> Result<PathBuf, String> {
    let resolved = if path.components().count() == 1 && !path.is_absolute() {
        search_path(path).ok_or_else(|| {
            format!(
                "plugin `{}` was not found in PATH (give an absolute path)",
                path.display()
            )
        })?
    } else if path.is_relative() {
        std::env::current_dir()
            .map(|cwd| cwd.join(path))
            .unwrap_or_else(|_| path.to_path_buf())
    } else {
        path.to_path_buf()
    };
    check_executable(&resolved)?;
    Ok(resolved)
}

/// The file to execute for a plugin path from the HTTP API: it must resolve,
/// symlinks and `..` included, inside one of `dirs`. The canonical path is
/// what runs, so the file checked is the file executed.
pub(crate) fn resolve_allowlisted(path: &Path, dirs: &[PathBuf]) -> Result<PathBuf, String> {
    if dirs.is_empty() {
        return Err(format!(
            "plugin `{}` refused: plugins can be set through the API only when \
             OPSORCH_PLUGIN_DIR names the directories they may come from",
            path.display()
        ));
    }
    if !path.is_absolute() {
        return Err(format!(
            "plugin `{}` refused: the path must be absolute",
            path.display()
        ));
    }
    let canonical = std::fs::canonicalize(path).map_err(|e| describe_io(path, &e))?;
    let allowed = dirs
        .iter()
        .filter_map(|dir| std::fs::canonicalize(dir).ok())
        .any(|dir| canonical.starts_with(&dir) && canonical != dir);
    if !allowed {
        return Err(format!(
            "plugin `{}` refused: it is not inside a configured plugin directory (OPSORCH_PLUGIN_DIR)",
            path.display()
        ));
    }
    check_executable(&canonical)?;
    Ok(canonical)
}

fn describe_io(path: &Path, err: &std::io::Error) -> String {
    match err.kind() {
        std::io::ErrorKind::NotFound => format!("plugin `{}` does not exist", path.display()),
        std::io::ErrorKind::PermissionDenied => {
            format!(
                "plugin `{}` cannot be accessed (permission denied)",
                path.display()
            )
        }
        _ => format!("plugin `{}` cannot be read: {err}", path.display()),
    }
}

fn check_executable(path: &Path) -> Result<(), String> {
    let meta = std::fs::metadata(path).map_err(|e| describe_io(path, &e))?;
    if !meta.is_file() {
        return Err(format!("plugin `{}` is not a file", path.display()));
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if meta.permissions().mode() & 0o111 == 0 {
            return Err(format!(
                "plugin `{}` is not executable (no execute permission)",
                path.display()
            ));
        }
    }
    Ok(())
}

fn search_path(name: &Path) -> Option<PathBuf> {
    let paths = std::env::var_os("PATH")?;
    std::env::split_paths(&paths)
        .map(|dir| dir.join(name))
        .find(|candidate| check_executable(candidate).is_ok())
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

    #[cfg(unix)]
    #[test]
    fn paths_are_checked_and_allowlisted() {
        use std::os::unix::fs::{symlink, PermissionsExt};

        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("plugins");
        let outside = root.path().join("elsewhere");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::create_dir_all(&outside).unwrap();
        let exe = dir.join("good");
        std::fs::write(&exe, "#!/bin/sh\n").unwrap();
        std::fs::set_permissions(&exe, std::fs::Permissions::from_mode(0o755)).unwrap();
        let plain = dir.join("plain");
        std::fs::write(&plain, "x").unwrap();
        std::fs::set_permissions(&plain, std::fs::Permissions::from_mode(0o644)).unwrap();
        let stranger = outside.join("bad");
        std::fs::write(&stranger, "#!/bin/sh\n").unwrap();
        std::fs::set_permissions(&stranger, std::fs::Permissions::from_mode(0o755)).unwrap();
        let escape = dir.join("escape");
        symlink(&stranger, &escape).unwrap();
        let dirs = [dir.clone()];

        assert_eq!(resolve_trusted(&exe).unwrap(), exe);
        assert!(resolve_trusted(&dir.join("missing"))
            .unwrap_err()
            .contains("does not exist"));
        assert!(resolve_trusted(&plain)
            .unwrap_err()
            .contains("not executable"));
        assert!(resolve_trusted(&dir).unwrap_err().contains("not a file"));
        assert!(
            resolve_trusted(Path::new("sh")).is_ok(),
            "bare names use PATH"
        );
        // Trusted paths may live anywhere.
        assert!(resolve_trusted(&stranger).is_ok());

        let canonical_exe = std::fs::canonicalize(&exe).unwrap();
        assert_eq!(resolve_allowlisted(&exe, &dirs).unwrap(), canonical_exe);
        let dotted = dir.join("..").join("plugins").join("good");
        assert_eq!(resolve_allowlisted(&dotted, &dirs).unwrap(), canonical_exe);
        for refused in [
            &stranger,
            &escape,
            &dir.join("..").join("elsewhere").join("bad"),
        ] {
            let err = resolve_allowlisted(refused, &dirs).unwrap_err();
            assert!(
                err.contains("not inside a configured plugin directory"),
                "{err}"
            );
        }
        assert!(resolve_allowlisted(&plain, &dirs)
            .unwrap_err()
            .contains("not executable"));
        assert!(resolve_allowlisted(&dir.join("nope"), &dirs)
            .unwrap_err()
            .contains("does not exist"));
        assert!(resolve_allowlisted(&exe, &[])
            .unwrap_err()
            .contains("OPSORCH_PLUGIN_DIR"));
        assert!(resolve_allowlisted(Path::new("plugins/good"), &dirs)
            .unwrap_err()
            .contains("absolute"));
        // A sibling whose name merely starts with the directory's is outside.
        let sibling = root.path().join("plugins-evil");
        std::fs::create_dir_all(&sibling).unwrap();
        let evil = sibling.join("x");
        std::fs::write(&evil, "#!/bin/sh\n").unwrap();
        std::fs::set_permissions(&evil, std::fs::Permissions::from_mode(0o755)).unwrap();
        assert!(resolve_allowlisted(&evil, &dirs).is_err());
    }
}
