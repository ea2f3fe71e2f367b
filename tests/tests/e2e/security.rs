//! The security review's reproductions (docs/SECURITY.md), each against the
//! real binary: log injection and forged audit records, browsers driving a
//! token-less host, plugins reading the host's environment, the plugin path
//! swapped after its check, an existence oracle through refused paths, and
//! the configuration mistakes the host now refuses.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use opsorch_e2e::{library, parse_response, wait_until, Host, Response, Started, TempDir};
use serde_json::{json, Value};

const TOKEN: &str = "sec-token-5150";

/// Writes an executable file (a plugin script) with `mode`.
fn script(path: &Path, body: &str, mode: u32) -> PathBuf {
    std::fs::write(path, body).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
    path.to_path_buf()
}

/// One request with exactly the head lines given (the `Host` header
/// included, or not), on a fresh connection.
fn raw(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Response {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut head = format!("{method} {path} HTTP/1.1\r\nConnection: close\r\n");
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    if method != "GET" {
        head.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(body.as_bytes()).unwrap();
    let mut bytes = Vec::new();
    stream.read_to_end(&mut bytes).unwrap();
    parse_response(&bytes)
}

/// A host with the mock library, a json secret store and a plugin directory.
struct Setup {
    libs: TempDir,
    plugins: TempDir,
    store: TempDir,
    secret_config: String,
}

impl Setup {
    fn new() -> Setup {
        let libs = TempDir::with_libraries("sec-libs", &["opsorch_mock"]);
        let plugins = TempDir::new("sec-plugins");
        let store = TempDir::new("sec-store");
        let file = store.path().join("secrets.json");
        std::fs::write(&file, "{}").unwrap();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
        let secret_config = json!({ "path": file.display().to_string() }).to_string();
        Setup {
            libs,
            plugins,
            store,
            secret_config,
        }
    }

    fn dirs(&self) -> String {
        format!(
            "{}:{}",
            self.libs.path().display(),
            self.plugins.path().display()
        )
    }

    fn secret_file(&self) -> String {
        std::fs::read_to_string(self.store.path().join("secrets.json")).unwrap()
    }

    fn start(&self, extra: &[(&str, &str)]) -> Host {
        let dirs = self.dirs();
        let mut env = vec![
            ("OPSORCH_PLUGIN_DIR", dirs.as_str()),
            ("OPSORCH_SECRET_PROVIDER", "json"),
            ("OPSORCH_SECRET_CONFIG", self.secret_config.as_str()),
            ("OPSORCH_INCIDENT_PROVIDER", "mock"),
        ];
        env.extend_from_slice(extra);
        Host::start(&env)
    }
}

/// The one-line refusal of a start with `env`.
fn refusal(env: &[(&str, &str)]) -> String {
    match Host::try_start(env) {
        Started::Running(mut host) => panic!("started despite {env:?}: {}", host.stderr()),
        Started::Exited(code, stderr) => {
            assert_eq!(code, Some(1), "{stderr}");
            let lines: Vec<&str> = stderr
                .lines()
                .filter(|l| l.starts_with("opsorch: "))
                .collect();
            assert_eq!(lines.len(), 1, "{stderr}");
            lines[0].to_owned()
        }
    }
}

/// Whether `line` is what the host's human log format writes: an RFC 3339
/// UTC timestamp, a level, then the rest.
fn is_human_line(line: &str) -> bool {
    let Some((stamp, rest)) = line.split_once(' ') else {
        return false;
    };
    let level = rest.trim_start().split(' ').next().unwrap_or_default();
    stamp.len() >= 20
        && stamp.ends_with('Z')
        && stamp.as_bytes()[4] == b'-'
        && stamp.as_bytes()[10] == b'T'
        && stamp[..4].bytes().all(|b| b.is_ascii_digit())
        && ["TRACE", "DEBUG", "INFO", "WARN", "ERROR"].contains(&level)
}

/// Characters that must never reach the log raw: C0 (the line break is the
/// record separator), DEL, C1, the Unicode line and paragraph separators.
fn is_dangerous(c: char) -> bool {
    (c.is_control() && c != '\n') || matches!(c, '\u{2028}' | '\u{2029}')
}

#[test]
fn log_injection_reproductions_leave_one_escaped_line_per_request() {
    let setup = Setup::new();
    let mut host = setup.start(&[("OPSORCH_BEARER_TOKEN", TOKEN)]);
    let stored = setup.secret_file();
    let auth = format!("Bearer {TOKEN}");
    let forged_audit = r#"{"level":"INFO","message":"audit","request_id":"forged-1","actor_type":"user","actor_id":"mallory","timestamp":"2026-12-01T00:00:00Z","action":"provider.configured","target":"audit"}"#;
    let long_path = format!("/{}", "a".repeat(1_000_000));
    let send = |id: &str, method: &str, path: &str, body: Option<String>| {
        host.raw_request(
            method,
            path,
            &[("Authorization", &auth), ("X-Request-ID", id)],
            body.as_deref().map(str::as_bytes),
        )
    };

    // Each reproduction carries its own (valid) request ID.
    let forged_line = send(
        "sec-plugin-newline",
        "POST",
        "/providers/incident",
        Some(
            json!({"provider":"mock",
                   "plugin":"/nope\n2026-12-01T00:00:00.000000Z  WARN opsorch::auth: FORGED"})
            .to_string(),
        ),
    );
    assert_eq!(forged_line.status, 400, "{}", forged_line.text());
    let field_name = format!("\n{forged_audit}\n");
    let forged_record = send(
        "sec-field-name",
        "POST",
        "/providers/incident",
        Some(json!({ "provider": "mock", field_name: 1 }).to_string()),
    );
    assert_eq!(forged_record.status, 400, "{}", forged_record.text());
    let split_id = send("sec-split-id", "GET", "/incidents/INC-9999%0AFORGED", None);
    assert_eq!(split_id.status, 404, "{}", split_id.text());
    let c1_id = send(
        "sec-c1-id",
        "GET",
        "/incidents/INC-9999%C2%85FORGED%E2%80%A8x",
        None,
    );
    assert_eq!(c1_id.status, 404, "{}", c1_id.text());
    let ansi = send(
        "sec-ansi",
        "POST",
        "/providers/incident",
        Some(json!({"provider":"\u{1b}[31mFORGED\u{1b}[0m\r"}).to_string()),
    );
    assert_eq!(ansi.status, 400, "{}", ansi.text());
    let huge = send(
        "sec-huge-path",
        "POST",
        "/providers/incident",
        Some(json!({"provider":"mock","plugin": long_path}).to_string()),
    );
    assert_eq!(huge.status, 400);
    assert!(huge.body.len() < 2048, "{} bytes", huge.body.len());
    assert!(huge.json()["message"].as_str().unwrap().contains('…'));
    // Unauthenticated, with fields forged into the request ID.
    let forged_id = "abc method=POST path=/providers/incident status=200";
    let unauthenticated = host.raw_request(
        "GET",
        "/incidents/INC-1001",
        &[("X-Request-ID", forged_id)],
        None,
    );
    assert_eq!(unauthenticated.status, 401);
    let replaced = unauthenticated.header("x-request-id").unwrap().to_owned();
    assert_ne!(replaced, forged_id);
    assert!(!replaced.contains(' '), "{replaced}");
    // One real audited call, to tell a real record from a forged one.
    let ok = send("sec-ok", "GET", "/incidents/INC-1001", None);
    assert_eq!(ok.status, 200, "{}", ok.text());

    assert_eq!(
        setup.secret_file(),
        stored,
        "a refused configuration is not stored"
    );
    let status = host.terminate(Duration::from_secs(10)).expect("exits");
    assert!(status.success(), "{status:?}");
    let log = host.stderr();
    if let Some((at, c)) = log.char_indices().find(|(_, c)| is_dangerous(*c)) {
        panic!("raw {c:?} at byte {at} of the log:\n{log}");
    }
    let mut audit = Vec::new();
    for line in log.lines() {
        assert!(line.len() < 4096, "a {}-byte log line", line.len());
        if line.starts_with('{') {
            let record: Value = serde_json::from_str(line).expect("an audit record is JSON");
            audit.push(record);
        } else {
            assert!(
                is_human_line(line),
                "a line the host did not start: {line:?}"
            );
        }
        assert!(
            !line.contains(forged_id),
            "refused request ID logged: {line}"
        );
    }
    assert_eq!(audit.len(), 1, "{log}");
    assert_eq!(audit[0]["request_id"], "sec-ok");
    for id in [
        "sec-plugin-newline",
        "sec-field-name",
        "sec-split-id",
        "sec-c1-id",
        "sec-ansi",
        "sec-huge-path",
    ] {
        let lines: Vec<&str> = log.lines().filter(|l| l.contains(id)).collect();
        assert_eq!(lines.len(), 1, "{id}: {lines:#?}");
    }
    // Everything forged stayed inside the line of its own request.
    for line in log
        .lines()
        .filter(|l| l.contains("FORGED") || l.contains("forged-1"))
    {
        assert!(line.contains("request_id=sec-"), "{line}");
    }
    assert_eq!(
        log.lines().filter(|l| l.contains("status=401")).count(),
        1,
        "{log}"
    );
}

#[test]
fn request_ids_outside_the_safe_pattern_are_replaced_and_never_echoed() {
    let host = Host::start(&[]);
    let echoed = |id: &str| {
        let response = host.raw_request("GET", "/health", &[("X-Request-ID", id)], None);
        assert_eq!(response.status, 200);
        response.header("x-request-id").unwrap().to_owned()
    };
    for good in [
        "abc-123",
        "Root=1-67891233-abcdef012345678912345678",
        "a.b_c:d/e+f@g",
    ] {
        assert_eq!(echoed(good), good);
    }
    let too_long = "x".repeat(129);
    for bad in ["a b", "a\tb", "a\"b", "é", too_long.as_str(), "a,b", "a<b>"] {
        let given = echoed(bad);
        assert_ne!(given, bad);
        assert_eq!(given.len(), 36, "a generated UUID: {given}");
    }
}

#[test]
fn token_less_host_refuses_cross_origin_requests() {
    let setup = Setup::new();
    let host = setup.start(&[]);
    let evil = [
        ("Origin", "https://evil.example"),
        ("Content-Type", "text/plain"),
    ];
    let before = setup.secret_file();
    let configured = host.raw_request(
        "POST",
        "/providers/incident",
        &evil,
        Some(br#"{"provider":"mock","config":{"seed":666}}"#),
    );
    assert_eq!(configured.status, 403, "{}", configured.text());
    assert_eq!(configured.error_code(), "origin_not_allowed");
    assert_eq!(setup.secret_file(), before, "nothing was stored");
    let created = host.raw_request(
        "POST",
        "/incidents",
        &evil,
        Some(br#"{"title":"from a web page","status":"open","severity":"sev2"}"#),
    );
    assert_eq!(created.status, 403);
    let patched = host.raw_request(
        "PATCH",
        "/incidents/INC-1001",
        &evil,
        Some(br#"{"status":"resolved"}"#),
    );
    assert_eq!(patched.status, 403);
    let read = host.raw_request("GET", "/incidents/INC-1001", &evil, None);
    assert_eq!(read.status, 403, "a foreign page cannot read either");
    // `*` allows no origin; the preflight itself is still answered.
    let preflight = host.raw_request("OPTIONS", "/incidents", &evil, None);
    assert_eq!(preflight.status, 200);
    // Clients that send no Origin (curl, MCP servers) work as before.
    assert_eq!(
        host.post("/providers/incident", r#"{"provider":"mock"}"#)
            .status,
        200
    );
    assert_eq!(
        host.patch("/incidents/INC-1001", r#"{"status":"mitigated"}"#)
            .status,
        200
    );
    drop(host);

    // An origin named by OPSORCH_CORS_ORIGIN is allowed; others are not.
    let host = setup.start(&[("OPSORCH_CORS_ORIGIN", "http://ui.example:3000")]);
    let from = |origin: &str| {
        host.raw_request(
            "POST",
            "/incidents/query",
            &[("Origin", origin)],
            Some(b"{}"),
        )
        .status
    };
    assert_eq!(from("http://ui.example:3000"), 200);
    assert_eq!(from("http://ui.example:3001"), 403);
    assert_eq!(from("null"), 403);
    drop(host);

    // With a token, the token is the defence: any origin that has it passes.
    let host = setup.start(&[("OPSORCH_BEARER_TOKEN", TOKEN)]);
    let auth = format!("Bearer {TOKEN}");
    let with_token = host.raw_request(
        "POST",
        "/incidents/query",
        &[("Origin", "https://evil.example"), ("Authorization", &auth)],
        Some(b"{}"),
    );
    assert_eq!(with_token.status, 200, "{}", with_token.text());
}

#[test]
fn loopback_host_refuses_foreign_host_names() {
    let setup = Setup::new();
    let host = setup.start(&[]);
    let port = host.addr.port();
    let with_host = |name: &str| {
        let value = format!("{name}:{port}");
        raw(
            host.addr,
            "POST",
            "/incidents/query",
            &[("Host", &value)],
            "{}",
        )
    };
    let rebound = with_host("rebind.attacker.example");
    assert_eq!(rebound.status, 403, "{}", rebound.text());
    assert_eq!(rebound.error_code(), "host_not_allowed");
    let get = raw(
        host.addr,
        "GET",
        "/incidents/INC-1001",
        &[("Host", "rebind.attacker.example")],
        "",
    );
    assert_eq!(get.status, 403);
    for name in [
        "localhost",
        "127.0.0.1",
        "127.1.2.3",
        "[::1]",
        "LOCALHOST",
        "app.localhost",
    ] {
        assert_eq!(with_host(name).status, 200, "{name}");
    }
    // HTTP/1.0-style clients without a Host header are not browsers.
    assert_eq!(raw(host.addr, "GET", "/health", &[], "").status, 200);
    drop(host);

    let host = setup.start(&[("OPSORCH_ALLOWED_HOSTS", "opsorch.internal, ops.example")]);
    for (name, status) in [
        ("opsorch.internal", 200),
        ("OPS.example", 200),
        ("evil.example", 403),
    ] {
        let value = format!("{name}:{}", host.addr.port());
        let response = raw(host.addr, "GET", "/health", &[("Host", &value)], "");
        assert_eq!(response.status, status, "{name}");
    }
    drop(host);

    // All interfaces: containers reach it by service name, as before.
    let host = setup.start(&[("OPSORCH_ADDR", "0.0.0.0:0")]);
    let addr = SocketAddr::from(([127, 0, 0, 1], host.addr.port()));
    let response = raw(
        addr,
        "POST",
        "/incidents/query",
        &[("Host", "opsorch:8080")],
        "{}",
    );
    assert_eq!(response.status, 200, "{}", response.text());
}

/// The user and group the non-root host runs as when the tests run as root.
const NOBODY: (u32, u32) = (65534, 65534);

#[test]
fn plugins_cannot_read_the_hosts_environment() {
    let dir = TempDir::new("sec-environ");
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    // Reports on stderr (which the host logs) whether it could read its own
    // environment (the control) and its parent's, then answers not_found.
    let plugin = script(
        &dir.path().join("peek"),
        "#!/bin/sh\n\
         if tr '\\000' ' ' < /proc/$$/environ | grep -q PATH=; then echo 'INFO peek: own environ readable' >&2; fi\n\
         if env_text=$(tr '\\000' ' ' < /proc/$PPID/environ 2>/dev/null) && [ -n \"$env_text\" ]; then\n\
           echo \"WARN peek: parent environ READABLE: $env_text\" >&2\n\
         else\n\
           echo 'INFO peek: parent environ refused' >&2\n\
         fi\n\
         while read -r line; do echo '{\"error\":{\"code\":\"not_found\",\"message\":\"nothing\"}}'; done\n",
        0o755,
    );
    let plugin = plugin.to_str().unwrap();
    let env = [
        ("OPSORCH_BEARER_TOKEN", TOKEN),
        ("OPSORCH_INCIDENT_PLUGIN", plugin),
        ("OPSORCH_ALERT_CONFIG", r#"{"token":"alert-canary-77"}"#),
    ];
    // Root with CAP_SYS_PTRACE reads any process's environ, dumpable or
    // not; what the host protects is a plugin running as the host's own,
    // unprivileged user. So a root test run starts the host as nobody.
    let is_root = std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("0"));
    let started = if is_root {
        Host::try_start_as(NOBODY.0, NOBODY.1, &env)
    } else {
        Host::try_start(&env)
    };
    let Started::Running(mut host) = started else {
        panic!("the host did not start")
    };
    let auth = format!("Bearer {TOKEN}");
    let answer = host.raw_request("GET", "/incidents/INC-1", &[("Authorization", &auth)], None);
    assert_eq!(answer.status, 404, "{}", answer.text());
    let mut log = String::new();
    wait_until(Duration::from_secs(10), || {
        log = host.stderr();
        log.contains("peek: parent environ")
    });
    assert!(
        log.contains("peek: own environ readable"),
        "the control failed:\n{log}"
    );
    assert!(log.contains("peek: parent environ refused"), "{log}");
    assert!(
        !log.contains(TOKEN) && !log.contains("alert-canary-77"),
        "{log}"
    );
}

/// A plugin script that answers every request with an incident titled `title`.
fn incident_plugin(path: &Path, title: &str) -> PathBuf {
    script(
        path,
        &format!(
            "#!/bin/sh\nwhile read -r line; do echo '{{\"result\":{{\"id\":\"INC-1\",\"title\":\"{title}\",\"status\":\"open\",\"severity\":\"sev2\",\"createdAt\":\"2026-11-29T07:37:53Z\",\"updatedAt\":\"2026-11-29T07:37:53Z\"}}}}'; done\n"
        ),
        0o755,
    )
}

#[test]
fn the_plugin_that_runs_is_the_file_that_was_checked() {
    let setup = Setup::new();
    let outside = TempDir::new("sec-outside");
    let marker = outside.path().join("ran");
    let evil = script(
        &outside.path().join("evil"),
        &format!("#!/bin/sh\ntouch {}\nexec sleep 30\n", marker.display()),
        0o755,
    );
    let good = incident_plugin(&setup.plugins.path().join("good"), "checked");
    let host = setup.start(&[]);
    let chosen = json!({"provider":"mock","plugin": good.display().to_string()}).to_string();
    let configured = host.post("/providers/incident", &chosen);
    assert_eq!(configured.status, 200, "{}", configured.text());
    // Swap the checked file for a symlink to a script outside the plugin
    // directories before the process first starts.
    let swap = setup.plugins.path().join("swap");
    symlink(&evil, &swap).unwrap();
    std::fs::rename(&swap, &good).unwrap();
    let answer = host.get("/incidents/INC-1");
    assert!(!marker.exists(), "the swapped-in script ran");
    assert_eq!(answer.status, 200, "{}", answer.text());
    assert_eq!(answer.json()["title"], "checked");
}

#[test]
fn plugin_files_others_can_write_and_libraries_are_refused() {
    let setup = Setup::new();
    let host = setup.start(&[]);
    let choose = |path: &Path| {
        host.post(
            "/providers/incident",
            &json!({"provider":"mock","plugin": path.display().to_string()}).to_string(),
        )
    };
    let loose = incident_plugin(&setup.plugins.path().join("loose"), "x");
    std::fs::set_permissions(&loose, std::fs::Permissions::from_mode(0o777)).unwrap();
    let refused = choose(&loose);
    assert_eq!(refused.status, 400, "{}", refused.text());
    assert!(refused.text().contains("writable by"), "{}", refused.text());

    let open_dir = setup.plugins.path().join("open");
    std::fs::create_dir(&open_dir).unwrap();
    std::fs::set_permissions(&open_dir, std::fs::Permissions::from_mode(0o777)).unwrap();
    let inside = incident_plugin(&open_dir.join("p"), "x");
    let refused = choose(&inside);
    assert_eq!(refused.status, 400, "{}", refused.text());
    assert!(refused.text().contains("writable by"), "{}", refused.text());

    let lib = setup
        .plugins
        .copy_in(&library("opsorch_mock"), "libmock.so");
    std::fs::set_permissions(&lib, std::fs::Permissions::from_mode(0o755)).unwrap();
    let refused = choose(&lib);
    assert_eq!(refused.status, 400, "{}", refused.text());
    assert!(
        refused.text().contains("shared library"),
        "{}",
        refused.text()
    );
    drop(host);

    // From the environment too, at start-up.
    let lib = lib.to_str().unwrap();
    let line = refusal(&[("OPSORCH_INCIDENT_PLUGIN", lib)]);
    assert!(
        line.starts_with("opsorch: OPSORCH_INCIDENT_PLUGIN: "),
        "{line}"
    );
    assert!(line.contains("shared library"), "{line}");
}

#[test]
fn refused_paths_outside_the_plugin_directories_get_one_answer() {
    let setup = Setup::new();
    let outside = TempDir::new("sec-oracle");
    let real = incident_plugin(&outside.path().join("real"), "x");
    let host = setup.start(&[]);
    let plugins = setup.plugins.path().display().to_string();
    let answers: Vec<(String, String)> = [
        real.display().to_string(),
        format!("{}/missing", outside.path().display()),
        "/etc/passwd".to_owned(),
        "/nonexistent/dir/x".to_owned(),
        "/root/.ssh/id_rsa".to_owned(),
        format!(
            "{plugins}/../{}",
            outside.path().file_name().unwrap().to_str().unwrap()
        ),
        format!("{plugins}/../missing"),
    ]
    .into_iter()
    .map(|path| {
        let response = host.post(
            "/providers/incident",
            &json!({"provider":"mock","plugin": path}).to_string(),
        );
        assert_eq!(response.status, 400, "{path}: {}", response.text());
        let message = response.json()["message"]
            .as_str()
            .unwrap()
            .replace(&path, "<path>");
        (path, message)
    })
    .collect();
    for (path, message) in &answers {
        assert_eq!(message, &answers[0].1, "{path}");
    }
}

#[test]
fn bearer_tokens_that_cannot_work_refuse_start_up() {
    for bad in [" tok", "tok ", "\ttok", ""] {
        let line = refusal(&[("OPSORCH_BEARER_TOKEN", bad)]);
        assert!(
            line.starts_with("opsorch: OPSORCH_BEARER_TOKEN: "),
            "{bad:?}: {line}"
        );
    }
}

#[test]
fn key_file_readable_by_others_refuses_start_up_and_secret_file_is_tightened() {
    let setup = Setup::new();
    let key_file = setup.store.path().join("key");
    std::fs::write(
        &key_file,
        "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\n",
    )
    .unwrap();
    let dirs = setup.dirs();
    let env = |key: &str| {
        vec![
            ("OPSORCH_PLUGIN_DIR", dirs.clone()),
            ("OPSORCH_SECRET_PROVIDER", "json".to_owned()),
            ("OPSORCH_SECRET_CONFIG", setup.secret_config.clone()),
            ("OPSORCH_SECRET_KEY_FILE", key.to_owned()),
        ]
    };
    let key = key_file.to_str().unwrap();
    for mode in [0o644, 0o640, 0o604] {
        std::fs::set_permissions(&key_file, std::fs::Permissions::from_mode(mode)).unwrap();
        let owned = env(key);
        let pairs: Vec<(&str, &str)> = owned.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let line = refusal(&pairs);
        assert!(
            line.starts_with("opsorch: OPSORCH_SECRET_KEY_FILE: "),
            "{mode:o}: {line}"
        );
        assert!(line.contains("chmod 600"), "{line}");
    }

    // A secret file others can read: a warning, and its mode is fixed.
    std::fs::set_permissions(&key_file, std::fs::Permissions::from_mode(0o600)).unwrap();
    let secret_file = setup.store.path().join("secrets.json");
    std::fs::set_permissions(&secret_file, std::fs::Permissions::from_mode(0o644)).unwrap();
    let owned = env(key);
    let pairs: Vec<(&str, &str)> = owned.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let mut host = Host::start(&pairs);
    let mode = std::fs::metadata(&secret_file)
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o600);
    let mut log = String::new();
    wait_until(Duration::from_secs(5), || {
        log = host.stderr();
        log.contains("readable by")
    });
    assert!(
        log.lines()
            .any(|l| l.contains(" WARN ") && l.contains("readable by")),
        "{log}"
    );
}

#[test]
fn duplicate_keys_in_free_form_objects_are_refused() {
    let setup = Setup::new();
    let host = setup.start(&[]);
    let duplicated = host.post(
        "/providers/incident",
        r#"{"provider":"mock","config":{"seed":1,"seed":2}}"#,
    );
    assert_eq!(duplicated.status, 400, "{}", duplicated.text());
    assert!(
        duplicated.text().contains("duplicate"),
        "{}",
        duplicated.text()
    );
    let nested = host.post(
        "/incidents",
        r#"{"title":"t","status":"open","severity":"sev2","metadata":{"a":{"k":1,"k":2}}}"#,
    );
    assert_eq!(nested.status, 400, "{}", nested.text());
    assert!(nested.text().contains("duplicate"), "{}", nested.text());
    // The struct-field rule, for comparison, held already.
    let field = host.post("/incidents/query", r#"{"limit":1,"limit":2}"#);
    assert_eq!(field.status, 400);
    drop(host);

    let line = refusal(&[("OPSORCH_INCIDENT_CONFIG", r#"{"seed":1,"seed":2}"#)]);
    assert!(
        line.starts_with("opsorch: OPSORCH_INCIDENT_CONFIG: "),
        "{line}"
    );
    assert!(line.contains("duplicate"), "{line}");
}
