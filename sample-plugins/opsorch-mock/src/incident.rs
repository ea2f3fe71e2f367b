//! `incident`: the seeded incidents and their timelines, with create, update
//! and timeline append kept in memory.
//!
//! Each incident is kept with its JSON encoding, made again whenever it
//! changes, and `incident.query` and `incident.list` are answered by joining
//! the encodings of the matching incidents
//! ([`IncidentProvider::encoded_answer`]): no clone and no encoding per
//! call. Encoding five incidents took half of a query's CPU in the host's
//! benchmark (docs/BENCHMARKS.md).

use std::collections::HashMap;
use std::sync::RwLock;

use opsorch_plugin_api::schema::{
    CreateIncidentInput, Incident, IncidentQuery, TimelineAppendInput, TimelineEntry, Timestamp,
    UpdateIncidentInput,
};
use opsorch_plugin_api::{decode_payload, Error, IncidentProvider, JsonText, Method, Result};
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
    incidents: Vec<Stored>,
    timelines: HashMap<String, Vec<TimelineEntry>>,
    next_id: u32,
}

/// An incident and its JSON encoding. Changed only through
/// [`State::edit`], which encodes it again.
struct Stored {
    incident: Incident,
    json: JsonText,
}

impl Stored {
    fn new(incident: Incident) -> Result<Stored> {
        let json = JsonText::encode(&incident).map_err(|e| {
            Error::internal(format!(
                "encoding incident {}: {}",
                incident.id,
                e.message()
            ))
        })?;
        Ok(Stored { incident, json })
    }
}

impl MockIncidents {
    pub fn new(world: World) -> Result<Self> {
        let next_id = FIRST_INCIDENT + world.incidents.len() as u32;
        Ok(MockIncidents {
            state: RwLock::new(State {
                incidents: world
                    .incidents
                    .into_iter()
                    .map(Stored::new)
                    .collect::<Result<_>>()?,
                timelines: world.timelines,
                next_id,
            }),
        })
    }

    /// `incident.query`'s answer: the matching incidents' encodings, newest
    /// first.
    fn query_json(&self, q: &IncidentQuery) -> JsonText {
        let state = read(&self.state);
        JsonText::array(state.select(q).map(|s| &s.json))
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

/// Whether `q` filters at all: a query with none of `query`, `statuses`,
/// `severities` and `scope` (such as `{"limit":5}`) takes the newest
/// incidents as they are.
fn has_filters(q: &IncidentQuery) -> bool {
    !(q.query.is_empty() && q.statuses.is_empty() && q.severities.is_empty() && q.scope.is_empty())
}

/// Whether `incident` passes every filter of `q`.
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
    /// The incidents `q` selects, newest first, at most `q.limit`. A query
    /// without filters skips matching altogether.
    fn select<'a>(&'a self, q: &'a IncidentQuery) -> impl Iterator<Item = &'a Stored> + 'a {
        let filtered = has_filters(q);
        self.incidents
            .iter()
            .rev()
            .filter(move |s| !filtered || matches(&s.incident, q))
            .take(limit_of(q.limit))
    }

    /// Changes incident `id` with `change` and encodes it again; returns
    /// the changed incident.
    fn edit(&mut self, id: &str, change: impl FnOnce(&mut Incident)) -> Result<Incident> {
        let stored = self
            .incidents
            .iter_mut()
            .find(|s| s.incident.id == id)
            .ok_or_else(|| Error::not_found(format!("incident {id} not found")))?;
        let mut incident = stored.incident.clone();
        change(&mut incident);
        *stored = Stored::new(incident)?;
        Ok(stored.incident.clone())
    }

    fn contains(&self, id: &str) -> bool {
        self.incidents.iter().any(|s| s.incident.id == id)
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
    fn encoded_answer(&self, method: Method, payload: &str) -> Option<Result<JsonText>> {
        match method {
            Method::IncidentQuery => {
                Some(decode_payload(payload).map(|q: IncidentQuery| self.query_json(&q)))
            }
            Method::IncidentList => {
                let state = read(&self.state);
                Some(Ok(JsonText::array(
                    state.incidents.iter().rev().map(|s| &s.json),
                )))
            }
            _ => None,
        }
    }

    fn query(&self, q: IncidentQuery) -> Result<Vec<Incident>> {
        let state = read(&self.state);
        // Filter by reference and clone only the page that is returned.
        Ok(state.select(&q).map(|s| s.incident.clone()).collect())
    }

    fn list(&self) -> Result<Vec<Incident>> {
        Ok(read(&self.state)
            .incidents
            .iter()
            .rev()
            .map(|s| s.incident.clone())
            .collect())
    }

    fn get(&self, id: &str) -> Result<Incident> {
        read(&self.state)
            .incidents
            .iter()
            .find(|s| s.incident.id == id)
            .map(|s| s.incident.clone())
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
        state.incidents.push(Stored::new(incident.clone())?);
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
        let mut old_status = String::new();
        let updated = state.edit(id, |incident| {
            old_status = incident.status.clone();
            // Only the fields present in the input change: `None` leaves a
            // field alone, `Some("")` clears it.
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
        })?;
        // Status changes show up in the timeline, as in real incident tools.
        if updated.status != old_status {
            let body = format!("Status changed from {old_status} to {}", updated.status);
            state.push_entry(id, |n| entry(id, n, now, "status_change", body));
        }
        Ok(updated)
    }

    fn timeline(&self, id: &str) -> Result<Vec<TimelineEntry>> {
        let state = read(&self.state);
        if !state.contains(id) {
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
        state.edit(id, |incident| incident.updated_at = now)?;
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::DEFAULT_SEED;

    fn mock() -> MockIncidents {
        MockIncidents::new(World::generate(DEFAULT_SEED)).unwrap()
    }

    /// The encoded answer to `method` with `payload`.
    fn answer(m: &MockIncidents, method: Method, payload: &str) -> Result<String> {
        m.encoded_answer(method, payload)
            .expect("incident.query and incident.list are answered encoded")
            .map(JsonText::into_string)
    }

    /// What the typed methods answer, encoded.
    fn typed(m: &MockIncidents, payload: &str) -> String {
        let q: IncidentQuery = serde_json::from_str(payload).unwrap();
        serde_json::to_string(&m.query(q).unwrap()).unwrap()
    }

    const QUERIES: [&str; 5] = [
        "{}",
        r#"{"limit":3}"#,
        r#"{"severities":["sev1","sev2"],"limit":5}"#,
        r#"{"query":"latency"}"#,
        r#"{"statuses":["no such status"]}"#,
    ];

    #[test]
    fn encoded_answers_are_the_typed_answers_encoded() {
        let m = mock();
        for q in QUERIES {
            assert_eq!(
                answer(&m, Method::IncidentQuery, q).unwrap(),
                typed(&m, q),
                "{q}"
            );
        }
        assert_eq!(
            answer(&m, Method::IncidentList, "null").unwrap(),
            serde_json::to_string(&m.list().unwrap()).unwrap()
        );
        assert_eq!(
            answer(&m, Method::IncidentQuery, r#"{"statuses":["x"]}"#).unwrap(),
            "[]"
        );
    }

    #[test]
    fn encoded_answers_follow_every_change() {
        let m = mock();
        let created = m
            .create(CreateIncidentInput {
                title: "Encoded once".into(),
                severity: "sev1".into(),
                ..Default::default()
            })
            .unwrap();
        let first = m.list().unwrap()[0].id.clone();
        m.update(
            &first,
            UpdateIncidentInput {
                status: Some("resolved".into()),
                title: Some("Renamed".into()),
                ..Default::default()
            },
        )
        .unwrap();
        let before = m.get(&created.id).unwrap().updated_at;
        std::thread::sleep(std::time::Duration::from_millis(2));
        m.append_timeline(
            &created.id,
            TimelineAppendInput {
                body: "note".into(),
                ..Default::default()
            },
        )
        .unwrap();
        assert_ne!(m.get(&created.id).unwrap().updated_at, before);
        for q in QUERIES {
            assert_eq!(
                answer(&m, Method::IncidentQuery, q).unwrap(),
                typed(&m, q),
                "{q}"
            );
        }
        let listed: Vec<Incident> =
            serde_json::from_str(&answer(&m, Method::IncidentList, "null").unwrap()).unwrap();
        assert_eq!(listed, m.list().unwrap());
        assert_eq!(listed[0].title, "Renamed");
        assert_eq!(listed[0].status, "resolved");
    }

    #[test]
    fn every_filter_applies_and_a_query_without_filters_takes_the_newest() {
        let m = mock();
        let ids = |incidents: Vec<Incident>| -> Vec<String> {
            incidents.into_iter().map(|i| i.id).collect()
        };
        let newest: Vec<String> = ids(m.list().unwrap()).into_iter().take(5).collect();
        for unfiltered in [r#"{"limit":5}"#, r#"{"limit":5,"metadata":{"a":1}}"#] {
            let answered: Vec<Incident> =
                serde_json::from_str(&answer(&m, Method::IncidentQuery, unfiltered).unwrap())
                    .unwrap();
            assert_eq!(ids(answered), newest, "{unfiltered}");
            assert_eq!(
                ids(m.query(serde_json::from_str(unfiltered).unwrap()).unwrap()),
                newest,
                "{unfiltered}"
            );
        }
        // Each filter alone, matching nothing, empties both answers.
        for nothing in [
            r#"{"query":"no such text"}"#,
            r#"{"statuses":["no such status"]}"#,
            r#"{"severities":["no such severity"]}"#,
            r#"{"scope":{"service":"no-such-service"}}"#,
            r#"{"scope":{"team":"no-such-team"}}"#,
            r#"{"scope":{"environment":"no-such-environment"}}"#,
        ] {
            assert_eq!(
                answer(&m, Method::IncidentQuery, nothing).unwrap(),
                "[]",
                "{nothing}"
            );
            assert_eq!(typed(&m, nothing), "[]", "{nothing}");
        }
    }

    #[test]
    fn a_bad_query_payload_is_bad_request_and_other_methods_are_typed() {
        let m = mock();
        let e = answer(&m, Method::IncidentQuery, r#"{"limit":"x"}"#).unwrap_err();
        assert_eq!(e.code(), "bad_request");
        assert!(e.to_string().contains("invalid payload"), "{e}");
        assert!(m
            .encoded_answer(Method::IncidentGet, r#"{"id":"INC-1001"}"#)
            .is_none());
        assert!(m
            .encoded_answer(Method::IncidentTimelineGet, r#"{"id":"INC-1001"}"#)
            .is_none());
    }
}
