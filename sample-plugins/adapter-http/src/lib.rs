//! What the sample HTTP adapters (`opsorch-prometheus`, `opsorch-webhook`)
//! share: [`config`] reads the upstream settings (base URL, credentials held
//! as redacted [`config::Secret`]s, CA file, timeout, answer size limit),
//! [`client`] is the pooled hyper/rustls client that applies them and maps
//! every failure to an SDK error kind, and [`runtime`] is the adapters' own
//! tokio runtime that synchronous provider methods block on.

pub mod client;
pub mod config;
pub mod runtime;
