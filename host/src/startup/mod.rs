//! Start-up: reading the environment into [`Settings`], logging, and
//! building the application state. The top layer: it may use every other
//! layer, and none of them uses it (see `docs/ARCHITECTURE.md`).

pub mod build;
pub mod log_writer;
pub mod logging;

use crate::builtins::json_secrets::SecretKey;
use crate::http;
use crate::providers::state::AppState;
use crate::settings::{Env, Settings};
use crate::transports::{library, stdio};

/// Reads the settings, loads providers and builds the state: everything
/// that may refuse start-up, with no socket opened yet. The state owns the
/// stdio transport; [`serve`] shuts it down.
pub async fn prepare(env: &dyn Env) -> anyhow::Result<(Settings, AppState)> {
    let settings = Settings::from_env(env)?;
    let key = settings.secret_key.as_ref().map(SecretKey::new);
    let mut registry = build::builtin_registry_with(key);
    library::register_libraries(&settings.library_dirs, &mut registry)?;
    let plugins = stdio::Transport::new(stdio::TransportSettings {
        plugin_dirs: settings.library_dirs.clone(),
        call_timeout: settings.plugin_timeout,
    });
    match build::build_state(&settings, registry, plugins.clone()).await {
        Ok(state) => Ok((settings, state)),
        Err(err) => {
            // A stdio secret store may have started while loading choices.
            plugins.shutdown().await;
            Err(err.into())
        }
    }
}

/// Makes the host's memory and `/proc/<pid>/environ` unreadable to other
/// processes of the same user, plugins included (`PR_SET_DUMPABLE` 0, as
/// ssh-agent does): they hold the bearer token, the secret key and every
/// capability's config. It also turns off core dumps of the host. A process
/// with `CAP_SYS_PTRACE` (root, usually) still reads them; see
/// docs/SECURITY.md. Linux only; a no-op elsewhere.
pub fn protect_process() {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    if let Err(e) =
        rustix::process::set_dumpable_behavior(rustix::process::DumpableBehavior::NotDumpable)
    {
        tracing::warn!(error = %e, "cannot make the host non-dumpable; plugins running as the same user can read its environment");
    }
}

/// The `serve` command: prepare, listen, serve until SIGTERM/SIGINT.
pub async fn serve(env: &dyn Env) -> anyhow::Result<()> {
    let (settings, state) = prepare(env).await?;
    let served = http::server::run(&settings, http::service(state.clone())).await;
    // Plugin processes end with the host, whether or not serving failed.
    state.plugins().shutdown().await;
    served
}
