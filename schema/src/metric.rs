//! Metric queries and discovery.

use serde::{Deserialize, Serialize};

use crate::common::{null_as_default, JsonMap, QueryScope};
use crate::time::Timestamp;

/// Body of `metric.query`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(default, deny_unknown_fields)]
pub struct MetricQuery {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expression: Option<MetricExpression>,
    pub start: Timestamp,
    pub end: Timestamp,
    /// Resolution in seconds.
    pub step: u64,
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

/// Structured metric selection, so adapters can validate it and translate it
/// into PromQL, Datadog queries and the like.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct MetricExpression {
    pub metric_name: String,
    /// `sum`, `avg`, … as the provider understands them.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub aggregation: String,
    #[serde(
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "null_as_default"
    )]
    pub filters: Vec<MetricFilter>,
    #[serde(
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "null_as_default"
    )]
    pub group_by: Vec<String>,
}

/// One `label operator value` condition of a [`MetricExpression`].
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(default, deny_unknown_fields)]
pub struct MetricFilter {
    pub label: String,
    pub operator: String,
    pub value: String,
}

/// A metric the provider can query, returned by `metric.describe` so callers
/// can build valid expressions.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(default)]
pub struct MetricDescriptor {
    pub name: String,
    /// Metric kind (`counter`, `gauge`, …); `type` on the wire.
    #[serde(rename = "type")]
    pub kind: String,
    pub description: String,
    /// Label names usable in filters and `groupBy`.
    #[serde(deserialize_with = "null_as_default")]
    pub labels: Vec<String>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub unit: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub url: String,
    #[serde(
        skip_serializing_if = "JsonMap::is_empty",
        deserialize_with = "null_as_default"
    )]
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub metadata: JsonMap,
}

/// Response of `GET|POST /metrics/describe`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(default)]
pub struct MetricDescribeResponse {
    #[serde(deserialize_with = "null_as_default")]
    pub metrics: Vec<MetricDescriptor>,
}

/// One time series of a `metric.query` result.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(default)]
pub struct MetricSeries {
    pub name: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub service: String,
    #[serde(
        skip_serializing_if = "JsonMap::is_empty",
        deserialize_with = "null_as_default"
    )]
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub labels: JsonMap,
    #[serde(deserialize_with = "null_as_default")]
    pub points: Vec<MetricPoint>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub url: String,
    #[serde(
        skip_serializing_if = "JsonMap::is_empty",
        deserialize_with = "null_as_default"
    )]
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub metadata: JsonMap,
}

/// One sample of a [`MetricSeries`].
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(default)]
pub struct MetricPoint {
    pub timestamp: Timestamp,
    pub value: f64,
}
