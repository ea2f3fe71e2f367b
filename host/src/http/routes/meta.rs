//! `/`, `/health` and `/openapi.json`.

use std::sync::OnceLock;

use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use axum::Router;

use super::reply::{json_response, STATUS_OK};
use crate::providers::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(health))
        .route("/health", get(health))
        .route("/openapi.json", get(openapi))
}

async fn health() -> Response {
    json_response(StatusCode::OK, STATUS_OK, None)
}

async fn openapi() -> Response {
    static DOCUMENT: OnceLock<bytes::Bytes> = OnceLock::new();
    let text = DOCUMENT.get_or_init(|| {
        serde_json::to_string(&crate::http::openapi::document())
            .unwrap_or_else(|_| "{}".into())
            .into()
    });
    json_response(StatusCode::OK, text.clone(), None)
}
