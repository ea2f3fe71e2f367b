//! The configuration check: before a capability's plugin is put in effect
//! (at start-up, from the stored configuration, or by `POST
//! /providers/{cap}`), one short-lived process of it is asked
//! `plugin.info` with the capability and the config, as a library's
//! provider is built from its config at load time.
//!
//! The request is the only line the process gets: its stdin is closed
//! right after, so a plugin that does not answer unknown methods reaches
//! end of input and exits. What the answer can say:
//!
//! * a manifest that lists providers, none for the capability: the plugin
//!   does not serve it, and the configuration is refused, naming what it
//!   serves;
//! * a manifest with a `configCheck` error (plugins built on the SDK since
//!   1.1): the plugin's provider refused the config, and the configuration
//!   is refused with the plugin's reason;
//! * a manifest without a check (SDK 1.0), an error or a line that is not
//!   an answer (plugins written for the Go host), no answer at all, or no
//!   answer within `FIXED.plugin_check_timeout`: nothing is known, and the
//!   config is checked by the first call, as before.
//!
//! The process is then given `FIXED.plugin_check_exit_grace` to exit, killed if it
//! has not, and reaped before the check returns: no serving process starts
//! before the first call, as the transport's lifecycle says.

use opsorch_plugin_api::protocol::{Manifest, PluginInfoPayload, PLUGIN_INFO_METHOD};
use tokio::io::{AsyncWriteExt, BufReader};

use super::process::{log_stderr_line, spawn_child, PluginSpec};
use super::wire::{self, LineRead, Parsed};
use crate::providers::seam::BuildError;
use crate::safe_text::{escape_into, quoted};
use crate::settings::FIXED;

/// What the check learnt.
#[derive(Debug)]
pub(crate) enum Checked {
    /// The plugin answered with its manifest.
    Manifest(Manifest),
    /// Nothing usable; why, for the log.
    Unknown(String),
}

/// Runs one process of `spec`, asks it `plugin.info` for its capability
/// with its config, and ends it.
pub(crate) async fn run(spec: &PluginSpec) -> Checked {
    let payload = PluginInfoPayload {
        capability: Some(spec.capability.name().to_owned()),
    };
    let line = match serde_json::to_string(&payload)
        .map_err(|e| e.to_string())
        .and_then(|payload| {
            wire::encode_request(PLUGIN_INFO_METHOD, &spec.config, &payload)
                .map_err(|e| e.to_string())
        }) {
        Ok(line) => line,
        Err(e) => return Checked::Unknown(format!("cannot encode the check: {e}")),
    };
    let mut child = match spawn_child(spec) {
        Ok(child) => child,
        Err(e) => return Checked::Unknown(format!("the plugin could not be started: {e}")),
    };
    let pid = child.id().unwrap_or_default();
    let (Some(mut stdin), Some(stdout), Some(stderr)) =
        (child.stdin.take(), child.stdout.take(), child.stderr.take())
    else {
        // Unreachable with piped stdio; the child is killed on drop.
        return Checked::Unknown("the plugin's stdio pipes are missing".into());
    };
    let (capability, plugin) = (spec.capability, spec.shown_path());
    let forward = tokio::spawn(async move {
        let mut reader = BufReader::new(stderr);
        let mut line = Vec::new();
        loop {
            match wire::read_line_bounded(&mut reader, &mut line, FIXED.plugin_max_stderr_line)
                .await
            {
                Ok(LineRead::Line | LineRead::Partial | LineRead::TooLong) => {
                    let text = String::from_utf8_lossy(&line);
                    let text = text.trim_end();
                    if !text.is_empty() {
                        log_stderr_line(capability, &plugin, pid, text, "");
                    }
                }
                Ok(LineRead::Eof) | Err(_) => return,
            }
        }
    });
    let exchange = async {
        if stdin.write_all(&line).await.is_err() || stdin.flush().await.is_err() {
            return Checked::Unknown("the plugin closed its input before the check".into());
        }
        // The only request: a plugin that ignores it reaches end of input.
        drop(stdin);
        let mut reader = BufReader::new(stdout);
        let mut line = Vec::new();
        loop {
            let read =
                wire::read_line_bounded(&mut reader, &mut line, FIXED.plugin_max_response_line);
            match read.await {
                Ok(LineRead::Line | LineRead::Partial) => match wire::parse_response(&line) {
                    Parsed::Blank => continue,
                    Parsed::Answer(Ok(raw)) => {
                        return match serde_json::from_str::<Manifest>(raw.get()) {
                            Ok(manifest) => Checked::Manifest(manifest),
                            Err(_) => Checked::Unknown(
                                "plugin.info answered something other than a manifest".into(),
                            ),
                        }
                    }
                    Parsed::Answer(Err(e)) => {
                        return Checked::Unknown(format!(
                            "plugin.info answered an error: {}",
                            quoted(&e.to_string())
                        ))
                    }
                    Parsed::Bad(why) => return Checked::Unknown(why),
                },
                Ok(LineRead::TooLong) => return Checked::Unknown("the answer is too long".into()),
                Ok(LineRead::Eof) | Err(_) => {
                    return Checked::Unknown("the plugin ended without answering".into())
                }
            }
        }
    };
    let wait = FIXED.plugin_check_timeout.min(spec.call_timeout);
    let checked = tokio::time::timeout(wait, exchange)
        .await
        .unwrap_or_else(|_| Checked::Unknown(format!("no answer within {} ms", wait.as_millis())));
    if tokio::time::timeout(FIXED.plugin_check_exit_grace, child.wait())
        .await
        .is_err()
    {
        let _ = child.start_kill();
        let _ = child.wait().await;
    }
    // Its stderr ends with it (unless a grandchild holds it open).
    let _ = tokio::time::timeout(FIXED.plugin_check_exit_grace, forward).await;
    checked
}

/// What the host makes of a check for the plugin at `spec`: the provider
/// names it serves the capability under (empty when unknown), or why the
/// configuration is refused.
pub(crate) fn verdict(spec: &PluginSpec, checked: Checked) -> Result<Vec<String>, BuildError> {
    let capability = spec.capability;
    let plugin = spec.shown_path();
    let manifest = match checked {
        Checked::Manifest(manifest) => manifest,
        Checked::Unknown(why) => {
            tracing::info!(%capability, plugin = %plugin, reason = %why,
                "the plugin did not identify itself; its config is checked by its first call");
            return Ok(Vec::new());
        }
    };
    let names: Vec<String> = manifest
        .providers
        .iter()
        .filter(|p| p.capability == capability.name())
        .map(|p| quoted(&p.name))
        .collect();
    if names.is_empty() && !manifest.providers.is_empty() {
        let serves: Vec<String> = manifest
            .providers
            .iter()
            .take(16)
            .map(|p| format!("{} `{}`", quoted(&p.capability), quoted(&p.name)))
            .collect();
        return Err(BuildError::Invalid(format!(
            "plugin {} (adapter `{}`) does not serve the {capability} capability; it serves {}",
            quoted(&plugin),
            quoted(&manifest.name),
            serves.join(", ")
        )));
    }
    match manifest.config_check {
        Some(check) if check.capability == capability.name() => {
            if let Some(error) = check.error {
                let code = match error.code() {
                    "" => String::new(),
                    code => format!("{}: ", quoted(code)),
                };
                return Err(BuildError::Config(format!(
                    "{capability} plugin {} refused its config: {code}{}",
                    quoted(&plugin),
                    bounded(error.message())
                )));
            }
            tracing::info!(%capability, plugin = %plugin, adapter = %manifest.name,
                providers = %names.join(", "), "the plugin accepted its config");
        }
        _ => tracing::info!(%capability, plugin = %plugin, adapter = %manifest.name,
            "the plugin identified itself but does not check configs; its config is checked by its first call"),
    }
    Ok(names)
}

/// A plugin's error message, escaped and cut to 400 characters.
fn bounded(text: &str) -> String {
    let mut out = String::new();
    escape_into(&mut out, text, 400, false);
    out
}
