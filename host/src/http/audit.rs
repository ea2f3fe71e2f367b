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
use crate::settings::FIXED;

/// The `tracing` target of audit records.
pub const TARGET: &str = "audit";

/// The audit action of a response, e.g. `incident.created`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuditAction(pub &'static str);

/// Emits one audit record. The timestamp is Go's RFC3339Nano, like every
/// other time the API writes, formatted on the stack. Every field, the
/// message among them, is passed as `&str`, so the layer writes each
/// without formatting it into a string first.
pub fn record(context: &RequestContext<'_>, action: &str) {
    let mut stamp = StampText {
        buf: [0; 64],
        len: 0,
    };
    let timestamp = stamp.write(opsorch_schema::Timestamp::now());
    tracing::info!(
        target: TARGET,
        message = "audit",
        request_id = context.request_id,
        actor_type = context.actor_type,
        actor_id = context.actor_id,
        timestamp = timestamp,
        action = action,
    );
}

/// A timestamp's text on the stack (RFC3339Nano is at most 35 bytes for
/// four-digit years; longer forms are cut, which Go cannot encode anyway).
struct StampText {
    buf: [u8; 64],
    len: usize,
}

impl StampText {
    fn write(&mut self, stamp: opsorch_schema::Timestamp) -> &str {
        use std::fmt::Write as _;
        self.len = 0;
        // `write_str` below never fails; a cut text is still valid UTF-8.
        let _ = write!(self, "{stamp}");
        std::str::from_utf8(&self.buf[..self.len]).unwrap_or_default()
    }
}

impl fmt::Write for StampText {
    fn write_str(&mut self, text: &str) -> fmt::Result {
        // Whole characters only, so the buffer stays UTF-8.
        let mut cut = text.len().min(self.buf.len() - self.len);
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        self.buf[self.len..self.len + cut].copy_from_slice(&text.as_bytes()[..cut]);
        self.len += cut;
        Ok(())
    }
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
    crate::safe_text::json_string(out, text, FIXED.audit_max_value_chars);
}

#[cfg(test)]
mod tests {
    use tracing_subscriber::layer::SubscriberExt;

    use super::*;
    use crate::log_capture::LogCapture;

    #[test]
    fn a_timestamp_is_written_on_the_stack_as_its_text() {
        let now = opsorch_schema::Timestamp::now();
        let mut stamp = StampText {
            buf: [0; 64],
            len: 0,
        };
        assert_eq!(stamp.write(now), now.to_string());
        // Text past the buffer is cut on a character boundary.
        use std::fmt::Write as _;
        let mut small = StampText {
            buf: [0; 64],
            len: 0,
        };
        small.write_str(&"a".repeat(63)).unwrap();
        small.write_str("é").unwrap();
        assert_eq!(small.len, 63);
        small.write_str("b").unwrap();
        assert_eq!(
            std::str::from_utf8(&small.buf).unwrap(),
            "a".repeat(63) + "b"
        );
    }

    #[test]
    fn records_are_one_json_object_per_line_with_every_value_escaped() {
        let buffer = LogCapture::default();
        let subscriber = tracing_subscriber::registry().with(AuditLayer::new(buffer.clone()));
        let context = RequestContext {
            request_id: "id-\"1\"",
            actor_type: "copilot",
            actor_id: "line\nbreak \\ \u{1} é",
        };
        tracing::subscriber::with_default(subscriber, || {
            record(&context, "incident.created");
            tracing::info!(target: TARGET, count = 3u64, delta = -2i64, ok = true, "other");
        });
        let text = buffer.text();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2, "{text}");
        let first: serde_json::Value = serde_json::from_str(lines[0]).unwrap();
        let keys: Vec<&str> = first
            .as_object()
            .unwrap()
            .keys()
            .map(|k| k.as_str())
            .collect();
        let mut expected = vec![
            "level",
            "message",
            "request_id",
            "actor_type",
            "actor_id",
            "timestamp",
            "action",
            "target",
        ];
        expected.sort_unstable();
        assert_eq!(keys, expected);
        assert_eq!(first["level"], "INFO");
        assert_eq!(first["message"], "audit");
        assert_eq!(first["request_id"], "id-\"1\"");
        assert_eq!(first["actor_type"], "copilot");
        assert_eq!(first["actor_id"], "line\nbreak \\ \u{1} é");
        assert_eq!(first["action"], "incident.created");
        assert_eq!(first["target"], "audit");
        let stamp = first["timestamp"].as_str().unwrap();
        assert!(
            opsorch_schema::Timestamp::parse_rfc3339(stamp).is_ok(),
            "{stamp}"
        );
        // Keys in the order written: level first, target last.
        assert!(lines[0].starts_with(r#"{"level":"INFO","message":"audit","request_id""#));
        assert!(lines[0].ends_with(r#","target":"audit"}"#));
        let second: serde_json::Value = serde_json::from_str(lines[1]).unwrap();
        assert_eq!(second["count"], 3);
        assert_eq!(second["delta"], -2);
        assert_eq!(second["ok"], true);
        assert_eq!(second["message"], "other");
    }
}
