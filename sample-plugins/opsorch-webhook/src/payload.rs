//! An OpsOrch [`Message`] as a Slack-compatible incoming-webhook payload:
//! `text` (the fallback shown in notifications) plus Block Kit `blocks`.
//! Mattermost and Rocket.Chat accept the same payload.
//!
//! | OpsOrch | payload |
//! |---|---|
//! | `body` | `text` (mrkdwn); also one section block when there are no blocks |
//! | `channel` (or config `channel`) | `channel` (legacy Slack webhooks, Mattermost, Rocket.Chat; Slack app webhooks ignore it) |
//! | `threadRef` | `thread_ts` |
//! | `header` block | `header` with `plain_text` (at most 150 characters) |
//! | `section` block | `section` with `mrkdwn` text (at most 3000 characters) and its `fields` as `*name*\nvalue` (at most 10 per section; more continue in further sections) |
//! | `divider` block | `divider` |
//!
//! CommonMark in text becomes mrkdwn: `&`, `<` and `>` are escaped,
//! `[label](url)` becomes `<url|label>` (http, https and mailto URLs only),
//! `**bold**` becomes `*bold*`.

use opsorch_plugin_api::schema::{Message, MessageBlock, MessageBlockType};
use opsorch_plugin_api::{Error, Result};
use serde_json::{json, Map, Value};

/// Slack's limits.
pub const MAX_BLOCKS: usize = 50;
pub const MAX_HEADER_CHARS: usize = 150;
pub const MAX_SECTION_CHARS: usize = 3000;
pub const MAX_FIELD_CHARS: usize = 2000;
pub const MAX_FIELDS_PER_SECTION: usize = 10;
/// Slack truncates `text` beyond this; longer bodies are refused instead.
pub const MAX_TEXT_CHARS: usize = 40_000;

/// Escapes text for mrkdwn and converts links and bold.
pub fn mrkdwn(text: &str) -> String {
    let escaped = text
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;");
    bold(&links(&escaped))
}

/// `[label](url)` → `<url|label>` for `http`, `https` and `mailto` URLs;
/// anything else is left as it is.
fn links(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(open) = rest.find('[') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let parsed = after.find("](").and_then(|close| {
            let label = &after[..close];
            let tail = &after[close + 2..];
            let end = tail.find(')')?;
            let url = &tail[..end];
            let scheme_ok = ["http://", "https://", "mailto:"]
                .iter()
                .any(|s| url.len() > s.len() && url[..s.len()].eq_ignore_ascii_case(s));
            let ok = !label.contains('[')
                && scheme_ok
                && !url.contains(char::is_whitespace)
                && !url.contains('|');
            ok.then(|| (label, url, &tail[end + 1..]))
        });
        match parsed {
            Some((label, url, tail)) => {
                out.push('<');
                out.push_str(url);
                if !label.is_empty() {
                    out.push('|');
                    out.push_str(&label.replace('|', "¦"));
                }
                out.push('>');
                rest = tail;
            }
            None => {
                out.push('[');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// `**x**` → `*x*` (Slack's bold).
fn bold(text: &str) -> String {
    text.replace("**", "*")
}

/// At most `max` characters, the last one an ellipsis when cut.
fn clip(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut out: String = text.chars().take(max - 1).collect();
    out.push('…');
    out
}

fn block(b: &MessageBlock, out: &mut Vec<Value>) {
    match b.kind {
        MessageBlockType::Header => {
            if !b.text.trim().is_empty() {
                out.push(json!({"type": "header", "text": {
                    "type": "plain_text", "text": clip(&b.text, MAX_HEADER_CHARS), "emoji": true}}));
            }
        }
        MessageBlockType::Divider => out.push(json!({"type": "divider"})),
        MessageBlockType::Section => {
            let fields: Vec<Value> = b
                .fields
                .iter()
                .map(|(k, v)| {
                    json!({"type": "mrkdwn", "text": clip(&format!("*{}*\n{}", mrkdwn(k), mrkdwn(v)), MAX_FIELD_CHARS)})
                })
                .collect();
            let text = (!b.text.trim().is_empty()).then(
                || json!({"type": "mrkdwn", "text": clip(&mrkdwn(&b.text), MAX_SECTION_CHARS)}),
            );
            if text.is_none() && fields.is_empty() {
                return;
            }
            let mut chunks = fields.chunks(MAX_FIELDS_PER_SECTION);
            let mut section = Map::new();
            section.insert("type".into(), json!("section"));
            if let Some(text) = text {
                section.insert("text".into(), text);
            }
            if let Some(first) = chunks.next() {
                section.insert("fields".into(), Value::Array(first.to_vec()));
            }
            out.push(Value::Object(section));
            for more in chunks {
                out.push(json!({"type": "section", "fields": more}));
            }
        }
    }
}

/// The plain fallback text of blocks: header and section texts, one a line.
fn fallback(blocks: &[MessageBlock]) -> String {
    blocks
        .iter()
        .filter(|b| b.kind != MessageBlockType::Divider && !b.text.trim().is_empty())
        .map(|b| b.text.as_str())
        .collect::<Vec<_>>()
        .join("\n")
}

/// The JSON payload for `message`; `default_channel` is used when the
/// message names none. An empty message, or one over Slack's limits, is
/// `bad_request`.
pub fn payload(message: &Message, default_channel: Option<&str>) -> Result<Value> {
    let mut blocks = Vec::new();
    for b in &message.blocks {
        block(b, &mut blocks);
    }
    let body = message.body.trim();
    if blocks.is_empty() && !body.is_empty() {
        blocks.push(json!({"type": "section", "text": {
            "type": "mrkdwn", "text": clip(&mrkdwn(body), MAX_SECTION_CHARS)}}));
    }
    if blocks.len() > MAX_BLOCKS {
        return Err(Error::bad_request(format!(
            "the message makes {} blocks; chat webhooks take at most {MAX_BLOCKS}",
            blocks.len()
        )));
    }
    let text = if body.is_empty() {
        fallback(&message.blocks)
    } else {
        message.body.clone()
    };
    if text.trim().is_empty() && blocks.iter().all(|b| b["type"] == "divider") {
        return Err(Error::bad_request(
            "the message has no body and no text blocks",
        ));
    }
    if text.chars().count() > MAX_TEXT_CHARS {
        return Err(Error::bad_request(format!(
            "the message body is longer than {MAX_TEXT_CHARS} characters"
        )));
    }
    let mut out = Map::new();
    out.insert("text".into(), Value::String(mrkdwn(&text)));
    out.insert("blocks".into(), Value::Array(blocks));
    let channel = if message.channel.trim().is_empty() {
        default_channel.unwrap_or_default()
    } else {
        message.channel.trim()
    };
    if !channel.is_empty() {
        out.insert("channel".into(), Value::String(channel.to_string()));
    }
    if !message.thread_ref.is_empty() {
        out.insert(
            "thread_ts".into(),
            Value::String(message.thread_ref.clone()),
        );
    }
    Ok(Value::Object(out))
}

#[cfg(test)]
mod tests {
    use super::*;
    use opsorch_plugin_api::schema::StringMap;

    fn message(json: Value) -> Message {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn body_only_becomes_text_and_one_section() {
        let p = payload(
            &message(json!({"channel": "#incidents", "body": "Checkout is degraded"})),
            None,
        )
        .unwrap();
        assert_eq!(
            p,
            json!({"text": "Checkout is degraded", "channel": "#incidents",
                   "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "Checkout is degraded"}}]})
        );
    }

    #[test]
    fn every_block_type() {
        let p = payload(
            &message(json!({"channel": "C1", "body": "fallback", "threadRef": "1700000000.000100",
                "blocks": [
                    {"type": "header", "text": "INC-1001 resolved"},
                    {"type": "divider"},
                    {"type": "section", "text": "See [the runbook](https://runbooks.example/db) **now**"},
                    {"type": "section", "fields": {"Severity": "sev1", "Service": "checkout"}},
                    {"type": "section", "text": "   "}
                ]})),
            None,
        )
        .unwrap();
        assert_eq!(
            p,
            json!({
                "text": "fallback",
                "channel": "C1",
                "thread_ts": "1700000000.000100",
                "blocks": [
                    {"type": "header", "text": {"type": "plain_text", "text": "INC-1001 resolved", "emoji": true}},
                    {"type": "divider"},
                    {"type": "section", "text": {"type": "mrkdwn",
                        "text": "See <https://runbooks.example/db|the runbook> *now*"}},
                    {"type": "section", "fields": [
                        {"type": "mrkdwn", "text": "*Service*\ncheckout"},
                        {"type": "mrkdwn", "text": "*Severity*\nsev1"}
                    ]}
                ]
            })
        );
    }

    #[test]
    fn fallback_text_comes_from_blocks_and_the_channel_from_config() {
        let p = payload(
            &message(json!({"blocks": [{"type": "header", "text": "Deploy"},
                                       {"type": "section", "text": "v1.2 <b>"}]})),
            Some("#ops"),
        )
        .unwrap();
        assert_eq!(p["text"], "Deploy\nv1.2 &lt;b&gt;");
        assert_eq!(p["channel"], "#ops");
        assert!(p.get("thread_ts").is_none());
    }

    #[test]
    fn hostile_text_is_escaped() {
        assert_eq!(
            mrkdwn("a & b <!channel> <@U1>"),
            "a &amp; b &lt;!channel&gt; &lt;@U1&gt;"
        );
        assert_eq!(
            mrkdwn("[x](javascript:alert(1))"),
            "[x](javascript:alert(1))"
        );
        assert_eq!(
            mrkdwn("[mail](mailto:ops@example.com)"),
            "<mailto:ops@example.com|mail>"
        );
        assert_eq!(mrkdwn("[broken](no close"), "[broken](no close");
        assert_eq!(mrkdwn("[a|b](https://x)"), "<https://x|a¦b>");
        assert_eq!(mrkdwn("[t](https://x y)"), "[t](https://x y)");
        assert_eq!(mrkdwn("日本 🚀\n\"q\" \\"), "日本 🚀\n\"q\" \\");
    }

    #[test]
    fn limits() {
        let long = "x".repeat(200);
        let p = payload(
            &message(json!({"body": "b", "blocks": [{"type": "header", "text": long}]})),
            None,
        )
        .unwrap();
        let header = p["blocks"][0]["text"]["text"].as_str().unwrap();
        assert_eq!(header.chars().count(), MAX_HEADER_CHARS);
        assert!(header.ends_with('…'));
        let fields: StringMap = (0..23).map(|i| (format!("k{i:02}"), "v".into())).collect();
        let m = Message {
            body: "b".into(),
            blocks: vec![MessageBlock {
                kind: MessageBlockType::Section,
                text: String::new(),
                fields,
            }],
            ..Default::default()
        };
        let p = payload(&m, None).unwrap();
        let sizes: Vec<usize> = p["blocks"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| b["fields"].as_array().unwrap().len())
            .collect();
        assert_eq!(sizes, [10, 10, 3]);
        let many = Message {
            body: "b".into(),
            blocks: vec![
                MessageBlock {
                    kind: MessageBlockType::Divider,
                    ..Default::default()
                };
                51
            ],
            ..Default::default()
        };
        assert!(payload(&many, None).is_err());
    }

    #[test]
    fn empty_messages_are_refused() {
        for m in [
            json!({}),
            json!({"body": "  "}),
            json!({"blocks": [{"type": "divider"}]}),
        ] {
            let err = payload(&message(m.clone()), Some("#c")).unwrap_err();
            assert_eq!(err.kind(), opsorch_plugin_api::ErrorKind::BadRequest, "{m}");
        }
    }
}
