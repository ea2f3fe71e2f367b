//! Mock adapters (in progress).
