//! `messaging`: accepts messages and answers like a chat API would, keeping
//! nothing but a counter for message ids.

use std::sync::atomic::{AtomicU64, Ordering};

use opsorch_plugin_api::schema::{Message, MessageResult, Timestamp};
use opsorch_plugin_api::{Error, MessagingProvider, Result};
use serde_json::Value;

use crate::catalog::BASE_URL;
use crate::filter::mock_metadata;

#[derive(Default)]
pub struct MockMessaging {
    sent: AtomicU64,
}

impl MessagingProvider for MockMessaging {
    fn send(&self, message: Message) -> Result<MessageResult> {
        if message.channel.trim().is_empty() {
            return Err(Error::bad_request("channel is required"));
        }
        if message.body.trim().is_empty() && message.blocks.is_empty() {
            return Err(Error::bad_request("body or blocks is required"));
        }
        let n = self.sent.fetch_add(1, Ordering::Relaxed) + 1;
        let id = format!("MSG-{n:06}");
        let channel_slug = message.channel.trim_start_matches(['#', '@']);
        let mut metadata = mock_metadata();
        metadata.insert("blocks".into(), Value::from(message.blocks.len()));
        if !message.thread_ref.is_empty() {
            metadata.insert("threadRef".into(), Value::from(message.thread_ref.clone()));
        }
        Ok(MessageResult {
            url: format!("{BASE_URL}/messages/{channel_slug}/{id}"),
            id,
            channel: message.channel,
            sent_at: Timestamp::now(),
            metadata,
        })
    }
}
