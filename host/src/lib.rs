//! OpsOrch Core host: the REST API described in `README.md` over pluggable
//! providers. The layout and its layering rule are in
//! `docs/ARCHITECTURE.md`.
//!
//! A request passes the [`http::gate`] (request ID, CORS, bearer auth,
//! audit), is routed by the table in [`http::routes::table`], and reaches
//! the provider in effect for its capability ([`providers::state`]).
//! Providers are built-in ([`builtins`]), loaded from stable-ABI libraries
//! ([`transports::library`]) or run as stdio plugins
//! ([`transports::stdio`]); configuration comes from the environment
//! ([`settings`]) and from choices stored in the secret provider
//! ([`providers::selection`]).
//!
//! [`app`] builds the router without any I/O so tests drive it in process;
//! [`serve`] is the whole start-up path of the binary.

pub mod builtins;
pub mod http;
pub mod metrics;
pub mod providers;
pub mod safe_text;
pub mod settings;
pub mod startup;
pub mod transports;
mod unique_keys;

pub use http::app;
pub use http::error::ApiError;
pub use providers::seam::{
    BuildError, PluginLauncher, Provider, ProviderError, ProviderFactory, ProviderFuture,
    ProviderRegistry,
};
pub use providers::state::{AppState, HttpSettings};
pub use settings::{ConfigError, Env, ProcessEnv, Settings};
pub use startup::logging::{init_logging, log_subscriber};
pub use startup::{prepare, protect_process, serve};
