//! Inherited listeners and the hot swap on SIGHUP.
//!
//! **Inherited listeners.** A host may be handed its listening sockets
//! instead of binding them: by systemd socket activation, or by the host it
//! replaces. Both use the same convention, `LISTEN_FDS` (how many
//! descriptors, from fd 3 on), `LISTEN_PID` (when set, the process they are
//! meant for) and `LISTEN_FDNAMES` (colon-separated names: `api` and
//! `admin`; without names the first is the API and the second the admin
//! listener). [`Inherited::from_env`] takes them, through the `listenfd`
//! crate, before any thread starts.
//!
//! **Hot swap.** On SIGHUP the host starts a new copy of its own binary
//! (the file at the path it was started from, so a replaced binary takes
//! effect) with the same arguments and environment, handing it both
//! listeners. The new copy reads the environment's files, the plugin
//! directories and the secret store afresh, builds its providers and prints
//! `OPSORCH_LISTENING <addr>` on its stdout (a pipe to the old host) once it
//! accepts connections. Only then does the old host stop accepting and
//! drain ([`crate::server`]). A successor that exits first failed: its
//! one-line reason is in the shared log and the old host goes on serving.
//! One that says nothing within the swap timeout is killed, with the same
//! outcome. SIGHUPs that arrive while a successor is starting, or after the
//! old host has handed over, are logged and ignored: there is never more
//! than one successor at a time, and the listeners stay open throughout
//! (the old host holds them until the successor has them).

use std::net::TcpListener as StdListener;
use std::os::fd::OwnedFd;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use command_fds::{CommandFdExt, FdMapping};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::sync::oneshot;

use crate::settings::ConfigError;

/// The line a host prints on stdout once it accepts connections.
pub const LISTENING_LINE: &str = "OPSORCH_LISTENING ";

/// Listening sockets handed to this process.
#[derive(Debug, Default)]
pub struct Inherited {
    pub api: Option<StdListener>,
    pub admin: Option<StdListener>,
}

impl Inherited {
    /// Takes the descriptors named by `LISTEN_FDS` (and removes the
    /// variables from the environment, so that children do not see them).
    /// Call it before starting any thread.
    pub fn from_env() -> Result<Inherited, ConfigError> {
        let names: Vec<String> = std::env::var("LISTEN_FDNAMES")
            .map(|v| v.split(':').map(str::to_owned).collect())
            .unwrap_or_default();
        std::env::remove_var("LISTEN_FDNAMES");
        let mut fds = listenfd::ListenFd::from_env();
        let mut inherited = Inherited::default();
        let named = names.iter().any(|n| n == "api" || n == "admin");
        for idx in 0..fds.len() {
            let role = if named {
                names.get(idx).map(String::as_str).unwrap_or("")
            } else {
                match idx {
                    0 => "api",
                    1 => "admin",
                    _ => "",
                }
            };
            let slot = match role {
                "api" => &mut inherited.api,
                "admin" => &mut inherited.admin,
                _ => continue,
            };
            let listener = fds
                .take_tcp_listener(idx)
                .map_err(|e| {
                    ConfigError::new(
                        "LISTEN_FDS",
                        format!(
                            "inherited descriptor {} is not a TCP listener: {e}",
                            idx + 3
                        ),
                    )
                })?
                .ok_or_else(|| {
                    ConfigError::new("LISTEN_FDS", format!("descriptor {} is gone", idx + 3))
                })?;
            // systemd hands sockets over in blocking mode.
            listener.set_nonblocking(true).map_err(|e| {
                ConfigError::new("LISTEN_FDS", format!("descriptor {}: {e}", idx + 3))
            })?;
            *slot = Some(listener);
        }
        Ok(inherited)
    }
}

/// What a swap needs from the running host: duplicates of its listeners,
/// how to start itself again, and how long to wait.
pub struct Swapper {
    pub api: StdListener,
    pub admin: Option<StdListener>,
    pub binary: PathBuf,
    pub args: Vec<std::ffi::OsString>,
    pub timeout: Duration,
}

/// Why a successor did not take over.
#[derive(Debug, thiserror::Error)]
pub enum SwapError {
    #[error("cannot start a successor: {0}")]
    Spawn(std::io::Error),
    #[error("the successor (pid {pid}) exited during start-up ({status}); see its reason above")]
    Exited {
        pid: u32,
        status: std::process::ExitStatus,
    },
    #[error("the successor (pid {pid}) did not report ready within {after:?}; killed it")]
    Hung { pid: u32, after: Duration },
}

impl Swapper {
    /// The binary this process was started from, with its arguments.
    pub fn current_binary() -> std::io::Result<(PathBuf, Vec<std::ffi::OsString>)> {
        let exe = std::env::current_exe()?;
        // When the file was replaced, Linux names the running one "(deleted)":
        // the new file at the same path is the one to start.
        let exe = match exe.to_str().and_then(|s| s.strip_suffix(" (deleted)")) {
            Some(path) => PathBuf::from(path),
            None => exe,
        };
        Ok((exe, std::env::args_os().skip(1).collect()))
    }

    /// Starts a successor and waits until it is ready, has failed, or has
    /// hung (then it is killed). Returns its pid once it is ready. Its
    /// stdout is copied to this process's stdout until this process exits.
    pub async fn start_successor(&self) -> Result<u32, SwapError> {
        let mut mappings = vec![FdMapping {
            parent_fd: OwnedFd::from(self.api.try_clone().map_err(SwapError::Spawn)?),
            child_fd: 3,
        }];
        let mut names = "api".to_owned();
        if let Some(admin) = &self.admin {
            mappings.push(FdMapping {
                parent_fd: OwnedFd::from(admin.try_clone().map_err(SwapError::Spawn)?),
                child_fd: 4,
            });
            names.push_str(":admin");
        }
        let mut command = tokio::process::Command::new(&self.binary);
        command
            .args(&self.args)
            .env("LISTEN_FDS", mappings.len().to_string())
            .env("LISTEN_FDNAMES", names)
            .env_remove("LISTEN_PID")
            .env_remove("LISTEN_FDS_FIRST_FD")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        command
            .fd_mappings(mappings)
            .map_err(|e| SwapError::Spawn(std::io::Error::other(e)))?;
        let child = command.spawn().map_err(SwapError::Spawn)?;
        let pid = child.id().unwrap_or(0);
        // Killed if this future is dropped before the successor is ready
        // (the host got SIGTERM meanwhile): no successor outlives a stop.
        let mut child = KillUnlessReady(Some(child));
        tracing::info!(pid, binary = %self.binary.display(), "started a successor; serving until it is ready");
        let Some(stdout) = child.get().stdout.take() else {
            return Err(SwapError::Spawn(std::io::Error::other("no stdout pipe")));
        };
        let (ready_tx, ready_rx) = oneshot::channel();
        // Copies the successor's stdout (its LISTENING lines) to ours, and
        // says when it is ready. Ends when the successor closes its stdout
        // or this process exits.
        tokio::spawn(async move {
            let mut lines = BufReader::new(stdout).lines();
            let mut ready_tx = Some(ready_tx);
            while let Ok(Some(line)) = lines.next_line().await {
                {
                    use std::io::Write;
                    let mut out = std::io::stdout().lock();
                    let _ = writeln!(out, "{line}");
                    let _ = out.flush();
                }
                if line.starts_with(LISTENING_LINE) {
                    if let Some(tx) = ready_tx.take() {
                        let _ = tx.send(());
                    }
                }
            }
        });
        tokio::select! {
            ready = ready_rx => {
                if ready.is_ok() {
                    // The successor outlives this process: let it go.
                    child.release();
                    return Ok(pid);
                }
                // Its stdout closed without the line: it is exiting.
                let status = child.get().wait().await.map_err(SwapError::Spawn)?;
                Err(SwapError::Exited { pid, status })
            }
            status = child.get().wait() => {
                let status = status.map_err(SwapError::Spawn)?;
                Err(SwapError::Exited { pid, status })
            }
            _ = tokio::time::sleep(self.timeout) => {
                let _ = child.get().start_kill();
                let _ = child.get().wait().await;
                Err(SwapError::Hung { pid, after: self.timeout })
            }
        }
    }
}

/// A starting successor, killed on drop unless released.
struct KillUnlessReady(Option<tokio::process::Child>);

impl KillUnlessReady {
    fn get(&mut self) -> &mut tokio::process::Child {
        self.0.as_mut().expect("not released")
    }

    fn release(&mut self) {
        self.0.take();
    }
}

impl Drop for KillUnlessReady {
    fn drop(&mut self) {
        if let Some(child) = self.0.as_mut() {
            let _ = child.start_kill();
        }
    }
}

/// SIGHUP, caught from the start of `serve` so that one arriving while the
/// host starts does not end it (the signal's default action).
pub struct Hangups(Option<tokio::signal::unix::Signal>);

impl Hangups {
    pub fn install() -> Hangups {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) {
            Ok(signal) => Hangups(Some(signal)),
            Err(e) => {
                tracing::warn!(error = %e, "cannot catch SIGHUP; hot swap is off");
                Hangups(None)
            }
        }
    }

    /// The next SIGHUP; never resolves when they cannot be caught.
    async fn next(&mut self) {
        match self.0.as_mut() {
            Some(signal) => {
                if signal.recv().await.is_none() {
                    std::future::pending::<()>().await;
                }
            }
            None => std::future::pending::<()>().await,
        }
    }

    /// Forgets a SIGHUP that arrived before now (while starting).
    pub fn forget_pending(&mut self) {
        if let Some(signal) = self.0.as_mut() {
            let waker = std::task::Waker::noop();
            let mut cx = std::task::Context::from_waker(waker);
            while let std::task::Poll::Ready(Some(())) = signal.poll_recv(&mut cx) {
                tracing::warn!("SIGHUP ignored: it arrived while this host was starting");
            }
        }
    }
}

/// Runs the swap supervisor: on each SIGHUP, starts one successor (further
/// SIGHUPs while it starts are ignored) and resolves once one is ready. A
/// successor that fails is logged and the host keeps serving. After the
/// hand-over, later SIGHUPs are logged and ignored.
pub async fn handed_over(mut hangups: Hangups, swapper: Swapper) {
    loop {
        hangups.next().await;
        if std::process::id() == 1 {
            tracing::warn!(
                "SIGHUP ignored: this host is PID 1 (a container's init), and a successor would \
                 end with it; replace the container instead"
            );
            continue;
        }
        tracing::info!("SIGHUP: starting a successor to take over the listeners");
        let attempt = swapper.start_successor();
        tokio::pin!(attempt);
        let outcome = loop {
            tokio::select! {
                outcome = &mut attempt => break outcome,
                _ = hangups.next() => {
                    tracing::warn!("SIGHUP ignored: a successor is already starting");
                }
            }
        };
        match outcome {
            Ok(pid) => {
                tracing::info!(
                    successor = pid,
                    "successor ready; this host stops accepting and drains"
                );
                tokio::spawn(async move {
                    loop {
                        hangups.next().await;
                        tracing::warn!("SIGHUP ignored: this host has handed over and is draining");
                    }
                });
                return;
            }
            Err(e) => {
                tracing::error!("hot swap failed, still serving: {e}");
            }
        }
    }
}

/// Writes this process's pid to `path` (through a temporary file renamed
/// over it, so a reader never sees half of it).
pub fn write_pid_file(path: &std::path::Path) -> std::io::Result<()> {
    let temp = path.with_extension(format!("{}.tmp", std::process::id()));
    std::fs::write(&temp, format!("{}\n", std::process::id()))?;
    std::fs::rename(&temp, path)
}

/// Removes the pid file if it still names this process (a successor may
/// have written its own since).
pub fn remove_pid_file_if_ours(path: &std::path::Path) {
    let ours = std::fs::read_to_string(path)
        .ok()
        .and_then(|s| s.trim().parse::<u32>().ok())
        == Some(std::process::id());
    if ours {
        let _ = std::fs::remove_file(path);
    }
}
