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

use std::collections::HashMap;
use std::io::{self, BufRead, BufReader, BufWriter, Read, Write};
use std::sync::mpsc;
use std::time::Duration;

use crate::context::CallContext;
use crate::error::Error;
use crate::methods::{Capability, Method};
use crate::protocol::{IncomingRequest, WireError, PLUGIN_INFO_METHOD};
use crate::sdk::{Adapter, Config, ProviderInstance};

/// Most requests answered concurrently; the reader waits when this many
/// answers are pending.
pub const MAX_IN_FLIGHT: usize = 256;

/// Serves `adapter` on stdin/stdout until stdin closes, then shuts the
/// adapter runtime down.
///
/// Panics inside the adapter become `adapter_panic` errors; their messages
/// are not printed (they may quote configuration), only their location.
pub fn serve_stdio(adapter: Adapter) -> io::Result<()> {
    crate::panic::install_panic_hook();
    crate::log::init(adapter.name());
    let served = serve(&adapter, io::stdin().lock(), io::stdout());
    crate::runtime::shutdown(Duration::from_secs(1));
    served
}

/// One answer line to come: ready now, or the result of a running call.
enum Pending {
    Ready(String),
    Running(tokio::task::JoinHandle<Result<String, Error>>),
}

/// Serves requests read from `input`, writing responses to `output`.
pub fn serve(adapter: &Adapter, input: impl Read, output: impl Write + Send) -> io::Result<()> {
    let mut reader = BufReader::new(input);
    let (tx, rx) = mpsc::sync_channel::<Pending>(MAX_IN_FLIGHT);
    std::thread::scope(|scope| {
        let writer = scope.spawn(move || write_answers(rx, output));
        let read = read_requests(adapter, &mut reader, &tx);
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
) -> io::Result<()> {
    let mut providers: HashMap<Capability, (String, ProviderInstance)> = HashMap::new();
    let mut line = String::new();
    loop {
        line.clear();
        if reader.read_line(&mut line)? == 0 {
            return Ok(());
        }
        if line.trim().is_empty() {
            continue;
        }
        let pending = match handle_line(adapter, &mut providers, &line) {
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
) -> Result<Pending, Error> {
    let request: IncomingRequest = serde_json::from_str(line)
        .map_err(|e| Error::bad_request(format!("invalid request line: {e}")))?;
    if request.method == PLUGIN_INFO_METHOD {
        return serde_json::to_string(&adapter.manifest())
            .map(|m| Pending::Ready(answer(Ok(m))))
            .map_err(|e| Error::internal(e.to_string()));
    }
    let method = Method::from_name(&request.method)
        .ok_or_else(|| Error::bad_request(format!("unknown method {:?}", request.method)))?;
    let config_text = request.config.as_ref().map(|c| c.get()).unwrap_or("{}");
    let capability = method.capability();
    let stale = providers
        .get(&capability)
        .is_none_or(|(text, _)| text != config_text);
    if stale {
        let instance = crate::panic::catching("provider constructor", || {
            // The config may hold credentials: never quote it in an error.
            let config: Config = match config_text.trim() {
                "null" => Config::new(),
                text => serde_json::from_str(text)
                    .map_err(|_| Error::bad_request("config must be a JSON object"))?,
            };
            adapter.construct(capability, "", &config)
        })?;
        providers.insert(capability, (config_text.to_string(), instance));
    }
    let (_, instance) = &providers[&capability];
    let payload = request
        .payload
        .as_ref()
        .map(|p| p.get())
        .unwrap_or("null")
        .to_string();
    let call = instance.call_async(CallContext::new(), method, payload);
    if instance.is_blocking() {
        Ok(Pending::Ready(answer(crate::runtime::block_on(call))))
    } else {
        Ok(Pending::Running(crate::runtime::handle()?.spawn(call)))
    }
}
