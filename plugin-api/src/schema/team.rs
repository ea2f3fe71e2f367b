//! Teams and their members.

use crate::schema::common::{JsonMap, QueryScope, StringMap};

wire! {
    /// Filters for `team.query`; the contract gives teams no `limit`.
    query TeamQuery {
        pub name: String,
        pub tags: StringMap,
        pub scope: QueryScope,
        pub metadata: JsonMap,
    }
}

wire! {
    /// A team; `parent` lets providers express a hierarchy.
    resource Team {
        pub id: String,
        pub name: String,
        #[serde(skip_serializing_if = "String::is_empty")]
        pub parent: String,
        #[serde(skip_serializing_if = "String::is_empty")]
        pub url: String,
        pub tags: StringMap,
        pub metadata: JsonMap,
    }
}

wire! {
    /// A member of a [`Team`], as returned by `team.members`.
    resource TeamMember {
        pub id: String,
        #[serde(skip_serializing_if = "String::is_empty")]
        pub name: String,
        #[serde(skip_serializing_if = "String::is_empty")]
        pub email: String,
        /// Chat or on-call handle.
        #[serde(skip_serializing_if = "String::is_empty")]
        pub handle: String,
        #[serde(skip_serializing_if = "String::is_empty")]
        pub role: String,
        pub metadata: JsonMap,
    }
}
