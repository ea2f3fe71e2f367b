//! Serving an adapter as a stdio plugin (the OpsOrch JSON-lines protocol).
//!
//! The host starts one process per capability and writes one request per
//! line; this loop answers each in order with one line. The capability comes
//! from the method name, the provider from the adapter's first registration
//! for that capability. The config arrives with every request; the provider
//! is rebuilt only when it changes.

use std::collections::HashMap;
use std::io::{self, BufRead, BufReader, BufWriter, Read, Write};

use crate::error::Error;
use crate::methods::{Capability, Method};
use crate::protocol::{IncomingRequest, WireError, PLUGIN_INFO_METHOD};
use crate::sdk::{Adapter, Config, ProviderInstance};

/// Serves `adapter` on stdin/stdout until stdin closes.
///
/// Panics inside the adapter become `adapter_panic` errors; their messages
/// are not printed (they may quote configuration), only their location.
pub fn serve_stdio(adapter: Adapter) -> io::Result<()> {
    crate::abi::install_panic_hook();
    serve(&adapter, io::stdin().lock(), io::stdout().lock())
}

/// Serves requests read from `input`, writing responses to `output`.
pub fn serve(adapter: &Adapter, input: impl Read, output: impl Write) -> io::Result<()> {
    let mut reader = BufReader::new(input);
    let mut writer = BufWriter::new(output);
    let mut providers: HashMap<Capability, (String, ProviderInstance)> = HashMap::new();
    let mut line = String::new();
    loop {
        line.clear();
        if reader.read_line(&mut line)? == 0 {
            break;
        }
        if line.trim().is_empty() {
            continue;
        }
        let response = match handle_line(adapter, &mut providers, &line) {
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
        };
        writer.write_all(response.as_bytes())?;
        writer.write_all(b"\n")?;
        // Flush once the host has nothing more queued, so pipelined requests
        // are answered in one write.
        if reader.buffer().is_empty() {
            writer.flush()?;
        }
    }
    writer.flush()
}

fn handle_line(
    adapter: &Adapter,
    providers: &mut HashMap<Capability, (String, ProviderInstance)>,
    line: &str,
) -> Result<String, Error> {
    let request: IncomingRequest = serde_json::from_str(line)
        .map_err(|e| Error::bad_request(format!("invalid request line: {e}")))?;
    if request.method == PLUGIN_INFO_METHOD {
        return serde_json::to_string(&adapter.manifest())
            .map_err(|e| Error::internal(e.to_string()));
    }
    let method = Method::from_name(&request.method)
        .ok_or_else(|| Error::bad_request(format!("unknown method {:?}", request.method)))?;
    let config_text = request.config.as_ref().map(|c| c.get()).unwrap_or("{}");
    let capability = method.capability();
    let stale = providers
        .get(&capability)
        .is_none_or(|(text, _)| text != config_text);
    let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        if stale {
            // The config may hold credentials: never quote it in an error.
            let config: Config = match config_text.trim() {
                "null" => Config::new(),
                text => serde_json::from_str(text)
                    .map_err(|_| Error::bad_request("config must be a JSON object"))?,
            };
            let instance = adapter.construct(capability, "", &config)?;
            providers.insert(capability, (config_text.to_string(), instance));
        }
        let (_, instance) = &providers[&capability];
        let payload = request.payload.as_ref().map(|p| p.get()).unwrap_or("null");
        instance.call_method(method, payload)
    }));
    caught.unwrap_or_else(|_| Err(crate::abi::panic_error(method.name())))
}
