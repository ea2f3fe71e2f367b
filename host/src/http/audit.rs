//! Audit records: one structured JSON line per successful call.
//!
//! Handlers attach an [`AuditAction`] to their response; the request gate
//! emits the record once the response is known to be a success. Records go
//! through `tracing` with target `audit`; the subscriber set up in
//! [`crate::init_logging`] writes them with [`AuditLayer`], as JSON.
//!
//! # Telling a real record from a forged one
//! Audit records share stderr with the human log, and are told apart by
//! their shape: an audit record is the only kind of line that starts with
//! `{`. Every other line the host writes starts with its timestamp, and
//! every value in it, whoever controls it (a client, an adapter, a
//! plugin's stderr), is escaped so that it cannot end that line and start
//! another ([`crate::safe_text`]). Values inside a record are JSON strings
//! with the same characters escaped, so a record is always one line. What
//! an in-process adapter library writes to file descriptor 2 itself, not
//! through the host's logger, is outside this guarantee: libraries are
//! code the operator chose to load (docs/SECURITY.md).

use std::fmt;
use std::io::Write;

use tracing::field::{Field, Visit};

use crate::http::context::RequestContext;

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

/// The subscriber layer that writes audit records: one flat JSON object per
/// line, `{"level":"INFO","message":"audit",<fields>…,"target":"audit"}`.
///
/// The same shape tracing-subscriber's JSON formatter gives with a flattened
/// event, written directly: the formatter's generic field visitor cost a
/// twentieth of a library call's CPU, and every successful call writes one.
pub struct AuditLayer<W> {
    writer: W,
}

impl<W> AuditLayer<W> {
    pub fn new(writer: W) -> Self {
        AuditLayer { writer }
    }
}

impl<S, W> tracing_subscriber::Layer<S> for AuditLayer<W>
where
    S: tracing::Subscriber,
    W: for<'w> tracing_subscriber::fmt::MakeWriter<'w> + 'static,
{
    fn on_event(
        &self,
        event: &tracing::Event<'_>,
        _ctx: tracing_subscriber::layer::Context<'_, S>,
    ) {
        let meta = event.metadata();
        let mut line = Vec::with_capacity(256);
        line.extend_from_slice(b"{\"level\":");
        json_string(&mut line, meta.level().as_str());
        event.record(&mut JsonFields(&mut line));
        line.extend_from_slice(b",\"target\":");
        json_string(&mut line, meta.target());
        line.extend_from_slice(b"}\n");
        // A record that cannot be written has nowhere else to go.
        let _ = self.writer.make_writer_for(meta).write_all(&line);
    }
}

/// Appends `,"name":value` for each field of an event.
struct JsonFields<'a>(&'a mut Vec<u8>);

impl JsonFields<'_> {
    fn key(&mut self, field: &Field) {
        self.0.push(b',');
        json_string(self.0, field.name());
        self.0.push(b':');
    }
}

impl Visit for JsonFields<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.key(field);
        json_string(self.0, value);
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.key(field);
        self.0
            .extend_from_slice(if value { b"true" } else { b"false" });
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.key(field);
        self.0.extend_from_slice(value.to_string().as_bytes());
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.key(field);
        self.0.extend_from_slice(value.to_string().as_bytes());
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.key(field);
        json_string(self.0, &format!("{value:?}"));
    }
}

/// Every value is a JSON string with each unsafe character escaped (see
/// [`crate::safe_text`]), bounded: a record is always one line.
fn json_string(out: &mut Vec<u8>, text: &str) {
    crate::safe_text::json_string(out, text, MAX_VALUE_CHARS);
}

/// The longest audit value (an actor ID from a header), in characters.
const MAX_VALUE_CHARS: usize = 256;
