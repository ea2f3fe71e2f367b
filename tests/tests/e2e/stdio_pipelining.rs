//! Throughput: concurrent calls are pipelined through one process, each
//! answer reaches its own request, lock-step plugins still work, and a pool
//! (`"processes": 3`) runs and uses three processes.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use crate::stdio_support::*;
use opsorch_e2e::Host;
use serde_json::json;

#[test]
fn concurrent_calls_are_pipelined_through_one_process() {
    let faulty = plugin("stdio-faulty");
    // The plugin works on requests concurrently (300 ms each) but answers
    // strictly in order: only a host that writes requests without waiting
    // for answers gets 32 of them done in well under 32 × 300 ms (9.6 s).
    let host = Host::start(&[
        ("OPSORCH_INCIDENT_PLUGIN", &faulty),
        (
            "OPSORCH_INCIDENT_CONFIG",
            r#"{"parallel":true,"delayMs":300}"#,
        ),
    ]);
    expect(&host.get("/incidents/warm"), 200);
    let addr = host.addr;
    let started = Instant::now();
    let answers = in_parallel(32, |i| get(addr, &format!("/incidents/id-{i}")));
    let elapsed = started.elapsed();
    let mut pids = BTreeSet::new();
    for (i, response) in answers.iter().enumerate() {
        let incident = expect(response, 200);
        assert_eq!(
            incident["id"],
            format!("id-{i}"),
            "answer went to the wrong call"
        );
        pids.insert(incident["fields"]["pid"].as_u64().unwrap());
    }
    assert_eq!(pids.len(), 1, "one process serves them all");
    assert_eq!(children(host.pid()).len(), 1);
    assert!(
        elapsed < Duration::from_millis(4500),
        "32 calls of 300 ms took {elapsed:?}: not pipelined"
    );
}

#[test]
fn a_lockstep_go_plugin_answers_concurrent_calls_in_order() {
    let compat = plugin("stdio-compat");
    let host = Host::start(&[("OPSORCH_INCIDENT_PLUGIN", &compat)]);
    let addr = host.addr;
    let answers = in_parallel(64, |i| get(addr, &format!("/incidents/INC-{i}")));
    for (i, response) in answers.iter().enumerate() {
        assert_eq!(expect(response, 200)["id"], format!("INC-{i}"));
    }
    assert_eq!(children(host.pid()).len(), 1);
}

#[test]
fn the_mock_plugin_answers_many_different_concurrent_queries_correctly() {
    let mock = plugin("opsorch-mock-plugin");
    let host = Host::start(&[("OPSORCH_INCIDENT_PLUGIN", &mock)]);
    let total = expect(&host.post("/incidents/query", "{}"), 200)
        .as_array()
        .map(Vec::len)
        .unwrap();
    assert!(total > 1);
    let addr = host.addr;
    let answers = in_parallel(48, |i| {
        let limit = i % total + 1;
        let body = json!({ "limit": limit }).to_string();
        (limit, post(addr, "/incidents/query", &body))
    });
    for (limit, response) in &answers {
        let list = expect(response, 200);
        assert_eq!(list.as_array().map(Vec::len), Some(*limit), "limit {limit}");
    }
}

#[test]
fn pipelining_can_be_turned_off_for_plugins_that_cannot_read_ahead() {
    let compat = plugin("stdio-compat");
    let host = Host::start(&[
        ("OPSORCH_INCIDENT_PLUGIN", &compat),
        ("OPSORCH_INCIDENT_CONFIG", r#"{"pipelining":false}"#),
    ]);
    let addr = host.addr;
    let answers = in_parallel(24, |i| get(addr, &format!("/incidents/INC-{i}")));
    for (i, response) in answers.iter().enumerate() {
        assert_eq!(expect(response, 200)["id"], format!("INC-{i}"));
    }
}

#[test]
fn with_pipelining_off_no_request_is_written_before_the_last_was_answered() {
    // `failOnReadAhead`: the plugin exits without answering when another
    // request has arrived by the time it answers one.
    let faulty = plugin("stdio-faulty");
    let twelve_at_once = |config: &str| {
        let host = Host::start(&[
            ("OPSORCH_INCIDENT_PLUGIN", &faulty),
            ("OPSORCH_INCIDENT_CONFIG", config),
        ]);
        let addr = host.addr;
        in_parallel(12, |i| get(addr, &format!("/incidents/INC-{i}")))
    };
    let answers = twelve_at_once(r#"{"pipelining":false,"failOnReadAhead":true}"#);
    for (i, response) in answers.iter().enumerate() {
        assert_eq!(expect(response, 200)["id"], format!("INC-{i}"));
    }
    // The same plugin, pipelined: it must notice, or the check above could
    // not fail.
    let answers = twelve_at_once(r#"{"failOnReadAhead":true}"#);
    assert!(
        answers
            .iter()
            .any(|r| r.status == 502 && r.error_code() == "plugin_crashed"),
        "the pipelined plugin never saw a request early"
    );
}

#[test]
fn a_pool_of_three_processes_starts_and_shares_the_calls() {
    let faulty = plugin("stdio-faulty");
    let host = Host::start(&[
        ("OPSORCH_INCIDENT_PLUGIN", &faulty),
        ("OPSORCH_INCIDENT_CONFIG", r#"{"processes":3}"#),
    ]);
    // Lazy: nothing runs before the first call.
    assert!(children(host.pid()).is_empty());
    let first = expect(&host.get("/incidents/first"), 200);
    let spawned = children(host.pid());
    assert_eq!(spawned.len(), 3, "{spawned:?}");
    let mut used = BTreeSet::new();
    used.insert(first["fields"]["pid"].as_u64().unwrap());
    for i in 0..12 {
        let incident = expect(&host.get(&format!("/incidents/seq-{i}")), 200);
        used.insert(incident["fields"]["pid"].as_u64().unwrap());
    }
    let spawned: BTreeSet<u64> = spawned.into_iter().map(u64::from).collect();
    assert_eq!(used, spawned, "every pool member answers calls");
    let addr = host.addr;
    let answers = in_parallel(30, |i| get(addr, &format!("/incidents/par-{i}")));
    for (i, response) in answers.iter().enumerate() {
        assert_eq!(expect(response, 200)["id"], format!("par-{i}"));
    }
    assert_eq!(children(host.pid()).len(), 3);
}
