//! Every provider route's success path: status, body, and exactly what the
//! provider received.

use crate::support::*;
use opsorch_plugin_api::methods::Method;
use serde_json::{json, Value};

struct Case {
    http: &'static str,
    uri: &'static str,
    body: Option<Value>,
    method: Method,
    payload: Value,
    reply: Value,
    status: u16,
    response: Value,
}

#[allow(clippy::too_many_arguments)] // One row of the table, by position.
fn case(
    http: &'static str,
    uri: &'static str,
    body: Option<Value>,
    method: Method,
    payload: Value,
    reply: Value,
    status: u16,
    response: Value,
) -> Case {
    Case {
        http,
        uri,
        body,
        method,
        payload,
        reply,
        status,
        response,
    }
}

fn cases() -> Vec<Case> {
    let incident = json!({"id":"i1","title":"t","status":"open","severity":"sev3","createdAt":"2024-01-02T03:04:05Z","updatedAt":"2024-01-02T03:04:05Z"});
    let list = json!([{"id":"x1","anything":"passes through"}]);
    let obj = json!({"id":"x1","anything":"passes through"});
    let ok = json!({"status":"ok"});
    let t0 = "2024-01-02T03:04:05.5Z";
    let t1 = "2024-01-02T04:04:05.123456789Z";
    use Method::*;
    vec![
        case(
            "POST",
            "/incidents/query",
            Some(json!({"query":"db","statuses":["open"],"scope":{"service":"api"},"limit":5})),
            IncidentQuery,
            json!({"query":"db","statuses":["open"],"scope":{"service":"api"},"limit":5}),
            list.clone(),
            200,
            list.clone(),
        ),
        case(
            "POST",
            "/incidents",
            Some(json!({"title":"t","status":"open","severity":"sev3","fields":{"k":1}})),
            IncidentCreate,
            json!({"title":"t","status":"open","severity":"sev3","fields":{"k":1}}),
            incident.clone(),
            201,
            incident.clone(),
        ),
        case(
            "GET",
            "/incidents/i%201",
            None,
            IncidentGet,
            json!({"id":"i 1"}),
            incident.clone(),
            200,
            incident.clone(),
        ),
        case(
            "PATCH",
            "/incidents/i1",
            Some(json!({"description":"","status":"resolved"})),
            IncidentUpdate,
            json!({"id":"i1","input":{"description":"","status":"resolved"}}),
            incident.clone(),
            200,
            incident.clone(),
        ),
        case(
            "GET",
            "/incidents/i1/timeline",
            None,
            IncidentTimelineGet,
            json!({"id":"i1"}),
            list.clone(),
            200,
            list.clone(),
        ),
        case(
            "POST",
            "/incidents/i1/timeline",
            Some(json!({"at":t0,"kind":"note","body":"b","actor":{"name":"a"}})),
            IncidentTimelineAppend,
            json!({"id":"i1","entry":{"at":t0,"kind":"note","body":"b","actor":{"name":"a"}}}),
            Value::Null,
            201,
            ok.clone(),
        ),
        case(
            "POST",
            "/alerts/query",
            Some(json!({"severities":["high"]})),
            AlertQuery,
            json!({"severities":["high"]}),
            list.clone(),
            200,
            list.clone(),
        ),
        case(
            "GET",
            "/alerts/a1",
            None,
            AlertGet,
            json!({"id":"a1"}),
            obj.clone(),
            200,
            obj.clone(),
        ),
        case(
            "POST",
            "/logs/query",
            Some(
                json!({"expression":{"search":"err","severityIn":["error"]},"start":t0,"end":t1,"limit":10}),
            ),
            LogQuery,
            json!({"expression":{"search":"err","severityIn":["error"]},"start":t0,"end":t1,"limit":10}),
            json!({"entries":[{"timestamp":t0,"message":"m"}],"url":"http://logs"}),
            200,
            json!({"entries":[{"timestamp":t0,"message":"m"}],"url":"http://logs"}),
        ),
        case(
            "POST",
            "/metrics/query",
            Some(json!({"expression":{"metricName":"cpu"},"start":t0,"end":t1,"step":60})),
            MetricQuery,
            json!({"expression":{"metricName":"cpu"},"start":t0,"end":t1,"step":60}),
            list.clone(),
            200,
            list.clone(),
        ),
        case(
            "GET",
            "/metrics/describe?service=api&environment=prod&other=1",
            None,
            MetricDescribe,
            json!({"service":"api","environment":"prod"}),
            json!([{"name":"cpu"}]),
            200,
            json!({"metrics":[{"name":"cpu"}]}),
        ),
        case(
            "POST",
            "/metrics/describe",
            Some(json!({"team":"core"})),
            MetricDescribe,
            json!({"team":"core"}),
            json!([{"name":"cpu"}]),
            200,
            json!({"metrics":[{"name":"cpu"}]}),
        ),
        case(
            "POST",
            "/tickets/query",
            Some(json!({"assignees":["ann"]})),
            TicketQuery,
            json!({"assignees":["ann"]}),
            list.clone(),
            200,
            list.clone(),
        ),
        case(
            "POST",
            "/tickets",
            Some(json!({"title":"t","description":"d"})),
            TicketCreate,
            json!({"title":"t","description":"d"}),
            obj.clone(),
            201,
            obj.clone(),
        ),
        case(
            "GET",
            "/tickets/T-1",
            None,
            TicketGet,
            json!({"id":"T-1"}),
            obj.clone(),
            200,
            obj.clone(),
        ),
        case(
            "PATCH",
            "/tickets/T-1",
            Some(json!({"assignees":[]})),
            TicketUpdate,
            json!({"id":"T-1","input":{"assignees":[]}}),
            obj.clone(),
            200,
            obj.clone(),
        ),
        case(
            "POST",
            "/messages/send",
            Some(json!({"channel":"#ops","body":"hi","threadRef":"t1"})),
            MessagingSend,
            json!({"channel":"#ops","body":"hi","threadRef":"t1"}),
            json!({"id":"m1","channel":"#ops","sentAt":t0}),
            200,
            json!({"id":"m1","channel":"#ops","sentAt":t0}),
        ),
        case(
            "POST",
            "/services/query",
            Some(json!({"name":"api","tags":{"tier":"1"}})),
            ServiceQuery,
            json!({"name":"api","tags":{"tier":"1"}}),
            list.clone(),
            200,
            list.clone(),
        ),
        case(
            "POST",
            "/deployments/query",
            Some(json!({"versions":["1.2"]})),
            DeploymentQuery,
            json!({"versions":["1.2"]}),
            list.clone(),
            200,
            list.clone(),
        ),
        case(
            "GET",
            "/deployments/d1",
            None,
            DeploymentGet,
            json!({"id":"d1"}),
            obj.clone(),
            200,
            obj.clone(),
        ),
        case(
            "POST",
            "/teams/query",
            Some(json!({"name":"backend"})),
            TeamQuery,
            json!({"name":"backend"}),
            list.clone(),
            200,
            list.clone(),
        ),
        case(
            "GET",
            "/teams/eng",
            None,
            TeamGet,
            json!({"id":"eng"}),
            obj.clone(),
            200,
            obj.clone(),
        ),
        case(
            "GET",
            "/teams/eng/members",
            None,
            TeamMembers,
            json!({"teamID":"eng"}),
            list.clone(),
            200,
            list.clone(),
        ),
        case(
            "POST",
            "/orchestration/plans/query",
            Some(json!({"tags":{"k":"v"},"limit":2})),
            OrchestrationPlansQuery,
            json!({"tags":{"k":"v"},"limit":2}),
            list.clone(),
            200,
            list.clone(),
        ),
        case(
            "GET",
            "/orchestration/plans/release",
            None,
            OrchestrationPlansGet,
            json!({"planId":"release"}),
            obj.clone(),
            200,
            obj.clone(),
        ),
        case(
            "POST",
            "/orchestration/runs/query",
            Some(json!({"planIds":["p"]})),
            OrchestrationRunsQuery,
            json!({"planIds":["p"]}),
            list.clone(),
            200,
            list.clone(),
        ),
        case(
            "GET",
            "/orchestration/runs/r1",
            None,
            OrchestrationRunsGet,
            json!({"runId":"r1"}),
            obj.clone(),
            200,
            obj.clone(),
        ),
        case(
            "POST",
            "/orchestration/runs",
            Some(json!({"planId":"release"})),
            OrchestrationRunsStart,
            json!({"planId":"release"}),
            obj.clone(),
            201,
            obj.clone(),
        ),
        case(
            "POST",
            "/orchestration/runs/r1/steps/approve/complete",
            Some(json!({"actor":"ops@example.com","note":"ok"})),
            OrchestrationRunsStepsComplete,
            json!({"runId":"r1","stepId":"approve","actor":"ops@example.com","note":"ok"}),
            Value::Null,
            200,
            ok.clone(),
        ),
    ]
}

#[tokio::test]
async fn every_route_calls_its_method_with_the_exact_payload() {
    for case in cases() {
        let fake = FakeProvider::new();
        fake.reply(case.method, &case.reply.to_string());
        let app = app_with(&fake);
        let body = case.body.as_ref().map(Value::to_string);
        let reply = send(&app, case.http, case.uri, body.as_deref(), &[]).await;
        let label = format!("{} {}", case.http, case.uri);
        assert_eq!(
            reply.status.as_u16(),
            case.status,
            "{label}: {}",
            reply.text
        );
        assert_eq!(
            reply.header("content-type"),
            Some("application/json"),
            "{label}"
        );
        assert_eq!(reply.json(), case.response, "{label}");
        let calls = fake.calls();
        assert_eq!(calls.len(), 1, "{label}");
        assert_eq!(calls[0].method, case.method, "{label}");
        assert_eq!(calls[0].payload, case.payload, "{label}");
    }
}

/// The provider-backed routes as the OpenAPI document lists them (it is
/// generated from the route table): HTTP method, provider method, path.
async fn provider_routes() -> Vec<(String, Method, String)> {
    let doc = get(&app_with(&FakeProvider::new()), "/openapi.json")
        .await
        .json();
    let mut routes = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (http, op) in item.as_object().unwrap() {
            // `<provider method>.<http method>`, e.g. `incident.query.post`.
            let id = op["operationId"].as_str().unwrap_or_default();
            let method = id.rsplit_once('.').and_then(|(m, _)| Method::from_name(m));
            if let Some(method) = method {
                routes.push((http.to_uppercase(), method, path.clone()));
            }
        }
    }
    routes
}

#[tokio::test]
async fn the_cases_cover_the_whole_route_table() {
    let cases = cases();
    let routes = provider_routes().await;
    for (http, method, path) in &routes {
        assert!(
            cases.iter().any(|c| c.http == http
                && c.method == *method
                && c.uri.split('/').count() == path.split('/').count()),
            "no case for {http} {path}"
        );
    }
    assert_eq!(cases.len(), routes.len());
}

#[tokio::test]
async fn timeline_append_without_at_uses_now() {
    let fake = FakeProvider::new();
    let app = app_with(&fake);
    let before = chrono::Utc::now();
    for body in [
        r#"{"kind":"note","body":"b"}"#,
        r#"{"kind":"note","body":"b","at":"0001-01-01T00:00:00Z"}"#,
        r#"{"kind":"note","body":"b","at":null}"#,
    ] {
        let reply = post(&app, "/incidents/p1/timeline", body).await;
        assert_eq!(reply.status, 201, "{}", reply.text);
        let at = fake.last_call().payload["entry"]["at"]
            .as_str()
            .unwrap()
            .to_owned();
        let at = chrono::DateTime::parse_from_rfc3339(&at).unwrap();
        assert!(at >= before && at <= chrono::Utc::now(), "{at}");
    }
}

#[tokio::test]
async fn start_run_needs_a_plan_id() {
    let fake = FakeProvider::new();
    let app = app_with(&fake);
    for body in ["{}", r#"{"planId":""}"#, r#"{"planId":"  "}"#] {
        let reply = post(&app, "/orchestration/runs", body).await;
        reply.assert_error(400, "bad_request");
        assert_eq!(reply.json()["message"], "planId is required");
    }
    assert!(fake.calls().is_empty());
}

#[tokio::test]
async fn null_results_become_empty_lists() {
    let fake = FakeProvider::new();
    fake.reply(Method::IncidentQuery, "null");
    fake.reply(Method::MetricDescribe, "null");
    let app = app_with(&fake);
    assert_eq!(post(&app, "/incidents/query", "{}").await.json(), json!([]));
    assert_eq!(
        get(&app, "/metrics/describe").await.json(),
        json!({"metrics": []})
    );
}

#[tokio::test]
async fn bodies_are_json_whatever_the_content_type_says() {
    let fake = FakeProvider::new();
    let app = app_with(&fake);
    for headers in [
        vec![("content-type", "application/x-www-form-urlencoded")],
        vec![("content-type", "text/plain")],
        vec![],
    ] {
        let reply = send(
            &app,
            "POST",
            "/incidents/query",
            Some(r#"{"query":"x"}"#),
            &headers,
        )
        .await;
        assert_eq!(reply.status, 200, "{headers:?}: {}", reply.text);
    }
    assert_eq!(fake.calls().len(), 3);
}

#[tokio::test]
async fn a_trailing_slash_is_ignored() {
    let fake = FakeProvider::new();
    let app = app_with(&fake);
    assert_eq!(get(&app, "/health/").await.status, 200);
    assert_eq!(post(&app, "/incidents/query/", "{}").await.status, 200);
    assert_eq!(get(&app, "/incidents/i1/").await.status, 200);
    assert_eq!(fake.last_call().payload, json!({"id": "i1"}));
    assert_eq!(get(&app, "/metrics/describe/?team=t").await.status, 200);
    assert_eq!(fake.last_call().payload, json!({"team": "t"}));
}

#[tokio::test]
async fn health_and_root() {
    let app = app_with(&FakeProvider::new());
    for path in ["/", "/health"] {
        let reply = get(&app, path).await;
        assert_eq!(reply.status, 200);
        assert_eq!(reply.json(), json!({"status": "ok"}));
    }
}

#[tokio::test]
async fn openapi_document_is_served() {
    let app = app_with(&FakeProvider::new());
    let reply = get(&app, "/openapi.json").await;
    assert_eq!(reply.status, 200);
    let doc = reply.json();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    assert!(doc["paths"]["/incidents/{id}"]["patch"].is_object());
    assert!(
        doc["paths"]["/orchestration/runs/{runId}/steps/{stepId}/complete"]["post"].is_object()
    );
    assert!(doc["components"]["schemas"]["UpdateIncidentInput"].is_object());
}

#[tokio::test]
async fn calls_run_concurrently() {
    // Two calls that each wait for the other: they only finish if the host
    // holds no lock across a provider call.
    struct Rendezvous(tokio::sync::Barrier);
    impl opsorch::Provider for Rendezvous {
        fn call(&self, _: Method, _: String) -> opsorch::ProviderFuture<'_> {
            Box::pin(async move {
                self.0.wait().await;
                Ok(opsorch::Json::check("[]").unwrap())
            })
        }
    }
    let state = opsorch::AppState::new(opsorch::ProviderRegistry::new(), None, Default::default());
    state.set_provider(
        opsorch_plugin_api::methods::Capability::Incident,
        Some(std::sync::Arc::new(Rendezvous(tokio::sync::Barrier::new(
            2,
        )))),
    );
    let app = opsorch::app(state);
    let both = async {
        tokio::join!(
            post(&app, "/incidents/query", "{}"),
            post(&app, "/incidents/query", "{}")
        )
    };
    let (a, b) = tokio::time::timeout(std::time::Duration::from_secs(5), both)
        .await
        .expect("calls were serialised");
    assert_eq!((a.status.as_u16(), b.status.as_u16()), (200, 200));
}
