//! The OpsOrch adapter interface: a stable ABI for adapter libraries and the
//! SDK adapter authors write against.
//!
//! An adapter implements the typed provider traits it supports (every method
//! defaults to an `unsupported` error), lists them in an [`Adapter`], and
//! calls [`export_adapter!`]. Built as a `cdylib`, the crate is an adapter
//! library the host loads from `OPSORCH_PLUGIN_DIR`; the same source, with a
//! `main` that calls [`serve_stdio`], is a stdio plugin binary for
//! `OPSORCH_<CAP>_PLUGIN`.
//!
//! A complete adapter:
//!
//! ```
//! use opsorch_plugin_api::schema::{Service, ServiceQuery};
//! use opsorch_plugin_api::{export_adapter, Adapter, Config, Error, Result, ServiceProvider};
//!
//! struct Catalog {
//!     services: Vec<Service>,
//! }
//!
//! impl ServiceProvider for Catalog {
//!     fn query(&self, query: ServiceQuery) -> Result<Vec<Service>> {
//!         Ok(self
//!             .services
//!             .iter()
//!             .filter(|s| query.name.is_empty() || s.name.contains(&query.name))
//!             .cloned()
//!             .collect())
//!     }
//! }
//!
//! fn adapter() -> Adapter {
//!     Adapter::new("catalog", "0.1.0").service("catalog", |config: &Config| {
//!         let name = config
//!             .get("service")
//!             .and_then(|v| v.as_str())
//!             .ok_or_else(|| Error::bad_request("config.service is required"))?;
//!         opsorch_plugin_api::log::info(format_args!("serving {name}"));
//!         Ok(Catalog {
//!             services: vec![Service { id: name.into(), name: name.into(), ..Default::default() }],
//!         })
//!     })
//! }
//!
//! export_adapter!(adapter);
//!
//! // In the binary target: `fn main() -> std::io::Result<()> { serve_stdio(adapter()) }`.
//! # let config: Config = serde_json::from_str(r#"{"service":"checkout"}"#).unwrap();
//! # let provider = adapter().construct(opsorch_plugin_api::Capability::Service, "catalog", &config).unwrap();
//! # assert_eq!(provider.call("service.query", "{}").unwrap(), r#"[{"id":"checkout","name":"checkout"}]"#);
//! ```
//!
//! An asynchronous provider implements the `Async…Provider` trait with
//! `async fn` methods that also receive the [`CallContext`] (deadline,
//! request id, actor), and registers with the `…_async` builder method. Such
//! calls run on the adapter's own runtime ([`runtime`]) and are cancelled
//! when the host drops them:
//!
//! ```
//! use opsorch_plugin_api::schema::{Service, ServiceQuery};
//! use opsorch_plugin_api::{async_trait, Adapter, AsyncServiceProvider, CallContext, Result};
//!
//! struct Slow;
//!
//! #[async_trait]
//! impl AsyncServiceProvider for Slow {
//!     async fn query(&self, context: &CallContext, _query: ServiceQuery) -> Result<Vec<Service>> {
//!         // Waiting costs no thread; the SDK answers `timeout` at the deadline.
//!         opsorch_plugin_api::tokio::time::sleep(std::time::Duration::from_millis(5)).await;
//!         Ok(vec![Service { id: context.request_id().into(), ..Default::default() }])
//!     }
//! }
//!
//! let adapter = Adapter::new("slow", "0.1.0").service_async("slow", |_| Ok(Slow));
//! # let provider = adapter.construct(opsorch_plugin_api::Capability::Service, "slow", &Default::default()).unwrap();
//! # assert_eq!(provider.call("service.query", "{}").unwrap(), r#"[{"id":"","name":""}]"#);
//! ```
//!
//! Modules: [`methods`] is the one table of capabilities and methods,
//! [`protocol`] the wire types, [`abi`] the stable boundary and its version
//! policy, [`ffi`] the data types crossing it, [`runtime`] the adapter's
//! runtime, [`log`] adapter logging. The data types providers exchange are
//! in [`schema`] (the host's `opsorch-schema` crate re-exports them).

// abi_stable's generated `*_Ref` types and `#[sabi_trait]` impls trip these
// lints on current rustc; they are confined to this crate.
#![allow(non_local_definitions, non_camel_case_types)]

pub mod abi;
mod context;
pub mod error;
pub mod ffi;
#[cfg(feature = "http")]
pub mod http;
mod json_text;
pub mod log;
pub mod methods;
mod panic;
pub mod protocol;
pub mod runtime;
pub mod schema;
mod sdk;
mod stdio;

#[doc(hidden)]
pub use abi_stable;

/// Implements the `Async…Provider` traits: put `#[async_trait]` on the impl.
pub use async_trait::async_trait;
pub use context::CallContext;
pub use error::{Error, ErrorKind};
pub use json_text::JsonText;
pub use methods::{Capability, Method, ResultKind};
pub use sdk::*;
pub use stdio::{serve, serve_stdio, MAX_IN_FLIGHT};
/// The tokio the adapter runtime runs (timers, I/O); use this one in adapters.
pub use tokio;
/// The `tracing` whose events reach the host's log; use this one in adapters.
pub use tracing;
