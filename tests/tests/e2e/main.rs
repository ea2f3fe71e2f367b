//! The end-to-end suite: one test binary (`cargo test -p opsorch-e2e --test
//! e2e`), so the host and its dependencies are linked once, not once per file.
//!
//! Layout:
//! - one module per topic below, each a file next to this one holding its
//!   `#[test]`s (filter with the module name: `--test e2e stdio_faults::`);
//! - `*_support` modules hold helpers shared by several topics and no tests;
//! - the harness itself (starting the real binary, the raw HTTP client,
//!   temp dirs) is the crate's library, `tests/src/lib.rs`.
//!
//! To add a topic, add `foo.rs` here and one `mod foo;` line below, in
//! alphabetical order.

mod hardening_support;
mod ops_support;
mod prometheus_support;
mod stdio_support;
mod upstream_support;

mod conformance;
mod hardening_clients;
mod hardening_crash;
mod hardening_faults;
mod hardening_input;
mod library;
mod ops_admin;
mod ops_cli;
mod ops_orphans;
mod ops_prometheus;
mod ops_swap;
mod prometheus;
mod secrets_canary;
mod secrets_encryption;
mod security;
mod server;
mod soak_short;
mod stdio_compat;
mod stdio_faults;
mod stdio_lifecycle;
mod stdio_pipelining;
mod webhook;
