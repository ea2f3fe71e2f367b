//! Audit records: one structured JSON line per successful call.
//!
//! Handlers attach an [`AuditAction`] to their response; the request gate
//! emits the record once the response is known to be a success. Records go
//! through `tracing` with target `audit`, which the subscriber set up in
//! [`crate::init_logging`] always formats as JSON.

use crate::middleware::RequestContext;

/// The `tracing` target of audit records.
pub const TARGET: &str = "audit";

/// The audit action of a response, e.g. `incident.created`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuditAction(pub &'static str);

/// Emits one audit record.
pub fn record(context: &RequestContext, action: &str) {
    let timestamp = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true);
    tracing::info!(
        target: TARGET,
        request_id = %context.request_id,
        actor_type = context.actor_type,
        actor_id = %context.actor_id,
        timestamp = %timestamp,
        action = action,
        "audit"
    );
}
