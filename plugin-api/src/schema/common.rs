//! Pieces shared by every capability's schemas.

use std::collections::BTreeMap;

/// The contract's `map`: a JSON object of arbitrary values.
pub type JsonMap = serde_json::Map<String, serde_json::Value>;

/// The contract's `smap`: a JSON object of string values, sorted so output is
/// stable.
pub type StringMap = BTreeMap<String, String>;

wire! {
    /// Coarse filters every query accepts; adapters map them onto their native
    /// query languages and may ignore them.
    #[derive(Eq)]
    query QueryScope {
        /// Canonical OpsOrch service ID.
        pub service: String,
        /// Owning team.
        pub team: String,
        /// Coarse environment such as `prod`, `staging`, `dev`.
        pub environment: String,
    }
}

impl QueryScope {
    /// True when no filter is set, so the scope is left out of the JSON.
    pub fn is_empty(&self) -> bool {
        self.service.is_empty() && self.team.is_empty() && self.environment.is_empty()
    }
}
