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
}

struct Shared {
    name: String,
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
    /// When the current call started, in nanoseconds since the pool's
    /// epoch plus one; 0 while the thread is not in a call.
    call_started: AtomicU64,
}

impl CallPool {
    /// A pool whose threads are named after `name` (the adapter).
    pub fn new(name: &str) -> Self {
        let (jobs, receiver) = crossbeam_channel::unbounded();
        let shared = Arc::new(Shared {
            name: name.to_string(),
            jobs: receiver,
            threads: AtomicUsize::new(0),
            idle: AtomicUsize::new(0),
            longest_wait: AtomicU64::new(0),
            workers: Mutex::new(Vec::new()),
            epoch: Instant::now(),
        });
        watchdog().watch(&shared);
        CallPool { jobs, shared }
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
            watchdog().alert();
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

    /// Adds a thread unless the pool is at `FIXED.pool_max_threads`.
    fn grow(self: &Arc<Self>) -> Result<(), PoolError> {
        let grew = self
            .threads
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < FIXED.pool_max_threads).then_some(n + 1)
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
            let next = self.jobs.recv_timeout(FIXED.pool_idle_exit);
            self.idle.fetch_sub(1, Ordering::SeqCst);
            match next {
                Ok(job) => {
                    let waited = job.queued.elapsed().as_nanos() as u64;
                    self.longest_wait.fetch_max(waited, Ordering::AcqRel);
                    let started = self.epoch.elapsed().as_nanos() as u64 + 1;
                    me.call_started.store(started, Ordering::Release);
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
        let now = self.epoch.elapsed().as_nanos() as u64 + 1;
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
                age >= FIXED.pool_busy_stall || (age >= FIXED.pool_stall_after && !worker.running())
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

/// The process-wide thread that grows stalled pools.
struct Watchdog {
    pools: Mutex<Vec<Weak<Shared>>>,
    /// Set while the watchdog sleeps with no deadline.
    asleep: AtomicBool,
    wake: Condvar,
}

fn watchdog() -> &'static Watchdog {
    static WATCHDOG: OnceLock<&'static Watchdog> = OnceLock::new();
    WATCHDOG.get_or_init(|| {
        let watchdog: &'static Watchdog = Box::leak(Box::new(Watchdog {
            pools: Mutex::new(Vec::new()),
            asleep: AtomicBool::new(false),
            wake: Condvar::new(),
        }));
        let spawned = std::thread::Builder::new()
            .name("adapter-watchdog".into())
            .spawn(move || watchdog.run());
        if let Err(e) = spawned {
            // Pools still work; a blocked call just holds up its own queue.
            tracing::error!("cannot start the adapter watchdog thread: {e}");
        }
        watchdog
    })
}

impl Watchdog {
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
                    .wait_timeout(pools, FIXED.pool_stall_after)
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
        let cpus = cpus();
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
                } else if waited >= FIXED.pool_queue_stall
                    && pool.threads.load(Ordering::Acquire) < cpus
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
    use std::time::Instant;

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
        if cpus() < 2 {
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
