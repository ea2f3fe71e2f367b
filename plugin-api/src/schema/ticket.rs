//! Tickets in issue trackers.

use crate::schema::common::{JsonMap, QueryScope};
use crate::schema::time::Timestamp;
use crate::schema::wire::NonBlank;

wire! {
    /// Filters for `ticket.query`.
    query TicketQuery {
        pub query: String,
        pub statuses: Vec<String>,
        pub assignees: Vec<String>,
        pub reporter: String,
        pub scope: QueryScope,
        pub limit: u32,
        pub metadata: JsonMap,
    }
}

wire! {
    /// The normalised ticket every ticket provider returns.
    resource Ticket {
        pub id: String,
        /// Human-facing key such as `OPS-123`, when the tracker has one.
        #[serde(skip_serializing_if = "String::is_empty")]
        pub key: String,
        pub title: String,
        #[serde(skip_serializing_if = "String::is_empty")]
        pub description: String,
        pub status: String,
        pub assignees: Vec<String>,
        #[serde(skip_serializing_if = "String::is_empty")]
        pub reporter: String,
        #[serde(skip_serializing_if = "String::is_empty")]
        pub url: String,
        pub created_at: Timestamp,
        pub updated_at: Timestamp,
        pub fields: JsonMap,
        pub metadata: JsonMap,
    }
}

wire! {
    /// Body of `POST /tickets`.
    request CreateTicketInput {
        pub title: NonBlank,
        #[serde(skip_serializing_if = "String::is_empty")]
        pub description: String,
        pub fields: JsonMap,
        pub metadata: JsonMap,
    }
}

wire! {
    /// Body of `PATCH /tickets/{id}`.
    ///
    /// Every field is an `Option` because "leave unchanged" (absent) must differ
    /// from "clear" (`""` or `[]`). The title, required and not blank on
    /// create, cannot be set blank either.
    request UpdateTicketInput {
        pub title: Option<NonBlank>,
        pub description: Option<String>,
        pub status: Option<String>,
        pub assignees: Option<Vec<String>>,
        pub fields: Option<JsonMap>,
        pub metadata: Option<JsonMap>,
    }
}
