//! The host's one HTTP error type.
//!
//! Every failure a client can see is an [`ApiError`]: one `status_code()` match
//! decides the status, and the body is always `{"code","message"}`. Turning an
//! error into a response has no side effects; the request middleware logs it
//! (it finds the code and message in the response's extensions).

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use opsorch_plugin_api::methods::Capability;
use opsorch_plugin_api::ErrorKind;
use serde::Serialize;

use crate::providers::seam::{ProviderError, SECRET_STORE_READ_ONLY};
use crate::providers::state::ProviderMissing;

/// An error answered to an HTTP client.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApiError {
    /// The request is malformed (body, path or query).
    #[error("{0}")]
    BadRequest(String),
    /// A bearer token is required and was missing or wrong.
    #[error("missing or invalid bearer token")]
    Unauthorized,
    /// A browser request (it has an `Origin`) to a host without a bearer
    /// token, from an origin `OPSORCH_CORS_ORIGIN` does not name.
    #[error(
        "requests from a web page need OPSORCH_BEARER_TOKEN on the host, or \
         OPSORCH_CORS_ORIGIN naming the page's origin"
    )]
    OriginNotAllowed,
    /// A `Host` header naming neither loopback nor `OPSORCH_ALLOWED_HOSTS`
    /// on a token-less host (DNS rebinding).
    #[error(
        "this host answers only to loopback names and OPSORCH_ALLOWED_HOSTS \
         while OPSORCH_BEARER_TOKEN is not set"
    )]
    HostNotAllowed,
    /// No such route, capability or resource.
    #[error("{0}")]
    NotFound(String),
    /// The body is larger than the configured limit.
    #[error("request body too large")]
    PayloadTooLarge,
    /// The capability has no active provider.
    #[error("{} provider not configured", .0.name())]
    ProviderMissing(Capability),
    /// `POST /providers/{cap}` without a secret provider to persist to.
    #[error("secret provider not configured")]
    SecretProviderMissing,
    /// The secret provider refused to store a provider configuration.
    #[error("{0}")]
    SecretStore(String),
    /// The secret store is read-only (`secret_store_read_only`), so
    /// `POST /providers/{cap}` cannot store a choice on this host.
    #[error(
        "the secret store is read-only, so provider choices cannot be stored on this host; \
         choose providers with OPSORCH_<CAP>_PROVIDER in its environment instead"
    )]
    SecretStoreReadOnly,
    /// A provider call failed; the code decides the status.
    #[error("{}", .0.message)]
    Provider(ProviderError),
    /// The request took longer than the configured request timeout.
    #[error("the request did not complete within {0} ms")]
    RequestTimeout(u128),
    /// A bug or an unexpected failure inside the host.
    #[error("{0}")]
    Internal(String),
}

/// The JSON body of every error response.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    pub code: String,
    pub message: String,
}

/// Attached to error responses so that the middleware can log them.
#[derive(Debug, Clone)]
pub struct LoggedError {
    pub code: String,
    pub message: String,
}

impl ApiError {
    /// The HTTP status. This is the only place that maps errors to statuses,
    /// provider errors included: by their [`ErrorKind`], never by text
    /// (the list is in `README.md`, under the routes).
    pub fn status_code(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized => StatusCode::UNAUTHORIZED,
            ApiError::OriginNotAllowed | ApiError::HostNotAllowed => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::ProviderMissing(_) | ApiError::SecretProviderMissing => {
                StatusCode::NOT_IMPLEMENTED
            }
            ApiError::SecretStore(_) => StatusCode::BAD_GATEWAY,
            ApiError::SecretStoreReadOnly => StatusCode::CONFLICT,
            ApiError::Provider(err) => match err.kind {
                ErrorKind::NotFound => StatusCode::NOT_FOUND,
                ErrorKind::BadRequest => StatusCode::BAD_REQUEST,
                ErrorKind::Unsupported => StatusCode::NOT_IMPLEMENTED,
                ErrorKind::Timeout => StatusCode::GATEWAY_TIMEOUT,
                ErrorKind::UpstreamAuth
                | ErrorKind::Unavailable
                | ErrorKind::AdapterPanic
                | ErrorKind::BadOutput
                | ErrorKind::Internal
                | ErrorKind::Upstream => StatusCode::BAD_GATEWAY,
            },
            ApiError::RequestTimeout(_) => StatusCode::GATEWAY_TIMEOUT,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The machine-readable `code` of the body.
    pub fn code(&self) -> String {
        match self {
            ApiError::BadRequest(_) => "bad_request".into(),
            ApiError::Unauthorized => "unauthorized".into(),
            ApiError::OriginNotAllowed => "origin_not_allowed".into(),
            ApiError::HostNotAllowed => "host_not_allowed".into(),
            ApiError::NotFound(_) => "not_found".into(),
            ApiError::PayloadTooLarge => "payload_too_large".into(),
            ApiError::ProviderMissing(cap) => format!("{}_provider_missing", cap.name()),
            ApiError::SecretProviderMissing => "secret_provider_missing".into(),
            ApiError::SecretStore(_) => "secret_store_error".into(),
            ApiError::SecretStoreReadOnly => SECRET_STORE_READ_ONLY.into(),
            ApiError::Provider(err) if err.code.is_empty() => "provider_error".into(),
            ApiError::Provider(err) => err.code.clone(),
            ApiError::RequestTimeout(_) => "request_timeout".into(),
            ApiError::Internal(_) => "internal_error".into(),
        }
    }

    pub fn body(&self) -> ErrorBody {
        ErrorBody {
            code: self.code(),
            message: self.to_string(),
        }
    }
}

impl From<ProviderMissing> for ApiError {
    fn from(ProviderMissing(cap): ProviderMissing) -> Self {
        ApiError::ProviderMissing(cap)
    }
}

impl From<ProviderError> for ApiError {
    fn from(err: ProviderError) -> Self {
        ApiError::Provider(err)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = self.body();
        let json = serde_json::to_vec(&body).unwrap_or_else(|_| b"{}".to_vec());
        let mut response = (
            self.status_code(),
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            )],
            json,
        )
            .into_response();
        if matches!(self, ApiError::Unauthorized) {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response.extensions_mut().insert(LoggedError {
            code: body.code,
            message: body.message,
        });
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn provider(code: &str) -> ApiError {
        ApiError::Provider(ProviderError::new(code, "upstream said no"))
    }

    #[test]
    fn provider_codes_map_to_statuses() {
        assert_eq!(provider("not_found").status_code(), StatusCode::NOT_FOUND);
        assert_eq!(
            provider("bad_request").status_code(),
            StatusCode::BAD_REQUEST
        );
        assert_eq!(
            provider("plugin_timeout").status_code(),
            StatusCode::GATEWAY_TIMEOUT
        );
        assert_eq!(provider("").status_code(), StatusCode::BAD_GATEWAY);
        assert_eq!(provider("").code(), "provider_error");
        assert_eq!(
            provider("rate_limited").status_code(),
            StatusCode::BAD_GATEWAY
        );
        assert_eq!(provider("rate_limited").code(), "rate_limited");
        // A method the adapter does not implement is not an upstream failure.
        assert_eq!(
            provider("unsupported").status_code(),
            StatusCode::NOT_IMPLEMENTED
        );
        assert_eq!(provider("unsupported").code(), "unsupported");
        assert_eq!(
            provider("timeout").status_code(),
            StatusCode::GATEWAY_TIMEOUT
        );
        for code in [
            "adapter_panic",
            "upstream_auth",
            "plugin_crashed",
            "internal",
        ] {
            assert_eq!(
                provider(code).status_code(),
                StatusCode::BAD_GATEWAY,
                "{code}"
            );
        }
        // The kind decides, not the code's text.
        let host_made = ProviderError::of_kind(ErrorKind::NotFound, "gone", "no such thing");
        assert_eq!(
            ApiError::Provider(host_made).status_code(),
            StatusCode::NOT_FOUND
        );
    }

    #[test]
    fn provider_missing_names_the_capability() {
        let err = ApiError::ProviderMissing(Capability::Messaging);
        assert_eq!(err.code(), "messaging_provider_missing");
        assert_eq!(err.to_string(), "messaging provider not configured");
        assert_eq!(err.status_code(), StatusCode::NOT_IMPLEMENTED);
    }
}
