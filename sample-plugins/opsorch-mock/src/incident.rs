//! `incident`: the seeded incidents and their timelines, with create, update
//! and timeline append kept in memory.

use std::collections::HashMap;
use std::sync::RwLock;

use opsorch_plugin_api::schema::{
    CreateIncidentInput, Incident, IncidentQuery, TimelineAppendInput, TimelineEntry, Timestamp,
    UpdateIncidentInput,
};
use opsorch_plugin_api::{Error, IncidentProvider, Result};
use serde_json::Value;

use crate::catalog::BASE_URL;
use crate::data::{World, FIRST_INCIDENT};
use crate::filter::{
    contains_ci, limit_of, mock_metadata, one_of, read, scope_matches, str_field, write,
};

pub struct MockIncidents {
    state: RwLock<State>,
}

struct State {
    /// Oldest first, so a new incident is a cheap push and queries walk it
    /// backwards to answer newest first.
    incidents: Vec<Incident>,
    timelines: HashMap<String, Vec<TimelineEntry>>,
    next_id: u32,
}

impl MockIncidents {
    pub fn new(world: World) -> Self {
        let next_id = FIRST_INCIDENT + world.incidents.len() as u32;
        MockIncidents {
            state: RwLock::new(State {
                incidents: world.incidents,
                timelines: world.timelines,
                next_id,
            }),
        }
    }
}

/// The environment an incident or alert belongs to: `fields.environment`,
/// else `metadata.environment` (where runtime-created ones may carry it).
pub fn environment_of<'a>(
    fields: &'a serde_json::Map<String, Value>,
    metadata: &'a serde_json::Map<String, Value>,
) -> &'a str {
    match str_field(fields, "environment") {
        "" => str_field(metadata, "environment"),
        env => env,
    }
}

fn matches(incident: &Incident, q: &IncidentQuery) -> bool {
    (contains_ci(&incident.title, &q.query) || contains_ci(&incident.description, &q.query))
        && one_of(&incident.status, &q.statuses)
        && one_of(&incident.severity, &q.severities)
        && scope_matches(
            &q.scope,
            &incident.service,
            environment_of(&incident.fields, &incident.metadata),
        )
}

fn entry(incident_id: &str, n: usize, at: Timestamp, kind: &str, body: String) -> TimelineEntry {
    TimelineEntry {
        id: format!("{incident_id}-T{n}"),
        incident_id: incident_id.into(),
        at,
        kind: kind.into(),
        body,
        actor: Default::default(),
        metadata: mock_metadata(),
    }
}

impl State {
    fn incident_mut(&mut self, id: &str) -> Result<&mut Incident> {
        self.incidents
            .iter_mut()
            .find(|i| i.id == id)
            .ok_or_else(|| Error::not_found(format!("incident {id} not found")))
    }

    fn push_entry(&mut self, incident_id: &str, make: impl FnOnce(usize) -> TimelineEntry) {
        let timeline = self.timelines.entry(incident_id.to_string()).or_default();
        let entry = make(timeline.len() + 1);
        timeline.push(entry);
        // Appended entries may carry any `at`; keep the timeline in time order.
        timeline.sort_by_key(|e| e.at);
    }
}

impl IncidentProvider for MockIncidents {
    fn query(&self, q: IncidentQuery) -> Result<Vec<Incident>> {
        let state = read(&self.state);
        // Filter by reference and clone only the page that is returned.
        Ok(state
            .incidents
            .iter()
            .rev()
            .filter(|i| matches(i, &q))
            .take(limit_of(q.limit))
            .cloned()
            .collect())
    }

    fn list(&self) -> Result<Vec<Incident>> {
        Ok(read(&self.state).incidents.iter().rev().cloned().collect())
    }

    fn get(&self, id: &str) -> Result<Incident> {
        read(&self.state)
            .incidents
            .iter()
            .find(|i| i.id == id)
            .cloned()
            .ok_or_else(|| Error::not_found(format!("incident {id} not found")))
    }

    fn create(&self, input: CreateIncidentInput) -> Result<Incident> {
        if input.title.trim().is_empty() {
            return Err(Error::bad_request("title is required"));
        }
        let now = Timestamp::now();
        let mut state = write(&self.state);
        let id = format!("INC-{}", state.next_id);
        state.next_id += 1;
        let mut metadata = mock_metadata();
        metadata.extend(input.metadata);
        let incident = Incident {
            url: format!("{BASE_URL}/incidents/{id}"),
            id: id.clone(),
            title: input.title,
            description: input.description,
            // The contract marks these required but clients omit them; a real
            // tracker would default them the same way.
            status: if input.status.is_empty() {
                "open".into()
            } else {
                input.status
            },
            severity: if input.severity.is_empty() {
                "sev3".into()
            } else {
                input.severity
            },
            service: input.service,
            created_at: now,
            updated_at: now,
            fields: input.fields,
            metadata,
        };
        state.incidents.push(incident.clone());
        let body = format!("Incident declared: {}", incident.title);
        state.push_entry(&id, |n| entry(&id, n, now, "created", body));
        Ok(incident)
    }

    fn update(&self, id: &str, input: UpdateIncidentInput) -> Result<Incident> {
        if matches!(&input.title, Some(t) if t.trim().is_empty()) {
            return Err(Error::bad_request("title cannot be empty"));
        }
        let now = Timestamp::now();
        let mut state = write(&self.state);
        let incident = state.incident_mut(id)?;
        let old_status = incident.status.clone();
        // Only the fields present in the input change: `None` leaves a field
        // alone, `Some("")` clears it.
        if let Some(v) = input.title {
            incident.title = v;
        }
        if let Some(v) = input.description {
            incident.description = v;
        }
        if let Some(v) = input.status {
            incident.status = v;
        }
        if let Some(v) = input.severity {
            incident.severity = v;
        }
        if let Some(v) = input.service {
            incident.service = v;
        }
        if let Some(v) = input.fields {
            incident.fields = v;
        }
        if let Some(v) = input.metadata {
            incident.metadata = v;
        }
        incident.updated_at = now;
        let updated = incident.clone();
        // Status changes show up in the timeline, as in real incident tools.
        if updated.status != old_status {
            let body = format!("Status changed from {old_status} to {}", updated.status);
            state.push_entry(id, |n| entry(id, n, now, "status_change", body));
        }
        Ok(updated)
    }

    fn timeline(&self, id: &str) -> Result<Vec<TimelineEntry>> {
        let state = read(&self.state);
        if !state.incidents.iter().any(|i| i.id == id) {
            return Err(Error::not_found(format!("incident {id} not found")));
        }
        Ok(state.timelines.get(id).cloned().unwrap_or_default())
    }

    fn append_timeline(&self, id: &str, input: TimelineAppendInput) -> Result<()> {
        if input.body.trim().is_empty() {
            return Err(Error::bad_request("body is required"));
        }
        let now = Timestamp::now();
        let at = if input.at.is_zero() { now } else { input.at };
        let mut state = write(&self.state);
        state.incident_mut(id)?.updated_at = now;
        let kind = if input.kind.is_empty() {
            "note".to_string()
        } else {
            input.kind
        };
        let mut metadata = mock_metadata();
        metadata.extend(input.metadata);
        state.push_entry(id, |n| TimelineEntry {
            actor: input.actor,
            metadata,
            ..entry(id, n, at, &kind, input.body)
        });
        Ok(())
    }
}
