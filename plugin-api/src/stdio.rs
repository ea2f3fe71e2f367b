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
use serde_json::value::RawValue;

use crate::protocol::{
    ConfigCheck, IncomingRequest, PluginInfoPayload, WireError, PLUGIN_INFO_METHOD,
};
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
    let call = instance.call_async(CallContext::new(), method, payload);
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
}
