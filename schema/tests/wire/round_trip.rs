//! Realistic documents of each area decode into the right fields and encode
//! back to the same JSON.

use opsorch_schema::*;
use serde::{de::DeserializeOwned, Serialize};
use serde_json::{json, Value};

/// Decodes `doc`, checks it re-encodes to the identical JSON, returns it.
fn round_trip<T: Serialize + DeserializeOwned>(doc: Value) -> T {
    let value: T = serde_json::from_value(doc.clone()).expect("document decodes");
    assert_eq!(serde_json::to_value(&value).unwrap(), doc);
    value
}

#[test]
fn incident_with_fields_and_metadata() {
    let incident: Incident = round_trip(json!({
        "id": "INC-1042",
        "title": "Checkout latency above SLO",
        "description": "p99 over 2s for 15 minutes",
        "status": "investigating",
        "severity": "sev2",
        "service": "svc-checkout",
        "url": "https://pagerduty.example.com/incidents/Q1W2E3",
        "createdAt": "2026-11-29T07:37:53.909586661Z",
        "updatedAt": "2026-11-29T08:01:00Z",
        "fields": {"commander": "alice", "impactedUsers": 1200, "customerFacing": true},
        "metadata": {"pagerduty": {"urgency": "high", "escalationPolicy": "P9X"}}
    }));
    assert_eq!(incident.id, "INC-1042");
    assert_eq!(incident.service, "svc-checkout");
    assert_eq!(incident.fields["impactedUsers"], 1200);
    assert!(incident.created_at < incident.updated_at);
}

#[test]
fn incident_query_create_and_timeline() {
    let query: IncidentQuery = round_trip(json!({
        "query": "checkout",
        "statuses": ["open", "investigating"],
        "severities": ["sev1", "sev2"],
        "scope": {"service": "svc-checkout", "environment": "prod"},
        "limit": 50,
        "metadata": {"includeResolved": false}
    }));
    assert_eq!(query.scope.environment, "prod");
    assert_eq!(query.limit, 50);

    let create: CreateIncidentInput = round_trip(json!({
        "title": "Database failover",
        "status": "open",
        "severity": "sev1",
        "service": "svc-db",
        "fields": {"region": "eu-west-1"}
    }));
    assert_eq!(create.severity, "sev1");

    let entry: TimelineEntry = round_trip(json!({
        "id": "tl-7",
        "incidentId": "INC-1042",
        "at": "2026-11-29T07:40:00.25Z",
        "kind": "note",
        "body": "Rolled back release 2026.11.3",
        "actor": {"type": "user", "id": "alice"},
        "metadata": {"source": "slack"}
    }));
    assert_eq!(entry.incident_id, "INC-1042");
    assert_eq!(entry.actor["id"], "alice");

    let append: TimelineAppendInput = round_trip(json!({
        "at": "2026-11-29T07:41:00Z",
        "kind": "status_change",
        "body": "investigating → identified",
        "actor": {"type": "copilot"}
    }));
    assert_eq!(append.kind, "status_change");
}

#[test]
fn alert_and_alert_query() {
    let alert: Alert = round_trip(json!({
        "id": "al-1",
        "title": "High error rate",
        "status": "firing",
        "severity": "critical",
        "service": "svc-api",
        "createdAt": "2026-11-29T07:00:00Z",
        "updatedAt": "2026-11-29T07:05:00.5Z",
        "fields": {"threshold": 0.05},
        "metadata": {"monitorId": 998877}
    }));
    assert_eq!(alert.status, "firing");

    let query: AlertQuery = round_trip(json!({
        "statuses": ["firing"],
        "scope": {"team": "payments"},
        "limit": 10
    }));
    assert_eq!(query.scope.team, "payments");
}

#[test]
fn log_query_with_filters_and_log_entries() {
    let query: LogQuery = round_trip(json!({
        "expression": {
            "search": "timeout",
            "filters": [
                {"field": "http.status", "operator": ">=", "value": "500"},
                {"field": "region", "operator": "=", "value": "eu-west-1"}
            ],
            "severityIn": ["error", "critical"]
        },
        "start": "2026-11-29T06:00:00Z",
        "end": "2026-11-29T07:00:00Z",
        "scope": {"service": "svc-api", "environment": "prod"},
        "limit": 200,
        "metadata": {"index": "main"}
    }));
    let expression = query.expression.unwrap();
    assert_eq!(expression.filters.len(), 2);
    assert_eq!(expression.filters[0].operator, ">=");
    assert_eq!(expression.severity_in, ["error", "critical"]);

    let entries: LogEntries = round_trip(json!({
        "entries": [
            {
                "timestamp": "2026-11-29T06:15:02.123456789Z",
                "message": "upstream timeout after 30s",
                "severity": "error",
                "service": "svc-api",
                "labels": {"pod": "api-7d9f", "region": "eu-west-1"},
                "fields": {"latencyMs": 30001},
                "metadata": {"raw": {"stream": "stderr"}}
            },
            {"timestamp": "2026-11-29T06:15:03Z", "message": "retrying"}
        ],
        "url": "https://logs.example.com/search?q=timeout"
    }));
    assert_eq!(entries.entries[0].labels["pod"], "api-7d9f");
    assert_eq!(entries.entries[1].severity, "");
}

#[test]
fn metric_query_series_and_descriptors() {
    let query: MetricQuery = round_trip(json!({
        "expression": {
            "metricName": "http_requests_total",
            "aggregation": "sum",
            "filters": [{"label": "status", "operator": "=", "value": "500"}],
            "groupBy": ["service", "region"]
        },
        "start": "2026-11-29T06:00:00Z",
        "end": "2026-11-29T07:00:00Z",
        "step": 60,
        "scope": {"service": "svc-api"}
    }));
    assert_eq!(query.step, 60);
    let expression = query.expression.unwrap();
    assert_eq!(expression.metric_name, "http_requests_total");
    assert_eq!(expression.group_by, ["service", "region"]);

    let series: Vec<MetricSeries> = round_trip(json!([{
        "name": "http_requests_total",
        "service": "svc-api",
        "labels": {"status": "500", "shard": 3},
        "points": [
            {"timestamp": "2026-11-29T06:00:00Z", "value": 12.0},
            {"timestamp": "2026-11-29T06:01:00Z", "value": 0.25},
            {"timestamp": "2026-11-29T06:02:00Z", "value": -3.5}
        ],
        "url": "https://grafana.example.com/d/abc",
        "metadata": {"query": "sum(rate(http_requests_total[1m]))"}
    }]));
    assert_eq!(series[0].points.len(), 3);
    assert_eq!(series[0].points[1].value, 0.25);

    let describe: MetricDescribeResponse = round_trip(json!({
        "metrics": [{
            "name": "http_requests_total",
            "type": "counter",
            "description": "Requests served",
            "labels": ["status", "method"],
            "unit": "requests",
            "url": "https://prometheus.example.com/graph"
        }]
    }));
    assert_eq!(describe.metrics[0].kind, "counter");
}

#[test]
fn tickets() {
    let ticket: Ticket = round_trip(json!({
        "id": "10042",
        "key": "OPS-42",
        "title": "Rotate TLS certificates",
        "description": "Certificates expire on Dec 1",
        "status": "in_progress",
        "assignees": ["bob", "carol"],
        "reporter": "alice",
        "url": "https://jira.example.com/browse/OPS-42",
        "createdAt": "2026-11-20T10:00:00Z",
        "updatedAt": "2026-11-29T07:37:53.909586661Z",
        "fields": {"storyPoints": 3},
        "metadata": {"jira": {"project": "OPS"}}
    }));
    assert_eq!(ticket.key, "OPS-42");
    assert_eq!(ticket.assignees, ["bob", "carol"]);

    let query: TicketQuery = round_trip(json!({
        "query": "TLS",
        "statuses": ["open"],
        "assignees": ["bob"],
        "reporter": "alice",
        "limit": 5
    }));
    assert_eq!(query.reporter, "alice");

    let create: CreateTicketInput = round_trip(json!({
        "title": "Follow-up: add failover alarm",
        "description": "From INC-1042",
        "fields": {"labels": ["postmortem"]}
    }));
    assert_eq!(create.fields["labels"][0], "postmortem");
}

#[test]
fn message_with_blocks_and_result() {
    let message: Message = round_trip(json!({
        "channel": "#incidents",
        "body": "INC-1042 is now sev1",
        "threadRef": "1732864673.000200",
        "blocks": [
            {"type": "header", "text": "INC-1042: Checkout latency"},
            {"type": "section", "text": "*Status:* investigating", "fields": {"Severity": "sev1", "Commander": "alice"}},
            {"type": "divider"}
        ],
        "metadata": {"unfurl": false}
    }));
    let kinds: Vec<_> = message.blocks.iter().map(|b| b.kind).collect();
    assert_eq!(
        kinds,
        [
            MessageBlockType::Header,
            MessageBlockType::Section,
            MessageBlockType::Divider
        ]
    );
    assert_eq!(message.blocks[1].fields["Commander"], "alice");

    let result: MessageResult = round_trip(json!({
        "id": "1732864700.000300",
        "channel": "C024BE91L",
        "sentAt": "2026-11-29T07:38:20.0001Z",
        "url": "https://slack.example.com/archives/C024BE91L/p1732864700000300"
    }));
    assert_eq!(result.sent_at.to_string(), "2026-11-29T07:38:20.0001Z");
}

#[test]
fn services_deployments_and_teams() {
    let query: ServiceQuery = round_trip(json!({
        "ids": ["svc-api", "svc-db"],
        "name": "api",
        "tags": {"tier": "1"},
        "limit": 20,
        "scope": {"team": "platform"}
    }));
    assert_eq!(query.ids.len(), 2);
    let service: Service = round_trip(json!({
        "id": "svc-api",
        "name": "Public API",
        "url": "https://backstage.example.com/catalog/svc-api",
        "tags": {"tier": "1", "language": "go"},
        "metadata": {"owner": "platform"}
    }));
    assert_eq!(service.tags["language"], "go");

    let deployment: Deployment = round_trip(json!({
        "id": "dep-99",
        "service": "svc-api",
        "environment": "prod",
        "version": "2026.11.3",
        "status": "running",
        "startedAt": "2026-11-29T07:00:00Z",
        "finishedAt": "0001-01-01T00:00:00Z",
        "url": "https://argo.example.com/apps/api",
        "actor": {"id": "ci-bot"},
        "fields": {"commit": "abc123"}
    }));
    assert!(deployment.finished_at.is_zero());
    let query: DeploymentQuery = round_trip(json!({
        "statuses": ["failed"],
        "versions": ["2026.11.3"],
        "scope": {"environment": "prod"}
    }));
    assert_eq!(query.versions, ["2026.11.3"]);

    let team: Team = round_trip(json!({
        "id": "team-payments",
        "name": "Payments",
        "parent": "team-commerce",
        "url": "https://opsgenie.example.com/teams/payments",
        "tags": {"oncall": "yes"}
    }));
    assert_eq!(team.parent, "team-commerce");
    let member: TeamMember = round_trip(json!({
        "id": "u-1",
        "name": "Alice",
        "email": "alice@example.com",
        "handle": "@alice",
        "role": "lead"
    }));
    assert_eq!(member.handle, "@alice");
    let query: TeamQuery = round_trip(json!({"name": "Pay", "tags": {"oncall": "yes"}}));
    assert_eq!(query.tags["oncall"], "yes");
}

#[test]
fn orchestration_run_with_step_states_and_embedded_plan() {
    let run: OrchestrationRun = round_trip(json!({
        "id": "run-123",
        "planId": "release-checklist",
        "plan": {
            "id": "release-checklist",
            "title": "Release checklist",
            "description": "Steps before promoting to prod",
            "steps": [
                {"id": "observe", "title": "Check dashboards", "type": "observe"},
                {"id": "approval", "title": "Manager approval", "type": "manual", "dependsOn": ["observe"]},
                {"id": "deploy", "title": "Deploy", "type": "invoke", "dependsOn": ["approval"], "fields": {"pipeline": "prod"}}
            ],
            "version": "3",
            "tags": {"kind": "release"}
        },
        "status": "blocked",
        "scope": {"service": "svc-api", "environment": "prod"},
        "steps": [
            {"stepId": "observe", "status": "succeeded", "actor": "alice", "note": "all green",
             "startedAt": "2026-11-29T07:00:00Z", "finishedAt": "2026-11-29T07:05:00.5Z",
             "updatedAt": "2026-11-29T07:05:00.5Z"},
            {"stepId": "approval", "status": "blocked", "startedAt": "2026-11-29T07:05:00.5Z"},
            {"stepId": "deploy", "status": "pending"}
        ],
        "createdAt": "2026-11-29T07:00:00Z",
        "updatedAt": "2026-11-29T07:05:00.5Z",
        "url": "https://runbooks.example.com/runs/run-123"
    }));
    let plan = run.plan.as_ref().unwrap();
    assert_eq!(plan.steps[1].depends_on, ["observe"]);
    assert_eq!(plan.steps[2].kind, "invoke");
    assert!(run.steps[1].started_at.is_some());
    assert_eq!(run.steps[1].finished_at, None);
    assert_eq!(run.steps[2].started_at, None);

    let query: OrchestrationRunQuery = round_trip(json!({
        "statuses": ["running", "blocked"],
        "planIds": ["release-checklist"],
        "limit": 10
    }));
    assert_eq!(query.plan_ids, ["release-checklist"]);
    let query: OrchestrationPlanQuery = round_trip(json!({
        "query": "release",
        "scope": {"service": "api"},
        "tags": {"kind": "release"},
        "limit": 10
    }));
    assert_eq!(query.scope.service, "api");

    let start: StartRunInput = round_trip(json!({"planId": "release-checklist"}));
    assert_eq!(start.plan_id, "release-checklist");
    let complete: CompleteStepInput =
        round_trip(json!({"actor": "ops@example.com", "note": "Approved after review"}));
    assert_eq!(complete.actor, "ops@example.com");
}
