//! `alert`: the seeded alerts (read-only, as the contract defines them).

use opsorch_plugin_api::schema::{Alert, AlertQuery};
use opsorch_plugin_api::{AlertProvider, Error, Result};

use crate::data::World;
use crate::filter::{contains_ci, limit_of, one_of, scope_matches};
use crate::incident::environment_of;

pub struct MockAlerts {
    /// Oldest first; queries answer newest first. Read-only, so no lock.
    alerts: Vec<Alert>,
}

impl MockAlerts {
    pub fn new(world: World) -> Self {
        MockAlerts {
            alerts: world.alerts,
        }
    }
}

fn matches(alert: &Alert, q: &AlertQuery) -> bool {
    (contains_ci(&alert.title, &q.query) || contains_ci(&alert.description, &q.query))
        && one_of(&alert.status, &q.statuses)
        && one_of(&alert.severity, &q.severities)
        && scope_matches(
            &q.scope,
            &alert.service,
            environment_of(&alert.fields, &alert.metadata),
        )
}

impl AlertProvider for MockAlerts {
    fn query(&self, q: AlertQuery) -> Result<Vec<Alert>> {
        Ok(self
            .alerts
            .iter()
            .rev()
            .filter(|a| matches(a, &q))
            .take(limit_of(q.limit))
            .cloned()
            .collect())
    }

    fn get(&self, id: &str) -> Result<Alert> {
        self.alerts
            .iter()
            .find(|a| a.id == id)
            .cloned()
            .ok_or_else(|| Error::not_found(format!("alert {id} not found")))
    }
}
