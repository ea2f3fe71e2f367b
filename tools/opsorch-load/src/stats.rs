//! Counters and a latency histogram, kept per connection and merged at the
//! end (no locks on the hot path).

use std::collections::BTreeMap;
use std::time::Duration;

use crate::faults::Windows;
use crate::mix::Cap;

/// Error codes the injected faults produce (README.md "HTTP API", `host/src/transports/stdio`,
/// `sample-plugins/fixtures/faulty`). `unsupported` is what the faulty
/// library's providers answer for the methods they do not implement.
/// Answers with these codes are held back and judged at the end of the run
/// against the fault windows (see [`crate::faults`]).
pub const FAULT_CODES: &[&str] = &[
    "adapter_panic",
    "upstream_error",
    "unsupported",
    "plugin_crashed",
    "plugin_restarted",
    "plugin_unavailable",
    "plugin_timeout",
    "plugin_bad_output",
];

/// How a non-2xx response is accounted for in the report.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Class {
    /// A fault code on a capability, inside one of its fault windows.
    Fault,
    /// `404 not_found` for a record this generator created, on a capability
    /// whose provider was replaced or restarted (a fresh mock starts from
    /// the seeded world, so records created before are gone).
    LostState,
    /// Anything else: a bug, or a broken test. Makes the run fail.
    Unexpected,
}

impl Class {
    pub fn name(self) -> &'static str {
        match self {
            Class::Fault => "fault",
            Class::LostState => "lost-state",
            Class::Unexpected => "UNEXPECTED",
        }
    }
}

/// What is known about a non-2xx response when it arrives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Seen {
    /// A fault code: a fault or not depending on when it came (judged at
    /// the end, [`Stats::judge`]).
    Held,
    /// See [`Class::LostState`].
    LostState,
    /// See [`Class::Unexpected`].
    Unexpected,
}

/// Classifies a non-2xx response as it arrives. `faulted` is whether the
/// request's capability may lose records (faults are injected into it, or
/// its provider is replaced).
pub fn classify(faulted: bool, created: bool, status: u16, code: &str) -> Seen {
    if FAULT_CODES.contains(&code) {
        Seen::Held
    } else if faulted && created && status == 404 && code == "not_found" {
        Seen::LostState
    } else {
        Seen::Unexpected
    }
}

/// Which answers [`Stats::held`] counts together.
pub type HeldKey = (&'static str, Cap, u16, String);

/// Log-linear latency histogram in microseconds: exact below 64 µs, then 32
/// sub-buckets per power of two (about 3% resolution).
#[derive(Clone)]
pub struct Histogram {
    counts: Vec<u64>,
    total: u64,
    max: u64,
}

const SUB_BITS: u32 = 5;
const LINEAR: u64 = 64;

impl Default for Histogram {
    fn default() -> Self {
        Histogram {
            counts: vec![0; bucket(u64::MAX) + 1],
            total: 0,
            max: 0,
        }
    }
}

fn bucket(us: u64) -> usize {
    if us < LINEAR {
        return us as usize;
    }
    let exp = 63 - us.leading_zeros(); // >= 6
    let sub = (us >> (exp - SUB_BITS)) & ((1 << SUB_BITS) - 1);
    (LINEAR + u64::from(exp - 6) * (1 << SUB_BITS) + sub) as usize
}

/// The smallest value that falls in bucket `index`.
fn lower_bound(index: usize) -> u64 {
    let index = index as u64;
    if index < LINEAR {
        return index;
    }
    let exp = (index - LINEAR) / (1 << SUB_BITS) + 6;
    let sub = (index - LINEAR) % (1 << SUB_BITS);
    (1 << exp) | (sub << (exp - u64::from(SUB_BITS)))
}

impl Histogram {
    pub fn record(&mut self, latency: Duration) {
        let us = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
        self.counts[bucket(us)] += 1;
        self.total += 1;
        self.max = self.max.max(us);
    }

    pub fn merge(&mut self, other: &Histogram) {
        for (a, b) in self.counts.iter_mut().zip(&other.counts) {
            *a += b;
        }
        self.total += other.total;
        self.max = self.max.max(other.max);
    }

    /// The `q` quantile (0..=1) in microseconds, to bucket resolution.
    pub fn quantile_us(&self, q: f64) -> u64 {
        if self.total == 0 {
            return 0;
        }
        let rank = ((q * self.total as f64).ceil() as u64).clamp(1, self.total);
        let mut seen = 0;
        for (i, c) in self.counts.iter().enumerate() {
            seen += c;
            if seen >= rank {
                return lower_bound(i).min(self.max);
            }
        }
        self.max
    }

    pub fn max_us(&self) -> u64 {
        self.max
    }
}

/// What one connection (or the whole run, once merged) saw.
#[derive(Default, Clone)]
pub struct Stats {
    /// Requests written.
    pub sent: u64,
    /// Responses received (any status).
    pub served: u64,
    pub latency: Histogram,
    pub statuses: BTreeMap<u16, u64>,
    /// Per route: (2xx, non-2xx).
    pub routes: BTreeMap<&'static str, (u64, u64)>,
    /// Non-2xx by (class, route, capability, status, code).
    pub errors: BTreeMap<(Class, &'static str, Cap, u16, String), u64>,
    /// Fault-coded answers not judged yet: per (route, capability, status,
    /// code), a count per time slot ([`crate::faults::slot`]).
    pub held: BTreeMap<HeldKey, BTreeMap<u64, u64>>,
    /// Per route: when the latest request that got a 2xx was sent, in ms
    /// since the Unix epoch.
    pub last_ok_sent: BTreeMap<&'static str, u64>,
    /// Reconfigurations made by this generator: when each was sent and
    /// when it was answered (ms since the Unix epoch).
    pub reconfigured: Vec<(u64, u64)>,
    /// Requests without a response: connect failures, timeouts, I/O and
    /// protocol errors, by description.
    pub transport: BTreeMap<String, u64>,
    /// 2xx responses a chain could not go on from, by description.
    pub checks: BTreeMap<String, u64>,
    /// A reused connection closed before answering; the request was sent
    /// again on a new one.
    pub retries: u64,
    pub connects: u64,
    pub chains_started: u64,
    pub chains_finished: u64,
}

impl Stats {
    pub fn merge(&mut self, other: &Stats) {
        self.sent += other.sent;
        self.served += other.served;
        self.latency.merge(&other.latency);
        for (k, v) in &other.statuses {
            *self.statuses.entry(*k).or_default() += v;
        }
        for (k, (ok, bad)) in &other.routes {
            let e = self.routes.entry(k).or_default();
            e.0 += ok;
            e.1 += bad;
        }
        for (k, v) in &other.errors {
            *self.errors.entry(k.clone()).or_default() += v;
        }
        for (k, slots) in &other.held {
            let mine = self.held.entry(k.clone()).or_default();
            for (slot, n) in slots {
                *mine.entry(*slot).or_default() += n;
            }
        }
        for (route, sent) in &other.last_ok_sent {
            let mine = self.last_ok_sent.entry(route).or_default();
            *mine = (*mine).max(*sent);
        }
        self.reconfigured.extend_from_slice(&other.reconfigured);
        for (k, v) in &other.transport {
            *self.transport.entry(k.clone()).or_default() += v;
        }
        for (k, v) in &other.checks {
            *self.checks.entry(k.clone()).or_default() += v;
        }
        self.retries += other.retries;
        self.connects += other.connects;
        self.chains_started += other.chains_started;
        self.chains_finished += other.chains_finished;
    }

    /// Moves every held answer into [`Stats::errors`]: a fault when its
    /// time slot overlaps a window of its capability, unexpected otherwise.
    pub fn judge(&mut self, windows: &Windows) {
        for ((route, cap, status, code), slots) in std::mem::take(&mut self.held) {
            for (slot, n) in slots {
                let class = if windows.covers(cap, slot) {
                    Class::Fault
                } else {
                    Class::Unexpected
                };
                *self
                    .errors
                    .entry((class, route, cap, status, code.clone()))
                    .or_default() += n;
            }
        }
    }

    pub fn count_class(&self, class: Class) -> u64 {
        self.errors
            .iter()
            .filter(|((c, ..), _)| *c == class)
            .map(|(_, n)| n)
            .sum()
    }

    pub fn non_2xx(&self) -> u64 {
        self.errors.values().sum()
    }

    /// Everything that fails the run: unexpected non-2xx, requests without
    /// a response, and failed chain checks.
    pub fn unexpected(&self) -> u64 {
        self.count_class(Class::Unexpected)
            + self.transport.values().sum::<u64>()
            + self.checks.values().sum::<u64>()
    }
}

/// Adds one to a keyed counter, keeping at most 64 distinct keys (the rest
/// are counted under "other") so odd error texts cannot grow memory.
pub fn bump(map: &mut BTreeMap<String, u64>, key: String) {
    let key = if map.len() >= 64 && !map.contains_key(&key) {
        "other".to_string()
    } else {
        key
    };
    *map.entry(key).or_default() += 1;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_monotonic_and_bounded() {
        let mut last = 0;
        for us in (0..100_000u64).chain([1 << 40, u64::MAX]) {
            let b = bucket(us);
            assert!(b >= last);
            assert!(lower_bound(b) <= us, "{us}");
            last = b;
        }
        assert!(bucket(u64::MAX) < 2048);
    }

    #[test]
    fn quantiles() {
        let mut h = Histogram::default();
        for ms in 1..=100 {
            h.record(Duration::from_millis(ms));
        }
        let p50 = h.quantile_us(0.5);
        assert!((48_000..=50_000).contains(&p50), "{p50}");
        let p99 = h.quantile_us(0.99);
        assert!((96_000..=99_000).contains(&p99), "{p99}");
        assert_eq!(h.max_us(), 100_000);
        assert_eq!(Histogram::default().quantile_us(0.5), 0);
    }

    #[test]
    fn classification() {
        // Fault codes wait for the windows, wherever they come from.
        assert_eq!(classify(true, false, 502, "adapter_panic"), Seen::Held);
        assert_eq!(classify(false, false, 502, "plugin_crashed"), Seen::Held);
        assert_eq!(classify(true, true, 404, "not_found"), Seen::LostState);
        assert_eq!(classify(true, false, 404, "not_found"), Seen::Unexpected);
        assert_eq!(classify(false, true, 404, "not_found"), Seen::Unexpected);
        assert_eq!(classify(true, true, 400, "bad_request"), Seen::Unexpected);
    }

    #[test]
    fn held_answers_are_faults_only_inside_a_window() {
        use crate::faults::{slot, Window};
        use opsorch_plugin_api::methods::Capability;
        let alert = Cap::Of(Capability::Alert);
        let key = (
            "POST /alerts/query",
            alert,
            502,
            "upstream_error".to_string(),
        );
        let mut stats = Stats::default();
        let slots = stats.held.entry(key.clone()).or_default();
        slots.insert(slot(10_500), 7); // inside
        slots.insert(slot(12_500), 2); // in the grace
        slots.insert(slot(30_000), 3); // long after: the capability stayed dead
        let mut other = Stats::default();
        other.held.entry(key).or_default().insert(slot(10_500), 1);
        stats.merge(&other);
        stats.judge(&Windows::new(
            vec![Window {
                cap: alert,
                from_ms: 10_000,
                to_ms: Some(12_000),
            }],
            1_000,
        ));
        assert!(stats.held.is_empty());
        assert_eq!(stats.count_class(Class::Fault), 10);
        assert_eq!(stats.count_class(Class::Unexpected), 3);
        assert_eq!(stats.unexpected(), 3);
    }
}
