//! OpsOrch messaging adapter for chat incoming webhooks.
//!
//! Built as `libopsorch_webhook.so` it is an adapter library the host loads
//! from `OPSORCH_PLUGIN_DIR`; the `opsorch-webhook-plugin` binary serves the
//! same provider over stdio. It registers the messaging provider
//! **`webhook`**, config `{"url": "<incoming webhook url>"}` (plus an
//! optional default `channel`, and the upstream keys `bearerToken` or
//! `username`/`password`, `caFile`, `timeoutMs`, `maxResponseBytes` read by
//! `opsorch-adapter-http`).
//!
//! `messaging.send` posts the message as a Slack-compatible payload (see
//! [`payload`]) and answers a message result whose `id` is generated here:
//! incoming webhooks answer `ok` and return no message id of their own.
//! The webhook URL carries its token in the path, so errors and logs name
//! only its scheme, host and port.

pub mod payload;

use std::sync::atomic::{AtomicU64, Ordering};

use opsorch_adapter_http::client::{status_error, HttpClient};
use opsorch_adapter_http::config::Reader;
use opsorch_plugin_api::schema::{JsonMap, Message, MessageResult, Timestamp};
use opsorch_plugin_api::{
    async_trait, Adapter, AsyncMessagingProvider, CallContext, Config, Error, ErrorKind, Result,
};
use serde_json::Value;

/// Posts messages to one incoming webhook.
#[derive(Debug)]
pub struct WebhookMessaging {
    client: HttpClient,
    channel: Option<String>,
    sequence: AtomicU64,
}

/// Longest upstream error text quoted in an error message.
const QUOTED_ERROR_CHARS: usize = 200;

impl WebhookMessaging {
    pub fn new(config: &Config) -> Result<WebhookMessaging> {
        let reader = Reader::new(config);
        let settings = reader.http_exact("url")?;
        let channel = reader.string("channel")?.map(str::to_string);
        Ok(WebhookMessaging {
            client: HttpClient::new(settings)?,
            channel,
            sequence: AtomicU64::new(0),
        })
    }

    /// `messaging.send`.
    pub async fn send_with(
        &self,
        context: &CallContext,
        message: Message,
    ) -> Result<MessageResult> {
        let body = payload::payload(&message, self.channel.as_deref())?;
        let channel = body["channel"].as_str().unwrap_or_default().to_string();
        let bytes = serde_json::to_vec(&body)
            .map_err(|e| Error::internal(format!("encoding the payload: {e}")))?;
        let reply = self.client.post_json(context, "", bytes).await?;
        let origin = self.client.origin();
        let status = reply.status();
        // Slack, Mattermost and Rocket.Chat explain a refusal in a short text.
        let said: String = reply
            .text()
            .trim()
            .chars()
            .filter(|c| !c.is_control())
            .take(QUOTED_ERROR_CHARS)
            .collect();
        if let Some(base) = status_error(origin, "(the webhook)", status) {
            let message = if said.is_empty() {
                base.message().to_string()
            } else {
                format!("{}: {said}", base.message())
            };
            return Err(match base.kind() {
                ErrorKind::NotFound => Error::not_found(message),
                kind => Error::of_kind(kind, message),
            });
        }
        let sent_at = Timestamp::now();
        let n = self.sequence.fetch_add(1, Ordering::Relaxed);
        let nanos = sent_at
            .as_datetime()
            .timestamp_nanos_opt()
            .unwrap_or_default();
        let mut metadata = JsonMap::new();
        metadata.insert("status".into(), Value::from(status));
        if !said.is_empty() {
            metadata.insert("response".into(), Value::String(said));
        }
        Ok(MessageResult {
            id: format!("webhook-{nanos:x}-{}-{n}", std::process::id()),
            channel,
            sent_at,
            url: String::new(),
            metadata,
        })
    }
}

#[async_trait]
impl AsyncMessagingProvider for WebhookMessaging {
    async fn send(&self, context: &CallContext, message: Message) -> Result<MessageResult> {
        self.send_with(context, message).await
    }
}

/// The adapter: messaging provider `webhook`.
pub fn adapter() -> Adapter {
    Adapter::new("opsorch-webhook", env!("CARGO_PKG_VERSION"))
        .messaging_async("webhook", WebhookMessaging::new)
}

opsorch_plugin_api::export_adapter!(adapter);
