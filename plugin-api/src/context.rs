//! The call context an asynchronous provider method receives.

use std::time::{Duration, Instant};

use crate::ffi::AbiCallContext;

/// What the adapter knows about the request behind a call.
///
/// The SDK enforces the deadline itself: a call still running when it
/// passes is dropped (its upstream requests are cancelled) and answers
/// `timeout` (HTTP 504). In a library it is the request's deadline; in a
/// stdio plugin, the call timeout the host passes in
/// `OPSORCH_CALL_TIMEOUT_MS`, from when the request was read, less a
/// margin (see docs/PROTOCOL.md, "Call deadline"). Adapters read it to size their own upstream
/// timeouts, or to give up early; the SDK's HTTP client applies it on its
/// own.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CallContext {
    deadline: Option<Instant>,
    request_id: String,
    actor: String,
}

impl CallContext {
    /// A context with no deadline, request id or actor (tests, tools).
    pub fn new() -> Self {
        CallContext::default()
    }

    /// The same context with a deadline `timeout` from now.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.deadline = Instant::now().checked_add(timeout);
        self
    }

    /// The same context with this deadline.
    pub fn with_deadline(mut self, deadline: Instant) -> Self {
        self.deadline = Some(deadline);
        self
    }

    /// The same context with this request id.
    pub fn with_request_id(mut self, request_id: impl Into<String>) -> Self {
        self.request_id = request_id.into();
        self
    }

    /// The same context with this actor.
    pub fn with_actor(mut self, actor: impl Into<String>) -> Self {
        self.actor = actor.into();
        self
    }

    /// When the host stops waiting for this call, if it will.
    pub fn deadline(&self) -> Option<Instant> {
        self.deadline
    }

    /// The time left until the deadline (zero once it passed); `None` when
    /// the call has no deadline.
    pub fn remaining(&self) -> Option<Duration> {
        self.deadline
            .map(|d| d.saturating_duration_since(Instant::now()))
    }

    /// The host's request id for this call, empty when there is none (stdio
    /// plugins are not told one).
    pub fn request_id(&self) -> &str {
        &self.request_id
    }

    /// Who made the request, empty when the host does not know.
    pub fn actor(&self) -> &str {
        &self.actor
    }
}

impl From<AbiCallContext> for CallContext {
    fn from(c: AbiCallContext) -> Self {
        let context = CallContext::new()
            .with_request_id(c.request_id.into_string())
            .with_actor(c.actor.into_string());
        match c.timeout_ms.into_option() {
            Some(ms) => context.with_timeout(Duration::from_millis(ms)),
            None => context,
        }
    }
}
