//! The adapter as a whole: registration, config, determinism across every
//! capability, messaging, secrets, concurrency and the stdio transport.

mod common;

use std::sync::Arc;

use common::{call, call_err, config, list, mock, mock_with, s};
use opsorch_plugin_api::Capability;
use serde_json::{json, Value};

#[test]
fn registers_mock_for_all_eleven_capabilities() {
    let manifest = opsorch_mock::adapter().manifest();
    assert_eq!(manifest.providers.len(), 11);
    for cap in Capability::ALL {
        assert!(
            manifest
                .providers
                .iter()
                .any(|p| p.capability == cap.name() && p.name == "mock"),
            "{cap} missing"
        );
        opsorch_mock::adapter()
            .construct(
                cap,
                "mock",
                &config(json!({"seed": 5, "apiToken": "x", "url": "https://example"})),
            )
            .unwrap();
    }
}

#[test]
fn bad_seed_is_a_bad_request_and_string_seeds_work() {
    for bad in [
        json!({"seed": -1}),
        json!({"seed": "abc"}),
        json!({"seed": 1.5}),
        json!({"seed": [1]}),
    ] {
        let err = opsorch_mock::adapter()
            .construct(Capability::Incident, "mock", &config(bad.clone()))
            .err()
            .unwrap_or_else(|| panic!("{bad} accepted"));
        assert_eq!(err.code(), "bad_request");
    }
    let a = list(
        &mock_with(Capability::Incident, json!({"seed": "17"})),
        "incident.list",
        Value::Null,
    );
    let b = list(
        &mock_with(Capability::Incident, json!({"seed": 17})),
        "incident.list",
        Value::Null,
    );
    assert_eq!(a, b);
    let default = list(&mock(Capability::Incident), "incident.list", Value::Null);
    let explicit = list(
        &mock_with(Capability::Incident, json!({"seed": 42})),
        "incident.list",
        Value::Null,
    );
    assert_eq!(default, explicit);
}

/// One read per capability whose answer depends only on the seed.
fn snapshot(seed: u64) -> Vec<Value> {
    let cfg = json!({"seed": seed});
    let window = json!({"start": "2026-10-31T00:00:00Z", "end": "2026-10-31T01:00:00Z"});
    let mut metric = window.clone();
    metric["expression"] = json!({"metricName": "error_rate"});
    metric["scope"] = json!({"service": "checkout"});
    vec![
        call(
            &mock_with(Capability::Incident, cfg.clone()),
            "incident.query",
            json!({}),
        ),
        call(
            &mock_with(Capability::Incident, cfg.clone()),
            "incident.timeline.get",
            json!({"id": "INC-1003"}),
        ),
        call(
            &mock_with(Capability::Alert, cfg.clone()),
            "alert.query",
            json!({}),
        ),
        call(
            &mock_with(Capability::Ticket, cfg.clone()),
            "ticket.query",
            json!({}),
        ),
        call(
            &mock_with(Capability::Deployment, cfg.clone()),
            "deployment.query",
            json!({}),
        ),
        call(
            &mock_with(Capability::Team, cfg.clone()),
            "team.members",
            json!({"teamID": "platform"}),
        ),
        call(
            &mock_with(Capability::Orchestration, cfg.clone()),
            "orchestration.runs.query",
            json!({}),
        ),
        call(
            &mock_with(Capability::Log, cfg.clone()),
            "log.query",
            window,
        ),
        call(&mock_with(Capability::Metric, cfg), "metric.query", metric),
    ]
}

#[test]
fn same_seed_same_world_different_seed_different_world() {
    let a = snapshot(1234);
    let b = snapshot(1234);
    let c = snapshot(4321);
    assert_eq!(a, b);
    for (i, (x, y)) in a.iter().zip(&c).enumerate() {
        assert_ne!(x, y, "snapshot {i} ignores the seed");
    }
}

#[test]
fn seeded_times_are_anchored_to_the_reference_instant() {
    let incidents = list(&mock(Capability::Incident), "incident.list", Value::Null);
    for i in &incidents {
        let created = s(&i["createdAt"]);
        assert!(
            created.as_str() < "2026-11-01T00:00:00Z" && created.as_str() > "2026-09-30",
            "{created}"
        );
    }
}

#[test]
fn messaging_returns_ids_and_validates() {
    let p = mock(Capability::Messaging);
    let before = chrono::Utc::now();
    let r1 = call(
        &p,
        "messaging.send",
        json!({"channel": "#inc-1001", "body": "Mitigated"}),
    );
    let r2 = call(
        &p,
        "messaging.send",
        json!({"channel": "#inc-1001", "body": "", "blocks": [{"type": "header", "text": "Update"}, {"type": "divider"}], "threadRef": "t1"}),
    );
    assert_eq!(r1["channel"], "#inc-1001");
    assert_ne!(r1["id"], r2["id"]);
    assert!(s(&r1["url"]).starts_with("https://mock.opsorch.local/messages/"));
    let sent = chrono::DateTime::parse_from_rfc3339(r1["sentAt"].as_str().unwrap()).unwrap();
    assert!(sent >= before);
    assert_eq!(r2["metadata"]["blocks"], 2);
    assert_eq!(
        call_err(&p, "messaging.send", json!({"channel": "", "body": "x"})),
        "bad_request"
    );
    assert_eq!(
        call_err(&p, "messaging.send", json!({"channel": "#x", "body": ""})),
        "bad_request"
    );
}

#[test]
fn secrets_start_empty_and_keep_what_is_put() {
    let p = mock(Capability::Secret);
    assert_eq!(
        call_err(
            &p,
            "secret.get",
            json!({"key": "providers/incident/default"})
        ),
        "not_found"
    );
    assert_eq!(
        call(
            &p,
            "secret.put",
            json!({"key": "providers/incident/default", "value": "{\"provider\":\"mock\"}"})
        ),
        Value::Null
    );
    assert_eq!(
        call(
            &p,
            "secret.get",
            json!({"key": "providers/incident/default"})
        ),
        "{\"provider\":\"mock\"}"
    );
    call(
        &p,
        "secret.put",
        json!({"key": "providers/incident/default", "value": "v2"}),
    );
    assert_eq!(
        call(
            &p,
            "secret.get",
            json!({"key": "providers/incident/default"})
        ),
        "v2"
    );
    assert_eq!(
        call_err(&p, "secret.put", json!({"key": "", "value": "x"})),
        "bad_request"
    );
}

#[test]
fn concurrent_writers_and_readers_see_every_change() {
    let p = Arc::new(mock(Capability::Incident));
    let handles: Vec<_> = (0..8)
        .map(|t| {
            let p = Arc::clone(&p);
            std::thread::spawn(move || {
                for n in 0..10 {
                    call(&p, "incident.create", json!({"title": format!("t{t} n{n}"), "status": "open", "severity": "sev4"}));
                    list(&p, "incident.query", json!({"limit": 5, "statuses": ["open"]}));
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    let all = list(&p, "incident.list", Value::Null);
    assert_eq!(all.len(), 25 + 80);
    let mut ids: Vec<String> = all.iter().map(|i| s(&i["id"])).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 105, "ids are unique");
}

#[test]
fn stdio_transport_serves_the_same_data() {
    let input = [
        json!({"method": "incident.get", "config": {"seed": 3}, "payload": {"id": "INC-1002"}}),
        json!({"method": "incident.update", "config": {"seed": 3}, "payload": {"id": "INC-1002", "input": {"severity": "sev1"}}}),
        json!({"method": "incident.get", "config": {"seed": 3}, "payload": {"id": "INC-1002"}}),
        json!({"method": "deployment.get", "config": {"seed": 3}, "payload": {"id": "DEP-3999"}}),
    ]
    .iter()
    .map(|l| format!("{l}\n"))
    .collect::<String>();
    let mut output = Vec::new();
    opsorch_plugin_api::serve(&opsorch_mock::adapter(), input.as_bytes(), &mut output).unwrap();
    let lines: Vec<Value> = String::from_utf8(output)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 4);
    let direct = call(
        &mock_with(Capability::Incident, json!({"seed": 3})),
        "incident.get",
        json!({"id": "INC-1002"}),
    );
    assert_eq!(lines[0]["result"], direct);
    // State persists between requests of one plugin process.
    assert_eq!(lines[2]["result"]["severity"], "sev1");
    assert_eq!(lines[3]["error"]["code"], "not_found");
}
