//! `deployment`: two weeks of seeded deployments (read-only).

use opsorch_plugin_api::schema::{Deployment, DeploymentQuery};
use opsorch_plugin_api::{DeploymentProvider, Error, Result};

use crate::data::World;
use crate::filter::{contains_ci, limit_of, one_of, scope_matches, str_field};

pub struct MockDeployments {
    /// Oldest first; queries answer newest first.
    deployments: Vec<Deployment>,
}

impl MockDeployments {
    pub fn new(world: World) -> Self {
        MockDeployments {
            deployments: world.deployments,
        }
    }
}

/// `v2.14.3` and `2.14.3` name the same version.
fn version_matches(version: &str, wanted: &[String]) -> bool {
    let bare = |v: &str| v.trim_start_matches(['v', 'V']).to_string();
    wanted.is_empty() || wanted.iter().any(|w| bare(w) == bare(version))
}

/// Free text matches the id, service, version, environment, commit or the
/// change summary: what someone types when hunting for "that payments deploy".
fn text_matches(d: &Deployment, query: &str) -> bool {
    [
        d.id.as_str(),
        &d.service,
        &d.version,
        &d.environment,
        str_field(&d.fields, "commit"),
        str_field(&d.fields, "summary"),
        str_field(&d.actor, "name"),
    ]
    .iter()
    .any(|field| contains_ci(field, query))
}

impl DeploymentProvider for MockDeployments {
    fn query(&self, q: DeploymentQuery) -> Result<Vec<Deployment>> {
        Ok(self
            .deployments
            .iter()
            .rev()
            .filter(|d| {
                text_matches(d, &q.query)
                    && one_of(&d.status, &q.statuses)
                    && version_matches(&d.version, &q.versions)
                    && scope_matches(&q.scope, &d.service, &d.environment)
            })
            .take(limit_of(q.limit))
            .cloned()
            .collect())
    }

    fn get(&self, id: &str) -> Result<Deployment> {
        self.deployments
            .iter()
            .find(|d| d.id == id)
            .cloned()
            .ok_or_else(|| Error::not_found(format!("deployment {id} not found")))
    }
}
