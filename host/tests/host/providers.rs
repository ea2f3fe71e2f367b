//! The provider-configuration API: listing, choosing, persisting, restarting.

use std::collections::HashMap;
use std::os::unix::fs::PermissionsExt;
use std::sync::Arc;

use crate::support::*;
use opsorch::{
    build_state, AppState, HttpSettings, Provider, ProviderError, ProviderFuture, Settings,
};
use opsorch_plugin_api::methods::{Capability, Method};
use serde_json::{json, Value};

/// A state backed by the json secret store at `path`, as start-up builds it.
async fn state_from_env(factory: &Arc<FakeFactory>, env: &[(&str, &str)]) -> AppState {
    let env: HashMap<String, String> = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let settings = Settings::from_env(&env).unwrap();
    build_state(&settings, registry(factory)).await.unwrap()
}

fn secret_env(path: &str) -> Vec<(&'static str, String)> {
    vec![
        ("OPSORCH_SECRET_PROVIDER", "json".to_owned()),
        ("OPSORCH_SECRET_CONFIG", json!({ "path": path }).to_string()),
    ]
}

async fn json_store_state(factory: &Arc<FakeFactory>, path: &std::path::Path) -> AppState {
    let env = secret_env(&path.display().to_string());
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    state_from_env(factory, &env).await
}

#[tokio::test]
async fn lists_registered_names_sorted_for_any_spelling() {
    let factory = Arc::new(FakeFactory::default());
    let state = AppState::new(registry(&factory), None, HttpSettings::default());
    let app = opsorch::app(state);
    for spelling in [
        "incident",
        "Incidents",
        "INCIDENT",
        "messages",
        "Messaging",
        "orchestrations",
    ] {
        let reply = get(&app, &format!("/providers/{spelling}")).await;
        assert_eq!(reply.status, 200, "{spelling}");
        assert_eq!(
            reply.json(),
            json!({"providers": ["fake", "other"]}),
            "{spelling}"
        );
    }
}

#[tokio::test]
async fn configuring_needs_a_secret_provider() {
    let factory = Arc::new(FakeFactory::default());
    let app = opsorch::app(AppState::new(
        registry(&factory),
        None,
        HttpSettings::default(),
    ));
    let reply = post(&app, "/providers/incident", r#"{"provider":"fake"}"#).await;
    reply.assert_error(501, "secret_provider_missing");
    assert!(factory.created(Capability::Incident).is_none());
}

#[tokio::test]
async fn configures_applies_and_persists_every_capability() {
    let dir = tempfile::tempdir().unwrap();
    let path = secret_file(dir.path(), "{}");
    let factory = Arc::new(FakeFactory::default());
    let state = json_store_state(&factory, &path).await;
    let app = opsorch::app(state.clone());

    let spellings = [
        "incidents",
        "alert",
        "Logs",
        "metric",
        "tickets",
        "messages",
        "service",
        "deployments",
        "TEAM",
        "orchestration",
    ];
    for (cap, spelling) in Capability::ROUTED.into_iter().zip(spellings) {
        assert!(state.provider(cap).is_err(), "{cap} configured too early");
        let body =
            json!({"provider": "Fake", "config": {"token": format!("tok-{cap}")}}).to_string();
        let reply = send(
            &app,
            "POST",
            &format!("/providers/{spelling}"),
            Some(&body),
            &[("x-user-id", "alice")],
        )
        .await;
        assert_eq!(reply.status, 200, "{cap}: {}", reply.text);
        assert_eq!(reply.json(), json!({"status": "ok"}));
        let created = factory.created(cap).expect("provider built");
        assert_eq!(created.config["token"], format!("tok-{cap}"));
        // It is in effect at once (inside the host's bookkeeping wrapper).
        let in_effect = state.provider(cap).unwrap();
        let inner = in_effect
            .wrapped()
            .expect("providers in effect are tracked");
        assert!(Arc::ptr_eq(inner, &(created.clone() as Arc<dyn Provider>)));
    }

    // Persisted: one JSON string per capability, in the Go format.
    let stored: serde_json::Map<String, Value> =
        serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    assert_eq!(stored.len(), 10);
    let incident: Value =
        serde_json::from_str(stored["providers/incident/default"].as_str().unwrap()).unwrap();
    assert_eq!(
        incident,
        json!({"provider": "Fake", "config": {"token": "tok-incident"}})
    );
    assert!(stored.contains_key("providers/messaging/default"));
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);

    // A routed call reaches the configured provider.
    let reply = get(&app, "/teams/eng/members").await;
    assert_eq!(reply.status, 200);
    assert_eq!(
        factory
            .created(Capability::Team)
            .unwrap()
            .last_call()
            .payload,
        json!({"teamID": "eng"})
    );
}

#[tokio::test]
async fn stored_choices_survive_a_restart_and_env_wins() {
    let dir = tempfile::tempdir().unwrap();
    let path = secret_file(dir.path(), r#"{"unrelated":"value"}"#);
    {
        let factory = Arc::new(FakeFactory::default());
        let app = opsorch::app(json_store_state(&factory, &path).await);
        let reply = post(
            &app,
            "/providers/incidents",
            r#"{"provider":"fake","config":{"generation":1}}"#,
        )
        .await;
        assert_eq!(reply.status, 200, "{}", reply.text);
        let reply = post(
            &app,
            "/providers/logs",
            r#"{"provider":"fake","config":{"generation":1}}"#,
        )
        .await;
        assert_eq!(reply.status, 200, "{}", reply.text);
    }
    // "Restart": a new state from the same file and environment.
    let factory = Arc::new(FakeFactory::default());
    let mut env = secret_env(&path.display().to_string());
    env.push(("OPSORCH_LOG_PROVIDER", "other".into()));
    env.push(("OPSORCH_LOG_CONFIG", r#"{"from":"env"}"#.into()));
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let state = state_from_env(&factory, &env).await;
    let app = opsorch::app(state.clone());

    let incident = factory
        .created(Capability::Incident)
        .expect("stored incident provider restored");
    assert_eq!(incident.config["generation"], 1);
    let reply = get(&app, "/incidents/i9").await;
    assert_eq!(reply.status, 200);
    assert_eq!(
        incident.last_call(),
        Call {
            method: Method::IncidentGet,
            payload: json!({"id": "i9"})
        }
    );
    // The environment wins over the stored choice.
    assert_eq!(
        factory.created(Capability::Log).unwrap().config["from"],
        "env"
    );
    // Nothing stored, nothing in effect.
    post(&app, "/alerts/query", "{}")
        .await
        .assert_error(501, "alert_provider_missing");
    // The unrelated key survived the rewrites.
    let stored: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    assert_eq!(stored["unrelated"], "value");
}

#[tokio::test]
async fn rejects_bad_choices_without_changing_anything() {
    let dir = tempfile::tempdir().unwrap();
    let path = secret_file(dir.path(), "{}");
    let factory = Arc::new(FakeFactory::default());
    let state = json_store_state(&factory, &path).await;
    let app = opsorch::app(state.clone());

    for (body, message) in [
        (r#"{}"#, Some("provider required")),
        (r#"{"provider":""}"#, Some("provider required")),
        (r#"{"config":{"a":1}}"#, Some("provider required")),
        (
            r#"{"provider":"nope"}"#,
            Some("unknown incident provider `nope`"),
        ),
        (
            r#"{"provider":"fake","config":{"fail":true,"token":"hunter2"}}"#,
            None,
        ),
        (
            r#"{"provider":"fake","plugin":"/nonexistent/plugin"}"#,
            None,
        ),
        (r#"{"provider":"fake","extra":1}"#, None),
        (r#"{"provider":"fake","config":"hunter2"}"#, None),
        ("{", None),
    ] {
        let reply = post(&app, "/providers/incident", body).await;
        reply.assert_error(400, "bad_request");
        if let Some(message) = message {
            assert_eq!(reply.json()["message"], message, "{body}");
        }
        assert!(!reply.text.contains("hunter2"), "{}", reply.text);
    }
    assert!(state.provider(Capability::Incident).is_err());
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "{}");
}

/// A secret store whose writes fail.
struct BrokenStore;
impl Provider for BrokenStore {
    fn call(&self, method: Method, _: String) -> ProviderFuture<'_> {
        Box::pin(async move {
            match method {
                Method::SecretGet => Err(ProviderError::new("not_found", "nothing")),
                _ => Err(ProviderError::new("", "disk on fire at /secret/path")),
            }
        })
    }
}

#[tokio::test]
async fn a_failed_store_is_502_and_keeps_the_previous_provider() {
    let factory = Arc::new(FakeFactory::default());
    let state = AppState::new(
        registry(&factory),
        Some(Arc::new(BrokenStore)),
        HttpSettings::default(),
    );
    let previous = FakeProvider::new();
    state.set_provider(Capability::Ticket, Some(previous.clone()));
    let app = opsorch::app(state.clone());
    let reply = post(&app, "/providers/tickets", r#"{"provider":"fake"}"#).await;
    reply.assert_error(502, "secret_store_error");
    assert!(!reply.text.contains("/secret/path"));
    assert!(Arc::ptr_eq(
        &state.provider(Capability::Ticket).unwrap(),
        &(previous as Arc<dyn Provider>)
    ));
}

/// A secret file (or its directory) made read-only, as a Kubernetes Secret
/// mount is: `POST /providers` answers 409 `secret_store_read_only`, the
/// previous provider stays, the file is untouched; writable again, the same
/// request is stored.
#[tokio::test]
async fn a_read_only_secret_store_is_409_and_keeps_the_previous_provider() {
    for read_only_dir in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        let path = secret_file(dir.path(), "{}");
        let factory = Arc::new(FakeFactory::default());
        let state = json_store_state(&factory, &path).await;
        let app = opsorch::app(state.clone());
        let target = if read_only_dir { dir.path() } else { &path };
        let writable = std::fs::metadata(target).unwrap().permissions().mode() & 0o777;
        std::fs::set_permissions(target, std::fs::Permissions::from_mode(0o500)).unwrap();
        let before = std::fs::read(&path).unwrap();
        let reply = post(&app, "/providers/tickets", r#"{"provider":"fake"}"#).await;
        std::fs::set_permissions(target, std::fs::Permissions::from_mode(writable)).unwrap();
        reply.assert_error(409, "secret_store_read_only");
        assert!(
            reply.json()["message"]
                .as_str()
                .unwrap()
                .contains("OPSORCH_<CAP>_PROVIDER"),
            "{}",
            reply.text
        );
        assert!(!reply.text.contains(&dir.path().display().to_string()));
        assert!(state.provider(Capability::Ticket).is_err());
        assert_eq!(std::fs::read(&path).unwrap(), before);

        let reply = post(&app, "/providers/tickets", r#"{"provider":"fake"}"#).await;
        assert_eq!(reply.status, 200, "{}", reply.text);
        assert!(state.provider(Capability::Ticket).is_ok());
    }
}

#[tokio::test]
async fn body_limit_applies_to_the_providers_api() {
    let dir = tempfile::tempdir().unwrap();
    let path = secret_file(dir.path(), "{}");
    let factory = Arc::new(FakeFactory::default());
    let env = secret_env(&path.display().to_string());
    let mut env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    env.push(("OPSORCH_MAX_BODY_BYTES", "128"));
    let app = opsorch::app(state_from_env(&factory, &env).await);
    let body = json!({"provider": "fake", "config": {"blob": "x".repeat(200)}}).to_string();
    post(&app, "/providers/incident", &body)
        .await
        .assert_error(413, "payload_too_large");
}

#[tokio::test]
async fn a_plugin_path_wins_over_a_provider_name() {
    let dir = tempfile::tempdir().unwrap();
    let path = secret_file(dir.path(), "{}");
    let factory = Arc::new(FakeFactory::default());
    let state = json_store_state(&factory, &path).await;
    // The path is used (and refused: it does not exist); the named provider
    // is not built.
    let reply = post(
        &opsorch::app(state.clone()),
        "/providers/incident",
        r#"{"provider":"fake","plugin":"/nonexistent/plugin"}"#,
    )
    .await;
    reply.assert_error(400, "bad_request");
    let message = reply.json()["message"].as_str().unwrap().to_owned();
    assert!(
        message.starts_with("plugin ") && message.contains("/nonexistent/plugin"),
        "{message}"
    );
    assert!(factory.created(Capability::Incident).is_none());
    assert!(state.provider(Capability::Incident).is_err());
    let registry = registry(&factory);

    // The same from the environment, for a capability and for the secret store.
    let env: HashMap<String, String> = [
        ("OPSORCH_SECRET_PROVIDER", "fake"),
        ("OPSORCH_SECRET_PLUGIN", "/nonexistent/secret-plugin"),
        ("OPSORCH_LOG_PROVIDER", "fake"),
        ("OPSORCH_LOG_PLUGIN", "/nonexistent/log-plugin"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let settings = Settings::from_env(&env).unwrap();
    let err = build_state(&settings, registry)
        .await
        .err()
        .expect("start-up refuses the plugin that does not exist");
    assert!(err.to_string().contains("/nonexistent/"), "{err}");
    assert!(factory.created(Capability::Secret).is_none());
    assert!(factory.created(Capability::Log).is_none());
}

/// Blocks every call until released, and says when a call has arrived.
struct Gate(tokio::sync::Semaphore, tokio::sync::Notify);
impl Provider for Gate {
    fn call(&self, _: Method, _: String) -> ProviderFuture<'_> {
        Box::pin(async move {
            self.1.notify_one();
            let _permit = self.0.acquire().await.unwrap();
            Ok(opsorch::Json::check(r#"[{"id":"old"}]"#).unwrap())
        })
    }
}

#[tokio::test]
async fn reconfiguring_does_not_wait_for_calls_in_flight() {
    let dir = tempfile::tempdir().unwrap();
    let path = secret_file(dir.path(), "{}");
    let factory = Arc::new(FakeFactory::default());
    let state = json_store_state(&factory, &path).await;
    let gate = Arc::new(Gate(
        tokio::sync::Semaphore::new(0),
        tokio::sync::Notify::new(),
    ));
    state.set_provider(Capability::Incident, Some(gate.clone()));
    let app = opsorch::app(state.clone());

    let in_flight = tokio::spawn({
        let app = app.clone();
        async move { post(&app, "/incidents/query", "{}").await }
    });
    tokio::time::timeout(REPLY_BOUND, gate.1.notified())
        .await
        .expect("the call reached the provider");
    let swap = tokio::time::timeout(
        std::time::Duration::from_secs(5),
        post(&app, "/providers/incident", r#"{"provider":"fake"}"#),
    )
    .await
    .expect("the swap waited for a call in flight");
    assert_eq!(swap.status, 200);
    // New calls reach the new provider while the old call is still running.
    assert_eq!(post(&app, "/incidents/query", "{}").await.json(), json!([]));
    assert!(!in_flight.is_finished());
    gate.0.add_permits(1);
    let old = in_flight.await.unwrap();
    assert_eq!(old.json(), json!([{"id": "old"}]));
}

/// A plugin launcher whose configuration checks are held until released:
/// a check of `/plugins/slow` waits (at most 30 s, longer than
/// [`REPLY_BOUND`]) for [`HeldChecks::release`]; every other path passes
/// at once. It hands out one provider per launch and remembers them.
struct HeldChecks {
    arrived: tokio::sync::Notify,
    released: tokio::sync::Semaphore,
    launched: std::sync::Mutex<Vec<(std::path::PathBuf, Arc<FakeProvider>)>>,
}

impl Default for HeldChecks {
    fn default() -> Self {
        HeldChecks {
            arrived: tokio::sync::Notify::new(),
            released: tokio::sync::Semaphore::new(0),
            launched: std::sync::Mutex::default(),
        }
    }
}

impl HeldChecks {
    fn release(&self) {
        self.released.add_permits(1);
    }

    fn launched(&self, path: &str) -> Arc<dyn Provider> {
        let launched = self.launched.lock().unwrap();
        let (_, provider) = launched
            .iter()
            .find(|(p, _)| p == std::path::Path::new(path))
            .expect("launched");
        provider.clone()
    }
}

impl opsorch::PluginLauncher for HeldChecks {
    fn launch<'a>(
        &'a self,
        _: Capability,
        path: &'a std::path::Path,
        _: &'a serde_json::Map<String, Value>,
        _: bool,
    ) -> std::pin::Pin<
        Box<
            dyn std::future::Future<Output = Result<opsorch::LaunchedPlugin, opsorch::BuildError>>
                + Send
                + 'a,
        >,
    > {
        Box::pin(async move {
            if path == std::path::Path::new("/plugins/slow") {
                self.arrived.notify_one();
                let released = tokio::time::timeout(
                    std::time::Duration::from_secs(30),
                    self.released.acquire(),
                );
                match released.await {
                    Ok(Ok(permit)) => permit.forget(),
                    _ => return Err(opsorch::BuildError::Invalid("never released".into())),
                }
            }
            let provider = FakeProvider::new();
            self.launched
                .lock()
                .unwrap()
                .push((path.to_owned(), provider.clone()));
            Ok(opsorch::LaunchedPlugin {
                provider,
                providers: Vec::new(),
            })
        })
    }

    fn shutdown(&self) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send + '_>> {
        Box::pin(async {})
    }
}

/// A secret store that records every put, takes its time over each (so
/// two puts at once would overlap), and counts the most at once.
#[derive(Default)]
struct SlowStore {
    puts: std::sync::Mutex<Vec<Value>>,
    in_flight: std::sync::atomic::AtomicUsize,
    most_at_once: std::sync::atomic::AtomicUsize,
}

impl SlowStore {
    /// The values put under `providers/<cap>/default`, in order.
    fn stored(&self, cap: Capability) -> Vec<Value> {
        let key = format!("providers/{}/default", cap.name());
        self.puts
            .lock()
            .unwrap()
            .iter()
            .filter(|put| put["key"] == key.as_str())
            .map(|put| serde_json::from_str(put["value"].as_str().unwrap()).unwrap())
            .collect()
    }
}

impl Provider for SlowStore {
    fn call(&self, method: Method, payload: String) -> ProviderFuture<'_> {
        use std::sync::atomic::Ordering::SeqCst;
        Box::pin(async move {
            match method {
                Method::SecretPut => {
                    let now = self.in_flight.fetch_add(1, SeqCst) + 1;
                    self.most_at_once.fetch_max(now, SeqCst);
                    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
                    self.puts
                        .lock()
                        .unwrap()
                        .push(serde_json::from_str(&payload).unwrap());
                    self.in_flight.fetch_sub(1, SeqCst);
                    Ok(opsorch::Json::check("null".to_owned()).unwrap())
                }
                _ => Err(ProviderError::new("not_found", "nothing stored")),
            }
        })
    }
}

fn held_state(factory: &Arc<FakeFactory>) -> (AppState, Arc<HeldChecks>, Arc<SlowStore>) {
    let checks = Arc::new(HeldChecks::default());
    let store = Arc::new(SlowStore::default());
    let state = AppState::with_plugins(
        registry(factory),
        checks.clone(),
        Some(store.clone()),
        HttpSettings::default(),
        None,
    );
    (state, checks, store)
}

fn is_in_effect(state: &AppState, cap: Capability, provider: &Arc<dyn Provider>) -> bool {
    let in_effect = state.provider(cap).unwrap();
    Arc::ptr_eq(in_effect.wrapped().expect("tracked"), provider)
}

/// A plugin's configuration check (up to seconds) holds up no other
/// `POST /providers`, of another capability or of its own; the choice
/// stored last is the one in effect.
#[tokio::test]
async fn a_plugin_check_in_progress_holds_up_no_other_reconfiguration() {
    let factory = Arc::new(FakeFactory::default());
    let (state, checks, store) = held_state(&factory);
    let app = opsorch::app(state.clone());
    let slow = tokio::spawn({
        let app = app.clone();
        async move {
            post(
                &app,
                "/providers/incident",
                r#"{"provider":"p","plugin":"/plugins/slow"}"#,
            )
            .await
        }
    });
    tokio::time::timeout(REPLY_BOUND, checks.arrived.notified())
        .await
        .expect("the slow check started");

    // Each answers while the check is held (or `post` gives up after
    // REPLY_BOUND, before the check would).
    assert_eq!(
        post(&app, "/providers/log", r#"{"provider":"fake"}"#)
            .await
            .status,
        200
    );
    let fast = post(
        &app,
        "/providers/incident",
        r#"{"provider":"p","plugin":"/plugins/fast"}"#,
    )
    .await;
    assert_eq!(fast.status, 200, "{}", fast.text);
    assert!(is_in_effect(
        &state,
        Capability::Incident,
        &checks.launched("/plugins/fast")
    ));
    assert!(state.provider(Capability::Log).is_ok());
    assert!(!slow.is_finished());

    // Released, the slow one is stored and put in effect after the fast one.
    checks.release();
    assert_eq!(slow.await.unwrap().status, 200);
    assert!(is_in_effect(
        &state,
        Capability::Incident,
        &checks.launched("/plugins/slow")
    ));
    let stored: Vec<Value> = store
        .stored(Capability::Incident)
        .iter()
        .map(|choice| choice["plugin"].clone())
        .collect();
    assert_eq!(stored, [json!("/plugins/fast"), json!("/plugins/slow")]);
    assert_eq!(store.stored(Capability::Log).len(), 1);
}

/// Concurrent `POST /providers` to one capability: every one is stored,
/// no two writes to the secret store overlap, and the choice stored last
/// is the one in effect.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_reconfigurations_of_one_capability_end_as_stored() {
    const POSTS: usize = 16;
    let factory = Arc::new(FakeFactory::default());
    let (state, checks, store) = held_state(&factory);
    let app = opsorch::app(state.clone());
    let posts: Vec<_> = (0..POSTS)
        .map(|n| {
            let app = app.clone();
            tokio::spawn(async move {
                let body = json!({"provider": "p", "plugin": format!("/plugins/{n}")});
                post(&app, "/providers/service", &body.to_string()).await
            })
        })
        .collect();
    for post in posts {
        assert_eq!(post.await.unwrap().status, 200);
    }
    assert_eq!(
        store.most_at_once.load(std::sync::atomic::Ordering::SeqCst),
        1,
        "two writes to the secret store overlapped"
    );
    let stored = store.stored(Capability::Service);
    assert_eq!(stored.len(), POSTS, "a choice was not stored");
    let last = stored.last().unwrap()["plugin"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(is_in_effect(
        &state,
        Capability::Service,
        &checks.launched(&last)
    ));
}
