//! The one set of error kinds shared by adapters, the ABI, the stdio wire
//! format and the host's HTTP mapping.
//!
//! On the wire (library boundary and stdio protocol alike) an error is a
//! `code` string and a `message`. The code is the contract: adapters written
//! for the Go host send free-form codes, and the host passes them through to
//! API clients unchanged. [`ErrorKind`] classifies a code once, where the
//! error enters the host or is built by the SDK, so every later decision
//! (the HTTP status above all) is a `match` on the kind and never looks at
//! message text.

use std::fmt;

use crate::methods::Method;

/// What went wrong, as far as a caller must tell errors apart.
///
/// The HTTP status each kind maps to is given in brackets; the host's
/// `ApiError::status_code` is the single place that applies it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// The request is invalid (400). Code `bad_request`.
    BadRequest,
    /// The resource does not exist (404). Code `not_found`.
    NotFound,
    /// The provider does not implement the method (501). Code `unsupported`.
    Unsupported,
    /// The call or its upstream did not answer in time (504). Codes
    /// `timeout` and `plugin_timeout`.
    Timeout,
    /// The upstream system refused the adapter's credentials (502). Code
    /// `upstream_auth`.
    UpstreamAuth,
    /// The upstream system or the plugin process cannot be reached now
    /// (502). Codes `upstream_unavailable`, `plugin_unavailable`,
    /// `plugin_crashed`, `plugin_restarted`.
    Unavailable,
    /// The adapter panicked; the host caught it and keeps serving (502).
    /// Code `adapter_panic`.
    AdapterPanic,
    /// The adapter broke the protocol: an invalid result or a bad line
    /// (502). Codes `invalid_result`, `plugin_bad_output`.
    BadOutput,
    /// A bug inside the adapter or the SDK (502). Code `internal`.
    Internal,
    /// Any other code an adapter chose, or none (502). The code is passed
    /// through to the client as it is.
    Upstream,
}

impl ErrorKind {
    /// Classifies a wire code. Unknown codes are [`ErrorKind::Upstream`].
    pub fn from_code(code: &str) -> ErrorKind {
        match code {
            codes::BAD_REQUEST => ErrorKind::BadRequest,
            codes::NOT_FOUND => ErrorKind::NotFound,
            codes::UNSUPPORTED => ErrorKind::Unsupported,
            codes::TIMEOUT | codes::PLUGIN_TIMEOUT => ErrorKind::Timeout,
            codes::UPSTREAM_AUTH => ErrorKind::UpstreamAuth,
            codes::UPSTREAM_UNAVAILABLE
            | codes::PLUGIN_UNAVAILABLE
            | codes::PLUGIN_CRASHED
            | codes::PLUGIN_RESTARTED => ErrorKind::Unavailable,
            codes::ADAPTER_PANIC => ErrorKind::AdapterPanic,
            codes::INVALID_RESULT | codes::PLUGIN_BAD_OUTPUT => ErrorKind::BadOutput,
            codes::INTERNAL => ErrorKind::Internal,
            _ => ErrorKind::Upstream,
        }
    }

    /// The code an error of this kind carries when the SDK builds it.
    pub fn default_code(self) -> &'static str {
        match self {
            ErrorKind::BadRequest => codes::BAD_REQUEST,
            ErrorKind::NotFound => codes::NOT_FOUND,
            ErrorKind::Unsupported => codes::UNSUPPORTED,
            ErrorKind::Timeout => codes::TIMEOUT,
            ErrorKind::UpstreamAuth => codes::UPSTREAM_AUTH,
            ErrorKind::Unavailable => codes::UPSTREAM_UNAVAILABLE,
            ErrorKind::AdapterPanic => codes::ADAPTER_PANIC,
            ErrorKind::BadOutput => codes::INVALID_RESULT,
            ErrorKind::Internal => codes::INTERNAL,
            ErrorKind::Upstream => codes::UPSTREAM_ERROR,
        }
    }
}

/// The stable wire codes. Adapters may send others; these are the ones the
/// SDK and the host produce and classify.
pub mod codes {
    pub const BAD_REQUEST: &str = "bad_request";
    pub const NOT_FOUND: &str = "not_found";
    pub const UNSUPPORTED: &str = "unsupported";
    pub const TIMEOUT: &str = "timeout";
    pub const PLUGIN_TIMEOUT: &str = "plugin_timeout";
    pub const UPSTREAM_AUTH: &str = "upstream_auth";
    pub const UPSTREAM_UNAVAILABLE: &str = "upstream_unavailable";
    pub const UPSTREAM_ERROR: &str = "upstream_error";
    pub const PLUGIN_UNAVAILABLE: &str = "plugin_unavailable";
    pub const PLUGIN_CRASHED: &str = "plugin_crashed";
    pub const PLUGIN_RESTARTED: &str = "plugin_restarted";
    pub const PLUGIN_BAD_OUTPUT: &str = "plugin_bad_output";
    pub const ADAPTER_PANIC: &str = "adapter_panic";
    pub const INVALID_RESULT: &str = "invalid_result";
    pub const INTERNAL: &str = "internal";
}

/// An adapter error: a machine-readable code, its kind and a human message.
///
/// Messages reach API clients, so they must never contain secrets or raw
/// upstream payloads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    kind: ErrorKind,
    code: String,
    message: String,
}

impl Error {
    /// An error with a wire code of the adapter's choosing; its kind is
    /// classified from the code.
    pub fn new(code: impl Into<String>, message: impl Into<String>) -> Self {
        let code = code.into();
        Error {
            kind: ErrorKind::from_code(&code),
            code,
            message: message.into(),
        }
    }

    /// An error of `kind` with that kind's code.
    pub fn of_kind(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error {
            kind,
            code: kind.default_code().to_string(),
            message: message.into(),
        }
    }

    /// The resource does not exist (HTTP 404).
    pub fn not_found(message: impl Into<String>) -> Self {
        Error::of_kind(ErrorKind::NotFound, message)
    }

    /// The request is invalid (HTTP 400).
    pub fn bad_request(message: impl Into<String>) -> Self {
        Error::of_kind(ErrorKind::BadRequest, message)
    }

    /// The adapter does not implement `method` (HTTP 501 `unsupported`).
    pub fn unsupported(method: Method) -> Self {
        Error::of_kind(
            ErrorKind::Unsupported,
            format!("{method} is not supported by this provider"),
        )
    }

    /// The upstream system failed (HTTP 502 `upstream_error`).
    pub fn upstream(message: impl Into<String>) -> Self {
        Error::of_kind(ErrorKind::Upstream, message)
    }

    /// The call or its upstream did not answer in time (HTTP 504 `timeout`).
    pub fn timeout(message: impl Into<String>) -> Self {
        Error::of_kind(ErrorKind::Timeout, message)
    }

    /// The upstream system refused the adapter's credentials (HTTP 502
    /// `upstream_auth`).
    pub fn upstream_auth(message: impl Into<String>) -> Self {
        Error::of_kind(ErrorKind::UpstreamAuth, message)
    }

    /// The upstream system cannot be reached now, is overloaded or failed
    /// (HTTP 502 `upstream_unavailable`).
    pub fn unavailable(message: impl Into<String>) -> Self {
        Error::of_kind(ErrorKind::Unavailable, message)
    }

    /// A bug inside the adapter or the SDK (HTTP 502 `internal`).
    pub fn internal(message: impl Into<String>) -> Self {
        Error::of_kind(ErrorKind::Internal, message)
    }

    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    pub fn code(&self) -> &str {
        &self.code
    }

    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl std::error::Error for Error {}

#[cfg(test)]
mod tests {
    use super::*;

    const KINDS: [ErrorKind; 10] = [
        ErrorKind::BadRequest,
        ErrorKind::NotFound,
        ErrorKind::Unsupported,
        ErrorKind::Timeout,
        ErrorKind::UpstreamAuth,
        ErrorKind::Unavailable,
        ErrorKind::AdapterPanic,
        ErrorKind::BadOutput,
        ErrorKind::Internal,
        ErrorKind::Upstream,
    ];

    #[test]
    fn every_kind_survives_its_own_code() {
        for kind in KINDS {
            assert_eq!(ErrorKind::from_code(kind.default_code()), kind);
            assert_eq!(Error::of_kind(kind, "m").kind(), kind);
        }
    }

    #[test]
    fn host_and_go_codes_are_classified() {
        assert_eq!(ErrorKind::from_code("plugin_timeout"), ErrorKind::Timeout);
        assert_eq!(
            ErrorKind::from_code("plugin_crashed"),
            ErrorKind::Unavailable
        );
        assert_eq!(
            ErrorKind::from_code("plugin_bad_output"),
            ErrorKind::BadOutput
        );
        assert_eq!(ErrorKind::from_code("vendor_quota"), ErrorKind::Upstream);
        assert_eq!(ErrorKind::from_code(""), ErrorKind::Upstream);
        assert_eq!(Error::new("vendor_quota", "m").code(), "vendor_quota");
    }
}
