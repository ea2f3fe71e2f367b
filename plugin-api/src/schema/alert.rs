//! Alerts: read-only signals that may or may not become incidents.

use crate::schema::common::{JsonMap, QueryScope};
use crate::schema::time::Timestamp;

wire! {
    /// Filters for `alert.query`.
    query AlertQuery {
        pub query: String,
        pub statuses: Vec<String>,
        pub severities: Vec<String>,
        pub scope: QueryScope,
        pub limit: u32,
        pub metadata: JsonMap,
    }
}

wire! {
    /// The normalised alert every alert provider returns.
    resource Alert {
        pub id: String,
        pub title: String,
        #[serde(skip_serializing_if = "String::is_empty")]
        pub description: String,
        pub status: String,
        pub severity: String,
        #[serde(skip_serializing_if = "String::is_empty")]
        pub service: String,
        #[serde(skip_serializing_if = "String::is_empty")]
        pub url: String,
        pub created_at: Timestamp,
        pub updated_at: Timestamp,
        pub fields: JsonMap,
        pub metadata: JsonMap,
    }
}
