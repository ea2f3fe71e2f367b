//! `orchestration.*`: plans, runs and dependency enforcement.

mod common;

use common::{call, call_err, ids, list, mock, s};
use opsorch_plugin_api::Capability;
use serde_json::{json, Value};

fn step<'a>(run: &'a Value, id: &str) -> &'a Value {
    run["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["stepId"] == id)
        .unwrap_or_else(|| panic!("no step {id}"))
}

fn complete(p: &opsorch_plugin_api::ProviderInstance, run: &str, step: &str) -> Value {
    call(
        p,
        "orchestration.runs.steps.complete",
        json!({"runId": run, "stepId": step, "actor": "alice", "note": "ok"}),
    )
}

#[test]
fn five_plans_with_typed_steps_and_dependencies() {
    let p = mock(Capability::Orchestration);
    let plans = list(&p, "orchestration.plans.query", json!({}));
    assert_eq!(
        ids(&plans),
        [
            "release-checklist",
            "db-failover",
            "incident-response-sev1",
            "cert-rotation",
            "rollback-service"
        ]
    );
    for plan in &plans {
        let steps = plan["steps"].as_array().unwrap();
        assert!(steps.len() >= 4);
        for st in steps {
            assert!(["manual", "observe", "invoke", "verify", "record"]
                .contains(&st["type"].as_str().unwrap()));
        }
        assert!(steps.iter().any(|st| st.get("dependsOn").is_some()));
    }
    let plan = call(
        &p,
        "orchestration.plans.get",
        json!({"planId": "db-failover"}),
    );
    assert_eq!(plan["id"], "db-failover");
    assert_eq!(
        call_err(&p, "orchestration.plans.get", json!({"planId": "nope"})),
        "not_found"
    );
}

#[test]
fn plan_filters() {
    let p = mock(Capability::Orchestration);
    assert_eq!(
        ids(&list(
            &p,
            "orchestration.plans.query",
            json!({"query": "FAILOVER"})
        )),
        ["db-failover"]
    );
    assert_eq!(
        ids(&list(
            &p,
            "orchestration.plans.query",
            json!({"tags": {"category": "release"}})
        )),
        ["release-checklist", "rollback-service"]
    );
    // A service scope keeps generic plans and plans for that service.
    assert_eq!(
        ids(&list(
            &p,
            "orchestration.plans.query",
            json!({"scope": {"service": "auth"}})
        )),
        [
            "release-checklist",
            "db-failover",
            "incident-response-sev1",
            "cert-rotation",
            "rollback-service"
        ]
    );
    assert_eq!(
        ids(&list(
            &p,
            "orchestration.plans.query",
            json!({"scope": {"service": "shipping"}})
        )),
        [
            "release-checklist",
            "incident-response-sev1",
            "rollback-service"
        ]
    );
    assert_eq!(
        ids(&list(
            &p,
            "orchestration.plans.query",
            json!({"scope": {"team": "sre"}})
        )),
        ["db-failover", "incident-response-sev1"]
    );
    assert_eq!(
        list(&p, "orchestration.plans.query", json!({"limit": 2})).len(),
        2
    );
}

#[test]
fn seeded_runs_cover_every_status() {
    let p = mock(Capability::Orchestration);
    let runs = list(&p, "orchestration.runs.query", json!({}));
    assert_eq!(runs.len(), 8);
    for status in ["running", "completed", "blocked", "failed", "cancelled"] {
        assert!(
            runs.iter().any(|r| r["status"] == status),
            "no {status} run"
        );
    }
    for run in &runs {
        assert_eq!(run["plan"]["id"], run["planId"]);
        assert_eq!(
            run["steps"].as_array().unwrap().len(),
            run["plan"]["steps"].as_array().unwrap().len()
        );
        if run["status"] == "completed" {
            assert!(run["steps"]
                .as_array()
                .unwrap()
                .iter()
                .all(|s| s["status"] == "succeeded"));
        }
    }
    let fresh = call(&p, "orchestration.runs.get", json!({"runId": "RUN-7008"}));
    assert_eq!(fresh["status"], "running");
    assert_eq!(step(&fresh, "freeze-check")["status"], "ready");
    assert_eq!(step(&fresh, "deploy-staging")["status"], "pending");
    assert_eq!(
        call_err(&p, "orchestration.runs.get", json!({"runId": "RUN-1"})),
        "not_found"
    );
}

#[test]
fn run_filters() {
    let p = mock(Capability::Orchestration);
    let all = list(&p, "orchestration.runs.query", json!({}));
    let running = list(
        &p,
        "orchestration.runs.query",
        json!({"statuses": ["running"]}),
    );
    assert_eq!(
        running.len(),
        all.iter().filter(|r| r["status"] == "running").count()
    );
    let certs = list(
        &p,
        "orchestration.runs.query",
        json!({"planIds": ["cert-rotation"]}),
    );
    assert_eq!(certs.len(), 2);
    assert!(certs.iter().all(|r| r["planId"] == "cert-rotation"));
    let hits = list(&p, "orchestration.runs.query", json!({"query": "sev1"}));
    assert!(!hits.is_empty() && hits.iter().all(|r| r["planId"] == "incident-response-sev1"));
    let checkout = list(
        &p,
        "orchestration.runs.query",
        json!({"scope": {"service": "checkout"}}),
    );
    assert!(!checkout.is_empty() && checkout.iter().all(|r| r["scope"]["service"] == "checkout"));
    let staging = list(
        &p,
        "orchestration.runs.query",
        json!({"scope": {"environment": "staging"}}),
    );
    assert!(
        !staging.is_empty()
            && staging
                .iter()
                .all(|r| r["scope"]["environment"] == "staging")
    );
    let commerce = list(
        &p,
        "orchestration.runs.query",
        json!({"scope": {"team": "commerce"}}),
    );
    assert!(commerce
        .iter()
        .all(|r| ["checkout", "payments", "orders"]
            .contains(&r["scope"]["service"].as_str().unwrap())));
    assert_eq!(
        list(&p, "orchestration.runs.query", json!({"limit": 1})),
        all[..1].to_vec()
    );
}

#[test]
fn start_run_and_complete_steps_in_dependency_order() {
    let p = mock(Capability::Orchestration);
    assert_eq!(
        call_err(&p, "orchestration.runs.start", json!({"planId": "nope"})),
        "not_found"
    );
    assert_eq!(
        call_err(&p, "orchestration.runs.start", json!({"planId": ""})),
        "bad_request"
    );

    let run = call(
        &p,
        "orchestration.runs.start",
        json!({"planId": "rollback-service"}),
    );
    let id = s(&run["id"]);
    assert_eq!(id, "RUN-7009");
    assert_eq!(run["status"], "running");
    assert_eq!(step(&run, "identify-bad-version")["status"], "ready");
    assert_eq!(step(&run, "approve-rollback")["status"], "pending");
    assert_eq!(
        call(&p, "orchestration.runs.get", json!({"runId": id})),
        run
    );
    assert_eq!(
        ids(&list(&p, "orchestration.runs.query", json!({"limit": 1}))),
        [id.as_str()]
    );

    // A step whose dependency has not succeeded is refused and left alone.
    assert_eq!(
        call_err(
            &p,
            "orchestration.runs.steps.complete",
            json!({"runId": id, "stepId": "rollback", "actor": "a", "note": ""})
        ),
        "bad_request"
    );
    assert_eq!(
        step(
            &call(&p, "orchestration.runs.get", json!({"runId": id})),
            "rollback"
        )["status"],
        "pending"
    );

    assert_eq!(complete(&p, &id, "identify-bad-version"), Value::Null);
    let after = call(&p, "orchestration.runs.get", json!({"runId": id}));
    let done = step(&after, "identify-bad-version");
    assert_eq!(done["status"], "succeeded");
    assert_eq!(done["actor"], "alice");
    assert_eq!(done["note"], "ok");
    assert!(done["finishedAt"].is_string());
    assert_eq!(step(&after, "approve-rollback")["status"], "ready");
    assert_eq!(after["status"], "running");

    // Completing twice is refused.
    assert_eq!(
        call_err(
            &p,
            "orchestration.runs.steps.complete",
            json!({"runId": id, "stepId": "identify-bad-version", "actor": "a", "note": ""})
        ),
        "bad_request"
    );

    for st in [
        "approve-rollback",
        "rollback",
        "verify-health",
        "notify-stakeholders",
    ] {
        complete(&p, &id, st);
    }
    let finished = call(&p, "orchestration.runs.get", json!({"runId": id}));
    assert_eq!(finished["status"], "completed");
    assert_eq!(
        list(
            &p,
            "orchestration.runs.query",
            json!({"statuses": ["completed"], "planIds": ["rollback-service"]})
        )
        .len(),
        2
    );
    // A finished run accepts no more steps.
    assert_eq!(
        call_err(
            &p,
            "orchestration.runs.steps.complete",
            json!({"runId": id, "stepId": "rollback", "actor": "a", "note": ""})
        ),
        "bad_request"
    );
}

#[test]
fn parallel_branches_join_only_when_all_dependencies_succeed() {
    let p = mock(Capability::Orchestration);
    // deploy-staging depends on both freeze-check and review-changelog.
    complete(&p, "RUN-7008", "freeze-check");
    let run = call(&p, "orchestration.runs.get", json!({"runId": "RUN-7008"}));
    assert_eq!(step(&run, "deploy-staging")["status"], "pending");
    assert_eq!(
        call_err(
            &p,
            "orchestration.runs.steps.complete",
            json!({"runId": "RUN-7008", "stepId": "deploy-staging", "actor": "a", "note": ""})
        ),
        "bad_request"
    );
    complete(&p, "RUN-7008", "review-changelog");
    let run = call(&p, "orchestration.runs.get", json!({"runId": "RUN-7008"}));
    assert_eq!(step(&run, "deploy-staging")["status"], "ready");
}

#[test]
fn completing_the_blocked_step_unblocks_the_run() {
    let p = mock(Capability::Orchestration);
    let blocked = list(
        &p,
        "orchestration.runs.query",
        json!({"statuses": ["blocked"]}),
    );
    let run = &blocked[0];
    let step_id = run["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["status"] == "blocked")
        .unwrap()["stepId"]
        .clone();
    complete(&p, &s(&run["id"]), &s(&step_id));
    let after = call(&p, "orchestration.runs.get", json!({"runId": run["id"]}));
    assert_eq!(after["status"], "running");
}

#[test]
fn unknown_run_or_step_is_not_found() {
    let p = mock(Capability::Orchestration);
    assert_eq!(
        call_err(
            &p,
            "orchestration.runs.steps.complete",
            json!({"runId": "RUN-1", "stepId": "x", "actor": "", "note": ""})
        ),
        "not_found"
    );
    assert_eq!(
        call_err(
            &p,
            "orchestration.runs.steps.complete",
            json!({"runId": "RUN-7008", "stepId": "nope", "actor": "", "note": ""})
        ),
        "not_found"
    );
    let failed = list(
        &p,
        "orchestration.runs.query",
        json!({"statuses": ["failed"]}),
    );
    let run_id = s(&failed[0]["id"]);
    let st = s(&failed[0]["steps"][0]["stepId"]);
    assert_eq!(
        call_err(
            &p,
            "orchestration.runs.steps.complete",
            json!({"runId": run_id, "stepId": st, "actor": "", "note": ""})
        ),
        "bad_request"
    );
}
