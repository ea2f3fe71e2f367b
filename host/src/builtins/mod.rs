//! Providers built into the host: the json secret store.

pub mod json_secrets;
