//! Matching helpers shared by every capability's query filters, plus small
//! utilities for the in-memory state.
//!
//! The conventions, applied everywhere: text search is a case-insensitive
//! substring; list filters (`statuses`, `severities`, …) match any element,
//! case-insensitively; an empty filter matches everything; `limit` 0 means
//! no limit.

use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};

use opsorch_plugin_api::schema::{JsonMap, QueryScope, StringMap};
use serde_json::Value;

use crate::catalog;

/// Case-insensitive substring test; an empty needle matches.
///
/// Avoids allocating for ASCII text, which is all the mock's data, because
/// query filters run over every record on every call.
pub fn contains_ci(haystack: &str, needle: &str) -> bool {
    if needle.is_empty() {
        return true;
    }
    if haystack.is_ascii() && needle.is_ascii() {
        let (h, n) = (haystack.as_bytes(), needle.as_bytes());
        return h.len() >= n.len() && h.windows(n.len()).any(|w| w.eq_ignore_ascii_case(n));
    }
    haystack.to_lowercase().contains(&needle.to_lowercase())
}

/// Whether `value` equals one of `wanted` (case-insensitively); an empty
/// list matches everything.
pub fn one_of(value: &str, wanted: &[String]) -> bool {
    wanted.is_empty() || wanted.iter().any(|w| w.eq_ignore_ascii_case(value))
}

/// `limit` 0 means "no limit".
pub fn limit_of(limit: u32) -> usize {
    if limit == 0 {
        usize::MAX
    } else {
        limit as usize
    }
}

/// Every wanted tag must be present with the same value (values compared
/// case-insensitively, keys exactly).
pub fn tags_match(tags: &StringMap, wanted: &StringMap) -> bool {
    wanted
        .iter()
        .all(|(k, v)| tags.get(k).is_some_and(|have| have.eq_ignore_ascii_case(v)))
}

/// A string value from a JSON map, or "" when absent or not a string.
pub fn str_field<'a>(map: &'a JsonMap, key: &str) -> &'a str {
    map.get(key).and_then(Value::as_str).unwrap_or("")
}

/// Applies a [`QueryScope`] to a record described by its service and
/// environment: `service` must match exactly, `team` must own the service
/// (directly or through a sub-team), `environment` must match up to aliases
/// (`prod` = `production`). A record without an environment does not match
/// an environment scope.
pub fn scope_matches(scope: &QueryScope, service: &str, environment: &str) -> bool {
    (scope.service.is_empty() || service.eq_ignore_ascii_case(&scope.service))
        && (scope.team.is_empty() || catalog::service_within_team(service, &scope.team))
        && (scope.environment.is_empty()
            || (!environment.is_empty() && catalog::env_matches(environment, &scope.environment)))
}

/// `json!({...})` as a map; anything else becomes an empty map.
pub fn obj(value: Value) -> JsonMap {
    match value {
        Value::Object(map) => map,
        _ => JsonMap::new(),
    }
}

/// The `metadata` every mock record carries.
pub fn mock_metadata() -> JsonMap {
    let mut m = JsonMap::new();
    m.insert("source".into(), Value::from("mock"));
    m
}

/// Read lock that survives poisoning: a panic in one call (caught by the
/// SDK) must not make every later call fail; the data is only ever replaced
/// wholesale per record, so it stays consistent.
pub fn read<T>(lock: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(|e| e.into_inner())
}

pub fn write<T>(lock: &RwLock<T>) -> RwLockWriteGuard<'_, T> {
    lock.write().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn substring_is_case_insensitive() {
        assert!(contains_ci("Checkout latency HIGH", "latency high"));
        assert!(contains_ci("anything", ""));
        assert!(!contains_ci("abc", "abcd"));
        assert!(contains_ci("Größe", "GRÖ"));
    }

    #[test]
    fn scope_checks_service_team_and_environment() {
        let scope = QueryScope {
            team: "engineering".into(),
            environment: "prod".into(),
            ..Default::default()
        };
        assert!(scope_matches(&scope, "checkout", "production"));
        assert!(!scope_matches(&scope, "checkout", "staging"));
        assert!(!scope_matches(&scope, "checkout", ""));
        assert!(scope_matches(&QueryScope::default(), "x", ""));
    }
}
