//! The request gate every request passes through, matched route or not.
//!
//! In order: pick the request ID (a client's only when it is safe to log
//! and echo, [`is_safe_request_id`]), drop a trailing slash, answer
//! `OPTIONS`, refuse browsers on a host without a token
//! ([`browser_guard`]), check the bearer token, refuse a `Content-Length`
//! over the body limit (413 at once, before any of the body is read), run
//! the router under the request timeout (504 `request_timeout` when it runs
//! out); then stamp CORS headers and
//! `X-Request-ID` on the response (errors and 404s included), log failures,
//! and emit the audit record of a successful call.

use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, StatusCode, Uri};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use subtle::ConstantTimeEq;

use crate::http::audit::{self, AuditAction};
use crate::http::browser_guard::{self, BrowserRefusal};
use crate::http::context::RequestContext;
use crate::http::error::{ApiError, LoggedError};
use crate::metrics;
use crate::providers::seam::{CallInfo, CALL_INFO};
use crate::providers::state::AppState;

/// The header carrying the request ID, in both directions.
pub static X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Where a client's request ID may come from, first present wins.
const REQUEST_ID_HEADERS: [&str; 4] = [
    "x-request-id",
    "x-amzn-trace-id",
    "x-correlation-id",
    "x-trace-id",
];

/// The middleware itself; installed by [`crate::app`].
pub async fn gate(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let started = Instant::now();
    let request_id = REQUEST_ID_HEADERS
        .iter()
        .find_map(|name| req.headers().get(*name))
        .filter(|v| is_safe_request_id(v.as_bytes()))
        .cloned()
        .unwrap_or_else(generate_request_id);
    let request_id_text = String::from_utf8_lossy(request_id.as_bytes()).into_owned();
    trim_trailing_slash(&mut req);
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let context = RequestContext::from_headers(request_id_text.clone(), req.headers());

    let browser_check = match state.http().bearer_token {
        // With a token, the token decides: a web page cannot attach it.
        Some(_) => Ok(()),
        None => browser_guard::check(state.http(), req.headers()),
    };
    let mut response = if method == axum::http::Method::OPTIONS {
        StatusCode::OK.into_response()
    } else if let Err(refusal) = browser_check {
        match refusal {
            BrowserRefusal::Origin => ApiError::OriginNotAllowed,
            BrowserRefusal::Host => ApiError::HostNotAllowed,
        }
        .into_response()
    } else if !authorized(state.http().bearer_token.as_deref(), req.headers()) {
        ApiError::Unauthorized.into_response()
    } else if announced_length(req.headers())
        .is_some_and(|n| n > state.http().max_body_bytes as u64)
    {
        // Bodies without a length (chunked) are cut off at the limit while
        // they are read; one announced too large is refused before a byte of
        // it is read, so the client is not kept sending it.
        ApiError::PayloadTooLarge.into_response()
    } else {
        req.extensions_mut().insert(context.clone());
        let limit = state.http().request_timeout;
        // Transports that pass the request on to adapters read this.
        let call = CallInfo {
            deadline: started.checked_add(limit),
            request_id: context.request_id.clone(),
            actor: context.actor_id.clone(),
        };
        match CALL_INFO
            .scope(call, tokio::time::timeout(limit, next.run(req)))
            .await
        {
            Ok(response) => response,
            // The handler's future is dropped: a provider call running on a
            // blocking thread finishes there, and its result is discarded.
            Err(_) => ApiError::RequestTimeout(limit.as_millis()).into_response(),
        }
    };

    let origin = HeaderValue::from_str(&state.http().cors_origin)
        .unwrap_or_else(|_| HeaderValue::from_static("*"));
    let headers = response.headers_mut();
    headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_HEADERS,
        HeaderValue::from_static("Content-Type, Authorization"),
    );
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static("GET,POST,PATCH,OPTIONS"),
    );
    headers.insert(X_REQUEST_ID.clone(), request_id);

    let status = response.status();
    if let Some(m) = metrics::recording() {
        let route = match response.extensions().get::<MatchedPath>() {
            Some(path) => metrics::Route::Template(path.clone()),
            None => metrics::Route::Unmatched,
        };
        m.http_request(
            route,
            metrics::method_label(&method),
            status.as_u16(),
            started.elapsed(),
        );
    }
    let elapsed_ms = started.elapsed().as_millis() as u64;
    if let Some(err) = response.extensions().get::<LoggedError>() {
        // A 501 is a configuration state, not a failure of this request.
        if status.is_server_error() && status != StatusCode::NOT_IMPLEMENTED {
            tracing::warn!(request_id = %request_id_text, %method, %path, status = status.as_u16(),
                code = %err.code, error = %err.message, elapsed_ms, "request failed");
        } else {
            tracing::info!(request_id = %request_id_text, %method, %path, status = status.as_u16(),
                code = %err.code, error = %err.message, elapsed_ms, "request rejected");
        }
    } else {
        tracing::debug!(request_id = %request_id_text, %method, %path, status = status.as_u16(),
            elapsed_ms, "request served");
    }
    if status.is_success() {
        if let Some(AuditAction(action)) = response.extensions().get::<AuditAction>() {
            audit::record(&context, action);
        }
    }
    response
}

/// The `Content-Length` the client announced, if it is a number.
fn announced_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse().ok())
}

/// The longest request ID taken from a client.
pub const MAX_REQUEST_ID_LEN: usize = 128;

/// Whether a client's request ID may be used (and echoed): 1 to
/// [`MAX_REQUEST_ID_LEN`] characters, each an ASCII letter, digit or one of
/// `-_.:;=/+@`. That covers UUIDs, W3C and AWS trace IDs, and leaves out
/// spaces, quotes and every control character, so an ID can carry no
/// forged log field. Any other ID is replaced by a generated one and never
/// echoed.
pub fn is_safe_request_id(id: &[u8]) -> bool {
    (1..=MAX_REQUEST_ID_LEN).contains(&id.len())
        && id
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.:;=/+@".contains(b))
}

fn generate_request_id() -> HeaderValue {
    let id = uuid::Uuid::new_v4();
    // A hyphenated UUID is always a valid header value.
    HeaderValue::from_str(&id.hyphenated().to_string())
        .unwrap_or_else(|_| HeaderValue::from_static("unknown"))
}

/// `/incidents/` is `/incidents`; `/` stays `/`.
fn trim_trailing_slash(req: &mut Request) {
    let path = req.uri().path();
    if path.len() <= 1 || !path.ends_with('/') {
        return;
    }
    let trimmed = path.trim_end_matches('/');
    let trimmed = if trimmed.is_empty() { "/" } else { trimmed };
    let new = match req.uri().query() {
        Some(q) => format!("{trimmed}?{q}"),
        None => trimmed.to_owned(),
    };
    let mut parts = req.uri().clone().into_parts();
    if let Ok(pq) = new.parse() {
        parts.path_and_query = Some(pq);
        if let Ok(uri) = Uri::from_parts(parts) {
            *req.uri_mut() = uri;
        }
    }
}

/// Whether the request may pass: no token configured, or `Authorization:
/// Bearer <token>` with the right token, compared in constant time.
fn authorized(expected: Option<&str>, headers: &HeaderMap) -> bool {
    let Some(expected) = expected else {
        return true;
    };
    let Some(given) = headers
        .get(header::AUTHORIZATION)
        .map(HeaderValue::as_bytes)
    else {
        return false;
    };
    let Some(token) = given
        .get(..7)
        .filter(|scheme| scheme.eq_ignore_ascii_case(b"bearer "))
        .map(|_| &given[7..])
    else {
        return false;
    };
    token.ct_eq(expected.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn bearer_tokens() {
        assert!(authorized(None, &HeaderMap::new()));
        assert!(!authorized(Some("t0k"), &HeaderMap::new()));
        assert!(authorized(
            Some("t0k"),
            &headers(&[("authorization", "Bearer t0k")])
        ));
        assert!(authorized(
            Some("t0k"),
            &headers(&[("authorization", "bearer t0k")])
        ));
        assert!(!authorized(
            Some("t0k"),
            &headers(&[("authorization", "Bearer t0")])
        ));
        assert!(!authorized(
            Some("t0k"),
            &headers(&[("authorization", "Bearer t0kk")])
        ));
        // The scheme is case-insensitive, the token is not.
        for wrong_case in ["T0K", "t0K", "T0k"] {
            assert!(
                !authorized(
                    Some("t0k"),
                    &headers(&[("authorization", &format!("Bearer {wrong_case}"))])
                ),
                "{wrong_case}"
            );
        }
        assert!(!authorized(
            Some("Secret-Token"),
            &headers(&[("authorization", "Bearer secret-token")])
        ));
        assert!(authorized(
            Some("Secret-Token"),
            &headers(&[("authorization", "BEARER Secret-Token")])
        ));
        assert!(!authorized(
            Some("t0k"),
            &headers(&[("authorization", "Basic t0k")])
        ));
        assert!(!authorized(
            Some("t0k"),
            &headers(&[("authorization", "t0k")])
        ));
    }

    #[test]
    fn request_ids() {
        for good in [
            "a",
            "123e4567-e89b-12d3-a456-426614174000",
            "Root=1-5e1b4151;Parent=53995c3f",
            "x@y/z+w",
        ] {
            assert!(is_safe_request_id(good.as_bytes()), "{good}");
        }
        let long = "a".repeat(MAX_REQUEST_ID_LEN + 1);
        for bad in [
            "",
            "a b",
            "a\tb",
            "a\"b",
            "a,b",
            "é",
            long.as_str(),
            "a\u{1b}[31m",
        ] {
            assert!(!is_safe_request_id(bad.as_bytes()), "{bad:?}");
        }
    }
}
