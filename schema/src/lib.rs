//! The OpsOrch data model: every request body, query and resource that crosses
//! the HTTP API, the stdio plugin protocol and the adapter ABI.
//!
//! This crate is plain serde data with no I/O, so that the host, the plugin
//! SDK and adapters can all share it. Its JSON matches the Go OpsOrch Core
//! byte for byte where clients can see it: camelCase names, empty optional
//! fields left out, and times in Go's RFC 3339 form (see [`Timestamp`]).
//!
//! Two decoding policies follow from who sends what:
//! - *Requests* (queries and inputs) reject unknown fields, so a typo in a
//!   client's body is a 400 rather than a silently ignored filter.
//! - *Resources* returned by adapters accept unknown and missing fields,
//!   because adapters are written in many languages and versions.
//!
//! With the `openapi` feature every type also implements `utoipa::ToSchema`.

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
