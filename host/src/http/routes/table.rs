//! The route table: every provider-backed route (README.md, "HTTP API"), one entry each.
//!
//! An entry names the HTTP method and path, the provider [`Method`] it calls,
//! how the method's payload is built from the request, the success status,
//! the response shape and the audit action. The router
//! ([`super::provider_routes`]) and the OpenAPI document
//! ([`crate::http::openapi`]) are both generated from [`ROUTES`], so adding a route
//! is adding an entry.

use axum::body::Bytes;
use axum::http::StatusCode;
use opsorch_plugin_api::methods::Method;
use opsorch_plugin_api::protocol::{
    CompleteStepPayload, IdPayload, PlanIdPayload, RunIdPayload, TeamMembersPayload,
    TimelineAppendPayload, UpdatePayload,
};
use opsorch_schema::{
    Alert, AlertQuery, CompleteStepInput, CreateIncidentInput, CreateTicketInput, Deployment,
    DeploymentQuery, Incident, IncidentQuery, LogEntries, LogQuery, Message, MessageResult,
    MetricDescribeResponse, MetricQuery, MetricSeries, OrchestrationPlan, OrchestrationPlanQuery,
    OrchestrationRun, OrchestrationRunQuery, QueryScope, Service, ServiceQuery, StartRunInput,
    Team, TeamMember, TeamQuery, Ticket, TicketQuery, TimelineAppendInput, TimelineEntry,
    Timestamp, UpdateIncidentInput, UpdateTicketInput,
};
use serde::de::DeserializeOwned;
use serde::Serialize;
use utoipa::openapi::schema::{ArrayBuilder, Schema};
use utoipa::openapi::{Ref, RefOr};
use utoipa::ToSchema;

use crate::http::error::ApiError;
use crate::http::extract::decode_strict;

/// The HTTP methods the API uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Http {
    Get,
    Post,
    Patch,
}

/// Component schemas collected while documenting routes.
pub type SchemaSet = Vec<(String, RefOr<Schema>)>;

/// Registers a type's schema (and the schemas it uses) and returns a
/// reference to it, for the OpenAPI document.
pub type SchemaFn = fn(&mut SchemaSet) -> RefOr<Schema>;

/// What a route handler has to build a payload from.
#[derive(Debug, Default)]
pub struct RouteInput {
    /// Path parameters, percent-decoded, by name.
    pub params: Vec<(String, String)>,
    /// The raw query string.
    pub query: Option<String>,
    pub body: Bytes,
}

impl RouteInput {
    /// A path parameter. The router guarantees the table's own parameters.
    pub fn param(&self, name: &str) -> Result<String, ApiError> {
        self.params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .ok_or_else(|| ApiError::Internal(format!("route has no `{name}` parameter")))
    }

    fn body<T: DeserializeOwned>(&self) -> Result<T, ApiError> {
        decode_strict(&self.body)
    }
}

/// How the provider's result becomes the response body.
#[derive(Clone, Copy)]
pub enum Reply {
    /// The provider's JSON, passed through.
    Raw(SchemaFn),
    /// `{"status":"ok"}` (unit methods).
    StatusOk,
    /// `{"<key>": <result>}`; the schema describes the wrapper.
    Wrapped(&'static str, SchemaFn),
}

/// One provider-backed route.
pub struct Route {
    pub http: Http,
    /// An axum path (`{param}` segments).
    pub path: &'static str,
    pub method: Method,
    /// Builds the method's JSON payload from the request.
    pub payload: fn(&RouteInput) -> Result<String, ApiError>,
    /// The request body's schema; `None` when the route reads no body.
    pub body: Option<SchemaFn>,
    /// Query parameters the route reads (documentation).
    pub query: &'static [&'static str],
    pub status: StatusCode,
    pub reply: Reply,
    /// The audit action when it is not the method name.
    pub audit: Option<&'static str>,
    pub summary: &'static str,
}

impl Route {
    /// The action recorded in the audit log.
    pub fn audit_action(&self) -> &'static str {
        self.audit.unwrap_or_else(|| self.method.name())
    }

    /// The path's parameter names, in order.
    pub fn path_params(&self) -> impl Iterator<Item = &'static str> {
        self.path
            .split('/')
            .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
    }
}

fn encode<T: Serialize>(payload: &T) -> Result<String, ApiError> {
    serde_json::to_string(payload)
        .map_err(|e| ApiError::Internal(format!("cannot encode payload: {e}")))
}

/// The body, decoded strictly into `T` and re-encoded: what the provider
/// sees is exactly the schema's JSON.
fn body<T: DeserializeOwned + Serialize>(input: &RouteInput) -> Result<String, ApiError> {
    encode(&input.body::<T>()?)
}

/// `{"id"}` from the `{id}` segment.
fn id(input: &RouteInput) -> Result<String, ApiError> {
    encode(&IdPayload {
        id: input.param("id")?,
    })
}

/// `{"id","input"}`: the `{id}` segment and the body.
fn update<T: DeserializeOwned + Serialize>(input: &RouteInput) -> Result<String, ApiError> {
    encode(&UpdatePayload {
        id: input.param("id")?,
        input: input.body::<T>()?,
    })
}

/// `{"id","entry"}`; a zero or absent `at` becomes now.
fn timeline_append(input: &RouteInput) -> Result<String, ApiError> {
    let mut entry: TimelineAppendInput = input.body()?;
    if entry.at.is_zero() {
        entry.at = Timestamp::now();
    }
    encode(&TimelineAppendPayload {
        id: input.param("id")?,
        entry,
    })
}

fn team_members(input: &RouteInput) -> Result<String, ApiError> {
    encode(&TeamMembersPayload {
        team_id: input.param("id")?,
    })
}

fn plan_id(input: &RouteInput) -> Result<String, ApiError> {
    encode(&PlanIdPayload {
        plan_id: input.param("planId")?,
    })
}

fn run_id(input: &RouteInput) -> Result<String, ApiError> {
    encode(&RunIdPayload {
        run_id: input.param("runId")?,
    })
}

fn start_run(input: &RouteInput) -> Result<String, ApiError> {
    let start: StartRunInput = input.body()?;
    if start.plan_id.trim().is_empty() {
        return Err(ApiError::BadRequest("planId is required".into()));
    }
    encode(&PlanIdPayload {
        plan_id: start.plan_id,
    })
}

fn complete_step(input: &RouteInput) -> Result<String, ApiError> {
    let done: CompleteStepInput = input.body()?;
    encode(&CompleteStepPayload {
        run_id: input.param("runId")?,
        step_id: input.param("stepId")?,
        actor: done.actor,
        note: done.note,
    })
}

/// A QueryScope from `?service=&team=&environment=`; other parameters are
/// ignored, as the Go implementation does.
fn scope_from_query(input: &RouteInput) -> Result<String, ApiError> {
    let mut scope = QueryScope::default();
    let pairs: Vec<(String, String)> =
        serde_urlencoded::from_str(input.query.as_deref().unwrap_or(""))
            .map_err(|_| ApiError::BadRequest("malformed query string".into()))?;
    for (key, value) in pairs {
        match key.as_str() {
            "service" => scope.service = value,
            "team" => scope.team = value,
            "environment" => scope.environment = value,
            _ => {}
        }
    }
    encode(&scope)
}

/// Registers `T` and returns a reference to it.
pub fn schema<T: ToSchema>(set: &mut SchemaSet) -> RefOr<Schema> {
    T::schemas(set);
    set.push((T::name().into_owned(), T::schema()));
    RefOr::Ref(Ref::from_schema_name(T::name()))
}

/// An array of `T`.
pub fn list<T: ToSchema>(set: &mut SchemaSet) -> RefOr<Schema> {
    let item = schema::<T>(set);
    RefOr::T(Schema::Array(ArrayBuilder::new().items(item).build()))
}

const QUERY_SCOPE_PARAMS: &[&str] = &["service", "team", "environment"];

/// Shorthands that keep the table one line of meaning per field.
macro_rules! route {
    ($http:ident $path:literal => $method:ident, $payload:expr, body: $body:expr, $status:ident, $reply:expr, audit: $audit:expr, $summary:literal) => {
        Route {
            http: Http::$http,
            path: $path,
            method: Method::$method,
            payload: $payload,
            body: $body,
            query: &[],
            status: StatusCode::$status,
            reply: $reply,
            audit: $audit,
            summary: $summary,
        }
    };
}

/// Every provider-backed route.
pub static ROUTES: &[Route] = &[
    route!(Post "/incidents/query" => IncidentQuery, body::<IncidentQuery>, body: Some(schema::<IncidentQuery>), OK, Reply::Raw(list::<Incident>), audit: None, "Query incidents"),
    route!(Post "/incidents" => IncidentCreate, body::<CreateIncidentInput>, body: Some(schema::<CreateIncidentInput>), CREATED, Reply::Raw(schema::<Incident>), audit: Some("incident.created"), "Create an incident"),
    route!(Get "/incidents/{id}" => IncidentGet, id, body: None, OK, Reply::Raw(schema::<Incident>), audit: None, "Get an incident"),
    route!(Patch "/incidents/{id}" => IncidentUpdate, update::<UpdateIncidentInput>, body: Some(schema::<UpdateIncidentInput>), OK, Reply::Raw(schema::<Incident>), audit: Some("incident.updated"), "Update an incident"),
    route!(Get "/incidents/{id}/timeline" => IncidentTimelineGet, id, body: None, OK, Reply::Raw(list::<TimelineEntry>), audit: None, "Get an incident's timeline"),
    route!(Post "/incidents/{id}/timeline" => IncidentTimelineAppend, timeline_append, body: Some(schema::<TimelineAppendInput>), CREATED, Reply::StatusOk, audit: Some("incident.timeline.appended"), "Append to an incident's timeline"),
    route!(Post "/alerts/query" => AlertQuery, body::<AlertQuery>, body: Some(schema::<AlertQuery>), OK, Reply::Raw(list::<Alert>), audit: None, "Query alerts"),
    route!(Get "/alerts/{id}" => AlertGet, id, body: None, OK, Reply::Raw(schema::<Alert>), audit: None, "Get an alert"),
    route!(Post "/logs/query" => LogQuery, body::<LogQuery>, body: Some(schema::<LogQuery>), OK, Reply::Raw(schema::<LogEntries>), audit: None, "Query logs"),
    route!(Post "/metrics/query" => MetricQuery, body::<MetricQuery>, body: Some(schema::<MetricQuery>), OK, Reply::Raw(list::<MetricSeries>), audit: None, "Query metrics"),
    Route {
        query: QUERY_SCOPE_PARAMS,
        ..route!(Get "/metrics/describe" => MetricDescribe, scope_from_query, body: None, OK, Reply::Wrapped("metrics", schema::<MetricDescribeResponse>), audit: None, "Describe the available metrics")
    },
    route!(Post "/metrics/describe" => MetricDescribe, body::<QueryScope>, body: Some(schema::<QueryScope>), OK, Reply::Wrapped("metrics", schema::<MetricDescribeResponse>), audit: None, "Describe the available metrics"),
    route!(Post "/tickets/query" => TicketQuery, body::<TicketQuery>, body: Some(schema::<TicketQuery>), OK, Reply::Raw(list::<Ticket>), audit: None, "Query tickets"),
    route!(Post "/tickets" => TicketCreate, body::<CreateTicketInput>, body: Some(schema::<CreateTicketInput>), CREATED, Reply::Raw(schema::<Ticket>), audit: Some("ticket.created"), "Create a ticket"),
    route!(Get "/tickets/{id}" => TicketGet, id, body: None, OK, Reply::Raw(schema::<Ticket>), audit: None, "Get a ticket"),
    route!(Patch "/tickets/{id}" => TicketUpdate, update::<UpdateTicketInput>, body: Some(schema::<UpdateTicketInput>), OK, Reply::Raw(schema::<Ticket>), audit: Some("ticket.updated"), "Update a ticket"),
    route!(Post "/messages/send" => MessagingSend, body::<Message>, body: Some(schema::<Message>), OK, Reply::Raw(schema::<MessageResult>), audit: Some("message.sent"), "Send a message"),
    route!(Post "/services/query" => ServiceQuery, body::<ServiceQuery>, body: Some(schema::<ServiceQuery>), OK, Reply::Raw(list::<Service>), audit: None, "Query services"),
    route!(Post "/deployments/query" => DeploymentQuery, body::<DeploymentQuery>, body: Some(schema::<DeploymentQuery>), OK, Reply::Raw(list::<Deployment>), audit: None, "Query deployments"),
    route!(Get "/deployments/{id}" => DeploymentGet, id, body: None, OK, Reply::Raw(schema::<Deployment>), audit: None, "Get a deployment"),
    route!(Post "/teams/query" => TeamQuery, body::<TeamQuery>, body: Some(schema::<TeamQuery>), OK, Reply::Raw(list::<Team>), audit: None, "Query teams"),
    route!(Get "/teams/{id}" => TeamGet, id, body: None, OK, Reply::Raw(schema::<Team>), audit: None, "Get a team"),
    route!(Get "/teams/{id}/members" => TeamMembers, team_members, body: None, OK, Reply::Raw(list::<TeamMember>), audit: None, "List a team's members"),
    route!(Post "/orchestration/plans/query" => OrchestrationPlansQuery, body::<OrchestrationPlanQuery>, body: Some(schema::<OrchestrationPlanQuery>), OK, Reply::Raw(list::<OrchestrationPlan>), audit: None, "Query orchestration plans"),
    route!(Get "/orchestration/plans/{planId}" => OrchestrationPlansGet, plan_id, body: None, OK, Reply::Raw(schema::<OrchestrationPlan>), audit: None, "Get an orchestration plan"),
    route!(Post "/orchestration/runs/query" => OrchestrationRunsQuery, body::<OrchestrationRunQuery>, body: Some(schema::<OrchestrationRunQuery>), OK, Reply::Raw(list::<OrchestrationRun>), audit: None, "Query orchestration runs"),
    route!(Get "/orchestration/runs/{runId}" => OrchestrationRunsGet, run_id, body: None, OK, Reply::Raw(schema::<OrchestrationRun>), audit: None, "Get an orchestration run"),
    route!(Post "/orchestration/runs" => OrchestrationRunsStart, start_run, body: Some(schema::<StartRunInput>), CREATED, Reply::Raw(schema::<OrchestrationRun>), audit: None, "Start a run from a plan"),
    route!(Post "/orchestration/runs/{runId}/steps/{stepId}/complete" => OrchestrationRunsStepsComplete, complete_step, body: Some(schema::<CompleteStepInput>), OK, Reply::StatusOk, audit: None, "Complete a manual step"),
];

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn table_is_consistent() {
        let mut seen = HashSet::new();
        for route in ROUTES {
            assert!(
                seen.insert((route.http, route.path)),
                "duplicate {}",
                route.path
            );
            assert!(route.path.starts_with('/'));
            // Routes that read a body document it, and only those.
            assert_eq!(
                route.body.is_some(),
                route.http != Http::Get,
                "{}",
                route.path
            );
            // Unit methods answer {"status":"ok"}.
            assert_eq!(
                matches!(route.reply, Reply::StatusOk),
                route.method.result_kind() == opsorch_plugin_api::methods::ResultKind::Unit,
                "{}",
                route.path
            );
        }
        // Every routed method except incident.list has a route.
        for m in opsorch_plugin_api::methods::Method::ALL {
            let routed = ROUTES.iter().any(|r| r.method == *m);
            let expected = !matches!(
                m.capability(),
                opsorch_plugin_api::methods::Capability::Secret
            ) && *m != Method::IncidentList;
            assert_eq!(routed, expected, "{m}");
        }
    }

    #[test]
    fn query_scope_from_query_string() {
        let input = RouteInput {
            query: Some("service=api&team=core%20ops&cache=1".into()),
            ..Default::default()
        };
        assert_eq!(
            scope_from_query(&input).unwrap(),
            r#"{"service":"api","team":"core ops"}"#
        );
        assert_eq!(scope_from_query(&RouteInput::default()).unwrap(), "{}");
    }
}
