//! `/`, `/health` and `/openapi.json`.

use std::sync::OnceLock;

use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use axum::Router;

use super::reply::{json_response, STATUS_OK};
use super::template::Template;
use crate::providers::state::AppState;

pub fn router() -> Router<AppState> {
    let (root, health_path, openapi_path) = (
        Template("/"),
        Template("/health"),
        Template("/openapi.json"),
    );
    Router::new()
        .route(root.0, get(root.handler(health)))
        .route(health_path.0, get(health_path.handler(health)))
        .route(openapi_path.0, get(openapi_path.handler(openapi)))
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
