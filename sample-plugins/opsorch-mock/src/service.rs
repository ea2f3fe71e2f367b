//! `service`: the twelve services of the Acme Retail catalogue.

use opsorch_plugin_api::schema::{Service, ServiceQuery, StringMap};
use opsorch_plugin_api::{Result, ServiceProvider};
use serde_json::json;

use crate::catalog::{self, BASE_URL, ENVIRONMENTS, SERVICES};
use crate::filter::{contains_ci, limit_of, mock_metadata, obj, tags_match};

pub struct MockServices {
    services: Vec<Service>,
}

impl MockServices {
    pub fn new() -> Self {
        MockServices {
            services: SERVICES.iter().map(build).collect(),
        }
    }
}

impl Default for MockServices {
    fn default() -> Self {
        Self::new()
    }
}

fn build(def: &catalog::ServiceDef) -> Service {
    let tags: StringMap = [
        ("tier", def.tier),
        ("language", def.language),
        ("team", def.team),
        ("env", "production"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let mut metadata = mock_metadata();
    metadata.extend(obj(json!({
        "description": def.description,
        "repository": format!("https://git.mock.opsorch.local/acme-retail/{}", def.id),
        "oncall": format!("{}-primary", def.team),
        // Every service runs in both; scope.environment matches either.
        "environments": ENVIRONMENTS,
        "dependencies": def.dependencies,
    })));
    Service {
        id: def.id.into(),
        name: def.name.into(),
        url: format!("{BASE_URL}/services/{}", def.id),
        tags,
        metadata,
    }
}

fn matches(s: &Service, q: &ServiceQuery) -> bool {
    let scope = &q.scope;
    (q.ids.is_empty() || q.ids.iter().any(|id| id.eq_ignore_ascii_case(&s.id)))
        // The display name is "API Gateway" and the id "api-gateway"; either
        // is what a user means by name.
        && (contains_ci(&s.name, &q.name) || contains_ci(&s.id, &q.name))
        && tags_match(&s.tags, &q.tags)
        && (scope.service.is_empty() || s.id.eq_ignore_ascii_case(&scope.service))
        && (scope.team.is_empty() || catalog::service_within_team(&s.id, &scope.team))
        && (scope.environment.is_empty()
            || ENVIRONMENTS.iter().any(|e| catalog::env_matches(e, &scope.environment)))
}

impl ServiceProvider for MockServices {
    fn query(&self, q: ServiceQuery) -> Result<Vec<Service>> {
        Ok(self
            .services
            .iter()
            .filter(|s| matches(s, &q))
            .take(limit_of(q.limit))
            .cloned()
            .collect())
    }
}
