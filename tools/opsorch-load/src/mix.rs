//! The traffic mix: every route of every capability, with ids that exist in
//! the mock adapter's seeded world (`sample-plugins/opsorch-mock`).
//!
//! Two kinds of traffic:
//!
//! * **Stateless** requests cycle through [`STATELESS`] routes, each
//!   connection starting at a different offset so every route is hit from
//!   the first second. They read seeded records and update seeded incidents
//!   and tickets without changing their status, so they never grow the
//!   mock's state (a status change appends a timeline entry).
//! * **Chains** create a record and then work on it: an incident (append to
//!   its timeline, change its status, read it and its timeline back), a
//!   ticket (read it, update it), or an orchestration run (complete every
//!   step in dependency order, then check the run is `completed`). The mock
//!   keeps every record it creates in memory, by design, so chains are
//!   started at a bounded rate (`--write-rate`): unbounded creates would look
//!   like a leak and would slow every later query that walks the records.
//!
//! Nothing in the mix is expected to fail: no step is completed twice, no
//! unknown id is read, and every body is valid.

use std::collections::VecDeque;
use std::fmt;

use opsorch_plugin_api::methods::Capability;
use serde_json::Value;

/// What a request exercises: a capability, or `meta` for health, CORS,
/// OpenAPI and the providers API.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Cap {
    Meta,
    Of(Capability),
}

impl Cap {
    /// Parses a capability name as the host's `/providers/{cap}` does:
    /// singular or plural, any case.
    pub fn parse(name: &str) -> Option<Cap> {
        Capability::from_route_name(name.trim()).map(Cap::Of)
    }

    pub fn name(self) -> &'static str {
        match self {
            Cap::Meta => "meta",
            Cap::Of(capability) => capability.name(),
        }
    }
}

impl From<Capability> for Cap {
    fn from(capability: Capability) -> Self {
        Cap::Of(capability)
    }
}

impl fmt::Display for Cap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What to do with a successful response.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Then {
    Nothing,
    /// `POST /incidents`: queue the incident chain on the new id.
    IncidentCreated,
    /// `POST /tickets`: queue the ticket chain on the new id.
    TicketCreated,
    /// `POST /orchestration/runs`: complete every step, then check the run.
    RunStarted,
    /// `GET /orchestration/runs/{id}` at the end of a run chain: the run
    /// must be `completed`.
    ExpectRunCompleted,
}

/// One request of the mix.
#[derive(Clone, Debug)]
pub struct Req {
    /// The route as a label, e.g. `GET /incidents/{id}`.
    pub route: &'static str,
    pub cap: Cap,
    pub method: &'static str,
    pub path: String,
    pub body: Option<String>,
    /// Acts on a record this generator created (a chain follow-up).
    pub created: bool,
    pub then: Then,
}

impl Req {
    fn new(route: &'static str, cap: impl Into<Cap>, method: &'static str, path: String) -> Req {
        Req {
            route,
            cap: cap.into(),
            method,
            path,
            body: None,
            created: false,
            then: Then::Nothing,
        }
    }

    fn body(mut self, body: impl Into<String>) -> Req {
        self.body = Some(body.into());
        self
    }

    fn created(mut self) -> Req {
        self.created = true;
        self
    }

    fn then(mut self, then: Then) -> Req {
        self.then = then;
        self
    }
}

/// Every route label the mix sends, for the coverage report.
pub const ROUTES: &[(&str, Cap)] = &[
    ("GET /", Cap::Meta),
    ("GET /health", Cap::Meta),
    ("OPTIONS /incidents/query", Cap::Meta),
    ("GET /openapi.json", Cap::Meta),
    ("GET /providers/{cap}", Cap::Meta),
    ("POST /incidents/query", Cap::Of(Capability::Incident)),
    ("POST /incidents", Cap::Of(Capability::Incident)),
    ("GET /incidents/{id}", Cap::Of(Capability::Incident)),
    ("PATCH /incidents/{id}", Cap::Of(Capability::Incident)),
    (
        "GET /incidents/{id}/timeline",
        Cap::Of(Capability::Incident),
    ),
    (
        "POST /incidents/{id}/timeline",
        Cap::Of(Capability::Incident),
    ),
    ("POST /alerts/query", Cap::Of(Capability::Alert)),
    ("GET /alerts/{id}", Cap::Of(Capability::Alert)),
    ("POST /logs/query", Cap::Of(Capability::Log)),
    ("POST /metrics/query", Cap::Of(Capability::Metric)),
    ("GET /metrics/describe", Cap::Of(Capability::Metric)),
    ("POST /metrics/describe", Cap::Of(Capability::Metric)),
    ("POST /tickets/query", Cap::Of(Capability::Ticket)),
    ("POST /tickets", Cap::Of(Capability::Ticket)),
    ("GET /tickets/{id}", Cap::Of(Capability::Ticket)),
    ("PATCH /tickets/{id}", Cap::Of(Capability::Ticket)),
    ("POST /messages/send", Cap::Of(Capability::Messaging)),
    ("POST /services/query", Cap::Of(Capability::Service)),
    ("POST /deployments/query", Cap::Of(Capability::Deployment)),
    ("GET /deployments/{id}", Cap::Of(Capability::Deployment)),
    ("POST /teams/query", Cap::Of(Capability::Team)),
    ("GET /teams/{id}", Cap::Of(Capability::Team)),
    ("GET /teams/{id}/members", Cap::Of(Capability::Team)),
    (
        "POST /orchestration/plans/query",
        Cap::Of(Capability::Orchestration),
    ),
    (
        "GET /orchestration/plans/{planId}",
        Cap::Of(Capability::Orchestration),
    ),
    (
        "POST /orchestration/runs/query",
        Cap::Of(Capability::Orchestration),
    ),
    (
        "GET /orchestration/runs/{runId}",
        Cap::Of(Capability::Orchestration),
    ),
    (
        "POST /orchestration/runs",
        Cap::Of(Capability::Orchestration),
    ),
    (
        "POST /orchestration/runs/{runId}/steps/{stepId}/complete",
        Cap::Of(Capability::Orchestration),
    ),
];

const SERVICES: &[&str] = &[
    "checkout",
    "payments",
    "api-gateway",
    "search",
    "catalog",
    "inventory",
    "notifications",
    "auth",
    "web-frontend",
    "recommendations",
    "orders",
    "shipping",
];
const TEAMS: &[&str] = &[
    "engineering",
    "platform",
    "sre",
    "commerce",
    "discovery",
    "fulfillment",
    "data",
    "web",
];
const PLANS: &[&str] = &[
    "release-checklist",
    "db-failover",
    "incident-response-sev1",
    "cert-rotation",
    "rollback-service",
];
const PROVIDER_CAPS: &[&str] = &[
    "incident",
    "alerts",
    "log",
    "metrics",
    "ticket",
    "messaging",
    "services",
    "deployment",
    "teams",
    "orchestration",
];
const INCIDENT_SEVERITIES: &[&str] = &["sev1", "sev2", "sev3", "sev4"];
const ALERT_SEVERITIES: &[&str] = &["critical", "warning", "info"];
const TICKET_STATUSES: &[&str] = &["open", "in_progress", "done"];
const LOG_SEARCHES: &[&str] = &["error", "timeout", "checkout", ""];
const METRIC_QUERIES: &[&str] = &[
    r#"{"metricName":"http_requests_total","aggregation":"sum","groupBy":["status"]}"#,
    r#"{"metricName":"cpu_usage_percent","aggregation":"avg","groupBy":["service"]}"#,
    r#"{"metricName":"http_request_duration_seconds","aggregation":"max","groupBy":["service"]}"#,
    r#"{"metricName":"error_rate","filters":[{"label":"service","operator":"=","value":"checkout"}]}"#,
];

/// A small deterministic PRNG (xorshift64*), one per connection.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    pub fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
}

/// Number of stateless routes in one cycle.
pub const STATELESS: usize = 29;

/// How often (in cycles) a connection fetches `/openapi.json`, the one large
/// response; other cycles send `GET /health` in its place.
const OPENAPI_EVERY: usize = 16;

/// Every route the stateless cycle sends, with its capability, in the
/// order of first appearance. Every connection sends each of them every
/// [`STATELESS`] requests (`GET /openapi.json` less often), so after a fault
/// each of them should answer 2xx again within a few cycles.
pub fn stateless_routes() -> Vec<(&'static str, Cap)> {
    let mut rng = Rng::new(1);
    let mut routes: Vec<(&'static str, Cap)> = Vec::new();
    for i in 0..STATELESS * OPENAPI_EVERY {
        let req = stateless(i, 0, &mut rng);
        if !routes.iter().any(|(r, _)| *r == req.route) {
            routes.push((req.route, req.cap));
        }
    }
    routes
}

/// The `i`-th stateless request; `conn` keys the values a connection writes.
pub fn stateless(i: usize, conn: usize, rng: &mut Rng) -> Req {
    use Cap::Meta;
    use Capability::*;
    let incident = || 1001 + (conn + i) % 25;
    match i % STATELESS {
        0 => Req::new("GET /health", Meta, "GET", "/health".into()),
        1 => Req::new("GET /", Meta, "GET", "/".into()),
        2 => {
            let cap = rng.pick(PROVIDER_CAPS);
            Req::new(
                "GET /providers/{cap}",
                Meta,
                "GET",
                format!("/providers/{cap}"),
            )
        }
        3 => Req::new(
            "OPTIONS /incidents/query",
            Meta,
            "OPTIONS",
            "/incidents/query".into(),
        ),
        4 if (i / STATELESS) % OPENAPI_EVERY == conn % OPENAPI_EVERY => {
            Req::new("GET /openapi.json", Meta, "GET", "/openapi.json".into())
        }
        4 => Req::new("GET /health", Meta, "GET", "/health".into()),
        5 => Req::new(
            "POST /incidents/query",
            Incident,
            "POST",
            "/incidents/query".into(),
        )
        .body(format!(
            r#"{{"limit":5,"severities":["{}"]}}"#,
            rng.pick(INCIDENT_SEVERITIES)
        )),
        6 => Req::new(
            "GET /incidents/{id}",
            Incident,
            "GET",
            format!("/incidents/INC-{}", 1001 + rng.below(25)),
        ),
        // Same description each time for this connection and no status:
        // the record does not grow and no timeline entry is added.
        7 => Req::new(
            "PATCH /incidents/{id}",
            Incident,
            "PATCH",
            format!("/incidents/INC-{}", incident()),
        )
        .body(format!(
            r#"{{"description":"Touched by the soak test, connection {}"}}"#,
            conn % 16
        )),
        8 => Req::new(
            "GET /incidents/{id}/timeline",
            Incident,
            "GET",
            format!("/incidents/INC-{}/timeline", 1001 + rng.below(25)),
        ),
        9 => Req::new("POST /alerts/query", Alert, "POST", "/alerts/query".into()).body(format!(
            r#"{{"severities":["{}"],"limit":5}}"#,
            rng.pick(ALERT_SEVERITIES)
        )),
        10 => Req::new(
            "GET /alerts/{id}",
            Alert,
            "GET",
            format!("/alerts/ALR-{}", 2001 + rng.below(40)),
        ),
        11 => Req::new("POST /logs/query", Log, "POST", "/logs/query".into()).body(format!(
            r#"{{"expression":{{"search":"{}","severityIn":["error","warn"]}},"start":"2026-11-01T00:00:00Z","end":"2026-11-01T01:00:00Z","limit":20}}"#,
            rng.pick(LOG_SEARCHES)
        )),
        12 => Req::new("POST /metrics/query", Metric, "POST", "/metrics/query".into()).body(
            format!(
                r#"{{"expression":{},"start":"2026-11-01T00:00:00Z","end":"2026-11-01T01:00:00Z","step":300}}"#,
                rng.pick(METRIC_QUERIES)
            ),
        ),
        13 => Req::new(
            "GET /metrics/describe",
            Metric,
            "GET",
            format!("/metrics/describe?service={}", rng.pick(SERVICES)),
        ),
        14 => Req::new(
            "POST /metrics/describe",
            Metric,
            "POST",
            "/metrics/describe".into(),
        )
        .body(format!(r#"{{"team":"{}"}}"#, rng.pick(TEAMS))),
        15 => Req::new("POST /tickets/query", Ticket, "POST", "/tickets/query".into()).body(
            format!(
                r#"{{"statuses":["{}"],"limit":10}}"#,
                rng.pick(TICKET_STATUSES)
            ),
        ),
        16 => Req::new(
            "GET /tickets/{id}",
            Ticket,
            "GET",
            format!("/tickets/OPS-{}", 101 + rng.below(30)),
        ),
        17 => Req::new(
            "PATCH /tickets/{id}",
            Ticket,
            "PATCH",
            format!("/tickets/OPS-{}", 101 + (conn + i) % 30),
        )
        .body(format!(
            r#"{{"description":"Touched by the soak test, connection {}"}}"#,
            conn % 16
        )),
        18 => Req::new("POST /messages/send", Messaging, "POST", "/messages/send".into()).body(
            format!(
                r##"{{"channel":"#soak-{}","body":"Checkout is *degraded*","blocks":[{{"type":"header","text":"Soak"}},{{"type":"section","text":"all good"}}]}}"##,
                conn % 8
            ),
        ),
        19 => Req::new("POST /services/query", Service, "POST", "/services/query".into())
            .body(match rng.below(3) {
                0 => r#"{"tags":{"tier":"1"}}"#.to_string(),
                1 => format!(r#"{{"scope":{{"team":"{}"}}}}"#, rng.pick(TEAMS)),
                _ => "{}".to_string(),
            }),
        20 => Req::new(
            "POST /deployments/query",
            Deployment,
            "POST",
            "/deployments/query".into(),
        )
        .body(format!(
            r#"{{"statuses":["success","failed"],"scope":{{"service":"{}","environment":"production"}},"limit":10}}"#,
            rng.pick(SERVICES)
        )),
        21 => Req::new(
            "GET /deployments/{id}",
            Deployment,
            "GET",
            format!("/deployments/DEP-{}", 3001 + rng.below(40)),
        ),
        22 => Req::new("POST /teams/query", Team, "POST", "/teams/query".into())
            .body(format!(r#"{{"name":"{}"}}"#, rng.pick(TEAMS))),
        23 => Req::new(
            "GET /teams/{id}",
            Team,
            "GET",
            format!("/teams/{}", rng.pick(TEAMS)),
        ),
        24 => Req::new(
            "GET /teams/{id}/members",
            Team,
            "GET",
            format!("/teams/{}/members", rng.pick(TEAMS)),
        ),
        25 => Req::new(
            "POST /orchestration/plans/query",
            Orchestration,
            "POST",
            "/orchestration/plans/query".into(),
        )
        .body(r#"{"limit":10}"#),
        26 => Req::new(
            "GET /orchestration/plans/{planId}",
            Orchestration,
            "GET",
            format!("/orchestration/plans/{}", rng.pick(PLANS)),
        ),
        27 => Req::new(
            "POST /orchestration/runs/query",
            Orchestration,
            "POST",
            "/orchestration/runs/query".into(),
        )
        .body(r#"{"statuses":["running","blocked"],"limit":10}"#),
        _ => Req::new(
            "GET /orchestration/runs/{runId}",
            Orchestration,
            "GET",
            format!("/orchestration/runs/RUN-{}", 7001 + rng.below(8)),
        ),
    }
}

/// The first request of chain number `n` (incident, ticket, run in turn).
pub fn chain_start(n: u64, conn: usize, rng: &mut Rng) -> Req {
    match n % 3 {
        0 => Req::new(
            "POST /incidents",
            Cap::Of(Capability::Incident),
            "POST",
            "/incidents".into(),
        )
        .body(format!(
            r#"{{"title":"Soak: {} latency","status":"open","severity":"{}","service":"{}"}}"#,
            rng.pick(SERVICES),
            rng.pick(INCIDENT_SEVERITIES),
            rng.pick(SERVICES)
        ))
        .then(Then::IncidentCreated),
        1 => Req::new(
            "POST /tickets",
            Cap::Of(Capability::Ticket),
            "POST",
            "/tickets".into(),
        )
        .body(format!(
            r#"{{"title":"Soak: rotate the {} certificate","description":"connection {conn}"}}"#,
            rng.pick(SERVICES)
        ))
        .then(Then::TicketCreated),
        _ => Req::new(
            "POST /orchestration/runs",
            Cap::Of(Capability::Orchestration),
            "POST",
            "/orchestration/runs".into(),
        )
        .body(format!(r#"{{"planId":"{}"}}"#, rng.pick(PLANS)))
        .then(Then::RunStarted),
    }
}

/// A successful chain response was not what the chain needs to go on
/// (no id, a run with a dependency cycle, a run not completed at the end).
#[derive(Debug)]
pub struct CheckFailed(pub String);

/// Queues the follow-ups of a successful chain request `req`, whose
/// response body is `body`.
pub fn follow_up(req: &Req, body: &[u8], queue: &mut VecDeque<Req>) -> Result<(), CheckFailed> {
    if req.then == Then::Nothing {
        return Ok(());
    }
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| CheckFailed(format!("{}: response is not JSON: {e}", req.route)))?;
    let id = || {
        value["id"]
            .as_str()
            .filter(|s| !s.is_empty() && !s.contains(['/', '?', '#', ' ']))
            .map(str::to_string)
            .ok_or_else(|| CheckFailed(format!("{}: response has no usable id", req.route)))
    };
    match req.then {
        Then::Nothing => {}
        Then::IncidentCreated => {
            let id = id()?;
            let base = format!("/incidents/{id}");
            queue.extend([
                Req::new(
                    "POST /incidents/{id}/timeline",
                    Cap::Of(Capability::Incident),
                    "POST",
                    format!("{base}/timeline"),
                )
                .body(r#"{"kind":"note","body":"Soak test note","actor":{"id":"soak"}}"#)
                .created(),
                Req::new(
                    "PATCH /incidents/{id}",
                    Cap::Of(Capability::Incident),
                    "PATCH",
                    base.clone(),
                )
                .body(r#"{"status":"mitigated"}"#)
                .created(),
                Req::new(
                    "GET /incidents/{id}",
                    Cap::Of(Capability::Incident),
                    "GET",
                    base.clone(),
                )
                .created(),
                Req::new(
                    "GET /incidents/{id}/timeline",
                    Cap::Of(Capability::Incident),
                    "GET",
                    format!("{base}/timeline"),
                )
                .created(),
            ]);
        }
        Then::TicketCreated => {
            let id = id()?;
            let path = format!("/tickets/{id}");
            queue.extend([
                Req::new(
                    "GET /tickets/{id}",
                    Cap::Of(Capability::Ticket),
                    "GET",
                    path.clone(),
                )
                .created(),
                Req::new(
                    "PATCH /tickets/{id}",
                    Cap::Of(Capability::Ticket),
                    "PATCH",
                    path,
                )
                .body(r#"{"status":"in_progress","assignees":["soak@example.com"]}"#)
                .created(),
            ]);
        }
        Then::RunStarted => {
            let id = id()?;
            let order =
                step_order(&value).map_err(|e| CheckFailed(format!("{}: {e}", req.route)))?;
            for step in order {
                queue.push_back(
                    Req::new(
                        "POST /orchestration/runs/{runId}/steps/{stepId}/complete",
                        Cap::Of(Capability::Orchestration),
                        "POST",
                        format!("/orchestration/runs/{id}/steps/{step}/complete"),
                    )
                    .body(r#"{"actor":"soak@example.com","note":"done by the soak test"}"#)
                    .created(),
                );
            }
            queue.push_back(
                Req::new(
                    "GET /orchestration/runs/{runId}",
                    Cap::Of(Capability::Orchestration),
                    "GET",
                    format!("/orchestration/runs/{id}"),
                )
                .created()
                .then(Then::ExpectRunCompleted),
            );
        }
        Then::ExpectRunCompleted => {
            let status = value["status"].as_str().unwrap_or_default();
            if status != "completed" {
                return Err(CheckFailed(format!(
                    "{}: run {} is {status:?} after completing every step",
                    req.route,
                    value["id"].as_str().unwrap_or("?")
                )));
            }
        }
    }
    Ok(())
}

/// The steps of a freshly started run that still need completing, in an
/// order that respects `dependsOn` (from the plan embedded in the run).
fn step_order(run: &Value) -> Result<Vec<String>, String> {
    let plan_steps = run["plan"]["steps"]
        .as_array()
        .ok_or("run has no plan steps")?;
    let done = |state: &Value| matches!(state["status"].as_str(), Some("succeeded" | "skipped"));
    let mut finished: Vec<String> = run["steps"]
        .as_array()
        .ok_or("run has no steps")?
        .iter()
        .filter(|s| done(s))
        .filter_map(|s| s["stepId"].as_str().map(str::to_string))
        .collect();
    let mut todo: Vec<(&str, Vec<&str>)> = plan_steps
        .iter()
        .filter_map(|s| {
            let id = s["id"].as_str()?;
            let deps = s["dependsOn"]
                .as_array()
                .map(|d| d.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            Some((id, deps))
        })
        .filter(|(id, _)| !finished.iter().any(|f| f == id))
        .collect();
    let mut order = Vec::new();
    while !todo.is_empty() {
        let ready = todo
            .iter()
            .position(|(_, deps)| deps.iter().all(|d| finished.iter().any(|f| f == d)))
            .ok_or("plan steps have a dependency cycle or an unknown dependency")?;
        let (id, _) = todo.remove(ready);
        finished.push(id.to_string());
        order.push(id.to_string());
    }
    Ok(order)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn every_route_is_in_the_mix() {
        let mut rng = Rng::new(1);
        let mut seen = BTreeSet::new();
        for conn in 0..OPENAPI_EVERY {
            for i in 0..STATELESS * OPENAPI_EVERY {
                seen.insert(stateless(i, conn, &mut rng).route);
            }
        }
        for n in 0..3 {
            seen.insert(chain_start(n, 0, &mut rng).route);
        }
        seen.insert("POST /incidents/{id}/timeline");
        seen.insert("POST /orchestration/runs/{runId}/steps/{stepId}/complete");
        let all: BTreeSet<&str> = ROUTES.iter().map(|(r, _)| *r).collect();
        assert_eq!(seen, all);
        let routed = Capability::ROUTED.into_iter().map(Cap::Of);
        for cap in std::iter::once(Cap::Meta).chain(routed) {
            assert!(ROUTES.iter().any(|(_, c)| *c == cap), "{cap}");
        }
    }

    #[test]
    fn stateless_routes_cover_every_routed_capability() {
        let routes = stateless_routes();
        for cap in Capability::ROUTED.into_iter().map(Cap::Of) {
            assert!(routes.iter().any(|(_, c)| *c == cap), "{cap}");
        }
        assert!(routes.contains(&("GET /openapi.json", Cap::Meta)));
        assert!(!routes.iter().any(|(r, _)| *r == "POST /incidents"));
    }

    #[test]
    fn capability_names_parse_as_the_host_parses_them() {
        assert_eq!(Cap::parse("Incidents"), Some(Cap::Of(Capability::Incident)));
        assert_eq!(
            Cap::parse(" messages "),
            Some(Cap::Of(Capability::Messaging))
        );
        assert_eq!(
            Cap::parse("orchestration"),
            Some(Cap::Of(Capability::Orchestration))
        );
        for refused in ["secret", "meta", "", "incidentz"] {
            assert_eq!(Cap::parse(refused), None, "{refused:?}");
        }
        assert_eq!(Cap::Of(Capability::Log).to_string(), "log");
        assert_eq!(Cap::Meta.to_string(), "meta");
    }

    #[test]
    fn bodies_are_json() {
        let mut rng = Rng::new(7);
        for i in 0..STATELESS * 4 {
            if let Some(body) = stateless(i, 3, &mut rng).body {
                serde_json::from_str::<Value>(&body).unwrap_or_else(|e| panic!("{body}: {e}"));
            }
        }
        for n in 0..3 {
            let body = chain_start(n, 0, &mut rng).body.unwrap();
            serde_json::from_str::<Value>(&body).unwrap();
        }
    }

    #[test]
    fn run_steps_follow_dependencies() {
        let run = serde_json::json!({
            "id": "RUN-7009",
            "plan": {"steps": [
                {"id": "c", "dependsOn": ["a", "b"]},
                {"id": "b", "dependsOn": ["a"]},
                {"id": "a"},
                {"id": "d"}
            ]},
            "steps": [{"stepId": "d", "status": "succeeded"}]
        });
        assert_eq!(step_order(&run).unwrap(), ["a", "b", "c"]);
        let mut queue = VecDeque::new();
        let start = chain_start(2, 0, &mut Rng::new(1));
        follow_up(&start, run.to_string().as_bytes(), &mut queue).unwrap();
        assert_eq!(queue.len(), 4);
        assert_eq!(
            queue[0].path,
            "/orchestration/runs/RUN-7009/steps/a/complete"
        );
        assert_eq!(queue[3].then, Then::ExpectRunCompleted);
    }

    #[test]
    fn a_cycle_is_a_check_failure() {
        let run = serde_json::json!({
            "id": "RUN-1",
            "plan": {"steps": [{"id": "a", "dependsOn": ["b"]}, {"id": "b", "dependsOn": ["a"]}]},
            "steps": []
        });
        assert!(step_order(&run).is_err());
    }

    #[test]
    fn caps_parse_like_the_host() {
        assert_eq!(Cap::parse("Incidents"), Some(Cap::Of(Capability::Incident)));
        assert_eq!(Cap::parse("messages"), Some(Cap::Of(Capability::Messaging)));
        assert_eq!(Cap::parse("secret"), None);
    }
}
