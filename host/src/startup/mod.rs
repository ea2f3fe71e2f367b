//! Start-up: reading the environment into [`Settings`], logging, and
//! building the application state. The top layer: it may use every other
//! layer, and none of them uses it (see `docs/ARCHITECTURE.md`).

pub mod build;
pub mod log_writer;
pub mod logging;

use crate::http;
use crate::transports::{library, stdio};

use crate::providers::state::AppState;
use crate::settings::{Env, Settings};

/// Reads the settings, loads providers and builds the state: everything
/// that may refuse start-up, with no socket opened yet.
pub async fn prepare(env: &dyn Env) -> anyhow::Result<(Settings, AppState)> {
    let settings = Settings::from_env(env)?;
    stdio::configure(stdio::TransportSettings::from_env(
        env,
        &settings.library_dirs,
    )?);
    let mut registry = build::builtin_registry_with(settings.secret_key.clone());
    library::register_libraries(&settings.library_dirs, &mut registry)?;
    let state = build::build_state(&settings, registry).await?;
    Ok((settings, state))
}

/// The `serve` command: prepare, listen, serve until SIGTERM/SIGINT.
pub async fn serve(env: &dyn Env) -> anyhow::Result<()> {
    let served = async {
        let (settings, state) = prepare(env).await?;
        http::server::run(&settings, http::app(state)).await
    }
    .await;
    // Plugin processes end with the host, whether or not serving failed.
    stdio::shutdown().await;
    served
}
