//! Metric queries and discovery.

use crate::schema::common::{JsonMap, QueryScope};
use crate::schema::time::Timestamp;
use crate::schema::wire::NonBlank;

wire! {
    /// Body of `metric.query`.
    query MetricQuery {
        pub expression: Option<MetricExpression>,
        pub start: Timestamp,
        pub end: Timestamp,
        /// Resolution in seconds.
        pub step: u64,
        pub scope: QueryScope,
        pub metadata: JsonMap,
    }
}

wire! {
    /// Structured metric selection, so adapters can validate it and translate it
    /// into PromQL, Datadog queries and the like.
    request MetricExpression {
        pub metric_name: NonBlank,
        /// `sum`, `avg`, … as the provider understands them.
        #[serde(skip_serializing_if = "String::is_empty")]
        pub aggregation: String,
        pub filters: Vec<MetricFilter>,
        pub group_by: Vec<String>,
    }
}

wire! {
    /// One `label operator value` condition of a [`MetricExpression`].
    request MetricFilter {
        pub label: String,
        pub operator: String,
        pub value: String,
    }
}

wire! {
    /// A metric the provider can query, returned by `metric.describe` so callers
    /// can build valid expressions.
    resource MetricDescriptor {
        pub name: String,
        /// Metric kind (`counter`, `gauge`, …); `type` on the wire.
        #[serde(rename = "type")]
        pub kind: String,
        pub description: String,
        /// Label names usable in filters and `groupBy`.
        #[serde_with(skip_apply)]
        #[serde(deserialize_with = "crate::schema::wire::null_as_default")]
        pub labels: Vec<String>,
        #[serde(skip_serializing_if = "String::is_empty")]
        pub unit: String,
        #[serde(skip_serializing_if = "String::is_empty")]
        pub url: String,
        pub metadata: JsonMap,
    }
}

wire! {
    /// Response of `GET|POST /metrics/describe`.
    resource MetricDescribeResponse {
        #[serde_with(skip_apply)]
        #[serde(deserialize_with = "crate::schema::wire::null_as_default")]
        pub metrics: Vec<MetricDescriptor>,
    }
}

wire! {
    /// One time series of a `metric.query` result.
    resource MetricSeries {
        pub name: String,
        #[serde(skip_serializing_if = "String::is_empty")]
        pub service: String,
        pub labels: JsonMap,
        #[serde_with(skip_apply)]
        #[serde(deserialize_with = "crate::schema::wire::null_as_default")]
        pub points: Vec<MetricPoint>,
        #[serde(skip_serializing_if = "String::is_empty")]
        pub url: String,
        pub metadata: JsonMap,
    }
}

wire! {
    /// One sample of a [`MetricSeries`].
    #[derive(Copy)]
    resource MetricPoint {
        pub timestamp: Timestamp,
        pub value: f64,
    }
}
