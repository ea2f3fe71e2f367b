//! `metric`: a fixed metric catalogue whose series are computed on demand.
//!
//! A series is one combination of label values (service, env, region and the
//! metric's own labels). Its value at time `t` is a pure function of (seed,
//! series, t): a daily cycle peaking at 18:00 UTC plus per-second noise, so
//! overlapping queries agree on shared timestamps. Counters are the integral
//! of a positive rate since 2024-01-01 and therefore never decrease; gauges
//! are clamped to their physical range (0-100 %, 0-1 ratios, pool sizes).
//!
//! Unknown metric names return an empty list, as Prometheus does for a
//! selector that matches nothing; only malformed queries are errors.

use std::collections::BTreeMap;
use std::f64::consts::PI;

use chrono::Duration;
use opsorch_plugin_api::schema::{
    JsonMap, MetricDescriptor, MetricPoint, MetricQuery, MetricSeries, QueryScope, Timestamp,
};
use opsorch_plugin_api::{Error, MetricProvider, Result};
use serde_json::Value;

use crate::catalog::{self, ServiceDef, BASE_URL, ENVIRONMENTS, REGIONS, SERVICES};
use crate::filter::{contains_ci, mock_metadata};
use crate::rng::{hash, hash_str, unit_from};

/// More points than this in one series is a client mistake (a tiny step over
/// a long range), answered with 400 rather than a huge response.
pub const MAX_POINTS: u64 = 11_000;
/// Bound on points across all returned series.
pub const MAX_TOTAL_POINTS: u64 = 1_000_000;
pub const DEFAULT_STEP: u64 = 60;

/// Counters start counting here (2024-01-01T00:00:00Z).
const COUNTER_EPOCH: f64 = 1_704_067_200.0;
const DAY: f64 = 86_400.0;

enum Services {
    All,
    Only(&'static [&'static str]),
    /// Services with a dependency whose name starts with this prefix.
    WithDependency(&'static str),
}

/// One label dimension of a metric.
enum Label {
    Service,
    Env,
    Region,
    /// Fixed values, each with a weight that scales the series' level.
    Fixed(&'static str, &'static [(&'static str, f64)]),
    /// One value per matching dependency of the service (e.g. its database).
    Dependency(&'static str, &'static str),
}

impl Label {
    fn name(&self) -> &'static str {
        match self {
            Label::Service => "service",
            Label::Env => "env",
            Label::Region => "region",
            Label::Fixed(name, _) | Label::Dependency(name, _) => name,
        }
    }
}

enum Shape {
    /// A monotonic count at `rate` per second for a tier-1 production series.
    Counter { rate: f64 },
    /// A level drawn per series from `lo..hi`, moved by the daily cycle
    /// (`swing`, a fraction) and noise (`noise`, a fraction), clamped to
    /// `min..=max` and rounded to `decimals`.
    Gauge {
        lo: f64,
        hi: f64,
        swing: f64,
        noise: f64,
        min: f64,
        max: f64,
        decimals: i32,
    },
}

struct MetricDef {
    name: &'static str,
    kind: &'static str,
    description: &'static str,
    unit: &'static str,
    services: Services,
    labels: &'static [Label],
    shape: Shape,
}

const STD: &[Label] = &[Label::Service, Label::Env, Label::Region];

const CATALOGUE: &[MetricDef] = &[
    MetricDef {
        name: "http_requests_total",
        kind: "counter",
        description: "HTTP requests served, by method and status class",
        unit: "requests",
        services: Services::All,
        labels: &[
            Label::Service,
            Label::Env,
            Label::Region,
            Label::Fixed("method", &[("GET", 0.7), ("POST", 0.3)]),
            Label::Fixed("status", &[("2xx", 0.95), ("4xx", 0.04), ("5xx", 0.01)]),
        ],
        shape: Shape::Counter { rate: 220.0 },
    },
    MetricDef {
        name: "http_request_duration_seconds",
        kind: "histogram",
        description: "p95 HTTP request latency",
        unit: "seconds",
        services: Services::All,
        labels: &[
            Label::Service,
            Label::Env,
            Label::Region,
            Label::Fixed("method", &[("GET", 1.0), ("POST", 1.6)]),
        ],
        shape: Shape::Gauge {
            lo: 0.04,
            hi: 0.35,
            swing: 0.3,
            noise: 0.15,
            min: 0.001,
            max: 30.0,
            decimals: 4,
        },
    },
    MetricDef {
        name: "cpu_usage_percent",
        kind: "gauge",
        description: "CPU usage of the service's pods as a percentage of their limit",
        unit: "percent",
        services: Services::All,
        labels: STD,
        shape: Shape::Gauge {
            lo: 18.0,
            hi: 55.0,
            swing: 0.35,
            noise: 0.1,
            min: 0.0,
            max: 100.0,
            decimals: 2,
        },
    },
    MetricDef {
        name: "memory_usage_bytes",
        kind: "gauge",
        description: "Working-set memory of the service's pods",
        unit: "bytes",
        services: Services::All,
        labels: STD,
        shape: Shape::Gauge {
            lo: 268_435_456.0,
            hi: 3_221_225_472.0,
            swing: 0.05,
            noise: 0.02,
            min: 0.0,
            max: 8_589_934_592.0,
            decimals: 0,
        },
    },
    MetricDef {
        name: "error_rate",
        kind: "gauge",
        description: "Fraction of requests that failed with a 5xx",
        unit: "ratio",
        services: Services::All,
        labels: STD,
        shape: Shape::Gauge {
            lo: 0.002,
            hi: 0.012,
            swing: 0.2,
            noise: 0.5,
            min: 0.0,
            max: 1.0,
            decimals: 5,
        },
    },
    MetricDef {
        name: "queue_depth",
        kind: "gauge",
        description: "Messages waiting in the service's work queues",
        unit: "messages",
        services: Services::WithDependency("kafka"),
        labels: &[
            Label::Service,
            Label::Env,
            Label::Fixed("queue", &[("default", 1.0), ("retry", 0.1)]),
        ],
        shape: Shape::Gauge {
            lo: 20.0,
            hi: 400.0,
            swing: 0.6,
            noise: 0.3,
            min: 0.0,
            max: 1_000_000.0,
            decimals: 0,
        },
    },
    MetricDef {
        name: "db_connections",
        kind: "gauge",
        description: "Open connections in the service's database pool (max 100)",
        unit: "connections",
        services: Services::WithDependency("postgres"),
        labels: &[
            Label::Service,
            Label::Env,
            Label::Dependency("db", "postgres"),
        ],
        shape: Shape::Gauge {
            lo: 12.0,
            hi: 60.0,
            swing: 0.3,
            noise: 0.1,
            min: 0.0,
            max: 100.0,
            decimals: 0,
        },
    },
    MetricDef {
        name: "cache_hit_ratio",
        kind: "gauge",
        description: "Fraction of cache lookups served from Redis",
        unit: "ratio",
        services: Services::WithDependency("redis"),
        labels: &[
            Label::Service,
            Label::Env,
            Label::Dependency("cache", "redis"),
        ],
        shape: Shape::Gauge {
            lo: 0.82,
            hi: 0.97,
            swing: -0.03,
            noise: 0.02,
            min: 0.0,
            max: 1.0,
            decimals: 4,
        },
    },
    MetricDef {
        name: "pod_restarts_total",
        kind: "counter",
        description: "Container restarts of the service's pods",
        unit: "restarts",
        services: Services::All,
        labels: STD,
        shape: Shape::Counter {
            rate: 1.0 / 21_600.0,
        },
    },
    MetricDef {
        name: "payment_authorizations_total",
        kind: "counter",
        description: "Card authorisation attempts by payment provider and outcome",
        unit: "authorizations",
        services: Services::Only(&["payments"]),
        labels: &[
            Label::Service,
            Label::Env,
            Label::Fixed("provider", &[("stripe", 0.65), ("adyen", 0.35)]),
            Label::Fixed(
                "status",
                &[("approved", 0.93), ("declined", 0.06), ("error", 0.01)],
            ),
        ],
        shape: Shape::Counter { rate: 40.0 },
    },
    MetricDef {
        name: "orders_placed_total",
        kind: "counter",
        description: "Orders placed, by sales channel",
        unit: "orders",
        services: Services::Only(&["orders"]),
        labels: &[
            Label::Service,
            Label::Env,
            Label::Fixed("channel", &[("web", 0.55), ("ios", 0.3), ("android", 0.15)]),
        ],
        shape: Shape::Counter { rate: 6.0 },
    },
];

impl MetricDef {
    fn emitted_by(&self, service: &ServiceDef) -> bool {
        match self.services {
            Services::All => true,
            Services::Only(ids) => ids.contains(&service.id),
            Services::WithDependency(prefix) => {
                service.dependencies.iter().any(|d| d.starts_with(prefix))
            }
        }
    }

    fn describe(&self) -> MetricDescriptor {
        let services: Vec<&str> = SERVICES
            .iter()
            .filter(|s| self.emitted_by(s))
            .map(|s| s.id)
            .collect();
        let mut metadata = mock_metadata();
        metadata.insert("services".into(), Value::from(services));
        MetricDescriptor {
            name: self.name.into(),
            kind: self.kind.into(),
            description: self.description.into(),
            labels: self.labels.iter().map(|l| l.name().to_string()).collect(),
            unit: self.unit.into(),
            url: format!("{BASE_URL}/metrics/explore?metric={}", self.name),
            metadata,
        }
    }
}

/// One concrete series: its labels in catalogue order and its level.
struct Series {
    service: &'static ServiceDef,
    labels: Vec<(&'static str, &'static str)>,
    /// Product of the label weights (and, for counters, tier, env, region).
    weight: f64,
}

impl Series {
    fn label(&self, name: &str) -> &str {
        self.labels
            .iter()
            .find(|(k, _)| *k == name)
            .map_or("", |(_, v)| v)
    }
}

fn tier_factor(service: &ServiceDef) -> f64 {
    match service.tier {
        "tier-1" => 1.0,
        "tier-2" => 0.4,
        _ => 0.15,
    }
}

/// Every series of `def` in a stable order: services in catalogue order,
/// then each label's values in order.
fn enumerate(def: &MetricDef) -> Vec<Series> {
    let mut out = Vec::new();
    for service in SERVICES.iter().filter(|s| def.emitted_by(s)) {
        let counter = matches!(def.shape, Shape::Counter { .. });
        let mut partial = vec![Series {
            service,
            labels: Vec::with_capacity(def.labels.len()),
            weight: if counter { tier_factor(service) } else { 1.0 },
        }];
        for label in def.labels {
            let values: Vec<(&'static str, f64)> = match label {
                Label::Service => vec![(service.id, 1.0)],
                // Staging takes a sliver of the traffic; only counters scale.
                Label::Env => ENVIRONMENTS
                    .iter()
                    .map(|e| {
                        (
                            *e,
                            if counter && *e == "staging" {
                                0.05
                            } else {
                                1.0
                            },
                        )
                    })
                    .collect(),
                Label::Region => REGIONS
                    .iter()
                    .map(|r| {
                        (
                            *r,
                            if counter && *r == "eu-west-1" {
                                0.4 / 0.6
                            } else {
                                1.0
                            },
                        )
                    })
                    .collect(),
                Label::Fixed(_, values) => values.to_vec(),
                Label::Dependency(_, prefix) => service
                    .dependencies
                    .iter()
                    .filter(|d| d.starts_with(prefix))
                    .map(|d| (*d, 1.0))
                    .collect(),
            };
            partial = partial
                .into_iter()
                .flat_map(|s| {
                    values.iter().map(move |(v, w)| {
                        let mut labels = s.labels.clone();
                        labels.push((label.name(), v));
                        Series {
                            service: s.service,
                            labels,
                            weight: s.weight * w,
                        }
                    })
                })
                .collect();
        }
        out.extend(partial);
    }
    out
}

/// A label condition of the query, validated.
enum Cond<'a> {
    Eq(&'a str, &'a str),
    Ne(&'a str, &'a str),
    Contains(&'a str, &'a str),
    NotContains(&'a str, &'a str),
}

impl Cond<'_> {
    /// A label the series lacks has the value "" (Prometheus semantics).
    fn holds(&self, s: &Series) -> bool {
        match *self {
            Cond::Eq(l, v) => s.label(l).eq_ignore_ascii_case(v),
            Cond::Ne(l, v) => !s.label(l).eq_ignore_ascii_case(v),
            Cond::Contains(l, v) => contains_ci(s.label(l), v),
            Cond::NotContains(l, v) => !contains_ci(s.label(l), v),
        }
    }
}

fn scope_holds(scope: &QueryScope, s: &Series) -> bool {
    (scope.service.is_empty() || s.service.id.eq_ignore_ascii_case(&scope.service))
        && (scope.team.is_empty() || catalog::team_within(s.service.team, &scope.team))
        // Series without an env label (none today) belong to every env.
        && (scope.environment.is_empty()
            || s.label("env").is_empty()
            || catalog::env_matches(s.label("env"), &scope.environment))
}

#[derive(Clone, Copy)]
enum Aggregation {
    Sum,
    Avg,
    Max,
    Min,
    Count,
}

fn parse_aggregation(a: &str) -> Result<Aggregation> {
    Ok(match a.to_ascii_lowercase().as_str() {
        "" | "sum" => Aggregation::Sum,
        "avg" | "mean" | "average" => Aggregation::Avg,
        "max" => Aggregation::Max,
        "min" => Aggregation::Min,
        "count" => Aggregation::Count,
        other => {
            return Err(Error::bad_request(format!(
                "unsupported aggregation {other:?} (use sum, avg, max, min or count)"
            )))
        }
    })
}

fn round_to(v: f64, decimals: i32) -> f64 {
    let f = 10f64.powi(decimals);
    (v * f).round() / f
}

/// The series' value at `t` (Unix seconds, fractional).
fn value(def: &MetricDef, seed: u64, key: u64, weight: f64, t: f64) -> f64 {
    let level = unit_from(hash(&[seed, key, 1]));
    match def.shape {
        Shape::Counter { rate } => {
            // Integral of rate * (1 - A sin(2πx/DAY)): positive rate, so the
            // count never decreases; the rate peaks at 18:00 UTC.
            let rate = rate * weight * (0.8 + 0.4 * level);
            let x = t - COUNTER_EPOCH;
            if x <= 0.0 {
                return 0.0;
            }
            let amplitude = 0.5;
            let integral = x - amplitude * DAY / (2.0 * PI) * (1.0 - (2.0 * PI * x / DAY).cos());
            (rate * integral).floor()
        }
        Shape::Gauge {
            lo,
            hi,
            swing,
            noise,
            min,
            max,
            decimals,
        } => {
            let base = (lo + (hi - lo) * level) * weight;
            let daily = -(2.0 * PI * t.rem_euclid(DAY) / DAY).sin();
            let jitter = unit_from(hash(&[seed, key, t.floor() as i64 as u64])) - 0.5;
            let v = base * (1.0 + swing * daily) + base * noise * jitter;
            round_to(v.clamp(min, max), decimals)
        }
    }
}

pub struct MockMetrics {
    seed: u64,
}

impl MockMetrics {
    pub fn new(seed: u64) -> Self {
        MockMetrics { seed }
    }
}

fn labels_json(labels: &[(&str, &str)]) -> JsonMap {
    labels
        .iter()
        .map(|(k, v)| (k.to_string(), Value::from(*v)))
        .collect()
}

impl MetricProvider for MockMetrics {
    fn query(&self, q: MetricQuery) -> Result<Vec<MetricSeries>> {
        let expr = q.expression.unwrap_or_default();
        if expr.metric_name.trim().is_empty() {
            return Err(Error::bad_request("expression.metricName is required"));
        }
        let aggregation = parse_aggregation(&expr.aggregation)?;
        let conds = expr
            .filters
            .iter()
            .map(|f| {
                let (l, v) = (f.label.as_str(), f.value.as_str());
                Ok(match f.operator.as_str() {
                    "=" | "==" => Cond::Eq(l, v),
                    "!=" => Cond::Ne(l, v),
                    // No regex engine: regex matches are treated as substrings.
                    "=~" => Cond::Contains(l, v),
                    "!~" => Cond::NotContains(l, v),
                    other => {
                        return Err(Error::bad_request(format!(
                            "unsupported label operator {other:?} (use =, != , =~ or !~)"
                        )))
                    }
                })
            })
            .collect::<Result<Vec<_>>>()?;

        // Window: a zero end is now, a zero start an hour before the end.
        let end = if q.end.is_zero() {
            Timestamp::now()
        } else {
            q.end
        };
        let start = if q.start.is_zero() {
            Timestamp::from(end.into_inner() - Duration::hours(1))
        } else {
            q.start
        };
        if end < start {
            return Err(Error::bad_request("end is before start"));
        }
        let step = if q.step == 0 { DEFAULT_STEP } else { q.step };
        let span = end.into_inner() - start.into_inner();
        let span_secs = span.num_seconds().max(0) as u64;
        let count = span_secs / step + 1;
        if count > MAX_POINTS {
            return Err(Error::bad_request(format!(
                "query would return {count} points per series (max {MAX_POINTS}); increase step or narrow the range"
            )));
        }
        let step_i = i64::try_from(step).map_err(|_| Error::bad_request("step is too large"))?;
        let times: Vec<Timestamp> = (0..count as i64)
            .map(|k| Timestamp::from(start.into_inner() + Duration::seconds(k * step_i)))
            .collect();

        let Some(def) = CATALOGUE.iter().find(|d| d.name == expr.metric_name) else {
            return Ok(Vec::new());
        };
        let series: Vec<Series> = enumerate(def)
            .into_iter()
            .filter(|s| scope_holds(&q.scope, s) && conds.iter().all(|c| c.holds(s)))
            .collect();

        let grouped = !expr.group_by.is_empty() || !expr.aggregation.is_empty();
        let out_series = if grouped {
            let mut keys: Vec<Vec<&str>> = series
                .iter()
                .map(|s| expr.group_by.iter().map(|g| s.label(g)).collect())
                .collect();
            keys.sort();
            keys.dedup();
            keys.len() as u64
        } else {
            series.len() as u64
        };
        if out_series * count > MAX_TOTAL_POINTS {
            return Err(Error::bad_request(format!(
                "query would return {} points; add filters or groupBy, or increase step",
                out_series * count
            )));
        }

        let seconds: Vec<f64> = times
            .iter()
            .map(|t| {
                let d = t.as_datetime();
                d.timestamp() as f64 + f64::from(d.timestamp_subsec_nanos()) / 1e9
            })
            .collect();
        let compute = |s: &Series| -> Vec<f64> {
            let mut key = hash_str(def.name);
            for (_, v) in &s.labels {
                key = hash(&[key, hash_str(v)]);
            }
            seconds
                .iter()
                .map(|&t| value(def, self.seed, key, s.weight, t))
                .collect()
        };
        let url = |service: &str| {
            if service.is_empty() {
                format!("{BASE_URL}/metrics/explore?metric={}", def.name)
            } else {
                format!(
                    "{BASE_URL}/metrics/explore?metric={}&service={service}",
                    def.name
                )
            }
        };
        let metadata = {
            let mut m = mock_metadata();
            m.insert("type".into(), Value::from(def.kind));
            m.insert("unit".into(), Value::from(def.unit));
            m
        };
        let to_points = |values: Vec<f64>| -> Vec<MetricPoint> {
            times
                .iter()
                .zip(values)
                .map(|(t, value)| MetricPoint {
                    timestamp: *t,
                    value,
                })
                .collect()
        };

        if !grouped {
            return Ok(series
                .iter()
                .map(|s| MetricSeries {
                    name: def.name.into(),
                    service: s.service.id.into(),
                    labels: labels_json(&s.labels),
                    points: to_points(compute(s)),
                    url: url(s.service.id),
                    metadata: metadata.clone(),
                })
                .collect());
        }

        // Group by the requested labels (all series form one group when only
        // an aggregation is given, like PromQL's `sum(metric)`).
        struct Group<'a> {
            services: Vec<&'a str>,
            values: Vec<f64>,
            members: usize,
        }
        let mut groups: BTreeMap<Vec<&str>, Group> = BTreeMap::new();
        for s in &series {
            let key: Vec<&str> = expr.group_by.iter().map(|g| s.label(g)).collect();
            let values = compute(s);
            let group = groups.entry(key).or_insert_with(|| Group {
                services: Vec::new(),
                values: match aggregation {
                    Aggregation::Max => vec![f64::NEG_INFINITY; values.len()],
                    Aggregation::Min => vec![f64::INFINITY; values.len()],
                    _ => vec![0.0; values.len()],
                },
                members: 0,
            });
            if !group.services.contains(&s.service.id) {
                group.services.push(s.service.id);
            }
            group.members += 1;
            for (acc, v) in group.values.iter_mut().zip(values) {
                *acc = match aggregation {
                    Aggregation::Sum | Aggregation::Avg => *acc + v,
                    Aggregation::Max => acc.max(v),
                    Aggregation::Min => acc.min(v),
                    Aggregation::Count => *acc + 1.0,
                };
            }
        }
        Ok(groups
            .into_iter()
            .map(|(key, group)| {
                let mut values = group.values;
                if let Aggregation::Avg = aggregation {
                    values.iter_mut().for_each(|v| *v /= group.members as f64);
                }
                // The series belongs to a service only if all its members do.
                let service = if group.services.len() == 1 {
                    group.services[0]
                } else {
                    ""
                };
                let labels: Vec<(&str, &str)> =
                    expr.group_by.iter().map(String::as_str).zip(key).collect();
                MetricSeries {
                    name: def.name.into(),
                    service: service.into(),
                    labels: labels_json(&labels),
                    points: to_points(values),
                    url: url(service),
                    metadata: metadata.clone(),
                }
            })
            .collect())
    }

    fn describe(&self, scope: QueryScope) -> Result<Vec<MetricDescriptor>> {
        Ok(CATALOGUE
            .iter()
            .filter(|def| {
                SERVICES.iter().any(|s| {
                    def.emitted_by(s)
                        && (scope.service.is_empty() || s.id.eq_ignore_ascii_case(&scope.service))
                        && (scope.team.is_empty() || catalog::team_within(s.team, &scope.team))
                })
            })
            .map(MetricDef::describe)
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_never_decrease_and_gauges_stay_in_range() {
        for def in CATALOGUE {
            for s in enumerate(def).iter().take(6) {
                let mut prev = f64::NEG_INFINITY;
                for i in 0..2000 {
                    let t = 1_793_491_200.0 + f64::from(i) * 97.0;
                    let v = value(def, 5, hash_str(s.labels[0].1), s.weight, t);
                    assert!(v.is_finite());
                    match def.shape {
                        Shape::Counter { .. } => {
                            assert!(v >= prev, "{} decreased", def.name);
                            prev = v;
                        }
                        Shape::Gauge { min, max, .. } => {
                            assert!((min..=max).contains(&v), "{} = {v}", def.name)
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn series_universe_is_bounded() {
        let total: usize = CATALOGUE.iter().map(|d| enumerate(d).len()).sum();
        assert!(total < 1000, "{total} series");
        assert_eq!(enumerate(&CATALOGUE[0]).len(), 12 * 2 * 2 * 2 * 3);
    }
}
