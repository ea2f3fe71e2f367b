//! The service catalogue.

use serde::{Deserialize, Serialize};

use crate::common::{is_zero, null_as_default, JsonMap, QueryScope, StringMap};

/// Filters for `service.query`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(default, deny_unknown_fields)]
pub struct ServiceQuery {
    #[serde(
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "null_as_default"
    )]
    pub ids: Vec<String>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(
        skip_serializing_if = "StringMap::is_empty",
        deserialize_with = "null_as_default"
    )]
    #[cfg_attr(feature = "openapi", schema(value_type = BTreeMap<String, String>))]
    pub tags: StringMap,
    #[serde(skip_serializing_if = "is_zero")]
    pub limit: u32,
    #[serde(
        skip_serializing_if = "QueryScope::is_empty",
        deserialize_with = "null_as_default"
    )]
    pub scope: QueryScope,
    #[serde(
        skip_serializing_if = "JsonMap::is_empty",
        deserialize_with = "null_as_default"
    )]
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub metadata: JsonMap,
}

/// A service in the catalogue; its `id` is what `QueryScope.service` refers to.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(default)]
pub struct Service {
    pub id: String,
    pub name: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub url: String,
    #[serde(
        skip_serializing_if = "StringMap::is_empty",
        deserialize_with = "null_as_default"
    )]
    #[cfg_attr(feature = "openapi", schema(value_type = BTreeMap<String, String>))]
    pub tags: StringMap,
    #[serde(
        skip_serializing_if = "JsonMap::is_empty",
        deserialize_with = "null_as_default"
    )]
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub metadata: JsonMap,
}
