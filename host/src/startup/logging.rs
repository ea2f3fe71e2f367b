//! Logging to stderr: human lines filtered by `RUST_LOG`, audit records as
//! flat JSON objects, both through the batching [`super::log_writer`].

use crate::http::audit;

/// Logs to stderr; `RUST_LOG` filters (default `info`). Audit records
/// (target `audit`) are always written as one JSON object per line.
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
/// lines for everything but audit records, which are flat JSON objects
/// (`request_id`, `actor_type`, `actor_id`, `timestamp`, `action`, …).
pub fn log_subscriber<W>(
    filter: tracing_subscriber::EnvFilter,
    writer: W,
) -> impl tracing::Subscriber + Send + Sync
where
    W: for<'w> tracing_subscriber::fmt::MakeWriter<'w> + Clone + Send + Sync + 'static,
{
    use tracing_subscriber::filter::filter_fn;
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::{fmt, Layer};

    let human = fmt::layer()
        .with_writer(writer.clone())
        .with_ansi(false)
        .with_filter(filter_fn(|meta| meta.target() != audit::TARGET));
    let audit_json = audit::AuditLayer::new(writer)
        .with_filter(filter_fn(|meta| meta.target() == audit::TARGET));
    tracing_subscriber::registry()
        .with(filter)
        .with(human)
        .with(audit_json)
}
