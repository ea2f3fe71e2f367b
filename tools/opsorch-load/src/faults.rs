//! When faults were injected, and what that excuses.
//!
//! The injector (`scripts/soak`, or a test) appends one line per event to
//! the file given with `--fault-events`, in wall-clock time:
//!
//! ```text
//! 1764560000.125 alert start     # about to make alert fail
//! 1764560003.500 alert end       # alert was put back
//! 1764560005.250 incident kill   # a one-off fault (a plugin killed)
//! ```
//!
//! A `start` is written before the fault is injected, an `end` after it was
//! taken back, so the window they span holds every answer the fault caused
//! except those still in flight; `--fault-grace` extends each window by
//! that much. A `kill` is a window of no length, plus the grace.
//!
//! Answers carrying a fault code are held back during the run, counted per
//! [`SLOT_MS`] of wall-clock time, and judged at the end: inside a window of
//! their capability they are *fault*, outside *unexpected*. Every route
//! the generator sends without a chain (see [`crate::mix::stateless_routes`])
//! on a capability with windows must also answer 2xx to a request sent
//! after its last window closed: a capability that stays dead fails.

use std::collections::BTreeMap;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::mix::Cap;

/// The width of the time slots answers are counted in.
pub const SLOT_MS: u64 = 100;

/// Milliseconds since the Unix epoch, now.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// The slot a wall-clock time falls in.
pub fn slot(ms: u64) -> u64 {
    ms / SLOT_MS
}

/// One period during which a capability's faults are expected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    pub cap: Cap,
    pub from_ms: u64,
    /// When the fault was taken back; `None` when it never was.
    pub to_ms: Option<u64>,
}

/// A line of the events file that cannot be used.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum EventError {
    #[error("line {line}: want `<unix seconds> <capability> start|end|kill`, got {text:?}")]
    Malformed { line: usize, text: String },
    #[error("line {line}: unknown capability {name:?}")]
    UnknownCap { line: usize, name: String },
    #[error("line {line}: `end` for {cap} without a `start` before it")]
    EndWithoutStart { line: usize, cap: Cap },
    #[error("line {line}: `start` for {cap} while its last fault is still on")]
    StartWhileOn { line: usize, cap: Cap },
}

/// Reads the events file's text into windows, in file order.
pub fn parse_events(text: &str) -> Result<Vec<Window>, EventError> {
    let mut windows: Vec<Window> = Vec::new();
    for (index, raw) in text.lines().enumerate() {
        let line = index + 1;
        let content = raw.split('#').next().unwrap_or_default().trim();
        if content.is_empty() {
            continue;
        }
        let malformed = || EventError::Malformed {
            line,
            text: raw.to_string(),
        };
        let fields: Vec<&str> = content.split_whitespace().collect();
        let [at, name, what] = fields[..] else {
            return Err(malformed());
        };
        let secs: f64 = at.parse().map_err(|_| malformed())?;
        if !secs.is_finite() || secs < 0.0 {
            return Err(malformed());
        }
        let at_ms = (secs * 1000.0) as u64;
        let cap = Cap::parse(name).ok_or_else(|| EventError::UnknownCap {
            line,
            name: name.to_string(),
        })?;
        let open = windows
            .iter_mut()
            .rev()
            .find(|w| w.cap == cap)
            .filter(|w| w.to_ms.is_none());
        match (what, open) {
            ("start", None) => windows.push(Window {
                cap,
                from_ms: at_ms,
                to_ms: None,
            }),
            ("start", Some(_)) => return Err(EventError::StartWhileOn { line, cap }),
            ("end", Some(window)) => window.to_ms = Some(at_ms.max(window.from_ms)),
            ("end", None) => return Err(EventError::EndWithoutStart { line, cap }),
            ("kill", _) => windows.push(Window {
                cap,
                from_ms: at_ms,
                to_ms: Some(at_ms),
            }),
            _ => return Err(malformed()),
        }
    }
    Ok(windows)
}

/// The windows of a run, each extended by the grace period.
#[derive(Clone, Debug, Default)]
pub struct Windows {
    list: Vec<Window>,
    grace_ms: u64,
}

impl Windows {
    pub fn new(list: Vec<Window>, grace_ms: u64) -> Windows {
        Windows { list, grace_ms }
    }

    pub fn add(&mut self, window: Window) {
        self.list.push(window);
    }

    /// Whether a fault answer for `cap` in time slot `slot` falls inside a
    /// window (plus grace). The slot counts when it overlaps the window.
    pub fn covers(&self, cap: Cap, slot: u64) -> bool {
        let (begin, end) = (slot * SLOT_MS, (slot + 1) * SLOT_MS);
        self.list.iter().any(|w| {
            w.cap == cap
                && w.from_ms < end
                && w.to_ms
                    .is_none_or(|to| begin <= to.saturating_add(self.grace_ms))
        })
    }

    /// The capabilities with windows, each with the end of its last window
    /// (`None` when a fault was never taken back).
    pub fn last_ends(&self) -> BTreeMap<Cap, Option<u64>> {
        let mut ends: BTreeMap<Cap, Option<u64>> = BTreeMap::new();
        for w in &self.list {
            let entry = ends.entry(w.cap).or_insert(w.to_ms);
            *entry = match (*entry, w.to_ms) {
                (Some(a), Some(b)) => Some(a.max(b)),
                _ => None,
            };
        }
        ends
    }
}

/// What the end-of-run check found wrong with recovery.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NotRecovered {
    /// A fault was started and never taken back.
    NeverEnded(Cap),
    /// A route of a faulted capability never answered 2xx to a request
    /// sent after the capability's last fault.
    NoAnswerAfter { route: &'static str, cap: Cap },
}

impl std::fmt::Display for NotRecovered {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NotRecovered::NeverEnded(cap) => write!(f, "{cap}: the fault was never taken back"),
            NotRecovered::NoAnswerAfter { route, cap } => {
                write!(f, "{route} [{cap}]: no 2xx after the last fault")
            }
        }
    }
}

/// Checks that every route in `routes` whose capability had an injected
/// fault answered 2xx after that capability's last fault. `last_ok_sent`
/// holds, per route, when the latest request that got a 2xx was sent.
pub fn recovery(
    injected: &Windows,
    routes: &[(&'static str, Cap)],
    last_ok_sent: &BTreeMap<&'static str, u64>,
) -> Vec<NotRecovered> {
    let mut missing = Vec::new();
    for (cap, end) in injected.last_ends() {
        let Some(end) = end else {
            missing.push(NotRecovered::NeverEnded(cap));
            continue;
        };
        for &(route, _) in routes.iter().filter(|(_, c)| *c == cap) {
            if last_ok_sent.get(route).is_none_or(|&sent| sent <= end) {
                missing.push(NotRecovered::NoAnswerAfter { route, cap });
            }
        }
    }
    missing
}

#[cfg(test)]
mod tests {
    use super::*;
    use opsorch_plugin_api::methods::Capability;

    const ALERT: Cap = Cap::Of(Capability::Alert);
    const INCIDENT: Cap = Cap::Of(Capability::Incident);

    #[test]
    fn events_become_windows() {
        let text = "# soak\n100.5 alert start\n101 incident kill\n\n103.25 alerts end # back\n";
        assert_eq!(
            parse_events(text).unwrap(),
            vec![
                Window {
                    cap: ALERT,
                    from_ms: 100_500,
                    to_ms: Some(103_250)
                },
                Window {
                    cap: INCIDENT,
                    from_ms: 101_000,
                    to_ms: Some(101_000)
                },
            ]
        );
        assert_eq!(
            parse_events("1 alert start\n").unwrap()[0].to_ms,
            None,
            "a start without an end stays open"
        );
    }

    #[test]
    fn bad_event_lines_are_refused() {
        assert!(matches!(
            parse_events("1 alert"),
            Err(EventError::Malformed { line: 1, .. })
        ));
        assert!(matches!(
            parse_events("x alert start"),
            Err(EventError::Malformed { .. })
        ));
        assert!(matches!(
            parse_events("1 alert pause"),
            Err(EventError::Malformed { .. })
        ));
        assert!(matches!(
            parse_events("1 nothing start"),
            Err(EventError::UnknownCap { .. })
        ));
        assert_eq!(
            parse_events("1 alert end"),
            Err(EventError::EndWithoutStart {
                line: 1,
                cap: ALERT
            })
        );
        assert_eq!(
            parse_events("1 alert start\n2 alert start"),
            Err(EventError::StartWhileOn {
                line: 2,
                cap: ALERT
            })
        );
    }

    #[test]
    fn only_answers_inside_a_window_plus_grace_are_covered() {
        let windows = Windows::new(
            vec![
                Window {
                    cap: ALERT,
                    from_ms: 10_000,
                    to_ms: Some(12_000),
                },
                Window {
                    cap: INCIDENT,
                    from_ms: 20_000,
                    to_ms: Some(20_000),
                },
            ],
            1_000,
        );
        // Before the window, inside, inside the grace, after the grace.
        assert!(!windows.covers(ALERT, slot(9_800)));
        assert!(windows.covers(ALERT, slot(10_000)));
        assert!(windows.covers(ALERT, slot(12_900)));
        assert!(windows.covers(ALERT, slot(13_000)));
        assert!(!windows.covers(ALERT, slot(13_100)));
        // Another capability's window covers nothing of alert's.
        assert!(!windows.covers(ALERT, slot(20_000)));
        // A kill: the instant plus the grace.
        assert!(windows.covers(INCIDENT, slot(20_500)));
        assert!(!windows.covers(INCIDENT, slot(21_200)));
        assert!(!windows.covers(INCIDENT, slot(19_800)));
        // An open window covers everything after its start.
        let open = Windows::new(
            vec![Window {
                cap: ALERT,
                from_ms: 5_000,
                to_ms: None,
            }],
            0,
        );
        assert!(open.covers(ALERT, slot(1_000_000)));
        assert!(!open.covers(ALERT, slot(4_800)));
    }

    #[test]
    fn a_capability_that_stays_dead_is_not_recovered() {
        let windows = Windows::new(
            vec![
                Window {
                    cap: ALERT,
                    from_ms: 10_000,
                    to_ms: Some(12_000),
                },
                Window {
                    cap: ALERT,
                    from_ms: 15_000,
                    to_ms: Some(16_000),
                },
            ],
            1_000,
        );
        let routes = [
            ("POST /alerts/query", ALERT),
            ("GET /alerts/{id}", ALERT),
            ("GET /incidents/{id}", INCIDENT),
        ];
        // Both alert routes answered after the last window: recovered.
        let ok = BTreeMap::from([("POST /alerts/query", 16_001), ("GET /alerts/{id}", 30_000)]);
        assert_eq!(recovery(&windows, &routes, &ok), vec![]);
        // One answered only between the two faults: not recovered. Routes of
        // capabilities without faults are not asked.
        let dead = BTreeMap::from([("POST /alerts/query", 14_000), ("GET /alerts/{id}", 30_000)]);
        assert_eq!(
            recovery(&windows, &routes, &dead),
            vec![NotRecovered::NoAnswerAfter {
                route: "POST /alerts/query",
                cap: ALERT
            }]
        );
        // Never answered at all.
        let none = BTreeMap::from([("GET /alerts/{id}", 30_000)]);
        assert_eq!(recovery(&windows, &routes, &none).len(), 1);
        // A fault never taken back.
        let open = Windows::new(
            vec![Window {
                cap: INCIDENT,
                from_ms: 1,
                to_ms: None,
            }],
            0,
        );
        assert_eq!(
            recovery(&open, &routes, &ok),
            vec![NotRecovered::NeverEnded(INCIDENT)]
        );
    }
}
