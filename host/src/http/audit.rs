//! Audit records: one structured JSON line per successful call.
//!
//! Handlers attach an [`AuditAction`] to their response; the request gate
//! writes the record through its [`AuditLog`] once the response is known to
//! be a success. The line is built here, whole, with the record's fixed
//! keys written as they are and only its values escaped:
//!
//! ```text
//! {"level":"INFO","message":"audit","request_id":…,"actor_type":…,"actor_id":…,"timestamp":…,"action":…,"target":"audit"}
//! ```
//!
//! The binary's log ([`crate::init_logging`]) hands the gate an
//! [`AuditLog`] that appends the line to the log writer's buffer directly.
//! Built any other way (`crate::app` for tests and embedders), the gate
//! sends the finished line as a `tracing` event (target `audit`), which the
//! subscriber's [`AuditLayer`] writes as it is. Going through `tracing`,
//! its field visitor and one escaped name per field cost about 3k
//! instructions of a library call's 45k (`scripts/callgrind`,
//! docs/BENCHMARKS.md); writing the line directly, about 1k.
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
use std::sync::Arc;

use tracing::field::{Field, Visit};

use crate::http::context::RequestContext;
use crate::settings::FIXED;

/// The `tracing` target of audit records.
pub const TARGET: &str = "audit";

/// The field of an audit event that holds the finished line.
const LINE_FIELD: &str = "line";

/// The audit action of a response, e.g. `incident.created`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuditAction(pub &'static str);

/// Where finished audit lines go, each in one call, with its line break.
pub trait AuditWriter: Send + Sync {
    fn write_line(&self, line: &[u8]);
}

/// Where the request gate writes audit records: through `tracing` (the
/// default) or straight to an [`AuditWriter`].
#[derive(Clone, Default)]
pub struct AuditLog {
    writer: Option<Arc<dyn AuditWriter>>,
}

impl fmt::Debug for AuditLog {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self.writer {
            Some(_) => "AuditLog(writer)",
            None => "AuditLog(tracing)",
        })
    }
}

impl AuditLog {
    /// Records go straight to `writer`.
    pub fn to_writer(writer: Arc<dyn AuditWriter>) -> Self {
        AuditLog {
            writer: Some(writer),
        }
    }

    /// Writes the record of `action` by `context`, stamped now.
    pub fn record(&self, context: &RequestContext<'_>, action: &str) {
        let line = line(context, action, opsorch_schema::Timestamp::now());
        match &self.writer {
            Some(writer) => writer.write_line(&line),
            None => {
                // `line` is UTF-8: every piece of it was a `str`.
                let text = std::str::from_utf8(&line[..line.len() - 1]).unwrap_or_default();
                tracing::info!(target: TARGET, line = text);
            }
        }
    }
}

/// The record's JSON line, line break included. The timestamp is Go's
/// RFC3339Nano, like every other time the API writes, formatted on the
/// stack; it holds nothing to escape.
fn line(context: &RequestContext<'_>, action: &str, stamp: opsorch_schema::Timestamp) -> Vec<u8> {
    let mut line = Vec::with_capacity(256);
    line.extend_from_slice(br#"{"level":"INFO","message":"audit","request_id":"#);
    json_string(&mut line, context.request_id);
    line.extend_from_slice(br#","actor_type":"#);
    json_string(&mut line, context.actor_type);
    line.extend_from_slice(br#","actor_id":"#);
    json_string(&mut line, context.actor_id);
    line.extend_from_slice(br#","timestamp":""#);
    let _ = write!(line, "{stamp}");
    line.extend_from_slice(br#"","action":"#);
    json_string(&mut line, action);
    line.extend_from_slice(b",\"target\":\"audit\"}\n");
    line
}

/// The subscriber layer that writes the audit lines the gate sends through
/// `tracing` (events with target [`TARGET`]), each as it is, on a line of
/// its own. An event without a finished line (none of the gate's) writes
/// nothing.
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
        let mut found = FinishedLine(None);
        event.record(&mut found);
        if let Some(mut line) = found.0 {
            line.push(b'\n');
            // A record that cannot be written has nowhere else to go.
            let _ = self
                .writer
                .make_writer_for(event.metadata())
                .write_all(&line);
        }
    }
}

/// Finds the finished line among an event's fields.
struct FinishedLine(Option<Vec<u8>>);

impl Visit for FinishedLine {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == LINE_FIELD {
            self.0 = Some(value.as_bytes().to_vec());
        }
    }

    fn record_debug(&mut self, _: &Field, _: &dyn fmt::Debug) {}
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

    impl AuditWriter for LogCapture {
        fn write_line(&self, line: &[u8]) {
            let _ = self.clone().write_all(line);
        }
    }

    const CONTEXT: RequestContext<'static> = RequestContext {
        request_id: "id-\"1\"",
        actor_type: "copilot",
        actor_id: "line\nbreak \\ \u{1} é \u{2028}",
    };

    #[test]
    fn a_record_is_one_json_object_on_one_line_with_every_value_escaped() {
        let stamp = opsorch_schema::Timestamp::parse_rfc3339("2026-12-02T13:25:00.1234Z").unwrap();
        let text = String::from_utf8(line(&CONTEXT, "incident.created", stamp)).unwrap();
        assert_eq!(
            text,
            concat!(
                r#"{"level":"INFO","message":"audit","request_id":"id-\"1\"","actor_type":"copilot","#,
                r#""actor_id":"line\nbreak \\ \u0001 é \u2028","timestamp":"2026-12-02T13:25:00.1234Z","#,
                r#""action":"incident.created","target":"audit"}"#,
                "\n"
            )
        );
        let record: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(record["actor_id"], CONTEXT.actor_id);
        assert_eq!(record["request_id"], CONTEXT.request_id);
        // A value past the bound is cut, and the line still parses.
        let long = "x".repeat(FIXED.audit_max_value_chars + 10);
        let context = RequestContext {
            actor_id: &long,
            ..CONTEXT
        };
        let record: serde_json::Value =
            serde_json::from_slice(&line(&context, "a", stamp)).unwrap();
        let cut = record["actor_id"].as_str().unwrap();
        assert_eq!(cut.chars().count(), FIXED.audit_max_value_chars + 1);
        assert!(cut.ends_with(crate::safe_text::ELLIPSIS));
    }

    /// The line as it reached `capture`, with the time taken out.
    fn without_time(capture: &LogCapture) -> Vec<serde_json::Value> {
        capture
            .text()
            .lines()
            .map(|line| {
                let mut record: serde_json::Value = serde_json::from_str(line).unwrap();
                let stamp = record["timestamp"].take();
                assert!(
                    opsorch_schema::Timestamp::parse_rfc3339(stamp.as_str().unwrap()).is_ok(),
                    "{stamp}"
                );
                record
            })
            .collect()
    }

    #[test]
    fn a_writer_and_the_audit_layer_receive_the_same_record() {
        let direct = LogCapture::default();
        AuditLog::to_writer(Arc::new(direct.clone())).record(&CONTEXT, "incident.created");
        assert!(direct.text().ends_with("}\n"));
        assert_eq!(direct.text().lines().count(), 1);

        let layered = LogCapture::default();
        let subscriber = tracing_subscriber::registry().with(AuditLayer::new(layered.clone()));
        tracing::subscriber::with_default(subscriber, || {
            AuditLog::default().record(&CONTEXT, "incident.created");
            // Events of the target without a finished line write nothing.
            tracing::info!(target: TARGET, count = 3u64, "other");
        });
        assert!(layered.text().ends_with("}\n"));
        let records = without_time(&layered);
        assert_eq!(records.len(), 1, "{}", layered.text());
        assert_eq!(records, without_time(&direct));
        assert_eq!(records[0]["action"], "incident.created");
    }
}
