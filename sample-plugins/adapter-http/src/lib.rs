//! What the sample HTTP adapters (`opsorch-prometheus`, `opsorch-webhook`)
//! share: [`config`] reads the upstream settings (base URL, credentials held
//! as redacted [`config::Secret`]s, CA file, timeout, answer size limit),
//! and [`client`] is the pooled hyper/rustls client that applies them and
//! the call's deadline, and maps every failure to an SDK error kind. It runs
//! on the SDK's runtime (asynchronous providers are polled there).

pub mod client;
pub mod config;
