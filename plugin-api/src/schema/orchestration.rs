//! Orchestration: runbook-like plans and the runs that execute them.

use crate::schema::common::{JsonMap, QueryScope, StringMap};
use crate::schema::time::Timestamp;
use crate::schema::wire::NonBlank;

wire! {
    /// Filters for `orchestration.plans.query`.
    query OrchestrationPlanQuery {
        pub query: String,
        pub scope: QueryScope,
        pub tags: StringMap,
        pub limit: u32,
        pub metadata: JsonMap,
    }
}

wire! {
    /// A reusable procedure: an ordered set of steps with dependencies.
    resource OrchestrationPlan {
        pub id: String,
        pub title: String,
        #[serde(skip_serializing_if = "String::is_empty")]
        pub description: String,
        #[serde_with(skip_apply)]
        #[serde(deserialize_with = "crate::schema::wire::null_as_default")]
        pub steps: Vec<OrchestrationStep>,
        #[serde(skip_serializing_if = "String::is_empty")]
        pub url: String,
        #[serde(skip_serializing_if = "String::is_empty")]
        pub version: String,
        pub tags: StringMap,
        pub fields: JsonMap,
        pub metadata: JsonMap,
    }
}

wire! {
    /// One step of an [`OrchestrationPlan`].
    resource OrchestrationStep {
        pub id: String,
        pub title: String,
        /// `manual`, `observe`, `invoke`, `verify`, `record`, …; kept a string
        /// because providers add their own kinds. `type` on the wire.
        #[serde(rename = "type", skip_serializing_if = "String::is_empty")]
        pub kind: String,
        #[serde(skip_serializing_if = "String::is_empty")]
        pub description: String,
        /// IDs of steps that must finish before this one becomes ready.
        pub depends_on: Vec<String>,
        pub fields: JsonMap,
        pub metadata: JsonMap,
    }
}

wire! {
    /// Filters for `orchestration.runs.query`.
    query OrchestrationRunQuery {
        pub query: String,
        pub statuses: Vec<String>,
        pub plan_ids: Vec<String>,
        pub scope: QueryScope,
        pub limit: u32,
        pub metadata: JsonMap,
    }
}

wire! {
    /// One execution of a plan.
    resource OrchestrationRun {
        pub id: String,
        pub plan_id: String,
        /// The plan as it was when the run started, if the provider embeds it.
        pub plan: Option<OrchestrationPlan>,
        /// `created`, `running`, `blocked`, `completed`, `failed`, `cancelled`.
        pub status: String,
        pub scope: QueryScope,
        #[serde_with(skip_apply)]
        #[serde(deserialize_with = "crate::schema::wire::null_as_default")]
        pub steps: Vec<OrchestrationStepState>,
        pub created_at: Timestamp,
        pub updated_at: Timestamp,
        #[serde(skip_serializing_if = "String::is_empty")]
        pub url: String,
        pub fields: JsonMap,
        pub metadata: JsonMap,
    }
}

wire! {
    /// Progress of one step within an [`OrchestrationRun`].
    resource OrchestrationStepState {
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
        pub started_at: Option<Timestamp>,
        pub finished_at: Option<Timestamp>,
        pub updated_at: Option<Timestamp>,
        pub fields: JsonMap,
        pub metadata: JsonMap,
    }
}

wire! {
    /// Body of `POST /orchestration/runs`.
    ///
    /// `planId` defaults to empty so the host, not the decoder, answers
    /// "planId is required".
    #[derive(Eq)]
    request StartRunInput {
        pub plan_id: NonBlank,
    }
}

wire! {
    /// Body of `POST /orchestration/runs/{runId}/steps/{stepId}/complete`.
    #[derive(Eq)]
    request CompleteStepInput {
        pub actor: String,
        pub note: String,
    }
}
