//! Stdio plugin transport (README.md, "Stdio plugins"): runs plugin executables written
//! for the Go host, unchanged, and supervises them.
//!
//! # Protocol
//! One JSON object per line each way. Each request is
//! `{"method","config","payload"}` and ends with a newline. `config` is the
//! capability's config minus the keys the host consumes (below). Answers
//! come back in request order: `{"result": …}`, `{"error": {"code","message"}}`,
//! `{"error": "text"}`, or `{}`/`{"result": null}` for no result. An empty
//! error (`""`, or `{"code":"","message":""}` from Go structs without
//! `omitempty`) counts as no error. A missing or `null` result reaches the
//! client as the method's empty value (`[]` for lists). Blank lines are
//! skipped. Parsing rules and their tests are in `wire`.
//!
//! # Lifecycle: checked eagerly, started lazily
//! When a capability is configured (environment at start-up, stored
//! configuration, or `POST /providers/{cap}`) the path is checked at once:
//! it must exist and be executable, or configuration is refused. The file
//! checked is then pinned: every process started for the capability, the
//! first and each restart, runs that file, whatever is renamed over its
//! path later (see `executable`). Then, unless `pluginInfo` is `false`, one
//! short-lived process of it answers the configuration check (`check`:
//! `plugin.info` naming the capability, with the config): a plugin that
//! does not serve the capability, or whose provider refuses the config, is
//! refused like a bad path; one that does not say is accepted as before.
//! The serving process starts on the first call, and the first call starts every
//! process of a pool. That costs nothing for capabilities nobody calls,
//! lets a reconfiguration through the API take effect without spawning
//! anything, and keeps a plugin that is slow to start (or needs the
//! network) from holding up the host's start-up. A plugin that cannot start
//! shows up on its first call and in the log, with its stderr: 502
//! `plugin_crashed` with the exit status when it exits at start (however
//! quickly; see Supervision), 502 `plugin_unavailable` when it cannot be
//! executed at all.
//!
//! One process (or pool) belongs to one capability; the same executable
//! configured for two capabilities runs as separate processes. The secret
//! provider (`OPSORCH_SECRET_PLUGIN`) is a capability like the others.
//!
//! # Pipelining
//! Requests are written as they arrive; the answers are matched to a FIFO
//! of pending calls. Concurrent calls therefore do not each wait a round
//! trip for the one before: a plugin that reads ahead (the SDK's
//! `serve_stdio` does) gets a batch per read and answers it in one write,
//! and a plugin that handles one request at a time still works, because
//! the pipe buffers what it has not read yet. The Go host instead holds a
//! global lock for each round trip. `"pipelining": false` restores one
//! request at a time per process, for plugins that read stdin in chunks and
//! would drop a second request in the same chunk.
//!
//! # Host-consumed config keys (never sent to the plugin)
//! | key | default | meaning |
//! |---|---|---|
//! | `processes` | 1 | processes serving the capability (1–64); each call goes to the one with the fewest calls in flight |
//! | `pluginTimeoutMs` | `OPSORCH_PLUGIN_TIMEOUT_MS`, else 30000 | per-call timeout |
//! | `pipelining` | `true` | `false`: one request at a time per process |
//! | `pluginInfo` | `true` | `false`: do not send the `plugin.info` probe |
//!
//! # Supervision
//! The timeout runs from the moment the call reaches the transport, so time
//! queued behind a slow call counts. Error codes (statuses as the host maps
//! them):
//!
//! | code | status | when |
//! |---|---|---|
//! | `plugin_timeout` | 504 | no answer before the deadline. The process is killed and replaced: its late answer would otherwise answer the next call |
//! | `plugin_restarted` | 502 | the call was in flight on a process killed because another call timed out or it wrote bad output |
//! | `plugin_crashed` | 502 | the process exited or crashed with the call in flight (the message gives the exit status) |
//! | `plugin_bad_output` | 502 | the answer was not a JSON response object, or a line exceeded 64 MiB; the process is replaced |
//! | `plugin_unavailable` | 502 | backing off after repeated failures, the executable could not be started, or the host is shutting down |
//!
//! Nothing waits on a dead process: every pending call is failed the
//! moment its process is declared dead (the error goes out once the process
//! has been reaped, at most 3 s later), and the next call starts a fresh
//! one. A request that never reached a process (it died first) is sent to
//! another; one that did is never resent, as the plugin may have acted on
//! it. A request that never reached a process and that no other process
//! can take (the slot is backing off) gets the error of the process that
//! died, once it is reaped, as if it had reached it: whether a plugin
//! exiting at start read the request first is a race, and the answer does
//! not depend on it. The first restart after a failure is immediate; if the new process
//! fails again before it has answered a call (or stayed up 10 s), starts
//! back off exponentially, 100 ms doubling to 5 s. While backing off, calls
//! fail fast with `plugin_unavailable` and the log says so. A healthy run
//! resets the series. In a pool, each process slot backs off on its own.
//!
//! A client that disconnects, or a host-wide request timeout, abandons its
//! call without harm: the answer still arrives in order and is dropped.
//!
//! # stderr
//! Every line a plugin writes to stderr is logged with target `plugin` and
//! fields `capability`, `plugin` (the path) and `pid`. A leading `ERROR `,
//! `WARN `, `INFO `, `DEBUG ` or `TRACE ` (what the SDK's `log` writes)
//! sets the level; anything else is logged at INFO. Lines are cut at 16 KiB.
//!
//! # Shutdown
//! [`Transport::shutdown`] (called once the HTTP server has drained) closes every
//! plugin's stdin, gives it 2 s to finish and exit, then kills it, and
//! returns once every process has been reaped, so no plugin outlives the
//! host. A provider replaced through `POST /providers/{cap}` stops the same
//! way once its last call has finished. Processes are also spawned with
//! `kill_on_drop`, so a runtime torn down without a shutdown still kills
//! them. Calls still pending when a plugin is killed get
//! `plugin_unavailable`. If the host itself is SIGKILLed, its plugins see
//! stdin close and well-behaved ones (the SDK's included) exit on their own;
//! a plugin stuck without reading stdin then survives it, since ending
//! children on the parent's death (`PR_SET_PDEATHSIG`) needs `unsafe`.
//!
//! # Environment
//! A plugin inherits the host's environment and working directory, as under
//! the Go host, except `OPSORCH_BEARER_TOKEN`, `OPSORCH_SECRET_KEY`,
//! `OPSORCH_SECRET_KEY_FILE`, `OPSORCH_TLS_KEY_FILE` and every
//! `OPSORCH_<CAP>_CONFIG`: a plugin has no use for the API token or the
//! secret store's key, and other adapters' configs hold their credentials
//! (its own config arrives with every request). The host adds
//! `OPSORCH_CALL_TIMEOUT_MS` (`protocol::CALL_TIMEOUT_ENV`), the
//! capability's call timeout in milliseconds, replacing any inherited
//! value: the SDK's stdio server answers `timeout` just before it, so an
//! SDK plugin's slow call ends without the process being killed. On Linux the host is
//! also non-dumpable (`crate::protect_process`), so a plugin running as
//! the same user cannot read those variables from `/proc/<host>/environ`.
//!
//! # Where a plugin may come from
//! Paths from the environment are trusted: whoever sets it runs the host.
//! A bare name is looked up in `PATH`, as Go's `exec.Command` does. Paths
//! that come through `POST /providers/{cap}` (or the stored configuration
//! it wrote) must be absolute and resolve, after canonicalisation (symlinks,
//! `..`), inside a directory of `OPSORCH_PLUGIN_DIR`, and neither the file
//! nor a directory between it and the plugin directory may be writable by
//! group or others or owned by another non-root user. Otherwise the
//! configuration is refused (400), with one answer for every path that is
//! not an existing file inside a plugin directory. From the environment,
//! loose permissions are a warning. A `.so`/`.dylib` is refused from both:
//! adapter libraries are loaded, not executed. `executable` has the rules.
//!
//! # `plugin.info`
//! Besides the configuration check (`check`), each new serving process is
//! first sent `{"method":"plugin.info",…}` (payload `null`), which is
//! never awaited. A plugin built on the SDK answers with its manifest
//! (logged); a Go-era plugin answers with an error, which is logged at
//! DEBUG and otherwise ignored. Real calls are written right behind the
//! probe, so they do not wait for it. It is not sent when pipelining is off.

mod check;
mod executable;
mod live;
mod options;
mod pool;
mod process;
mod wire;

use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;

use opsorch_plugin_api::methods::Capability;
use serde_json::{Map, Value};

pub use options::TransportSettings;

use crate::providers::seam::{BuildError, LaunchedPlugin, PluginLauncher};
use live::Live;
use options::PluginOptions;
use pool::PluginPool;
use process::PluginSpec;

/// The stdio transport of one host: its settings and every plugin process
/// it started. Start-up builds one and hands it to the application state;
/// nothing about it is process-wide, so two hosts in one process (tests)
/// share nothing.
pub struct Transport {
    settings: TransportSettings,
    live: Arc<Live>,
}

impl Transport {
    pub fn new(settings: TransportSettings) -> Arc<Transport> {
        Arc::new(Transport {
            settings,
            live: Arc::default(),
        })
    }

    fn pool(
        &self,
        capability: Capability,
        path: &Path,
        config: &Map<String, Value>,
        from_api: bool,
    ) -> Result<PluginPool, String> {
        let executable = if from_api {
            executable::allowlisted(path, &self.settings.plugin_dirs).map_err(|e| e.to_string())?
        } else {
            let (executable, warnings) = executable::trusted(path).map_err(|e| e.to_string())?;
            for warning in warnings {
                tracing::warn!(capability = %capability, "{warning}; fix its permissions");
            }
            executable
        };
        let options = PluginOptions::from_config(config, self.settings.call_timeout)?;
        let spec = PluginSpec {
            capability,
            executable,
            config: options.plugin_config,
            call_timeout: options.call_timeout,
            probe: options.probe,
            pipelining: options.pipelining,
            metrics: self.settings.metrics.clone(),
        };
        Ok(PluginPool::new(spec, options.processes, self.live.clone()))
    }

    /// Ends every plugin process: stdin closed, a short grace to finish,
    /// then SIGKILL; returns once all are reaped. Later calls fail with
    /// `plugin_unavailable`. Call it after the HTTP server has drained.
    pub async fn shutdown(&self) {
        self.live.shutdown().await
    }
}

impl PluginLauncher for Transport {
    /// The provider for `capability` served by the plugin at `path`.
    ///
    /// `from_api` is true when the path came through `POST /providers/{cap}`
    /// (directly or via the configuration it stored): it must then lie
    /// inside a configured plugin directory. Errors name the path and the
    /// problem (or the config key at fault), never a config value. Unless
    /// the config's `pluginInfo` is `false`, one process runs the
    /// configuration check (`check`) and has ended before this returns;
    /// the serving processes start with the first call.
    fn launch<'a>(
        &'a self,
        capability: Capability,
        path: &'a Path,
        config: &'a Map<String, Value>,
        from_api: bool,
    ) -> Pin<Box<dyn Future<Output = Result<LaunchedPlugin, BuildError>> + Send + 'a>> {
        Box::pin(async move {
            let pool = self
                .pool(capability, path, config, from_api)
                .map_err(BuildError::Invalid)?;
            let providers = if pool.spec().probe {
                check::verdict(pool.spec(), check::run(pool.spec()).await)?
            } else {
                Vec::new()
            };
            Ok(LaunchedPlugin {
                provider: Arc::new(pool),
                providers,
            })
        })
    }

    fn shutdown(&self) -> Pin<Box<dyn Future<Output = ()> + Send + '_>> {
        Box::pin(Transport::shutdown(self))
    }
}

#[cfg(test)]
mod tests;
