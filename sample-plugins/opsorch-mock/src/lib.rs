//! Mock adapters for every OpsOrch capability, serving a deterministic demo
//! world: **Acme Retail**, a mid-size online shop.
//!
//! Built as `libopsorch_mock.so` it is an adapter library the host loads; the
//! `opsorch-mock-plugin` binary serves the same providers over stdio. Both
//! register a provider named `mock` for all eleven capabilities.
//!
//! # Configuration
//!
//! `{"seed": 42}` (optional; a non-negative integer or a string of digits,
//! default [`data::DEFAULT_SEED`]). The same seed always gives the same
//! world; other keys are ignored, so operators can pass tokens and URLs
//! meant for real adapters. Seeded times are offsets from a fixed reference
//! instant, 2026-11-01T00:00:00Z, never from the wall clock; only records
//! created at runtime (incidents, timeline entries, tickets, messages, runs,
//! completed steps) carry the current time. State changes live in memory,
//! per provider instance, and are visible to every later call.
//!
//! # The world
//!
//! - **Services** (fixed): checkout, payments, api-gateway, search, catalog,
//!   inventory, notifications, auth, web-frontend, recommendations, orders,
//!   shipping; tags `tier`, `language`, `team`, `env`.
//! - **Teams** (fixed ids, seeded members): `engineering` → `platform`
//!   (→ `sre`), `commerce`, `discovery`, `fulfillment`, `data`, `web`; 3-6
//!   members each.
//! - **Incidents** `INC-1001`…`INC-1025`, sev1-sev4, open → resolved, each
//!   with a 3-6 entry timeline. **Alerts** `ALR-2001`…`ALR-2040`.
//!   **Tickets** `OPS-101`…`OPS-130`. **Deployments** `DEP-3001`…`DEP-3040`
//!   (the last two `in_progress`). Ids grow with time.
//! - **Orchestration** plans `release-checklist`, `db-failover`,
//!   `incident-response-sev1`, `cert-rotation`, `rollback-service`; runs
//!   `RUN-7001`…`RUN-7008` in every status. `RUN-7008` is a fresh
//!   release-checklist run whose `freeze-check` and `review-changelog` steps
//!   are ready.
//! - **Logs** and **metrics** are computed on demand from (seed, time), see
//!   [`log`] and [`metric`].
//! - **Secrets** start empty; **messaging** accepts any message.
//!
//! # Filters
//!
//! Queries apply every filter given, then `limit` (0 = none), and answer
//! newest first. Text (`query`, `name`, log `search`) is a case-insensitive
//! substring; list filters match any element case-insensitively. `scope`:
//! `service` is exact; `team` covers the team and its sub-teams and selects
//! records through the team owning their service; `environment` accepts
//! aliases (`prod` = `production`). Per capability:
//!
//! - incidents/alerts: `query` (title, description), `statuses`,
//!   `severities`, `scope` (environment from `fields.environment`).
//! - tickets: `query` (title, description, key), `statuses`, `assignees`
//!   (any), `reporter`, `scope` (from `fields.service/team/environment`).
//! - services: `ids`, `name` (name or id), `tags` (all), `scope`.
//! - deployments: `query` (id, service, version, env, commit, summary,
//!   actor), `statuses`, `versions` (`v` prefix optional), `scope`.
//! - teams: `name`, `tags`, `scope.team` (subtree), `scope.service` (owner).
//! - plans: `query`, `tags`, `scope.service` (plans for it and generic
//!   ones), `scope.team` (owner), `limit`; runs: `query`, `statuses`,
//!   `planIds`, `scope` (the run's scope), `limit`.
//! - logs: the window `[start, end)` (zero end = now, zero start = an hour
//!   before the end, empty or inverted = the last hour), `expression.search`,
//!   `severityIn` (`warning` = `warn`), `filters` over labels, fields,
//!   `message` and `severity` (`=`, `!=`, `contains`, `not_contains`;
//!   `regex` is treated as `contains`; anything else is `bad_request`),
//!   `scope`, `limit` (default 100, max 1000).
//! - metrics: `metricName` (unknown names give an empty list), `filters`
//!   (`=`, `!=`; `=~`/`!~` as substring), `groupBy` + `aggregation` (sum,
//!   avg, max, min, count; default sum; an aggregation without `groupBy`
//!   folds everything into one series), `scope`, `step` (default 60 s; more
//!   than 11,000 points per series is `bad_request`). `metric.describe`
//!   lists the metrics the scoped service (or team) emits.
//!
//! # Changes
//!
//! `incident.create` needs a title (status defaults to `open`, severity to
//! `sev3`); `incident.update` and `ticket.update` change only the fields
//! present (`""`/`[]` clear); a status change is also recorded in the
//! timeline. `orchestration.runs.start` readies the steps without
//! dependencies; `runs.steps.complete` refuses (`bad_request`) a step whose
//! dependencies have not all succeeded (or been skipped), a step already
//! done, and any step of a finished run; newly unblocked steps become
//! `ready`, and the run becomes `completed` when every step is done.
//!
//! Unknown ids are `not_found`; empty required input is `bad_request`.

pub mod alert;
pub mod catalog;
pub mod data;
pub mod deployment;
pub mod filter;
pub mod incident;
pub mod log;
pub mod messaging;
pub mod metric;
pub mod orchestration;
pub mod plans;
pub mod rng;
pub mod secret;
pub mod service;
pub mod team;
pub mod ticket;

use opsorch_plugin_api::{Adapter, Config, Error, Result};
use serde_json::Value;

use crate::data::{World, DEFAULT_SEED};

/// Reads `seed` from the config. Other keys are deliberately ignored.
pub fn seed_from(config: &Config) -> Result<u64> {
    match config.get("seed") {
        None | Some(Value::Null) => Ok(DEFAULT_SEED),
        Some(Value::Number(n)) => n
            .as_u64()
            .ok_or_else(|| Error::bad_request("config.seed must be a non-negative integer")),
        // Env-sourced configs often quote numbers.
        Some(Value::String(s)) => s
            .trim()
            .parse()
            .map_err(|_| Error::bad_request("config.seed must be a non-negative integer")),
        Some(_) => Err(Error::bad_request(
            "config.seed must be a non-negative integer",
        )),
    }
}

fn world(config: &Config) -> Result<World> {
    Ok(World::generate(seed_from(config)?))
}

/// The version the library reports: the crate version, or the value of
/// `OPSORCH_MOCK_VERSION` when the crate was built with it set (so that
/// `scripts/swap` can tell builds apart).
pub const VERSION: &str = match option_env!("OPSORCH_MOCK_VERSION") {
    Some(v) => v,
    None => env!("CARGO_PKG_VERSION"),
};

/// The mock adapter: provider `mock` for every capability.
///
/// Its methods work on memory and return at once, so it is declared
/// [`Adapter::non_blocking`]: the host calls it in the request's own task,
/// not on its call pool. Built with the `blocking` feature (as the
/// `opsorch-blocking-mock` test fixture is, from this same source) it is
/// an ordinary synchronous adapter whose calls the host runs on its call
/// pool.
pub fn adapter() -> Adapter {
    let adapter = providers(Adapter::new("opsorch-mock", VERSION));
    if cfg!(feature = "blocking") {
        adapter
    } else {
        adapter.non_blocking()
    }
}

fn providers(adapter: Adapter) -> Adapter {
    adapter
        .incident("mock", |c| incident::MockIncidents::new(world(c)?))
        .alert("mock", |c| Ok(alert::MockAlerts::new(world(c)?)))
        .log("mock", |c| Ok(log::MockLogs::new(seed_from(c)?)))
        .metric("mock", |c| Ok(metric::MockMetrics::new(seed_from(c)?)))
        .ticket("mock", |c| Ok(ticket::MockTickets::new(world(c)?)))
        .messaging("mock", |c| {
            seed_from(c)?;
            Ok(messaging::MockMessaging::default())
        })
        .service("mock", |c| {
            seed_from(c)?;
            Ok(service::MockServices::new())
        })
        .deployment("mock", |c| Ok(deployment::MockDeployments::new(world(c)?)))
        .team("mock", |c| Ok(team::MockTeams::new(world(c)?)))
        .orchestration("mock", |c| {
            Ok(orchestration::MockOrchestration::new(world(c)?))
        })
        .secret("mock", |c| {
            seed_from(c)?;
            Ok(secret::MockSecrets::default())
        })
}

opsorch_plugin_api::export_adapter!(adapter);
