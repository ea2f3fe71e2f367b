//! Transports: the ways a provider outside the host is reached. Adapter
//! libraries are loaded in process ([`library`]); plugin binaries are run
//! as child processes speaking JSON lines ([`stdio`]).

pub mod library;
pub mod stdio;
