//! The service catalogue.

use crate::schema::common::{JsonMap, QueryScope, StringMap};

wire! {
    /// Filters for `service.query`.
    query ServiceQuery {
        pub ids: Vec<String>,
        pub name: String,
        pub tags: StringMap,
        pub limit: u32,
        pub scope: QueryScope,
        pub metadata: JsonMap,
    }
}

wire! {
    /// A service in the catalogue; its `id` is what `QueryScope.service` refers to.
    resource Service {
        pub id: String,
        pub name: String,
        #[serde(skip_serializing_if = "String::is_empty")]
        pub url: String,
        pub tags: StringMap,
        pub metadata: JsonMap,
    }
}
