//! In-process tests of the transport against tiny `/bin/sh` plugins (the
//! end-to-end suite uses the fixture binaries through the real host). Each
//! test has its own [`Transport`], so none of them touches global state.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use opsorch_plugin_api::methods::{Capability, Method};
use serde_json::{json, Map, Value};

use super::pool::PluginPool;
use super::{Transport, TransportSettings};
use crate::providers::seam::{BuildError, LaunchedPlugin, PluginLauncher, Provider, ProviderError};
use crate::settings::FIXED;

struct Plugin {
    _dir: tempfile::TempDir,
    path: PathBuf,
    transport: Arc<Transport>,
}

/// Writes `body` as an executable `/bin/sh` script.
fn plugin(body: &str) -> Plugin {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("plugin.sh");
    std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    let transport = Transport::new(TransportSettings {
        plugin_dirs: vec![dir.path().to_path_buf()],
        call_timeout: Duration::from_secs(10),
        metrics: None,
    });
    Plugin {
        _dir: dir,
        path,
        transport,
    }
}

impl Plugin {
    /// Rewrites the script with `body`, in which `@DIR@` stands for its
    /// directory (`$0` is no help: the host runs the pinned file through
    /// `/proc/self/fd/<n>`).
    fn rewrite(&self, body: &str) {
        let dir = self.path.parent().unwrap().display().to_string();
        std::fs::write(
            &self.path,
            format!("#!/bin/sh\n{}\n", body.replace("@DIR@", &dir)),
        )
        .unwrap();
    }

    fn pool(&self, config: Value) -> PluginPool {
        let Value::Object(config) = config else {
            panic!("config must be an object")
        };
        self.transport
            .pool(Capability::Incident, &self.path, &config, false)
            .unwrap()
    }
}

async fn get(pool: &PluginPool, id: &str) -> Result<Value, ProviderError> {
    let raw = Provider::call(pool, Method::IncidentGet, json!({ "id": id }).to_string()).await?;
    Ok(serde_json::from_str(raw.get()).unwrap())
}

fn alive(pid: u32) -> bool {
    // A zombie is as good as gone for these checks, but the supervisor
    // reaps, so the entry disappears.
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|stat| !stat.contains(") Z "))
        .unwrap_or(false)
}

/// Answers every request with the request itself, lock-step; `crash` in a
/// line exits with status 3, `garbage` answers with a non-JSON line.
const ECHO: &str = r#"while IFS= read -r line; do
  case "$line" in
    *plugin.info*) echo '{"error":"unknown method"}' ;;
    *crash*) echo "crashing" >&2; exit 3 ;;
    *garbage*) echo 'not json at all' ;;
    *) printf '{"result":%s}\n' "$line" ;;
  esac
done"#;

#[tokio::test]
async fn sends_the_config_without_host_keys_and_passes_results_through() {
    let p = plugin(ECHO);
    let pool = p.pool(json!({"url": "http://x", "processes": 1, "pluginTimeoutMs": 5000}));
    let echoed = get(&pool, "INC-1").await.unwrap();
    assert_eq!(
        echoed,
        json!({"method": "incident.get", "config": {"url": "http://x"}, "payload": {"id": "INC-1"}})
    );
}

#[tokio::test]
async fn a_crash_fails_the_call_and_the_next_call_gets_a_new_process() {
    let p = plugin(ECHO);
    let pool = p.pool(json!({}));
    get(&pool, "a").await.unwrap();
    let first = pool.pids();
    let err = get(&pool, "crash").await.unwrap_err();
    assert_eq!(err.code, "plugin_crashed", "{err}");
    assert!(err.message.contains("exit status: 3"), "{err}");
    // The crashed process was reaped before the error came back: it is
    // no longer listed as running.
    assert_eq!(pool.pids(), Vec::<u32>::new());
    get(&pool, "b").await.unwrap();
    assert_ne!(pool.pids(), first);
    assert!(!alive(first[0]));
    let status = Provider::processes(&pool).unwrap();
    assert_eq!(status.pids, pool.pids());
    assert_eq!(status.restarts, 1);
}

#[tokio::test]
async fn bad_output_fails_the_call_and_replaces_the_process() {
    let p = plugin(ECHO);
    let pool = p.pool(json!({}));
    let err = get(&pool, "garbage").await.unwrap_err();
    assert_eq!(err.code, "plugin_bad_output", "{err}");
    assert!(!err.message.contains("not json at all"));
    get(&pool, "fine").await.unwrap();
}

/// The host tells each process its capability's call timeout
/// (`OPSORCH_CALL_TIMEOUT_MS`, see `opsorch_plugin_api::protocol`): the
/// capability's `pluginTimeoutMs`, else the transport's default.
#[tokio::test]
async fn each_process_is_told_its_call_timeout() {
    let p = plugin(
        r#"while IFS= read -r line; do
  case "$line" in
    *plugin.info*) echo '{"error":"unknown method"}' ;;
    *) printf '{"result":"%s"}\n' "$OPSORCH_CALL_TIMEOUT_MS" ;;
  esac
done"#,
    );
    let own = p.pool(json!({"pluginTimeoutMs": 2500}));
    assert_eq!(get(&own, "a").await.unwrap(), json!("2500"));
    // The test transport's default is 10 s.
    let default = p.pool(json!({}));
    assert_eq!(get(&default, "b").await.unwrap(), json!("10000"));
}

#[tokio::test]
async fn a_timeout_kills_the_process_and_fails_the_calls_behind_it() {
    // Reads requests but never answers.
    let p = plugin("while IFS= read -r line; do :; done");
    let pool = Arc::new(p.pool(json!({"pluginTimeoutMs": 1000})));
    let first = {
        let pool = pool.clone();
        tokio::spawn(async move { get(&pool, "one").await })
    };
    tokio::time::sleep(Duration::from_millis(500)).await;
    let pid = pool.pids()[0];
    let started = std::time::Instant::now();
    let second = get(&pool, "two").await.unwrap_err();
    let first = first.await.unwrap().unwrap_err();
    assert_eq!(first.code, "plugin_timeout", "{first}");
    assert_eq!(second.code, "plugin_restarted", "{second}");
    // The second call did not wait for its own deadline.
    assert!(started.elapsed() < Duration::from_millis(900));
    for _ in 0..100 {
        if !alive(pid) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(!alive(pid), "the timed-out process was not killed");
}

#[tokio::test]
async fn requests_are_written_without_waiting_for_answers() {
    // Answers nothing until it has read five requests: a transport that
    // waited for each answer before writing the next would time out.
    let p = plugin(
        r#"n=0; while [ $n -lt 5 ]; do IFS= read -r line; n=$((n+1)); eval "l$n=\$line"; done
for i in 1 2 3 4 5; do eval "printf '{\"result\":%s}\n' \"\$l$i\""; done
while IFS= read -r line; do printf '{"result":%s}\n' "$line"; done"#,
    );
    let pool = Arc::new(p.pool(json!({"pluginInfo": false, "pluginTimeoutMs": 5000})));
    let calls: Vec<_> = (0..5)
        .map(|i| {
            let pool = pool.clone();
            tokio::spawn(async move { (i, get(&pool, &format!("id-{i}")).await) })
        })
        .collect();
    for call in calls {
        let (i, answer) = call.await.unwrap();
        let answer = answer.unwrap();
        assert_eq!(answer["payload"]["id"], format!("id-{i}"));
    }
}

#[tokio::test]
async fn lockstep_mode_sends_one_request_at_a_time() {
    // Same plugin as above: with pipelining off it can never see five
    // requests at once, so the calls time out.
    let p = plugin(
        r#"n=0; while [ $n -lt 5 ]; do IFS= read -r line; n=$((n+1)); done; echo '{"result":1}'"#,
    );
    let pool = Arc::new(p.pool(json!({"pipelining": false, "pluginTimeoutMs": 400})));
    let calls: Vec<_> = (0..5)
        .map(|i| {
            let pool = pool.clone();
            tokio::spawn(async move { get(&pool, &format!("id-{i}")).await })
        })
        .collect();
    // Depending on timing a later call lands on a replacement process (or
    // on its backoff), but none can ever be answered.
    for call in calls {
        let err = call.await.unwrap().unwrap_err();
        assert!(err.code.starts_with("plugin_"), "{err}");
    }
}

#[tokio::test]
async fn crash_loops_back_off_and_fail_fast() {
    let p = plugin("echo 'no credentials' >&2; exit 1");
    let pool = p.pool(json!({}));
    // However quickly the process exits (before or after the request
    // reached it), the first call gets its exit status.
    let first = get(&pool, "a").await.unwrap_err();
    assert_eq!(first.code, "plugin_crashed", "{first}");
    assert!(first.message.contains("exit status: 1"), "{first}");
    // The first restart is immediate; once that process has died too
    // (before or after the request reached it), starts back off, and calls
    // are refused without starting a process. The waits double from
    // 100 ms, so one is refused unless every call takes seconds.
    let mut codes = Vec::new();
    while !codes.iter().any(|c| c == "plugin_unavailable") {
        assert!(codes.len() < 12, "never backed off: {codes:?}");
        let restarts = pool.processes().map(|p| p.restarts);
        let err = get(&pool, &codes.len().to_string()).await.unwrap_err();
        if err.code == "plugin_unavailable" {
            assert!(err.message.contains("backing off"), "{err}");
            assert_eq!(
                pool.processes().map(|p| p.restarts),
                restarts,
                "not fast: a process was started"
            );
        } else {
            assert_eq!(err.code, "plugin_crashed", "{err}");
            assert!(err.message.contains("exit status: 1"), "{err}");
        }
        codes.push(err.code);
    }
}

#[tokio::test]
async fn a_pool_starts_every_process_and_spreads_calls() {
    let p = plugin(r#"while IFS= read -r line; do printf '{"result":{"pid":%s}}\n' $$; done"#);
    let pool = p.pool(json!({"processes": 3}));
    let mut order = Vec::new();
    for i in 0..9 {
        let answer = get(&pool, &i.to_string()).await.unwrap();
        order.push(answer["pid"].as_u64().unwrap());
    }
    assert_eq!(pool.pids().len(), 3);
    // Every process is idle between sequential calls: each call goes to
    // the next one in turn.
    for (i, pid) in order.iter().enumerate() {
        assert_eq!(*pid, order[i % 3], "{order:?}");
    }
    let first: std::collections::BTreeSet<_> = order[..3].iter().collect();
    assert_eq!(first.len(), 3, "sequential calls should rotate: {order:?}");
}

#[tokio::test]
async fn calls_go_to_the_least_busy_process() {
    // A call with `slow` in it notes its pid and waits for the release file.
    let p = plugin("");
    p.rewrite(
        r#"while IFS= read -r line; do
  case "$line" in
    *slow*) echo $$ > "@DIR@/busy"; while [ ! -e "@DIR@/release" ]; do sleep 0.02; done ;;
  esac
  printf '{"result":{"pid":%s}}\n' $$
done"#,
    );
    let dir = p.path.parent().unwrap().to_path_buf();
    let busy_file = dir.join("busy");
    let pool = Arc::new(p.pool(json!({"processes": 2})));
    let slow = {
        let pool = pool.clone();
        tokio::spawn(async move { get(&pool, "slow").await })
    };
    let mut busy = None;
    for _ in 0..250 {
        busy = std::fs::read_to_string(&busy_file)
            .ok()
            .and_then(|text| text.trim().parse::<u64>().ok());
        if busy.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let busy = busy.expect("the slow call never reached a plugin");
    // Whichever process the rotation starts at, the idle one answers; a
    // call sent to the busy one would wait behind the slow call.
    for i in 0..4 {
        let answer = tokio::time::timeout(Duration::from_secs(5), get(&pool, &i.to_string()))
            .await
            .expect("a call waited behind the slow one")
            .unwrap();
        assert_ne!(answer["pid"].as_u64(), Some(busy), "call {i}");
    }
    std::fs::write(dir.join("release"), "").unwrap();
    let answer = slow.await.unwrap().unwrap();
    assert_eq!(answer["pid"].as_u64(), Some(busy));
}

#[tokio::test]
async fn a_plugin_that_cannot_be_started_backs_off_from_the_second_failure() {
    let p = plugin("");
    // Its interpreter does not exist: every start fails in exec.
    std::fs::write(&p.path, "#!/nonexistent/opsorch-test-interpreter\n").unwrap();
    let pool = p.pool(json!({}));
    let mut messages = Vec::new();
    for call in 0..6 {
        let err = get(&pool, &call.to_string()).await.unwrap_err();
        assert_eq!(err.code, "plugin_unavailable", "{err}");
        messages.push(err.message);
    }
    // Two starts fail right away (the first retry is immediate); from then
    // on starts back off (100 ms, then doubling), and a call in between
    // fails fast without trying.
    for message in &messages[..2] {
        assert!(
            message.starts_with("the plugin could not be started"),
            "{messages:?}"
        );
    }
    assert!(
        messages.iter().any(|m| m.contains("backing off")),
        "{messages:?}"
    );
}

#[tokio::test]
async fn dropping_the_provider_stops_its_processes() {
    let p = plugin(ECHO);
    let pool = p.pool(json!({}));
    get(&pool, "a").await.unwrap();
    let pid = pool.pids()[0];
    drop(pool);
    for _ in 0..100 {
        if !alive(pid) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("plugin {pid} still running after its provider was dropped");
}

#[tokio::test]
async fn shutdown_kills_plugins_that_ignore_stdin_and_refuses_new_starts() {
    // Never reads, never answers, does not notice stdin closing.
    let p = plugin("exec sleep 1000");
    let pool = Arc::new(p.pool(json!({})));
    let in_flight = {
        let pool = pool.clone();
        tokio::spawn(async move { get(&pool, "a").await })
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    let pid = pool.pids()[0];
    let started = std::time::Instant::now();
    p.transport.shutdown().await;
    assert!(!alive(pid), "plugin survived shutdown");
    assert!(started.elapsed() < Duration::from_secs(5));
    // The call in flight ends with an error instead of waiting 10 s.
    let err = in_flight.await.unwrap().unwrap_err();
    assert_eq!(err.code, "plugin_unavailable", "{err}");
    let err = get(&pool, "c").await.unwrap_err();
    assert_eq!(err.code, "plugin_unavailable");
}

#[test]
fn refuses_what_cannot_run() {
    let p = plugin(ECHO);
    let missing = p.path.with_file_name("missing");
    let config = Map::new();
    let err = p
        .transport
        .pool(Capability::Incident, &missing, &config, false)
        .err()
        .unwrap();
    assert!(err.contains("does not exist"), "{err}");
    let err = p
        .transport
        .pool(
            Capability::Incident,
            std::path::Path::new("/bin/sh"),
            &config,
            true,
        )
        .err()
        .unwrap();
    assert!(
        err.contains("not an executable file inside a configured plugin directory"),
        "{err}"
    );
    let mut bad = Map::new();
    bad.insert("processes".into(), json!(0));
    let err = p
        .transport
        .pool(Capability::Incident, &p.path, &bad, false)
        .err()
        .unwrap();
    assert!(err.contains("`processes`"), "{err}");
}

#[tokio::test]
async fn a_plain_text_answer_to_the_probe_is_tolerated() {
    let p = plugin(
        r#"while IFS= read -r line; do
  case "$line" in
    *plugin.info*) echo 'unknown method plugin.info' ;;
    *) printf '{"result":%s}\n' "$line" ;;
  esac
done"#,
    );
    let pool = p.pool(json!({}));
    let first = pool.pids();
    assert!(first.is_empty(), "nothing runs before the first call");
    assert_eq!(get(&pool, "a").await.unwrap()["payload"]["id"], "a");
    let pid = pool.pids();
    assert_eq!(get(&pool, "b").await.unwrap()["payload"]["id"], "b");
    assert_eq!(pool.pids(), pid, "the process was kept");
}

/// Answers lock-step, and cannot read ahead: when another request is
/// already waiting by the time it answers one, it exits with status 4
/// without answering.
const NO_READ_AHEAD: &str = r#"while IFS= read -r line; do
  sleep 0.1
  if timeout 0.1 sh -c 'IFS= read -r next'; then echo "read ahead" >&2; exit 4; fi
  printf '{"result":%s}\n' "$line"
done"#;

/// Five calls at once to a pool configured as `config`; their results.
async fn five_at_once(p: &Plugin, config: Value) -> Vec<Result<Value, ProviderError>> {
    let pool = Arc::new(p.pool(config));
    let calls: Vec<_> = (0..5)
        .map(|i| {
            let pool = pool.clone();
            tokio::spawn(async move { get(&pool, &format!("id-{i}")).await })
        })
        .collect();
    let mut results = Vec::new();
    for call in calls {
        results.push(call.await.unwrap());
    }
    results
}

#[tokio::test]
async fn lockstep_mode_writes_no_request_before_the_last_was_answered() {
    // The probe is off, so every line the plugin reads is a call.
    let p = plugin(NO_READ_AHEAD);
    let answers = five_at_once(
        &p,
        json!({"pipelining": false, "pluginInfo": false, "pluginTimeoutMs": 10000}),
    )
    .await;
    for (i, answer) in answers.into_iter().enumerate() {
        let answer = answer.unwrap_or_else(|e| panic!("call {i}: {e}"));
        assert_eq!(answer["payload"]["id"], format!("id-{i}"));
    }
    // The same plugin, pipelined: it sees the second request early and
    // dies, so the check above can fail.
    let answers = five_at_once(&p, json!({"pluginInfo": false, "pluginTimeoutMs": 10000})).await;
    assert!(
        answers
            .iter()
            .any(|a| a.as_ref().is_err_and(|e| e.code == "plugin_crashed")),
        "{answers:?}"
    );
}

/// Launches the plugin for the incident capability with `config`.
async fn launch(p: &Plugin, config: Value) -> Result<LaunchedPlugin, BuildError> {
    let Value::Object(config) = config else {
        panic!("config must be an object")
    };
    PluginLauncher::launch(
        p.transport.as_ref(),
        Capability::Incident,
        &p.path,
        &config,
        false,
    )
    .await
}

/// Answers `plugin.info` with `manifest` (one line of JSON), echoes the rest.
fn answering_info(manifest: &str) -> String {
    format!(
        r#"while IFS= read -r line; do
  case "$line" in
    *plugin.info*) echo '{{"result":{manifest}}}' ;;
    *) printf '{{"result":%s}}\n' "$line" ;;
  esac
done"#
    )
}

#[tokio::test]
async fn the_configuration_check_refuses_what_the_plugin_refuses() {
    let bad_config = plugin(&answering_info(
        r#"{"name":"x","version":"1","interfaceVersion":"1.1.0","providers":[{"capability":"incident","name":"x"}],"configCheck":{"capability":"incident","error":{"code":"bad_request","message":"config.token is required"}}}"#,
    ));
    let err = launch(&bad_config, json!({"token": 7}))
        .await
        .err()
        .unwrap();
    assert!(matches!(err, BuildError::Config(_)), "{err:?}");
    let text = err.to_string();
    assert!(text.contains("incident plugin"), "{text}");
    assert!(
        text.contains("refused its config: bad_request: config.token is required"),
        "{text}"
    );

    let elsewhere = plugin(&answering_info(
        r#"{"name":"cat","version":"1","interfaceVersion":"1.0.0","providers":[{"capability":"service","name":"catalog"},{"capability":"team","name":"people"}]}"#,
    ));
    let err = launch(&elsewhere, json!({})).await.err().unwrap();
    assert!(matches!(err, BuildError::Invalid(_)), "{err:?}");
    let text = err.to_string();
    assert!(
        text.contains(&elsewhere.path.display().to_string()),
        "{text}"
    );
    assert!(
        text.contains(
            "does not serve the incident capability; it serves service `catalog`, team `people`"
        ),
        "{text}"
    );

    let good = plugin(&answering_info(
        r#"{"name":"x","version":"1","interfaceVersion":"1.1.0","providers":[{"capability":"incident","name":"pager"}],"configCheck":{"capability":"incident"}}"#,
    ));
    let launched = launch(&good, json!({})).await.unwrap();
    assert_eq!(launched.providers, ["pager"]);
    // The check's process is gone; the serving one starts with the first call.
    let pool = launched.provider;
    assert!(pool.processes().unwrap().pids.is_empty());
    assert_eq!(
        Provider::call(
            pool.as_ref(),
            Method::IncidentGet,
            json!({"id": "a"}).to_string()
        )
        .await
        .map(|raw| serde_json::from_str::<Value>(raw.get()).unwrap()["payload"]["id"].clone())
        .unwrap(),
        "a"
    );
}

/// Plugins that cannot say (written for the Go host, or silent) are put in
/// effect as before, and the check is bounded even for one that neither
/// answers nor exits at the end of its input.
#[tokio::test]
async fn plugins_that_do_not_answer_the_check_are_accepted() {
    let silent_and_stuck = r#"trap '' TERM; while :; do sleep 1; done"#;
    for body in [
        ECHO,
        r#"while IFS= read -r line; do echo 'unknown method'; done"#,
        "exit 0",
        silent_and_stuck,
    ] {
        let p = plugin(body);
        let started = std::time::Instant::now();
        let launched = launch(&p, json!({"pluginTimeoutMs": 300}))
            .await
            .unwrap_or_else(|e| panic!("{body}: {e}"));
        assert!(launched.providers.is_empty(), "{body}");
        // A hang bound: 300 ms for the answer, 1 s to exit, then killed.
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{body}: {:?}",
            started.elapsed()
        );
    }
    // Turned off: nothing runs at all.
    let p = plugin("echo started >&2; exit 1");
    let launched = launch(&p, json!({"pluginInfo": false})).await.unwrap();
    assert!(launched.providers.is_empty());
}

#[tokio::test]
async fn a_process_that_answered_calls_is_replaced_at_once_each_time_it_crashes() {
    let p = plugin(ECHO);
    let pool = p.pool(json!({}));
    // Each process answers a call, then crashes, well within the healthy
    // uptime: a crash after healthy work never backs off.
    for round in 0..4 {
        get(&pool, &format!("ok-{round}")).await.unwrap();
        let err = get(&pool, "crash").await.unwrap_err();
        assert_eq!(err.code, "plugin_crashed", "round {round}: {err}");
    }
    get(&pool, "last").await.unwrap();
}

/// A plugin that writes every request line it reads to `lines` in its
/// directory and answers each with an empty result.
const RECORDER: &str = r#"while IFS= read -r line; do
  printf '%s\n' "$line" >> "@DIR@/lines"
  echo '{"result":[]}'
done"#;

#[tokio::test]
async fn the_probe_is_sent_only_when_on_and_the_plugin_pipelines() {
    for (config, probed) in [
        (json!({}), true),
        (json!({"pluginInfo": false}), false),
        (json!({"pipelining": false}), false),
    ] {
        let p = plugin("");
        p.rewrite(RECORDER);
        let pool = p.pool(config.clone());
        get(&pool, "a").await.unwrap();
        let lines = std::fs::read_to_string(p.path.parent().unwrap().join("lines")).unwrap();
        assert_eq!(lines.contains("plugin.info"), probed, "{config}: {lines}");
        assert!(lines.contains("incident.get"), "{config}: {lines}");
    }
}

#[tokio::test]
async fn a_plugin_s_error_answer_comes_back_without_waiting_for_an_exit() {
    let p = plugin(
        r#"while IFS= read -r line; do echo '{"error":{"code":"not_found","message":"no such incident"}}'; done"#,
    );
    let pool = p.pool(json!({"pluginInfo": false}));
    let started = std::time::Instant::now();
    let err = get(&pool, "a").await.unwrap_err();
    assert_eq!(err.code, "not_found", "{err}");
    // The process is fine: nothing waits for it to be reaped (which would
    // take the whole reap wait, since it does not exit).
    assert!(
        started.elapsed() < FIXED.plugin_reap_wait,
        "{:?}",
        started.elapsed()
    );
    assert_eq!(pool.pids().len(), 1);
}

use crate::log_capture::capture_logs;

/// Polls the captured log until it holds every one of `wanted` (bounded).
async fn wait_for_log(buffer: &crate::log_capture::LogCapture, wanted: &[&str]) -> String {
    for _ in 0..250 {
        let text = buffer.text();
        if wanted.iter().all(|w| text.contains(w)) {
            return text;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    buffer.text()
}

#[test]
fn stderr_lines_are_logged_at_the_level_their_prefix_names() {
    let (buffer, _guard) = capture_logs();
    for line in [
        "ERROR e-line",
        "WARN w-line",
        "INFO i-line",
        "DEBUG d-line",
        "TRACE t-line",
        "NOTICE n-line",
        "bare",
    ] {
        super::process::log_stderr_line(Capability::Incident, "/p/plugin", 7, line, "");
    }
    let text = buffer.text();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 7, "{text}");
    for (line, level, message) in [
        (lines[0], "ERROR", "e-line"),
        (lines[1], " WARN", "w-line"),
        (lines[2], " INFO", "i-line"),
        (lines[3], "DEBUG", "d-line"),
        (lines[4], "TRACE", "t-line"),
        // Anything else is INFO, logged whole.
        (lines[5], " INFO", "NOTICE n-line"),
        (lines[6], " INFO", "bare"),
    ] {
        assert!(
            line.contains(&format!("{level} plugin: {message} ")),
            "{line}"
        );
        assert!(
            line.contains("plugin=/p/plugin") && line.contains("pid=7"),
            "{line}"
        );
    }
}

#[tokio::test]
async fn every_stderr_line_of_a_plugin_reaches_the_log() {
    let (buffer, _guard) = capture_logs();
    let p = plugin(&format!(
        "echo first >&2; echo second >&2; echo 'WARN third' >&2\n{ECHO}"
    ));
    let pool = p.pool(json!({}));
    get(&pool, "a").await.unwrap();
    let text = wait_for_log(&buffer, &["first", "second", "third"]).await;
    for want in ["plugin: first", "plugin: second", "WARN plugin: third"] {
        assert!(text.contains(want), "{want}:\n{text}");
    }
}

#[tokio::test]
async fn a_plugin_s_manifest_answer_to_the_probe_is_logged() {
    let (buffer, _guard) = capture_logs();
    let p = plugin(&answering_info(
        r#"{"name":"vendor-x","version":"2.3.4","interfaceVersion":"1.1.0","providers":[]}"#,
    ));
    let pool = p.pool(json!({}));
    get(&pool, "a").await.unwrap();
    let text = wait_for_log(&buffer, &["plugin identified itself"]).await;
    let line = text
        .lines()
        .find(|l| l.contains("plugin identified itself"))
        .unwrap_or_else(|| panic!("{text}"));
    for want in ["name=vendor-x", "version=2.3.4", "interface=1.1.0"] {
        assert!(line.contains(want), "{want}: {line}");
    }
}

#[tokio::test]
async fn a_stopped_process_is_not_logged_as_an_unexpected_exit() {
    let (buffer, _guard) = capture_logs();
    let p = plugin(ECHO);
    let pool = p.pool(json!({}));
    get(&pool, "a").await.unwrap();
    // Dropping its provider stops the process: an expected end.
    drop(pool);
    let text = wait_for_log(&buffer, &["plugin process ended"]).await;
    assert!(text.contains("plugin process ended"), "{text}");
    assert!(!text.contains("exited unexpectedly"), "{text}");
}

#[tokio::test]
async fn a_plugin_file_held_open_for_writing_fails_after_a_bounded_retry() {
    let p = plugin(ECHO);
    let pool = p.pool(json!({}));
    // Still being written, as far as the kernel knows: exec says ETXTBSY
    // for as long as this is open.
    let _writer = std::fs::OpenOptions::new()
        .append(true)
        .open(&p.path)
        .unwrap();
    let err = get(&pool, "a").await.unwrap_err();
    assert_eq!(err.code, "plugin_unavailable", "{err}");
    assert!(
        err.message.starts_with("the plugin could not be started") && err.message.contains("busy"),
        "{err}"
    );
}

/// Sends `signal` to process `pid`.
fn kill(pid: u32, signal: rustix::process::Signal) {
    let pid = rustix::process::Pid::from_raw(pid as i32).expect("a process id");
    rustix::process::kill_process(pid, signal).unwrap();
}

#[tokio::test]
async fn a_request_no_process_took_is_tried_on_three_processes_and_gets_the_second_s_death() {
    // Never reads its input and never exits on its own.
    let p = plugin("exec sleep 1000");
    // Every request line carries the config, and so does the probe each
    // process is sent first: longer than one write batch, the probe is
    // written alone, and longer than a pipe holds, it is never written
    // whole. A call queued behind it is never written: when its process
    // dies, it comes back unsent.
    let pad = "x".repeat(2 * FIXED.plugin_write_batch);
    let pool = Arc::new(p.pool(json!({"processes": 3, "pad": pad, "pluginTimeoutMs": 60000})));
    let restarts = |pool: &PluginPool| pool.processes().unwrap().restarts;
    let mut call = {
        let pool = pool.clone();
        tokio::spawn(async move { get(&pool, "a").await })
    };
    // Waits (bounded) until `done`; a call that ended first fails the test.
    async fn until(
        call: &mut tokio::task::JoinHandle<Result<Value, ProviderError>>,
        done: impl Fn() -> bool,
        what: &str,
    ) {
        for _ in 0..500 {
            if call.is_finished() {
                panic!("the call ended before {what}: {:?}", call.await);
            }
            if done() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("{what} did not happen");
    }
    // The call started all three processes and, all being idle, went to
    // the first in rotation order; each retry starts the rotation one
    // further, where a process is idle too (the slot of a dead one is
    // refilled at once: one failure does not back off).
    until(
        &mut call,
        || pool.pids().len() == 3,
        "all three processes started",
    )
    .await;
    let pids = pool.pids();
    kill(pids[0], rustix::process::Signal::KILL);
    until(&mut call, || restarts(&pool) == 1, "a second attempt").await;
    kill(pids[1], rustix::process::Signal::TERM);
    until(&mut call, || restarts(&pool) == 2, "a third attempt").await;
    kill(pids[2], rustix::process::Signal::USR1);
    let err = tokio::time::timeout(Duration::from_secs(30), call)
        .await
        .expect("the call was tried a fourth time")
        .unwrap()
        .unwrap_err();
    // Unsent three times: the call gives up with the second process's
    // death (the first's: SIGKILL, the third's: SIGUSR1), and looks for no
    // fourth process (the third's slot is not refilled).
    assert_eq!(err.code, "plugin_crashed", "{err}");
    assert!(err.message.contains("SIGTERM"), "{err}");
    assert_eq!(restarts(&pool), 2);
    let left = pool.pids();
    assert_eq!(left.len(), 2, "{left:?}");
    assert!(
        left.iter().all(|pid| !pids.contains(pid)),
        "{left:?} {pids:?}"
    );
}
