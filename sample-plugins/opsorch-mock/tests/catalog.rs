//! `service.*`, `team.*` and `deployment.*`.

mod common;

use common::{call, call_err, ids, list, mock, mock_with, s};
use opsorch_plugin_api::Capability;
use serde_json::{json, Value};

// ---------------------------------------------------------------- services

#[test]
fn twelve_services_with_tags() {
    let p = mock(Capability::Service);
    let all = list(&p, "service.query", json!({}));
    assert_eq!(
        ids(&all),
        [
            "checkout",
            "payments",
            "api-gateway",
            "search",
            "catalog",
            "inventory",
            "notifications",
            "auth",
            "web-frontend",
            "recommendations",
            "orders",
            "shipping"
        ]
    );
    for svc in &all {
        for tag in ["tier", "language", "team", "env"] {
            assert!(svc["tags"][tag].is_string(), "{} lacks {tag}", svc["id"]);
        }
        assert!(s(&svc["url"]).starts_with("https://mock.opsorch.local/services/"));
    }
}

#[test]
fn service_filters() {
    let p = mock(Capability::Service);
    assert_eq!(
        ids(&list(
            &p,
            "service.query",
            json!({"ids": ["auth", "orders", "nope"]})
        )),
        ["auth", "orders"]
    );
    // Name matches the display name or the id, case-insensitively.
    assert_eq!(
        ids(&list(&p, "service.query", json!({"name": "GATEWAY"}))),
        ["api-gateway"]
    );
    assert_eq!(
        ids(&list(&p, "service.query", json!({"name": "web-front"}))),
        ["web-frontend"]
    );
    let go_tier1 = list(
        &p,
        "service.query",
        json!({"tags": {"language": "go", "tier": "tier-1"}}),
    );
    assert_eq!(ids(&go_tier1), ["checkout", "api-gateway", "inventory"]);
    assert!(list(&p, "service.query", json!({"tags": {"language": "cobol"}})).is_empty());
    assert_eq!(
        ids(&list(
            &p,
            "service.query",
            json!({"scope": {"team": "commerce"}})
        )),
        ["checkout", "payments", "orders"]
    );
    assert_eq!(
        ids(&list(
            &p,
            "service.query",
            json!({"scope": {"service": "search"}})
        )),
        ["search"]
    );
    assert_eq!(
        list(
            &p,
            "service.query",
            json!({"scope": {"environment": "prod"}})
        )
        .len(),
        12
    );
    assert!(list(&p, "service.query", json!({"scope": {"environment": "qa"}})).is_empty());
    assert_eq!(list(&p, "service.query", json!({"limit": 3})).len(), 3);
}

// ------------------------------------------------------------------- teams

#[test]
fn teams_form_a_hierarchy() {
    let p = mock(Capability::Team);
    let all = list(&p, "team.query", json!({}));
    assert!(all.len() >= 6);
    let root: Vec<_> = all.iter().filter(|t| t.get("parent").is_none()).collect();
    assert_eq!(root.len(), 1);
    assert_eq!(root[0]["id"], "engineering");
    for t in &all {
        if let Some(parent) = t.get("parent") {
            assert!(
                all.iter().any(|o| o["id"] == *parent),
                "{} parent {parent}",
                t["id"]
            );
        }
    }
    assert_eq!(
        call(&p, "team.get", json!({"id": "sre"}))["parent"],
        "platform"
    );
    assert_eq!(
        call_err(&p, "team.get", json!({"id": "marketing"})),
        "not_found"
    );
}

#[test]
fn team_filters() {
    let p = mock(Capability::Team);
    assert_eq!(
        ids(&list(&p, "team.query", json!({"name": "reliab"}))),
        ["sre"]
    );
    assert_eq!(
        ids(&list(
            &p,
            "team.query",
            json!({"tags": {"slack": "#team-data"}})
        )),
        ["data"]
    );
    // A team scope covers the team and its sub-teams.
    assert_eq!(
        ids(&list(
            &p,
            "team.query",
            json!({"scope": {"team": "platform"}})
        )),
        ["platform", "sre"]
    );
    // A service scope selects the owner.
    assert_eq!(
        ids(&list(
            &p,
            "team.query",
            json!({"scope": {"service": "shipping"}})
        )),
        ["fulfillment"]
    );
    assert!(list(&p, "team.query", json!({"scope": {"service": "nope"}})).is_empty());
}

#[test]
fn members_are_people_and_seeded() {
    let p = mock(Capability::Team);
    for team in list(&p, "team.query", json!({})) {
        let members = list(&p, "team.members", json!({"teamID": team["id"]}));
        assert!((3..=6).contains(&members.len()), "{}", team["id"]);
        for m in &members {
            for field in ["id", "name", "email", "handle", "role"] {
                assert!(!s(&m[field]).is_empty(), "{field} of {m}");
            }
            assert!(s(&m["email"]).ends_with("@acme-retail.example"));
        }
    }
    assert_eq!(
        call_err(&p, "team.members", json!({"teamID": "nope"})),
        "not_found"
    );
    let a = list(
        &mock_with(Capability::Team, json!({"seed": 1})),
        "team.members",
        json!({"teamID": "commerce"}),
    );
    let b = list(
        &mock_with(Capability::Team, json!({"seed": 1})),
        "team.members",
        json!({"teamID": "commerce"}),
    );
    let c = list(
        &mock_with(Capability::Team, json!({"seed": 2})),
        "team.members",
        json!({"teamID": "commerce"}),
    );
    assert_eq!(a, b);
    assert_ne!(a, c);
}

// ------------------------------------------------------------- deployments

fn deployments() -> Vec<Value> {
    list(&mock(Capability::Deployment), "deployment.query", json!({}))
}

#[test]
fn deployments_are_plausible() {
    let all = deployments();
    assert_eq!(all.len(), 40);
    let started: Vec<String> = all.iter().map(|d| s(&d["startedAt"])).collect();
    assert!(started.windows(2).all(|w| w[0] >= w[1]), "newest first");
    for d in &all {
        let version = s(&d["version"]);
        assert!(
            version.starts_with('v') && version.matches('.').count() == 2,
            "{version}"
        );
        assert!(["production", "staging"].contains(&d["environment"].as_str().unwrap()));
        let status = d["status"].as_str().unwrap();
        assert!(["success", "failed", "in_progress", "rolled_back"].contains(&status));
        if status == "in_progress" {
            assert_eq!(d["finishedAt"], "0001-01-01T00:00:00Z");
        } else {
            assert!(s(&d["finishedAt"]) > s(&d["startedAt"]));
        }
        assert!(d["actor"]["type"].is_string());
    }
    assert!(all.iter().filter(|d| d["status"] == "in_progress").count() >= 1);
}

#[test]
fn deployment_filters() {
    let all = deployments();
    let p = mock(Capability::Deployment);

    for status in ["success", "failed", "in_progress", "rolled_back"] {
        let hits = list(&p, "deployment.query", json!({"statuses": [status]}));
        assert_eq!(
            hits.len(),
            all.iter().filter(|d| d["status"] == status).count(),
            "{status}"
        );
    }

    let version = s(&all[5]["version"]);
    let hits = list(
        &p,
        "deployment.query",
        json!({"versions": [version.clone()]}),
    );
    assert!(!hits.is_empty() && hits.iter().all(|d| d["version"] == version.as_str()));
    let bare = version.trim_start_matches('v').to_string();
    assert_eq!(
        list(&p, "deployment.query", json!({"versions": [bare]})),
        hits
    );

    let svc = s(&all[0]["service"]);
    let hits = list(
        &p,
        "deployment.query",
        json!({"scope": {"service": svc, "environment": "production"}}),
    );
    assert!(hits
        .iter()
        .all(|d| d["service"] == svc.as_str() && d["environment"] == "production"));
    let hits = list(
        &p,
        "deployment.query",
        json!({"scope": {"team": "discovery"}}),
    );
    assert!(hits
        .iter()
        .all(|d| ["search", "catalog"].contains(&d["service"].as_str().unwrap())));

    let commit = s(&all[7]["fields"]["commit"]);
    assert!(
        ids(&list(&p, "deployment.query", json!({"query": commit}))).contains(&s(&all[7]["id"]))
    );
    let hits = list(&p, "deployment.query", json!({"query": "PAYMENTS"}));
    assert!(hits.iter().all(|d| serde_json::to_string(d)
        .unwrap()
        .to_lowercase()
        .contains("payments")));
    assert_eq!(
        list(&p, "deployment.query", json!({"limit": 3})),
        all[..3].to_vec()
    );
}

#[test]
fn deployment_get_and_not_found() {
    let p = mock(Capability::Deployment);
    assert_eq!(
        call(&p, "deployment.get", json!({"id": "DEP-3001"}))["id"],
        "DEP-3001"
    );
    assert_eq!(
        call_err(&p, "deployment.get", json!({"id": "DEP-1"})),
        "not_found"
    );
}
