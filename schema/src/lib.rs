//! OpsOrch schema (in progress).
