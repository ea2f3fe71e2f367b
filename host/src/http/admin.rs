//! The admin listener: `GET /metrics`, `GET /live` and `GET /ready` on
//! `OPSORCH_ADMIN_ADDR` (default `127.0.0.1:9464`, off when empty).
//!
//! It is a listener of its own, apart from the API, so that probes and
//! Prometheus need no API token and are not published with the API. It
//! starts before the providers are built: `/live` answers 200 as soon as
//! the process runs, `/ready` answers 503 until [`Readiness::set_ready`],
//! and 503 again once the host drains ([`Readiness::set_draining`]).

use std::future::Future;
use std::io::Write;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;

use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use tokio::net::TcpListener;

use crate::http::server;
use crate::metrics::Metrics;
use crate::settings::{ConfigError, ServerLimits};

/// The variable naming the admin address.
pub const ADDR_VAR: &str = "OPSORCH_ADMIN_ADDR";

const STARTING: u8 = 0;
const READY: u8 = 1;
const DRAINING: u8 = 2;

/// Whether the host should get traffic: starting, ready, or draining.
#[derive(Clone, Default)]
pub struct Readiness(Arc<AtomicU8>);

impl Readiness {
    /// Every configured provider is built and the API listens.
    pub fn set_ready(&self) {
        let _ = self
            .0
            .compare_exchange(STARTING, READY, Ordering::AcqRel, Ordering::Acquire);
    }

    /// The host stops taking traffic; there is no way back.
    pub fn set_draining(&self) {
        self.0.store(DRAINING, Ordering::Release);
    }

    pub fn is_ready(&self) -> bool {
        self.0.load(Ordering::Acquire) == READY
    }

    fn state(&self) -> &'static str {
        match self.0.load(Ordering::Acquire) {
            STARTING => "starting",
            READY => "ready",
            _ => "draining",
        }
    }
}

/// Binds the admin address (from `Settings::admin_addr`). An address in
/// use (or any other bind failure) refuses start-up with one line naming
/// `OPSORCH_ADMIN_ADDR`.
pub fn bind(addr: &str) -> Result<std::net::TcpListener, ConfigError> {
    server::bind_std(ADDR_VAR, addr)
}

/// Serves the admin routes on `listener` (bound or inherited) until
/// `stop` resolves; `/metrics` renders `metrics` (the host's, which its
/// state records into). Logs a WARN when the
/// address is not loopback, and prints `OPSORCH_ADMIN_LISTENING <addr>` on
/// stdout before it returns the serving future.
pub fn serve(
    listener: std::net::TcpListener,
    readiness: Readiness,
    metrics: Arc<Metrics>,
    stop: impl Future<Output = ()> + Send + 'static,
) -> Result<impl Future<Output = anyhow::Result<()>>, ConfigError> {
    let fail = |e: std::io::Error| ConfigError::new(ADDR_VAR, format!("cannot serve: {e}"));
    let listener = TcpListener::from_std(listener).map_err(fail)?;
    let addr = listener.local_addr().map_err(fail)?;
    warn_if_exposed(addr);
    tracing::info!("admin listener on {addr}: /metrics, /live, /ready");
    {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "OPSORCH_ADMIN_LISTENING {addr}");
        let _ = out.flush();
    }
    Ok(server::serve_until_shutdown(
        listener,
        None,
        ServerLimits::default(),
        router(readiness, metrics),
        stop,
    ))
}

/// Logs a WARN when the admin listener is reachable beyond this machine.
pub fn warn_if_exposed(addr: SocketAddr) {
    if !addr.ip().is_loopback() {
        tracing::warn!(
            "admin listener on {addr} is not loopback: /metrics, /live and /ready need no token, \
             so anyone who can reach it can read the metrics; publish only the API port, or set \
             {ADDR_VAR}=127.0.0.1:9464"
        );
    }
}

/// The admin routes.
pub fn router(readiness: Readiness, metrics: Arc<Metrics>) -> Router {
    Router::new()
        .route(
            "/metrics",
            get(move |headers: HeaderMap| {
                let metrics = metrics.clone();
                async move { serve_metrics(&metrics, &headers) }
            }),
        )
        .route("/live", get(live))
        .route(
            "/ready",
            get(move || {
                let readiness = readiness.clone();
                async move { ready(&readiness) }
            }),
        )
        .fallback(|| async { (StatusCode::NOT_FOUND, "not found\n") })
}

async fn live() -> &'static str {
    "live\n"
}

fn ready(readiness: &Readiness) -> Response {
    let state = readiness.state();
    let status = if readiness.is_ready() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, format!("{state}\n")).into_response()
}

/// The Prometheus text format, or OpenMetrics when the scraper asks for it.
fn serve_metrics(m: &Metrics, headers: &HeaderMap) -> Response {
    let wants_openmetrics = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("application/openmetrics-text"));
    let (body, kind) = if wants_openmetrics {
        (
            m.render_openmetrics(),
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )
    } else {
        (m.render(), "text/plain; version=0.0.4; charset=utf-8")
    };
    (
        [(header::CONTENT_TYPE, HeaderValue::from_static(kind))],
        body,
    )
        .into_response()
}
