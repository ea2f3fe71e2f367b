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

/// Emits one audit record. The timestamp is Go's RFC3339Nano, like every
/// other time the API writes. Fields are passed as `&str` so the JSON
/// formatter writes them without formatting each into a string first.
pub fn record(context: &RequestContext, action: &str) {
    let timestamp = opsorch_schema::Timestamp::now().to_string();
    tracing::info!(
        target: TARGET,
        request_id = context.request_id.as_str(),
        actor_type = context.actor_type,
        actor_id = context.actor_id.as_str(),
        timestamp = timestamp.as_str(),
        action = action,
        "audit"
    );
}
