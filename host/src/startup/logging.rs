//! Logging to stderr: human lines filtered by `RUST_LOG`, audit records as
//! flat JSON objects, both through the batching [`super::log_writer`].
//!
//! `RUST_LOG` filters the human lines only. Audit records have their own
//! filter (target `audit`, level INFO), so they are written whatever the log
//! level: `RUST_LOG=warn` or `error` keeps every audit record.

use crate::http::audit;

/// Logs to stderr; `RUST_LOG` filters (default `info`) every line but the
/// audit records (target `audit`), which are always written, as one JSON
/// object per line.
///
/// Lines are written to stderr by a background thread in batches (see
/// [`super::log_writer`]), so request handlers never wait on the terminal
/// or a pipe for their audit record, and no line is dropped. Keep the
/// returned guard alive until exit: dropping it writes out what is buffered.
pub fn init_logging() -> super::log_writer::LogGuard {
    use tracing_subscriber::util::SubscriberInitExt;

    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let (writer, guard) = super::log_writer::spawn(std::io::stderr());
    let _ = log_subscriber(filter, writer).try_init();
    guard
}

/// The subscriber [`init_logging`] installs, writing to `writer`: human
/// lines, filtered by `filter`, for everything but audit records; audit
/// records, whatever `filter` says, as flat JSON objects (`request_id`,
/// `actor_type`, `actor_id`, `timestamp`, `action`, …).
///
/// Every human line starts with its timestamp and level, and every value
/// in it is escaped and bounded ([`crate::safe_text::SafeFields`]), so no
/// text from a client, an adapter or a plugin can start a line of its own:
/// a line that starts with `{` is an audit record written by [`audit`].
pub fn log_subscriber<W>(
    filter: tracing_subscriber::EnvFilter,
    writer: W,
) -> impl tracing::Subscriber + Send + Sync
where
    W: for<'w> tracing_subscriber::fmt::MakeWriter<'w> + Clone + Send + Sync + 'static,
{
    use tracing_subscriber::filter::{filter_fn, FilterExt, Targets};
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::{fmt, Layer};

    let human = fmt::layer()
        .fmt_fields(crate::safe_text::SafeFields)
        .with_writer(writer.clone())
        .with_ansi(false)
        .with_filter(filter.and(filter_fn(|meta| meta.target() != audit::TARGET)));
    // Not under `filter`: audit records do not depend on the log level.
    let audit_json = audit::AuditLayer::new(writer)
        .with_filter(Targets::new().with_target(audit::TARGET, tracing::Level::INFO));
    tracing_subscriber::registry().with(human).with(audit_json)
}
