//! Shared pieces of the property tests ("fuzzing" on stable): whatever
//! arrives, from a client or from a plugin, the host answers with the
//! contract's JSON and never panics. The properties sit next to the code
//! they test, each test named `fuzz_…` or in a `fuzz` module:
//! - the whole router in process (`http::routes::fuzz`): arbitrary methods,
//!   paths built from the route table with arbitrary (percent-encoded)
//!   segments, arbitrary bodies and mutated valid bodies, arbitrary headers;
//!   strict body decoding for every request type; JSON values of any shape
//!   in every free-form field (`metadata`, `config` of `POST
//!   /providers/{cap}`);
//! - the stdio response line (`StdioResponse`), its error classification
//!   and the host's result normalisation (`providers::seam`);
//! - the stored provider choice (`providers::selection`), `_CONFIG` objects
//!   and `Settings::from_env` with arbitrary values for every variable
//!   (`settings`), the secret file decoder (plain and encrypted envelopes)
//!   and encryption keys (`builtins::json_secrets`).
//!
//! Each property runs `PROPTEST_CASES` cases (proptest's default, 256, under
//! `cargo test`; `scripts/fuzz` runs many more).

use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use serde_json::Value;

pub(crate) fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// Runs `test` on `strategy` for the configured number of cases and prints
/// the figure for docs/RELIABILITY.md.
pub(crate) fn run<S: Strategy>(
    name: &str,
    strategy: S,
    test: impl Fn(S::Value) -> Result<(), TestCaseError>,
) where
    S::Value: std::fmt::Debug,
{
    // Failing inputs are printed by the panic; no regression files are
    // written into the source tree.
    let config = Config {
        failure_persistence: None,
        ..Config::default()
    };
    let cases = config.cases;
    let mut runner = TestRunner::new(config);
    if let Err(e) = runner.run(&strategy, test) {
        panic!("{name}: {e}");
    }
    println!("fuzz {name}: {cases} cases, 0 failures");
}

/// Arbitrary JSON values, nested a few levels.
pub(crate) fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        ".{0,20}".prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(".{0,8}", inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Valid bodies to mutate: one per kind of body the API reads.
const SEEDS: &[&str] = &[
    r#"{"query":"x","statuses":["open"],"severities":["sev1"],"scope":{"service":"a"},"limit":5,"metadata":{"k":1}}"#,
    r#"{"title":"t","status":"open","severity":"sev2","service":"s","fields":{"a":[1,2]}}"#,
    r#"{"kind":"note","body":"b","at":"2026-11-01T00:00:00Z","actor":{"id":"u"}}"#,
    r#"{"expression":{"search":"e","filters":[{"field":"f","operator":"=","value":"v"}],"severityIn":["error"]},"start":"2026-11-01T00:00:00Z","end":"2026-11-01T01:00:00Z","limit":20}"#,
    r#"{"expression":{"metricName":"m","aggregation":"sum","groupBy":["s"]},"start":"2026-11-01T00:00:00Z","end":"2026-11-01T01:00:00Z","step":300}"#,
    r##"{"channel":"#c","body":"b","blocks":[{"type":"section","text":"t","fields":{"a":"b"}}]}"##,
    r#"{"provider":"echo","config":{"seed":7,"token":"x"}}"#,
    r#"{"planId":"p"}"#,
    r#"{"actor":"a","note":"n"}"#,
    r#"{"title":"t","assignees":["a"],"status":"done"}"#,
];

/// A seed body with bytes flipped, inserted or removed.
pub(crate) fn mutated_body() -> impl Strategy<Value = Vec<u8>> {
    (
        prop::sample::select(SEEDS),
        prop::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0u8..3), 0..6),
    )
        .prop_map(|(seed, edits)| {
            let mut bytes = seed.as_bytes().to_vec();
            for (at, byte, op) in edits {
                if bytes.is_empty() {
                    bytes.push(byte);
                    continue;
                }
                let i = at.index(bytes.len());
                match op {
                    0 => bytes[i] = byte,
                    1 => bytes.insert(i, byte),
                    _ => {
                        bytes.remove(i);
                    }
                }
            }
            bytes
        })
}

pub(crate) fn body() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        3 => mutated_body(),
        1 => prop::collection::vec(any::<u8>(), 0..256),
        1 => json_value().prop_map(|v| v.to_string().into_bytes()),
        1 => (prop::sample::select(&["metadata", "config", "fields", "scope", "limit"][..]), json_value())
            .prop_map(|(k, v)| format!(r#"{{"provider":"echo","{k}":{v}}}"#).into_bytes()),
        1 => (1usize..3000, prop::sample::select(&["[", "{\"a\":", "[{\"b\":"][..]))
            .prop_map(|(n, open)| format!("{{\"metadata\":{}", open.repeat(n)).into_bytes()),
    ]
}
