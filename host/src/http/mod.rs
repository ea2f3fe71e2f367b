//! The HTTP layer: the server and its listener, the request gate, audit
//! records, API errors, body decoding, the routes and the OpenAPI document.
//! It uses the providers layer and nothing above it.

pub mod admin;
pub mod audit;
pub mod browser_guard;
pub mod context;
pub mod error;
pub mod extract;
pub mod gate;
pub mod openapi;
pub mod routes;
pub mod server;

use axum::Router;

use crate::http::audit::AuditLog;
use crate::providers::state::AppState;

/// The whole HTTP application for `state`, as the server serves it: the
/// router inside the request gate, which writes audit records to `audit`.
/// The gate wraps the router from outside so that it sees every request
/// (unknown paths included) and can drop a trailing slash before routing.
pub fn service(state: AppState, audit: AuditLog) -> gate::Gate {
    let routes = routes::router(state.clone());
    gate::Gate::new(state, routes, audit)
}

/// The whole HTTP application for `state` as an axum `Router` (for tests
/// and embedding; `service` without the outer router's dispatch). Audit
/// records go through `tracing` (target `audit`), as the subscriber of
/// [`crate::log_subscriber`] writes them.
pub fn app(state: AppState) -> Router {
    Router::new().fallback_service(service(state, AuditLog::default()))
}
