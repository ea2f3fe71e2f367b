//! Start-up: reading the environment into [`Settings`], logging, and
//! building the application state; serving until SIGTERM or a hot swap.
//! The top layer: it may use every other layer, and none of them uses it
//! (see `docs/ARCHITECTURE.md`).

pub mod build;
pub mod check;
pub mod log_writer;
pub mod logging;
pub mod swap;

use std::net::SocketAddr;
use std::sync::Arc;

use crate::builtins::json_secrets::SecretKey;
use crate::http;
use crate::http::admin::{self, Readiness};
use crate::http::audit::AuditLog;
use crate::http::server::{self, Stop};
use crate::metrics::Metrics;
use crate::providers::seam::ProviderRegistry;
use crate::providers::state::AppState;
use crate::settings::FIXED;
use crate::settings::{ConfigError, Env, Settings};
use crate::transports::{library, stdio};

/// Reads the settings, loads providers and builds the state: everything
/// that may refuse start-up, with no socket opened yet. The state owns the
/// stdio transport; [`serve`] shuts it down.
pub async fn prepare(env: &dyn Env) -> anyhow::Result<(Settings, AppState)> {
    let settings = Settings::from_env(env)?;
    let state = prepare_with(&settings, metrics_for(&settings)).await?;
    Ok((settings, state))
}

/// A fresh set of metrics when the admin listener is on (nothing records
/// in a host nobody can scrape).
fn metrics_for(settings: &Settings) -> Option<Arc<Metrics>> {
    settings
        .admin_addr
        .as_ref()
        .map(|_| Arc::new(Metrics::new()))
}

/// [`prepare`] with the settings already read, recording into `metrics`.
pub async fn prepare_with(
    settings: &Settings,
    metrics: Option<Arc<Metrics>>,
) -> anyhow::Result<AppState> {
    let key = settings.secret_key.as_ref().map(SecretKey::new);
    let mut registry = build::builtin_registry_with(key);
    library::register_libraries(&settings.library_dirs, &mut registry, metrics.as_deref())?;
    Ok(state_over(settings, registry, metrics).await?)
}

/// The state `settings` select over `registry`: the providers it holds
/// (start from [`build::builtin_registry`] and add your own), the stdio
/// plugins start-up would run, no metrics; adapter libraries are not
/// loaded. For embedding the host with providers of your own, and for
/// tests. Shut the plugins down with `state.plugins().shutdown()`.
pub async fn build_state(
    settings: &Settings,
    registry: ProviderRegistry,
) -> Result<AppState, ConfigError> {
    state_over(settings, registry, None).await
}

async fn state_over(
    settings: &Settings,
    registry: ProviderRegistry,
    metrics: Option<Arc<Metrics>>,
) -> Result<AppState, ConfigError> {
    let plugins = stdio::Transport::new(stdio::TransportSettings {
        plugin_dirs: settings.library_dirs.clone(),
        call_timeout: settings.plugin_timeout,
        metrics: metrics.clone(),
    });
    match build::resolve(settings, registry, plugins.clone(), metrics).await {
        Ok(state) => Ok(state),
        Err(err) => {
            // A stdio secret store may have started while loading choices.
            plugins.shutdown().await;
            Err(err)
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

/// The `serve` command: the admin listener first (so `/live` answers and
/// `/ready` says 503 while providers are built), then prepare, listen (on
/// `inherited` sockets when there are some), and serve until SIGTERM/SIGINT
/// or until a successor started by SIGHUP has taken over. Audit records go
/// to `audit` (the binary's: `LogGuard::audit_log`).
pub async fn serve(
    env: &dyn Env,
    inherited: swap::Inherited,
    audit: AuditLog,
) -> anyhow::Result<()> {
    // Caught from the start: SIGHUP's default action would end the process.
    let mut hangups = swap::Hangups::install();
    let settings = Settings::from_env(env)?;
    let readiness = Readiness::default();
    let metrics = metrics_for(&settings);
    let (handed_over_tx, handed_over) = tokio::sync::watch::channel(false);

    let admin_listener = match (&settings.admin_addr, inherited.admin) {
        (None, _) => None,
        (Some(_), Some(listener)) => Some(listener),
        (Some(addr), None) => Some(admin::bind(addr)?),
    };
    let admin_for_successor = admin_listener
        .as_ref()
        .map(std::net::TcpListener::try_clone)
        .transpose()?;
    if let Some(listener) = admin_listener {
        let mut handed_over = handed_over.clone();
        // Only a hand-over stops it: on SIGTERM it answers (`/ready`: 503)
        // until the process exits.
        let stop = async move {
            if handed_over.wait_for(|h| *h).await.is_err() {
                std::future::pending::<()>().await;
            }
        };
        // `metrics_for` made a set: the admin address is set.
        let metrics = metrics.clone().unwrap_or_default();
        let admin = admin::serve(listener, readiness.clone(), metrics, stop)?;
        tokio::spawn(async move {
            if let Err(e) = admin.await {
                tracing::error!(error = %e, "admin listener stopped");
            }
        });
    }

    let state = prepare_with(&settings, metrics).await?;
    let served = async {
        let api = match inherited.api {
            Some(listener) => {
                tracing::info!("using the inherited API listener");
                listener
            }
            None => server::bind_std("OPSORCH_ADDR", &settings.addr)?,
        };
        let (binary, args) = swap::Swapper::current_binary()?;
        let swapper = swap::Swapper {
            api: api.try_clone()?,
            admin: admin_for_successor,
            binary,
            args,
            timeout: settings.swap_timeout,
        };
        // A SIGHUP that came while starting asked for a swap of a host
        // that was not serving yet: this start already reads everything new.
        hangups.forget_pending();
        let stop = stop_when(hangups, swapper, readiness.clone(), handed_over_tx);
        let pid_file = settings.pid_file.clone();
        let ready = {
            let readiness = readiness.clone();
            move |_: SocketAddr| {
                if let Some(path) = &pid_file {
                    if let Err(e) = swap::write_pid_file(path) {
                        tracing::warn!(path = %path.display(), error = %e, "cannot write the pid file");
                    }
                }
                readiness.set_ready();
            }
        };
        server::run(&settings, api, http::service(state.clone(), audit), stop, ready).await
    }
    .await;
    readiness.set_draining();
    // Plugin processes end with the host, whether or not serving failed.
    state.plugins().shutdown().await;
    // No call can reach an adapter library any more: stop their runtimes.
    let registry = state.registry().clone();
    let _ = tokio::task::spawn_blocking(move || registry.shutdown(FIXED.library_runtime_stop_wait))
        .await;
    if *handed_over.borrow() {
        tracing::info!("handed over to the successor; exiting");
    } else if let Some(path) = &settings.pid_file {
        swap::remove_pid_file_if_ours(path);
    }
    served
}

/// Resolves when the server must stop: SIGTERM/SIGINT, or a successor
/// reported ready after a SIGHUP. Either way `/ready` turns 503 first.
async fn stop_when(
    hangups: swap::Hangups,
    swapper: swap::Swapper,
    readiness: Readiness,
    handed_over: tokio::sync::watch::Sender<bool>,
) -> Stop {
    let why = tokio::select! {
        _ = server::shutdown_signal() => Stop::Terminate,
        _ = swap::handed_over(hangups, swapper) => Stop::HandOver,
    };
    readiness.set_draining();
    if why == Stop::HandOver {
        let _ = handed_over.send(true);
    }
    why
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use axum::body::Body;
    use axum::http::Request;
    use tower::ServiceExt;

    use super::prepare;
    use crate::providers::state::AppState;

    async fn host(admin_addr: &str) -> AppState {
        let env: HashMap<String, String> =
            [("OPSORCH_ADMIN_ADDR".to_owned(), admin_addr.to_owned())].into();
        prepare(&env).await.unwrap().1
    }

    async fn get_health(state: &AppState) {
        let response = crate::http::app(state.clone())
            .oneshot(Request::get("/health").body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
    }

    fn health_count(state: &AppState) -> Option<String> {
        let text = state.metrics()?.render();
        let series = r#"opsorch_http_requests_total{route="/health",method="GET",status="200"} "#;
        Some(
            text.lines()
                .find_map(|line| line.strip_prefix(series))
                .unwrap_or("none")
                .to_owned(),
        )
    }

    #[tokio::test]
    async fn two_hosts_in_one_process_count_their_own_requests() {
        // The admin listener is never bound here: the address only asks
        // for metrics.
        let a = host("127.0.0.1:9464").await;
        let b = host("127.0.0.1:9464").await;
        let off = host("").await;
        get_health(&a).await;
        get_health(&a).await;
        get_health(&b).await;
        get_health(&off).await;
        assert_eq!(health_count(&a).as_deref(), Some("2"));
        assert_eq!(health_count(&b).as_deref(), Some("1"));
        // A host without an admin listener records nothing.
        assert_eq!(health_count(&off), None);
    }
}
