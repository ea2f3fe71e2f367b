//! `log`: log lines synthesised on demand inside the requested window.
//!
//! Time is cut into fixed two-second slots counted from the Unix epoch, and
//! each slot holds exactly one log line whose content is a pure function of
//! (seed, slot). So the same query always returns the same lines, a narrower
//! window returns a subset of a wider one, and nothing needs to be stored.
//! Lines are returned newest first; the scan walks slots backwards from the
//! end of the window and stops once `limit` lines matched or after
//! [`MAX_SCANNED_SLOTS`] slots (about 4.6 days), which bounds the cost of a
//! very selective filter over a very long window.

use chrono::{DateTime, Duration};
use opsorch_plugin_api::schema::{
    LogEntries, LogEntry, LogExpression, LogQuery, StringMap, Timestamp,
};
use opsorch_plugin_api::{Error, LogProvider, Result};
use serde_json::{json, Value};

use crate::catalog::{ServiceDef, BASE_URL, REGIONS, SERVICES};
use crate::filter::{contains_ci, mock_metadata, obj, scope_matches};
use crate::rng::{hash, Rng};

const SLOT_MS: i64 = 2_000;
pub const DEFAULT_LIMIT: usize = 100;
pub const MAX_LIMIT: usize = 1_000;
pub const MAX_SCANNED_SLOTS: i64 = 200_000;

pub struct MockLogs {
    seed: u64,
}

impl MockLogs {
    pub fn new(seed: u64) -> Self {
        MockLogs { seed }
    }
}

/// How a filter compares. `regex` is accepted for compatibility with log
/// backends but evaluated as a substring test: the mock has no regex engine.
#[derive(Clone, Copy)]
enum Op {
    Eq,
    Ne,
    Contains,
    NotContains,
}

fn parse_op(op: &str) -> Result<Op> {
    Ok(match op.to_ascii_lowercase().as_str() {
        "=" | "==" | "eq" | "equals" => Op::Eq,
        "!=" | "<>" | "ne" | "not_equals" => Op::Ne,
        "contains" | "~" | "regex" | "=~" | "like" => Op::Contains,
        "not_contains" | "!contains" | "!~" | "not_regex" => Op::NotContains,
        other => {
            return Err(Error::bad_request(format!(
                "unsupported filter operator {other:?} (use =, !=, contains, not_contains or regex)"
            )))
        }
    })
}

/// Maps severity spellings onto the four levels the mock emits.
fn canonical_severity(s: &str) -> &str {
    match s.to_ascii_lowercase().as_str() {
        "warning" | "warn" => "warn",
        "err" | "error" | "critical" | "fatal" => "error",
        "information" | "info" => "info",
        "debug" | "trace" => "debug",
        _ => s,
    }
}

/// A candidate line before its message is rendered, so that cheap filters
/// (scope, severity) run before any string is formatted.
struct Line {
    at_ms: i64,
    service: &'static ServiceDef,
    severity: &'static str,
    env: &'static str,
    region: &'static str,
    rng: Rng,
}

fn tier_weight(s: &ServiceDef) -> u64 {
    match s.tier {
        "tier-1" => 4,
        "tier-2" => 2,
        _ => 1,
    }
}

fn draw_line(seed: u64, slot: i64) -> Line {
    let mut rng = Rng::from_word(hash(&[seed, 0x6c6f_6773, slot as u64]));
    let at_ms = slot * SLOT_MS + rng.below(SLOT_MS as u64) as i64;
    // Busier tier-1 services log more. Weighted by hand rather than with
    // `Rng::weighted` to avoid building a table for every slot.
    let total: u64 = SERVICES.iter().map(tier_weight).sum();
    let mut roll = rng.below(total);
    let service = SERVICES
        .iter()
        .find(|s| {
            let w = tier_weight(s);
            roll < w || {
                roll -= w;
                false
            }
        })
        .unwrap_or(&SERVICES[0]);
    let severity = *rng.weighted(&[("debug", 10), ("info", 70), ("warn", 13), ("error", 7)]);
    let env = *rng.weighted(&[("production", 80), ("staging", 20)]);
    let region = *rng.pick(&REGIONS);
    Line {
        at_ms,
        service,
        severity,
        env,
        region,
        rng,
    }
}

/// Renders the line, or `None` as soon as its message misses `search`: the
/// message is built first so a search over a long window skips the labels,
/// ids and maps of every line it rejects.
fn render(line: Line, search: &str) -> Option<LogEntry> {
    let Line {
        at_ms,
        service,
        severity,
        env,
        region,
        mut rng,
    } = line;
    let method = *rng.weighted(&[("GET", 70), ("POST", 25), ("PUT", 5)]);
    let path = *rng.pick(service.endpoints);
    let dep = *rng.pick(service.dependencies);
    let latency = match severity {
        "warn" => rng.range(800, 4_000),
        "error" => rng.range(20, 10_000),
        _ => rng.range(3, 400),
    };
    let status: u16 = match severity {
        "error" => *rng.pick(&[500, 502, 503, 504]),
        "warn" => *rng.pick(&[200, 429, 404]),
        _ => *rng.pick(&[200, 200, 200, 201, 204, 304]),
    };
    let message = match severity {
        "debug" => match rng.below(3) {
            0 => format!("cache hit for {path}"),
            1 => format!("opened connection to {dep}"),
            _ => "feature flag new-pricing evaluated to false".to_string(),
        },
        "info" => match rng.below(4) {
            0 | 1 => format!("{method} {path} {status} in {latency}ms"),
            2 => format!("request completed method={method} path={path} status={status} duration_ms={latency}"),
            _ => match service.id {
                "payments" => format!("authorization approved amount={}.{:02} currency=USD", rng.range(5, 900), rng.below(100)),
                "orders" => format!("order ORD-{} placed items={}", rng.range(100_000, 999_999), rng.range(1, 6)),
                "search" => format!("query served hits={} took={latency}ms", rng.range(0, 500)),
                "inventory" => format!("reservation created sku=SKU-{} qty={}", rng.range(10_000, 99_999), rng.range(1, 4)),
                "notifications" => format!("email queued template=order_confirmation provider={dep}"),
                _ => format!("health check ok ({latency}ms)"),
            },
        },
        "warn" => match rng.below(4) {
            0 => format!("slow request {method} {path} took {latency}ms"),
            1 => format!("retrying call to {dep} (attempt 2/3)"),
            2 => format!("connection pool for {dep} at 85% capacity"),
            _ => format!("rate limit nearly exhausted for client mobile-ios on {path}"),
        },
        _ => match rng.below(4) {
            0 => format!("{method} {path} {status}: upstream {dep} returned 503"),
            1 => format!("timeout after {latency}ms calling {dep}"),
            2 => "failed to publish event: kafka broker not available".to_string(),
            _ => format!("unhandled exception in {path} handler: connection reset by peer"),
        },
    };
    if !contains_ci(&message, search) {
        return None;
    }
    let pod = format!("{}-{}-{}", service.id, rng.hex(5), rng.hex(5));
    let labels: StringMap = [
        ("service", service.id.to_string()),
        ("env", env.to_string()),
        ("region", region.to_string()),
        ("pod", pod),
        ("team", service.team.to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    Some(LogEntry {
        timestamp: Timestamp::from(DateTime::from_timestamp_millis(at_ms).unwrap_or_default()),
        message,
        severity: severity.into(),
        service: service.id.into(),
        labels,
        fields: obj(json!({
            "method": method,
            "path": path,
            "status": status,
            "latencyMs": latency,
            "traceId": rng.hex(32),
        })),
        metadata: mock_metadata(),
    })
}

/// The value a filter's `field` names: a label, then a field, then the
/// entry's own message/severity/service.
fn field_value(entry: &LogEntry, field: &str) -> Option<String> {
    if let Some(v) = entry.labels.get(field) {
        return Some(v.clone());
    }
    match entry.fields.get(field) {
        Some(Value::String(s)) => return Some(s.clone()),
        Some(other) => return Some(other.to_string()),
        None => {}
    }
    match field {
        "message" | "msg" => Some(entry.message.clone()),
        "severity" | "level" => Some(entry.severity.clone()),
        "service" => Some(entry.service.clone()),
        _ => None,
    }
}

/// A missing field equals nothing and contains nothing, so `!=` and
/// `not_contains` match it.
fn filter_matches(entry: &LogEntry, field: &str, op: Op, value: &str) -> bool {
    let have = field_value(entry, field);
    match op {
        Op::Eq => have.is_some_and(|h| h.eq_ignore_ascii_case(value)),
        Op::Ne => !have.is_some_and(|h| h.eq_ignore_ascii_case(value)),
        Op::Contains => have.is_some_and(|h| contains_ci(&h, value)),
        Op::NotContains => !have.is_some_and(|h| contains_ci(&h, value)),
    }
}

fn nanos(t: &Timestamp) -> i128 {
    let d = t.as_datetime();
    i128::from(d.timestamp()) * 1_000_000_000 + i128::from(d.timestamp_subsec_nanos())
}

/// Resolves the window: a zero end is now, a zero start is an hour before
/// the end, and an empty or inverted window becomes the last hour.
fn window(q: &LogQuery) -> (Timestamp, Timestamp) {
    let now = Timestamp::now();
    let end = if q.end.is_zero() { now } else { q.end };
    let start = if q.start.is_zero() {
        Timestamp::from(end.into_inner() - Duration::hours(1))
    } else {
        q.start
    };
    if end <= start {
        (Timestamp::from(now.into_inner() - Duration::hours(1)), now)
    } else {
        (start, end)
    }
}

fn percent_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

impl LogProvider for MockLogs {
    fn query(&self, q: LogQuery) -> Result<LogEntries> {
        let expression = q.expression.clone().unwrap_or_default();
        let LogExpression {
            search,
            filters,
            severity_in,
        } = expression;
        // Validate every operator up front, so a bad query fails even when
        // the window happens to hold no lines.
        let filters = filters
            .iter()
            .map(|f| Ok((f.field.as_str(), parse_op(&f.operator)?, f.value.as_str())))
            .collect::<Result<Vec<_>>>()?;
        let severities: Vec<&str> = severity_in.iter().map(|s| canonical_severity(s)).collect();
        let limit = match q.limit as usize {
            0 => DEFAULT_LIMIT,
            n => n.min(MAX_LIMIT),
        };

        let (start, end) = window(&q);
        let (start_ns, end_ns) = (nanos(&start), nanos(&end));
        let first_slot = start_ns.div_euclid(SLOT_MS as i128 * 1_000_000) as i64;
        let last_slot = (end_ns - 1).div_euclid(SLOT_MS as i128 * 1_000_000) as i64;

        let mut entries = Vec::new();
        let mut slot = last_slot;
        while slot >= first_slot && last_slot - slot < MAX_SCANNED_SLOTS && entries.len() < limit {
            let line = draw_line(self.seed, slot);
            slot -= 1;
            let at_ns = i128::from(line.at_ms) * 1_000_000;
            if at_ns < start_ns || at_ns >= end_ns {
                continue;
            }
            if !scope_matches(&q.scope, line.service.id, line.env)
                || !(severities.is_empty() || severities.contains(&line.severity))
            {
                continue;
            }
            if let Some(entry) = render(line, &search) {
                if filters
                    .iter()
                    .all(|(f, op, v)| filter_matches(&entry, f, *op, v))
                {
                    entries.push(entry);
                }
            }
        }

        let mut url = format!(
            "{BASE_URL}/logs?start={}&end={}",
            percent_encode(&start.to_string()),
            percent_encode(&end.to_string())
        );
        if !search.is_empty() {
            url.push_str(&format!("&q={}", percent_encode(&search)));
        }
        if !q.scope.service.is_empty() {
            url.push_str(&format!("&service={}", percent_encode(&q.scope.service)));
        }
        Ok(LogEntries { entries, url })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_deterministic_and_inside_their_slot() {
        for slot in [0_i64, 1, 897_000_000, -5] {
            let a = draw_line(3, slot);
            let b = draw_line(3, slot);
            assert_eq!(a.at_ms, b.at_ms);
            assert!(a.at_ms >= slot * SLOT_MS && a.at_ms < (slot + 1) * SLOT_MS);
            assert_eq!(render(a, ""), render(b, ""));
        }
    }

    #[test]
    fn unknown_operator_is_rejected() {
        assert!(parse_op("between").is_err());
        assert!(parse_op("REGEX").is_ok());
    }
}
