//! Logging for adapters.
//!
//! A library has its own copy of std, `tracing` and `log`, and cannot see the
//! host's subscriber, so log lines go through a callback the host installs at
//! load time; the host tags them with the adapter's name. Without a host
//! logger (stdio plugins, in-process tests) lines go to stderr, which the
//! host's stdio transport forwards to its own log.
//!
//! The SDK installs itself as the library's (or the stdio plugin's)
//! `tracing` subscriber and `log` logger, so events of the adapter and of
//! its dependencies (hyper, rustls) arrive the same way. The filter is
//! `OPSORCH_ADAPTER_LOG` in `tracing-subscriber`'s target syntax (for
//! example `info,hyper_util=debug`), `info` when unset. Lines logged while
//! an asynchronous call is polled start with `request_id=<id> ` when the
//! host gave one; the host turns that into its `request_id` field.

use std::cell::RefCell;
use std::fmt::{Display, Write as _};
use std::sync::{Arc, OnceLock};

use abi_stable::std_types::RStr;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::Layer;

use crate::ffi::HostLogger;
pub use crate::ffi::LogLevel as Level;

static HOST_LOGGER: OnceLock<HostLogger> = OnceLock::new();
static ADAPTER_NAME: OnceLock<String> = OnceLock::new();

/// The variable holding the adapter's log filter.
pub const FILTER_VAR: &str = "OPSORCH_ADAPTER_LOG";

thread_local! {
    static REQUEST_ID: RefCell<Option<Arc<str>>> = const { RefCell::new(None) };
}

/// Installs the host's logging callback. Only the first one counts: a
/// library is loaded once per process.
pub(crate) fn set_host_logger(logger: HostLogger) {
    let _ = HOST_LOGGER.set(logger);
}

/// Names the adapter this process or library serves, and installs the
/// forwarding `tracing` subscriber and `log` logger. Only the first call
/// counts.
pub(crate) fn init(name: &str) {
    if ADAPTER_NAME.set(name.to_string()).is_err() {
        return;
    }
    let filter = std::env::var(FILTER_VAR)
        .ok()
        .and_then(|f| f.parse::<Targets>().ok())
        .unwrap_or_else(|| Targets::new().with_default(tracing::Level::INFO));
    let max = filter
        .default_level()
        .and_then(|l| l.into_level())
        .unwrap_or(tracing::Level::INFO);
    let subscriber = tracing_subscriber::registry().with(Forward.with_filter(filter));
    let _ = tracing::subscriber::set_global_default(subscriber);
    if log::set_logger(&ForwardLog).is_ok() {
        log::set_max_level(match max {
            tracing::Level::ERROR => log::LevelFilter::Error,
            tracing::Level::WARN => log::LevelFilter::Warn,
            tracing::Level::INFO => log::LevelFilter::Info,
            tracing::Level::DEBUG => log::LevelFilter::Debug,
            tracing::Level::TRACE => log::LevelFilter::Trace,
        });
    }
}

/// The adapter's name, `adapter` before one was set.
pub(crate) fn adapter_name() -> &'static str {
    ADAPTER_NAME.get().map(String::as_str).unwrap_or("adapter")
}

/// Runs `f` with `request_id` as the current call's request id on this
/// thread (empty ids are not recorded).
pub(crate) fn with_request_id<T>(request_id: Option<&Arc<str>>, f: impl FnOnce() -> T) -> T {
    let Some(id) = request_id else {
        return f();
    };
    let previous = REQUEST_ID.with(|r| r.replace(Some(id.clone())));
    let out = f();
    REQUEST_ID.with(|r| *r.borrow_mut() = previous);
    out
}

/// Logs one line at `level`.
pub fn log(level: Level, message: impl Display) {
    let mut text = String::new();
    REQUEST_ID.with(|r| {
        if let Some(id) = r.borrow().as_deref() {
            let _ = write!(text, "request_id={id} ");
        }
    });
    let _ = write!(text, "{message}");
    match HOST_LOGGER.get() {
        Some(host) => (host.log)(level, RStr::from_str(adapter_name()), RStr::from_str(&text)),
        None => eprintln!("{} {text}", level_name(level)),
    }
}

fn level_name(level: Level) -> &'static str {
    match level {
        Level::Error => "ERROR",
        Level::Warn => "WARN",
        Level::Info => "INFO",
        Level::Debug => "DEBUG",
        Level::Trace => "TRACE",
    }
}

pub fn error(message: impl Display) {
    log(Level::Error, message)
}

pub fn warn(message: impl Display) {
    log(Level::Warn, message)
}

pub fn info(message: impl Display) {
    log(Level::Info, message)
}

pub fn debug(message: impl Display) {
    log(Level::Debug, message)
}

/// Forwards `tracing` events as lines: `target: message key=value …`.
struct Forward;

impl<S: tracing::Subscriber> Layer<S> for Forward {
    fn on_event(&self, event: &tracing::Event<'_>, _ctx: Context<'_, S>) {
        let meta = event.metadata();
        let mut line = Line(format!("{}:", meta.target()));
        event.record(&mut line);
        log(from_tracing(*meta.level()), line.0);
    }
}

struct Line(String);

impl tracing::field::Visit for Line {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.0, " {value:?}");
        } else {
            let _ = write!(self.0, " {}={value:?}", field.name());
        }
    }

    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        if field.name() == "message" {
            let _ = write!(self.0, " {value}");
        } else {
            let _ = write!(self.0, " {}={value:?}", field.name());
        }
    }
}

fn from_tracing(level: tracing::Level) -> Level {
    match level {
        tracing::Level::ERROR => Level::Error,
        tracing::Level::WARN => Level::Warn,
        tracing::Level::INFO => Level::Info,
        tracing::Level::DEBUG => Level::Debug,
        tracing::Level::TRACE => Level::Trace,
    }
}

/// Forwards `log` records (rustls logs through `log`).
struct ForwardLog;

impl log::Log for ForwardLog {
    fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
        metadata.level() <= log::max_level()
    }

    fn log(&self, record: &log::Record<'_>) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let level = match record.level() {
            log::Level::Error => Level::Error,
            log::Level::Warn => Level::Warn,
            log::Level::Info => Level::Info,
            log::Level::Debug => Level::Debug,
            log::Level::Trace => Level::Trace,
        };
        log(
            level,
            format_args!("{}: {}", record.target(), record.args()),
        );
    }

    fn flush(&self) {}
}
