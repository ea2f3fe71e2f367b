//! Hot swap on SIGHUP with the real binary: the successor takes the
//! listener and the new plugin directory, the old host drains and exits,
//! and clients see no failure; a successor that fails or hangs leaves the
//! old host serving; a SIGHUP storm starts one successor at a time.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use opsorch_e2e::{binary, http, library, wait_until, Host, TempDir};

use crate::ops_support::{alive, as_env, children_of, mock_env, signal, KillOnDrop};

/// Requests sent in a loop until stopped: (sent, failed, last failure).
struct Traffic {
    stop: Arc<AtomicBool>,
    sent: Arc<AtomicU64>,
    failed: Arc<AtomicU64>,
    threads: Vec<JoinHandle<Vec<String>>>,
}

impl Traffic {
    fn start(addr: SocketAddr, clients: usize) -> Traffic {
        let stop = Arc::new(AtomicBool::new(false));
        let sent = Arc::new(AtomicU64::new(0));
        let failed = Arc::new(AtomicU64::new(0));
        let threads = (0..clients)
            .map(|i| {
                let (stop, sent, failed) = (stop.clone(), sent.clone(), failed.clone());
                std::thread::spawn(move || {
                    let mut failures = Vec::new();
                    while !stop.load(Ordering::Relaxed) {
                        let (method, path, body): (&str, &str, Option<&[u8]>) = match i % 3 {
                            0 => ("GET", "/incidents/INC-1001", None),
                            1 => ("POST", "/alerts/query", Some(b"{}")),
                            _ => ("GET", "/health", None),
                        };
                        sent.fetch_add(1, Ordering::Relaxed);
                        let outcome =
                            std::panic::catch_unwind(|| http(addr, method, path, &[], body));
                        match outcome {
                            Ok(r) if r.status == 200 => {}
                            Ok(r) => {
                                failed.fetch_add(1, Ordering::Relaxed);
                                failures.push(format!(
                                    "{method} {path}: {} {}",
                                    r.status,
                                    r.text()
                                ));
                            }
                            Err(_) => {
                                failed.fetch_add(1, Ordering::Relaxed);
                                failures.push(format!("{method} {path}: no response"));
                            }
                        }
                    }
                    failures
                })
            })
            .collect();
        Traffic {
            stop,
            sent,
            failed,
            threads,
        }
    }

    fn sent(&self) -> u64 {
        self.sent.load(Ordering::Relaxed)
    }

    /// Stops and returns (sent, failures).
    fn finish(self) -> (u64, Vec<String>) {
        self.stop.store(true, Ordering::Relaxed);
        let mut failures = Vec::new();
        for t in self.threads {
            failures.extend(t.join().unwrap());
        }
        assert_eq!(self.failed.load(Ordering::Relaxed) as usize, failures.len());
        (self.sent.load(Ordering::Relaxed), failures)
    }
}

/// A host with incidents from the mock library and alerts from the stdio
/// mock plugin, writing its pid file under `dir`.
fn swap_host(dir: &TempDir, plugins: &Path, extra: &[(&'static str, String)]) -> Host {
    let mut env = mock_env(plugins.to_str().unwrap());
    env.retain(|(k, _)| *k != "OPSORCH_ALERT_PROVIDER");
    env.push((
        "OPSORCH_ALERT_PLUGIN",
        binary("opsorch-mock-plugin").to_str().unwrap().to_owned(),
    ));
    env.push((
        "OPSORCH_PID_FILE",
        dir.path().join("opsorch.pid").to_str().unwrap().to_owned(),
    ));
    env.extend(extra.iter().cloned());
    Host::start(&as_env(&env))
}

fn pid_file(dir: &TempDir) -> Option<u32> {
    std::fs::read_to_string(dir.path().join("opsorch.pid"))
        .ok()
        .and_then(|s| s.trim().parse().ok())
}

/// The `opsorch` processes among `parent`'s children (not its plugins).
fn successors_of(parent: u32) -> Vec<u32> {
    let opsorch = binary("opsorch");
    children_of(parent)
        .into_iter()
        .filter(|pid| {
            std::fs::read_link(format!("/proc/{pid}/exe")).is_ok_and(|exe| exe == opsorch)
        })
        .collect()
}

#[test]
fn sighup_hands_the_listener_to_a_successor_that_loads_the_new_plugin_dir() {
    let dir = TempDir::new("swap");
    let plugins = TempDir::with_libraries("swap-libs", &["opsorch_mock"]);
    let mut host = swap_host(&dir, plugins.path(), &[]);
    let old = host.pid();
    assert_eq!(pid_file(&dir), Some(old));
    let providers = host.get("/providers/alert").text();
    assert!(!providers.contains("failing"), "{providers}");

    let traffic = Traffic::start(host.addr, 8);
    assert!(wait_until(Duration::from_secs(10), || traffic.sent() > 50));
    // A new library appears in the plugin directory, then SIGHUP.
    plugins.copy_in(&library("opsorch_faulty"), "libopsorch_faulty.so");
    signal(old, "-HUP");
    let mut new = None;
    assert!(
        wait_until(Duration::from_secs(60), || {
            new = pid_file(&dir).filter(|p| *p != old);
            new.is_some()
        }),
        "no successor became ready: {}",
        host.stderr_so_far()
    );
    let new = new.unwrap();
    let _cleanup = KillOnDrop(new);
    let exited = wait_until(Duration::from_secs(60), || !alive(old));
    assert!(
        exited,
        "the old host did not exit: {}",
        host.stderr_so_far()
    );
    let before = traffic.sent();
    assert!(wait_until(Duration::from_secs(10), || traffic.sent() > before + 50));
    let (sent, failures) = traffic.finish();
    assert!(
        failures.is_empty(),
        "{} of {sent} failed: {failures:?}",
        failures.len()
    );

    // The successor serves, with the new library, on the same address.
    assert!(alive(new));
    let providers = host.get("/providers/alert").text();
    assert!(providers.contains("failing"), "{providers}");
    assert_eq!(host.post("/alerts/query", "{}").status, 200);
    assert!(
        wait_until(Duration::from_secs(10), || host
            .stderr_so_far()
            .contains("successor ready")),
        "{}",
        host.stderr_so_far()
    );
}

#[test]
fn a_successor_that_fails_start_up_leaves_the_old_host_serving() {
    let dir = TempDir::new("swap-fail");
    let plugins = TempDir::with_libraries("swap-fail-libs", &["opsorch_mock"]);
    let mut host = swap_host(&dir, plugins.path(), &[]);
    let old = host.pid();
    std::fs::write(plugins.path().join("libbroken.so"), b"not a library").unwrap();
    let traffic = Traffic::start(host.addr, 4);
    signal(old, "-HUP");
    assert!(
        wait_until(Duration::from_secs(60), || host
            .stderr()
            .contains("hot swap failed")),
        "{}",
        host.stderr()
    );
    let (sent, failures) = traffic.finish();
    assert!(
        failures.is_empty(),
        "{} of {sent} failed: {failures:?}",
        failures.len()
    );
    let log = host.stderr();
    // The successor's own one-line reason names the bad file.
    assert!(
        log.lines()
            .any(|l| l.starts_with("opsorch: ") && l.contains("libbroken.so")),
        "{log}"
    );
    assert!(alive(old));
    assert_eq!(pid_file(&dir), Some(old));
    assert!(successors_of(old).is_empty());
    assert_eq!(host.get("/incidents/INC-1001").status, 200);
}

#[test]
fn a_successor_that_hangs_is_killed_and_the_old_host_serves_on() {
    let dir = TempDir::new("swap-hang");
    let plugins = TempDir::with_libraries("swap-hang-libs", &["opsorch_mock"]);
    let secrets = dir.path().join("secrets.json");
    std::fs::write(&secrets, "{}").unwrap();
    let mut host = swap_host(
        &dir,
        plugins.path(),
        &[
            ("OPSORCH_SECRET_PROVIDER", "json".into()),
            (
                "OPSORCH_SECRET_CONFIG",
                format!(r#"{{"path":"{}"}}"#, secrets.display()),
            ),
            ("OPSORCH_SWAP_TIMEOUT_MS", "3000".into()),
        ],
    );
    let old = host.pid();
    // A successor reading this FIFO blocks in start-up: nobody writes it.
    std::fs::remove_file(&secrets).unwrap();
    let made = std::process::Command::new("mkfifo")
        .arg(&secrets)
        .status()
        .unwrap();
    assert!(made.success());
    signal(old, "-HUP");
    let mut successor = Vec::new();
    assert!(wait_until(Duration::from_secs(20), || {
        successor = successors_of(old);
        !successor.is_empty()
    }));
    let _cleanup = KillOnDrop(successor[0]);
    assert!(
        wait_until(Duration::from_secs(60), || host
            .stderr()
            .contains("did not report ready")),
        "{}",
        host.stderr()
    );
    assert!(wait_until(Duration::from_secs(10), || !alive(successor[0])));
    assert!(alive(old));
    assert_eq!(host.get("/incidents/INC-1001").status, 200);
    assert_eq!(host.post("/alerts/query", "{}").status, 200);
}

#[test]
fn a_sighup_storm_starts_one_successor_at_a_time_and_keeps_the_listener() {
    let dir = TempDir::new("swap-storm");
    let plugins = TempDir::with_libraries("swap-storm-libs", &["opsorch_mock"]);
    let mut host = swap_host(&dir, plugins.path(), &[]);
    let old = host.pid();
    let traffic = Traffic::start(host.addr, 4);
    let mut most = 0;
    // 10 signals within a tenth of a second: most arrive while the first
    // successor is still starting.
    for _ in 0..10 {
        signal(old, "-HUP");
        most = most.max(successors_of(old).len());
        std::thread::sleep(Duration::from_millis(10));
    }
    let mut new = None;
    assert!(
        wait_until(Duration::from_secs(60), || {
            most = most.max(successors_of(old).len());
            new = pid_file(&dir).filter(|p| *p != old);
            new.is_some()
        }),
        "{}",
        host.stderr_so_far()
    );
    let new = new.unwrap();
    let _cleanup = KillOnDrop(new);
    assert!(wait_until(Duration::from_secs(60), || !alive(old)));
    let before = traffic.sent();
    assert!(wait_until(Duration::from_secs(10), || traffic.sent() > before + 20));
    let (sent, failures) = traffic.finish();
    assert!(
        failures.is_empty(),
        "{} of {sent} failed: {failures:?}",
        failures.len()
    );
    assert!(most <= 1, "{most} successors at once");
    // The successor got no SIGHUP and started no successor of its own.
    assert!(successors_of(new).is_empty());
    assert!(
        wait_until(Duration::from_secs(10), || host
            .stderr_so_far()
            .contains("SIGHUP ignored")),
        "{}",
        host.stderr_so_far()
    );
    // Exactly one successor was ever started (the log is shared by both
    // hosts): the other signals were ignored, not queued for later.
    let log = host.stderr_so_far();
    assert_eq!(
        log.matches("SIGHUP: starting a successor").count(),
        1,
        "{log}"
    );
    assert_eq!(host.get("/health").status, 200);
}

/// Starts `opsorch` with `listener` as descriptor 3 and `LISTEN_FDS=1`
/// (plus `extra`), as systemd socket activation does; returns the address
/// it reports and the child.
fn activated(
    listener: &std::net::TcpListener,
    extra: &[(&str, &str)],
) -> (SocketAddr, crate::ops_support::OwnedChild) {
    use command_fds::{CommandFdExt, FdMapping};
    use std::io::BufRead;
    let fd = std::os::fd::OwnedFd::from(listener.try_clone().unwrap());
    let mut cmd = std::process::Command::new(binary("opsorch"));
    cmd.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("OPSORCH_ADDR", "127.0.0.1:0")
        .env("OPSORCH_ADMIN_ADDR", "")
        .env("LISTEN_FDS", "1")
        .envs(extra.iter().copied())
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null());
    cmd.fd_mappings(vec![FdMapping {
        parent_fd: fd,
        child_fd: 3,
    }])
    .unwrap();
    let mut child = cmd.spawn().expect("spawn opsorch");
    let stdout = child.stdout.take().unwrap();
    let child = crate::ops_support::OwnedChild(child);
    let line = std::io::BufReader::new(stdout)
        .lines()
        .map_while(Result::ok)
        .find(|l| l.starts_with("OPSORCH_LISTENING "))
        .expect("the host reports its address");
    let addr = line["OPSORCH_LISTENING ".len()..].parse().unwrap();
    (addr, child)
}

#[test]
fn socket_activation_serves_on_the_inherited_listener() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let ours = listener.local_addr().unwrap();
    let (addr, _host) = activated(&listener, &[]);
    assert_eq!(addr, ours);
    assert_eq!(http(ours, "GET", "/health", &[], None).status, 200);

    // Descriptors meant for another process (LISTEN_PID) are not taken.
    let other = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let (addr, _host) = activated(&other, &[("LISTEN_PID", "1")]);
    assert_ne!(addr, other.local_addr().unwrap());
    assert_eq!(http(addr, "GET", "/health", &[], None).status, 200);
}
