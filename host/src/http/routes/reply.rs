//! Building JSON responses, with the audit action the request gate reads.

use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;

use crate::http::audit::AuditAction;

/// The body of `/health` and of every call whose result is only success.
pub(super) const STATUS_OK: &str = r#"{"status":"ok"}"#;

/// A JSON response, with its audit action for the request gate.
pub(super) fn json_response(
    status: axum::http::StatusCode,
    body: impl Into<Bytes>,
    audit: Option<&'static str>,
) -> Response {
    let mut response = (
        status,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        body.into(),
    )
        .into_response();
    if let Some(action) = audit {
        response.extensions_mut().insert(AuditAction(action));
    }
    response
}
