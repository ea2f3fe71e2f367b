//! Pieces shared by every capability's schemas.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize};

/// The contract's `map`: a JSON object of arbitrary values.
pub type JsonMap = serde_json::Map<String, serde_json::Value>;

/// The contract's `smap`: a JSON object of string values, sorted so output is
/// stable.
pub type StringMap = BTreeMap<String, String>;

/// Coarse filters every query accepts; adapters map them onto their native
/// query languages and may ignore them.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(default, deny_unknown_fields)]
pub struct QueryScope {
    /// Canonical OpsOrch service ID.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub service: String,
    /// Owning team.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub team: String,
    /// Coarse environment such as `prod`, `staging`, `dev`.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub environment: String,
}

impl QueryScope {
    /// True when no filter is set, so the scope is left out of the JSON.
    pub fn is_empty(&self) -> bool {
        self.service.is_empty() && self.team.is_empty() && self.environment.is_empty()
    }
}

/// `skip_serializing_if` for `limit`: Go's `omitempty` drops a zero int.
pub(crate) fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// Decodes `null` as the type's default.
///
/// Go encodes a nil slice as `null` even where the field is always present,
/// and Go's decoder accepts `null` anywhere, so both directions need this.
pub(crate) fn null_as_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}
