//! OpsOrch Core host: the REST API of CONTRACT §1 over pluggable providers.
//!
//! A request passes the [`middleware::gate`] (request ID, CORS, bearer auth,
//! audit), is routed by the table in [`routes::table`], and reaches the
//! provider in effect for its capability ([`state::AppState`]). Providers are
//! built-in, loaded from stable-ABI libraries ([`library`]) or run as stdio
//! plugins ([`stdio`]); configuration comes from the environment
//! ([`config`]) and from choices stored in the secret provider
//! ([`selection`]).
//!
//! [`app`] builds the router without any I/O so tests drive it in process;
//! [`serve`] is the whole start-up path of the binary.

pub mod audit;
mod call_pool;
pub mod config;
pub mod error;
pub mod extract;
pub mod json_secrets;
pub mod library;
pub mod log_writer;
pub mod middleware;
pub mod openapi;
pub mod provider;
pub mod routes;
pub mod selection;
pub mod server;
pub mod startup;
pub mod state;
pub mod stdio;

use axum::Router;

pub use config::{ConfigError, Env, ProcessEnv, Settings};
pub use error::ApiError;
pub use provider::{Provider, ProviderError, ProviderFactory, ProviderFuture, ProviderRegistry};
pub use state::{AppState, HttpSettings};

/// The whole HTTP application for `state`.
pub fn app(state: AppState) -> Router {
    let routes = routes::router(state.clone());
    // The gate wraps the router from outside so that it sees every request
    // (unknown paths included) and can drop a trailing slash before routing.
    Router::new()
        .fallback_service(routes)
        .layer(axum::middleware::from_fn_with_state(
            state,
            middleware::gate,
        ))
}

/// Reads the settings, loads providers and builds the state: everything
/// that may refuse start-up, with no socket opened yet.
pub async fn prepare(env: &dyn Env) -> anyhow::Result<(Settings, AppState)> {
    let settings = Settings::from_env(env)?;
    stdio::configure(stdio::TransportSettings::from_env(
        env,
        &settings.library_dirs,
    )?);
    let mut registry = startup::builtin_registry_with(settings.secret_key.clone());
    library::register_libraries(&settings.library_dirs, &mut registry)?;
    let state = startup::build_state(&settings, registry).await?;
    Ok((settings, state))
}

/// The `serve` command: prepare, listen, serve until SIGTERM/SIGINT.
pub async fn serve(env: &dyn Env) -> anyhow::Result<()> {
    let served = async {
        let (settings, state) = prepare(env).await?;
        server::run(&settings, app(state)).await
    }
    .await;
    // Plugin processes end with the host, whether or not serving failed.
    stdio::shutdown().await;
    served
}

/// Logs to stderr; `RUST_LOG` filters (default `info`). Audit records
/// (target `audit`) are always written as one JSON object per line.
///
/// Lines are written to stderr by a background thread in batches (see
/// [`log_writer`]), so request handlers never wait on the terminal or a
/// pipe for their audit record, and no line is dropped. Keep the returned
/// guard alive until exit: dropping it writes out what is buffered.
pub fn init_logging() -> log_writer::LogGuard {
    use tracing_subscriber::util::SubscriberInitExt;

    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let (writer, guard) = log_writer::spawn(std::io::stderr());
    let _ = log_subscriber(filter, writer).try_init();
    guard
}

/// The subscriber [`init_logging`] installs, writing to `writer`: human
/// lines for everything but audit records, which are flat JSON objects
/// (`request_id`, `actor_type`, `actor_id`, `timestamp`, `action`, …).
pub fn log_subscriber<W>(
    filter: tracing_subscriber::EnvFilter,
    writer: W,
) -> impl tracing::Subscriber + Send + Sync
where
    W: for<'w> tracing_subscriber::fmt::MakeWriter<'w> + Clone + Send + Sync + 'static,
{
    use tracing_subscriber::filter::filter_fn;
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::{fmt, Layer};

    let human = fmt::layer()
        .with_writer(writer.clone())
        .with_ansi(false)
        .with_filter(filter_fn(|meta| meta.target() != audit::TARGET));
    let audit_json = audit::AuditLayer::new(writer)
        .with_filter(filter_fn(|meta| meta.target() == audit::TARGET));
    tracing_subscriber::registry()
        .with(filter)
        .with(human)
        .with(audit_json)
}
