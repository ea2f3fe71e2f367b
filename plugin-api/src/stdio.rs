//! Serving an adapter as a stdio plugin (the OpsOrch JSON-lines protocol).
//!
//! The host starts one process per capability and writes one request per
//! line; the plugin answers each with one line, in request order (the
//! protocol has no ids: the order is the contract). The capability comes
//! from the method name, the provider from the adapter's first registration
//! for that capability. The config arrives with every request; the provider
//! is rebuilt only when it changes.
//!
//! Calls of asynchronous providers run concurrently on the adapter runtime,
//! at most [`MAX_IN_FLIGHT`] at a time; calls of synchronous providers run
//! one after the other on the reading thread, as they always did. A writer
//! thread writes the answers in request order, flushing whenever it has
//! caught up with the reader.
//!
//! # Call deadline
//! The host kills and replaces a plugin process that does not answer a call
//! within the capability's timeout (504 `plugin_timeout`), and tells the
//! process that timeout in [`CALL_TIMEOUT_ENV`] (`OPSORCH_CALL_TIMEOUT_MS`).
//! [`serve_stdio`] reads it once, at start-up, and gives every request the
//! deadline "read time + timeout - margin", the margin being a tenth of the
//! timeout, at most 1 s. An asynchronous call still running then is dropped,
//! cancelling its upstream requests, and answers `timeout` (504) just
//! before the host would have given up on it: the process keeps serving.
//! Without the variable (an older host, a run by hand) calls have no
//! deadline; a value that is not a positive whole number of milliseconds
//! stops the plugin at start-up with a message on stderr. Calls of
//! synchronous providers are not bounded by the SDK (the host's timeout
//! still applies).

use std::collections::HashMap;
use std::ffi::OsStr;
use std::io::{self, BufRead, BufReader, BufWriter, Read, Write};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::context::CallContext;
use crate::error::Error;
use crate::methods::{Capability, Method};
use serde_json::value::RawValue;

use crate::protocol::{
    ConfigCheck, IncomingRequest, PluginInfoPayload, WireError, CALL_TIMEOUT_ENV,
    PLUGIN_INFO_METHOD,
};
use crate::sdk::{Adapter, Config, ProviderInstance};

/// Most requests answered concurrently; the reader waits when this many
/// answers are pending.
pub const MAX_IN_FLIGHT: usize = 256;

/// Serves `adapter` on stdin/stdout until stdin closes, then shuts the
/// adapter runtime down.
///
/// Each call's deadline comes from the host's [`CALL_TIMEOUT_ENV`] (see
/// the module docs). An invalid value is written to stderr and returned
/// as an [`io::ErrorKind::InvalidInput`] error before anything is served.
///
/// Panics inside the adapter become `adapter_panic` errors; their messages
/// are not printed (they may quote configuration), only their location.
pub fn serve_stdio(adapter: Adapter) -> io::Result<()> {
    crate::panic::install_panic_hook();
    crate::log::init(adapter.name());
    let call_timeout = match call_timeout(std::env::var_os(CALL_TIMEOUT_ENV).as_deref()) {
        Ok(timeout) => timeout,
        Err(e) => {
            crate::log::error(&e);
            return Err(io::Error::new(io::ErrorKind::InvalidInput, e));
        }
    };
    let served = serve_with_timeout(&adapter, io::stdin().lock(), io::stdout(), call_timeout);
    crate::runtime::shutdown(Duration::from_secs(1));
    served
}

/// A value of [`CALL_TIMEOUT_ENV`] that is not a positive whole number of
/// milliseconds.
#[derive(Debug, Clone, PartialEq, Eq)]
struct InvalidCallTimeout {
    /// The value as set (lossily decoded).
    value: String,
}

impl std::fmt::Display for InvalidCallTimeout {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{CALL_TIMEOUT_ENV} must be a positive whole number of milliseconds, not {:?}",
            self.value
        )
    }
}

impl std::error::Error for InvalidCallTimeout {}

/// The per-call timeout in a value of [`CALL_TIMEOUT_ENV`]: `None` when it
/// is not set or empty (no deadline).
fn call_timeout(value: Option<&OsStr>) -> Result<Option<Duration>, InvalidCallTimeout> {
    let Some(value) = value.filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    value
        .to_str()
        .and_then(|text| text.parse::<u64>().ok())
        .filter(|&ms| ms > 0)
        .map(|ms| Some(Duration::from_millis(ms)))
        .ok_or_else(|| InvalidCallTimeout {
            value: value.to_string_lossy().into_owned(),
        })
}

/// How long before the host's timeout the SDK's deadline falls: a tenth of
/// the timeout, at most 1 s, so that the adapter's `timeout` answer reaches
/// the host before the host gives up on the call and kills the process.
fn deadline_margin(timeout: Duration) -> Duration {
    (timeout / 10).min(Duration::from_secs(1))
}

/// One answer line to come: ready now, or the result of a running call.
enum Pending {
    Ready(String),
    Running(tokio::task::JoinHandle<Result<String, Error>>),
}

/// Serves requests read from `input`, writing responses to `output`. Calls
/// get no deadline ([`serve_stdio`] reads the host's).
pub fn serve(adapter: &Adapter, input: impl Read, output: impl Write + Send) -> io::Result<()> {
    serve_with_timeout(adapter, input, output, None)
}

/// [`serve`], with each call's deadline `call_timeout` (less the margin)
/// after its request line was read.
fn serve_with_timeout(
    adapter: &Adapter,
    input: impl Read,
    output: impl Write + Send,
    call_timeout: Option<Duration>,
) -> io::Result<()> {
    let mut reader = BufReader::new(input);
    let (tx, rx) = mpsc::sync_channel::<Pending>(MAX_IN_FLIGHT);
    std::thread::scope(|scope| {
        let writer = scope.spawn(move || write_answers(rx, output));
        let read = read_requests(adapter, &mut reader, &tx, call_timeout);
        drop(tx);
        let written = writer
            .join()
            .unwrap_or_else(|_| Err(io::Error::other("the stdio writer panicked")));
        read.and(written)
    })
}

fn read_requests(
    adapter: &Adapter,
    reader: &mut impl BufRead,
    tx: &mpsc::SyncSender<Pending>,
    call_timeout: Option<Duration>,
) -> io::Result<()> {
    let mut providers: HashMap<Capability, (String, ProviderInstance)> = HashMap::new();
    let mut line = String::new();
    loop {
        line.clear();
        if reader.read_line(&mut line)? == 0 {
            return Ok(());
        }
        let read_at = Instant::now();
        if line.trim().is_empty() {
            continue;
        }
        let deadline = call_timeout.and_then(|t| read_at.checked_add(t - deadline_margin(t)));
        let context = match deadline {
            Some(deadline) => CallContext::new().with_deadline(deadline),
            None => CallContext::new(),
        };
        let pending = match handle_line(adapter, &mut providers, &line, context) {
            Ok(pending) => pending,
            Err(e) => Pending::Ready(answer(Err(e))),
        };
        if tx.send(pending).is_err() {
            // The writer stopped (stdout closed): nothing more can be answered.
            return Ok(());
        }
    }
}

fn write_answers(rx: mpsc::Receiver<Pending>, output: impl Write) -> io::Result<()> {
    let mut writer = BufWriter::new(output);
    loop {
        let pending = match rx.try_recv() {
            Ok(pending) => pending,
            Err(mpsc::TryRecvError::Empty) => {
                // Caught up with the reader: flush what is written so far.
                writer.flush()?;
                match rx.recv() {
                    Ok(pending) => pending,
                    Err(_) => break,
                }
            }
            Err(mpsc::TryRecvError::Disconnected) => break,
        };
        let line =
            match pending {
                Pending::Ready(line) => line,
                Pending::Running(task) => {
                    if !task.is_finished() {
                        writer.flush()?;
                    }
                    answer(crate::runtime::block_on(task).unwrap_or_else(|e| {
                        Err(Error::internal(format!("adapter task failed: {e}")))
                    }))
                }
            };
        writer.write_all(line.as_bytes())?;
        writer.write_all(b"\n")?;
    }
    writer.flush()
}

/// One response line for a result.
fn answer(result: Result<String, Error>) -> String {
    match result {
        Ok(result) => format!("{{\"result\":{result}}}"),
        Err(e) => {
            let wire = WireError::Object {
                code: e.code().to_string(),
                message: e.message().to_string(),
            };
            format!(
                "{{\"error\":{}}}",
                serde_json::to_string(&wire).unwrap_or_default()
            )
        }
    }
}

fn handle_line(
    adapter: &Adapter,
    providers: &mut HashMap<Capability, (String, ProviderInstance)>,
    line: &str,
    context: CallContext,
) -> Result<Pending, Error> {
    let request: IncomingRequest = serde_json::from_str(line)
        .map_err(|e| Error::bad_request(format!("invalid request line: {e}")))?;
    let config_text = request.config.as_ref().map(|c| c.get()).unwrap_or("{}");
    if request.method == PLUGIN_INFO_METHOD {
        return plugin_info(adapter, request.payload.as_deref(), config_text)
            .map(|m| Pending::Ready(answer(Ok(m))));
    }
    let method = Method::from_name(&request.method)
        .ok_or_else(|| Error::bad_request(format!("unknown method {:?}", request.method)))?;
    let capability = method.capability();
    let stale = providers
        .get(&capability)
        .is_none_or(|(text, _)| text != config_text);
    if stale {
        let instance = construct(adapter, capability, config_text)?;
        providers.insert(capability, (config_text.to_string(), instance));
    }
    let (_, instance) = &providers[&capability];
    let payload = request
        .payload
        .as_ref()
        .map(|p| p.get())
        .unwrap_or("null")
        .to_string();
    let call = instance.call_async(context, method, payload);
    if instance.is_synchronous() {
        Ok(Pending::Ready(answer(crate::runtime::block_on(call))))
    } else {
        Ok(Pending::Running(crate::runtime::handle()?.spawn(call)))
    }
}

/// Builds the provider of `capability` from a request's config text.
fn construct(
    adapter: &Adapter,
    capability: Capability,
    config_text: &str,
) -> Result<ProviderInstance, Error> {
    crate::panic::catching("provider constructor", || {
        // The config may hold credentials: never quote it in an error.
        let config: Config = match config_text.trim() {
            "null" => Config::new(),
            text => serde_json::from_str(text)
                .map_err(|_| Error::bad_request("config must be a JSON object"))?,
        };
        adapter.construct(capability, "", &config)
    })
}

/// The answer to `plugin.info`: the manifest, with the config check when
/// the payload names a capability (the host's start-up check).
fn plugin_info(
    adapter: &Adapter,
    payload: Option<&RawValue>,
    config_text: &str,
) -> Result<String, Error> {
    let mut manifest = adapter.manifest();
    // Older hosts send `null`; anything unreadable asks for no check.
    let asked: PluginInfoPayload = payload
        .and_then(|p| serde_json::from_str(p.get()).ok())
        .unwrap_or_default();
    if let Some(name) = asked.capability {
        let outcome = match Capability::from_name(&name) {
            Some(capability) => construct(adapter, capability, config_text).map(|_| ()),
            None => Err(Error::bad_request(format!("unknown capability {name:?}"))),
        };
        manifest.config_check = Some(ConfigCheck {
            capability: name,
            error: outcome.err().map(|e| WireError::Object {
                code: e.code().to_string(),
                message: e.message().to_string(),
            }),
        });
    }
    serde_json::to_string(&manifest).map_err(|e| Error::internal(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::Manifest;

    struct Teams;
    impl crate::sdk::TeamProvider for Teams {}

    fn adapter() -> Adapter {
        Adapter::new("teams", "0.1.0").team("files", |config: &Config| {
            match config.get("path").and_then(|p| p.as_str()) {
                Some(_) => Ok(Teams),
                None => Err(Error::bad_request("config.path must be a string")),
            }
        })
    }

    fn info(line: &str) -> Manifest {
        let mut output = Vec::new();
        serve(&adapter(), format!("{line}\n").as_bytes(), &mut output).unwrap();
        let answer: serde_json::Value = serde_json::from_slice(&output).unwrap();
        serde_json::from_value(answer["result"].clone()).unwrap()
    }

    #[test]
    fn plugin_info_checks_the_config_of_the_capability_asked_about() {
        // No capability asked (older hosts): the manifest alone.
        let plain = info(r#"{"method":"plugin.info","config":{},"payload":null}"#);
        assert_eq!(plain.name, "teams");
        assert_eq!(plain.providers.len(), 1);
        assert_eq!(plain.config_check, None);

        let good = info(
            r#"{"method":"plugin.info","config":{"path":"/x"},"payload":{"capability":"team"}}"#,
        );
        let check = good.config_check.unwrap();
        assert_eq!((check.capability.as_str(), check.error), ("team", None));

        let bad = info(
            r#"{"method":"plugin.info","config":{"path":7,"token":"hunter2"},"payload":{"capability":"team"}}"#,
        );
        let error = bad.config_check.unwrap().error.unwrap();
        assert_eq!(error.code(), "bad_request");
        assert_eq!(error.message(), "config.path must be a string");

        let not_served =
            info(r#"{"method":"plugin.info","config":{},"payload":{"capability":"incident"}}"#);
        let error = not_served.config_check.unwrap().error.unwrap();
        assert!(
            error
                .message()
                .contains("does not serve the incident capability (it serves team `files`)"),
            "{error:?}"
        );
    }

    #[test]
    fn the_call_timeout_variable_is_a_positive_number_of_milliseconds() {
        let parse = |v: &str| call_timeout(Some(OsStr::new(v)));
        assert_eq!(call_timeout(None), Ok(None));
        assert_eq!(parse(""), Ok(None));
        assert_eq!(parse("2500"), Ok(Some(Duration::from_millis(2500))));
        for bad in ["0", "-5", "1.5", " 100", "30s", "abc"] {
            let error = parse(bad).unwrap_err();
            assert_eq!(error.value, bad);
            assert_eq!(
                error.to_string(),
                format!(
                    "OPSORCH_CALL_TIMEOUT_MS must be a positive whole number of milliseconds, not {bad:?}"
                )
            );
        }
    }

    #[test]
    fn the_margin_is_a_tenth_of_the_timeout_at_most_a_second() {
        let ms = Duration::from_millis;
        assert_eq!(deadline_margin(ms(100)), ms(10));
        assert_eq!(deadline_margin(ms(2000)), ms(200));
        assert_eq!(deadline_margin(ms(10_000)), ms(1000));
        assert_eq!(deadline_margin(ms(30_000)), ms(1000));
    }

    /// Sends the deadline of every call's context to the test.
    struct Deadlines(mpsc::Sender<Option<Instant>>);

    #[async_trait::async_trait]
    impl crate::sdk::AsyncServiceProvider for Deadlines {
        async fn query(
            &self,
            context: &CallContext,
            _query: crate::schema::ServiceQuery,
        ) -> crate::sdk::Result<Vec<crate::schema::Service>> {
            let _ = self.0.send(context.deadline());
            Ok(Vec::new())
        }
    }

    fn deadlines_seen(call_timeout: Option<Duration>) -> (Instant, Vec<Option<Instant>>, Instant) {
        let (tx, rx) = mpsc::channel();
        let adapter = Adapter::new("deadlines", "0.1.0")
            .service_async("deadlines", move |_: &Config| Ok(Deadlines(tx.clone())));
        let line = r#"{"method":"service.query","config":{},"payload":{}}"#;
        let input = format!("{line}\n{line}\n");
        let mut output = Vec::new();
        let before = Instant::now();
        serve_with_timeout(&adapter, input.as_bytes(), &mut output, call_timeout).unwrap();
        let after = Instant::now();
        assert_eq!(
            String::from_utf8(output).unwrap(),
            "{\"result\":[]}\n{\"result\":[]}\n"
        );
        // Every call was answered: every send is done.
        (before, rx.try_iter().collect(), after)
    }

    #[test]
    fn each_call_s_deadline_is_the_host_timeout_less_the_margin_after_its_line_was_read() {
        let timeout = Duration::from_millis(2000);
        let (before, seen, after) = deadlines_seen(Some(timeout));
        assert_eq!(seen.len(), 2);
        for deadline in seen {
            let deadline = deadline.expect("a deadline");
            // Read between `before` and `after`: 1800 ms later, less 200 ms.
            assert!(
                deadline >= before + Duration::from_millis(1800),
                "too early"
            );
            assert!(deadline <= after + Duration::from_millis(1800), "too late");
        }
        // `serve` (no variable) sets none.
        let (_, seen, _) = deadlines_seen(None);
        assert_eq!(seen, vec![None, None]);
    }

    /// Waits far longer than any deadline of these tests.
    struct Sleepy;

    #[async_trait::async_trait]
    impl crate::sdk::AsyncServiceProvider for Sleepy {
        async fn query(
            &self,
            _context: &CallContext,
            _query: crate::schema::ServiceQuery,
        ) -> crate::sdk::Result<Vec<crate::schema::Service>> {
            tokio::time::sleep(Duration::from_secs(60)).await;
            Ok(Vec::new())
        }
    }

    #[test]
    fn a_call_past_its_deadline_is_dropped_and_answers_timeout() {
        let adapter =
            Adapter::new("sleepy", "0.1.0").service_async("sleepy", |_: &Config| Ok(Sleepy));
        let input = "{\"method\":\"service.query\",\"config\":{},\"payload\":{}}\n";
        let mut output = Vec::new();
        let start = Instant::now();
        serve_with_timeout(
            &adapter,
            input.as_bytes(),
            &mut output,
            Some(Duration::from_millis(200)),
        )
        .unwrap();
        // A hang bound, not a speed assertion: the call sleeps 60 s.
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "{:?}",
            start.elapsed()
        );
        let answer: serde_json::Value = serde_json::from_slice(&output).unwrap();
        assert_eq!(answer["error"]["code"], "timeout", "{answer}");
    }
}
