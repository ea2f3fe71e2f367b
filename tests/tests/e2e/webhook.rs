//! The chat webhook adapter (`sample-plugins/opsorch-webhook`) through the
//! real host, over both transports, posting to a local receiver that
//! records and checks every payload.

use std::collections::BTreeSet;

use opsorch_e2e::{binary, Host, TempDir};
use serde_json::{json, Value};

use crate::upstream_support::{closed_port, Behaviour, FakeUpstream};

#[derive(Debug, Clone, Copy)]
enum Transport {
    Library,
    Stdio,
}

fn start_host(transport: Transport, config: &Value) -> (Host, TempDir) {
    let dir = TempDir::with_libraries("webhook-host", &["opsorch_webhook", "opsorch_mock"]);
    let plugin = binary("opsorch-webhook-plugin");
    let dir_text = dir.path().display().to_string();
    let config = config.to_string();
    let mut env = vec![
        ("OPSORCH_PLUGIN_DIR", dir_text.as_str()),
        ("OPSORCH_INCIDENT_PROVIDER", "mock"),
        ("OPSORCH_MESSAGING_CONFIG", config.as_str()),
    ];
    let plugin = plugin.to_str().expect("utf-8 path").to_string();
    match transport {
        Transport::Library => env.push(("OPSORCH_MESSAGING_PROVIDER", "webhook")),
        Transport::Stdio => env.push(("OPSORCH_MESSAGING_PLUGIN", plugin.as_str())),
    }
    (Host::start(&env), dir)
}

/// Messages and the exact payload the receiver must get for each.
fn cases() -> Vec<(Value, Value)> {
    vec![
        (
            json!({"channel": "#incidents", "body": "Checkout is degraded"}),
            json!({"text": "Checkout is degraded", "channel": "#incidents",
                   "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "Checkout is degraded"}}]}),
        ),
        (
            json!({"channel": "C024BE91L", "body": "INC-1001 resolved", "threadRef": "1700000000.000100",
            "blocks": [
                {"type": "header", "text": "INC-1001 resolved"},
                {"type": "divider"},
                {"type": "section", "text": "See [the runbook](https://runbooks.example/db) **now**"},
                {"type": "section", "fields": {"Severity": "sev1", "Service": "checkout"}}
            ]}),
            json!({"text": "INC-1001 resolved", "channel": "C024BE91L", "thread_ts": "1700000000.000100",
            "blocks": [
                {"type": "header", "text": {"type": "plain_text", "text": "INC-1001 resolved", "emoji": true}},
                {"type": "divider"},
                {"type": "section", "text": {"type": "mrkdwn", "text": "See <https://runbooks.example/db|the runbook> *now*"}},
                {"type": "section", "fields": [
                    {"type": "mrkdwn", "text": "*Service*\ncheckout"},
                    {"type": "mrkdwn", "text": "*Severity*\nsev1"}]}
            ]}),
        ),
        (
            // Hostile text: mentions and markup are escaped, quotes,
            // backslashes, newlines and non-ASCII text arrive as they are.
            json!({"body": "<!channel> a & b \"q\" \\ 日本 🚀\nline 2 [x](javascript:alert(1))"}),
            json!({"text": "&lt;!channel&gt; a &amp; b \"q\" \\ 日本 🚀\nline 2 [x](javascript:alert(1))",
                   "channel": "#default",
                   "blocks": [{"type": "section", "text": {"type": "mrkdwn",
                       "text": "&lt;!channel&gt; a &amp; b \"q\" \\ 日本 🚀\nline 2 [x](javascript:alert(1))"}}]}),
        ),
    ]
}

#[test]
fn payloads_reach_the_receiver_as_slack_expects_them() {
    let receiver = FakeUpstream::start(Behaviour::Answer(200, "text/plain", b"ok".to_vec()));
    // The token lives in the path, as in Slack's webhook URLs.
    let url = format!("{}/services/T000/B000/s3cr3tt0ken", receiver.url());
    let config = json!({"url": url, "channel": "#default"});
    let mut ids = BTreeSet::new();
    let mut sent = 0;
    for transport in [Transport::Library, Transport::Stdio] {
        let (host, _dir) = start_host(transport, &config);
        for (message, expected) in cases() {
            let resp = host.post("/messages/send", &message.to_string());
            assert_eq!(resp.status, 200, "{transport:?} {message}: {}", resp.text());
            let result = resp.json();
            let id = result["id"].as_str().expect("id").to_string();
            assert!(id.starts_with("webhook-"), "{id}");
            assert!(ids.insert(id), "ids are unique");
            assert_eq!(result["channel"], expected["channel"]);
            assert_eq!(result["metadata"]["status"], 200);
            assert_eq!(result["metadata"]["response"], "ok");
            assert!(result["sentAt"].as_str().unwrap().starts_with("20"));
            sent += 1;
            let requests = receiver.requests();
            assert_eq!(requests.len(), sent);
            let request = requests.last().unwrap();
            assert_eq!(request.method, "POST");
            assert_eq!(request.target, "/services/T000/B000/s3cr3tt0ken");
            assert_eq!(request.header("content-type"), Some("application/json"));
            let payload: Value = serde_json::from_slice(&request.body).expect("JSON payload");
            assert_eq!(payload, expected, "{transport:?} {message}");
        }
        // An empty message is refused before anything is sent.
        let resp = host.post("/messages/send", r##"{"channel": "#x", "body": " "}"##);
        assert_eq!(resp.status, 400, "{}", resp.text());
        assert_eq!(receiver.requests().len(), sent);
    }
}

#[test]
fn receiver_refusals_are_clear_errors_without_the_token() {
    let token = "s3cr3tt0ken";
    let gone = FakeUpstream::start(Behaviour::Answer(404, "text/plain", b"no_service".to_vec()));
    let broken = FakeUpstream::start(Behaviour::Answer(
        500,
        "text/html",
        b"<h1>down</h1>".to_vec(),
    ));
    let bad = FakeUpstream::start(Behaviour::Answer(
        400,
        "text/plain",
        b"invalid_blocks".to_vec(),
    ));
    let hung = FakeUpstream::start(Behaviour::Hang);
    let cases = [
        (
            format!("{}/hooks/{token}", gone.url()),
            json!({}),
            404,
            "not_found",
            "no_service",
        ),
        (
            format!("{}/hooks/{token}", broken.url()),
            json!({}),
            502,
            "upstream_unavailable",
            "answered 500",
        ),
        (
            format!("{}/hooks/{token}", bad.url()),
            json!({}),
            502,
            "upstream_error",
            "invalid_blocks",
        ),
        (
            format!("http://127.0.0.1:{}/hooks/{token}", closed_port()),
            json!({}),
            502,
            "upstream_unavailable",
            "cannot connect",
        ),
        (
            format!("{}/hooks/{token}", hung.url()),
            json!({"timeoutMs": 500}),
            504,
            "timeout",
            "did not answer",
        ),
    ];
    for transport in [Transport::Library, Transport::Stdio] {
        for (url, extra, status, code, needle) in &cases {
            let mut config = json!({"url": url});
            for (k, v) in extra.as_object().unwrap() {
                config[k] = v.clone();
            }
            let (mut host, _dir) = start_host(transport, &config);
            let resp = host.post("/messages/send", r##"{"channel": "#c", "body": "hi"}"##);
            assert_eq!(resp.status, *status, "{transport:?} {url}: {}", resp.text());
            assert_eq!(resp.error_code(), *code, "{}", resp.text());
            assert!(resp.text().contains(needle), "{}", resp.text());
            assert!(!resp.text().contains(token), "{}", resp.text());
            assert!(!host.stderr().contains(token), "{}", host.stderr());
            assert_eq!(host.post("/incidents/query", "{}").status, 200);
        }
    }
}
