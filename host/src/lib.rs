//! OpsOrch Core host: the REST API described in `README.md` over pluggable
//! providers. The layout, its layering rule and the public API are in
//! `docs/ARCHITECTURE.md`.
//!
//! A request passes the request gate (`http::gate`: request ID, CORS,
//! bearer auth, audit), is routed by the table in `http::routes::table`,
//! and reaches the provider in effect for its capability
//! (`providers::state`). Providers are built-in (`builtins`), loaded from
//! stable-ABI libraries (`transports::library`) or run as stdio plugins
//! (`transports::stdio`); configuration comes from the environment
//! ([`Settings`]) and from choices stored in the secret provider
//! (`providers::selection`). Those modules are internal; the items
//! re-exported here are the crate's API.
//!
//! [`app`] builds the router without any I/O so tests drive it in process;
//! [`serve`] is the whole start-up path of the binary.

// Every module is internal; the crate's API is what is re-exported below
// (see docs/ARCHITECTURE.md, "The public API").
pub(crate) mod builtins;
pub(crate) mod http;
pub(crate) mod metrics;
pub(crate) mod providers;
pub(crate) mod safe_text;
pub(crate) mod settings;
pub(crate) mod startup;
pub(crate) mod transports;
mod unique_keys;

#[cfg(test)]
mod fuzz;
#[cfg(test)]
mod log_capture;

// Serving: the settings, the state built from them, the app over the state.
pub use http::app;
pub use http::audit::{AuditLog, AuditWriter};
pub use http::error::ApiError;
pub use providers::state::{AppState, HttpSettings};
pub use settings::{ConfigError, Env, ProcessEnv, Settings};
pub use startup::build::builtin_registry;
pub use startup::logging::{init_logging, log_subscriber};
pub use startup::{build_state, prepare, protect_process, serve};

// Providers: the seam an embedder (or a test) implements.
pub use providers::seam::{
    BuildError, Json, LaunchedPlugin, PluginLauncher, Provider, ProviderError, ProviderFactory,
    ProviderFuture, ProviderRegistry,
};

// The json secret store's file, for tools that read it: its key as the
// settings read it, and its decoder.
pub use builtins::json_secrets::{decode_file as decode_secret_file, SecretFileError, SecretKey};
pub use settings::KeyMaterial;

/// What the `opsorch` binary uses beyond the API above: its commands
/// (`check`, `plugin inspect`), the log format, inherited listeners.
pub mod cli {
    pub use crate::safe_text::escaped;
    pub use crate::startup::check::check;
    pub use crate::startup::logging::{init_logging_as, LogFormat, FORMAT_VAR};
    pub use crate::startup::swap::Inherited;
    pub use crate::transports::library::{host_interface_version, inspect};
}
