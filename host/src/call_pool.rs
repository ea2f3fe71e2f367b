//! Threads that run one library provider's calls.
//!
//! Calls into an adapter library are synchronous and may block for as long
//! as the adapter likes, so they never run on the async workers. tokio's
//! blocking pool would do, but it wakes a parked thread for nearly every
//! call, and for a fast adapter those wake-ups cost more than the call.
//!
//! Each library provider gets its own [`CallPool`]: a queue and the threads
//! that drain it. A thread that finishes a call takes the next queued one
//! without parking, so under load calls flow with no wake-ups. The pool
//! starts one thread and adds another only when a call has waited in the
//! queue for [`STALL_AFTER`] with no thread free, which is what a blocking
//! adapter looks like. So a blocked call delays no other capability (each
//! has its own pool) and the calls queued behind it in its own capability by
//! about a millisecond. Threads idle for [`IDLE_EXIT`] exit, down to one.

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Duration;

/// How long a queued call waits for a busy thread before the pool grows.
pub const STALL_AFTER: Duration = Duration::from_millis(1);
/// How long a thread with nothing to do stays around.
pub const IDLE_EXIT: Duration = Duration::from_secs(10);
/// The most threads one provider may use at once.
pub const MAX_THREADS: usize = 256;

type Job = Box<dyn FnOnce() + Send>;

/// The queue and threads of one provider. Dropping it lets its threads
/// finish what is queued and exit.
pub struct CallPool {
    shared: Arc<Shared>,
}

struct Shared {
    name: String,
    state: Mutex<State>,
    work: Condvar,
}

#[derive(Default)]
struct State {
    jobs: VecDeque<Job>,
    threads: usize,
    idle: usize,
    /// Calls taken off the queue so far; lets a waiting caller tell whether
    /// the queue moved.
    started: u64,
    /// Calls queued so far.
    queued: u64,
    closed: bool,
}

impl CallPool {
    /// A pool whose threads are named after `name` (the adapter).
    pub fn new(name: &str) -> Self {
        CallPool {
            shared: Arc::new(Shared {
                name: name.to_string(),
                state: Mutex::new(State::default()),
                work: Condvar::new(),
            }),
        }
    }

    /// Runs `call` on one of the pool's threads and returns its result.
    pub async fn run<T, F>(&self, call: F) -> Result<T, String>
    where
        T: Send + 'static,
        F: FnOnce() -> T + Send + 'static,
    {
        let (tx, mut rx) = tokio::sync::oneshot::channel();
        let ticket = self.submit(Box::new(move || {
            let _ = tx.send(call());
        }))?;
        tokio::select! {
            result = &mut rx => return result.map_err(|_| "adapter call was dropped".to_string()),
            _ = tokio::time::sleep(STALL_AFTER) => {}
        }
        // Every thread is still busy with earlier calls: one may be blocked.
        self.grow_if_stalled(ticket)?;
        rx.await.map_err(|_| "adapter call was dropped".to_string())
    }

    /// Queues a job; returns its position in the sequence of queued jobs.
    fn submit(&self, job: Job) -> Result<u64, String> {
        let mut state = self.lock();
        state.jobs.push_back(job);
        state.queued += 1;
        let ticket = state.queued;
        if state.idle > 0 {
            self.shared.work.notify_one();
        } else if state.threads == 0 {
            self.spawn(&mut state)?;
        }
        Ok(ticket)
    }

    /// Adds a thread if the job `ticket` has still not been taken.
    fn grow_if_stalled(&self, ticket: u64) -> Result<(), String> {
        let mut state = self.lock();
        let waiting = state.started < ticket;
        if waiting && state.idle == 0 && state.threads < MAX_THREADS {
            self.spawn(&mut state)?;
        }
        Ok(())
    }

    fn spawn(&self, state: &mut State) -> Result<(), String> {
        let shared = self.shared.clone();
        std::thread::Builder::new()
            .name(format!("adapter-{}", self.shared.name))
            .spawn(move || shared.work_loop())
            .map_err(|e| format!("cannot start an adapter thread: {e}"))?;
        state.threads += 1;
        Ok(())
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.shared.lock()
    }

    /// Threads currently alive.
    #[cfg(test)]
    fn threads(&self) -> usize {
        self.lock().threads
    }
}

impl Drop for CallPool {
    fn drop(&mut self) {
        self.lock().closed = true;
        self.shared.work.notify_all();
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A job never runs under the lock, so a poisoned lock only means a
        // panic between two plain field updates: the state is still usable.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn work_loop(&self) {
        let mut state = self.lock();
        loop {
            if let Some(job) = state.jobs.pop_front() {
                state.started += 1;
                drop(state);
                job();
                state = self.lock();
                continue;
            }
            if state.closed {
                break;
            }
            state.idle += 1;
            let (next, timeout) = self
                .work
                .wait_timeout(state, IDLE_EXIT)
                .unwrap_or_else(|e| e.into_inner());
            state = next;
            state.idle -= 1;
            if timeout.timed_out() && state.jobs.is_empty() && state.threads > 1 {
                break;
            }
        }
        state.threads -= 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
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
        assert!(pool.threads() >= 1);
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
        while shared.lock().threads > 0 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        assert_eq!(shared.lock().threads, 0);
        assert_eq!(ran.load(Ordering::SeqCst), 1);
    }
}
