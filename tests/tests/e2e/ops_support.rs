//! Helpers for the `ops_*` topics (admin listener, metrics, Prometheus,
//! hot swap, CLI, orphans). No tests here.

use std::path::Path;
use std::time::Duration;

/// Whether `tool` is on PATH. Under `CI=true` a missing tool fails the
/// test (CI installs it: `scripts/ci-ops`); elsewhere the test says loudly
/// that it skips that part.
pub fn need_tool(tool: &str, from: &str) -> bool {
    let found = std::env::var_os("PATH")
        .map(|paths| std::env::split_paths(&paths).any(|dir| dir.join(tool).is_file()))
        .unwrap_or(false);
    if found {
        return true;
    }
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("{tool} is not installed ({from}); scripts/ci-ops installs it");
    }
    eprintln!("SKIPPED part of this test: {tool} is not installed ({from}); run scripts/ci-ops");
    false
}

/// Every routed capability from the mock library in `plugins`.
pub fn mock_env(plugins: &str) -> Vec<(&'static str, String)> {
    let mut env = vec![("OPSORCH_PLUGIN_DIR", plugins.to_owned())];
    for cap in [
        "INCIDENT",
        "ALERT",
        "LOG",
        "METRIC",
        "TICKET",
        "MESSAGING",
        "SERVICE",
        "DEPLOYMENT",
        "TEAM",
        "ORCHESTRATION",
    ] {
        let var: &'static str = Box::leak(format!("OPSORCH_{cap}_PROVIDER").into_boxed_str());
        env.push((var, "mock".to_owned()));
    }
    env
}

/// Borrows an owned environment list the way `Host::start` takes it.
pub fn as_env<'a>(owned: &'a [(&'static str, String)]) -> Vec<(&'a str, &'a str)> {
    owned.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

pub fn make_executable(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// Whether a process with this pid exists (and is not a zombie).
pub fn alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => {
            // The state follows the parenthesised command name.
            let state = stat.rsplit_once(')').map(|(_, rest)| rest.trim_start());
            !matches!(state.and_then(|s| s.chars().next()), Some('Z') | Some('X'))
        }
        Err(_) => false,
    }
}

/// The pids whose parent is `parent`.
pub fn children_of(parent: u32) -> Vec<u32> {
    let mut kids = Vec::new();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return kids;
    };
    for entry in entries.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        let ppid = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().nth(1))
            .and_then(|p| p.parse::<u32>().ok());
        if ppid == Some(parent) && alive(pid) {
            kids.push(pid);
        }
    }
    kids
}

/// Sends `signal` (e.g. `-HUP`) to `pid`.
pub fn signal(pid: u32, signal: &str) {
    let _ = std::process::Command::new("kill")
        .args([signal, &pid.to_string()])
        .status();
}

/// SIGKILLs a pid when dropped (for processes the harness does not own).
pub struct KillOnDrop(pub u32);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if alive(self.0) {
            signal(self.0, "-KILL");
            let _ = opsorch_e2e::wait_until(Duration::from_secs(5), || !alive(self.0));
        }
    }
}

/// A child process of the test, SIGKILLed and reaped when dropped.
pub struct OwnedChild(pub std::process::Child);

impl Drop for OwnedChild {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
