//! Log search.

use crate::schema::common::{JsonMap, QueryScope, StringMap};
use crate::schema::time::Timestamp;

wire! {
    /// Body of `log.query`: a structured expression over a time window.
    query LogQuery {
        pub expression: Option<LogExpression>,
        pub start: Timestamp,
        pub end: Timestamp,
        pub scope: QueryScope,
        pub limit: u32,
        pub metadata: JsonMap,
    }
}

wire! {
    /// Structured log search, used instead of free text so it can be validated
    /// and translated per provider.
    query LogExpression {
        pub search: String,
        pub filters: Vec<LogFilter>,
        pub severity_in: Vec<String>,
    }
}

wire! {
    /// One `field operator value` condition of a [`LogExpression`].
    request LogFilter {
        pub field: String,
        pub operator: String,
        pub value: String,
    }
}

wire! {
    /// One normalised log line.
    resource LogEntry {
        pub timestamp: Timestamp,
        pub message: String,
        #[serde(skip_serializing_if = "String::is_empty")]
        pub severity: String,
        #[serde(skip_serializing_if = "String::is_empty")]
        pub service: String,
        pub labels: StringMap,
        pub fields: JsonMap,
        pub metadata: JsonMap,
    }
}

wire! {
    /// Result of `log.query`: the entries plus a link to the same search in the
    /// source system.
    resource LogEntries {
        #[serde_with(skip_apply)]
        #[serde(deserialize_with = "crate::schema::wire::null_as_default")]
        pub entries: Vec<LogEntry>,
        #[serde(skip_serializing_if = "String::is_empty")]
        pub url: String,
    }
}
