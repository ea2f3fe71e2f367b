//! Logging to stderr: human lines (or, with `OPSORCH_LOG_FORMAT=json`, one
//! JSON object per line) filtered by `RUST_LOG`, audit records as flat JSON
//! objects, all through the batching [`super::log_writer`].
//!
//! `RUST_LOG` filters the log lines only. Audit records are written
//! whatever the log level: `RUST_LOG=warn` or `error` keeps every one. The
//! binary's gate appends them to the writer's buffer itself; those sent
//! through `tracing` have their own filter (target `audit`, level INFO).

use crate::http::audit;
use crate::settings::ConfigError;

/// The variable choosing the log format.
pub const FORMAT_VAR: &str = "OPSORCH_LOG_FORMAT";

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    /// One human-readable line per event (the default).
    #[default]
    Text,
    /// One JSON object per line: `timestamp`, `level`, `target`, the
    /// event's fields (`message` among them) flattened, and the span.
    Json,
}

impl LogFormat {
    /// `OPSORCH_LOG_FORMAT`: `text` (or unset) or `json`.
    pub fn from_var(value: Option<&str>) -> Result<LogFormat, ConfigError> {
        match value.map(str::trim) {
            None | Some("") => Ok(LogFormat::Text),
            Some(v) if v.eq_ignore_ascii_case("text") => Ok(LogFormat::Text),
            Some(v) if v.eq_ignore_ascii_case("json") => Ok(LogFormat::Json),
            Some(_) => Err(ConfigError::new(FORMAT_VAR, "must be text or json")),
        }
    }
}

/// Logs to stderr; `RUST_LOG` filters (default `info`) every line but the
/// audit records, which are always written, as one JSON object per line.
/// The binary's request gate appends its audit records to the same buffer
/// directly (`LogGuard::audit_log`); records sent through `tracing`
/// (target `audit`, as `crate::app`'s gate sends them) are written too.
///
/// Lines are written to stderr by a background thread in batches (see
/// `startup::log_writer`), so request handlers never wait on the terminal
/// or a pipe for their audit record, and no line is dropped. Keep the
/// returned guard alive until exit: dropping it writes out what is buffered.
pub fn init_logging() -> super::log_writer::LogGuard {
    init_logging_as(LogFormat::Text)
}

/// [`init_logging`] in the given format.
pub fn init_logging_as(format: LogFormat) -> super::log_writer::LogGuard {
    use tracing_subscriber::util::SubscriberInitExt;

    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let (writer, guard) = super::log_writer::spawn(std::io::stderr());
    let _ = log_subscriber_as(format, filter, writer).try_init();
    guard
}

/// The subscriber [`init_logging`] installs, writing to `writer`: human
/// lines, filtered by `filter`, for everything but audit records; audit
/// records, whatever `filter` says, as flat JSON objects (`request_id`,
/// `actor_type`, `actor_id`, `timestamp`, `action`, …).
///
/// Every human line starts with its timestamp and level, and every value
/// in it is escaped and bounded (`safe_text::SafeFields`), so no
/// text from a client, an adapter or a plugin can start a line of its own:
/// a line that starts with `{` is an audit record written by `http::audit`.
pub fn log_subscriber<W>(
    filter: tracing_subscriber::EnvFilter,
    writer: W,
) -> impl tracing::Subscriber + Send + Sync
where
    W: for<'w> tracing_subscriber::fmt::MakeWriter<'w> + Clone + Send + Sync + 'static,
{
    log_subscriber_as(LogFormat::Text, filter, writer)
}

/// [`log_subscriber`] in the given format. Audit records are JSON objects
/// in both, and do not depend on the log level.
pub fn log_subscriber_as<W>(
    format: LogFormat,
    filter: tracing_subscriber::EnvFilter,
    writer: W,
) -> impl tracing::Subscriber + Send + Sync
where
    W: for<'w> tracing_subscriber::fmt::MakeWriter<'w> + Clone + Send + Sync + 'static,
{
    use tracing_subscriber::filter::{filter_fn, FilterExt, Targets};
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::{fmt, Layer, Registry};

    let lines: Box<dyn Layer<Registry> + Send + Sync> = match format {
        LogFormat::Text => fmt::layer()
            .fmt_fields(crate::safe_text::SafeFields)
            .with_writer(writer.clone())
            .with_ansi(false)
            .boxed(),
        LogFormat::Json => fmt::layer()
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .with_span_list(false)
            .with_writer(writer.clone())
            .boxed(),
    };
    let lines = lines.with_filter(filter.and(filter_fn(|meta| meta.target() != audit::TARGET)));
    // Not under `filter`: audit records do not depend on the log level.
    let audit_json = audit::AuditLayer::new(writer)
        .with_filter(Targets::new().with_target(audit::TARGET, tracing::Level::INFO));
    tracing_subscriber::registry().with(lines).with(audit_json)
}
