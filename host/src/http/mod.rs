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

use crate::providers::state::AppState;

/// The whole HTTP application for `state`.
pub fn app(state: AppState) -> Router {
    let routes = routes::router(state.clone());
    // The gate wraps the router from outside so that it sees every request
    // (unknown paths included) and can drop a trailing slash before routing.
    Router::new()
        .fallback_service(routes)
        .layer(axum::middleware::from_fn_with_state(state, gate::gate))
}
