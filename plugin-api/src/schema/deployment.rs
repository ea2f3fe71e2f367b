//! Deployments of services.

use crate::schema::common::{JsonMap, QueryScope};
use crate::schema::time::Timestamp;

wire! {
    /// Filters for `deployment.query`.
    query DeploymentQuery {
        pub query: String,
        pub statuses: Vec<String>,
        pub versions: Vec<String>,
        pub scope: QueryScope,
        pub limit: u32,
        pub metadata: JsonMap,
    }
}

wire! {
    /// The normalised deployment every deployment provider returns.
    resource Deployment {
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
        pub actor: JsonMap,
        pub fields: JsonMap,
        pub metadata: JsonMap,
    }
}
