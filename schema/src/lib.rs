//! The OpsOrch data model, under the name the host uses: every request
//! body, query and resource that crosses the HTTP API, the stdio plugin
//! protocol and the adapter ABI.
//!
//! The types live in the SDK, [`opsorch_plugin_api::schema`], so that the
//! SDK crate depends on nothing unpublished and packages on its own
//! (docs/ADAPTERS.md, "Depending on the SDK"); this crate re-exports them.
//! Its `openapi` feature turns on the SDK's, which derives
//! `utoipa::ToSchema` for every type. The wire tests (`tests/wire`) check
//! the types through this name.

pub use opsorch_plugin_api::schema::*;
