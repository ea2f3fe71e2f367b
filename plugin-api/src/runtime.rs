//! The adapter's own tokio runtime, and running adapter futures on it.
//!
//! A library links its own copy of tokio, so it cannot use the host's
//! runtime: timers and sockets created by adapter code register with this
//! runtime, whose worker threads drive them. The runtime starts on first use
//! (adapters with only synchronous providers never start it), has a few
//! named threads (`<adapter>-rt-<n>`), and is shut down by
//! [`shutdown`] (the stdio server calls it when stdin closes; the host
//! calls it through the library's asynchronous module at shutdown).
//!
//! An adapter future is first polled wherever its caller polls it (the
//! host's request task, the stdio writer), with this runtime's context
//! entered: a call that is ready on its first poll is answered without a
//! thread hand-off. A call that has to wait moves into a task on this
//! runtime, where its I/O is driven, and its caller is woken once, when it
//! is done (`Guarded`). Once a method's latest calls have all had to wait,
//! its next calls start on the runtime without the first poll where the
//! caller polls (`FirstPolls`).

use std::future::Future;
use std::pin::{pin, Pin};
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

use tokio::runtime::{Builder, Handle, Runtime};
use tokio::task::JoinHandle;

use crate::context::CallContext;
use crate::error::{Error, ErrorKind};

static HANDLE: OnceLock<Handle> = OnceLock::new();
static RUNTIME: Mutex<Option<Runtime>> = Mutex::new(None);
static SHUT_DOWN: AtomicBool = AtomicBool::new(false);

/// Most worker threads the runtime starts (fewer on smaller machines).
const MAX_WORKERS: usize = 2;

/// The runtime's handle, starting the runtime on first use.
pub fn handle() -> Result<Handle, Error> {
    if SHUT_DOWN.load(Ordering::Acquire) {
        return Err(Error::of_kind(
            ErrorKind::Unavailable,
            "the adapter runtime has shut down",
        ));
    }
    if let Some(handle) = HANDLE.get() {
        return Ok(handle.clone());
    }
    let mut slot = RUNTIME.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(handle) = HANDLE.get() {
        return Ok(handle.clone());
    }
    let workers = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .clamp(1, MAX_WORKERS);
    let name = crate::log::adapter_name();
    let short: String = name.chars().take(8).collect();
    let runtime = Builder::new_multi_thread()
        .worker_threads(workers)
        .max_blocking_threads(8)
        .thread_name_fn(move || {
            use std::sync::atomic::AtomicUsize;
            static N: AtomicUsize = AtomicUsize::new(0);
            format!("{short}-rt-{}", N.fetch_add(1, Ordering::Relaxed))
        })
        .enable_all()
        .build()
        .map_err(|e| Error::internal(format!("cannot start the adapter runtime: {e}")))?;
    let handle = runtime.handle().clone();
    *slot = Some(runtime);
    let _ = HANDLE.set(handle.clone());
    Ok(handle)
}

/// Stops the runtime: running adapter tasks are dropped, its threads exit
/// (waiting at most `timeout` for blocking tasks). Calls made afterwards
/// fail with `unavailable`.
///
/// When a runtime was running, logs `adapter runtime stopped` (INFO) once
/// it has: the host's log shows that the library was shut down cleanly.
pub fn shutdown(timeout: Duration) {
    SHUT_DOWN.store(true, Ordering::Release);
    let runtime = RUNTIME.lock().unwrap_or_else(|e| e.into_inner()).take();
    if let Some(runtime) = runtime {
        let started = std::time::Instant::now();
        runtime.shutdown_timeout(timeout);
        let waited_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        tracing::info!(waited_ms, "adapter runtime stopped");
    }
}

/// A boxed adapter future.
pub(crate) type BoxFuture = Pin<Box<dyn Future<Output = Result<String, Error>> + Send>>;

/// How many calls of a method in a row must have waited after their first
/// poll before the method's next calls start on the runtime.
pub const WAITED_STREAK: u8 = 4;

/// What the latest calls of each method of one provider did on their first
/// poll: how many in a row were still waiting after it (up to
/// [`WAITED_STREAK`]).
///
/// A first poll where the caller polls costs a call that has to wait more
/// than it saves: the call's first steps (taking a pooled connection,
/// handing the request to the connection's task, arming the deadline
/// timer) run on the caller's thread against state that the runtime's
/// threads own, and the connection task is woken across threads. So once a
/// method's last [`WAITED_STREAK`] calls all waited, its calls start as a
/// task on the runtime. A call that is ready on its first poll, wherever
/// that poll ran, sets the count back to zero, so a method whose calls are
/// ready (a cache, a provider answering from memory) keeps being answered
/// where it is polled, with no hand-off.
pub(crate) struct FirstPolls {
    /// One counter per method, indexed by the method's position in
    /// [`crate::methods::Method::ALL`].
    waited: Box<[AtomicU8]>,
}

impl FirstPolls {
    pub(crate) fn new(methods: usize) -> FirstPolls {
        FirstPolls {
            waited: (0..methods).map(|_| AtomicU8::new(0)).collect(),
        }
    }

    /// Whether the next call of method `slot` starts on the runtime.
    pub(crate) fn start_on_runtime(&self, slot: usize) -> bool {
        self.waited
            .get(slot)
            .is_some_and(|n| n.load(Ordering::Relaxed) >= WAITED_STREAK)
    }

    /// Records what a call of method `slot` did on its first poll. Calls
    /// polled at once may race here; a lost update only moves the switch
    /// by a call.
    fn record(&self, slot: usize, ready: bool) {
        let Some(waited) = self.waited.get(slot) else {
            return;
        };
        if ready {
            waited.store(0, Ordering::Relaxed);
        } else {
            let n = waited.load(Ordering::Relaxed);
            if n < WAITED_STREAK {
                waited.store(n + 1, Ordering::Relaxed);
            }
        }
    }
}

/// An adapter call made safe to poll anywhere: the runtime's context is
/// entered around each poll and the drop, a panic becomes `adapter_panic`,
/// and the deadline of the call context is applied.
///
/// The first poll runs where the caller polls (the host's request task):
/// a call that is ready then is answered with no thread hand-off. An
/// asynchronous call that is still waiting after it moves, boxed as it is,
/// into a task on the adapter runtime, and the caller waits for that task
/// alone. A call of a method whose latest calls all waited starts in that
/// task directly ([`FirstPolls`]). The call's sockets and timers are
/// driven by the runtime's threads anyway; run there, each of its
/// wake-ups (the HTTP client's connection task answering, a body chunk
/// arriving) stays on those threads instead of crossing to the caller's
/// runtime and back, and the caller is woken once, when the call is done. Dropping the `Guarded` aborts the task: the
/// call's future is dropped on the runtime, which cancels its work.
pub(crate) struct Guarded {
    stage: Stage,
    handle: Option<Handle>,
}

enum Stage {
    /// Not polled yet, or polled where the caller polls.
    Here(Caught),
    /// Moved to a task on the adapter runtime.
    OnRuntime(JoinHandle<Result<String, Error>>),
    Finished,
}

impl Guarded {
    /// Guards a call of a synchronous provider (blocking or not): no
    /// runtime, no deadline (the host bounds blocking calls itself, and a
    /// non-blocking one returns at once).
    pub(crate) fn blocking(what: &'static str, inner: BoxFuture) -> Guarded {
        Guarded {
            stage: Stage::Here(Caught {
                inner: Some(inner),
                what,
                request_id: None,
                first_poll: None,
            }),
            handle: None,
        }
    }

    /// Guards a call of an asynchronous provider: on the adapter runtime,
    /// with the context's deadline. `history` is the provider's record of
    /// first polls and the method's slot in it.
    pub(crate) fn on_runtime(
        what: &'static str,
        context: &CallContext,
        history: (Arc<FirstPolls>, usize),
        inner: BoxFuture,
    ) -> Guarded {
        let handle = match handle() {
            Ok(handle) => handle,
            Err(e) => return Guarded::blocking("call", Box::pin(std::future::ready(Err(e)))),
        };
        let inner: BoxFuture = match context.deadline() {
            Some(deadline) => Box::pin(async move {
                // Created inside the first poll, where the runtime is entered.
                match tokio::time::timeout_at(deadline.into(), inner).await {
                    Ok(result) => result,
                    Err(_) => Err(Error::timeout(format!(
                        "{what} did not finish before its deadline"
                    ))),
                }
            }),
            None => inner,
        };
        Guarded {
            stage: Stage::Here(Caught {
                inner: Some(inner),
                what,
                request_id: Some(context.request_id())
                    .filter(|id| !id.is_empty())
                    .map(Arc::from),
                first_poll: Some(history),
            }),
            handle: Some(handle),
        }
    }
}

/// An adapter call whose polls and drop catch panics: a poll that panics
/// is `adapter_panic`, and the future that panicked is dropped. Each poll
/// tags the log lines written meanwhile with the request id. The first
/// poll's outcome goes to the provider's [`FirstPolls`].
struct Caught {
    inner: Option<BoxFuture>,
    what: &'static str,
    request_id: Option<Arc<str>>,
    /// Where to record the first poll; taken by it.
    first_poll: Option<(Arc<FirstPolls>, usize)>,
}

impl Caught {
    /// Whether this call, not polled yet, should start on the runtime.
    fn starts_on_runtime(&self) -> bool {
        self.first_poll
            .as_ref()
            .is_some_and(|(history, slot)| history.start_on_runtime(*slot))
    }
}

impl Future for Caught {
    type Output = Result<String, Error>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        let Some(future) = this.inner.as_mut() else {
            return Poll::Ready(Err(Error::internal(
                "adapter call polled after it finished",
            )));
        };
        let request_id = this.request_id.as_ref();
        let polled = crate::log::with_request_id(request_id, || {
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| future.as_mut().poll(cx)))
        });
        if let Some((history, slot)) = this.first_poll.take() {
            history.record(slot, !matches!(polled, Ok(Poll::Pending)));
        }
        match polled {
            Ok(Poll::Pending) => Poll::Pending,
            Ok(Poll::Ready(result)) => {
                this.inner = None;
                Poll::Ready(result)
            }
            Err(_) => {
                let error = crate::log::with_request_id(request_id, || {
                    crate::panic::panic_error(this.what)
                });
                // Dropping a future that panicked may panic again.
                this.drop_inner();
                Poll::Ready(Err(error))
            }
        }
    }
}

impl Caught {
    fn drop_inner(&mut self) {
        if let Some(inner) = self.inner.take() {
            let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || drop(inner)));
        }
    }
}

impl Drop for Caught {
    fn drop(&mut self) {
        self.drop_inner();
    }
}

impl Future for Guarded {
    type Output = Result<String, Error>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        match std::mem::replace(&mut this.stage, Stage::Finished) {
            Stage::Here(mut call) => {
                if let (Some(handle), true) = (&this.handle, call.starts_on_runtime()) {
                    this.stage = Stage::OnRuntime(handle.spawn(call));
                    return self.poll(cx);
                }
                let polled = {
                    let _entered = this.handle.as_ref().map(Handle::enter);
                    Pin::new(&mut call).poll(cx)
                };
                match (polled, &this.handle) {
                    (Poll::Ready(result), _) => Poll::Ready(result),
                    (Poll::Pending, Some(handle)) => {
                        this.stage = Stage::OnRuntime(handle.spawn(call));
                        self.poll(cx)
                    }
                    (Poll::Pending, None) => {
                        this.stage = Stage::Here(call);
                        Poll::Pending
                    }
                }
            }
            Stage::OnRuntime(mut task) => match Pin::new(&mut task).poll(cx) {
                Poll::Pending => {
                    this.stage = Stage::OnRuntime(task);
                    Poll::Pending
                }
                Poll::Ready(Ok(result)) => Poll::Ready(result),
                // `Caught` catches panics, so the task ends this way only
                // when the runtime shut down under it.
                Poll::Ready(Err(_)) => Poll::Ready(Err(Error::of_kind(
                    ErrorKind::Unavailable,
                    "the adapter runtime has shut down",
                ))),
            },
            Stage::Finished => Poll::Ready(Err(Error::internal(
                "adapter call polled after it finished",
            ))),
        }
    }
}

impl Drop for Guarded {
    fn drop(&mut self) {
        match std::mem::replace(&mut self.stage, Stage::Finished) {
            Stage::Here(call) => {
                let _entered = self.handle.as_ref().map(Handle::enter);
                drop(call);
            }
            Stage::OnRuntime(task) => task.abort(),
            Stage::Finished => {}
        }
    }
}

/// Runs `future` to completion on the current thread (which must not be a
/// thread of the adapter runtime). Used by the synchronous entry points.
pub(crate) fn block_on<F: Future>(future: F) -> F::Output {
    struct Unpark(std::thread::Thread);
    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
        fn wake_by_ref(self: &Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    let mut future = pin!(future);
    loop {
        if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
            return output;
        }
        std::thread::park();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_streak_of_waiting_calls_moves_the_method_and_a_ready_one_brings_it_back() {
        let polls = FirstPolls::new(3);
        for _ in 1..WAITED_STREAK {
            polls.record(1, false);
            assert!(!polls.start_on_runtime(1));
        }
        polls.record(1, false);
        assert!(polls.start_on_runtime(1));
        // More waiting calls keep it there (the count saturates).
        for _ in 0..300 {
            polls.record(1, false);
        }
        assert!(polls.start_on_runtime(1));
        // Other methods have their own count.
        assert!(!polls.start_on_runtime(0) && !polls.start_on_runtime(2));
        // One ready call, and the next calls are polled where they are.
        polls.record(1, true);
        assert!(!polls.start_on_runtime(1));
        // A ready call within a streak starts it over.
        for _ in 1..WAITED_STREAK {
            polls.record(1, false);
        }
        polls.record(1, true);
        polls.record(1, false);
        assert!(!polls.start_on_runtime(1));
    }

    #[test]
    fn a_slot_out_of_range_has_no_history() {
        let polls = FirstPolls::new(1);
        for _ in 0..WAITED_STREAK {
            polls.record(5, false);
        }
        assert!(!polls.start_on_runtime(5));
        assert!(!polls.start_on_runtime(0));
    }
}
