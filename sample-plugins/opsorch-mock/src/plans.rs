//! The fixed orchestration plans (runbooks). Like the service catalogue they
//! do not depend on the seed, so plan and step ids are stable for demos.

use opsorch_plugin_api::schema::{OrchestrationPlan, OrchestrationStep, StringMap};
use serde_json::json;

use crate::catalog::BASE_URL;
use crate::filter::{mock_metadata, obj};

struct PlanDef {
    id: &'static str,
    title: &'static str,
    description: &'static str,
    version: &'static str,
    category: &'static str,
    /// Owning team.
    team: &'static str,
    /// Services the plan applies to; empty = any service.
    services: &'static [&'static str],
    estimated_minutes: u32,
    steps: &'static [StepDef],
}

/// Steps are listed in an order where every dependency comes first, which
/// the seeded runs rely on to mark a prefix of them as done.
struct StepDef {
    id: &'static str,
    title: &'static str,
    kind: &'static str,
    description: &'static str,
    depends_on: &'static [&'static str],
}

const fn step(
    id: &'static str,
    title: &'static str,
    kind: &'static str,
    description: &'static str,
    depends_on: &'static [&'static str],
) -> StepDef {
    StepDef {
        id,
        title,
        kind,
        description,
        depends_on,
    }
}

const PLANS: &[PlanDef] = &[
    PlanDef {
        id: "release-checklist",
        title: "Production release checklist",
        description: "Ship a service release through staging to production with verification and an announcement.",
        version: "7",
        category: "release",
        team: "platform",
        services: &[],
        estimated_minutes: 60,
        steps: &[
            step("freeze-check", "Confirm no change freeze is active", "verify", "Check the change calendar for freezes and peak-traffic events.", &[]),
            step("review-changelog", "Review the changelog and risk", "manual", "Read the diff since the last release; flag migrations and flag flips.", &[]),
            step("deploy-staging", "Deploy to staging", "invoke", "Run the deploy pipeline against staging.", &["freeze-check", "review-changelog"]),
            step("smoke-test-staging", "Smoke-test staging", "verify", "Run the synthetic journeys against staging.", &["deploy-staging"]),
            step("deploy-production", "Deploy to production", "invoke", "Progressive rollout: 10%, 50%, 100%.", &["smoke-test-staging"]),
            step("watch-dashboards", "Watch dashboards for 15 minutes", "observe", "Error rate, p99 latency and saturation stay within SLO.", &["deploy-production"]),
            step("announce-release", "Announce the release", "record", "Post the release notes in #releases.", &["watch-dashboards"]),
        ],
    },
    PlanDef {
        id: "db-failover",
        title: "PostgreSQL primary failover",
        description: "Promote a replica when a primary database is unhealthy, with write freeze and verification.",
        version: "4",
        category: "database",
        team: "sre",
        services: &["payments", "orders", "inventory", "catalog", "auth", "checkout"],
        estimated_minutes: 30,
        steps: &[
            step("assess-replication", "Assess replica lag", "observe", "Pick the replica with the least lag; it must be under 5 seconds.", &[]),
            step("page-dba", "Page the on-call DBA", "manual", "Bring the DBA onto the bridge before any promotion.", &[]),
            step("freeze-writes", "Freeze writes", "invoke", "Put the service in read-only mode.", &["assess-replication", "page-dba"]),
            step("promote-replica", "Promote the replica", "invoke", "Promote the chosen replica to primary.", &["freeze-writes"]),
            step("repoint-connections", "Repoint connection pools", "invoke", "Update the PgBouncer target and recycle pools.", &["promote-replica"]),
            step("verify-writes", "Verify writes succeed", "verify", "Run the write canary and check replication to the new replicas.", &["repoint-connections"]),
            step("record-failover", "Record the failover", "record", "Log times, lag and data-loss window in the incident.", &["verify-writes"]),
        ],
    },
    PlanDef {
        id: "incident-response-sev1",
        title: "SEV1 incident response",
        description: "Coordinate a customer-facing SEV1: roles, communication, mitigation and follow-up.",
        version: "12",
        category: "incident",
        team: "sre",
        services: &[],
        estimated_minutes: 120,
        steps: &[
            step("declare-incident", "Declare the incident", "record", "Open the incident and set severity SEV1.", &[]),
            step("assign-roles", "Assign incident roles", "manual", "Incident commander, communications lead and scribe.", &["declare-incident"]),
            step("open-bridge", "Open the incident bridge", "invoke", "Create the Slack channel and the video bridge.", &["declare-incident"]),
            step("status-page", "Update the status page", "manual", "Post an initial customer-facing status update.", &["assign-roles"]),
            step("mitigate", "Mitigate customer impact", "manual", "Roll back, fail over or shed load until impact stops.", &["assign-roles", "open-bridge"]),
            step("verify-recovery", "Verify recovery", "verify", "SLO burn rate back to normal for 30 minutes.", &["mitigate"]),
            step("schedule-postmortem", "Schedule the postmortem", "record", "Book the review within 5 business days and open follow-up tickets.", &["verify-recovery"]),
        ],
    },
    PlanDef {
        id: "cert-rotation",
        title: "TLS certificate rotation",
        description: "Rotate edge and service TLS certificates before expiry, staging first.",
        version: "3",
        category: "security",
        team: "platform",
        services: &["api-gateway", "auth", "web-frontend"],
        estimated_minutes: 45,
        steps: &[
            step("inventory-certs", "Inventory expiring certificates", "observe", "List certificates expiring in the next 30 days.", &[]),
            step("issue-certs", "Issue new certificates", "invoke", "Request certificates from the internal ACME issuer.", &["inventory-certs"]),
            step("deploy-certs-staging", "Deploy certificates to staging", "invoke", "Roll the secrets and reload the proxies in staging.", &["issue-certs"]),
            step("verify-tls", "Verify TLS handshakes", "verify", "Check chains, SANs and OCSP stapling from three regions.", &["deploy-certs-staging"]),
            step("deploy-certs-production", "Deploy certificates to production", "invoke", "Roll the secrets and reload the proxies in production.", &["verify-tls"]),
            step("record-expiry", "Record new expiry dates", "record", "Update the certificate inventory and reminders.", &["deploy-certs-production"]),
        ],
    },
    PlanDef {
        id: "rollback-service",
        title: "Roll back a service",
        description: "Return a service to its last known good version after a bad release.",
        version: "5",
        category: "release",
        team: "platform",
        services: &[],
        estimated_minutes: 20,
        steps: &[
            step("identify-bad-version", "Identify the bad version", "observe", "Correlate the regression with the deployment history.", &[]),
            step("approve-rollback", "Approve the rollback", "manual", "The service owner or incident commander approves.", &["identify-bad-version"]),
            step("rollback", "Roll back", "invoke", "Redeploy the last known good version.", &["approve-rollback"]),
            step("verify-health", "Verify service health", "verify", "Error rate and latency back to baseline.", &["rollback"]),
            step("notify-stakeholders", "Notify stakeholders", "record", "Post in the service channel and link the deployment.", &["verify-health"]),
        ],
    },
];

/// All plans, in a stable order.
pub fn plans() -> Vec<OrchestrationPlan> {
    PLANS.iter().map(build).collect()
}

fn build(def: &PlanDef) -> OrchestrationPlan {
    let mut tags = StringMap::new();
    tags.insert("category".into(), def.category.into());
    tags.insert("team".into(), def.team.into());
    OrchestrationPlan {
        id: def.id.into(),
        title: def.title.into(),
        description: def.description.into(),
        steps: def
            .steps
            .iter()
            .map(|s| OrchestrationStep {
                id: s.id.into(),
                title: s.title.into(),
                kind: s.kind.into(),
                description: s.description.into(),
                depends_on: s.depends_on.iter().map(|d| d.to_string()).collect(),
                ..Default::default()
            })
            .collect(),
        url: format!("{BASE_URL}/orchestration/plans/{}", def.id),
        version: def.version.into(),
        tags,
        fields: obj(json!({
            "services": def.services,
            "estimatedMinutes": def.estimated_minutes,
        })),
        metadata: mock_metadata(),
    }
}

/// The services a plan applies to; empty means any service.
pub fn plan_services(plan: &OrchestrationPlan) -> impl Iterator<Item = &str> {
    plan.fields
        .get("services")
        .and_then(|v| v.as_array())
        .into_iter()
        .flatten()
        .filter_map(|v| v.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dependencies_exist_and_come_first() {
        for plan in plans() {
            for (i, step) in plan.steps.iter().enumerate() {
                for dep in &step.depends_on {
                    let pos = plan.steps.iter().position(|s| &s.id == dep);
                    assert!(
                        pos.is_some_and(|p| p < i),
                        "{}: {} depends on {dep}",
                        plan.id,
                        step.id
                    );
                }
            }
        }
    }
}
