//! The outbound HTTP client for adapters (feature `http`).
//!
//! Every adapter talks to its vendor API the same way: hyper's pooled client
//! over rustls (the webpki roots, plus an optional CA file), on the
//! adapter's runtime, with the call's deadline applied, a limit on the size
//! of answers, and upstream failures mapped to the SDK's error kinds:
//!
//! | upstream outcome | error kind (code) | HTTP status the host answers |
//! |---|---|---|
//! | 401, 403 | `UpstreamAuth` (`upstream_auth`) | 502 |
//! | 404 | `NotFound` (`not_found`) | 404 |
//! | 429, 5xx | `Unavailable` (`upstream_unavailable`) | 502 |
//! | other 3xx/4xx | `Upstream` (`upstream_error`) | 502 |
//! | no answer before the deadline or the request timeout | `Timeout` (`timeout`) | 504 |
//! | connection refused or reset, TLS failure, not HTTP | `Unavailable` (`upstream_unavailable`) | 502 |
//! | answer larger than the limit, or invalid JSON | `Upstream` (`upstream_error`) | 502 |
//!
//! Error messages name the method and origin (`scheme://host[:port]`) of the
//! request, never its path, query string, credentials or the upstream's
//! body: error messages reach API clients and logs, and some vendors put a
//! secret in the path (a chat webhook's token). Log the endpoint yourself
//! if you need it.
//!
//! ```no_run
//! # async fn example(context: &opsorch_plugin_api::CallContext) -> opsorch_plugin_api::Result<()> {
//! use opsorch_plugin_api::http::HttpClient;
//! use std::time::Duration;
//!
//! // Build one client per provider (in its constructor) and reuse it:
//! // connections are pooled.
//! let client = HttpClient::builder()
//!     .timeout(Duration::from_secs(10))
//!     .build()?;
//! let alerts: serde_json::Value = client
//!     .get("https://alertmanager.example.com/api/v2/alerts")
//!     .bearer_auth("token")
//!     .send_json(context)
//!     .await?;
//! let _created: serde_json::Value = client
//!     .post("https://tickets.example.com/api/issues")
//!     .basic_auth("user", "password")
//!     .json(&serde_json::json!({"title": "Disk full"}))?
//!     .send_json(context)
//!     .await?;
//! # Ok(()) }
//! ```

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::header::{HeaderName, HeaderValue, AUTHORIZATION, CONTENT_LENGTH, CONTENT_TYPE};
use hyper::http::uri::{Authority, Scheme};
use hyper::{HeaderMap, Method, StatusCode, Uri};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::context::CallContext;
use crate::error::Error;
use crate::sdk::{Config, Result};

/// The default limit on the size of an answer's body: 8 MiB.
pub const DEFAULT_MAX_RESPONSE_BYTES: usize = 8 * 1024 * 1024;
/// The default timeout of one request (the call's deadline may be sooner).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// The default timeout for establishing a connection.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Builds an [`HttpClient`].
#[derive(Debug, Clone)]
pub struct HttpClientBuilder {
    ca_file: Option<std::path::PathBuf>,
    timeout: Duration,
    connect_timeout: Duration,
    max_response_bytes: usize,
    pool_idle_timeout: Duration,
    default_headers: Vec<(String, String)>,
}

impl Default for HttpClientBuilder {
    fn default() -> Self {
        HttpClientBuilder {
            ca_file: None,
            timeout: DEFAULT_TIMEOUT,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            max_response_bytes: DEFAULT_MAX_RESPONSE_BYTES,
            pool_idle_timeout: Duration::from_secs(90),
            default_headers: Vec::new(),
        }
    }
}

impl HttpClientBuilder {
    /// Trusts the PEM certificates in `path` in addition to the webpki roots.
    pub fn ca_file(mut self, path: impl Into<std::path::PathBuf>) -> Self {
        self.ca_file = Some(path.into());
        self
    }

    /// The timeout of each request unless [`Request::timeout`] sets another
    /// (default 30 s). The call's deadline applies too, whichever is sooner.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The timeout for establishing a connection (default 5 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// The largest answer body accepted (default 8 MiB); larger answers are
    /// an `upstream_error` and are not read further.
    pub fn max_response_bytes(mut self, bytes: usize) -> Self {
        self.max_response_bytes = bytes;
        self
    }

    /// How long an idle pooled connection is kept (default 90 s).
    pub fn pool_idle_timeout(mut self, timeout: Duration) -> Self {
        self.pool_idle_timeout = timeout;
        self
    }

    /// A header sent with every request (an API key, a user agent, …).
    pub fn default_header(mut self, name: &str, value: &str) -> Self {
        self.default_headers
            .push((name.to_string(), value.to_string()));
        self
    }

    /// Builds the client. A CA file that cannot be read or holds no
    /// certificate, or an invalid default header, is `bad_request`.
    pub fn build(self) -> Result<HttpClient> {
        let mut roots = rustls::RootCertStore::empty();
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        if let Some(path) = &self.ca_file {
            add_ca_file(&mut roots, path)?;
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| Error::internal(format!("TLS setup failed: {e}")))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_connect_timeout(Some(self.connect_timeout));
        http.set_nodelay(true);
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_http1()
            .wrap_connector(http);
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(self.pool_idle_timeout)
            .pool_timer(hyper_util::rt::TokioTimer::new())
            .build(connector);
        let mut headers = HeaderMap::new();
        for (name, value) in &self.default_headers {
            let name = HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| Error::bad_request(format!("invalid header name {name:?}")))?;
            let value = HeaderValue::from_str(value)
                .map_err(|_| Error::bad_request(format!("invalid value for header {name}")))?;
            headers.append(name, value);
        }
        Ok(HttpClient {
            inner: Arc::new(Inner {
                client,
                timeout: self.timeout,
                max_response_bytes: self.max_response_bytes,
                headers,
            }),
        })
    }
}

fn add_ca_file(roots: &mut rustls::RootCertStore, path: &Path) -> Result<()> {
    let shown = path.display();
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| Error::bad_request(format!("cannot read CA file {shown}: {e}")))?;
    let mut added = 0;
    for cert in certs {
        let cert = cert.map_err(|e| Error::bad_request(format!("invalid CA file {shown}: {e}")))?;
        roots
            .add(cert)
            .map_err(|e| Error::bad_request(format!("invalid certificate in {shown}: {e}")))?;
        added += 1;
    }
    if added == 0 {
        return Err(Error::bad_request(format!(
            "CA file {shown} holds no certificate"
        )));
    }
    Ok(())
}

struct Inner {
    client: Client<HttpsConnector<HttpConnector>, Full<Bytes>>,
    timeout: Duration,
    max_response_bytes: usize,
    headers: HeaderMap,
}

/// A pooled HTTP/1.1 client (HTTPS and plain HTTP). Cheap to clone; build
/// one per provider and keep it.
#[derive(Clone)]
pub struct HttpClient {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for HttpClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpClient")
            .field("timeout", &self.inner.timeout)
            .field("max_response_bytes", &self.inner.max_response_bytes)
            .finish()
    }
}

impl HttpClient {
    /// A builder with the defaults.
    pub fn builder() -> HttpClientBuilder {
        HttpClientBuilder::default()
    }

    /// A client configured from a provider config's optional keys:
    /// `caFile` (path of extra PEM roots), `timeoutMs` (request timeout)
    /// and `maxResponseBytes`. Wrong types are `bad_request`.
    pub fn from_config(config: &Config) -> Result<HttpClient> {
        let mut builder = HttpClient::builder();
        if let Some(v) = config.get("caFile") {
            let path = v
                .as_str()
                .ok_or_else(|| Error::bad_request("config.caFile must be a string"))?;
            builder = builder.ca_file(path);
        }
        if let Some(v) = config.get("timeoutMs") {
            let ms = v
                .as_u64()
                .ok_or_else(|| Error::bad_request("config.timeoutMs must be a positive integer"))?;
            builder = builder.timeout(Duration::from_millis(ms));
        }
        if let Some(v) = config.get("maxResponseBytes") {
            let bytes = v.as_u64().ok_or_else(|| {
                Error::bad_request("config.maxResponseBytes must be a positive integer")
            })?;
            builder = builder.max_response_bytes(usize::try_from(bytes).unwrap_or(usize::MAX));
        }
        builder.build()
    }

    /// A GET request.
    pub fn get(&self, url: &str) -> Request {
        self.request(Method::GET, url)
    }

    /// A POST request.
    pub fn post(&self, url: &str) -> Request {
        self.request(Method::POST, url)
    }

    /// A request with any method.
    pub fn request(&self, method: Method, url: &str) -> Request {
        Request {
            client: self.clone(),
            method,
            uri: url
                .parse::<Uri>()
                // The URL may hold credentials: never quote it.
                .map_err(|_| Error::bad_request("invalid upstream URL")),
            headers: self.inner.headers.clone(),
            body: Bytes::new(),
            timeout: None,
            error: None,
        }
    }
}

/// One request being built. Nothing is sent until [`Request::send`].
pub struct Request {
    client: HttpClient,
    method: Method,
    uri: Result<Uri>,
    headers: HeaderMap,
    body: Bytes,
    timeout: Option<Duration>,
    error: Option<Error>,
}

impl Request {
    /// Adds a header. An invalid name or value fails the request with
    /// `bad_request` when it is sent.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        match (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            (Ok(name), Ok(mut value)) => {
                if name == AUTHORIZATION {
                    value.set_sensitive(true);
                }
                self.headers.append(name, value);
            }
            _ => {
                self.error
                    .get_or_insert(Error::bad_request(format!("invalid header {name:?}")));
            }
        }
        self
    }

    /// `Authorization: Bearer <token>`.
    pub fn bearer_auth(self, token: &str) -> Self {
        self.header(AUTHORIZATION.as_str(), &format!("Bearer {token}"))
    }

    /// `Authorization: Basic <base64(user:password)>`.
    pub fn basic_auth(self, user: &str, password: &str) -> Self {
        let encoded =
            base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
        self.header(AUTHORIZATION.as_str(), &format!("Basic {encoded}"))
    }

    /// A JSON body (`Content-Type: application/json`).
    pub fn json<T: Serialize + ?Sized>(self, body: &T) -> Result<Self> {
        let bytes = serde_json::to_vec(body)
            .map_err(|e| Error::internal(format!("encoding the request body: {e}")))?;
        Ok(self.body(bytes, "application/json"))
    }

    /// A body of any type.
    pub fn body(mut self, body: impl Into<Bytes>, content_type: &str) -> Self {
        self.body = body.into();
        self.header(CONTENT_TYPE.as_str(), content_type)
    }

    /// The timeout of this request (instead of the client's).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Sends the request and reads the whole answer. Statuses other than
    /// 2xx are errors, mapped as the [module documentation](self) says.
    pub async fn send(self, context: &CallContext) -> Result<Response> {
        let target = self.target();
        let response = self.exchange(&target, context).await?;
        checked(response, &target)
    }

    /// Sends the request and decodes a 2xx answer's body as JSON.
    pub async fn send_json<T: DeserializeOwned>(self, context: &CallContext) -> Result<T> {
        let target = self.target();
        let response = checked(self.exchange(&target, context).await?, &target)?;
        serde_json::from_slice(&response.body).map_err(|e| {
            Error::upstream(format!(
                "{target} answered invalid JSON (line {}, column {})",
                e.line(),
                e.column()
            ))
        })
    }

    /// Sends the request and returns the answer whatever its status; only
    /// transport failures, timeouts and the size limit are errors.
    pub async fn send_any_status(self, context: &CallContext) -> Result<Response> {
        let target = self.target();
        self.exchange(&target, context).await
    }

    /// [`Request::send_any_status`], with the request's [`Target`] made once
    /// by the caller, which may need it again for the status.
    async fn exchange(self, what: &Target, context: &CallContext) -> Result<Response> {
        if let Some(error) = self.error {
            return Err(error);
        }
        let uri = self.uri?;
        let inner = &self.client.inner;
        let timeout = self.timeout.unwrap_or(inner.timeout);
        let mut deadline = Instant::now() + timeout;
        if let Some(call_deadline) = context.deadline() {
            deadline = deadline.min(call_deadline);
        }
        let mut request = hyper::Request::new(Full::new(self.body));
        *request.method_mut() = self.method;
        *request.uri_mut() = uri;
        *request.headers_mut() = self.headers;
        let max = inner.max_response_bytes;
        let exchange = async {
            let response = inner
                .client
                .request(request)
                .await
                .map_err(|e| transport_error(what, &e))?;
            let (parts, body) = response.into_parts();
            if let Some(length) = parts
                .headers
                .get(CONTENT_LENGTH)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<u64>().ok())
            {
                if length > max as u64 {
                    return Err(too_large(what, max));
                }
            }
            let body = Limited::new(body, max)
                .collect()
                .await
                .map_err(|e| {
                    if e.downcast_ref::<http_body_util::LengthLimitError>()
                        .is_some()
                    {
                        too_large(what, max)
                    } else {
                        Error::unavailable(format!("{what}: the answer broke off"))
                    }
                })?
                .to_bytes();
            Ok(Response {
                status: parts.status,
                headers: parts.headers,
                body,
            })
        };
        match tokio::time::timeout_at(deadline.into(), exchange).await {
            Ok(result) => result,
            Err(_) => Err(Error::timeout(format!("{what} did not answer in time"))),
        }
    }

    /// What error messages call this request.
    fn target(&self) -> Target {
        Target::of(&self.method, self.uri.as_ref().ok())
    }
}

/// A request as error messages name it: its method and `scheme://host[:port]`,
/// with no credentials, no path (it may hold a token, as webhook URLs do)
/// and no query. It holds cheap copies of the parts and is formatted only
/// when a message is written, not on every request.
struct Target {
    method: Method,
    /// `None` for a URL that did not parse.
    origin: Option<(Option<Scheme>, Option<Authority>)>,
}

impl Target {
    fn of(method: &Method, uri: Option<&Uri>) -> Target {
        Target {
            method: method.clone(),
            origin: uri.map(|uri| (uri.scheme().cloned(), uri.authority().cloned())),
        }
    }
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let Some((scheme, authority)) = &self.origin else {
            return write!(f, "{} (invalid URL)", self.method);
        };
        let scheme = scheme.as_ref().map_or("http", Scheme::as_str);
        let host = authority.as_ref().map_or("", Authority::host);
        match authority.as_ref().and_then(Authority::port_u16) {
            Some(port) => write!(f, "{} {scheme}://{host}:{port}", self.method),
            None => write!(f, "{} {scheme}://{host}", self.method),
        }
    }
}

/// `response` when its status is 2xx, otherwise the error for its status.
fn checked(response: Response, target: &Target) -> Result<Response> {
    if response.status.is_success() {
        return Ok(response);
    }
    match status_error(response.status, &target.to_string()) {
        Some(error) => Err(error),
        None => Ok(response),
    }
}

/// A complete answer.
#[derive(Debug, Clone)]
pub struct Response {
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
}

impl Response {
    pub fn status(&self) -> u16 {
        self.status.as_u16()
    }

    /// A header's value, when present and text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn bytes(&self) -> &Bytes {
        &self.body
    }

    /// The body as text (invalid UTF-8 replaced).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body decoded as JSON; invalid JSON is `upstream_error`.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T> {
        serde_json::from_slice(&self.body)
            .map_err(|e| Error::upstream(format!("upstream answered invalid JSON: {e}")))
    }
}

/// The error for a non-2xx status, `None` for 2xx.
pub fn status_error(status: StatusCode, what: &str) -> Option<Error> {
    let code = status.as_u16();
    match code {
        200..=299 => None,
        401 | 403 => Some(Error::upstream_auth(format!(
            "{what} was refused ({code}): check the provider's credentials"
        ))),
        404 => Some(Error::not_found(format!("{what} answered 404 Not Found"))),
        429 => Some(Error::unavailable(format!(
            "{what} answered 429 Too Many Requests"
        ))),
        500..=599 => Some(Error::unavailable(format!("{what} answered {status}"))),
        _ => Some(Error::upstream(format!("{what} answered {status}"))),
    }
}

fn too_large(what: &Target, max: usize) -> Error {
    Error::upstream(format!(
        "{what} answered more than the {max}-byte response limit"
    ))
}

fn transport_error(what: &Target, error: &hyper_util::client::legacy::Error) -> Error {
    use std::error::Error as _;
    let reason = if error.is_connect() {
        "cannot connect"
    } else if error
        .source()
        .and_then(|s| s.downcast_ref::<hyper::Error>())
        .is_some_and(|e| e.is_parse() || e.is_parse_status())
    {
        "the answer is not valid HTTP"
    } else {
        "the connection failed"
    };
    Error::unavailable(format!("{what}: {reason}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_map_to_kinds() {
        use crate::ErrorKind as K;
        let kind = |code: u16| {
            status_error(StatusCode::from_u16(code).unwrap(), "GET x").map(|e| e.kind())
        };
        assert_eq!(kind(200), None);
        assert_eq!(kind(204), None);
        assert_eq!(kind(401), Some(K::UpstreamAuth));
        assert_eq!(kind(403), Some(K::UpstreamAuth));
        assert_eq!(kind(404), Some(K::NotFound));
        assert_eq!(kind(429), Some(K::Unavailable));
        assert_eq!(kind(500), Some(K::Unavailable));
        assert_eq!(kind(503), Some(K::Unavailable));
        assert_eq!(kind(400), Some(K::Upstream));
        assert_eq!(kind(302), Some(K::Upstream));
    }

    #[test]
    fn messages_drop_credentials_paths_and_queries() {
        let uri: Uri = "https://user:pw@api.example.com:8443/v1/x?token=secret"
            .parse()
            .unwrap();
        let shown = |uri: &Uri| Target::of(&Method::GET, Some(uri)).to_string();
        assert_eq!(shown(&uri), "GET https://api.example.com:8443");
        let uri: Uri = "https://hooks.example/services/T0/B0/s3cr3t"
            .parse()
            .unwrap();
        assert_eq!(shown(&uri), "GET https://hooks.example");
        let uri: Uri = "/relative/path".parse().unwrap();
        assert_eq!(shown(&uri), "GET http://");
        assert_eq!(
            Target::of(&Method::POST, None).to_string(),
            "POST (invalid URL)"
        );
    }

    /// Every error a request can end in names the origin only: a webhook
    /// whose token is its path never shows the token.
    #[test]
    fn request_errors_never_show_the_path() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        // Answers 401 to the first request, then nothing listens any more.
        let server = std::thread::spawn(move || {
            use std::io::{Read, Write};
            let (mut stream, _) = listener.accept().unwrap();
            let mut buf = [0u8; 4096];
            let _ = stream.read(&mut buf);
            let _ = stream.write_all(
                b"HTTP/1.1 401 Unauthorized\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
            );
        });
        let client = HttpClient::builder().build().unwrap();
        let url = format!("http://127.0.0.1:{port}/hooks/T0/s3cr3t?sig=abc");
        let context = CallContext::new();
        let runtime = crate::runtime::handle().unwrap();
        let refused = runtime
            .block_on(client.get(&url).send(&context))
            .unwrap_err();
        server.join().unwrap();
        assert_eq!(refused.kind(), crate::ErrorKind::UpstreamAuth, "{refused}");
        let unreachable = runtime
            .block_on(client.get(&url).send(&context))
            .unwrap_err();
        assert_eq!(
            unreachable.kind(),
            crate::ErrorKind::Unavailable,
            "{unreachable}"
        );
        for error in [refused, unreachable] {
            let message = error.message();
            assert!(
                message.contains(&format!("http://127.0.0.1:{port}")),
                "{message}"
            );
            for secret in ["/hooks", "s3cr3t", "sig=abc"] {
                assert!(!message.contains(secret), "{message} shows {secret}");
            }
        }
    }

    #[test]
    fn config_errors_are_bad_request() {
        let config: Config = serde_json::from_str(r#"{"timeoutMs":"soon"}"#).unwrap();
        assert_eq!(
            HttpClient::from_config(&config).unwrap_err().code(),
            "bad_request"
        );
        let config: Config = serde_json::from_str(r#"{"caFile":"/nonexistent/ca.pem"}"#).unwrap();
        let e = HttpClient::from_config(&config).unwrap_err();
        assert_eq!(e.code(), "bad_request");
        assert!(e.message().contains("/nonexistent/ca.pem"), "{e}");
    }
}
