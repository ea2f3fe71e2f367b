//! The host's integration tests: one test binary (`cargo test -p opsorch
//! --test host`), so the crate and its dependencies are linked once, not
//! once per file.
//!
//! One module per topic, each a file next to this one holding its
//! `#[test]`s (filter with the module name: `--test host routes::`);
//! `support` holds the test doubles and helpers they share. To add a topic,
//! add `foo.rs` here and one `mod foo;` line below, in alphabetical order.

mod support;

mod audit;
mod errors;
mod hardening_limits;
mod providers;
mod routes;
mod settings;
mod startup;
