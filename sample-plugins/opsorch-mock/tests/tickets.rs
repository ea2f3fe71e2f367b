//! `ticket.*`.

mod common;

use common::{call, call_err, ids, list, mock, s};
use opsorch_plugin_api::Capability;
use serde_json::{json, Value};

fn all() -> Vec<Value> {
    list(&mock(Capability::Ticket), "ticket.query", json!({}))
}

#[test]
fn seeded_tickets_look_like_a_jira_project() {
    let all = all();
    assert_eq!(all.len(), 30);
    for t in &all {
        let id = s(&t["id"]);
        assert!(id.starts_with("OPS-1"), "{id}");
        assert_eq!(t["key"], t["id"]);
        assert!(["todo", "in_progress", "done"].contains(&t["status"].as_str().unwrap()));
        assert!(!s(&t["reporter"]).is_empty());
        assert_eq!(
            s(&t["url"]),
            format!("https://mock.opsorch.local/tickets/{id}")
        );
    }
    assert!(all
        .iter()
        .any(|t| t["assignees"].as_array().is_some_and(|a| a.len() == 2)));
    assert!(all
        .iter()
        .any(|t| s(&t["title"]).starts_with("Postmortem: ")));
}

#[test]
fn filters_query_statuses_assignees_reporter_scope_limit() {
    let all = all();
    let p = mock(Capability::Ticket);

    let hits = list(&p, "ticket.query", json!({"query": "POSTMORTEM"}));
    assert!(!hits.is_empty());
    assert!(hits.iter().all(|t| (s(&t["title"]) + &s(&t["description"]))
        .to_lowercase()
        .contains("postmortem")));

    let done = list(&p, "ticket.query", json!({"statuses": ["done"]}));
    assert_eq!(
        done.len(),
        all.iter().filter(|t| t["status"] == "done").count()
    );

    let assignee = all
        .iter()
        .find_map(|t| t["assignees"].as_array().and_then(|a| a.first()).map(s))
        .unwrap();
    let hits = list(&p, "ticket.query", json!({"assignees": [assignee]}));
    let expected: Vec<_> = all
        .iter()
        .filter(|t| {
            t["assignees"]
                .as_array()
                .is_some_and(|a| a.iter().any(|x| *x == assignee.as_str()))
        })
        .cloned()
        .collect();
    assert_eq!(hits, expected);

    let reporter = s(&all[0]["reporter"]);
    let hits = list(&p, "ticket.query", json!({"reporter": reporter}));
    assert!(!hits.is_empty() && hits.iter().all(|t| t["reporter"] == reporter.as_str()));

    let hits = list(
        &p,
        "ticket.query",
        json!({"scope": {"service": "payments"}}),
    );
    assert!(hits.iter().all(|t| t["fields"]["service"] == "payments"));
    assert_eq!(
        hits.len(),
        all.iter()
            .filter(|t| t["fields"]["service"] == "payments")
            .count()
    );

    let hits = list(
        &p,
        "ticket.query",
        json!({"scope": {"team": "fulfillment"}}),
    );
    assert!(!hits.is_empty());
    assert!(hits.iter().all(|t| t["fields"]["team"] == "fulfillment"));

    let hits = list(
        &p,
        "ticket.query",
        json!({"scope": {"environment": "production"}}),
    );
    assert!(hits
        .iter()
        .all(|t| t["fields"]["environment"] == "production"));

    assert_eq!(
        list(&p, "ticket.query", json!({"limit": 4})),
        all[..4].to_vec()
    );
}

#[test]
fn create_update_and_read_back() {
    let p = mock(Capability::Ticket);
    assert_eq!(
        call_err(&p, "ticket.create", json!({"title": ""})),
        "bad_request"
    );
    let t = call(
        &p,
        "ticket.create",
        json!({"title": "Add SLO for search", "description": "p99 < 300ms", "fields": {"service": "search"}}),
    );
    assert_eq!(t["id"], "OPS-131");
    assert_eq!(t["key"], "OPS-131");
    assert_eq!(t["status"], "todo");
    assert_eq!(call(&p, "ticket.get", json!({"id": "OPS-131"})), t);
    assert_eq!(
        ids(&list(&p, "ticket.query", json!({"limit": 1}))),
        ["OPS-131"]
    );
    assert_eq!(
        ids(&list(
            &p,
            "ticket.query",
            json!({"scope": {"service": "search"}, "statuses": ["todo"], "limit": 1})
        )),
        ["OPS-131"]
    );

    let u = call(
        &p,
        "ticket.update",
        json!({"id": "OPS-131", "input": {"status": "in_progress", "assignees": ["someone"]}}),
    );
    assert_eq!(u["status"], "in_progress");
    assert_eq!(u["assignees"], json!(["someone"]));
    assert_eq!(u["title"], t["title"]);
    assert_eq!(u["description"], t["description"]);
    assert_eq!(u["fields"], t["fields"]);
    // Empty list clears; absent keeps.
    let u2 = call(
        &p,
        "ticket.update",
        json!({"id": "OPS-131", "input": {"assignees": []}}),
    );
    assert!(u2.get("assignees").is_none());
    assert_eq!(u2["status"], "in_progress");
    assert_eq!(call(&p, "ticket.get", json!({"id": "OPS-131"})), u2);
    assert_eq!(
        list(&p, "ticket.query", json!({"assignees": ["someone"]})).len(),
        0
    );
}

#[test]
fn unknown_tickets_are_not_found() {
    let p = mock(Capability::Ticket);
    assert_eq!(
        call_err(&p, "ticket.get", json!({"id": "OPS-1"})),
        "not_found"
    );
    assert_eq!(
        call_err(
            &p,
            "ticket.update",
            json!({"id": "OPS-1", "input": {"status": "done"}})
        ),
        "not_found"
    );
}
