//! A library built against the frozen interface 1.0.0 (no asynchronous entry
//! point; `sample-plugins/fixtures/frozen/`) loads in today's host and
//! serves its calls through the synchronous path, errors included.
//!
//! The fixture is a workspace of its own (it holds a second package named
//! `opsorch-plugin-api`), so this test builds it with cargo first.

use std::path::PathBuf;
use std::process::Command;

use opsorch_e2e::{artefact_dir, Host, TempDir};

fn build_frozen_fixture() -> PathBuf {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../sample-plugins/fixtures/frozen");
    let target = artefact_dir()
        .parent()
        .expect("target directory")
        .join("frozen-fixture");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
    let status = Command::new(cargo)
        .arg("build")
        .arg("--locked")
        .arg("--manifest-path")
        .arg(root.join("Cargo.toml"))
        .arg("--target-dir")
        .arg(&target)
        .status()
        .expect("run cargo to build the frozen fixture");
    assert!(status.success(), "building the frozen fixture failed");
    let file = if cfg!(target_os = "macos") {
        "libopsorch_frozen.dylib"
    } else {
        "libopsorch_frozen.so"
    };
    target.join("debug").join(file)
}

#[test]
fn host_loads_a_library_built_against_interface_1_0_and_serves_it() {
    let library = build_frozen_fixture();
    let dir = TempDir::new("frozen");
    dir.copy_in(&library, library.file_name().unwrap().to_str().unwrap());
    let host = Host::start(&[
        ("OPSORCH_PLUGIN_DIR", dir.path().to_str().unwrap()),
        ("OPSORCH_SERVICE_PROVIDER", "frozen"),
        ("OPSORCH_SERVICE_CONFIG", r#"{"tier":"tier-1"}"#),
    ]);
    let providers = host.get("/providers/service");
    assert_eq!(providers.status, 200, "{}", providers.text());
    assert!(
        providers.json()["providers"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n == "frozen"),
        "{}",
        providers.text()
    );
    let r = host.post("/services/query", "{}");
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        r.json(),
        serde_json::json!([{"id":"svc-frozen","name":"frozen","tags":{"tier":"tier-1"}}])
    );
    let r = host.post("/services/query", r#"{"name":"fail"}"#);
    assert_eq!(r.status, 404, "{}", r.text());
    assert_eq!(r.error_code(), "not_found");
}

#[test]
fn the_host_checks_the_results_of_a_1_0_library() {
    // A 1.0 manifest has no `resultsChecked`: every result is parsed.
    let library = build_frozen_fixture();
    let out = Command::new(opsorch_e2e::binary("opsorch"))
        .args(["plugin", "inspect"])
        .arg(&library)
        .output()
        .expect("run opsorch plugin inspect");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("results:    checked by the host"), "{text}");
}
