//! Start-up: what the environment selects, and every refusal to start.

use std::collections::HashMap;

fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Runs the whole start-up path short of opening a socket; returns the
/// refusal as the binary prints it.
async fn refusal(pairs: &[(&str, &str)]) -> String {
    match opsorch::prepare(&env(pairs)).await {
        Ok(_) => panic!("start-up accepted {pairs:?}"),
        Err(err) => format!("{err:#}"),
    }
}

fn assert_one_line_naming(message: &str, variable: &str) {
    assert!(!message.contains('\n'), "{message:?}");
    assert!(message.starts_with(&format!("{variable}: ")), "{message:?}");
}

#[tokio::test]
async fn starts_with_nothing_configured() {
    let (settings, state) = opsorch::prepare(&env(&[])).await.unwrap();
    assert_eq!(settings.addr, ":8080");
    assert!(state.secret().is_none());
    assert_eq!(
        state
            .registry()
            .names(opsorch_plugin_api::methods::Capability::Secret),
        ["json"]
    );
}

#[tokio::test]
async fn refuses_invalid_config_json() {
    let message = refusal(&[
        ("OPSORCH_INCIDENT_PROVIDER", "x"),
        ("OPSORCH_INCIDENT_CONFIG", r#"{"apiKey": hunter2}"#),
    ])
    .await;
    assert_one_line_naming(&message, "OPSORCH_INCIDENT_CONFIG");
    assert!(!message.contains("hunter2"), "{message}");
    let message = refusal(&[("OPSORCH_METRIC_CONFIG", r#""hunter2""#)]).await;
    assert_one_line_naming(&message, "OPSORCH_METRIC_CONFIG");
    assert!(message.contains("must be a JSON object") && !message.contains("hunter2"));
}

#[tokio::test]
async fn refuses_unknown_provider_names() {
    let message = refusal(&[("OPSORCH_TICKET_PROVIDER", "jira")]).await;
    assert_one_line_naming(&message, "OPSORCH_TICKET_PROVIDER");
    assert!(
        message.contains("unknown ticket provider `jira`"),
        "{message}"
    );
    let message = refusal(&[("OPSORCH_SECRET_PROVIDER", "vault")]).await;
    assert_one_line_naming(&message, "OPSORCH_SECRET_PROVIDER");
    assert!(message.contains("registered: json"), "{message}");
}

#[tokio::test]
async fn refuses_half_a_tls_pair() {
    let message = refusal(&[("OPSORCH_TLS_CERT_FILE", "/etc/cert.pem")]).await;
    assert_one_line_naming(&message, "OPSORCH_TLS_KEY_FILE");
    let message = refusal(&[("OPSORCH_TLS_KEY_FILE", "/etc/key.pem")]).await;
    assert_one_line_naming(&message, "OPSORCH_TLS_CERT_FILE");
}

#[tokio::test]
async fn refuses_missing_unreadable_or_unparsable_secret_files() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.json");
    let config = crate::support::json_secret_config(&missing);
    let message = refusal(&[
        ("OPSORCH_SECRET_PROVIDER", "json"),
        ("OPSORCH_SECRET_CONFIG", &config),
    ])
    .await;
    assert_one_line_naming(&message, "OPSORCH_SECRET_CONFIG");
    assert!(message.contains("cannot read the secret file"), "{message}");

    let unreadable = dir.path().join("a-directory");
    std::fs::create_dir(&unreadable).unwrap();
    let config = crate::support::json_secret_config(&unreadable);
    let message = refusal(&[
        ("OPSORCH_SECRET_PROVIDER", "json"),
        ("OPSORCH_SECRET_CONFIG", &config),
    ])
    .await;
    assert_one_line_naming(&message, "OPSORCH_SECRET_CONFIG");

    let garbage =
        crate::support::secret_file(dir.path(), r#"{"providers/incident/default": "hunter2"#);
    let config = crate::support::json_secret_config(&garbage);
    let message = refusal(&[
        ("OPSORCH_SECRET_PROVIDER", "JSON"),
        ("OPSORCH_SECRET_CONFIG", &config),
    ])
    .await;
    assert_one_line_naming(&message, "OPSORCH_SECRET_CONFIG");
    assert!(
        message.contains("not valid JSON") && !message.contains("hunter2"),
        "{message}"
    );

    let message = refusal(&[("OPSORCH_SECRET_PROVIDER", "json")]).await;
    assert_one_line_naming(&message, "OPSORCH_SECRET_CONFIG");
    assert!(message.contains("path"), "{message}");
}

#[tokio::test]
async fn refuses_an_unusable_stored_choice_naming_its_key() {
    let dir = tempfile::tempdir().unwrap();
    let stored = serde_json::json!({
        "providers/deployment/default": r#"{"provider":"gone","config":{"token":"hunter2"}}"#
    });
    let path = crate::support::secret_file(dir.path(), &stored.to_string());
    let config = crate::support::json_secret_config(&path);
    let message = refusal(&[
        ("OPSORCH_SECRET_PROVIDER", "json"),
        ("OPSORCH_SECRET_CONFIG", &config),
    ])
    .await;
    assert_one_line_naming(&message, "providers/deployment/default");
    assert!(
        message.contains("unknown deployment provider `gone`") && !message.contains("hunter2"),
        "{message}"
    );

    let stored = serde_json::json!({ "providers/team/default": "{\"provider\": hunter2" });
    let path = crate::support::secret_file(dir.path(), &stored.to_string());
    let config = crate::support::json_secret_config(&path);
    let message = refusal(&[
        ("OPSORCH_SECRET_PROVIDER", "json"),
        ("OPSORCH_SECRET_CONFIG", &config),
    ])
    .await;
    assert_one_line_naming(&message, "providers/team/default");
    assert!(!message.contains("hunter2"), "{message}");
}

#[tokio::test]
async fn env_selection_ignores_the_store_for_that_capability() {
    let dir = tempfile::tempdir().unwrap();
    // A broken stored choice for incident does not matter when the env selects one.
    let stored = serde_json::json!({ "providers/incident/default": r#"{"provider":"gone"}"# });
    let path = crate::support::secret_file(dir.path(), &stored.to_string());
    let config = crate::support::json_secret_config(&path);
    let message = refusal(&[
        ("OPSORCH_SECRET_PROVIDER", "json"),
        ("OPSORCH_SECRET_CONFIG", &config),
        ("OPSORCH_INCIDENT_PROVIDER", "also-unknown"),
    ])
    .await;
    assert_one_line_naming(&message, "OPSORCH_INCIDENT_PROVIDER");
}

#[tokio::test]
async fn refuses_bad_body_limits() {
    let message = refusal(&[("OPSORCH_MAX_BODY_BYTES", "lots")]).await;
    assert_one_line_naming(&message, "OPSORCH_MAX_BODY_BYTES");
}

/// Writes an executable `/bin/sh` stdio plugin answering every request line
/// with an incident list holding one incident, `id`.
fn sh_plugin(dir: &std::path::Path, id: &str) -> std::path::PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join(format!("plugin-{id}.sh"));
    let body = format!(
        "#!/bin/sh\nwhile read -r line; do echo '{{\"result\":[{{\"id\":\"{id}\"}}]}}'; done\n"
    );
    std::fs::write(&path, body).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

#[tokio::test]
async fn two_hosts_in_one_process_share_nothing() {
    use opsorch_plugin_api::methods::{Capability, Method};

    let dir = tempfile::tempdir().unwrap();
    let a = sh_plugin(dir.path(), "a");
    let b = sh_plugin(dir.path(), "b");
    let (settings_a, host_a) = opsorch::prepare(&env(&[
        ("OPSORCH_INCIDENT_PLUGIN", a.to_str().unwrap()),
        ("OPSORCH_PLUGIN_TIMEOUT_MS", "20000"),
    ]))
    .await
    .unwrap();
    let (settings_b, host_b) =
        opsorch::prepare(&env(&[("OPSORCH_INCIDENT_PLUGIN", b.to_str().unwrap())]))
            .await
            .unwrap();
    assert_eq!(
        settings_a.plugin_timeout,
        std::time::Duration::from_millis(20000)
    );
    assert_eq!(
        settings_b.plugin_timeout,
        std::time::Duration::from_secs(30)
    );

    let query = |state: &opsorch::AppState| {
        let provider = state.provider(Capability::Incident).unwrap();
        async move {
            provider
                .call(Method::IncidentQuery, "{}".into())
                .await
                .map(|json| json.get().to_owned())
        }
    };
    assert_eq!(query(&host_a).await.unwrap(), r#"[{"id":"a"}]"#);
    assert_eq!(query(&host_b).await.unwrap(), r#"[{"id":"b"}]"#);

    // Shutting one host's plugins down leaves the other's running: the
    // stdio transport belongs to each state, not to the process.
    host_a.plugins().shutdown().await;
    let refused = query(&host_a).await.unwrap_err();
    assert_eq!(refused.code, "plugin_unavailable", "{refused:?}");
    assert_eq!(query(&host_b).await.unwrap(), r#"[{"id":"b"}]"#);
    host_b.plugins().shutdown().await;
}
