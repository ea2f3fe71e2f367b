//! Deployments of services.

use serde::{Deserialize, Serialize};

use crate::common::{is_zero, null_as_default, JsonMap, QueryScope};
use crate::time::Timestamp;

/// Filters for `deployment.query`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(default, deny_unknown_fields)]
pub struct DeploymentQuery {
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
    pub versions: Vec<String>,
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

/// The normalised deployment every deployment provider returns.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(default, rename_all = "camelCase")]
pub struct Deployment {
    pub id: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub service: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub environment: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub version: String,
    pub status: String,
    pub started_at: Timestamp,
    /// Zero while the deployment is still in progress.
    pub finished_at: Timestamp,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub url: String,
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
    pub fields: JsonMap,
    #[serde(
        skip_serializing_if = "JsonMap::is_empty",
        deserialize_with = "null_as_default"
    )]
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub metadata: JsonMap,
}
