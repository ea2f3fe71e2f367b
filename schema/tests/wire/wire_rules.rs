//! The contract's wire rules: what is omitted, what is strict, what is
//! tolerated.

use opsorch_schema::*;
use serde_json::{json, Value};

fn encode<T: serde::Serialize>(value: &T) -> Value {
    serde_json::to_value(value).unwrap()
}

fn keys(value: &Value) -> Vec<&str> {
    let mut keys: Vec<_> = value
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    keys
}

#[test]
fn empty_resource_keeps_only_required_fields() {
    assert_eq!(
        encode(&Incident::default()),
        json!({
            "id": "", "title": "", "status": "", "severity": "",
            "createdAt": "0001-01-01T00:00:00Z", "updatedAt": "0001-01-01T00:00:00Z"
        })
    );
    assert_eq!(
        keys(&encode(&Ticket::default())),
        ["createdAt", "id", "status", "title", "updatedAt"]
    );
    assert_eq!(
        keys(&encode(&Deployment::default())),
        ["finishedAt", "id", "startedAt", "status"]
    );
    assert_eq!(
        keys(&encode(&MetricDescriptor::default())),
        ["description", "labels", "name", "type"]
    );
    assert_eq!(
        keys(&encode(&OrchestrationRun::default())),
        ["createdAt", "id", "planId", "status", "steps", "updatedAt"]
    );
    assert_eq!(
        encode(&OrchestrationStepState::default()),
        json!({"stepId": "", "status": ""})
    );
    assert_eq!(encode(&LogEntries::default()), json!({"entries": []}));
    assert_eq!(keys(&encode(&MetricSeries::default())), ["name", "points"]);
}

#[test]
fn empty_queries_encode_as_empty_objects() {
    assert_eq!(encode(&IncidentQuery::default()), json!({}));
    assert_eq!(encode(&TicketQuery::default()), json!({}));
    assert_eq!(encode(&ServiceQuery::default()), json!({}));
    assert_eq!(encode(&OrchestrationRunQuery::default()), json!({}));
    assert_eq!(encode(&QueryScope::default()), json!({}));
    // Time windows and the step are not optional in the contract.
    assert_eq!(
        encode(&MetricQuery::default()),
        json!({"start": "0001-01-01T00:00:00Z", "end": "0001-01-01T00:00:00Z", "step": 0})
    );
}

#[test]
fn scope_is_omitted_only_when_every_field_is_empty() {
    let mut query = AlertQuery::default();
    assert!(query.scope.is_empty());
    query.scope.environment = "prod".into();
    assert!(!query.scope.is_empty());
    assert_eq!(encode(&query), json!({"scope": {"environment": "prod"}}));
}

#[test]
fn step_state_times_are_omitted_only_when_absent() {
    let state = OrchestrationStepState {
        step_id: "approval".into(),
        status: "pending".into(),
        started_at: Some(Timestamp::ZERO),
        ..Default::default()
    };
    assert_eq!(
        encode(&state),
        json!({"stepId": "approval", "status": "pending", "startedAt": "0001-01-01T00:00:00Z"})
    );
}

#[test]
fn whole_document_keeps_nanoseconds_byte_for_byte() {
    let wire = r#"{"timestamp":"2026-11-29T07:37:53.909586661Z","value":1.5}"#;
    let point: MetricPoint = serde_json::from_str(wire).unwrap();
    assert_eq!(serde_json::to_string(&point).unwrap(), wire);
}

#[test]
fn offset_times_in_documents_are_normalised_to_utc() {
    let entry: LogEntry = serde_json::from_value(json!({
        "timestamp": "2026-11-29T09:37:53.909586661+02:00",
        "message": "m"
    }))
    .unwrap();
    assert_eq!(
        encode(&entry)["timestamp"],
        "2026-11-29T07:37:53.909586661Z"
    );
}

#[test]
fn missing_or_null_time_in_a_request_is_zero() {
    let append: TimelineAppendInput =
        serde_json::from_value(json!({"kind": "note", "body": "hi"})).unwrap();
    assert!(append.at.is_zero());

    let append: TimelineAppendInput =
        serde_json::from_value(json!({"at": null, "kind": "note", "body": "hi"})).unwrap();
    assert!(append.at.is_zero());

    let query: LogQuery = serde_json::from_value(json!({})).unwrap();
    assert!(query.start.is_zero() && query.end.is_zero());
}

#[test]
fn malformed_time_in_a_request_is_an_error() {
    let err = serde_json::from_value::<TimelineAppendInput>(json!({"at": "now"})).unwrap_err();
    assert!(err.to_string().contains("now"), "{err}");
}

#[test]
fn unknown_fields_in_requests_are_rejected() {
    fn rejects<T: serde::de::DeserializeOwned + std::fmt::Debug>(doc: Value) {
        let name = std::any::type_name::<T>();
        let err = serde_json::from_value::<T>(doc).expect_err(name);
        assert!(err.to_string().contains("unknown field"), "{name}: {err}");
    }
    rejects::<IncidentQuery>(json!({"statuses": ["open"], "sevrities": ["sev1"]}));
    rejects::<AlertQuery>(json!({"limitt": 5}));
    rejects::<QueryScope>(json!({"region": "eu"}));
    // Nested request types are strict too.
    rejects::<IncidentQuery>(json!({"scope": {"env": "prod"}}));
    rejects::<LogQuery>(json!({"expression": {"text": "x"}}));
    rejects::<LogQuery>(json!({"expression": {"filters": [{"field": "a", "op": "="}]}}));
    rejects::<MetricQuery>(json!({"expression": {"metric": "cpu"}}));
    rejects::<MetricQuery>(json!({"expression": {"filters": [{"name": "a"}]}}));
    rejects::<TicketQuery>(json!({"owner": "bob"}));
    rejects::<ServiceQuery>(json!({"id": "svc"}));
    rejects::<DeploymentQuery>(json!({"version": "1"}));
    rejects::<TeamQuery>(json!({"limit": 3}));
    rejects::<OrchestrationPlanQuery>(json!({"planIds": []}));
    rejects::<OrchestrationRunQuery>(json!({"planId": "p"}));
    rejects::<CreateIncidentInput>(json!({"title": "t", "priority": "p1"}));
    rejects::<UpdateIncidentInput>(json!({"state": "resolved"}));
    rejects::<CreateTicketInput>(json!({"title": "t", "status": "open"}));
    rejects::<UpdateTicketInput>(json!({"assignee": "bob"}));
    rejects::<TimelineAppendInput>(json!({"body": "b", "incidentId": "INC-1"}));
    rejects::<Message>(json!({"channel": "c", "body": "b", "thread": "t"}));
    rejects::<Message>(
        json!({"channel": "c", "body": "b", "blocks": [{"type": "divider", "style": "x"}]}),
    );
    rejects::<StartRunInput>(json!({"plan_id": "p"}));
    rejects::<CompleteStepInput>(json!({"actor": "a", "comment": "c"}));
}

#[test]
fn unknown_and_missing_fields_in_resources_are_accepted() {
    let incident: Incident = serde_json::from_value(json!({
        "id": "INC-1", "title": "t", "priority": "P1", "assignee": {"id": 7}
    }))
    .unwrap();
    assert_eq!(incident.id, "INC-1");
    assert!(incident.created_at.is_zero());

    let run: OrchestrationRun = serde_json::from_value(json!({
        "id": "run-1", "planId": "p", "engine": "temporal",
        "steps": [{"stepId": "s1", "status": "ready", "attempt": 2}],
        "plan": {"id": "p", "title": "P", "owner": "x", "steps": [{"id": "s1", "title": "S", "timeoutSec": 60}]}
    }))
    .unwrap();
    assert_eq!(run.steps[0].status, "ready");
    assert_eq!(run.plan.unwrap().steps[0].id, "s1");

    for doc in [json!({}), json!({"extra": true})] {
        serde_json::from_value::<Alert>(doc.clone()).unwrap();
        serde_json::from_value::<Ticket>(doc.clone()).unwrap();
        serde_json::from_value::<TimelineEntry>(doc.clone()).unwrap();
        serde_json::from_value::<LogEntry>(doc.clone()).unwrap();
        serde_json::from_value::<LogEntries>(doc.clone()).unwrap();
        serde_json::from_value::<MetricSeries>(doc.clone()).unwrap();
        serde_json::from_value::<MetricDescriptor>(doc.clone()).unwrap();
        serde_json::from_value::<MetricDescribeResponse>(doc.clone()).unwrap();
        serde_json::from_value::<MessageResult>(doc.clone()).unwrap();
        serde_json::from_value::<Service>(doc.clone()).unwrap();
        serde_json::from_value::<Deployment>(doc.clone()).unwrap();
        serde_json::from_value::<Team>(doc.clone()).unwrap();
        serde_json::from_value::<TeamMember>(doc.clone()).unwrap();
        serde_json::from_value::<OrchestrationPlan>(doc.clone()).unwrap();
        serde_json::from_value::<OrchestrationStep>(doc.clone()).unwrap();
        serde_json::from_value::<OrchestrationStepState>(doc).unwrap();
    }
}

#[test]
fn null_lists_and_maps_from_go_adapters_decode_as_empty() {
    // Go encodes nil slices as null even on always-present fields.
    let entries: LogEntries = serde_json::from_value(json!({"entries": null})).unwrap();
    assert_eq!(encode(&entries), json!({"entries": []}));

    let series: MetricSeries =
        serde_json::from_value(json!({"name": "cpu", "points": null, "labels": null})).unwrap();
    assert_eq!(encode(&series), json!({"name": "cpu", "points": []}));

    let plan: OrchestrationPlan =
        serde_json::from_value(json!({"id": "p", "title": "P", "steps": null, "tags": null}))
            .unwrap();
    assert!(plan.steps.is_empty());

    let query: IncidentQuery =
        serde_json::from_value(json!({"statuses": null, "scope": null, "metadata": null})).unwrap();
    assert_eq!(query, IncidentQuery::default());
}

#[test]
fn update_incident_absent_differs_from_empty_string() {
    let doc = json!({"description": "", "status": "resolved"});
    let update: UpdateIncidentInput = serde_json::from_value(doc.clone()).unwrap();
    assert_eq!(update.title, None);
    assert_eq!(update.description.as_deref(), Some(""));
    assert_eq!(update.status.as_deref(), Some("resolved"));
    assert_eq!(update.fields, None);
    assert_eq!(encode(&update), doc);

    let clear_fields: UpdateIncidentInput = serde_json::from_value(json!({"fields": {}})).unwrap();
    assert_eq!(clear_fields.fields, Some(JsonMap::new()));
    assert_eq!(encode(&clear_fields), json!({"fields": {}}));

    assert_eq!(encode(&UpdateIncidentInput::default()), json!({}));
}

#[test]
fn update_ticket_absent_differs_from_empty() {
    let doc = json!({"title": "", "assignees": []});
    let update: UpdateTicketInput = serde_json::from_value(doc.clone()).unwrap();
    assert_eq!(update.title.as_deref(), Some(""));
    assert_eq!(update.description, None);
    assert_eq!(update.assignees, Some(vec![]));
    assert_eq!(encode(&update), doc);

    let untouched: UpdateTicketInput = serde_json::from_value(json!({"status": "done"})).unwrap();
    assert_eq!(untouched.assignees, None);
    assert_eq!(encode(&untouched), json!({"status": "done"}));
}

#[test]
fn limit_must_be_a_non_negative_integer() {
    for bad in ["-1", "1.5", "1e400", "\"10\"", "4294967296"] {
        let doc = format!(r#"{{"limit": {bad}}}"#);
        assert!(
            serde_json::from_str::<IncidentQuery>(&doc).is_err(),
            "limit {bad} should be rejected"
        );
        assert!(serde_json::from_str::<OrchestrationRunQuery>(&doc).is_err());
    }
    let ok: TicketQuery = serde_json::from_str(r#"{"limit": 25}"#).unwrap();
    assert_eq!(ok.limit, 25);
}

#[test]
fn message_block_type_is_lowercase_and_required() {
    assert_eq!(encode(&MessageBlockType::Header), json!("header"));
    let block: MessageBlock = serde_json::from_value(json!({"type": "divider"})).unwrap();
    assert_eq!(encode(&block), json!({"type": "divider"}));

    assert!(serde_json::from_value::<MessageBlock>(json!({"type": "Header"})).is_err());
    assert!(serde_json::from_value::<MessageBlock>(json!({"type": "image"})).is_err());
    assert!(serde_json::from_value::<MessageBlock>(json!({"text": "no type"})).is_err());
}

#[test]
fn request_bodies_may_leave_fields_out() {
    let start: StartRunInput = serde_json::from_value(json!({})).unwrap();
    assert!(start.plan_id.is_empty());
    let complete: CompleteStepInput = serde_json::from_value(json!({})).unwrap();
    assert_eq!(complete, CompleteStepInput::default());
    let message: Message = serde_json::from_value(json!({"channel": "#ops"})).unwrap();
    assert_eq!(message.body, "");
}

/// JSON Schema's `integer` (what the document publishes) includes `25.0`.
#[test]
fn integers_may_be_written_as_whole_floats() {
    let query: IncidentQuery = serde_json::from_str(r#"{"limit": 25.0}"#).unwrap();
    assert_eq!(query.limit, 25);
    let query: IncidentQuery = serde_json::from_str(r#"{"limit": 1e2}"#).unwrap();
    assert_eq!(query.limit, 100);
    let metric: MetricQuery = serde_json::from_str(r#"{"step": 60.0}"#).unwrap();
    assert_eq!(metric.step, 60);
    for bad in ["-1.0", "0.5", "4294967296.0", "null"] {
        let doc = format!(r#"{{"limit": {bad}}}"#);
        assert!(
            serde_json::from_str::<IncidentQuery>(&doc).is_err(),
            "{bad}"
        );
    }
    assert!(serde_json::from_str::<MetricQuery>(r#"{"step": 18446744073709551616.0}"#).is_err());
}
