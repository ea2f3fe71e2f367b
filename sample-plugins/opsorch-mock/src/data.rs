//! The seeded world of Acme Retail: people, incidents, alerts, tickets,
//! deployments and orchestration runs.
//!
//! Everything here is a pure function of the seed. Each kind of record draws
//! from its own random stream ([`Rng::stream`]), so a change to how one kind
//! is generated leaves the others as they were. All times are offsets from
//! the fixed reference instant ([`catalog::at`]), never the wall clock.
//! Records are generated oldest first and numbered in that order, so newer
//! records have higher ids and runtime-created ones continue the sequence.

use std::collections::HashMap;

use opsorch_plugin_api::schema::TeamMember;
use opsorch_plugin_api::schema::{
    Alert, Deployment, Incident, JsonMap, OrchestrationPlan, OrchestrationRun,
    OrchestrationStepState, QueryScope, Ticket, TimelineEntry, Timestamp,
};
use serde_json::{json, Value};

use crate::catalog::{self, at, ServiceDef, BASE_URL, REGIONS, SERVICES, TEAMS};
use crate::filter::{mock_metadata, obj};
use crate::plans;
use crate::rng::Rng;

pub const HOUR: i64 = 3600;
pub const DAY: i64 = 24 * HOUR;
pub const MINUTE: i64 = 60;

/// The seed used when the config gives none.
pub const DEFAULT_SEED: u64 = 42;

/// First ids of each sequence; runtime-created records continue from the
/// last seeded one.
pub const FIRST_INCIDENT: u32 = 1001;
pub const FIRST_ALERT: u32 = 2001;
pub const FIRST_DEPLOYMENT: u32 = 3001;
pub const FIRST_TICKET: u32 = 101;
pub const FIRST_RUN: u32 = 7001;

pub struct World {
    /// Members per team id, in [`TEAMS`] order.
    pub members: Vec<(&'static str, Vec<TeamMember>)>,
    /// Oldest first.
    pub incidents: Vec<Incident>,
    /// Keyed by incident id, each oldest first.
    pub timelines: HashMap<String, Vec<TimelineEntry>>,
    pub alerts: Vec<Alert>,
    pub tickets: Vec<Ticket>,
    pub deployments: Vec<Deployment>,
    pub plans: Vec<OrchestrationPlan>,
    pub runs: Vec<OrchestrationRun>,
}

impl World {
    pub fn generate(seed: u64) -> World {
        let members = members(seed);
        let mut world = World {
            members,
            incidents: Vec::new(),
            timelines: HashMap::new(),
            alerts: Vec::new(),
            tickets: Vec::new(),
            deployments: Vec::new(),
            plans: plans::plans(),
            runs: Vec::new(),
        };
        let (incidents, timelines) = incidents(seed, &world);
        world.incidents = incidents;
        world.timelines = timelines;
        world.alerts = alerts(seed);
        world.tickets = tickets(seed, &world);
        world.deployments = deployments(seed, &world);
        world.runs = runs(seed, &world);
        world
    }

    pub fn members_of(&self, team: &str) -> &[TeamMember] {
        self.members
            .iter()
            .find(|(id, _)| *id == team)
            .map(|(_, m)| m.as_slice())
            .unwrap_or(&[])
    }

    /// Someone on the team owning `service` who could respond to a page:
    /// anyone but the manager (the first member).
    fn responder(&self, rng: &mut Rng, service: &str) -> &TeamMember {
        let team = catalog::service(service).map_or("sre", |s| s.team);
        let members = self.members_of(team);
        if members.len() > 1 {
            rng.pick(&members[1..])
        } else {
            rng.pick(self.members_of("sre"))
        }
    }

    fn anyone(&self, rng: &mut Rng) -> &TeamMember {
        let (_, members) = rng.pick(&self.members);
        rng.pick(members)
    }
}

/// A person as the `actor` maps of timelines and deployments describe them.
pub fn person_actor(m: &TeamMember) -> JsonMap {
    obj(json!({"type": "user", "name": m.name, "handle": m.handle, "email": m.email}))
}

fn system_actor(name: &str) -> JsonMap {
    obj(json!({"type": "system", "name": name}))
}

fn with_metadata(extra: Value) -> JsonMap {
    let mut m = mock_metadata();
    m.extend(obj(extra));
    m
}

// ---------------------------------------------------------------- people --

const FIRST_NAMES: &[&str] = &[
    "Alice", "Bruno", "Chen", "Dana", "Elif", "Farah", "Gustavo", "Hana", "Ivan", "Jasmine",
    "Kofi", "Lena", "Mateo", "Nadia", "Oscar", "Priya", "Quentin", "Rosa", "Sanjay", "Tara",
    "Umar", "Vera", "Wei", "Ximena", "Yusuf", "Zoe", "Aiden", "Beatriz", "Carlos", "Divya", "Emil",
    "Freya", "Goran", "Ingrid", "Jonas", "Keiko", "Liam", "Maya", "Noah", "Olga",
];

const LAST_NAMES: &[&str] = &[
    "Anderson",
    "Baptiste",
    "Castillo",
    "Dubois",
    "Eriksen",
    "Fischer",
    "Gupta",
    "Haddad",
    "Ivanova",
    "Jensen",
    "Kowalski",
    "Larsen",
    "Moreau",
    "Nakamura",
    "Okafor",
    "Petrov",
    "Quinn",
    "Rossi",
    "Schmidt",
    "Tanaka",
    "Ueda",
    "Varga",
    "Walsh",
    "Xu",
    "Yilmaz",
    "Zhang",
    "Alvarez",
    "Brennan",
    "Costa",
    "Demir",
    "Evans",
    "Ferreira",
    "Garcia",
    "Horvat",
    "Ito",
    "Jovanovic",
    "Kim",
    "Lindqvist",
    "Mensah",
    "Novak",
];

const TIMEZONES: &[&str] = &[
    "America/New_York",
    "America/Los_Angeles",
    "Europe/Berlin",
    "Europe/London",
    "Asia/Singapore",
];

fn members(seed: u64) -> Vec<(&'static str, Vec<TeamMember>)> {
    let mut rng = Rng::stream(seed, "members");
    let mut firsts = FIRST_NAMES.to_vec();
    let mut lasts = LAST_NAMES.to_vec();
    rng.shuffle(&mut firsts);
    rng.shuffle(&mut lasts);
    // Last names are drawn without replacement, so handles (initial + last
    // name) are unique across the company.
    let mut people = firsts.into_iter().zip(lasts);
    TEAMS
        .iter()
        .map(|team| {
            let members = (0..team.size)
                .filter_map(|i| {
                    let (first, last) = people.next()?;
                    let handle = format!("{}{}", &first[..1], last).to_lowercase();
                    let role = match (team.id, i) {
                        ("engineering", 0) => "VP of Engineering",
                        ("engineering", 1) => "Director of Engineering",
                        ("engineering", _) => "Principal Engineer",
                        (_, 0) => "Engineering Manager",
                        (_, 1) => "Tech Lead",
                        ("sre", _) => *rng.pick(&[
                            "Site Reliability Engineer",
                            "Senior Site Reliability Engineer",
                        ]),
                        _ => *rng.pick(&[
                            "Software Engineer",
                            "Senior Software Engineer",
                            "Staff Engineer",
                        ]),
                    };
                    Some(TeamMember {
                        id: format!("usr-{handle}"),
                        name: format!("{first} {last}"),
                        email: format!("{}.{}@acme-retail.example", first, last).to_lowercase(),
                        handle,
                        role: role.into(),
                        metadata: with_metadata(json!({
                            "team": team.id,
                            "timezone": rng.pick(TIMEZONES),
                        })),
                    })
                })
                .collect();
            (team.id, members)
        })
        .collect()
}

// ------------------------------------------------------------- incidents --

const INCIDENT_TEMPLATES: &[(&str, &str, &str)] = &[
    ("checkout", "Checkout p99 latency above 2s", "Customers report slow checkout confirmation; p99 latency on /api/v1/checkout/confirm rose from 400ms to 2.3s."),
    ("checkout", "Cart totals wrong for multi-currency baskets", "EUR baskets show USD tax amounts after the currency rounding change."),
    ("payments", "Card authorisation failures via Stripe", "Authorisation success rate dropped to 71% for Visa cards routed through Stripe."),
    ("payments", "Refund queue backlog growing", "Refunds have been queued for more than 6 hours; the refund worker is stuck on a poison message."),
    ("payments", "Duplicate charges reported by customers", "Some customers were charged twice after a retry storm between checkout and payments."),
    ("api-gateway", "Elevated 502s from the API gateway in eu-west-1", "The gateway returns 502 for about 4% of requests in eu-west-1 after a node pool upgrade."),
    ("api-gateway", "Rate limiter blocking legitimate mobile traffic", "A rate-limit rule deployed this morning throttles the iOS app's product listing calls."),
    ("search", "Search results stale; indexer lagging", "Price and stock changes take over 40 minutes to appear in search results."),
    ("search", "Elasticsearch cluster yellow after node loss", "One data node was lost; 18 replica shards are unassigned."),
    ("catalog", "Product images missing on product pages", "Images for about 3% of products return 404 from the media bucket."),
    ("catalog", "Nightly catalog import failed", "The supplier feed import aborted on a malformed CSV row; 1,200 products were not updated."),
    ("inventory", "Inventory counts drifting from the warehouse system", "Available stock differs from the WMS for 450 SKUs, causing oversells."),
    ("inventory", "Stock reservation deadlocks under load", "Reservation transactions deadlock under load, failing add-to-cart for popular items."),
    ("notifications", "Order confirmation emails delayed", "Confirmation emails arrive 25-40 minutes late; SendGrid reports throttling."),
    ("notifications", "SMS provider returning 429s", "Twilio rejects delivery-update SMS with 429 Too Many Requests."),
    ("auth", "SSO login failures for enterprise customers", "Okta SAML assertions fail validation after the signing certificate rollover."),
    ("auth", "Token refresh errors spiking", "Refresh token requests from the mobile app fail with invalid_grant for about 8% of users."),
    ("web-frontend", "Storefront JS bundle 404 after CDN purge", "A CDN purge removed the current bundle hash; pages render without interactivity."),
    ("web-frontend", "Homepage LCP regression", "Largest Contentful Paint on the homepage regressed from 1.9s to 4.1s."),
    ("recommendations", "Recommendations serving a stale model", "The model server still serves last week's model; click-through is down 12%."),
    ("recommendations", "Feature store latency above SLO", "Feature lookups take 180ms p95 against a 50ms SLO; recommendation widgets time out."),
    ("orders", "Guest checkout orders failing", "Order placement fails for guest customers with a null customer id error."),
    ("orders", "Orders database replication lag", "The postgres-orders read replica lags 9 minutes behind the primary; order history is stale."),
    ("shipping", "FedEx rate API timeouts", "Rate quotes from FedEx time out after 10s; checkout falls back to flat-rate shipping."),
    ("shipping", "Shipping label generation failing", "UPS label creation returns 500; 300 orders are waiting for labels."),
    ("checkout", "Promo codes rejected at checkout", "SAVE20 campaign codes are rejected as invalid for logged-in customers."),
];

pub const INCIDENT_COUNT: usize = 25;

pub const INCIDENT_STATUSES: [&str; 5] = [
    "open",
    "acknowledged",
    "investigating",
    "mitigated",
    "resolved",
];

const INCIDENT_NOTES: &[&str] = &[
    "Dashboards shared in the incident channel; impact limited to {service}.",
    "Correlated with the latest {service} deployment; reviewing the diff.",
    "Upstream dependency {dep} confirmed degraded by its owners.",
    "Customer support reports a rise in related tickets.",
    "Opened a vendor case with {dep}.",
    "Scaled {service} from 6 to 12 replicas to absorb the retries.",
];

const MITIGATIONS: &[&str] = &[
    "rolled back {service} to the previous release",
    "failed over traffic away from {dep}",
    "disabled the offending feature flag",
    "scaled {service} out and drained the bad nodes",
    "paused the {dep} consumer and replayed the backlog",
];

fn fill(template: &str, service: &ServiceDef, dep: &str) -> String {
    template
        .replace("{service}", service.id)
        .replace("{dep}", dep)
}

fn incidents(seed: u64, world: &World) -> (Vec<Incident>, HashMap<String, Vec<TimelineEntry>>) {
    let mut rng = Rng::stream(seed, "incidents");
    let mut templates: Vec<_> = INCIDENT_TEMPLATES.iter().collect();
    rng.shuffle(&mut templates);
    let mut fresh_ranks = [0, 0, 1, 2, 2, 3];
    rng.shuffle(&mut fresh_ranks);

    struct Draft {
        incident: Incident,
        // (offset from creation, kind, body, actor)
        entries: Vec<(i64, &'static str, String, JsonMap)>,
    }

    let mut drafts: Vec<Draft> = templates
        .into_iter()
        .take(INCIDENT_COUNT)
        .enumerate()
        .map(|(i, &(service_id, title, description))| {
            let service = catalog::service(service_id).unwrap_or(&SERVICES[0]);
            // A few fresh incidents, a few from this week, the rest older.
            // The fresh ones take a fixed mix of active statuses and the
            // first two drawn are a sev1 and a sev2, so that every seed's demo
            // shows open, acknowledged and investigating incidents and a sev1.
            let (base_age, rank) = match i {
                0..=5 => (rng.range(30 * MINUTE, 20 * HOUR), fresh_ranks[i]),
                6..=11 => (
                    rng.range(DAY, 4 * DAY),
                    *rng.weighted(&[(0, 5), (1, 10), (2, 20), (3, 25), (4, 40)]),
                ),
                _ => (
                    rng.range(4 * DAY, 30 * DAY),
                    *rng.weighted(&[(3, 15), (4, 85)]),
                ),
            };
            let status = INCIDENT_STATUSES[rank];
            let severity = match i {
                0 => "sev1",
                1 => "sev2",
                _ => *rng.weighted(&[("sev1", 8), ("sev2", 25), ("sev3", 42), ("sev4", 25)]),
            };
            let environment = *rng.weighted(&[("production", 85), ("staging", 15)]);
            let region = *rng.pick(&REGIONS);
            let dep = rng.pick_str(service.dependencies);
            let responder = world.responder(&mut rng, service.id).clone();
            let name = &responder.name;

            let mut entries: Vec<(i64, &'static str, String, JsonMap)> = Vec::new();
            let mut t = 0;
            let mut next = |rng: &mut Rng, lo: i64, hi: i64| {
                t += rng.range(lo, hi);
                t
            };
            entries.push((
                0,
                "alert",
                format!("Alert fired: {title}"),
                system_actor("alertmanager"),
            ));
            let paged = format!(
                "Paged {name} (@{}) via the {}-primary schedule",
                responder.handle, service.team
            );
            if rank <= 2 {
                entries.push((
                    next(&mut rng, 30, 90),
                    "notification",
                    paged,
                    system_actor("pagerduty"),
                ));
            }
            if rank == 0 {
                let note = fill(rng.pick_str(INCIDENT_NOTES), service, dep);
                entries.push((
                    next(&mut rng, 3 * MINUTE, 10 * MINUTE),
                    "note",
                    note,
                    system_actor("opsorch"),
                ));
            }
            if rank >= 1 {
                let ack = format!("Acknowledged by {name}");
                entries.push((
                    next(&mut rng, MINUTE, 10 * MINUTE),
                    "acknowledgement",
                    ack,
                    person_actor(&responder),
                ));
            }
            if rank >= 2 {
                entries.push((
                    next(&mut rng, 2 * MINUTE, 15 * MINUTE),
                    "status_change",
                    "Status changed to investigating".into(),
                    person_actor(&responder),
                ));
                let note = fill(rng.pick_str(INCIDENT_NOTES), service, dep);
                entries.push((
                    next(&mut rng, 5 * MINUTE, 20 * MINUTE),
                    "note",
                    note,
                    person_actor(&responder),
                ));
            }
            if rank == 1 && rng.chance(0.5) {
                let note = fill(rng.pick_str(INCIDENT_NOTES), service, dep);
                entries.push((
                    next(&mut rng, 5 * MINUTE, 20 * MINUTE),
                    "note",
                    note,
                    person_actor(&responder),
                ));
            }
            if rank >= 3 {
                let how = fill(rng.pick_str(MITIGATIONS), service, dep);
                entries.push((
                    next(&mut rng, 20 * MINUTE, 2 * HOUR),
                    "status_change",
                    format!("Status changed to mitigated: {how}"),
                    person_actor(&responder),
                ));
            }
            if rank >= 4 {
                entries.push((
                    next(&mut rng, 30 * MINUTE, 4 * HOUR),
                    "status_change",
                    "Status changed to resolved".into(),
                    person_actor(&responder),
                ));
            }
            if (rank == 2 || rank >= 3) && entries.len() < 6 && rng.chance(0.6) {
                let body = if rank == 4 {
                    "Postmortem scheduled; follow-up tickets to be filed.".to_string()
                } else {
                    fill(rng.pick_str(INCIDENT_NOTES), service, dep)
                };
                entries.push((
                    next(&mut rng, 5 * MINUTE, 30 * MINUTE),
                    "note",
                    body,
                    person_actor(&responder),
                ));
            }
            // The whole timeline must lie before the reference instant.
            let span = entries.last().map_or(0, |e| e.0);
            let age = base_age.max(span + rng.range(5 * MINUTE, HOUR));
            let created = -age;
            let updated = created + span;

            let incident = Incident {
                id: String::new(),
                title: title.into(),
                description: description.into(),
                status: status.into(),
                severity: severity.into(),
                service: service.id.into(),
                url: String::new(),
                created_at: at(created),
                updated_at: at(updated),
                fields: obj(json!({
                    "environment": environment,
                    "region": region,
                    "commander": responder.handle,
                    "customerImpact": severity == "sev1" || severity == "sev2",
                })),
                metadata: with_metadata(json!({"team": service.team})),
            };
            let entries = entries
                .into_iter()
                .map(|(off, k, b, a)| (created + off, k, b, a))
                .collect();
            Draft { incident, entries }
        })
        .collect();

    drafts.sort_by_key(|d| d.incident.created_at);
    let mut timelines = HashMap::new();
    let incidents = drafts
        .into_iter()
        .enumerate()
        .map(|(i, draft)| {
            let mut incident = draft.incident;
            incident.id = format!("INC-{}", FIRST_INCIDENT as usize + i);
            incident.url = format!("{BASE_URL}/incidents/{}", incident.id);
            let entries = draft
                .entries
                .into_iter()
                .enumerate()
                .map(|(n, (offset, kind, body, actor))| TimelineEntry {
                    id: format!("{}-T{}", incident.id, n + 1),
                    incident_id: incident.id.clone(),
                    at: at(offset),
                    kind: kind.into(),
                    body,
                    actor,
                    metadata: mock_metadata(),
                })
                .collect();
            timelines.insert(incident.id.clone(), entries);
            incident
        })
        .collect();
    (incidents, timelines)
}

// ---------------------------------------------------------------- alerts --

/// Which services an alert rule makes sense for.
enum Applies {
    Any,
    /// Services with a dependency whose name starts with this.
    Dependency(&'static str),
    Tier1,
}

struct AlertRule {
    rule: &'static str,
    title: &'static str,
    description: &'static str,
    severity: &'static str,
    threshold: f64,
    applies: Applies,
}

const ALERT_RULES: &[AlertRule] = &[
    AlertRule {
        rule: "HighErrorRate",
        title: "{service}: 5xx error rate above 5%",
        description: "More than 5% of requests to {service} returned 5xx over 5 minutes.",
        severity: "critical",
        threshold: 0.05,
        applies: Applies::Any,
    },
    AlertRule {
        rule: "HighLatencyP99",
        title: "{service}: p99 latency above 1.5s",
        description: "p99 request latency of {service} exceeded 1.5s for 10 minutes.",
        severity: "warning",
        threshold: 1.5,
        applies: Applies::Any,
    },
    AlertRule {
        rule: "PodCrashLooping",
        title: "{service}: pods crash looping in {region}",
        description: "At least one {service} pod restarted more than 5 times in 15 minutes.",
        severity: "critical",
        threshold: 5.0,
        applies: Applies::Any,
    },
    AlertRule {
        rule: "CPUThrottling",
        title: "{service}: CPU throttling above 25%",
        description: "Containers of {service} are CPU throttled more than 25% of the time.",
        severity: "warning",
        threshold: 25.0,
        applies: Applies::Any,
    },
    AlertRule {
        rule: "MemoryPressure",
        title: "{service}: memory usage above 90% of limit",
        description: "Working set of {service} is above 90% of its memory limit.",
        severity: "warning",
        threshold: 90.0,
        applies: Applies::Any,
    },
    AlertRule {
        rule: "CertificateExpiringSoon",
        title: "{service}: TLS certificate expires in 14 days",
        description: "The serving certificate of {service} expires in 14 days.",
        severity: "info",
        threshold: 14.0,
        applies: Applies::Tier1,
    },
    AlertRule {
        rule: "QueueBacklogHigh",
        title: "{service}: consumer lag above 10k messages",
        description: "The Kafka consumer group of {service} is more than 10,000 messages behind.",
        severity: "warning",
        threshold: 10000.0,
        applies: Applies::Dependency("kafka"),
    },
    AlertRule {
        rule: "DBConnectionsSaturated",
        title: "{service}: DB connection pool 95% utilised",
        description: "The {service} database connection pool has been above 95% for 5 minutes.",
        severity: "critical",
        threshold: 0.95,
        applies: Applies::Dependency("postgres"),
    },
    AlertRule {
        rule: "SLOBurnRate",
        title: "{service}: availability SLO burning 14x",
        description:
            "{service} is consuming its 30-day error budget 14 times faster than sustainable.",
        severity: "critical",
        threshold: 14.0,
        applies: Applies::Tier1,
    },
    AlertRule {
        rule: "SyntheticCheckFailed",
        title: "{service}: synthetic journey failing",
        description:
            "The synthetic browser journey against {service} failed from 2 of 3 locations.",
        severity: "warning",
        threshold: 2.0,
        applies: Applies::Tier1,
    },
];

pub const ALERT_COUNT: usize = 40;

fn rule_applies(rule: &AlertRule, service: &ServiceDef) -> bool {
    match rule.applies {
        Applies::Any => true,
        Applies::Dependency(prefix) => service.dependencies.iter().any(|d| d.starts_with(prefix)),
        Applies::Tier1 => service.tier == "tier-1",
    }
}

fn alerts(seed: u64) -> Vec<Alert> {
    let mut rng = Rng::stream(seed, "alerts");
    let mut alerts: Vec<Alert> = (0..ALERT_COUNT)
        .map(|i| {
            let service = rng.pick(SERVICES);
            let candidates: Vec<&AlertRule> = ALERT_RULES
                .iter()
                .filter(|r| rule_applies(r, service))
                .collect();
            let rule = *rng.pick(&candidates);
            let region = *rng.pick(&REGIONS);
            let environment = *rng.weighted(&[("production", 80), ("staging", 20)]);
            let recent = i < 12;
            let age = if recent {
                rng.range(5 * MINUTE, 6 * HOUR)
            } else {
                rng.range(6 * HOUR, 7 * DAY)
            };
            let status = if recent {
                *rng.weighted(&[("firing", 55), ("acknowledged", 35), ("resolved", 10)])
            } else {
                *rng.weighted(&[("acknowledged", 10), ("resolved", 90)])
            };
            // Staging alerts page nobody; they are at most warnings.
            let severity = match (rule.severity, environment) {
                ("critical", "staging") => "warning",
                (s, _) if rng.chance(0.15) && s != "info" => "info",
                (s, _) => s,
            };
            let updated = if status == "firing" {
                -age
            } else {
                -age + rng.range(2 * MINUTE, (age / 2).max(3 * MINUTE))
            };
            let value = rule.threshold * (1.05 + rng.unit() * 0.8);
            let fill = |s: &str| {
                s.replace("{service}", service.id)
                    .replace("{region}", region)
            };
            Alert {
                id: String::new(),
                title: fill(rule.title),
                description: fill(rule.description),
                status: status.into(),
                severity: severity.into(),
                service: service.id.into(),
                url: String::new(),
                created_at: at(-age),
                updated_at: at(updated.min(0)),
                fields: obj(json!({
                    "rule": rule.rule,
                    "environment": environment,
                    "region": region,
                    "threshold": rule.threshold,
                    "value": (value * 1000.0).round() / 1000.0,
                    "runbook": format!("{BASE_URL}/runbooks/{}", rule.rule),
                })),
                metadata: with_metadata(json!({"monitor": "prometheus", "team": service.team})),
            }
        })
        .collect();
    alerts.sort_by_key(|a| a.created_at);
    for (i, alert) in alerts.iter_mut().enumerate() {
        alert.id = format!("ALR-{}", FIRST_ALERT as usize + i);
        alert.url = format!("{BASE_URL}/alerts/{}", alert.id);
    }
    alerts
}

// --------------------------------------------------------------- tickets --

const TICKET_TEMPLATES: &[(&str, &str, &str)] = &[
    (
        "checkout",
        "Add a circuit breaker around the payments client",
        "Checkout should fail fast when payments is degraded instead of holding connections.",
    ),
    (
        "checkout",
        "Load-test checkout for the holiday peak",
        "Run the 3x peak load profile against staging and record the saturation points.",
    ),
    (
        "payments",
        "Rotate postgres-payments credentials",
        "Credentials are 11 months old; rotate them and move them to the secret manager.",
    ),
    (
        "payments",
        "Use idempotency keys for Stripe webhooks",
        "Duplicate webhook deliveries create duplicate ledger entries.",
    ),
    (
        "api-gateway",
        "Upgrade Envoy to 1.31",
        "Picks up the HTTP/2 flow-control fix and the new rate-limit descriptor API.",
    ),
    (
        "api-gateway",
        "Per-client rate limit overrides",
        "Partners need higher limits than the default 100 rps per API key.",
    ),
    (
        "search",
        "Reindex products with the new analyzer",
        "The new stemming analyzer fixes plural queries; needs a zero-downtime reindex.",
    ),
    (
        "search",
        "Alert on indexer lag above 10 minutes",
        "We learned about the last lag from customers; add an alert on consumer lag.",
    ),
    (
        "catalog",
        "Validate the supplier CSV feed before import",
        "Reject malformed rows instead of aborting the whole import.",
    ),
    (
        "catalog",
        "Lifecycle rules for the product media bucket",
        "Old image renditions cost $2k/month; expire them after 90 days.",
    ),
    (
        "inventory",
        "Reconcile stock with the WMS hourly",
        "Nightly reconciliation lets drift build up for a whole day.",
    ),
    (
        "inventory",
        "Retry reservation transactions with jitter",
        "Deadlocked reservations should be retried instead of failing add-to-cart.",
    ),
    (
        "notifications",
        "Fail over SMS to the secondary provider on 429",
        "When Twilio throttles, route delivery updates through MessageBird.",
    ),
    (
        "notifications",
        "Template preview endpoint for marketing",
        "Marketing wants to preview transactional templates before publishing.",
    ),
    (
        "auth",
        "Automate SAML certificate rollover",
        "Rollover is manual and broke enterprise SSO last time.",
    ),
    (
        "auth",
        "Shorten access token TTL to 15 minutes",
        "Security review finding SR-88: tokens live for 24 hours.",
    ),
    (
        "web-frontend",
        "Keep the previous bundle on CDN purge",
        "Purges must not remove assets still referenced by cached HTML.",
    ),
    (
        "web-frontend",
        "Lazy-load below-the-fold homepage images",
        "Improves LCP on mobile by about 600ms in lab tests.",
    ),
    (
        "recommendations",
        "Alert when the served model is older than 3 days",
        "Stale models went unnoticed for a week.",
    ),
    (
        "recommendations",
        "Cache feature vectors for the top 10k products",
        "Most lookups hit a small set of products; cache them in-process.",
    ),
    (
        "orders",
        "Fix null customer id for guest orders",
        "Guest orders need a synthetic customer id before persistence.",
    ),
    (
        "orders",
        "Add replica lag to the orders dashboard",
        "Replica lag is only visible in the database console today.",
    ),
    (
        "shipping",
        "Timeout budget for carrier rate APIs",
        "Carrier calls should share a 1.5s budget rather than 10s each.",
    ),
    (
        "shipping",
        "Fallback label provider when UPS fails",
        "Queue labels for retry and fall back to ShipEngine after 3 failures.",
    ),
    (
        "",
        "Quarterly access review for production databases",
        "Confirm every human account on production databases is still needed.",
    ),
    (
        "",
        "Update the on-call handbook for the new escalation policy",
        "Escalation now goes to the secondary after 10 minutes instead of 15.",
    ),
    (
        "",
        "Tune alert thresholds to reduce paging noise",
        "40% of last month's pages were not actionable.",
    ),
    (
        "",
        "Document the release freeze calendar",
        "Freeze windows for Black Friday and Cyber Monday need to be published.",
    ),
];

pub const TICKET_COUNT: usize = 30;

fn tickets(seed: u64, world: &World) -> Vec<Ticket> {
    let mut rng = Rng::stream(seed, "tickets");
    // Postmortem follow-ups for resolved incidents make tickets and incidents
    // tell the same story.
    let resolved: Vec<&Incident> = world
        .incidents
        .iter()
        .filter(|i| i.status == "resolved")
        .collect();
    let postmortems = resolved.len().min(4);
    let mut templates: Vec<_> = TICKET_TEMPLATES.iter().collect();
    rng.shuffle(&mut templates);

    let mut drafts: Vec<(String, String, String, String)> = resolved
        .iter()
        .rev()
        .take(postmortems)
        .map(|inc| {
            (
                inc.service.clone(),
                format!("Postmortem: {}", inc.title),
                format!(
                    "Write up timeline, root cause and follow-ups for {}.",
                    inc.id
                ),
                inc.id.clone(),
            )
        })
        .collect();
    drafts.extend(
        templates
            .into_iter()
            .take(TICKET_COUNT - postmortems)
            .map(|&(s, t, d)| (s.to_string(), t.to_string(), d.to_string(), String::new())),
    );

    let mut tickets: Vec<Ticket> = drafts
        .into_iter()
        .map(|(service, title, description, incident_id)| {
            let team = catalog::service(&service).map_or("sre", |s| s.team);
            let members = world.members_of(team);
            let status = *rng.weighted(&[("todo", 35), ("in_progress", 30), ("done", 35)]);
            let assignees: Vec<String> = match (status, rng.below(3)) {
                ("todo", 0) => Vec::new(),
                (_, 2) if members.len() > 2 => {
                    let a = rng.below(members.len() as u64) as usize;
                    let b = (a + 1 + rng.below(members.len() as u64 - 1) as usize) % members.len();
                    vec![members[a].handle.clone(), members[b].handle.clone()]
                }
                _ => vec![rng.pick(members).handle.clone()],
            };
            let reporter = if incident_id.is_empty() {
                world.anyone(&mut rng).handle.clone()
            } else {
                members[0].handle.clone()
            };
            let age = rng.range(HOUR, 45 * DAY);
            let updated = -age + rng.range(0, age - 1);
            let priority = *rng.weighted(&[("P1", 10), ("P2", 30), ("P3", 45), ("P4", 15)]);
            let mut fields = obj(json!({"priority": priority, "team": team}));
            if !service.is_empty() {
                fields.insert("service".into(), service.clone().into());
            }
            if !incident_id.is_empty() {
                fields.insert("incidentId".into(), incident_id.into());
                fields.insert("environment".into(), "production".into());
            }
            Ticket {
                title,
                description,
                status: status.into(),
                assignees,
                reporter,
                created_at: at(-age),
                updated_at: at(updated),
                fields,
                metadata: with_metadata(json!({"project": "OPS"})),
                ..Default::default()
            }
        })
        .collect();
    tickets.sort_by_key(|t| t.created_at);
    for (i, ticket) in tickets.iter_mut().enumerate() {
        ticket.id = format!("OPS-{}", FIRST_TICKET as usize + i);
        ticket.key = ticket.id.clone();
        ticket.url = format!("{BASE_URL}/tickets/{}", ticket.id);
    }
    tickets
}

// ----------------------------------------------------------- deployments --

const DEPLOY_SUMMARIES: &[&str] = &[
    "Bump dependencies",
    "Fix nil handling in {endpoint} handler",
    "Add metrics for the {dep} client",
    "Enable the new-pricing feature flag",
    "Reduce connection pool size",
    "Upgrade base image to distroless",
    "Retry {dep} calls with exponential backoff",
    "Improve logging around {endpoint}",
    "Cache responses of {endpoint}",
    "Remove dead code paths",
];

pub const DEPLOYMENT_COUNT: usize = 40;

fn deployments(seed: u64, world: &World) -> Vec<Deployment> {
    let mut rng = Rng::stream(seed, "deployments");
    // Each service starts from its own version and bumps on every release.
    let mut versions: Vec<(u32, u32, u32)> = SERVICES
        .iter()
        .map(|_| {
            (
                rng.range(1, 4) as u32,
                rng.range(0, 20) as u32,
                rng.range(0, 9) as u32,
            )
        })
        .collect();
    // Spread over two weeks, oldest first, with the last two still running.
    let mut ages: Vec<i64> = (0..DEPLOYMENT_COUNT - 2)
        .map(|_| rng.range(HOUR, 14 * DAY))
        .collect();
    ages.sort_unstable_by(|a, b| b.cmp(a));
    ages.push(rng.range(8 * MINUTE, 15 * MINUTE));
    ages.push(rng.range(2 * MINUTE, 6 * MINUTE));

    let mut previous = None;
    ages.into_iter()
        .enumerate()
        .map(|(i, age)| {
            let mut si = rng.below(SERVICES.len() as u64) as usize;
            // The two running deployments are of different services; two
            // concurrent rollouts of one service would look like a bug.
            if i == DEPLOYMENT_COUNT - 1 && previous == Some(si) {
                si = (si + 1) % SERVICES.len();
            }
            previous = Some(si);
            let service = &SERVICES[si];
            let v = &mut versions[si];
            if rng.chance(0.2) {
                *v = (v.0, v.1 + 1, 0);
            } else {
                v.2 += 1;
            }
            let version = format!("v{}.{}.{}", v.0, v.1, v.2);
            let in_progress = i >= DEPLOYMENT_COUNT - 2;
            let status = if in_progress {
                "in_progress"
            } else {
                *rng.weighted(&[("success", 78), ("failed", 12), ("rolled_back", 10)])
            };
            let environment = *rng.weighted(&[("production", 65), ("staging", 35)]);
            let duration = rng.range(3 * MINUTE, 25 * MINUTE);
            let actor = if rng.chance(0.4) {
                obj(json!({"type": "ci", "name": "github-actions"}))
            } else {
                person_actor(world.responder(&mut rng, service.id))
            };
            let summary = rng
                .pick(DEPLOY_SUMMARIES)
                .replace("{endpoint}", rng.pick_str(service.endpoints))
                .replace("{dep}", rng.pick_str(service.dependencies));
            let id = format!("DEP-{}", FIRST_DEPLOYMENT as usize + i);
            Deployment {
                url: format!("{BASE_URL}/deployments/{id}"),
                id,
                service: service.id.into(),
                environment: environment.into(),
                version,
                status: status.into(),
                started_at: at(-age),
                finished_at: if in_progress { Timestamp::ZERO } else { at(-age + duration) },
                actor,
                fields: obj(json!({
                    "commit": rng.hex(7),
                    "branch": "main",
                    "summary": summary,
                    "region": rng.pick(&REGIONS),
                    "pipeline": format!("https://ci.mock.opsorch.local/acme-retail/{}/runs/{}", service.id, 4000 + rng.below(6000)),
                })),
                metadata: with_metadata(json!({"tool": "argo-cd", "team": service.team})),
            }
        })
        .collect()
}

// ------------------------------------------------------------------ runs --

enum Progress {
    Completed,
    /// The first n steps succeeded; the rest are ready or pending.
    Running(usize, usize),
    /// Steps before the named one succeeded; it is blocked.
    Blocked(&'static str),
    /// Steps before the named one succeeded; it failed and the rest were skipped.
    Failed(&'static str),
    /// The first n steps succeeded; the rest were cancelled.
    Cancelled(usize),
}

struct RunTemplate {
    plan: &'static str,
    progress: Progress,
    service: &'static str,
    environment: &'static str,
    /// How long ago it started, in hours (jittered).
    age_hours: i64,
}

/// Oldest first. The last one is a fresh release-checklist run whose first
/// steps are ready, for README examples: RUN-7008, step `freeze-check`.
const RUN_TEMPLATES: &[RunTemplate] = &[
    RunTemplate {
        plan: "db-failover",
        progress: Progress::Completed,
        service: "orders",
        environment: "production",
        age_hours: 480,
    },
    RunTemplate {
        plan: "release-checklist",
        progress: Progress::Completed,
        service: "payments",
        environment: "production",
        age_hours: 290,
    },
    RunTemplate {
        plan: "cert-rotation",
        progress: Progress::Failed("verify-tls"),
        service: "api-gateway",
        environment: "staging",
        age_hours: 215,
    },
    RunTemplate {
        plan: "incident-response-sev1",
        progress: Progress::Cancelled(2),
        service: "checkout",
        environment: "production",
        age_hours: 145,
    },
    RunTemplate {
        plan: "rollback-service",
        progress: Progress::Completed,
        service: "search",
        environment: "production",
        age_hours: 70,
    },
    RunTemplate {
        plan: "cert-rotation",
        progress: Progress::Blocked("verify-tls"),
        service: "auth",
        environment: "production",
        age_hours: 26,
    },
    RunTemplate {
        plan: "incident-response-sev1",
        progress: Progress::Running(2, 4),
        service: "payments",
        environment: "production",
        age_hours: 3,
    },
    RunTemplate {
        plan: "release-checklist",
        progress: Progress::Running(0, 0),
        service: "checkout",
        environment: "production",
        age_hours: 0,
    },
];

const STEP_NOTES: &[(&str, &str)] = &[
    ("verify", "Verified: all checks passing."),
    ("observe", "No anomalies in the last 15 minutes."),
    ("invoke", "Executed via the pipeline; exit code 0."),
    ("manual", "Done."),
    ("record", "Recorded in the run log."),
];

fn runs(seed: u64, world: &World) -> Vec<OrchestrationRun> {
    let mut rng = Rng::stream(seed, "runs");
    RUN_TEMPLATES
        .iter()
        .enumerate()
        .filter_map(|(i, tpl)| {
            let plan = world.plans.iter().find(|p| p.id == tpl.plan)?;
            let started = -(tpl.age_hours * HOUR) - rng.range(10 * MINUTE, 40 * MINUTE);
            let position = |id: &str| plan.steps.iter().position(|s| s.id == id).unwrap_or(0);
            let (done, stopped_status, run_status) = match tpl.progress {
                Progress::Completed => (plan.steps.len(), "", "completed"),
                Progress::Running(lo, hi) => {
                    (rng.range(lo as i64, hi as i64) as usize, "", "running")
                }
                Progress::Blocked(step) => (position(step), "blocked", "blocked"),
                Progress::Failed(step) => (position(step), "failed", "failed"),
                Progress::Cancelled(n) => (n, "cancelled", "cancelled"),
            };
            let handle = world.responder(&mut rng, tpl.service).handle.clone();
            let mut t = started;
            let mut states: Vec<OrchestrationStepState> = Vec::with_capacity(plan.steps.len());
            for (n, step) in plan.steps.iter().enumerate() {
                let mut state = OrchestrationStepState {
                    step_id: step.id.clone(),
                    metadata: mock_metadata(),
                    ..Default::default()
                };
                if n < done {
                    let begin = t;
                    t += rng.range(2 * MINUTE, 20 * MINUTE);
                    // Fresh runs have no progress, so the clamp only guards
                    // the jitter against crossing the reference instant.
                    t = t.min(-MINUTE);
                    state.status = "succeeded".into();
                    state.actor = handle.clone();
                    state.note = STEP_NOTES
                        .iter()
                        .find(|(k, _)| *k == step.kind)
                        .map_or("Done.", |(_, n)| n)
                        .into();
                    state.started_at = Some(at(begin));
                    state.finished_at = Some(at(t));
                    state.updated_at = Some(at(t));
                } else if n == done && !stopped_status.is_empty() && stopped_status != "cancelled" {
                    t += rng.range(MINUTE, 10 * MINUTE);
                    state.status = stopped_status.into();
                    state.actor = handle.clone();
                    state.note = if stopped_status == "blocked" {
                        "Waiting for the security team to approve the new SAN list.".into()
                    } else {
                        "TLS handshake failed from eu-west-1: certificate chain incomplete.".into()
                    };
                    state.started_at = Some(at(t - MINUTE));
                    state.updated_at = Some(at(t));
                    if stopped_status == "failed" {
                        state.finished_at = Some(at(t));
                    }
                } else {
                    state.status = match stopped_status {
                        "failed" => "skipped",
                        "cancelled" => "cancelled",
                        _ => "pending",
                    }
                    .into();
                }
                states.push(state);
            }
            let updated = t;
            let mut run = OrchestrationRun {
                id: format!("RUN-{}", FIRST_RUN as usize + i),
                plan_id: plan.id.clone(),
                plan: Some(plan.clone()),
                status: run_status.into(),
                scope: QueryScope {
                    service: tpl.service.into(),
                    team: String::new(),
                    environment: tpl.environment.into(),
                },
                steps: states,
                created_at: at(started),
                updated_at: at(updated),
                url: String::new(),
                fields: obj(json!({"triggeredBy": handle})),
                metadata: mock_metadata(),
            };
            run.url = format!("{BASE_URL}/orchestration/runs/{}", run.id);
            promote_ready_steps(&mut run, at(updated));
            Some(run)
        })
        .collect()
}

/// Whether a step state counts as done for its dependants. Skipped steps
/// count: skipping is an explicit decision to move on without them.
pub fn step_done(status: &str) -> bool {
    status == "succeeded" || status == "skipped"
}

/// Marks every pending step whose dependencies are all done as `ready`.
/// Used both when seeding and after each completed step.
pub fn promote_ready_steps(run: &mut OrchestrationRun, now: Timestamp) {
    let Some(plan) = run.plan.as_ref() else {
        return;
    };
    let ready: Vec<usize> = run
        .steps
        .iter()
        .enumerate()
        .filter(|(_, s)| s.status == "pending")
        .filter(|(_, s)| {
            plan.steps
                .iter()
                .find(|p| p.id == s.step_id)
                .is_some_and(|p| {
                    p.depends_on.iter().all(|dep| {
                        run.steps
                            .iter()
                            .any(|d| &d.step_id == dep && step_done(&d.status))
                    })
                })
        })
        .map(|(i, _)| i)
        .collect();
    for i in ready {
        run.steps[i].status = "ready".into();
        run.steps[i].updated_at = Some(now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn world_has_the_promised_sizes() {
        let w = World::generate(DEFAULT_SEED);
        assert_eq!(w.incidents.len(), INCIDENT_COUNT);
        assert_eq!(w.alerts.len(), ALERT_COUNT);
        assert_eq!(w.tickets.len(), TICKET_COUNT);
        assert_eq!(w.deployments.len(), DEPLOYMENT_COUNT);
        assert_eq!(w.plans.len(), 5);
        assert_eq!(w.runs.len(), RUN_TEMPLATES.len());
        for (_, members) in &w.members {
            assert!((3..=6).contains(&members.len()));
        }
    }

    #[test]
    fn timelines_have_three_to_six_entries_before_the_reference() {
        for seed in [1, 2, DEFAULT_SEED, 99, 12345] {
            let w = World::generate(seed);
            for inc in &w.incidents {
                let tl = &w.timelines[&inc.id];
                assert!((3..=6).contains(&tl.len()), "{} has {}", inc.id, tl.len());
                assert!(tl.windows(2).all(|p| p[0].at <= p[1].at));
                assert_eq!(tl.last().unwrap().at, inc.updated_at);
                assert!(inc.updated_at < at(0));
            }
        }
    }

    #[test]
    fn every_seed_shows_every_incident_status_and_a_sev1() {
        for seed in 0..30 {
            let w = World::generate(seed);
            for status in INCIDENT_STATUSES {
                assert!(
                    w.incidents.iter().any(|i| i.status == status),
                    "seed {seed}: no {status}"
                );
            }
            assert!(
                w.incidents.iter().any(|i| i.severity == "sev1"),
                "seed {seed}"
            );
            let running: Vec<_> = w
                .deployments
                .iter()
                .filter(|d| d.status == "in_progress")
                .collect();
            assert_eq!(running.len(), 2);
            assert_ne!(running[0].service, running[1].service);
        }
    }

    #[test]
    fn handles_are_unique() {
        let w = World::generate(7);
        let mut handles: Vec<_> = w
            .members
            .iter()
            .flat_map(|(_, m)| m.iter().map(|m| &m.handle))
            .collect();
        let n = handles.len();
        handles.sort();
        handles.dedup();
        assert_eq!(handles.len(), n);
    }

    #[test]
    fn fresh_run_has_ready_roots() {
        let w = World::generate(DEFAULT_SEED);
        let run = w.runs.last().unwrap();
        assert_eq!(run.id, "RUN-7008");
        assert_eq!(run.status, "running");
        let ready: Vec<_> = run
            .steps
            .iter()
            .filter(|s| s.status == "ready")
            .map(|s| s.step_id.as_str())
            .collect();
        assert_eq!(ready, ["freeze-check", "review-changelog"]);
    }
}
