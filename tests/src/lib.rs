//! Harness for end-to-end tests: start the real `opsorch` binary on
//! `127.0.0.1:0`, find the built adapter libraries and plugin binaries, and
//! talk HTTP/1.1 to the host over a plain TCP socket.
//!
//! The tests use the artefacts of the same cargo profile they were built
//! with (`target/debug` under `cargo test`). `scripts/test` builds them all
//! before running the suite. `cargo test` cannot build them itself (it holds
//! the build lock while tests run), so an artefact that is missing, or older
//! than one of the sources cargo recorded for it (its `.d` dep-info file),
//! fails the test with a message saying how to build it. The HTTP client is hand-written on purpose: the hardening tests need
//! to send bytes no well-behaved client would (invalid UTF-8, bad framing).

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// The `<CAP>` infix of every capability's variables (`OPSORCH_<CAP>_PROVIDER`).
pub const CAPABILITY_ENV_KEYS: [&str; 11] = [
    "INCIDENT",
    "ALERT",
    "LOG",
    "METRIC",
    "TICKET",
    "MESSAGING",
    "SERVICE",
    "DEPLOYMENT",
    "TEAM",
    "ORCHESTRATION",
    "SECRET",
];

/// Polls `check` every 20 ms until it holds or `within` has passed.
pub fn wait_until(within: Duration, mut check: impl FnMut() -> bool) -> bool {
    let deadline = std::time::Instant::now() + within;
    loop {
        if check() {
            return true;
        }
        if std::time::Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The directory holding this profile's build artefacts (`target/debug`).
pub fn artefact_dir() -> PathBuf {
    if let Ok(dir) = std::env::var("OPSORCH_ARTEFACT_DIR") {
        return PathBuf::from(dir);
    }
    // The test executable lives in target/<profile>/deps/.
    let exe = std::env::current_exe().expect("current_exe");
    let deps = exe.parent().expect("deps dir");
    deps.parent().expect("profile dir").to_path_buf()
}

fn artefact(name: &str) -> PathBuf {
    let path = artefact_dir().join(name);
    assert!(
        path.exists(),
        "{} is not built; run scripts/test (or `cargo build --workspace --bins --lib`) first",
        path.display()
    );
    if let Err(stale) = check_fresh(&path) {
        panic!("{stale}; run scripts/test (or `cargo build --workspace --bins --lib`) first");
    }
    path
}

/// Why an artefact cannot be trusted to match the sources.
#[derive(Debug, PartialEq, Eq)]
pub enum Stale {
    /// Cargo's dep-info file (`<artefact>.d`) is missing or unreadable.
    NoDepInfo(PathBuf),
    /// A source the artefact was built from is newer than it, or gone.
    Source { artefact: PathBuf, source: PathBuf },
}

impl std::fmt::Display for Stale {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Stale::NoDepInfo(d) => write!(
                f,
                "{} is missing: cannot tell what it was built from",
                d.display()
            ),
            Stale::Source { artefact, source } => write!(
                f,
                "{} is older than its source {} (or that source is gone)",
                artefact.display(),
                source.display()
            ),
        }
    }
}

/// Checks that `artefact` is at least as new as every source listed in the
/// dep-info file cargo wrote next to it (`target/debug/opsorch.d` for
/// `target/debug/opsorch`, `libx.d` for `libx.so`). With
/// `OPSORCH_ARTEFACT_DIR` set (artefacts built elsewhere) a missing dep-info
/// file is accepted.
pub fn check_fresh(artefact: &Path) -> Result<(), Stale> {
    let dep_info = dep_info_path(artefact);
    let Ok(text) = std::fs::read_to_string(&dep_info) else {
        if std::env::var_os("OPSORCH_ARTEFACT_DIR").is_some() {
            return Ok(());
        }
        return Err(Stale::NoDepInfo(dep_info));
    };
    let built = modified(artefact).ok_or_else(|| Stale::NoDepInfo(dep_info.clone()))?;
    for source in dep_info_sources(&text) {
        let source = if source.is_absolute() {
            source
        } else {
            workspace_root().join(source)
        };
        match modified(&source) {
            Some(changed) if changed <= built => {}
            _ => {
                return Err(Stale::Source {
                    artefact: artefact.to_path_buf(),
                    source,
                })
            }
        }
    }
    Ok(())
}

fn modified(path: &Path) -> Option<std::time::SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

/// `opsorch` → `opsorch.d`; `libx.so` → `libx.d`.
fn dep_info_path(artefact: &Path) -> PathBuf {
    let stem = match artefact.extension().and_then(|e| e.to_str()) {
        Some("so" | "dylib" | "dll" | "exe") => artefact.with_extension(""),
        _ => artefact.to_path_buf(),
    };
    let mut name = stem.file_name().unwrap_or_default().to_os_string();
    name.push(".d");
    stem.with_file_name(name)
}

/// The sources of every `target: sources...` line of a make-style dep-info
/// file (spaces inside paths are escaped as `\ `).
fn dep_info_sources(text: &str) -> Vec<PathBuf> {
    let mut sources = Vec::new();
    for line in text.lines() {
        // The target ends at the first ": " that is not escaped.
        let Some(split) = line.find(": ") else {
            continue;
        };
        let mut word = String::new();
        let mut chars = line[split + 2..].chars();
        while let Some(c) = chars.next() {
            match c {
                '\\' => {
                    if let Some(next) = chars.next() {
                        word.push(next);
                    }
                }
                ' ' => {
                    if !word.is_empty() {
                        sources.push(PathBuf::from(std::mem::take(&mut word)));
                    }
                }
                c => word.push(c),
            }
        }
        if !word.is_empty() {
            sources.push(PathBuf::from(word));
        }
    }
    sources
}

/// The workspace root (this crate's parent directory).
fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_path_buf()
}

/// A binary built by this workspace, e.g. `opsorch` or `opsorch-mock-plugin`.
pub fn binary(name: &str) -> PathBuf {
    artefact(name)
}

/// An adapter library built by this workspace, by crate name (`opsorch_mock`).
pub fn library(crate_name: &str) -> PathBuf {
    let file = if cfg!(target_os = "macos") {
        format!("lib{crate_name}.dylib")
    } else {
        format!("lib{crate_name}.so")
    };
    artefact(&file)
}

/// A fresh, empty directory under the system temp dir, removed on drop.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        use std::sync::atomic::{AtomicU32, Ordering};
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let dir =
            std::env::temp_dir().join(format!("opsorch-e2e-{tag}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create temp dir");
        TempDir(dir)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    /// A fresh directory holding these workspace adapter libraries (by
    /// crate name), for `OPSORCH_PLUGIN_DIR`.
    pub fn with_libraries(tag: &str, crates: &[&str]) -> TempDir {
        let dir = TempDir::new(tag);
        for name in crates {
            dir.add_library(name);
        }
        dir
    }

    /// Copies a workspace adapter library (see [`library`]) into this
    /// directory under its own file name and returns the new path.
    pub fn add_library(&self, crate_name: &str) -> PathBuf {
        let file = library(crate_name);
        let name = file.file_name().expect("a library file name").to_owned();
        let dest = self.0.join(name);
        std::fs::copy(&file, &dest).expect("copy into temp dir");
        dest
    }

    /// Copies `file` into this directory under `name` and returns the new path.
    pub fn copy_in(&self, file: &Path, name: &str) -> PathBuf {
        let dest = self.0.join(name);
        std::fs::copy(file, &dest).expect("copy into temp dir");
        dest
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A running `opsorch` process, killed on drop.
pub struct Host {
    child: Child,
    pub addr: SocketAddr,
    /// The admin listener's address, when the test turned it on (the
    /// harness sets `OPSORCH_ADMIN_ADDR` empty unless the test sets it).
    pub admin: Option<SocketAddr>,
    stderr: StderrLog,
}

/// How long after a process exits its stderr must reach end of file.
const STDERR_EOF_WITHIN: Duration = Duration::from_secs(10);

/// The lines a child writes to stderr, read by a thread until end of file.
///
/// While the child runs, [`StderrLog::so_far`] returns what arrived. Once
/// it has exited, [`StderrLog::to_eof`] waits for the reader to reach end
/// of file, so the last lines written before the exit are never missed.
pub struct StderrLog {
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
    at_eof: bool,
}

impl StderrLog {
    /// Starts a thread reading `stream` line by line (invalid UTF-8 is
    /// replaced, not a reason to stop).
    pub fn read(stream: impl Read + Send + 'static) -> StderrLog {
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut reader = BufReader::new(stream);
            let mut line = Vec::new();
            loop {
                line.clear();
                match reader.read_until(b'\n', &mut line) {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {
                        let text = String::from_utf8_lossy(&line);
                        let text = text.trim_end_matches(['\n', '\r']).to_owned();
                        if tx.send(text).is_err() {
                            break;
                        }
                    }
                }
            }
        });
        StderrLog {
            lines: rx,
            seen: Vec::new(),
            at_eof: false,
        }
    }

    /// The lines that have arrived so far, without waiting.
    pub fn so_far(&mut self) -> String {
        self.seen.extend(self.lines.try_iter());
        self.seen.join("\n")
    }

    /// Every line up to end of file, waiting at most `within` for it. Call
    /// it once the writer has exited. `Err` carries what arrived when end
    /// of file did not come in time (some other process still holds the
    /// stream open).
    pub fn to_eof(&mut self, within: Duration) -> Result<String, String> {
        let deadline = std::time::Instant::now() + within;
        while !self.at_eof {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => self.seen.push(line),
                Err(mpsc::RecvTimeoutError::Disconnected) => self.at_eof = true,
                Err(mpsc::RecvTimeoutError::Timeout) => return Err(self.seen.join("\n")),
            }
        }
        Ok(self.seen.join("\n"))
    }
}

/// How a start attempt ended.
pub enum Started {
    Running(Host),
    /// The process exited before listening: exit code and stderr.
    Exited(Option<i32>, String),
}

impl Host {
    /// Starts `opsorch` with exactly `env` (plus PATH/HOME) on 127.0.0.1:0.
    pub fn start(env: &[(&str, &str)]) -> Host {
        match Host::try_start(env) {
            Started::Running(host) => host,
            Started::Exited(code, stderr) => {
                panic!("opsorch exited with {code:?} before listening:\n{stderr}")
            }
        }
    }

    /// Like [`Host::start`], but reports a start-up refusal instead of panicking.
    pub fn try_start(env: &[(&str, &str)]) -> Started {
        Host::try_start_with(&[], env)
    }

    /// Starts `opsorch` with extra command-line `args`.
    pub fn try_start_with(args: &[&str], env: &[(&str, &str)]) -> Started {
        Host::spawn(Command::new(binary("opsorch")), args, env)
    }

    /// Starts `opsorch` as user `uid` and group `gid` (the caller must be
    /// allowed to switch, i.e. root), e.g. to test what a non-root host
    /// and its plugins can do.
    #[cfg(unix)]
    pub fn try_start_as(uid: u32, gid: u32, env: &[(&str, &str)]) -> Started {
        use std::os::unix::process::CommandExt;
        let mut cmd = Command::new(binary("opsorch"));
        cmd.uid(uid).gid(gid);
        Host::spawn(cmd, &[], env)
    }

    fn spawn(mut cmd: Command, args: &[&str], env: &[(&str, &str)]) -> Started {
        cmd.args(args)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("OPSORCH_ADDR", "127.0.0.1:0")
            // Off by default: its default port would collide between tests.
            .env("OPSORCH_ADMIN_ADDR", "")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if let Ok(home) = std::env::var("HOME") {
            cmd.env("HOME", home);
        }
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("spawn opsorch");
        let stdout = child.stdout.take().expect("stdout");
        let mut stderr = StderrLog::read(child.stderr.take().expect("stderr"));
        match wait_for_listening(stdout) {
            Some((addr, admin)) => Started::Running(Host {
                child,
                addr,
                admin,
                stderr,
            }),
            None => {
                let status = child.wait().expect("wait opsorch");
                let log = stderr.to_eof(STDERR_EOF_WITHIN).unwrap_or_else(|log| {
                    panic!("opsorch exited but its stderr stayed open:\n{log}")
                });
                Started::Exited(status.code(), log)
            }
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Everything the host wrote to stderr so far (its log). Once the
    /// process has exited, this waits (bounded) for the end of its stderr,
    /// so it holds every line the host wrote.
    pub fn stderr(&mut self) -> String {
        match self.child.try_wait() {
            Ok(Some(_)) => self
                .stderr
                .to_eof(STDERR_EOF_WITHIN)
                .unwrap_or_else(|log| panic!("opsorch exited but its stderr stayed open:\n{log}")),
            _ => self.stderr.so_far(),
        }
    }

    /// The lines the host wrote to stderr so far, without waiting for its
    /// end (a successor started by SIGHUP shares the stream and keeps it
    /// open after this process exits).
    pub fn stderr_so_far(&mut self) -> String {
        self.stderr.so_far()
    }

    /// Sends a request and returns the response.
    pub fn request(&self, method: &str, path: &str, body: Option<&str>) -> Response {
        self.raw_request(method, path, &[], body.map(str::as_bytes))
    }

    pub fn get(&self, path: &str) -> Response {
        self.request("GET", path, None)
    }

    pub fn post(&self, path: &str, body: &str) -> Response {
        self.request("POST", path, Some(body))
    }

    /// The entry of `capability` in `GET /capabilities`; panics, with the
    /// whole answer, when there is none.
    pub fn capability(&self, capability: &str) -> serde_json::Value {
        let capabilities = self.get("/capabilities").json();
        capabilities["capabilities"]
            .as_array()
            .and_then(|caps| caps.iter().find(|c| c["capability"] == capability))
            .cloned()
            .unwrap_or_else(|| panic!("no {capability} entry: {capabilities}"))
    }

    pub fn patch(&self, path: &str, body: &str) -> Response {
        self.request("PATCH", path, Some(body))
    }

    /// Sends a request with extra headers and raw body bytes.
    pub fn raw_request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<&[u8]>,
    ) -> Response {
        http(self.addr, method, path, headers, body)
    }

    /// Sends SIGTERM and waits (bounded) for the process to exit.
    pub fn terminate(&mut self, within: Duration) -> Option<std::process::ExitStatus> {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = std::time::Instant::now() + within;
        while std::time::Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }

    /// Kills the process with SIGKILL and reaps it.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Host {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The API address (`OPSORCH_LISTENING`) and the admin address printed
/// before it (`OPSORCH_ADMIN_LISTENING`), if any.
fn wait_for_listening(stdout: ChildStdout) -> Option<(SocketAddr, Option<SocketAddr>)> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut reader = BufReader::new(stdout);
        let mut line = String::new();
        let mut sent = false;
        let mut admin = None;
        loop {
            line.clear();
            match reader.read_line(&mut line) {
                Ok(0) | Err(_) => break,
                Ok(_) => {
                    if let Some(addr) = line.trim().strip_prefix("OPSORCH_ADMIN_LISTENING ") {
                        admin = addr.trim().parse::<SocketAddr>().ok();
                    }
                    if !sent {
                        if let Some(addr) = line.trim().strip_prefix("OPSORCH_LISTENING ") {
                            if let Ok(addr) = addr.trim().parse::<SocketAddr>() {
                                let _ = tx.send((addr, admin));
                                sent = true;
                            }
                        }
                    }
                }
            }
        }
    });
    rx.recv_timeout(Duration::from_secs(30)).ok()
}

/// An HTTP response.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    /// Header names are lower-cased.
    pub headers: BTreeMap<String, String>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body as JSON; panics with the body text when it is not JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("response is not JSON ({e}): {}", self.text()))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .get(&name.to_ascii_lowercase())
            .map(String::as_str)
    }

    /// The `code` of a JSON error body.
    pub fn error_code(&self) -> String {
        self.json()["code"].as_str().unwrap_or_default().to_string()
    }
}

/// One HTTP/1.1 request on a fresh connection (`Connection: close`).
pub fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&[u8]>,
) -> Response {
    let mut stream = TcpStream::connect(addr).expect("connect to opsorch");
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .expect("set timeout");
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    let has_content_type = headers
        .iter()
        .any(|(k, _)| k.eq_ignore_ascii_case("content-type"));
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    if let Some(body) = body {
        if !has_content_type {
            head.push_str("Content-Type: application/json\r\n");
        }
        head.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).expect("write request");
    if let Some(body) = body {
        stream.write_all(body).expect("write body");
    }
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).expect("read response");
    parse_response(&raw)
}

/// Parses a complete HTTP/1.1 response (read until the server closed).
pub fn parse_response(raw: &[u8]) -> Response {
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("incomplete response: {:?}", String::from_utf8_lossy(raw)));
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut body = raw[split + 4..].to_vec();
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("bad status line {status_line:?}"));
    let mut headers = BTreeMap::new();
    for line in lines {
        if let Some((k, v)) = line.split_once(':') {
            headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
        }
    }
    if headers
        .get("transfer-encoding")
        .is_some_and(|v| v.eq_ignore_ascii_case("chunked"))
    {
        body = dechunk(&body);
    }
    Response {
        status,
        headers,
        body,
    }
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(eol) = data.windows(2).position(|w| w == b"\r\n") {
        let size_text = String::from_utf8_lossy(&data[..eol]);
        let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("0").trim(), 16)
            .unwrap_or(0);
        data = &data[eol + 2..];
        if size == 0 || data.len() < size {
            break;
        }
        out.extend_from_slice(&data[..size]);
        data = &data[(size + 2).min(data.len())..];
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The shell exits at once; its background job keeps stderr open and
    /// writes the last line 300 ms later. A reader that looks right after
    /// the exit misses that line; waiting for end of file does not.
    #[test]
    fn stderr_after_exit_holds_every_line_up_to_end_of_file() {
        let mut child = Command::new("sh")
            .args(["-c", "echo first >&2; (sleep 0.3; echo last >&2) & exit 0"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn sh");
        let mut log = StderrLog::read(child.stderr.take().unwrap());
        assert!(child.wait().unwrap().success());
        let text = log.to_eof(Duration::from_secs(10)).expect("end of file");
        assert_eq!(text, "first\nlast");
        // Once at end of file, asking again returns the same at once.
        assert_eq!(log.to_eof(Duration::ZERO).unwrap(), "first\nlast");
    }

    #[test]
    fn stderr_that_stays_open_is_reported_not_waited_for_forever() {
        let mut child = Command::new("sh")
            .args(["-c", "echo held >&2; sleep 5 & exit 0"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn sh");
        let mut log = StderrLog::read(child.stderr.take().unwrap());
        assert!(child.wait().unwrap().success());
        let held = log.to_eof(Duration::from_millis(500)).unwrap_err();
        assert_eq!(held, "held");
    }

    #[test]
    fn invalid_utf8_does_not_end_the_log() {
        let mut child = Command::new("sh")
            .args(["-c", r"printf 'a\377b\nafter\n' >&2"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn sh");
        let mut log = StderrLog::read(child.stderr.take().unwrap());
        child.wait().unwrap();
        assert_eq!(
            log.to_eof(Duration::from_secs(10)).unwrap(),
            "a\u{fffd}b\nafter"
        );
    }

    #[test]
    fn dep_info_paths_are_split_and_unescaped() {
        let text =
            "/t/debug/libx.rlib: /w/a.rs /w/b\\ c.rs\n\n/t/debug/libx.so: /w/a.rs rel/d.rs\n";
        assert_eq!(
            dep_info_sources(text),
            ["/w/a.rs", "/w/b c.rs", "/w/a.rs", "rel/d.rs"]
                .map(PathBuf::from)
                .to_vec()
        );
        assert_eq!(
            dep_info_path(Path::new("/t/debug/libx.so")),
            PathBuf::from("/t/debug/libx.d")
        );
        assert_eq!(
            dep_info_path(Path::new("/t/debug/opsorch")),
            PathBuf::from("/t/debug/opsorch.d")
        );
    }

    #[test]
    fn an_artefact_older_than_a_source_is_refused() {
        let dir = TempDir::new("fresh");
        let source = dir.path().join("main.rs");
        let artefact = dir.path().join("tool");
        std::fs::write(&source, "fn main() {}").unwrap();
        std::fs::write(&artefact, "binary").unwrap();
        std::fs::write(
            dir.path().join("tool.d"),
            format!("{}: {}\n", artefact.display(), source.display()),
        )
        .unwrap();
        let set = |path: &Path, secs: u64| {
            let file = std::fs::File::options().write(true).open(path).unwrap();
            file.set_modified(std::time::UNIX_EPOCH + Duration::from_secs(secs))
                .unwrap();
        };
        // Built after the last edit: fresh.
        set(&source, 1_000_000);
        set(&artefact, 2_000_000);
        assert_eq!(check_fresh(&artefact), Ok(()));
        // Edited after the build: stale.
        set(&source, 3_000_000);
        assert_eq!(
            check_fresh(&artefact),
            Err(Stale::Source {
                artefact: artefact.clone(),
                source: source.clone()
            })
        );
        // A source that is gone: stale too.
        set(&source, 1_000_000);
        std::fs::remove_file(&source).unwrap();
        assert!(matches!(check_fresh(&artefact), Err(Stale::Source { .. })));
        // No dep-info at all: cannot tell, refused.
        std::fs::remove_file(dir.path().join("tool.d")).unwrap();
        assert!(matches!(check_fresh(&artefact), Err(Stale::NoDepInfo(_))));
    }
}
