//! Requests to the configured upstream through the SDK's HTTP client
//! (`opsorch_plugin_api::http`: hyper's pooled client over rustls, the
//! call's deadline, the size limit, failures mapped to error kinds), with
//! the settings of [`crate::config`] applied: base URL, credentials, CA
//! file, timeout, answer size limit.
//!
//! The SDK names a failed request by method and origin
//! (`scheme://host:port`) only, never its path: a webhook's path is its
//! secret.

use std::fmt;
use std::sync::Arc;

use opsorch_plugin_api::http::{self, Response};
use opsorch_plugin_api::{CallContext, Error, Result};

use crate::config::{Auth, HttpSettings};

/// The error for an HTTP status that carries no usable error body:
/// 401/403 → `upstream_auth`, 404 → `not_found`, 429 and 5xx →
/// `upstream_unavailable`, any other non-2xx → `upstream_error` (the SDK's
/// mapping). `None` for 2xx.
pub fn status_error(origin: &str, endpoint: &str, status: u16) -> Option<Error> {
    let status = hyper::StatusCode::from_u16(status).ok()?;
    http::status_error(status, &format!("{origin} {endpoint}"))
}

/// A client for one upstream base URL.
#[derive(Clone)]
pub struct HttpClient {
    client: http::HttpClient,
    settings: Arc<HttpSettings>,
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
    /// configuration time (`bad_request`).
    pub fn new(settings: HttpSettings) -> Result<HttpClient> {
        let mut builder = http::HttpClient::builder()
            .timeout(settings.timeout)
            .max_response_bytes(settings.max_response_bytes)
            .default_header(
                "user-agent",
                concat!("opsorch-adapter/", env!("CARGO_PKG_VERSION")),
            );
        if let Some(path) = &settings.ca_file {
            builder = builder.ca_file(path.clone());
        }
        Ok(HttpClient {
            client: builder.build()?,
            settings: Arc::new(settings),
        })
    }

    pub fn settings(&self) -> &HttpSettings {
        &self.settings
    }

    pub fn origin(&self) -> &str {
        self.settings.base.origin()
    }

    /// `GET base + path_and_query`; the answer whatever its status.
    pub async fn get(&self, context: &CallContext, path_and_query: &str) -> Result<Response> {
        let url = self.settings.base.join(path_and_query);
        self.send(context, self.client.get(&url)).await
    }

    /// `POST base + path` with a form body.
    pub async fn post_form(
        &self,
        context: &CallContext,
        path: &str,
        form: String,
    ) -> Result<Response> {
        let url = self.settings.base.join(path);
        let request = self
            .client
            .post(&url)
            .body(form, "application/x-www-form-urlencoded");
        self.send(context, request).await
    }

    /// `POST base + path` with a JSON body.
    pub async fn post_json(
        &self,
        context: &CallContext,
        path: &str,
        json: Vec<u8>,
    ) -> Result<Response> {
        let url = self.settings.base.join(path);
        let request = self.client.post(&url).body(json, "application/json");
        self.send(context, request).await
    }

    async fn send(&self, context: &CallContext, request: http::Request) -> Result<Response> {
        let request = request.header("accept", "application/json");
        let request = match &self.settings.auth {
            Auth::None => request,
            Auth::Bearer(token) => request.bearer_auth(token.expose()),
            Auth::Basic { username, password } => request.basic_auth(username, password.expose()),
        };
        request.send_any_status(context).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opsorch_plugin_api::ErrorKind;

    #[test]
    fn statuses_map_to_kinds() {
        let kind = |s: u16| status_error("o", "/x", s).map(|e| e.kind());
        assert_eq!(kind(200), None);
        assert_eq!(kind(401), Some(ErrorKind::UpstreamAuth));
        assert_eq!(kind(403), Some(ErrorKind::UpstreamAuth));
        assert_eq!(kind(404), Some(ErrorKind::NotFound));
        assert_eq!(kind(429), Some(ErrorKind::Unavailable));
        assert_eq!(kind(503), Some(ErrorKind::Unavailable));
        assert_eq!(kind(418), Some(ErrorKind::Upstream));
    }

    #[test]
    fn a_missing_or_empty_ca_file_is_a_config_error() {
        let config: opsorch_plugin_api::Config =
            serde_json::from_str(r#"{"url": "https://p.example"}"#).unwrap();
        let mut settings = crate::config::Reader::new(&config).http("url").unwrap();
        settings.ca_file = Some("/nonexistent/ca.pem".into());
        let err = HttpClient::new(settings.clone()).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::BadRequest);
        assert!(err.message().contains("/nonexistent/ca.pem"), "{err}");
        let empty =
            std::env::temp_dir().join(format!("opsorch-adapter-http-{}.pem", std::process::id()));
        std::fs::write(&empty, "not a certificate\n").unwrap();
        settings.ca_file = Some(empty.clone());
        let err = HttpClient::new(settings).unwrap_err();
        let _ = std::fs::remove_file(&empty);
        assert_eq!(err.kind(), ErrorKind::BadRequest, "{err}");
    }
}
