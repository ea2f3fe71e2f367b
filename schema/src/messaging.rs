//! Outgoing chat messages.

use serde::{Deserialize, Serialize};

use crate::common::{null_as_default, JsonMap, StringMap};
use crate::time::Timestamp;

/// Body of `POST /messages/send`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct Message {
    pub channel: String,
    /// Plain-text fallback, shown where blocks are not rendered.
    pub body: String,
    #[serde(
        skip_serializing_if = "JsonMap::is_empty",
        deserialize_with = "null_as_default"
    )]
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub metadata: JsonMap,
    /// Provider's reference of the thread to reply in.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub thread_ref: String,
    #[serde(
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "null_as_default"
    )]
    pub blocks: Vec<MessageBlock>,
}

/// A rich-layout part of a [`Message`]; providers map it onto their own block
/// kit.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct MessageBlock {
    /// Required: a block without a type has no meaning.
    #[serde(rename = "type")]
    pub kind: MessageBlockType,
    /// CommonMark text.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub text: String,
    #[serde(
        default,
        skip_serializing_if = "StringMap::is_empty",
        deserialize_with = "null_as_default"
    )]
    #[cfg_attr(feature = "openapi", schema(value_type = BTreeMap<String, String>))]
    pub fields: StringMap,
}

/// The layouts a [`MessageBlock`] can take.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum MessageBlockType {
    Header,
    #[default]
    Section,
    Divider,
}

/// Result of `messaging.send`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(default, rename_all = "camelCase")]
pub struct MessageResult {
    pub id: String,
    pub channel: String,
    pub sent_at: Timestamp,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub url: String,
    #[serde(
        skip_serializing_if = "JsonMap::is_empty",
        deserialize_with = "null_as_default"
    )]
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub metadata: JsonMap,
}
