//! `opsorch check`: everything `serve` would refuse, found without opening
//! a socket and without stopping at the first problem.
//!
//! Checked: every `OPSORCH_*` variable (a bad one is reported and then
//! treated as unset, so the others are still checked), the
//! TLS files, every adapter library in the
//! plugin directories, the secret store (its file and key) and every
//! capability's provider, stdio plugin paths included, and the choices
//! stored in the secret store. Providers are built as `serve` builds them:
//! each stdio plugin runs once for its configuration check
//! (`transports::stdio`), and no serving process is started.

use std::collections::BTreeSet;

use crate::builtins::json_secrets::SecretKey;
use crate::http::server;
use crate::settings::{ConfigError, Env, Settings};
use crate::startup::build;
use crate::transports::{library, stdio};

/// An environment with some variables treated as unset.
struct Masked<'a> {
    env: &'a dyn Env,
    hidden: BTreeSet<String>,
}

impl Env for Masked<'_> {
    fn raw(&self, name: &str) -> Option<String> {
        if self.hidden.contains(name) {
            None
        } else {
            self.env.raw(name)
        }
    }
}

/// Every problem with the configuration in `env`, one line each (the
/// variable, file or stored key at fault, and why). Empty when `serve`
/// would start.
pub async fn check(env: &dyn Env) -> Vec<String> {
    let mut problems: Vec<ConfigError> = Vec::new();
    let mut masked = Masked {
        env,
        hidden: BTreeSet::new(),
    };
    let settings = loop {
        match Settings::from_env(&masked) {
            Ok(settings) => break settings,
            Err(e) => {
                let again = !masked.hidden.insert(e.variable.clone());
                problems.push(e);
                if again {
                    // Unsetting it did not help: nothing more can be read.
                    return lines(problems);
                }
            }
        }
    };
    if let Some(files) = &settings.tls {
        if let Err(e) = server::tls_config(files) {
            problems.push(e);
        }
    }
    let key = settings.secret_key.as_ref().map(SecretKey::new);
    let mut registry = build::builtin_registry_with(key);
    for failure in
        library::register_libraries_collecting(&settings.library_dirs, &mut registry, None)
    {
        problems.push(ConfigError::new("OPSORCH_PLUGIN_DIR", failure.to_string()));
    }
    let plugins = stdio::Transport::new(stdio::TransportSettings {
        plugin_dirs: settings.library_dirs.clone(),
        call_timeout: settings.plugin_timeout,
        metrics: None,
    });
    problems.extend(build::check_state(&settings, registry, plugins.clone()).await);
    // A stdio secret store may have started while reading stored choices.
    plugins.shutdown().await;
    lines(problems)
}

fn lines(problems: Vec<ConfigError>) -> Vec<String> {
    problems.iter().map(ToString::to_string).collect()
}
