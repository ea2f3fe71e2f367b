//! No orphans after SIGKILL: a stdio plugin that never reads its stdin (so
//! it would never notice the pipe closing) still ends when the host is
//! killed with SIGKILL, through the parent-death signal the host sets when
//! it spawns plugins.

use std::time::Duration;

use opsorch_e2e::{http, wait_until, Host, TempDir};

use crate::ops_support::{alive, children_of, make_executable, KillOnDrop};

#[test]
fn a_plugin_that_never_reads_stdin_dies_with_a_sigkilled_host() {
    let dir = TempDir::new("orphans");
    let plugin = dir.path().join("deaf.sh");
    // `exec` keeps the pid: the plugin process is `sleep` itself.
    std::fs::write(&plugin, "#!/bin/sh\nexec sleep 300\n").unwrap();
    make_executable(&plugin);
    let mut host = Host::start(&[
        ("OPSORCH_INCIDENT_PLUGIN", plugin.to_str().unwrap()),
        ("OPSORCH_INCIDENT_CONFIG", r#"{"pluginInfo":false}"#),
        ("OPSORCH_PLUGIN_TIMEOUT_MS", "60000"),
    ]);
    let host_pid = host.pid();
    let addr = host.addr;
    // The plugin starts on the first call, which then waits for an answer
    // that never comes.
    std::thread::spawn(move || {
        let _ =
            std::panic::catch_unwind(|| http(addr, "POST", "/incidents/query", &[], Some(b"{}")));
    });
    let mut plugin_pid = None;
    assert!(
        wait_until(Duration::from_secs(20), || {
            plugin_pid = children_of(host_pid).into_iter().next();
            plugin_pid.is_some()
        }),
        "the plugin never started"
    );
    let plugin_pid = plugin_pid.unwrap();
    // Kill it in any case at the end, so a failing run leaves nothing behind.
    let _cleanup = KillOnDrop(plugin_pid);
    assert!(alive(plugin_pid));

    host.kill();
    assert!(
        wait_until(Duration::from_secs(10), || !alive(plugin_pid)),
        "plugin {plugin_pid} outlived the SIGKILLed host"
    );
}
