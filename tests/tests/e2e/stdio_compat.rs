//! Plugins written for the Go host run unchanged: the Go-style fixture
//! (string errors, omitted results, null lists, nanosecond times, lock-step),
//! the SDK-built mock plugin, a plugin as the secret provider, the config
//! the plugin receives, and the allowlist for plugins set through the API.

use crate::stdio_support::*;
use opsorch_e2e::{Host, TempDir};
use serde_json::json;

#[test]
fn a_go_style_plugin_works_through_the_host() {
    let compat = plugin("stdio-compat");
    let mut host = Host::start(&[("OPSORCH_INCIDENT_PLUGIN", &compat)]);

    let got = host.get("/incidents/INC-9");
    let incident = expect(&got, 200);
    assert_eq!(incident["id"], "INC-9");
    // Nanosecond times pass through as sent.
    assert_eq!(incident["createdAt"], GO_TIME);
    assert!(got.text().contains(GO_TIME));

    // `{"error":"not found"}` (no code) → 502 provider_error with its text.
    let message = expect_error(&host.get("/incidents/missing"), 502, "provider_error");
    assert_eq!(message, "not found");
    // A coded error keeps its mapping.
    expect_error(&host.get("/incidents/coded"), 404, "not_found");

    // `{"result":null}` for a list → [].
    assert_eq!(
        expect(&host.post("/incidents/query", r#"{"query":"none"}"#), 200),
        json!([])
    );
    assert_eq!(
        expect(&host.get("/incidents/INC-1/timeline"), 200),
        json!([])
    );
    let all = expect(&host.post("/incidents/query", "{}"), 200);
    assert_eq!(all.as_array().map(Vec::len), Some(2));

    // Omitted result for timeline append → the route's own answer.
    let appended = host.post(
        "/incidents/INC-1/timeline",
        r#"{"kind":"note","body":"hi"}"#,
    );
    assert_eq!(expect(&appended, 201), json!({"status": "ok"}));

    let created = host.post(
        "/incidents",
        r#"{"title":"disk full","status":"open","severity":"sev3"}"#,
    );
    let created = expect(&created, 201);
    assert_eq!(created["id"], "INC-NEW");
    assert_eq!(created["title"], "disk full");

    // The plugin.info probe was answered with a string error and changed
    // nothing; no call was treated as bad output.
    let log = host.stderr();
    assert!(
        !log.contains("plugin_bad_output") && !log.contains("plugin_restarted"),
        "{log}"
    );
}

#[test]
fn the_plugin_gets_the_config_without_the_host_keys() {
    let compat = plugin("stdio-compat");
    let config = r#"{"token":"abc","region":"eu","processes":2,"pluginTimeoutMs":5000,"pipelining":true,"pluginInfo":false}"#;
    let host = Host::start(&[
        ("OPSORCH_INCIDENT_PLUGIN", &compat),
        ("OPSORCH_INCIDENT_CONFIG", config),
    ]);
    let incident = expect(&host.get("/incidents/config"), 200);
    assert_eq!(incident["fields"], json!({"token": "abc", "region": "eu"}));
}

#[test]
fn the_sdk_mock_plugin_serves_every_capability() {
    let mock = plugin("opsorch-mock-plugin");
    let vars: Vec<(String, String)> = opsorch_e2e::CAPABILITY_ENV_KEYS
        .iter()
        .map(|cap| (format!("OPSORCH_{cap}_PLUGIN"), mock.clone()))
        .collect();
    let env: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let mut host = Host::start(&env);
    for (path, body) in [
        ("/incidents/query", "{}"),
        ("/alerts/query", "{}"),
        ("/services/query", "{}"),
        ("/deployments/query", "{}"),
        ("/teams/query", "{}"),
        ("/tickets/query", "{}"),
        ("/orchestration/plans/query", "{}"),
    ] {
        let list = expect(&host.post(path, body), 200);
        assert!(
            list.as_array().is_some_and(|l| !l.is_empty()),
            "{path}: {list}"
        );
    }
    expect(&host.get("/metrics/describe"), 200);
    // SDK plugins identify themselves through plugin.info.
    assert!(log_line(&mut host, &["plugin identified itself", "opsorch-mock"]).is_some());
}

#[test]
fn a_plugin_secret_provider_stores_api_choices_and_api_plugins_are_allowlisted() {
    use std::os::unix::fs::{symlink, PermissionsExt};

    let plugins = TempDir::new("stdio-allow");
    let allowed = plugins.copy_in(&opsorch_e2e::binary("stdio-compat"), "compat-copy");
    let escape = plugins.path().join("escape");
    symlink(opsorch_e2e::binary("stdio-compat"), &escape).unwrap();
    let plain = plugins.path().join("not-executable");
    std::fs::write(&plain, "#!/bin/sh\n").unwrap();
    std::fs::set_permissions(&plain, std::fs::Permissions::from_mode(0o644)).unwrap();

    let compat = plugin("stdio-compat");
    let dir = plugins.path().display().to_string();
    let host = Host::start(&[
        ("OPSORCH_SECRET_PLUGIN", &compat),
        ("OPSORCH_PLUGIN_DIR", &dir),
    ]);
    expect_error(
        &host.get("/incidents/INC-1"),
        501,
        "incident_provider_missing",
    );

    let configure = |plugin_path: &str| {
        let body = json!({"provider": "compat", "plugin": plugin_path, "config": {"k": "v"}});
        host.post("/providers/incidents", &body.to_string())
    };
    // Outside every plugin directory, directly or through a symlink.
    let outside = expect_error(&configure(&compat), 400, "bad_request");
    assert!(
        outside.contains("not an executable file inside a configured plugin directory"),
        "{outside}"
    );
    let via_link = expect_error(
        &configure(&escape.display().to_string()),
        400,
        "bad_request",
    );
    assert_eq!(
        via_link.replace(&escape.display().to_string(), &compat),
        outside
    );
    let dotdot = format!("{dir}/../{}", "x");
    expect_error(&configure(&dotdot), 400, "bad_request");
    let missing = expect_error(&configure(&format!("{dir}/nope")), 400, "bad_request");
    assert!(missing.contains("does not exist"), "{missing}");
    let not_exec = expect_error(&configure(&plain.display().to_string()), 400, "bad_request");
    assert!(not_exec.contains("not executable"), "{not_exec}");
    expect_error(
        &host.get("/incidents/INC-1"),
        501,
        "incident_provider_missing",
    );

    // Inside: accepted, stored through the secret plugin, and serving.
    let ok = configure(&allowed.display().to_string());
    assert_eq!(expect(&ok, 200), json!({"status": "ok"}));
    let incident = expect(&host.get("/incidents/config"), 200);
    assert_eq!(incident["fields"], json!({"k": "v"}));
}

#[test]
fn plugins_inherit_the_environment_but_not_the_host_secrets() {
    let compat = plugin("stdio-compat");
    let key = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
    let host = Host::start(&[
        ("OPSORCH_INCIDENT_PLUGIN", &compat),
        ("OPSORCH_BEARER_TOKEN", "tok-123"),
        ("OPSORCH_SECRET_KEY", key),
        ("OPSORCH_INCIDENT_CONFIG", r#"{"token":"own-token"}"#),
        ("OPSORCH_ALERT_CONFIG", r#"{"apiKey":"other-adapters-key"}"#),
    ]);
    let response = host.raw_request(
        "GET",
        "/incidents/env",
        &[("Authorization", "Bearer tok-123")],
        None,
    );
    let fields = expect(&response, 200)["fields"].clone();
    assert_eq!(fields["bearer"], "");
    assert_eq!(fields["secretKey"], "");
    // Other adapters' configs hold their credentials; its own config comes
    // with each request, not through the environment.
    assert_eq!(fields["alertConfig"], "");
    assert_eq!(fields["incidentConfig"], "");
    assert!(
        fields["path"].as_str().is_some_and(|p| !p.is_empty()),
        "{fields}"
    );
}
