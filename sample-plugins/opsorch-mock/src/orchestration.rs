//! `orchestration`: five fixed plans and a set of seeded runs; starting runs
//! and completing steps is kept in memory with dependency enforcement.

use std::sync::RwLock;

use opsorch_plugin_api::schema::{
    OrchestrationPlan, OrchestrationPlanQuery, OrchestrationRun, OrchestrationRunQuery,
    OrchestrationStepState, QueryScope, Timestamp,
};
use opsorch_plugin_api::{Error, OrchestrationProvider, Result};

use crate::catalog::{self, BASE_URL};
use crate::data::{promote_ready_steps, step_done, World, FIRST_RUN};
use crate::filter::{
    contains_ci, limit_of, mock_metadata, one_of, read, scope_matches, tags_match, write,
};
use crate::plans::plan_services;

pub struct MockOrchestration {
    plans: Vec<OrchestrationPlan>,
    state: RwLock<Runs>,
}

struct Runs {
    /// Oldest first; queries answer newest first.
    runs: Vec<OrchestrationRun>,
    next_number: u32,
}

impl MockOrchestration {
    pub fn new(world: World) -> Self {
        let next_number = FIRST_RUN + world.runs.len() as u32;
        MockOrchestration {
            plans: world.plans,
            state: RwLock::new(Runs {
                runs: world.runs,
                next_number,
            }),
        }
    }

    fn plan(&self, plan_id: &str) -> Result<&OrchestrationPlan> {
        self.plans
            .iter()
            .find(|p| p.id == plan_id)
            .ok_or_else(|| Error::not_found(format!("plan {plan_id} not found")))
    }
}

/// Plans are environment-agnostic, so `scope.environment` is ignored. A
/// service scope selects plans for that service plus generic plans (those
/// listing no services); a team scope selects plans owned by the team or its
/// sub-teams.
fn plan_matches(plan: &OrchestrationPlan, q: &OrchestrationPlanQuery) -> bool {
    let scope = &q.scope;
    (contains_ci(&plan.id, &q.query)
        || contains_ci(&plan.title, &q.query)
        || contains_ci(&plan.description, &q.query))
        && tags_match(&plan.tags, &q.tags)
        && (scope.service.is_empty() || {
            let mut services = plan_services(plan).peekable();
            services.peek().is_none() || services.any(|s| s.eq_ignore_ascii_case(&scope.service))
        })
        && (scope.team.is_empty()
            || plan
                .tags
                .get("team")
                .is_some_and(|t| catalog::team_within(t, &scope.team)))
}

/// A run's own scope decides: a run with an explicit team matches that team
/// (and its parents), otherwise the team owning the run's service decides.
fn run_scope_matches(run: &OrchestrationRun, scope: &QueryScope) -> bool {
    let team_ok = scope.team.is_empty()
        || (!run.scope.team.is_empty() && catalog::team_within(&run.scope.team, &scope.team))
        || catalog::service_within_team(&run.scope.service, &scope.team);
    let without_team = QueryScope {
        team: String::new(),
        ..scope.clone()
    };
    team_ok && scope_matches(&without_team, &run.scope.service, &run.scope.environment)
}

fn run_matches(run: &OrchestrationRun, q: &OrchestrationRunQuery) -> bool {
    let title = run.plan.as_ref().map_or("", |p| p.title.as_str());
    (contains_ci(&run.id, &q.query)
        || contains_ci(&run.plan_id, &q.query)
        || contains_ci(title, &q.query))
        && one_of(&run.status, &q.statuses)
        && (q.plan_ids.is_empty() || q.plan_ids.iter().any(|p| p == &run.plan_id))
        && run_scope_matches(run, &q.scope)
}

/// Runs that can no longer change.
fn finished(status: &str) -> bool {
    matches!(status, "completed" | "failed" | "cancelled")
}

impl OrchestrationProvider for MockOrchestration {
    fn query_plans(&self, q: OrchestrationPlanQuery) -> Result<Vec<OrchestrationPlan>> {
        Ok(self
            .plans
            .iter()
            .filter(|p| plan_matches(p, &q))
            .take(limit_of(q.limit))
            .cloned()
            .collect())
    }

    fn get_plan(&self, plan_id: &str) -> Result<OrchestrationPlan> {
        self.plan(plan_id).cloned()
    }

    fn query_runs(&self, q: OrchestrationRunQuery) -> Result<Vec<OrchestrationRun>> {
        Ok(read(&self.state)
            .runs
            .iter()
            .rev()
            .filter(|r| run_matches(r, &q))
            .take(limit_of(q.limit))
            .cloned()
            .collect())
    }

    fn get_run(&self, run_id: &str) -> Result<OrchestrationRun> {
        read(&self.state)
            .runs
            .iter()
            .find(|r| r.id == run_id)
            .cloned()
            .ok_or_else(|| Error::not_found(format!("run {run_id} not found")))
    }

    fn start_run(&self, plan_id: &str) -> Result<OrchestrationRun> {
        if plan_id.trim().is_empty() {
            return Err(Error::bad_request("planId is required"));
        }
        let plan = self.plan(plan_id)?;
        let now = Timestamp::now();
        let mut state = write(&self.state);
        let id = format!("RUN-{}", state.next_number);
        state.next_number += 1;
        let mut run = OrchestrationRun {
            url: format!("{BASE_URL}/orchestration/runs/{id}"),
            id,
            plan_id: plan.id.clone(),
            plan: Some(plan.clone()),
            status: "running".into(),
            scope: QueryScope::default(),
            steps: plan
                .steps
                .iter()
                .map(|s| OrchestrationStepState {
                    step_id: s.id.clone(),
                    status: "pending".into(),
                    metadata: mock_metadata(),
                    ..Default::default()
                })
                .collect(),
            created_at: now,
            updated_at: now,
            fields: Default::default(),
            metadata: mock_metadata(),
        };
        // Steps without dependencies start out ready; the rest stay pending.
        promote_ready_steps(&mut run, now);
        state.runs.push(run.clone());
        Ok(run)
    }

    fn complete_step(&self, run_id: &str, step_id: &str, actor: &str, note: &str) -> Result<()> {
        if run_id.trim().is_empty() {
            return Err(Error::bad_request("runId is required"));
        }
        if step_id.trim().is_empty() {
            return Err(Error::bad_request("stepId is required"));
        }
        let now = Timestamp::now();
        let mut state = write(&self.state);
        let run = state
            .runs
            .iter_mut()
            .find(|r| r.id == run_id)
            .ok_or_else(|| Error::not_found(format!("run {run_id} not found")))?;
        let index = run
            .steps
            .iter()
            .position(|s| s.step_id == step_id)
            .ok_or_else(|| Error::not_found(format!("step {step_id} not found in run {run_id}")))?;
        if finished(&run.status) {
            return Err(Error::bad_request(format!(
                "run {run_id} is {}",
                run.status
            )));
        }
        let current = &run.steps[index].status;
        if step_done(current) || matches!(current.as_str(), "failed" | "cancelled") {
            return Err(Error::bad_request(format!(
                "step {step_id} is already {current}"
            )));
        }
        let depends_on = run
            .plan
            .as_ref()
            .and_then(|p| p.steps.iter().find(|s| s.id == step_id))
            .map(|s| s.depends_on.clone())
            .unwrap_or_default();
        let unmet: Vec<&str> = depends_on
            .iter()
            .filter(|dep| {
                !run.steps
                    .iter()
                    .any(|s| &s.step_id == *dep && step_done(&s.status))
            })
            .map(String::as_str)
            .collect();
        if !unmet.is_empty() {
            return Err(Error::bad_request(format!(
                "step {step_id} depends on unfinished steps: {}",
                unmet.join(", ")
            )));
        }

        let step = &mut run.steps[index];
        step.status = "succeeded".into();
        step.actor = actor.to_string();
        step.note = note.to_string();
        step.started_at.get_or_insert(now);
        step.finished_at = Some(now);
        step.updated_at = Some(now);
        promote_ready_steps(run, now);
        run.updated_at = now;
        if run.steps.iter().all(|s| step_done(&s.status)) {
            run.status = "completed".into();
        } else if matches!(run.status.as_str(), "blocked" | "created")
            && !run.steps.iter().any(|s| s.status == "blocked")
        {
            // Completing the blocked step is how an operator unblocks a run,
            // and completing any step means a created run has started.
            run.status = "running".into();
        }
        Ok(())
    }
}
