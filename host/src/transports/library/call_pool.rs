//! Threads that run one library provider's calls.
//!
//! Calls into an adapter library are synchronous and may block for as long
//! as the adapter likes, so they never run on the async workers. tokio's
//! blocking pool would do, but it wakes a parked thread for nearly every
//! call, and for a fast adapter those wake-ups cost more than the call.
//!
//! Each library provider gets its own [`CallPool`]: a queue and the threads
//! that drain it. A thread that finishes a call takes the next queued one
//! without parking, and queueing a call for a busy thread wakes nobody, so
//! under load calls flow with few wake-ups.
//!
//! The pool starts one thread. One process-wide watchdog thread looks at
//! every saturated pool (calls queued, no thread free) each `FIXED.pool_stall_after`.
//! If every thread of the pool has been inside one call for longer than
//! that, and is asleep in it (blocked on I/O, a lock, a sleep), the pool
//! gets another thread. A thread that is running or waiting for a CPU is
//! busy, not blocked: on a loaded machine the scheduler can hold a runnable
//! thread back for milliseconds, and growing then would only add contention.
//! Such a thread counts as stuck once one call has run for `FIXED.pool_busy_stall`.
//! Where the thread state cannot be read (not Linux), age alone decides.
//!
//! Calls that keep their threads busy without blocking (an adapter doing
//! real computation) grow the pool another way: when a call has waited
//! `FIXED.pool_queue_stall` in the queue, the pool gets another thread, up to one
//! per CPU. Beyond that, more threads would only share the same CPUs.
//!
//! So a blocked call delays no other capability (each has its own pool), and
//! the calls queued behind it in its own capability by a few milliseconds.
//! Threads idle for `FIXED.pool_idle_exit` exit, down to one.
//!
//! These numbers are a pool's [`PoolLimits`]; every pool the host makes
//! uses the `FIXED` values named here and the CPU count (the unit tests
//! make pools with small ones, and their own watchdogs).
//!
//! # Why not a crate
//! It replaces tokio's `spawn_blocking` pool (and the first, timer-based
//! version of this one): those woke a parked thread for nearly every call,
//! and the wake-ups cost more than a fast adapter's call. Measured with
//! `scripts/bench`: host CPU per library call fell from 40-52 µs to 30-35
//! µs and context switches per call from ~1.2 to ~0.3 (`docs/BENCHMARKS.md`,
//! "Call pool").
//!
//! # The one process-wide piece: the watchdog
//! The watchdog thread is shared by every pool in the process, hosts
//! included, on purpose: it only looks at threads (a process resource) and
//! holds nothing but weak references to the pools it watches, no settings
//! and no state of any one host, so nothing can pass from one host to
//! another through it; a pool that is dropped drops out of its list. One
//! thread waking every `FIXED.pool_stall_after` while any pool is saturated is the
//! cost; one per host would multiply those wake-ups for no gain. It starts
//! with the first pool and sleeps while no pool is saturated.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock, Weak};
use std::time::{Duration, Instant};

use crate::settings::FIXED;
use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};

/// Why a call could not run on its pool.
#[derive(Debug, thiserror::Error)]
pub enum PoolError {
    /// No thread could be started for the call (the process is out of
    /// threads or memory).
    #[error("cannot start an adapter thread: {0}")]
    ThreadStart(#[source] std::io::Error),
    /// The pool no longer takes calls.
    #[error("the adapter's call pool is closed")]
    Closed,
    /// The call ended without an answer: it panicked on its thread.
    #[error("adapter call was dropped")]
    Dropped,
}

/// The numbers one pool works with. Every pool the host makes uses
/// [`PoolLimits::default`]: the `FIXED.pool_*` values and one thread per
/// CPU for the queue-wait rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct PoolLimits {
    /// The most threads the pool has at once (`FIXED.pool_max_threads`).
    max_threads: usize,
    /// The queue-wait rule adds threads only while the pool has fewer than
    /// this (the CPUs the process may use).
    cpus: usize,
    /// A thread that waits this long for a call exits, unless it is the
    /// pool's last (`FIXED.pool_idle_exit`).
    idle_exit: Duration,
    /// A thread asleep in one call this long is stuck
    /// (`FIXED.pool_stall_after`).
    stall_after: Duration,
    /// A thread in one call this long is stuck, running or not
    /// (`FIXED.pool_busy_stall`).
    busy_stall: Duration,
    /// A call that waited this long in the queue grows the pool, below
    /// `cpus` threads (`FIXED.pool_queue_stall`).
    queue_stall: Duration,
}

impl Default for PoolLimits {
    fn default() -> Self {
        PoolLimits {
            max_threads: FIXED.pool_max_threads,
            cpus: cpus(),
            idle_exit: FIXED.pool_idle_exit,
            stall_after: FIXED.pool_stall_after,
            busy_stall: FIXED.pool_busy_stall,
            queue_stall: FIXED.pool_queue_stall,
        }
    }
}

/// A queued call, and when it was queued.
struct Job {
    queued: Instant,
    run: Box<dyn FnOnce() + Send>,
}

/// The queue and threads of one provider. Dropping it lets its threads
/// finish what is queued and exit.
pub struct CallPool {
    jobs: Sender<Job>,
    shared: Arc<Shared>,
    watchdog: &'static Watchdog,
}

struct Shared {
    name: String,
    limits: PoolLimits,
    jobs: Receiver<Job>,
    /// Threads alive or about to start.
    threads: AtomicUsize,
    /// Threads waiting for a call.
    idle: AtomicUsize,
    /// The longest a call taken since the watchdog's last look had waited
    /// in the queue, in nanoseconds.
    longest_wait: AtomicU64,
    /// What each live thread is doing, for the watchdog.
    workers: Mutex<Vec<Arc<Worker>>>,
    epoch: Instant,
}

/// One pool thread, as the watchdog sees it.
struct Worker {
    /// Kernel thread id, where the platform exposes one.
    tid: Option<u32>,
    /// When the current call started, as a [`Shared::stamp`]; 0 while the
    /// thread is not in a call.
    call_started: AtomicU64,
}

impl CallPool {
    /// A pool whose threads are named after `name` (the adapter).
    pub fn new(name: &str) -> Self {
        Self::with(name, PoolLimits::default(), watchdog())
    }

    /// A pool with these limits, grown by this watchdog.
    fn with(name: &str, limits: PoolLimits, watchdog: &'static Watchdog) -> Self {
        let (jobs, receiver) = crossbeam_channel::unbounded();
        let shared = Arc::new(Shared {
            name: name.to_string(),
            limits,
            jobs: receiver,
            threads: AtomicUsize::new(0),
            idle: AtomicUsize::new(0),
            longest_wait: AtomicU64::new(0),
            workers: Mutex::new(Vec::new()),
            epoch: Instant::now(),
        });
        watchdog.watch(&shared);
        CallPool {
            jobs,
            shared,
            watchdog,
        }
    }

    /// Runs `call` on one of the pool's threads and returns its result.
    pub async fn run<T, F>(&self, call: F) -> Result<T, PoolError>
    where
        T: Send + 'static,
        F: FnOnce() -> T + Send + 'static,
    {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.submit(Job {
            queued: Instant::now(),
            run: Box::new(move || {
                let _ = tx.send(call());
            }),
        })?;
        rx.await.map_err(|_| PoolError::Dropped)
    }

    fn submit(&self, job: Job) -> Result<(), PoolError> {
        if self.shared.threads.load(Ordering::Acquire) == 0 {
            self.shared.start_first()?;
        }
        self.jobs.send(job).map_err(|_| PoolError::Closed)?;
        if self.shared.idle.load(Ordering::SeqCst) == 0 {
            // Every thread is busy: make sure the watchdog is looking.
            self.watchdog.alert();
        }
        Ok(())
    }

    /// Threads currently alive.
    #[cfg(test)]
    fn threads(&self) -> usize {
        self.shared.threads.load(Ordering::SeqCst)
    }
}

impl Shared {
    /// Now, in nanoseconds since the pool's epoch plus one, so that a
    /// call's start stamp is never 0.
    fn stamp(&self) -> u64 {
        self.epoch.elapsed().as_nanos() as u64 + 1
    }

    /// Starts the pool's first thread, once.
    fn start_first(self: &Arc<Self>) -> Result<(), PoolError> {
        if self
            .threads
            .compare_exchange(0, 1, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
        {
            self.spawn_counted()?;
        }
        Ok(())
    }

    /// Adds a thread unless the pool is at its `max_threads`.
    fn grow(self: &Arc<Self>) -> Result<(), PoolError> {
        let max = self.limits.max_threads;
        let grew = self
            .threads
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < max).then_some(n + 1)
            })
            .is_ok();
        if grew {
            self.spawn_counted()?;
        }
        Ok(())
    }

    /// Spawns a thread already counted in `threads`.
    fn spawn_counted(self: &Arc<Self>) -> Result<(), PoolError> {
        let shared = self.clone();
        let spawned = std::thread::Builder::new()
            .name(format!("adapter-{}", self.name))
            .spawn(move || shared.work_loop());
        if let Err(e) = spawned {
            self.threads.fetch_sub(1, Ordering::AcqRel);
            return Err(PoolError::ThreadStart(e));
        }
        Ok(())
    }

    fn lock_workers(&self) -> MutexGuard<'_, Vec<Arc<Worker>>> {
        // Only plain vector updates happen under the lock.
        self.workers.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn work_loop(&self) {
        let me = Arc::new(Worker {
            tid: current_tid(),
            call_started: AtomicU64::new(0),
        });
        self.lock_workers().push(me.clone());
        loop {
            self.idle.fetch_add(1, Ordering::SeqCst);
            let next = self.jobs.recv_timeout(self.limits.idle_exit);
            self.idle.fetch_sub(1, Ordering::SeqCst);
            match next {
                Ok(job) => {
                    let waited = job.queued.elapsed().as_nanos() as u64;
                    self.longest_wait.fetch_max(waited, Ordering::AcqRel);
                    me.call_started.store(self.stamp(), Ordering::Release);
                    (job.run)();
                    me.call_started.store(0, Ordering::Release);
                }
                Err(RecvTimeoutError::Timeout) => {
                    let left =
                        self.threads
                            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                                (n > 1).then_some(n - 1)
                            });
                    if left.is_ok() {
                        break;
                    }
                }
                Err(RecvTimeoutError::Disconnected) => {
                    self.threads.fetch_sub(1, Ordering::AcqRel);
                    break;
                }
            }
        }
        self.lock_workers().retain(|w| !Arc::ptr_eq(w, &me));
    }

    /// Calls are waiting and no thread is free to take them.
    fn saturated(&self) -> bool {
        !self.jobs.is_empty() && self.idle.load(Ordering::SeqCst) == 0
    }

    /// Every thread is stuck in a call (see the module docs).
    fn stalled(&self) -> bool {
        let now = self.stamp();
        let workers = self.lock_workers();
        // A thread still starting will take the next call itself.
        let starting = workers.len() < self.threads.load(Ordering::Acquire);
        !starting
            && !workers.is_empty()
            && workers.iter().all(|worker| {
                let started = worker.call_started.load(Ordering::Acquire);
                if started == 0 {
                    return false;
                }
                let age = Duration::from_nanos(now.saturating_sub(started));
                age >= self.limits.busy_stall
                    || (age >= self.limits.stall_after && !worker.running())
            })
    }
}

impl Worker {
    /// Whether the thread is on a CPU or waiting for one. Unknown counts as
    /// asleep, so age alone decides.
    fn running(&self) -> bool {
        let Some(tid) = self.tid else {
            return false;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/self/task/{tid}/stat")) else {
            return false;
        };
        // "tid (comm) S ...": the state follows the last parenthesis.
        stat.rfind(')')
            .and_then(|end| stat[end + 1..].trim_start().chars().next())
            == Some('R')
    }
}

/// The calling thread's kernel id: Linux's /proc/thread-self links to
/// `<pid>/task/<tid>`.
fn current_tid() -> Option<u32> {
    let link = std::fs::read_link("/proc/thread-self").ok()?;
    link.file_name()?.to_str()?.parse().ok()
}

/// The thread that grows stalled pools.
struct Watchdog {
    pools: Mutex<Vec<Weak<Shared>>>,
    /// Set while the watchdog sleeps with no deadline.
    asleep: AtomicBool,
    wake: Condvar,
    /// How often it looks while a pool is saturated.
    tick: Duration,
}

/// The process-wide watchdog, started with the first pool.
fn watchdog() -> &'static Watchdog {
    static WATCHDOG: OnceLock<&'static Watchdog> = OnceLock::new();
    WATCHDOG.get_or_init(|| Watchdog::start(FIXED.pool_stall_after))
}

impl Watchdog {
    /// A watchdog with no thread yet: it grows nothing until it runs.
    fn new(tick: Duration) -> Self {
        Watchdog {
            pools: Mutex::new(Vec::new()),
            asleep: AtomicBool::new(false),
            wake: Condvar::new(),
            tick,
        }
    }

    /// A watchdog looking every `tick` while a pool is saturated, on its
    /// own thread for the rest of the process.
    fn start(tick: Duration) -> &'static Watchdog {
        let watchdog: &'static Watchdog = Box::leak(Box::new(Watchdog::new(tick)));
        let spawned = std::thread::Builder::new()
            .name("adapter-watchdog".into())
            .spawn(move || watchdog.run());
        if let Err(e) = spawned {
            // Pools still work; a blocked call just holds up its own queue.
            tracing::error!("cannot start the adapter watchdog thread: {e}");
        }
        watchdog
    }

    fn lock(&self) -> MutexGuard<'_, Vec<Weak<Shared>>> {
        // Only plain vector updates happen under the lock.
        self.pools.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn watch(&self, pool: &Arc<Shared>) {
        self.lock().push(Arc::downgrade(pool));
    }

    /// Called after a call is queued with no free thread.
    fn alert(&self) {
        if self.asleep.load(Ordering::SeqCst) {
            let _pools = self.lock();
            self.wake.notify_one();
        }
    }

    fn run(&self) {
        let mut pools = self.lock();
        loop {
            if self.look(&mut pools) {
                let (next, _) = self
                    .wake
                    .wait_timeout(pools, self.tick)
                    .unwrap_or_else(|e| e.into_inner());
                pools = next;
                continue;
            }
            // Nothing waits anywhere: sleep until a submit finds every
            // thread of its pool busy. Look once more after announcing it,
            // so a call queued meanwhile is not missed.
            self.asleep.store(true, Ordering::SeqCst);
            if !pools
                .iter()
                .any(|w| w.upgrade().is_some_and(|p| p.saturated()))
            {
                pools = self.wake.wait(pools).unwrap_or_else(|e| e.into_inner());
            }
            self.asleep.store(false, Ordering::SeqCst);
        }
    }

    /// Grows every saturated pool whose threads are all stuck, or whose
    /// calls wait too long with fewer threads than CPUs; forgets dropped
    /// pools. Returns whether any pool is saturated.
    fn look(&self, pools: &mut Vec<Weak<Shared>>) -> bool {
        let mut busy = false;
        pools.retain(|pool| {
            let Some(pool) = pool.upgrade() else {
                return false;
            };
            let waited = Duration::from_nanos(pool.longest_wait.swap(0, Ordering::AcqRel));
            if pool.saturated() {
                busy = true;
                let why = if pool.stalled() {
                    Some("every adapter thread is blocked in a call")
                } else if waited >= pool.limits.queue_stall
                    && pool.threads.load(Ordering::Acquire) < pool.limits.cpus
                {
                    Some("calls are waiting for busy adapter threads")
                } else {
                    None
                };
                if let Some(why) = why {
                    match pool.grow() {
                        Ok(()) => tracing::debug!(
                            adapter = %pool.name,
                            threads = pool.threads.load(Ordering::Relaxed),
                            "{why}; added a thread"
                        ),
                        Err(e) => tracing::error!(adapter = %pool.name, "{e}"),
                    }
                }
            }
            true
        });
        busy
    }
}

/// The CPUs this process may use.
fn cpus() -> usize {
    static CPUS: OnceLock<usize> = OnceLock::new();
    *CPUS.get_or_init(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::Ordering::SeqCst;
    use std::sync::mpsc;
    use std::time::Instant;

    const HOUR: Duration = Duration::from_secs(3600);

    /// Limits under which a pool changes only when a test says so: no call
    /// is ever stuck or waited long, no thread idles long enough to leave.
    fn limits() -> PoolLimits {
        PoolLimits {
            max_threads: 8,
            cpus: 8,
            idle_exit: HOUR,
            stall_after: HOUR,
            busy_stall: HOUR,
            queue_stall: HOUR,
        }
    }

    /// A watchdog without a thread: its pools grow only when a test looks.
    fn manual_watchdog() -> &'static Watchdog {
        Box::leak(Box::new(Watchdog::new(Duration::from_millis(1))))
    }

    impl Watchdog {
        /// One look, as the watchdog's thread takes it.
        fn look_now(&self) -> bool {
            let mut pools = self.lock();
            self.look(&mut pools)
        }
    }

    /// Polls `done` until it holds; 10 s bounds a hang.
    fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !done() {
            assert!(Instant::now() < deadline, "timed out waiting until {what}");
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    /// Runs `call` on the pool and waits for its result.
    fn call_now<T: Send + 'static>(
        pool: &CallPool,
        call: impl FnOnce() -> T + Send + 'static,
    ) -> T {
        let (tx, rx) = mpsc::channel();
        pool.submit(Job {
            queued: Instant::now(),
            run: Box::new(move || {
                let _ = tx.send(call());
            }),
        })
        .unwrap();
        rx.recv_timeout(Duration::from_secs(10))
            .expect("the call ran")
    }

    /// Calls that sleep until the gate opens, counted as they start and
    /// finish.
    #[derive(Default)]
    struct Gate {
        open: Mutex<bool>,
        opened: Condvar,
        started: AtomicUsize,
        finished: AtomicUsize,
    }

    impl Gate {
        fn new() -> Arc<Self> {
            Arc::default()
        }

        /// Queues a call that waits for the gate.
        fn call(self: &Arc<Self>, pool: &CallPool) {
            let gate = self.clone();
            pool.submit(Job {
                queued: Instant::now(),
                run: Box::new(move || {
                    gate.started.fetch_add(1, SeqCst);
                    let mut open = gate.open.lock().unwrap();
                    while !*open {
                        open = gate.opened.wait(open).unwrap();
                    }
                    drop(open);
                    gate.finished.fetch_add(1, SeqCst);
                }),
            })
            .unwrap();
        }

        fn started(&self) -> usize {
            self.started.load(SeqCst)
        }

        fn finished(&self) -> usize {
            self.finished.load(SeqCst)
        }

        fn open(&self) {
            *self.open.lock().unwrap() = true;
            self.opened.notify_all();
        }
    }

    /// A thread that spins until `stop`, and its kernel id.
    fn spinner(stop: &Arc<AtomicBool>) -> (std::thread::JoinHandle<()>, Option<u32>) {
        let (tx, rx) = mpsc::channel();
        let stop = stop.clone();
        let thread = std::thread::spawn(move || {
            tx.send(current_tid()).unwrap();
            while !stop.load(SeqCst) {
                std::hint::spin_loop();
            }
        });
        (thread, rx.recv().unwrap())
    }

    #[test]
    fn host_pools_use_the_fixed_limits_and_one_busy_thread_per_cpu() {
        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
        let fixed = PoolLimits {
            max_threads: FIXED.pool_max_threads,
            cpus,
            idle_exit: FIXED.pool_idle_exit,
            stall_after: FIXED.pool_stall_after,
            busy_stall: FIXED.pool_busy_stall,
            queue_stall: FIXED.pool_queue_stall,
        };
        assert_eq!(PoolLimits::default(), fixed);
        assert_eq!(CallPool::new("test").shared.limits, fixed);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn current_tid_is_the_calling_thread_s_kernel_id() {
        let (tid, name) = std::thread::Builder::new()
            .name("tid-probe".into())
            .spawn(|| {
                let tid = current_tid().expect("Linux has thread ids");
                let comm = std::fs::read_to_string(format!("/proc/self/task/{tid}/comm"));
                (tid, comm.expect("a thread of this process"))
            })
            .unwrap()
            .join()
            .unwrap();
        assert_eq!(name.trim_end(), "tid-probe");
        assert_ne!(current_tid(), Some(tid), "another thread, another id");
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_spinning_thread_reads_as_running_and_a_sleeping_one_as_asleep() {
        let stop = Arc::new(AtomicBool::new(false));
        let (spinning_thread, tid) = spinner(&stop);
        let spinning = Worker {
            tid,
            call_started: AtomicU64::new(0),
        };
        let (wake, sleep) = mpsc::channel::<()>();
        let (tx, rx) = mpsc::channel();
        let sleeping_thread = std::thread::spawn(move || {
            tx.send(current_tid()).unwrap();
            let _ = sleep.recv();
        });
        let sleeping = Worker {
            tid: rx.recv().unwrap(),
            call_started: AtomicU64::new(0),
        };
        // The sleeper runs for a moment after sending its id; the spinner
        // may wait for a CPU, which counts as running too.
        wait_until("the sleeping thread reads as asleep", || {
            !sleeping.running()
        });
        wait_until("the spinning thread reads as running", || {
            spinning.running()
        });
        let unknown = Worker {
            tid: None,
            call_started: AtomicU64::new(0),
        };
        assert!(!unknown.running(), "unknown counts as asleep");
        stop.store(true, SeqCst);
        drop(wake);
        spinning_thread.join().unwrap();
        sleeping_thread.join().unwrap();
    }

    /// A pool's state, made 20 s ago, with `threads` counted and no worker
    /// yet: stall_after 5 s, busy_stall 10 s.
    fn state(threads: usize) -> Shared {
        let (_, jobs) = crossbeam_channel::unbounded();
        Shared {
            name: "test".into(),
            limits: PoolLimits {
                stall_after: Duration::from_secs(5),
                busy_stall: Duration::from_secs(10),
                ..limits()
            },
            jobs,
            threads: AtomicUsize::new(threads),
            idle: AtomicUsize::new(0),
            longest_wait: AtomicU64::new(0),
            workers: Mutex::new(Vec::new()),
            epoch: Instant::now()
                .checked_sub(Duration::from_secs(20))
                .expect("the clock reads over 20 s"),
        }
    }

    impl Shared {
        /// Adds a worker in a call started `age` ago (`None`: between
        /// calls).
        fn with_worker(self, tid: Option<u32>, age: Option<Duration>) -> Self {
            let started = age.map_or(0, |age| self.stamp() - age.as_nanos() as u64);
            self.lock_workers().push(Arc::new(Worker {
                tid,
                call_started: AtomicU64::new(started),
            }));
            self
        }
    }

    #[test]
    fn a_pool_is_stalled_when_every_thread_has_slept_in_its_call_past_stall_after() {
        let (young, middle, old) = (
            Some(Duration::ZERO),
            Some(Duration::from_secs(7)),
            Some(Duration::from_secs(15)),
        );
        // Without a thread id, a thread counts as asleep.
        let pool = |threads, calls: &[Option<Duration>]| {
            calls
                .iter()
                .fold(state(threads), |state, &age| state.with_worker(None, age))
        };
        assert!(pool(2, &[middle, old]).stalled());
        assert!(
            !pool(2, &[middle, young]).stalled(),
            "one call is younger than stall_after"
        );
        assert!(
            !pool(2, &[middle, None]).stalled(),
            "one thread is between calls"
        );
        assert!(
            !pool(3, &[middle, old]).stalled(),
            "a thread still starting takes the next call"
        );
        assert!(!pool(0, &[]).stalled(), "no thread");
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_thread_running_in_its_call_is_stuck_only_past_busy_stall() {
        let stop = Arc::new(AtomicBool::new(false));
        let (thread, tid) = spinner(&stop);
        let state = |age| state(1).with_worker(tid, Some(age));
        wait_until("the spinning thread reads as running", || {
            state(Duration::ZERO).lock_workers()[0].running()
        });
        assert!(
            !state(Duration::from_secs(7)).stalled(),
            "past stall_after, running"
        );
        assert!(state(Duration::from_secs(15)).stalled(), "past busy_stall");
        stop.store(true, SeqCst);
        thread.join().unwrap();
    }

    #[test]
    fn a_pool_is_saturated_while_a_call_waits_and_no_thread_is_free() {
        let pool = CallPool::with("test", limits(), manual_watchdog());
        assert!(!pool.shared.saturated(), "no thread, nothing queued");
        let gate = Gate::new();
        gate.call(&pool);
        wait_until("the call started", || gate.started() == 1);
        assert!(
            !pool.shared.saturated(),
            "its one thread is in a call, nothing queued"
        );
        gate.call(&pool);
        assert!(pool.shared.saturated(), "a call queued behind it");
        gate.open();
        wait_until("the thread waits for the next call", || {
            gate.finished() == 2 && pool.shared.idle.load(SeqCst) == 1
        });
        assert!(
            !pool.shared.saturated(),
            "the thread is free, nothing queued"
        );
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_call_asleep_past_stall_after_gets_company_and_a_running_one_does_not() {
        let limits = PoolLimits {
            stall_after: Duration::from_millis(20),
            ..limits()
        };
        let watchdog = manual_watchdog();
        // A call that computes: its thread keeps running.
        let computing = CallPool::with("computing", limits, watchdog);
        let stop = Arc::new(AtomicBool::new(false));
        let spinning = Arc::new(AtomicBool::new(false));
        let quick = Arc::new(AtomicBool::new(false));
        for ran in [spinning.clone(), quick.clone()] {
            let stop = stop.clone();
            computing
                .submit(Job {
                    queued: Instant::now(),
                    run: Box::new(move || {
                        ran.store(true, SeqCst);
                        while !stop.load(SeqCst) {
                            std::hint::spin_loop();
                        }
                    }),
                })
                .unwrap();
        }
        wait_until("the computing call started", || spinning.load(SeqCst));
        std::thread::sleep(limits.stall_after * 2);
        assert!(watchdog.look_now(), "a call is queued: saturated");
        assert_eq!(
            computing.threads(),
            1,
            "running, not yet busy_stall: not stuck"
        );
        assert!(!quick.load(SeqCst));
        // A call that sleeps: its thread is asleep in it.
        let blocking = CallPool::with("blocking", limits, watchdog);
        let gate = Gate::new();
        gate.call(&blocking);
        gate.call(&blocking);
        wait_until("the first call started", || gate.started() == 1);
        wait_until("the second call got a thread", || {
            watchdog.look_now();
            blocking.threads() == 2
        });
        wait_until("the second call started", || gate.started() == 2);
        assert_eq!(
            computing.threads(),
            1,
            "the computing pool still has one thread"
        );
        stop.store(true, SeqCst);
        gate.open();
        wait_until("the calls finished", || {
            gate.finished() == 2 && quick.load(SeqCst)
        });
    }

    #[test]
    fn a_call_that_waited_past_queue_stall_adds_a_thread_up_to_cpus() {
        let limits = PoolLimits {
            cpus: 2,
            queue_stall: Duration::from_secs(1),
            ..limits()
        };
        let watchdog = manual_watchdog();
        let pool = CallPool::with("test", limits, watchdog);
        // What the watchdog's look takes: the longest a call taken since
        // the last look waited in the queue.
        let waited = |wait: Duration| {
            pool.shared
                .longest_wait
                .store(wait.as_nanos() as u64, SeqCst)
        };
        let gate = Gate::new();
        gate.call(&pool);
        wait_until("the first call started", || gate.started() == 1);
        gate.call(&pool);
        waited(Duration::ZERO);
        assert!(watchdog.look_now(), "a call is queued: saturated");
        assert_eq!(pool.threads(), 1, "no call waited long");
        waited(limits.queue_stall);
        watchdog.look_now();
        assert_eq!(pool.threads(), 2, "a call waited queue_stall");
        wait_until("the second call started", || gate.started() == 2);
        gate.call(&pool);
        waited(HOUR);
        assert!(watchdog.look_now(), "a call is queued: saturated");
        assert_eq!(pool.threads(), 2, "no more than cpus threads for waits");
        gate.open();
        wait_until("the calls finished", || gate.finished() == 3);
    }

    #[test]
    fn a_pool_never_grows_past_max_threads() {
        let limits = PoolLimits {
            max_threads: 3,
            stall_after: Duration::from_millis(10),
            busy_stall: Duration::from_millis(10),
            ..limits()
        };
        let watchdog = manual_watchdog();
        let pool = CallPool::with("test", limits, watchdog);
        let gate = Gate::new();
        for _ in 0..4 {
            gate.call(&pool);
        }
        wait_until("three calls started", || {
            watchdog.look_now();
            gate.started() == 3
        });
        // Three threads stuck in calls, a fourth call waiting: only the
        // cap keeps the watchdog from adding a thread.
        std::thread::sleep(limits.busy_stall * 2);
        assert!(pool.shared.saturated() && pool.shared.stalled());
        watchdog.look_now();
        assert_eq!(pool.threads(), 3);
        assert_eq!(gate.started(), 3);
        gate.open();
        wait_until("all four calls finished", || gate.finished() == 4);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn idle_threads_leave_after_idle_exit_down_to_the_last() {
        let limits = PoolLimits {
            idle_exit: Duration::from_millis(50),
            ..limits()
        };
        let pool = CallPool::with("test", limits, manual_watchdog());
        let gate = Gate::new();
        for _ in 0..3 {
            gate.call(&pool);
        }
        wait_until("the first call started", || gate.started() == 1);
        pool.shared.grow().unwrap();
        pool.shared.grow().unwrap();
        wait_until("three threads are in calls", || gate.started() == 3);
        assert_eq!(pool.threads(), 3);
        gate.open();
        wait_until("two threads left", || {
            pool.threads() == 1 && pool.shared.lock_workers().len() == 1
        });
        // The last stays, however long it waits.
        std::thread::sleep(limits.idle_exit * 4);
        assert_eq!(pool.threads(), 1);
        let tid = call_now(&pool, current_tid);
        assert!(tid.is_some());
        let listed: Vec<_> = pool.shared.lock_workers().iter().map(|w| w.tid).collect();
        assert_eq!(listed, [tid], "the watchdog sees the thread that stayed");
    }

    #[test]
    fn a_running_watchdog_sleeps_until_a_pool_saturates_and_grows_it_when_stalled() {
        let watchdog = Watchdog::start(Duration::from_millis(1));
        wait_until("the watchdog sleeps", || watchdog.asleep.load(SeqCst));
        let limits = PoolLimits {
            stall_after: Duration::from_millis(10),
            busy_stall: Duration::from_millis(10),
            ..limits()
        };
        // Joining takes the watchdog's lock, which it does not hold asleep.
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || tx.send(CallPool::with("test", limits, watchdog)));
        let pool = rx
            .recv_timeout(Duration::from_secs(10))
            .expect("a pool joins a sleeping watchdog");
        let gate = Gate::new();
        gate.call(&pool);
        wait_until("the first call started", || gate.started() == 1);
        // No test looks: the watchdog, woken by the queued call, does.
        gate.call(&pool);
        wait_until("the watchdog added a thread for the second call", || {
            gate.started() == 2
        });
        assert_eq!(pool.threads(), 2);
        gate.open();
        wait_until("the calls finished", || gate.finished() == 2);
        wait_until("the watchdog sleeps again", || watchdog.asleep.load(SeqCst));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn fast_calls_share_one_thread() {
        let pool = Arc::new(CallPool::new("test"));
        let mut calls = Vec::new();
        for i in 0..200u32 {
            let pool = pool.clone();
            calls.push(tokio::spawn(async move { pool.run(move || i * 2).await }));
        }
        for (i, call) in calls.into_iter().enumerate() {
            assert_eq!(call.await.unwrap().unwrap(), i as u32 * 2);
        }
        // A burst may wait in the queue (a loaded machine can hold the
        // thread back), which grows the pool, but never past the CPUs.
        assert!(pool.threads() <= cpus(), "{} threads", pool.threads());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_blocked_call_does_not_hold_up_the_next() {
        let pool = Arc::new(CallPool::new("test"));
        let release = Arc::new((Mutex::new(false), Condvar::new()));
        let blocked = {
            let pool = pool.clone();
            let release = release.clone();
            tokio::spawn(async move {
                pool.run(move || {
                    let (lock, cvar) = &*release;
                    let mut done = lock.lock().unwrap();
                    while !*done {
                        done = cvar.wait(done).unwrap();
                    }
                    "blocked"
                })
                .await
            })
        };
        tokio::time::sleep(Duration::from_millis(20)).await;
        // While the first call is still blocked, later calls complete.
        for _ in 0..5 {
            assert_eq!(pool.run(|| "quick").await.unwrap(), "quick");
        }
        assert!(!blocked.is_finished());
        assert!(pool.threads() >= 2);
        *release.0.lock().unwrap() = true;
        release.1.notify_all();
        assert_eq!(blocked.await.unwrap().unwrap(), "blocked");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_saturated_pool_of_fast_calls_does_not_grow() {
        let pool = Arc::new(CallPool::new("test"));
        for _ in 0..20 {
            let mut calls = Vec::new();
            for i in 0..500u64 {
                let pool = pool.clone();
                calls.push(tokio::spawn(async move {
                    pool.run(move || (0..200u64).fold(i, |a, b| a.wrapping_mul(31) ^ b))
                        .await
                }));
            }
            for call in calls {
                call.await.unwrap().unwrap();
            }
        }
        // Fast calls never block, so only the queue-wait rule could grow the
        // pool (when the scheduler holds its thread back), and never past
        // one thread per CPU.
        assert!(
            pool.threads() <= cpus().max(1),
            "{} threads",
            pool.threads()
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn calls_that_compute_for_a_while_get_a_thread_per_cpu() {
        if std::thread::available_parallelism().map_or(1, |n| n.get()) < 2 {
            return; // one thread per CPU is what a one-CPU machine has
        }
        let pool = Arc::new(CallPool::new("test"));
        let mut calls = Vec::new();
        for _ in 0..8 {
            let pool = pool.clone();
            calls.push(tokio::spawn(async move {
                pool.run(|| {
                    let until = Instant::now() + Duration::from_millis(30);
                    while Instant::now() < until {
                        std::hint::spin_loop();
                    }
                })
                .await
            }));
        }
        for call in calls {
            call.await.unwrap().unwrap();
        }
        assert!(pool.threads() >= 2, "{} threads", pool.threads());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_call_that_keeps_its_thread_running_gets_company() {
        let pool = Arc::new(CallPool::new("test"));
        let stop = Arc::new(AtomicBool::new(false));
        let spinning = {
            let pool = pool.clone();
            let stop = stop.clone();
            tokio::spawn(async move {
                pool.run(move || {
                    let deadline = Instant::now() + Duration::from_secs(10);
                    while !stop.load(Ordering::Relaxed) && Instant::now() < deadline {
                        std::hint::spin_loop();
                    }
                })
                .await
            })
        };
        tokio::time::sleep(Duration::from_millis(20)).await;
        // The quick call waits about FIXED.pool_busy_stall, not for the spinning one.
        let quick = tokio::time::timeout(Duration::from_secs(5), pool.run(|| "quick")).await;
        assert_eq!(quick.unwrap().unwrap(), "quick");
        assert!(!spinning.is_finished());
        stop.store(true, Ordering::Relaxed);
        spinning.await.unwrap().unwrap();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn dropping_the_pool_ends_its_threads() {
        let ran = Arc::new(AtomicUsize::new(0));
        let shared = {
            let pool = CallPool::new("test");
            let ran2 = ran.clone();
            pool.run(move || ran2.fetch_add(1, Ordering::SeqCst))
                .await
                .unwrap();
            pool.shared.clone()
        };
        let deadline = Instant::now() + Duration::from_secs(5);
        while shared.threads.load(Ordering::SeqCst) > 0 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        assert_eq!(shared.threads.load(Ordering::SeqCst), 0);
        assert_eq!(ran.load(Ordering::SeqCst), 1);
    }
}
