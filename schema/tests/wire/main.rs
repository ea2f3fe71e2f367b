//! The schema crate's one test binary: the JSON on the wire, and what the
//! `openapi` feature publishes about it.

mod openapi;
mod round_trip;
mod timestamp;
mod wire_rules;
