//! The OpsOrch data model: every request body, query and resource that crosses
//! the HTTP API, the stdio plugin protocol and the adapter ABI.
//!
//! This module is plain serde data with no I/O, so that the host, the plugin
//! SDK and adapters can all share it. It lives in the SDK so that the SDK
//! crate packages and builds on its own; the `opsorch-schema` crate
//! re-exports it for the host. Its JSON matches the Go OpsOrch Core
//! byte for byte where clients can see it: camelCase names, empty optional
//! fields left out, and times in Go's RFC 3339 form (see [`Timestamp`]).
//!
//! Two decoding policies follow from who sends what:
//! - *Requests* (queries and inputs) reject unknown fields, so a typo in a
//!   client's body is a 400 rather than a silently ignored filter.
//! - *Resources* returned by adapters accept unknown and missing fields,
//!   because adapters are written in many languages and versions.
//!
//! Both policies, and the per-type rules (left out when empty, `null` read as
//! empty, integer ranges, not-blank strings), are stated once in `wire.rs`
//! and applied to every struct with `serde_with::apply`.
//!
//! With the `openapi` feature (of this crate, or of `opsorch-schema`, which
//! turns it on here) every type also implements `utoipa::ToSchema`.
//!
//! # What `duplicates` still lists for these files
//!
//! No wire rule is repeated any more (47 pairs before `wire!`, most of them
//! the same multi-line serde attributes on field after field). The 17 pairs
//! left are field lists the contract gives several types, one line each:
//!
//! - `Alert` ~ `Incident` (and `AlertQuery` ~ `IncidentQuery`): the contract
//!   defines them with the same fields ("Incident / Alert").
//! - `CreateIncidentInput` ~ `CreateTicketInput` and `UpdateIncidentInput` ~
//!   `UpdateTicketInput`: the create/update inputs of two trackers.
//! - round-trip test: two cases built the same way with different data.
//! - `AlertQuery` ~ `TicketQuery`: the contract's query fields.
//! - `LogExpression` ~ `MetricExpression` (shape): two query languages, same
//!   structure, different fields.
//! - `Incident` ~ `CreateIncidentInput`: the input carries the resource's
//!   writable fields.
//! - `LogExpression`/`LogFilter` ~ `OrchestrationRunQuery` (shape): a list of
//!   strings next to a list of structs.
//! - `AlertQuery` ~ `DeploymentQuery`, `AlertQuery` ~ `OrchestrationRunQuery`,
//!   `DeploymentQuery` ~ `IncidentQuery`, `DeploymentQuery` ~
//!   `OrchestrationRunQuery`, `IncidentQuery` ~ `OrchestrationRunQuery`,
//!   `DeploymentQuery` ~ `TicketQuery`, `OrchestrationRunQuery` ~
//!   `TicketQuery` (7 pairs, shape, boilerplate): every query is `query`, two
//!   filter lists, then the contract's `scope`, `limit`, `metadata`.
//! - `UpdateIncidentInput` ~ `LogExpression`, `UpdateIncidentInput` ~
//!   `MetricExpression` (2 pairs, shape, boilerplate): runs of plain fields.
//! - `schema/tests/wire/openapi.rs` (shape, boilerplate): two assertions on a
//!   published type.

#[macro_use]
mod wire;

mod alert;
mod common;
mod deployment;
mod incident;
mod log;
mod messaging;
mod metric;
mod orchestration;
mod service;
mod team;
mod ticket;
mod time;

pub use alert::{Alert, AlertQuery};
pub use common::{JsonMap, QueryScope, StringMap};
pub use deployment::{Deployment, DeploymentQuery};
pub use incident::{
    CreateIncidentInput, Incident, IncidentQuery, TimelineAppendInput, TimelineEntry,
    UpdateIncidentInput,
};
pub use log::{LogEntries, LogEntry, LogExpression, LogFilter, LogQuery};
pub use messaging::{Message, MessageBlock, MessageBlockType, MessageResult};
pub use metric::{
    MetricDescribeResponse, MetricDescriptor, MetricExpression, MetricFilter, MetricPoint,
    MetricQuery, MetricSeries,
};
pub use orchestration::{
    CompleteStepInput, OrchestrationPlan, OrchestrationPlanQuery, OrchestrationRun,
    OrchestrationRunQuery, OrchestrationStep, OrchestrationStepState, StartRunInput,
};
pub use service::{Service, ServiceQuery};
pub use team::{Team, TeamMember, TeamQuery};
pub use ticket::{CreateTicketInput, Ticket, TicketQuery, UpdateTicketInput};
pub use time::Timestamp;
pub use wire::{NonBlank, NOT_BLANK_PATTERN};
