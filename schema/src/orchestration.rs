//! Orchestration: runbook-like plans and the runs that execute them.

use serde::{Deserialize, Serialize};

use crate::common::{is_zero, null_as_default, JsonMap, QueryScope, StringMap};
use crate::time::Timestamp;

/// Filters for `orchestration.plans.query`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(default, deny_unknown_fields)]
pub struct OrchestrationPlanQuery {
    #[serde(skip_serializing_if = "String::is_empty")]
    pub query: String,
    #[serde(
        skip_serializing_if = "QueryScope::is_empty",
        deserialize_with = "null_as_default"
    )]
    pub scope: QueryScope,
    #[serde(
        skip_serializing_if = "StringMap::is_empty",
        deserialize_with = "null_as_default"
    )]
    #[cfg_attr(feature = "openapi", schema(value_type = BTreeMap<String, String>))]
    pub tags: StringMap,
    #[serde(skip_serializing_if = "is_zero")]
    pub limit: u32,
    #[serde(
        skip_serializing_if = "JsonMap::is_empty",
        deserialize_with = "null_as_default"
    )]
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub metadata: JsonMap,
}

/// A reusable procedure: an ordered set of steps with dependencies.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(default)]
pub struct OrchestrationPlan {
    pub id: String,
    pub title: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub description: String,
    #[serde(deserialize_with = "null_as_default")]
    pub steps: Vec<OrchestrationStep>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub url: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub version: String,
    #[serde(
        skip_serializing_if = "StringMap::is_empty",
        deserialize_with = "null_as_default"
    )]
    #[cfg_attr(feature = "openapi", schema(value_type = BTreeMap<String, String>))]
    pub tags: StringMap,
    #[serde(
        skip_serializing_if = "JsonMap::is_empty",
        deserialize_with = "null_as_default"
    )]
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub fields: JsonMap,
    #[serde(
        skip_serializing_if = "JsonMap::is_empty",
        deserialize_with = "null_as_default"
    )]
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub metadata: JsonMap,
}

/// One step of an [`OrchestrationPlan`].
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(default, rename_all = "camelCase")]
pub struct OrchestrationStep {
    pub id: String,
    pub title: String,
    /// `manual`, `observe`, `invoke`, `verify`, `record`, …; kept a string
    /// because providers add their own kinds. `type` on the wire.
    #[serde(rename = "type", skip_serializing_if = "String::is_empty")]
    pub kind: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// IDs of steps that must finish before this one becomes ready.
    #[serde(
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "null_as_default"
    )]
    pub depends_on: Vec<String>,
    #[serde(
        skip_serializing_if = "JsonMap::is_empty",
        deserialize_with = "null_as_default"
    )]
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub fields: JsonMap,
    #[serde(
        skip_serializing_if = "JsonMap::is_empty",
        deserialize_with = "null_as_default"
    )]
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub metadata: JsonMap,
}

/// Filters for `orchestration.runs.query`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct OrchestrationRunQuery {
    #[serde(skip_serializing_if = "String::is_empty")]
    pub query: String,
    #[serde(
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "null_as_default"
    )]
    pub statuses: Vec<String>,
    #[serde(
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "null_as_default"
    )]
    pub plan_ids: Vec<String>,
    #[serde(
        skip_serializing_if = "QueryScope::is_empty",
        deserialize_with = "null_as_default"
    )]
    pub scope: QueryScope,
    #[serde(skip_serializing_if = "is_zero")]
    pub limit: u32,
    #[serde(
        skip_serializing_if = "JsonMap::is_empty",
        deserialize_with = "null_as_default"
    )]
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub metadata: JsonMap,
}

/// One execution of a plan.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(default, rename_all = "camelCase")]
pub struct OrchestrationRun {
    pub id: String,
    pub plan_id: String,
    /// The plan as it was when the run started, if the provider embeds it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plan: Option<OrchestrationPlan>,
    /// `created`, `running`, `blocked`, `completed`, `failed`, `cancelled`.
    pub status: String,
    #[serde(
        skip_serializing_if = "QueryScope::is_empty",
        deserialize_with = "null_as_default"
    )]
    pub scope: QueryScope,
    #[serde(deserialize_with = "null_as_default")]
    pub steps: Vec<OrchestrationStepState>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub url: String,
    #[serde(
        skip_serializing_if = "JsonMap::is_empty",
        deserialize_with = "null_as_default"
    )]
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub fields: JsonMap,
    #[serde(
        skip_serializing_if = "JsonMap::is_empty",
        deserialize_with = "null_as_default"
    )]
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub metadata: JsonMap,
}

/// Progress of one step within an [`OrchestrationRun`].
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(default, rename_all = "camelCase")]
pub struct OrchestrationStepState {
    pub step_id: String,
    /// `pending`, `ready`, `running`, `blocked`, `succeeded`, `failed`,
    /// `skipped`, `cancelled`.
    pub status: String,
    /// Who completed the step, as given to `CompleteStepInput`.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub actor: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub note: String,
    /// Optional because a step that has not started has no times at all.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub started_at: Option<Timestamp>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<Timestamp>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<Timestamp>,
    #[serde(
        skip_serializing_if = "JsonMap::is_empty",
        deserialize_with = "null_as_default"
    )]
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub fields: JsonMap,
    #[serde(
        skip_serializing_if = "JsonMap::is_empty",
        deserialize_with = "null_as_default"
    )]
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub metadata: JsonMap,
}

/// Body of `POST /orchestration/runs`.
///
/// `planId` defaults to empty so the host, not the decoder, answers
/// "planId is required".
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct StartRunInput {
    pub plan_id: String,
}

/// Body of `POST /orchestration/runs/{runId}/steps/{stepId}/complete`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(default, deny_unknown_fields)]
pub struct CompleteStepInput {
    pub actor: String,
    pub note: String,
}
