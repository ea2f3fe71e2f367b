//! `ticket`: the seeded OPS project, with create and update kept in memory.

use std::sync::RwLock;

use opsorch_plugin_api::schema::{
    CreateTicketInput, Ticket, TicketQuery, Timestamp, UpdateTicketInput,
};
use opsorch_plugin_api::{Error, Result, TicketProvider};

use crate::catalog::{self, BASE_URL};
use crate::data::{World, FIRST_TICKET};
use crate::filter::{contains_ci, limit_of, mock_metadata, one_of, read, str_field, write};

pub struct MockTickets {
    state: RwLock<State>,
}

struct State {
    /// Oldest first; queries answer newest first.
    tickets: Vec<Ticket>,
    next_number: u32,
}

impl MockTickets {
    pub fn new(world: World) -> Self {
        let next_number = FIRST_TICKET + world.tickets.len() as u32;
        MockTickets {
            state: RwLock::new(State {
                tickets: world.tickets,
                next_number,
            }),
        }
    }
}

/// Tickets carry their service, team and environment in `fields`; the team
/// scope also covers tickets of services the team owns.
fn scope_matches(ticket: &Ticket, q: &TicketQuery) -> bool {
    let service = str_field(&ticket.fields, "service");
    let team = str_field(&ticket.fields, "team");
    let env = str_field(&ticket.fields, "environment");
    let scope = &q.scope;
    (scope.service.is_empty() || service.eq_ignore_ascii_case(&scope.service))
        && (scope.team.is_empty()
            || catalog::team_within(team, &scope.team)
            || catalog::service_within_team(service, &scope.team))
        && (scope.environment.is_empty()
            || (!env.is_empty() && catalog::env_matches(env, &scope.environment)))
}

fn matches(ticket: &Ticket, q: &TicketQuery) -> bool {
    (contains_ci(&ticket.title, &q.query)
        || contains_ci(&ticket.description, &q.query)
        || contains_ci(&ticket.key, &q.query))
        && one_of(&ticket.status, &q.statuses)
        && (q.assignees.is_empty() || ticket.assignees.iter().any(|a| one_of(a, &q.assignees)))
        && (q.reporter.is_empty() || ticket.reporter.eq_ignore_ascii_case(&q.reporter))
        && scope_matches(ticket, q)
}

impl TicketProvider for MockTickets {
    fn query(&self, q: TicketQuery) -> Result<Vec<Ticket>> {
        Ok(read(&self.state)
            .tickets
            .iter()
            .rev()
            .filter(|t| matches(t, &q))
            .take(limit_of(q.limit))
            .cloned()
            .collect())
    }

    fn get(&self, id: &str) -> Result<Ticket> {
        read(&self.state)
            .tickets
            .iter()
            .find(|t| t.id == id)
            .cloned()
            .ok_or_else(|| Error::not_found(format!("ticket {id} not found")))
    }

    fn create(&self, input: CreateTicketInput) -> Result<Ticket> {
        if input.title.trim().is_empty() {
            return Err(Error::bad_request("title is required"));
        }
        let now = Timestamp::now();
        let mut state = write(&self.state);
        let id = format!("OPS-{}", state.next_number);
        state.next_number += 1;
        let mut metadata = mock_metadata();
        metadata.extend(input.metadata);
        // CreateTicketInput has no reporter; trackers take it from the
        // caller, which the mock learns only through `fields.reporter`.
        let reporter = str_field(&input.fields, "reporter").to_string();
        let ticket = Ticket {
            key: id.clone(),
            url: format!("{BASE_URL}/tickets/{id}"),
            id,
            title: input.title,
            description: input.description,
            status: "todo".into(),
            assignees: Vec::new(),
            reporter,
            created_at: now,
            updated_at: now,
            fields: input.fields,
            metadata,
        };
        state.tickets.push(ticket.clone());
        Ok(ticket)
    }

    fn update(&self, id: &str, input: UpdateTicketInput) -> Result<Ticket> {
        if matches!(&input.title, Some(t) if t.trim().is_empty()) {
            return Err(Error::bad_request("title cannot be empty"));
        }
        let mut state = write(&self.state);
        let ticket = state
            .tickets
            .iter_mut()
            .find(|t| t.id == id)
            .ok_or_else(|| Error::not_found(format!("ticket {id} not found")))?;
        // Absent fields stay; present ones (even empty) replace.
        if let Some(v) = input.title {
            ticket.title = v;
        }
        if let Some(v) = input.description {
            ticket.description = v;
        }
        if let Some(v) = input.status {
            ticket.status = v;
        }
        if let Some(v) = input.assignees {
            ticket.assignees = v;
        }
        if let Some(v) = input.fields {
            ticket.fields = v;
        }
        if let Some(v) = input.metadata {
            ticket.metadata = v;
        }
        ticket.updated_at = Timestamp::now();
        Ok(ticket.clone())
    }
}
