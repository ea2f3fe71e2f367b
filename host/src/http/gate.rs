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

use std::borrow::Cow;
use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, HttpBody};
use axum::http::{self, header, HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::future::RouteFuture;
use axum::Router;
use bytes::Bytes;
use pin_project_lite::pin_project;
use subtle::ConstantTimeEq;
use tokio::task::futures::TaskLocalFuture;
use tokio::time::{Instant, Sleep};
use tower_service::Service;

use crate::http::audit::{AuditAction, AuditLog};
use crate::http::browser_guard::{self, BrowserRefusal};
use crate::http::context::{actor_text, CallerHeaders, RequestContext};
use crate::http::error::{ApiError, LoggedError};
use crate::http::routes::RouteTemplate;
use crate::metrics::{self, Metrics};
use crate::providers::seam::{CallInfo, CALL_INFO};
use crate::providers::state::AppState;
use crate::settings::FIXED;

/// The header carrying the request ID, in both directions.
pub static X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The gate around the router: a tower service that [`crate::http::service`]
/// builds and the server serves (and [`crate::app`] wraps in a `Router`).
///
/// Hand-written rather than `axum::middleware::from_fn`, which boxes the
/// whole middleware future and a clone of the inner service for every
/// request, and needed an outer `Router` (a second routing pass) to see
/// requests before routing: with the request timeout armed only when a
/// route waits, this took the host's `/health` from ~31k to ~20k
/// instructions per request (callgrind; the minimal axum server of
/// `tools/minimal-axum` needs ~13k), see docs/BENCHMARKS.md. Per-request
/// work that needs the response (metrics, logs, audit) belongs in its
/// `finish`.
#[derive(Clone)]
pub struct Gate(Arc<GateInner>);

struct GateInner {
    state: AppState,
    /// `Access-Control-Allow-Origin`, parsed once.
    cors_origin: HeaderValue,
    /// The state's metrics, taken once: no lookup per request.
    metrics: Option<Arc<Metrics>>,
    /// Where the records of successful calls go.
    audit: AuditLog,
    routes: Router,
}

impl Gate {
    /// The gate of `routes` (already given `state`), writing audit records
    /// to `audit`.
    pub fn new(state: AppState, routes: Router, audit: AuditLog) -> Self {
        // A static value (the default `*`) is copied into each response
        // without touching a reference count shared by every request.
        let cors_origin = match state.http().cors_origin.as_str() {
            "*" => HeaderValue::from_static("*"),
            origin => {
                HeaderValue::from_str(origin).unwrap_or_else(|_| HeaderValue::from_static("*"))
            }
        };
        let metrics = state.metrics().cloned();
        Gate(Arc::new(GateInner {
            state,
            cors_origin,
            metrics,
            audit,
            routes,
        }))
    }
}

/// What the gate keeps of a request until its response is known: enough
/// to stamp the response, log it and write its audit record. Header values
/// are reference-counted clones; the texts are made only when needed. It
/// holds no clone of the gate: every request would increment and decrement
/// the one reference count all connections share.
struct Admitted {
    cors_origin: HeaderValue,
    request_timeout: Duration,
    /// The host's metrics, when it records them.
    metrics: Option<Arc<Metrics>>,
    audit: AuditLog,
    started: Instant,
    request_id: HeaderValue,
    method: Method,
    uri: Uri,
    actor_type: &'static str,
    actor_id: Option<HeaderValue>,
}

impl<B> Service<http::Request<B>> for Gate
where
    B: HttpBody<Data = Bytes> + Send + 'static,
    B::Error: Into<axum::BoxError>,
{
    type Response = Response;
    type Error = Infallible;
    type Future = GateFuture;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: http::Request<B>) -> GateFuture {
        let mut req = req.map(Body::new);
        let started = Instant::now();
        let inner = &*self.0;
        let http = inner.state.http();
        let caller = CallerHeaders::scan(req.headers());
        let request_id = caller
            .request_id
            .filter(|v| is_safe_request_id(v.as_bytes()))
            .cloned()
            .unwrap_or_else(generate_request_id);
        let actor_type = caller.actor_type;
        let actor_id = caller.actor_id.cloned();
        trim_trailing_slash(&mut req);
        let admitted = Admitted {
            cors_origin: inner.cors_origin.clone(),
            request_timeout: http.request_timeout,
            metrics: inner.metrics.clone(),
            audit: inner.audit.clone(),
            started,
            request_id,
            method: req.method().clone(),
            uri: req.uri().clone(),
            actor_type,
            actor_id,
        };

        let browser_check = match http.bearer_token {
            // With a token, the token decides: a web page cannot attach it.
            Some(_) => Ok(()),
            None => browser_guard::check(http, req.headers()),
        };
        let early = if req.method() == Method::OPTIONS {
            Some(StatusCode::OK.into_response())
        } else if let Err(refusal) = browser_check {
            Some(
                match refusal {
                    BrowserRefusal::Origin => ApiError::OriginNotAllowed,
                    BrowserRefusal::Host => ApiError::HostNotAllowed,
                }
                .into_response(),
            )
        } else if !authorized(http.bearer_token.as_deref(), req.headers()) {
            Some(ApiError::Unauthorized.into_response())
        } else if announced_length(req.headers()).is_some_and(|n| n > http.max_body_bytes as u64) {
            // Bodies without a length (chunked) are cut off at the limit
            // while they are read; one announced too large is refused
            // before a byte of it is read, so the client is not kept
            // sending it.
            Some(ApiError::PayloadTooLarge.into_response())
        } else {
            None
        };
        let stage = match early {
            Some(response) => Stage::Answered {
                response: Some(response),
            },
            None => {
                // Transports that pass the request on to adapters read this.
                let call = CallInfo::new(
                    started.into_std().checked_add(http.request_timeout),
                    admitted.request_id.clone(),
                    admitted.actor_id.clone(),
                );
                Stage::Routing {
                    route: CALL_INFO.scope(call, self.0.routes.clone().call(req)),
                    timer: None,
                }
            }
        };
        GateFuture {
            stage,
            admitted: Some(admitted),
        }
    }
}

pin_project! {
    /// The response future of [`Gate`].
    pub struct GateFuture {
        #[pin]
        stage: Stage,
        admitted: Option<Admitted>,
    }
}

pin_project! {
    #[project = StageProj]
    enum Stage {
        Answered { response: Option<Response> },
        Routing {
            // The route runs with the request's `CallInfo` in scope.
            #[pin]
            route: TaskLocalFuture<CallInfo, RouteFuture<Infallible>>,
            // The request timeout, armed only once the route has to wait:
            // most requests never do, and a timer costs a heap entry and
            // the timer wheel's lock to arm and to cancel.
            timer: Option<Pin<Box<Sleep>>>,
        },
    }
}

impl Future for GateFuture {
    type Output = Result<Response, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        let response = match this.stage.as_mut().project() {
            StageProj::Answered { response } => response.take(),
            StageProj::Routing { route, timer } => match route.poll(cx) {
                Poll::Ready(Ok(response)) => Some(response),
                Poll::Ready(Err(never)) => match never {},
                Poll::Pending => {
                    let Some(admitted) = this.admitted.as_ref() else {
                        return Poll::Pending;
                    };
                    let limit = admitted.request_timeout;
                    let timer = timer.get_or_insert_with(|| {
                        Box::pin(tokio::time::sleep_until(admitted.started + limit))
                    });
                    if timer.as_mut().poll(cx).is_pending() {
                        return Poll::Pending;
                    }
                    // The route's future is dropped: a provider call running
                    // on a blocking thread finishes there, and its result is
                    // discarded.
                    this.stage.set(Stage::Answered { response: None });
                    Some(ApiError::RequestTimeout(limit.as_millis()).into_response())
                }
            },
        };
        let (Some(response), Some(admitted)) = (response, this.admitted.take()) else {
            // Polled again after completion.
            return Poll::Pending;
        };
        Poll::Ready(Ok(finish(admitted, response)))
    }
}

/// Stamps CORS headers and the request ID on the response, logs failures
/// and writes the audit record of a successful call.
fn finish(admitted: Admitted, mut response: Response) -> Response {
    let Admitted {
        cors_origin,
        request_timeout: _,
        metrics,
        audit,
        started,
        request_id,
        method,
        uri,
        actor_type,
        actor_id,
    } = admitted;
    let headers = response.headers_mut();
    headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, cors_origin);
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_HEADERS,
        HeaderValue::from_static("Content-Type, Authorization"),
    );
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static("GET,POST,PATCH,OPTIONS"),
    );
    let request_id_text = || logged_request_id(&request_id);

    let status = response.status();
    if let Some(m) = &metrics {
        let route = match response.extensions().get::<RouteTemplate>() {
            Some(RouteTemplate(path)) => metrics::Route::Template(path),
            None => metrics::Route::Unmatched,
        };
        m.http_request(
            route,
            metrics::method_label(&method),
            status.as_u16(),
            started.elapsed(),
        );
    }
    let path = uri.path();
    let elapsed_ms = || started.elapsed().as_millis() as u64;
    if let Some(err) = response.extensions().get::<LoggedError>() {
        // A 501 is a configuration state, not a failure of this request.
        if status.is_server_error() && status != StatusCode::NOT_IMPLEMENTED {
            tracing::warn!(request_id = %request_id_text(), %method, %path, status = status.as_u16(),
                code = %err.code, error = %err.message, elapsed_ms = elapsed_ms(), "request failed");
        } else {
            tracing::info!(request_id = %request_id_text(), %method, %path, status = status.as_u16(),
                code = %err.code, error = %err.message, elapsed_ms = elapsed_ms(), "request rejected");
        }
    } else {
        tracing::debug!(request_id = %request_id_text(), %method, %path, status = status.as_u16(),
            elapsed_ms = elapsed_ms(), "request served");
    }
    if status.is_success() {
        if let Some(AuditAction(action)) = response.extensions().get::<AuditAction>() {
            let request_id = request_id_text();
            let context = RequestContext {
                request_id: &request_id,
                actor_type,
                actor_id: actor_id
                    .as_ref()
                    .and_then(|v| actor_text(v))
                    .unwrap_or("unknown"),
            };
            audit.record(&context, action);
        }
    }
    response
        .headers_mut()
        .insert(X_REQUEST_ID.clone(), request_id);
    response
}

/// The request ID as the log and the audit record write it: the header's
/// text, borrowed. The ID is generated or passed [`is_safe_request_id`], so
/// it is visible ASCII and `to_str` takes it as it is; any other value
/// (none reaches here) would be converted lossily, as it always was.
fn logged_request_id(request_id: &HeaderValue) -> Cow<'_, str> {
    match request_id.to_str() {
        Ok(text) => Cow::Borrowed(text),
        Err(_) => String::from_utf8_lossy(request_id.as_bytes()),
    }
}

/// The `Content-Length` the client announced, if it is a number.
fn announced_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse().ok())
}

/// Whether a client's request ID may be used (and echoed): 1 to
/// `FIXED.max_request_id_len` characters, each an ASCII letter, digit or one of
/// `-_.:;=/+@`. That covers UUIDs, W3C and AWS trace IDs, and leaves out
/// spaces, quotes and every control character, so an ID can carry no
/// forged log field. Any other ID is replaced by a generated one and never
/// echoed.
pub fn is_safe_request_id(id: &[u8]) -> bool {
    (1..=FIXED.max_request_id_len).contains(&id.len())
        && id
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.:;=/+@".contains(b))
}

/// A random (v4) UUID for a request that brings no ID.
///
/// uuid's `fast-rng` feature draws it from `rand`'s thread-local generator
/// (ChaCha, seeded from the OS), not from one `getrandom` system call per
/// request; it is formatted on the stack.
pub fn generate_request_id() -> HeaderValue {
    let id = uuid::Uuid::new_v4();
    let mut buffer = uuid::Uuid::encode_buffer();
    let text = id.hyphenated().encode_lower(&mut buffer);
    // A hyphenated UUID is always a valid header value.
    HeaderValue::from_str(text).unwrap_or_else(|_| HeaderValue::from_static("unknown"))
}

/// `/incidents/` is `/incidents`; `/` stays `/`.
fn trim_trailing_slash(req: &mut http::Request<Body>) {
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
    use crate::http::context::headers;

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
        let long = "a".repeat(FIXED.max_request_id_len + 1);
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

    /// The text the log and the audit record write for a request ID is what
    /// the lossy conversion gave, for a generated ID, for every kind of
    /// client ID the gate keeps, and for a value only the fallback takes.
    #[test]
    fn logged_request_id_is_the_lossy_text() {
        let lossy = |id: &HeaderValue| String::from_utf8_lossy(id.as_bytes()).into_owned();
        let generated = generate_request_id();
        assert_eq!(logged_request_id(&generated), lossy(&generated));
        assert!(matches!(logged_request_id(&generated), Cow::Borrowed(_)));
        assert_eq!(logged_request_id(&generated).len(), 36);
        let longest = "a".repeat(FIXED.max_request_id_len);
        for given in [
            "a",
            "123e4567-e89b-12d3-a456-426614174000",
            "Root=1-5e1b4151;Parent=53995c3f",
            "x@y/z+w",
            "-_.:;=/+@",
            longest.as_str(),
        ] {
            let id = HeaderValue::from_str(given).unwrap();
            assert!(is_safe_request_id(id.as_bytes()), "{given}");
            assert_eq!(logged_request_id(&id), given);
            assert_eq!(logged_request_id(&id), lossy(&id));
        }
        // Not valid as `to_str` text: UTF-8 beyond ASCII and a lone byte
        // that is no UTF-8 at all; both come out as the lossy text did.
        for bytes in [&b"caf\xc3\xa9"[..], &b"caf\xe9"[..]] {
            let id = HeaderValue::from_bytes(bytes).unwrap();
            assert!(id.to_str().is_err());
            assert_eq!(logged_request_id(&id), lossy(&id));
        }
        assert_eq!(
            logged_request_id(&HeaderValue::from_bytes(b"caf\xe9").unwrap()),
            "caf\u{fffd}"
        );
    }
}
