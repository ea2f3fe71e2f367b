//! Incidents and their timelines.

use crate::schema::common::{JsonMap, QueryScope};
use crate::schema::time::Timestamp;
use crate::schema::wire::NonBlank;

wire! {
    /// Filters for `incident.query`.
    query IncidentQuery {
        pub query: String,
        pub statuses: Vec<String>,
        pub severities: Vec<String>,
        pub scope: QueryScope,
        pub limit: u32,
        pub metadata: JsonMap,
    }
}

wire! {
    /// The normalised incident every incident provider returns.
    resource Incident {
        pub id: String,
        pub title: String,
        #[serde(skip_serializing_if = "String::is_empty")]
        pub description: String,
        pub status: String,
        pub severity: String,
        #[serde(skip_serializing_if = "String::is_empty")]
        pub service: String,
        /// Deep link into the source system, passed through untouched.
        #[serde(skip_serializing_if = "String::is_empty")]
        pub url: String,
        pub created_at: Timestamp,
        pub updated_at: Timestamp,
        pub fields: JsonMap,
        /// Provider-specific data; the only place it may go besides `fields`.
        pub metadata: JsonMap,
    }
}

wire! {
    /// Body of `POST /incidents`.
    request CreateIncidentInput {
        pub title: NonBlank,
        #[serde(skip_serializing_if = "String::is_empty")]
        pub description: String,
        pub status: String,
        pub severity: String,
        #[serde(skip_serializing_if = "String::is_empty")]
        pub service: String,
        pub fields: JsonMap,
        pub metadata: JsonMap,
    }
}

wire! {
    /// Body of `PATCH /incidents/{id}`.
    ///
    /// Every field is an `Option` because "leave unchanged" (absent) must differ
    /// from "set to empty" (`""`). The title, required and not blank on
    /// create, cannot be set blank either.
    request UpdateIncidentInput {
        pub title: Option<NonBlank>,
        pub description: Option<String>,
        pub status: Option<String>,
        pub severity: Option<String>,
        pub service: Option<String>,
        pub fields: Option<JsonMap>,
        pub metadata: Option<JsonMap>,
    }
}

wire! {
    /// One event in an incident's history.
    resource TimelineEntry {
        pub id: String,
        pub incident_id: String,
        pub at: Timestamp,
        pub kind: String,
        pub body: String,
        /// Who did it, in whatever shape the source system describes actors.
        pub actor: JsonMap,
        pub metadata: JsonMap,
    }
}

wire! {
    /// Body of `POST /incidents/{id}/timeline`; a zero `at` means "now".
    request TimelineAppendInput {
        pub at: Timestamp,
        pub kind: String,
        pub body: NonBlank,
        pub actor: JsonMap,
        pub metadata: JsonMap,
    }
}
