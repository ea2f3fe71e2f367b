//! Outgoing chat messages.

use crate::schema::common::{JsonMap, StringMap};
use serde::{Deserialize, Serialize};

use crate::schema::time::Timestamp;
use crate::schema::wire::NonBlank;

wire! {
    /// Body of `POST /messages/send`.
    request Message {
        pub channel: String,
        /// Plain-text fallback, shown where blocks are not rendered.
        pub body: NonBlank,
        pub metadata: JsonMap,
        /// Provider's reference of the thread to reply in.
        #[serde(skip_serializing_if = "String::is_empty")]
        pub thread_ref: String,
        pub blocks: Vec<MessageBlock>,
    }
}

wire! {
    /// A rich-layout part of a [`Message`]; providers map it onto their own block
    /// kit.
    #[derive(Debug, Clone, PartialEq, Default)]
    #[serde(deny_unknown_fields)]
    pub struct MessageBlock {
        /// Required: a block without a type has no meaning.
        #[serde(rename = "type")]
        pub kind: MessageBlockType,
        /// CommonMark text.
        #[serde(default, skip_serializing_if = "String::is_empty")]
        pub text: String,
        #[serde(default)]
        pub fields: StringMap,
    }
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

wire! {
    /// Result of `messaging.send`.
    resource MessageResult {
        pub id: String,
        pub channel: String,
        pub sent_at: Timestamp,
        #[serde(skip_serializing_if = "String::is_empty")]
        pub url: String,
        pub metadata: JsonMap,
    }
}
