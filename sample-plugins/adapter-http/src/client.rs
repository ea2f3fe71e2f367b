//! The outbound HTTP client: hyper's pooled client over rustls (webpki
//! roots plus an optional CA file), the configured authentication, a
//! per-call timeout shortened to the call's deadline, and a response-size
//! limit, with every failure mapped to an SDK error kind.
//!
//! Errors and log lines name the upstream by origin (`scheme://host:port`)
//! only, never by full URL or header, so tokens in paths or headers stay out.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Bytes;
use hyper::header::{HeaderValue, AUTHORIZATION, CONTENT_TYPE, USER_AGENT};
use hyper::{Method, Request, StatusCode};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use opsorch_plugin_api::{CallContext, Error, ErrorKind};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::CertificateDer;

use crate::config::{Auth, HttpSettings};

/// A failed upstream exchange.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    #[error("{origin} is unreachable: {reason}")]
    Unreachable { origin: String, reason: String },
    #[error("{origin} did not answer within {timeout:?}")]
    Timeout { origin: String, timeout: Duration },
    #[error("{origin} answered with more than {limit} bytes")]
    TooLarge { origin: String, limit: usize },
    #[error("{origin} broke off the exchange: {reason}")]
    Broken { origin: String, reason: String },
}

impl From<HttpError> for Error {
    fn from(e: HttpError) -> Error {
        let kind = match e {
            HttpError::Unreachable { .. } => ErrorKind::Unavailable,
            HttpError::Timeout { .. } => ErrorKind::Timeout,
            HttpError::TooLarge { .. } => ErrorKind::Upstream,
            HttpError::Broken { .. } => ErrorKind::Unavailable,
        };
        Error::of_kind(kind, e.to_string())
    }
}

/// Why the client could not be built.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error("config.caFile {path}: {reason}")]
    CaFile { path: String, reason: String },
    #[error("TLS setup failed: {0}")]
    Tls(String),
}

impl From<SetupError> for Error {
    fn from(e: SetupError) -> Error {
        Error::bad_request(e.to_string())
    }
}

/// An answer: status and the whole body (within the size limit).
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub body: Bytes,
}

/// The error for an HTTP status that carries no usable error body:
/// 401/403 → `upstream_auth`, 404 → `not_found`, 429 and 5xx →
/// `upstream_unavailable`, anything else → `upstream_error`.
pub fn status_error(origin: &str, endpoint: &str, status: u16) -> Error {
    let message = format!("{origin} answered {endpoint} with HTTP {status}");
    match status {
        401 | 403 => Error::of_kind(ErrorKind::UpstreamAuth, message),
        404 => Error::not_found(message),
        429 | 500..=599 => Error::of_kind(ErrorKind::Unavailable, message),
        _ => Error::upstream(message),
    }
}

/// A client for one upstream base URL.
#[derive(Clone)]
pub struct HttpClient {
    client: Client<HttpsConnector<HttpConnector>, Full<Bytes>>,
    settings: Arc<HttpSettings>,
    authorization: Option<HeaderValue>,
}

impl fmt::Debug for HttpClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpClient")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl HttpClient {
    /// Builds the client: reads the CA file now, so a bad one fails at
    /// configuration time.
    pub fn new(settings: HttpSettings) -> Result<HttpClient, SetupError> {
        let mut roots = rustls::RootCertStore::empty();
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        if let Some(path) = &settings.ca_file {
            let shown = path.display().to_string();
            let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
                .map_err(|e| SetupError::CaFile {
                    path: shown.clone(),
                    reason: e.to_string(),
                })?
                .collect::<Result<_, _>>()
                .map_err(|e| SetupError::CaFile {
                    path: shown.clone(),
                    reason: e.to_string(),
                })?;
            if certs.is_empty() {
                return Err(SetupError::CaFile {
                    path: shown,
                    reason: "holds no PEM certificate".into(),
                });
            }
            for cert in certs {
                roots.add(cert).map_err(|e| SetupError::CaFile {
                    path: shown.clone(),
                    reason: e.to_string(),
                })?;
            }
        }
        let tls = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .map_err(|e| SetupError::Tls(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_http1()
            .build();
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(60))
            .pool_timer(TokioTimer::new())
            .timer(TokioTimer::new())
            .build(connector);
        let authorization = match &settings.auth {
            Auth::None => None,
            Auth::Bearer(token) => Some(header_value(&format!("Bearer {}", token.expose()))?),
            Auth::Basic { username, password } => {
                let raw = format!("{username}:{}", password.expose());
                Some(header_value(&format!(
                    "Basic {}",
                    base64_encode(raw.as_bytes())
                ))?)
            }
        };
        Ok(HttpClient {
            client,
            settings: Arc::new(settings),
            authorization,
        })
    }

    pub fn settings(&self) -> &HttpSettings {
        &self.settings
    }

    pub fn origin(&self) -> &str {
        self.settings.base.origin()
    }

    /// How long a call with this context may wait: the configured timeout,
    /// or the time left until the call's deadline when that is sooner.
    pub fn timeout_for(&self, context: &CallContext) -> Duration {
        match context.remaining() {
            Some(left) => left.min(self.settings.timeout),
            None => self.settings.timeout,
        }
    }

    /// `GET base + path_and_query`.
    pub async fn get(
        &self,
        context: &CallContext,
        path_and_query: &str,
    ) -> Result<Reply, HttpError> {
        self.send(context, Method::GET, path_and_query, None).await
    }

    /// `POST base + path` with a form body.
    pub async fn post_form(
        &self,
        context: &CallContext,
        path: &str,
        form: String,
    ) -> Result<Reply, HttpError> {
        self.send(
            context,
            Method::POST,
            path,
            Some(("application/x-www-form-urlencoded", form.into_bytes())),
        )
        .await
    }

    /// `POST base + path` with a JSON body.
    pub async fn post_json(
        &self,
        context: &CallContext,
        path: &str,
        json: Vec<u8>,
    ) -> Result<Reply, HttpError> {
        self.send(
            context,
            Method::POST,
            path,
            Some(("application/json", json)),
        )
        .await
    }

    async fn send(
        &self,
        context: &CallContext,
        method: Method,
        path_and_query: &str,
        body: Option<(&'static str, Vec<u8>)>,
    ) -> Result<Reply, HttpError> {
        let origin = self.origin().to_string();
        let timeout = self.timeout_for(context);
        match tokio::time::timeout(timeout, self.exchange(method, path_and_query, body)).await {
            Ok(result) => result,
            Err(_) => Err(HttpError::Timeout { origin, timeout }),
        }
    }

    async fn exchange(
        &self,
        method: Method,
        path_and_query: &str,
        body: Option<(&'static str, Vec<u8>)>,
    ) -> Result<Reply, HttpError> {
        let origin = || self.origin().to_string();
        let uri = self.settings.base.join(path_and_query);
        let mut builder = Request::builder()
            .method(method)
            .uri(uri)
            .header(
                USER_AGENT,
                concat!("opsorch-adapter/", env!("CARGO_PKG_VERSION")),
            )
            .header(hyper::header::ACCEPT, "application/json");
        if let Some(auth) = &self.authorization {
            builder = builder.header(AUTHORIZATION, auth.clone());
        }
        let payload = match body {
            Some((content_type, bytes)) => {
                builder = builder.header(CONTENT_TYPE, content_type);
                Full::new(Bytes::from(bytes))
            }
            None => Full::new(Bytes::new()),
        };
        let request = builder.body(payload).map_err(|e| HttpError::Broken {
            origin: origin(),
            reason: format!("invalid request: {e}"),
        })?;
        let response = self.client.request(request).await.map_err(|e| {
            let reason = chain(&e);
            if e.is_connect() {
                HttpError::Unreachable {
                    origin: origin(),
                    reason,
                }
            } else {
                HttpError::Broken {
                    origin: origin(),
                    reason,
                }
            }
        })?;
        let limit = self.settings.max_response_bytes;
        let announced = response
            .headers()
            .get(hyper::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if announced.is_some_and(|n| n > limit as u64) {
            return Err(HttpError::TooLarge {
                origin: origin(),
                limit,
            });
        }
        let status = response.status();
        let body = Limited::new(response.into_body(), limit)
            .collect()
            .await
            .map_err(|e| {
                if e.downcast_ref::<http_body_util::LengthLimitError>()
                    .is_some()
                {
                    HttpError::TooLarge {
                        origin: origin(),
                        limit,
                    }
                } else {
                    HttpError::Broken {
                        origin: origin(),
                        reason: e.to_string(),
                    }
                }
            })?
            .to_bytes();
        Ok(Reply { status, body })
    }
}

fn header_value(text: &str) -> Result<HeaderValue, SetupError> {
    let mut value = HeaderValue::from_str(text).map_err(|_| {
        SetupError::Tls("credentials contain characters not allowed in an HTTP header".into())
    })?;
    value.set_sensitive(true);
    Ok(value)
}

/// An error and its sources, joined (hyper's top-level message is vague).
fn chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    out
}

/// Standard base64 with padding (for basic auth only).
fn base64_encode(input: &[u8]) -> String {
    const TABLE: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(input.len().div_ceil(3) * 4);
    for chunk in input.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        out.push(TABLE[(n >> 18) as usize & 63] as char);
        out.push(TABLE[(n >> 12) as usize & 63] as char);
        out.push(if chunk.len() > 1 {
            TABLE[(n >> 6) as usize & 63] as char
        } else {
            '='
        });
        out.push(if chunk.len() > 2 {
            TABLE[n as usize & 63] as char
        } else {
            '='
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_rfc4648() {
        for (raw, enc) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
            ("user:pa ss", "dXNlcjpwYSBzcw=="),
        ] {
            assert_eq!(base64_encode(raw.as_bytes()), enc);
        }
    }

    #[test]
    fn statuses_map_to_kinds() {
        assert_eq!(status_error("o", "/x", 401).kind(), ErrorKind::UpstreamAuth);
        assert_eq!(status_error("o", "/x", 403).kind(), ErrorKind::UpstreamAuth);
        assert_eq!(status_error("o", "/x", 404).kind(), ErrorKind::NotFound);
        assert_eq!(status_error("o", "/x", 429).kind(), ErrorKind::Unavailable);
        assert_eq!(status_error("o", "/x", 503).kind(), ErrorKind::Unavailable);
        assert_eq!(status_error("o", "/x", 418).kind(), ErrorKind::Upstream);
    }

    #[test]
    fn a_missing_or_empty_ca_file_is_a_config_error() {
        let mut settings = crate::config::Reader::new(
            &serde_json::from_str(r#"{"url": "https://p.example"}"#).unwrap(),
        )
        .http("url")
        .unwrap();
        settings.ca_file = Some("/nonexistent/ca.pem".into());
        let err = Error::from(HttpClient::new(settings.clone()).unwrap_err());
        assert_eq!(err.kind(), ErrorKind::BadRequest);
        assert!(err.message().contains("/nonexistent/ca.pem"), "{err}");
        let empty =
            std::env::temp_dir().join(format!("opsorch-prom-empty-{}.pem", std::process::id()));
        std::fs::write(&empty, "not a certificate\n").unwrap();
        settings.ca_file = Some(empty.clone());
        let err = Error::from(HttpClient::new(settings).unwrap_err());
        let _ = std::fs::remove_file(&empty);
        assert!(err.message().contains("no PEM certificate"), "{err}");
    }
}
