//! Incidents and their timelines.

use serde::{Deserialize, Serialize};

use crate::common::{is_zero, null_as_default, JsonMap, QueryScope};
use crate::time::Timestamp;

/// Filters for `incident.query`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(default, deny_unknown_fields)]
pub struct IncidentQuery {
    #[serde(skip_serializing_if = "String::is_empty")]
    pub query: String,
    #[serde(
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "null_as_default"
    )]
    pub statuses: Vec<String>,
    #[serde(
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "null_as_default"
    )]
    pub severities: Vec<String>,
    #[serde(
        skip_serializing_if = "QueryScope::is_empty",
        deserialize_with = "null_as_default"
    )]
    pub scope: QueryScope,
    #[serde(skip_serializing_if = "is_zero")]
    pub limit: u32,
    #[serde(
        skip_serializing_if = "JsonMap::is_empty",
        deserialize_with = "null_as_default"
    )]
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub metadata: JsonMap,
}

/// The normalised incident every incident provider returns.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(default, rename_all = "camelCase")]
pub struct Incident {
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
    #[serde(
        skip_serializing_if = "JsonMap::is_empty",
        deserialize_with = "null_as_default"
    )]
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub fields: JsonMap,
    /// Provider-specific data; the only place it may go besides `fields`.
    #[serde(
        skip_serializing_if = "JsonMap::is_empty",
        deserialize_with = "null_as_default"
    )]
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub metadata: JsonMap,
}

/// Body of `POST /incidents`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(default, deny_unknown_fields)]
pub struct CreateIncidentInput {
    pub title: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub description: String,
    pub status: String,
    pub severity: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub service: String,
    #[serde(
        skip_serializing_if = "JsonMap::is_empty",
        deserialize_with = "null_as_default"
    )]
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub fields: JsonMap,
    #[serde(
        skip_serializing_if = "JsonMap::is_empty",
        deserialize_with = "null_as_default"
    )]
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub metadata: JsonMap,
}

/// Body of `PATCH /incidents/{id}`.
///
/// Every field is an `Option` because "leave unchanged" (absent) must differ
/// from "set to empty" (`""`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(default, deny_unknown_fields)]
pub struct UpdateIncidentInput {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub severity: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    pub fields: Option<JsonMap>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    pub metadata: Option<JsonMap>,
}

/// One event in an incident's history.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(default, rename_all = "camelCase")]
pub struct TimelineEntry {
    pub id: String,
    pub incident_id: String,
    pub at: Timestamp,
    pub kind: String,
    pub body: String,
    /// Who did it, in whatever shape the source system describes actors.
    #[serde(
        skip_serializing_if = "JsonMap::is_empty",
        deserialize_with = "null_as_default"
    )]
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub actor: JsonMap,
    #[serde(
        skip_serializing_if = "JsonMap::is_empty",
        deserialize_with = "null_as_default"
    )]
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub metadata: JsonMap,
}

/// Body of `POST /incidents/{id}/timeline`; a zero `at` means "now".
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(default, deny_unknown_fields)]
pub struct TimelineAppendInput {
    pub at: Timestamp,
    pub kind: String,
    pub body: String,
    #[serde(
        skip_serializing_if = "JsonMap::is_empty",
        deserialize_with = "null_as_default"
    )]
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub actor: JsonMap,
    #[serde(
        skip_serializing_if = "JsonMap::is_empty",
        deserialize_with = "null_as_default"
    )]
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub metadata: JsonMap,
}
