//! One running plugin process and the four tasks that look after it.
//!
//! * The **writer** owns stdin. Callers hand it whole request lines through
//!   a channel; it records each caller in the FIFO of pending calls and then
//!   writes the line, batching whatever else is queued into the same write.
//!   It never waits for an answer before writing the next request, which is
//!   what makes the transport pipelined. Because only the writer touches
//!   stdin, a caller that gives up mid-call can never leave half a line.
//! * The **reader** owns stdout. Each line answers the oldest pending call.
//! * The **stderr forwarder** sends every stderr line to `tracing`.
//! * The **supervisor** owns the `Child`: it kills the process when it is
//!   declared dead (timeout, bad output), ends it after a grace period when
//!   it is asked to stop, reaps it, and then fails whatever is still pending.
//!
//! A process is "dead" from the moment something makes its stream
//! untrustworthy; every pending call is then answered with an error at once,
//! so nothing waits for a process that will not answer.

use std::collections::VecDeque;
use std::process::{ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use opsorch_plugin_api::methods::{Capability, Method};
use opsorch_plugin_api::protocol::{Manifest, CALL_TIMEOUT_ENV, PLUGIN_INFO_METHOD};
use serde_json::value::RawValue;
use tokio::io::{AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStderr, ChildStdin, ChildStdout};
use tokio::sync::{mpsc, oneshot, watch, OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::executable::Executable;
use super::wire::{self, LineRead, Parsed};
use crate::metrics::{Metrics, PluginEvent};
use crate::providers::seam::ProviderError;
use crate::settings::FIXED;

/// Environment variables a plugin does not inherit (besides every
/// `OPSORCH_*_CONFIG`, see [`is_host_secret`]).
const HOST_SECRETS: [&str; 4] = [
    "OPSORCH_BEARER_TOKEN",
    "OPSORCH_SECRET_KEY",
    "OPSORCH_SECRET_KEY_FILE",
    "OPSORCH_TLS_KEY_FILE",
];

/// Whether the host keeps `name` from plugins: its own credentials, and
/// every capability's config (credentials of other adapters; a plugin gets
/// its own config with every request).
fn is_host_secret(name: &str) -> bool {
    HOST_SECRETS.contains(&name) || (name.starts_with("OPSORCH_") && name.ends_with("_CONFIG"))
}

/// Everything fixed about a capability's plugin.
#[derive(Debug)]
pub(crate) struct PluginSpec {
    pub capability: Capability,
    /// The file executed: the one checked, pinned (see `executable`).
    pub executable: Executable,
    /// The config object sent with every request.
    pub config: Box<RawValue>,
    pub call_timeout: Duration,
    pub probe: bool,
    pub pipelining: bool,
    /// Where this plugin's process events are counted.
    pub metrics: Option<Arc<Metrics>>,
}

impl PluginSpec {
    pub fn shown_path(&self) -> String {
        self.executable.path.display().to_string()
    }
}

/// Why a process stopped being usable.
#[derive(Debug, Clone)]
pub(crate) enum Death {
    /// It exited (or closed stdout) on its own.
    Exited(String),
    /// It wrote something that is not an answer.
    BadOutput(String),
    /// A call timed out; the stream may hold its late answer.
    TimedOut(Method),
    /// The host asked it to stop (shutdown, or the provider was replaced).
    Stopped,
}

impl Death {
    /// The error every call still pending when it died receives.
    fn error(&self) -> ProviderError {
        match self {
            Death::Exited(status) => ProviderError::new(
                "plugin_crashed",
                format!("the plugin process exited ({status}) before answering"),
            ),
            Death::BadOutput(why) => ProviderError::new(
                "plugin_restarted",
                format!("the plugin process was restarted after bad output ({why}); this call was not answered"),
            ),
            Death::TimedOut(method) => ProviderError::new(
                "plugin_restarted",
                format!("the plugin process was restarted after a {method} call timed out; this call was not answered"),
            ),
            Death::Stopped => ProviderError::new(
                "plugin_unavailable",
                "the plugin process was stopped (host shutting down or provider replaced)",
            ),
        }
    }

    /// Whether this death says something is wrong with the plugin.
    pub fn is_failure(&self) -> bool {
        !matches!(self, Death::Stopped)
    }
}

/// A call's outcome as the transport sees it.
#[derive(Debug)]
pub(crate) enum CallError {
    /// The request was never written, so it is safe to send elsewhere; the
    /// line comes back for that.
    NotSent(Vec<u8>),
    Failed(ProviderError),
}

type Reply = Result<Box<RawValue>, CallError>;

/// Who is waiting for the next answer.
enum Waiter {
    Call(oneshot::Sender<Reply>),
    /// The `plugin.info` probe: its answer is only logged.
    Probe,
}

struct Outgoing {
    line: Vec<u8>,
    waiter: Waiter,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    Running,
    /// Asked to stop: stdin is closed, the plugin may finish what it has.
    Stopping,
    /// Its stdin or stdout broke on its own (it is exiting, most likely):
    /// nothing new is written, answers already in the pipe still count,
    /// and the exit status decides what the rest of the pending calls get.
    Draining,
    Dead,
}

struct State {
    pending: VecDeque<Waiter>,
    death: Option<(Death, Instant)>,
}

/// What the pool needs to know about a process that ended.
#[derive(Debug, Clone)]
pub(crate) struct Ending {
    pub death: Death,
    pub at: Instant,
    /// It answered at least one real call, or lived long enough to count as
    /// healthy; a crash loop is only a loop when this is false.
    pub was_healthy: bool,
}

/// The part of a process the tasks share.
pub(crate) struct Shared {
    spec: Arc<PluginSpec>,
    pid: u32,
    started: Instant,
    state: Mutex<State>,
    phase: watch::Sender<Phase>,
    exited: watch::Sender<bool>,
    /// Real calls between pick and reply, for the pool's least-busy choice.
    in_flight: AtomicUsize,
    answered: AtomicBool,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // Nothing panics while holding it; a poisoned lock still holds whole data.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Declares the process dead (first reason wins): fails every pending
    /// call, and the supervisor kills it. `head` overrides the error of the
    /// oldest pending call (the one a bad line was meant to answer).
    /// Returns whether this call was the one that declared it.
    fn fail(&self, death: Death, head: Option<ProviderError>) -> bool {
        let drained = {
            let mut state = self.lock();
            if state.death.is_some() {
                return false;
            }
            state.death = Some((death.clone(), Instant::now()));
            std::mem::take(&mut state.pending)
        };
        let event = match death {
            Death::Exited(_) | Death::BadOutput(_) => Some(PluginEvent::Crash),
            Death::TimedOut(_) => Some(PluginEvent::Timeout),
            Death::Stopped => None,
        };
        if let (Some(event), Some(m)) = (event, &self.spec.metrics) {
            m.plugin_event(
                self.spec.capability.name(),
                self.spec.shown_path().into(),
                event,
            );
        }
        self.phase.send_replace(Phase::Dead);
        let mut head = head;
        for waiter in drained {
            if let Waiter::Call(reply) = waiter {
                let error = head.take().unwrap_or_else(|| death.error());
                let _ = reply.send(Err(CallError::Failed(error)));
            } else {
                // The probe answers first; it must not consume the head error.
            }
        }
        true
    }

    /// Asks the process to stop: stdin closes so it can finish and exit;
    /// the supervisor kills it after `FIXED.plugin_stop_grace`.
    pub fn stop(&self) {
        self.leave_running(Phase::Stopping);
    }

    fn leave_running(&self, to: Phase) {
        self.phase.send_if_modified(|phase| {
            if *phase == Phase::Running {
                *phase = to;
                true
            } else {
                false
            }
        });
    }

    /// Resolves once the process has exited and been reaped.
    pub async fn wait_exited(&self) {
        let mut exited = self.exited.subscribe();
        let _ = exited.wait_for(|done| *done).await;
    }

    fn is_running(&self) -> bool {
        *self.phase.borrow() == Phase::Running
    }

    fn ending(&self) -> Option<Ending> {
        let phase = *self.phase.borrow();
        let state = self.lock();
        let (death, at) = match (state.death.clone(), phase) {
            (Some(known), _) => known,
            (None, Phase::Running) => return None,
            (None, Phase::Stopping) => (Death::Stopped, Instant::now()),
            // Its exit status is not in yet; it broke on its own all the same.
            (None, _) => (
                Death::Exited("its input or output closed".into()),
                Instant::now(),
            ),
        };
        Some(Ending {
            death,
            at,
            was_healthy: self.answered.load(Ordering::Relaxed)
                || at.duration_since(self.started) >= FIXED.plugin_healthy_uptime,
        })
    }

    fn log_fields(&self) -> (Capability, String, u32) {
        (self.spec.capability, self.spec.shown_path(), self.pid)
    }
}

/// A handle on one plugin process. Dropping the last handle stops it.
pub(crate) struct PluginProcess {
    shared: Arc<Shared>,
    requests: mpsc::Sender<Outgoing>,
    /// One request at a time when pipelining is off.
    lockstep: Option<Arc<Semaphore>>,
}

impl Drop for PluginProcess {
    fn drop(&mut self) {
        self.shared.stop();
    }
}

/// Keeps `in_flight` right even when the caller's future is dropped.
struct InFlight<'a>(&'a AtomicUsize);

impl<'a> InFlight<'a> {
    fn new(counter: &'a AtomicUsize) -> Self {
        counter.fetch_add(1, Ordering::Relaxed);
        InFlight(counter)
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

impl PluginProcess {
    /// Starts the plugin and its tasks. Must run inside the tokio runtime.
    pub fn spawn(spec: Arc<PluginSpec>) -> std::io::Result<(PluginProcess, Arc<Shared>)> {
        let mut child = spawn_child(&spec)?;
        let (Some(stdin), Some(stdout), Some(stderr)) =
            (child.stdin.take(), child.stdout.take(), child.stderr.take())
        else {
            // Unreachable with piped stdio; the child is killed on drop.
            return Err(std::io::Error::other("plugin stdio pipes are missing"));
        };
        let pid = child.id().unwrap_or_default();
        let shared = Arc::new(Shared {
            spec: spec.clone(),
            pid,
            started: Instant::now(),
            state: Mutex::new(State {
                pending: VecDeque::new(),
                death: None,
            }),
            phase: watch::Sender::new(Phase::Running),
            exited: watch::Sender::new(false),
            in_flight: AtomicUsize::new(0),
            answered: AtomicBool::new(false),
        });
        tracing::info!(capability = %spec.capability, plugin = %spec.shown_path(), pid,
            "started plugin process");

        let (requests, queue) = mpsc::channel(FIXED.plugin_write_queue);
        // Lock-step plugins get one request at a time, so the probe, which
        // is never awaited, would break that promise.
        if spec.probe && spec.pipelining {
            // Written first but never awaited: real calls queue right behind
            // it, so a plugin that answers it with an error costs them one
            // trivial round trip at most, and its answer only goes to the log.
            if let Ok(line) = wire::encode_request(PLUGIN_INFO_METHOD, &spec.config, "null") {
                let _ = requests.try_send(Outgoing {
                    line,
                    waiter: Waiter::Probe,
                });
            }
        }
        // Subscribed before any task runs, so no phase change is missed.
        let supervisor_phase = shared.phase.subscribe();
        tokio::spawn(write_requests(shared.clone(), queue, stdin));
        let reader = tokio::spawn(read_responses(shared.clone(), stdout));
        tokio::spawn(forward_stderr(shared.clone(), stderr));
        tokio::spawn(supervise(shared.clone(), child, reader, supervisor_phase));

        let lockstep = (!spec.pipelining).then(|| Arc::new(Semaphore::new(1)));
        Ok((
            PluginProcess {
                shared: shared.clone(),
                requests,
                lockstep,
            },
            shared,
        ))
    }

    pub fn pid(&self) -> u32 {
        self.shared.pid
    }

    /// Real calls in flight on this process.
    pub fn load(&self) -> usize {
        self.shared.in_flight.load(Ordering::Relaxed)
    }

    pub fn is_running(&self) -> bool {
        self.shared.is_running()
    }

    /// `Some` once the process can no longer be used.
    pub fn ending(&self) -> Option<Ending> {
        self.shared.ending()
    }

    /// Sends one request line and waits for its answer until `deadline`.
    ///
    /// When the call fails because its process died, the error is returned
    /// only once that process has been reaped (bounded): a client that saw
    /// the 502/504 never races a process still being killed, and a host
    /// stopped right after cannot leave it behind.
    pub async fn call(&self, method: Method, line: Vec<u8>, deadline: Instant) -> Reply {
        let reply = self.send_and_wait(method, line, deadline).await;
        if matches!(reply, Err(CallError::Failed(_))) && self.shared.lock().death.is_some() {
            let _ = tokio::time::timeout(FIXED.plugin_reap_wait, self.shared.wait_exited()).await;
        }
        reply
    }

    /// The error of a request that never reached this process (it died or
    /// was stopped first) and that no other process could take: what a
    /// call in flight on it got, so with its exit status, known once it
    /// has been reaped (the same bounded wait as [`PluginProcess::call`]).
    pub async fn unsent_error(&self) -> ProviderError {
        let _ = tokio::time::timeout(FIXED.plugin_reap_wait, self.shared.wait_exited()).await;
        self.ending()
            .map_or_else(|| Death::Stopped.error(), |ending| ending.death.error())
    }

    async fn send_and_wait(&self, method: Method, line: Vec<u8>, deadline: Instant) -> Reply {
        let _in_flight = InFlight::new(&self.shared.in_flight);
        let _turn: Option<OwnedSemaphorePermit> = match &self.lockstep {
            None => None,
            Some(turn) => {
                match tokio::time::timeout_at(deadline, turn.clone().acquire_owned()).await {
                    Ok(Ok(permit)) => Some(permit),
                    Ok(Err(_)) => return Err(CallError::NotSent(line)),
                    // Queued behind a call that is itself stuck: that call's
                    // own timeout replaces the process.
                    Err(_) => return Err(CallError::Failed(self.timeout_error(method))),
                }
            }
        };
        let (reply, mut answer) = oneshot::channel();
        let outgoing = Outgoing {
            line,
            waiter: Waiter::Call(reply),
        };
        match tokio::time::timeout_at(deadline, self.requests.send(outgoing)).await {
            Ok(Ok(())) => {}
            Ok(Err(mpsc::error::SendError(outgoing))) => {
                return Err(CallError::NotSent(outgoing.line))
            }
            Err(_) => return Err(self.timed_out(method)),
        }
        match tokio::time::timeout_at(deadline, &mut answer).await {
            Ok(Ok(reply)) => reply,
            // The writer dropped the waiter unanswered; it only does so for
            // a process that already died.
            Ok(Err(_)) => Err(CallError::Failed(
                self.ending()
                    .map(|e| e.death.error())
                    .unwrap_or_else(|| Death::Stopped.error()),
            )),
            Err(_) => match answer.try_recv() {
                // The answer raced the deadline: keep it, and the process.
                Ok(reply) => reply,
                Err(_) => Err(self.timed_out(method)),
            },
        }
    }

    fn timeout_error(&self, method: Method) -> ProviderError {
        ProviderError::new(
            "plugin_timeout",
            format!(
                "the plugin did not answer {method} within {} ms",
                self.shared.spec.call_timeout.as_millis()
            ),
        )
    }

    /// A call ran out of time: its answer may still arrive later and would
    /// then answer the wrong call, so the process is replaced.
    fn timed_out(&self, method: Method) -> CallError {
        if self.shared.fail(Death::TimedOut(method), None) {
            let (capability, plugin, pid) = self.shared.log_fields();
            tracing::warn!(%capability, %plugin, pid, %method,
                timeout_ms = self.shared.spec.call_timeout.as_millis() as u64,
                "plugin call timed out; killing the process");
        }
        CallError::Failed(self.timeout_error(method))
    }
}

pub(super) fn spawn_child(spec: &PluginSpec) -> std::io::Result<Child> {
    let mut command = spec.executable.command()?;
    command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // Second line of defence: if the supervisor is dropped without
        // reaping (runtime torn down), the process is killed.
        .kill_on_drop(true);
    // Third: a host killed with SIGKILL reaps nothing and closes stdin
    // only for plugins that read it; the kernel kills the plugin when the
    // host's thread that started it dies. Tokio's worker threads live as
    // long as the runtime, and plugins are started from them.
    #[cfg(target_os = "linux")]
    {
        let host = std::process::id();
        // SAFETY: the closure runs in the child between fork and exec, where
        // only async-signal-safe calls are allowed: it makes two system
        // calls (prctl through rustix, getppid) and allocates nothing.
        unsafe {
            command.pre_exec(move || {
                rustix::process::set_parent_process_death_signal(Some(
                    rustix::process::Signal::KILL,
                ))?;
                // The host may have died before the signal was armed.
                if rustix::process::getppid().map(|p| p.as_raw_nonzero().get() as u32) != Some(host)
                {
                    return Err(std::io::Error::other("the host exited"));
                }
                Ok(())
            });
        }
    }
    // The plugin inherits the host's environment, as under the Go host,
    // except the host's own secrets and every capability's config.
    for (name, _) in std::env::vars_os() {
        if name.to_str().is_some_and(is_host_secret) {
            command.env_remove(&name);
        }
    }
    // Its per-call timeout, so that an SDK plugin gives up on a call (and
    // cancels its upstream work) just before the host would kill it.
    command.env(
        CALL_TIMEOUT_ENV,
        spec.call_timeout.as_millis().max(1).to_string(),
    );
    retry_busy_file(FIXED.plugin_spawn_retries, FIXED.plugin_spawn_retry, || {
        command.spawn()
    })
}

/// `ETXTBSY`: the file to execute is open for writing.
const TEXT_FILE_BUSY: i32 = rustix::io::Errno::TXTBSY.raw_os_error();

/// Runs `attempt` until it succeeds, fails with an error other than
/// `ETXTBSY`, or has failed with `ETXTBSY` `retries + 1` times (the first
/// try and `retries` retries, `pause` apart); returns its last result.
///
/// `ETXTBSY`: some process still has the plugin file open for writing (it
/// was just copied in); that clears quickly.
fn retry_busy_file<T>(
    retries: usize,
    pause: Duration,
    mut attempt: impl FnMut() -> std::io::Result<T>,
) -> std::io::Result<T> {
    let mut retried = 0;
    loop {
        match attempt() {
            Err(e) if e.raw_os_error() == Some(TEXT_FILE_BUSY) && retried < retries => {
                retried += 1;
                std::thread::sleep(pause);
            }
            other => return other,
        }
    }
}

async fn write_requests(
    shared: Arc<Shared>,
    mut queue: mpsc::Receiver<Outgoing>,
    mut stdin: ChildStdin,
) {
    let mut phase = shared.phase.subscribe();
    let mut batch = Vec::with_capacity(FIXED.plugin_write_batch);
    'serve: loop {
        let first = tokio::select! {
            biased;
            _ = phase.wait_for(|p| *p != Phase::Running) => break 'serve,
            next = queue.recv() => match next {
                Some(outgoing) => outgoing,
                // Every handle is gone: the provider was dropped.
                None => break 'serve,
            },
        };
        batch.clear();
        let mut next = Some(first);
        while let Some(outgoing) = next.take() {
            enqueue(&shared, outgoing, &mut batch);
            if batch.len() < FIXED.plugin_write_batch {
                next = queue.try_recv().ok();
            }
        }
        if batch.is_empty() {
            continue;
        }
        let write = async {
            stdin.write_all(&batch).await?;
            stdin.flush().await
        };
        tokio::select! {
            result = write => if result.is_err() {
                // A broken pipe means the process is exiting or closed its
                // stdin; the supervisor reports it with its exit status.
                shared.leave_running(Phase::Draining);
                break 'serve;
            },
            _ = phase.wait_for(|p| *p == Phase::Dead) => break 'serve,
        }
    }
    // Closing stdin is how a plugin learns to finish and exit.
    drop(stdin);
    // Still running here only when every handle is gone (the provider was
    // dropped): that is a stop, not a failure.
    shared.stop();
    queue.close();
    while let Ok(outgoing) = queue.try_recv() {
        if let Waiter::Call(reply) = outgoing.waiter {
            let _ = reply.send(Err(CallError::NotSent(outgoing.line)));
        }
    }
}

/// Records the waiter and appends its line, unless the process is dead.
fn enqueue(shared: &Shared, outgoing: Outgoing, batch: &mut Vec<u8>) {
    let mut state = shared.lock();
    if state.death.is_some() {
        drop(state);
        if let Waiter::Call(reply) = outgoing.waiter {
            let _ = reply.send(Err(CallError::NotSent(outgoing.line)));
        }
        return;
    }
    // Recorded before the line is written, so the answer always finds it.
    state.pending.push_back(outgoing.waiter);
    drop(state);
    batch.extend_from_slice(&outgoing.line);
}

async fn read_responses(shared: Arc<Shared>, stdout: ChildStdout) {
    let mut reader = BufReader::with_capacity(64 << 10, stdout);
    let mut phase = shared.phase.subscribe();
    let mut line = Vec::new();
    loop {
        let read = tokio::select! {
            read = wire::read_line_bounded(&mut reader, &mut line, FIXED.plugin_max_response_line) => read,
            // Nothing read from a dead process can be trusted.
            _ = phase.wait_for(|p| *p == Phase::Dead) => return,
        };
        match read {
            Ok(LineRead::Line) => match wire::parse_response(&line) {
                Parsed::Blank => {}
                Parsed::Answer(answer) => {
                    if !deliver(&shared, answer) {
                        return;
                    }
                }
                Parsed::Bad(why) => {
                    if !skip_probe_answer(&shared, &why) {
                        bad_output(&shared, why);
                        return;
                    }
                }
            },
            Ok(LineRead::TooLong) => {
                bad_output(
                    &shared,
                    format!(
                        "plugin wrote a response line longer than {} MiB",
                        FIXED.plugin_max_response_line >> 20
                    ),
                );
                return;
            }
            // A last line without a newline still counts if it is whole;
            // a truncated one is what a crash mid-write leaves, and the
            // supervisor reports the exit.
            Ok(LineRead::Partial) => {
                if let Parsed::Answer(answer) = wire::parse_response(&line) {
                    deliver(&shared, answer);
                }
                shared.leave_running(Phase::Draining);
                return;
            }
            Ok(LineRead::Eof) | Err(_) => {
                shared.leave_running(Phase::Draining);
                return;
            }
        }
    }
}

/// Hands an answer to the oldest pending call. Returns false when there was
/// nobody to answer, which makes the stream untrustworthy.
fn deliver(shared: &Shared, answer: Result<Box<RawValue>, ProviderError>) -> bool {
    let waiter = shared.lock().pending.pop_front();
    match waiter {
        Some(Waiter::Call(reply)) => {
            shared.answered.store(true, Ordering::Relaxed);
            let _ = reply.send(answer.map_err(CallError::Failed));
            true
        }
        Some(Waiter::Probe) => {
            log_probe(shared, answer);
            true
        }
        None => {
            bad_output(shared, "plugin wrote an answer nobody asked for".into());
            false
        }
    }
}

/// A plugin that answers the methods it does not know with a plain-text
/// line worked with the Go host, which never sent it one. When the line
/// that is not a response answers our own probe, drop the probe and keep
/// the process. Returns whether it did.
fn skip_probe_answer(shared: &Shared, why: &str) -> bool {
    let mut state = shared.lock();
    if !matches!(state.pending.front(), Some(Waiter::Probe)) {
        return false;
    }
    state.pending.pop_front();
    drop(state);
    let (capability, plugin, pid) = shared.log_fields();
    tracing::debug!(%capability, %plugin, pid, reason = %why,
        "plugin answered plugin.info with something that is not a response; ignoring it");
    true
}

fn bad_output(shared: &Shared, why: String) {
    let head = ProviderError::new(
        "plugin_bad_output",
        format!("{why}; the plugin process was restarted"),
    );
    if shared.fail(Death::BadOutput(why.clone()), Some(head)) {
        let (capability, plugin, pid) = shared.log_fields();
        tracing::warn!(%capability, %plugin, pid, reason = %why,
            "plugin wrote bad output; killing the process");
    }
}

fn log_probe(shared: &Shared, answer: Result<Box<RawValue>, ProviderError>) {
    let (capability, plugin, pid) = shared.log_fields();
    match answer.map(|raw| serde_json::from_str::<Manifest>(raw.get())) {
        Ok(Ok(manifest)) => tracing::info!(%capability, %plugin, pid,
            name = %manifest.name, version = %manifest.version,
            interface = %manifest.interface_version, "plugin identified itself"),
        Ok(Err(_)) => tracing::debug!(%capability, %plugin, pid,
            "plugin answered plugin.info with something other than a manifest; ignoring it"),
        Err(e) => tracing::debug!(%capability, %plugin, pid, answer = %e,
            "plugin does not know plugin.info; serving it as a plain stdio plugin"),
    }
}

async fn forward_stderr(shared: Arc<Shared>, stderr: ChildStderr) {
    let mut reader = BufReader::new(stderr);
    let mut line = Vec::new();
    let (capability, plugin, pid) = shared.log_fields();
    // The process keeps nothing of ours alive through this task.
    drop(shared);
    loop {
        let read =
            wire::read_line_bounded(&mut reader, &mut line, FIXED.plugin_max_stderr_line).await;
        let truncated = match read {
            Ok(LineRead::Line | LineRead::Partial) => false,
            Ok(LineRead::TooLong) => true,
            Ok(LineRead::Eof) | Err(_) => return,
        };
        if truncated && wire::skip_line(&mut reader).await.is_err() {
            return;
        }
        let text = String::from_utf8_lossy(&line);
        let text = text.trim_end();
        if text.is_empty() {
            continue;
        }
        let suffix = if truncated { " …(truncated)" } else { "" };
        log_stderr_line(capability, &plugin, pid, text, suffix);
    }
}

/// Logs one stderr line, at the level the plugin SDK's `LEVEL message`
/// prefix gives (INFO for anything else).
pub(super) fn log_stderr_line(
    capability: Capability,
    plugin: &str,
    pid: u32,
    text: &str,
    suffix: &str,
) {
    let (level, message) = match text.split_once(' ') {
        Some((word, rest)) => match word {
            "ERROR" => (tracing::Level::ERROR, rest),
            "WARN" => (tracing::Level::WARN, rest),
            "INFO" => (tracing::Level::INFO, rest),
            "DEBUG" => (tracing::Level::DEBUG, rest),
            "TRACE" => (tracing::Level::TRACE, rest),
            _ => (tracing::Level::INFO, text),
        },
        None => (tracing::Level::INFO, text),
    };
    // `tracing` macros need a constant level.
    macro_rules! emit {
        ($level:ident) => {
            tracing::$level!(target: "plugin", %capability, plugin = %plugin, pid, "{message}{suffix}")
        };
    }
    match level {
        tracing::Level::ERROR => emit!(error),
        tracing::Level::WARN => emit!(warn),
        tracing::Level::DEBUG => emit!(debug),
        tracing::Level::TRACE => emit!(trace),
        _ => emit!(info),
    }
}

async fn supervise(
    shared: Arc<Shared>,
    mut child: Child,
    mut reader: JoinHandle<()>,
    mut phase: watch::Receiver<Phase>,
) {
    let mut phase_open = true;
    let mut reader_done = false;
    let mut kill_at: Option<Instant> = None;
    let mut killed = false;
    let status = loop {
        let grace = async {
            match kill_at {
                Some(at) => tokio::time::sleep_until(at).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            status = child.wait() => break status,
            _ = &mut reader, if !reader_done => {
                // Stdout is closed: the plugin cannot answer anything more.
                reader_done = true;
                let at = Instant::now() + FIXED.plugin_stdout_closed_grace;
                kill_at = Some(kill_at.map_or(at, |k| k.min(at)));
            }
            changed = phase.changed(), if phase_open => {
                if changed.is_err() {
                    phase_open = false;
                    continue;
                }
                let now = *phase.borrow_and_update();
                match now {
                    Phase::Dead => {
                        let _ = child.start_kill();
                        killed = true;
                    }
                    Phase::Stopping => {
                        let at = Instant::now() + FIXED.plugin_stop_grace;
                        kill_at = Some(kill_at.map_or(at, |k| k.min(at)));
                    }
                    // It can take no more requests; it should be exiting.
                    Phase::Draining => {
                        let at = Instant::now() + FIXED.plugin_stdout_closed_grace;
                        kill_at = Some(kill_at.map_or(at, |k| k.min(at)));
                    }
                    Phase::Running => {}
                }
            }
            _ = grace => {
                kill_at = None;
                let stopping = *phase.borrow() == Phase::Stopping;
                if stopping {
                    let (capability, plugin, pid) = shared.log_fields();
                    tracing::warn!(%capability, %plugin, pid,
                        "plugin did not exit after its stdin closed; killing it");
                    shared.fail(Death::Stopped, None);
                }
                let _ = child.start_kill();
                killed = true;
            }
        }
    };
    // Answers the plugin wrote before it exited are still in the pipe.
    if !reader_done
        && tokio::time::timeout(FIXED.plugin_reader_drain, &mut reader)
            .await
            .is_err()
    {
        reader.abort();
    }
    let status_text = describe_status(&status);
    let stopping = *phase.borrow() == Phase::Stopping;
    let death = if stopping {
        Death::Stopped
    } else {
        Death::Exited(status_text.clone())
    };
    let unexpected = shared.fail(death, None) && !stopping;
    let (capability, plugin, pid) = shared.log_fields();
    if unexpected {
        tracing::warn!(%capability, %plugin, pid, status = %status_text,
            "plugin process exited unexpectedly");
    } else {
        tracing::debug!(%capability, %plugin, pid, status = %status_text, killed,
            "plugin process ended");
    }
    shared.exited.send_replace(true);
}

fn describe_status(status: &std::io::Result<ExitStatus>) -> String {
    match status {
        Ok(status) => status.to_string(),
        Err(e) => format!("wait failed: {e}"),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::{is_host_secret, retry_busy_file, TEXT_FILE_BUSY};

    /// Runs `retry_busy_file` with `retries` over an attempt that fails
    /// with `failures` errors made by `error` and then succeeds; returns its
    /// result and the number of attempts. Panics at the 100th attempt (a
    /// retry without bound).
    fn retried(
        retries: usize,
        failures: usize,
        error: fn() -> std::io::Error,
    ) -> (std::io::Result<&'static str>, usize) {
        let mut attempts = 0;
        let result = retry_busy_file(retries, Duration::ZERO, || {
            attempts += 1;
            assert!(attempts < 100, "retried without bound");
            if attempts <= failures {
                Err(error())
            } else {
                Ok("started")
            }
        });
        (result, attempts)
    }

    fn busy() -> std::io::Error {
        std::io::Error::from_raw_os_error(TEXT_FILE_BUSY)
    }

    #[test]
    fn a_busy_file_is_tried_once_more_per_retry_and_no_more() {
        for retries in [0, 1, 5] {
            // Up to `retries` busy failures: the next attempt succeeds.
            for failures in 0..=retries {
                let (result, attempts) = retried(retries, failures, busy);
                assert_eq!(
                    result.unwrap(),
                    "started",
                    "{retries} retries, {failures} busy"
                );
                assert_eq!(attempts, failures + 1, "{retries} retries, {failures} busy");
            }
            // One busy failure more: that is the error, after the first
            // attempt and `retries` retries.
            for failures in [retries + 1, retries + 2, retries + 50] {
                let (result, attempts) = retried(retries, failures, busy);
                let err = result.unwrap_err();
                assert_eq!(err.raw_os_error(), Some(TEXT_FILE_BUSY), "{err}");
                assert_eq!(attempts, retries + 1, "{retries} retries, {failures} busy");
            }
        }
    }

    #[test]
    fn any_other_error_is_returned_at_once() {
        fn not_found() -> std::io::Error {
            std::io::Error::from_raw_os_error(2)
        }
        fn no_os_error() -> std::io::Error {
            std::io::Error::other("the host exited")
        }
        for error in [not_found as fn() -> std::io::Error, no_os_error] {
            let (result, attempts) = retried(5, 1, error);
            let err = result.unwrap_err();
            assert_eq!(err.to_string(), error().to_string());
            assert_eq!(attempts, 1, "{err}");
        }
    }

    #[test]
    fn plugins_inherit_everything_but_the_host_s_credentials_and_configs() {
        for kept in HOST_SECRETS_AND_CONFIGS {
            assert!(is_host_secret(kept), "{kept}");
        }
        for passed in [
            "PATH",
            "HOME",
            "OPSORCH_INCIDENT_PLUGIN",
            "OPSORCH_ADDR",
            "VENDOR_CONFIG",
        ] {
            assert!(!is_host_secret(passed), "{passed}");
        }
    }

    const HOST_SECRETS_AND_CONFIGS: [&str; 6] = [
        "OPSORCH_BEARER_TOKEN",
        "OPSORCH_SECRET_KEY",
        "OPSORCH_SECRET_KEY_FILE",
        "OPSORCH_TLS_KEY_FILE",
        "OPSORCH_INCIDENT_CONFIG",
        "OPSORCH_SECRET_CONFIG",
    ];
}
