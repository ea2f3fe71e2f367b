//! OpsOrch plugin API (in progress).
#![allow(non_local_definitions, non_camel_case_types)]

pub mod methods;
pub mod protocol;
