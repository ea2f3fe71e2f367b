//! `incident.*` and `alert.*` through the wire method names.

mod common;

use common::{call, call_err, ids, list, mock, mock_with, s};
use opsorch_plugin_api::Capability;
use serde_json::{json, Value};

fn all_incidents() -> Vec<Value> {
    list(&mock(Capability::Incident), "incident.query", json!({}))
}

#[test]
fn list_and_empty_query_return_all_newest_first() {
    let p = mock(Capability::Incident);
    let listed = list(&p, "incident.list", Value::Null);
    let queried = list(&p, "incident.query", json!({}));
    assert_eq!(listed.len(), 25);
    assert_eq!(listed, queried);
    let created: Vec<String> = listed.iter().map(|i| s(&i["createdAt"])).collect();
    assert!(created.windows(2).all(|w| w[0] >= w[1]), "newest first");
    for i in &listed {
        assert!(s(&i["id"]).starts_with("INC-10"));
        assert_eq!(
            s(&i["url"]),
            format!("https://mock.opsorch.local/incidents/{}", s(&i["id"]))
        );
        assert_eq!(i["metadata"]["source"], "mock");
        assert!(["sev1", "sev2", "sev3", "sev4"].contains(&i["severity"].as_str().unwrap()));
        assert!([
            "open",
            "acknowledged",
            "investigating",
            "mitigated",
            "resolved"
        ]
        .contains(&i["status"].as_str().unwrap()));
    }
}

#[test]
fn query_text_is_a_case_insensitive_substring_of_title_or_description() {
    let all = all_incidents();
    let p = mock(Capability::Incident);
    let hits = list(&p, "incident.query", json!({"query": "LATENCY"}));
    let expected: Vec<_> = all
        .iter()
        .filter(|i| {
            s(&i["title"]).to_lowercase().contains("latency")
                || s(&i["description"]).to_lowercase().contains("latency")
        })
        .cloned()
        .collect();
    assert!(!expected.is_empty());
    assert_eq!(hits, expected);
    assert!(list(
        &p,
        "incident.query",
        json!({"query": "no such words anywhere"})
    )
    .is_empty());
}

#[test]
fn statuses_and_severities_filter_any_of() {
    let all = all_incidents();
    let p = mock(Capability::Incident);
    let hits = list(
        &p,
        "incident.query",
        json!({"statuses": ["resolved", "MITIGATED"]}),
    );
    let expected = all
        .iter()
        .filter(|i| i["status"] == "resolved" || i["status"] == "mitigated")
        .count();
    assert!(expected > 0);
    assert_eq!(hits.len(), expected);
    assert!(hits
        .iter()
        .all(|i| i["status"] == "resolved" || i["status"] == "mitigated"));

    let hits = list(
        &p,
        "incident.query",
        json!({"severities": ["sev3"], "statuses": ["resolved"]}),
    );
    let expected = all
        .iter()
        .filter(|i| i["severity"] == "sev3" && i["status"] == "resolved")
        .count();
    assert_eq!(hits.len(), expected);
}

#[test]
fn scope_filters_by_service_team_and_environment() {
    let all = all_incidents();
    let p = mock(Capability::Incident);

    let service = s(&all[0]["service"]);
    let hits = list(&p, "incident.query", json!({"scope": {"service": service}}));
    assert!(!hits.is_empty());
    assert!(hits.iter().all(|i| i["service"] == service.as_str()));
    assert_eq!(
        hits.len(),
        all.iter()
            .filter(|i| i["service"] == service.as_str())
            .count()
    );

    // Commerce owns checkout, payments and orders.
    let commerce = ["checkout", "payments", "orders"];
    let hits = list(&p, "incident.query", json!({"scope": {"team": "commerce"}}));
    let expected = all
        .iter()
        .filter(|i| commerce.contains(&i["service"].as_str().unwrap()))
        .count();
    assert!(expected > 0);
    assert_eq!(hits.len(), expected);
    // The team scope covers sub-teams: engineering is the whole company.
    assert_eq!(
        list(
            &p,
            "incident.query",
            json!({"scope": {"team": "engineering"}})
        )
        .len(),
        all.len()
    );

    let staging = list(
        &p,
        "incident.query",
        json!({"scope": {"environment": "staging"}}),
    );
    let prod = list(
        &p,
        "incident.query",
        json!({"scope": {"environment": "prod"}}),
    );
    assert!(staging
        .iter()
        .all(|i| i["fields"]["environment"] == "staging"));
    assert!(prod
        .iter()
        .all(|i| i["fields"]["environment"] == "production"));
    assert_eq!(staging.len() + prod.len(), all.len());
}

#[test]
fn limit_applies_after_filters() {
    let p = mock(Capability::Incident);
    let resolved = list(&p, "incident.query", json!({"statuses": ["resolved"]}));
    let limited = list(
        &p,
        "incident.query",
        json!({"statuses": ["resolved"], "limit": 2}),
    );
    assert_eq!(limited, resolved[..2].to_vec());
    assert_eq!(list(&p, "incident.query", json!({"limit": 5})).len(), 5);
    assert_eq!(list(&p, "incident.query", json!({"limit": 0})).len(), 25);
}

#[test]
fn get_and_not_found() {
    let p = mock(Capability::Incident);
    let inc = call(&p, "incident.get", json!({"id": "INC-1001"}));
    assert_eq!(inc["id"], "INC-1001");
    assert_eq!(
        call_err(&p, "incident.get", json!({"id": "INC-9999"})),
        "not_found"
    );
    assert_eq!(
        call_err(&p, "incident.timeline.get", json!({"id": "nope"})),
        "not_found"
    );
    assert_eq!(
        call_err(
            &p,
            "incident.update",
            json!({"id": "INC-9999", "input": {"status": "resolved"}})
        ),
        "not_found"
    );
    assert_eq!(
        call_err(
            &p,
            "incident.timeline.append",
            json!({"id": "INC-9999", "entry": {"kind": "note", "body": "x"}})
        ),
        "not_found"
    );
}

#[test]
fn timelines_are_ordered_and_belong_to_their_incident() {
    let p = mock(Capability::Incident);
    for inc in all_incidents() {
        let tl = list(&p, "incident.timeline.get", json!({"id": inc["id"]}));
        assert!(
            (3..=6).contains(&tl.len()),
            "{} has {}",
            inc["id"],
            tl.len()
        );
        assert!(tl.iter().all(|e| e["incidentId"] == inc["id"]));
        assert_eq!(tl[0]["kind"], "alert");
        let at: Vec<String> = tl.iter().map(|e| s(&e["at"])).collect();
        assert!(at.windows(2).all(|w| w[0] <= w[1]));
        if inc["status"] == "resolved" {
            assert!(tl.iter().any(|e| s(&e["body"]).contains("resolved")));
        }
    }
}

#[test]
fn create_then_read_back_everywhere() {
    let p = mock(Capability::Incident);
    let created = call(
        &p,
        "incident.create",
        json!({"title": "Checkout is down", "status": "open", "severity": "sev1", "service": "checkout",
               "fields": {"environment": "production"}, "metadata": {"ticket": "OPS-1"}}),
    );
    assert_eq!(created["id"], "INC-1026");
    assert_eq!(created["createdAt"], created["updatedAt"]);
    assert_eq!(created["metadata"]["ticket"], "OPS-1");
    assert_eq!(created["metadata"]["source"], "mock");
    assert_eq!(call(&p, "incident.get", json!({"id": "INC-1026"})), created);
    // Newest first, and visible to filtered queries.
    let top = list(
        &p,
        "incident.query",
        json!({"limit": 1, "severities": ["sev1"], "scope": {"service": "checkout"}}),
    );
    assert_eq!(ids(&top), ["INC-1026"]);
    assert_eq!(list(&p, "incident.list", Value::Null).len(), 26);
    let tl = list(&p, "incident.timeline.get", json!({"id": "INC-1026"}));
    assert_eq!(tl.len(), 1);

    let second = call(
        &p,
        "incident.create",
        json!({"title": "Another", "status": "", "severity": ""}),
    );
    assert_eq!(second["id"], "INC-1027");
    assert_eq!(second["status"], "open");
    assert_eq!(second["severity"], "sev3");
}

#[test]
fn create_requires_a_title() {
    let p = mock(Capability::Incident);
    assert_eq!(
        call_err(
            &p,
            "incident.create",
            json!({"title": "", "status": "open", "severity": "sev2"})
        ),
        "bad_request"
    );
    assert_eq!(
        call_err(&p, "incident.create", json!({"title": "   "})),
        "bad_request"
    );
    assert_eq!(list(&p, "incident.list", Value::Null).len(), 25);
}

#[test]
fn update_changes_only_present_fields_and_empty_differs_from_absent() {
    let p = mock(Capability::Incident);
    let before = call(&p, "incident.get", json!({"id": "INC-1005"}));
    assert!(!s(&before["description"]).is_empty());
    let after = call(
        &p,
        "incident.update",
        json!({"id": "INC-1005", "input": {"status": "resolved"}}),
    );
    assert_eq!(after["status"], "resolved");
    for unchanged in [
        "title",
        "description",
        "severity",
        "service",
        "fields",
        "createdAt",
    ] {
        assert_eq!(after[unchanged], before[unchanged], "{unchanged}");
    }
    assert_ne!(after["updatedAt"], before["updatedAt"]);

    // An explicit empty string clears; absence leaves alone.
    let cleared = call(
        &p,
        "incident.update",
        json!({"id": "INC-1005", "input": {"description": ""}}),
    );
    assert!(
        cleared.get("description").is_none(),
        "empty description is omitted: {cleared}"
    );
    assert_eq!(cleared["status"], "resolved");
    assert_eq!(call(&p, "incident.get", json!({"id": "INC-1005"})), cleared);

    // A status change is recorded in the timeline.
    let tl = list(&p, "incident.timeline.get", json!({"id": "INC-1005"}));
    if before["status"] != "resolved" {
        assert!(tl
            .iter()
            .any(|e| e["kind"] == "status_change" && s(&e["body"]).ends_with("to resolved")));
    }
    assert_eq!(
        call_err(
            &p,
            "incident.update",
            json!({"id": "INC-1005", "input": {"title": ""}})
        ),
        "bad_request"
    );
}

#[test]
fn timeline_append_defaults_time_to_now_and_is_visible() {
    let p = mock(Capability::Incident);
    let before = list(&p, "incident.timeline.get", json!({"id": "INC-1010"}));
    let started = chrono::Utc::now();
    let result = call(
        &p,
        "incident.timeline.append",
        json!({"id": "INC-1010", "entry": {"kind": "note", "body": "Customer comms sent", "actor": {"name": "ops-bot"}}}),
    );
    assert_eq!(result, Value::Null);
    let after = list(&p, "incident.timeline.get", json!({"id": "INC-1010"}));
    assert_eq!(after.len(), before.len() + 1);
    let added = after.last().unwrap();
    assert_eq!(added["body"], "Customer comms sent");
    assert_eq!(added["actor"]["name"], "ops-bot");
    // An absent `at` means now.
    let at = chrono::DateTime::parse_from_rfc3339(added["at"].as_str().unwrap()).unwrap();
    assert!(at >= started && at <= chrono::Utc::now());

    // An explicit time is kept and sorted into place.
    call(
        &p,
        "incident.timeline.append",
        json!({"id": "INC-1010", "entry": {"at": "2000-01-01T00:00:00Z", "kind": "note", "body": "old"}}),
    );
    let tl = list(&p, "incident.timeline.get", json!({"id": "INC-1010"}));
    assert_eq!(tl[0]["body"], "old");
    assert_eq!(tl[0]["at"], "2000-01-01T00:00:00Z");
    assert_eq!(
        call_err(
            &p,
            "incident.timeline.append",
            json!({"id": "INC-1010", "entry": {"kind": "note", "body": ""}})
        ),
        "bad_request"
    );
}

#[test]
fn seeds_decide_the_data() {
    let a = list(
        &mock_with(Capability::Incident, json!({"seed": 7})),
        "incident.list",
        Value::Null,
    );
    let b = list(
        &mock_with(Capability::Incident, json!({"seed": 7, "token": "ignored"})),
        "incident.list",
        Value::Null,
    );
    let c = list(
        &mock_with(Capability::Incident, json!({"seed": 8})),
        "incident.list",
        Value::Null,
    );
    assert_eq!(a, b);
    assert_ne!(a, c);
    // Same ids either way, so examples keep working across seeds.
    let mut ia = ids(&a);
    let mut ic = ids(&c);
    ia.sort();
    ic.sort();
    assert_eq!(ia, ic);
}

// ------------------------------------------------------------------ alerts

#[test]
fn alerts_filter_like_incidents() {
    let p = mock(Capability::Alert);
    let all = list(&p, "alert.query", json!({}));
    assert_eq!(all.len(), 40);
    for a in &all {
        assert!(["firing", "acknowledged", "resolved"].contains(&a["status"].as_str().unwrap()));
        assert!(["critical", "warning", "info"].contains(&a["severity"].as_str().unwrap()));
    }
    for status in ["firing", "acknowledged", "resolved"] {
        let hits = list(&p, "alert.query", json!({"statuses": [status]}));
        assert_eq!(
            hits.len(),
            all.iter().filter(|a| a["status"] == status).count()
        );
    }
    let critical = list(&p, "alert.query", json!({"severities": ["CRITICAL"]}));
    assert!(!critical.is_empty() && critical.iter().all(|a| a["severity"] == "critical"));

    let svc = s(&all[3]["service"]);
    let hits = list(
        &p,
        "alert.query",
        json!({"scope": {"service": svc}, "limit": 2}),
    );
    assert!(!hits.is_empty() && hits.len() <= 2);
    assert!(hits.iter().all(|a| a["service"] == svc.as_str()));

    let platform = list(&p, "alert.query", json!({"scope": {"team": "platform"}}));
    assert!(platform.iter().all(
        |a| ["api-gateway", "auth", "notifications"].contains(&a["service"].as_str().unwrap())
    ));
    let staging = list(
        &p,
        "alert.query",
        json!({"scope": {"environment": "staging"}}),
    );
    assert!(staging
        .iter()
        .all(|a| a["fields"]["environment"] == "staging"));

    let hits = list(&p, "alert.query", json!({"query": "error rate"}));
    assert!(hits
        .iter()
        .all(|a| s(&a["title"]).to_lowercase().contains("error rate")
            || s(&a["description"]).to_lowercase().contains("error rate")));
}

#[test]
fn alert_get_and_not_found() {
    let p = mock(Capability::Alert);
    assert_eq!(
        call(&p, "alert.get", json!({"id": "ALR-2001"}))["id"],
        "ALR-2001"
    );
    assert_eq!(
        call_err(&p, "alert.get", json!({"id": "ALR-1"})),
        "not_found"
    );
}
