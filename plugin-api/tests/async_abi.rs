//! The asynchronous entry point across the ABI, driven in-process the way
//! the host drives it: through the exported async module and `FfiFuture`s
//! polled on a runtime that is not the adapter's.

use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use abi_stable::std_types::{RResult, RStr, RString};
use opsorch_plugin_api::abi::{AbiCallContext, AsyncProviderObject};
use opsorch_plugin_api::schema::{Service, ServiceQuery};
use opsorch_plugin_api::{
    async_trait, Adapter, AsyncServiceProvider, CallContext, Config, Error, Result, ServiceProvider,
};

static DROPPED: AtomicBool = AtomicBool::new(false);
static STARTED: AtomicUsize = AtomicUsize::new(0);

struct SetOnDrop;
impl Drop for SetOnDrop {
    fn drop(&mut self) {
        DROPPED.store(true, Ordering::SeqCst);
    }
}

/// The threads on which calls named `where` and `ready` made their first
/// step, in call order.
static FIRST_STEPS: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// `name` selects the behaviour: `hang`, `panic`, `echo` (the context),
/// `where` (waits 1 ms) and `ready` (answers at once), both noting the
/// thread of their first step.
struct Waiting;

#[async_trait]
impl AsyncServiceProvider for Waiting {
    async fn query(&self, context: &CallContext, query: ServiceQuery) -> Result<Vec<Service>> {
        STARTED.fetch_add(1, Ordering::SeqCst);
        if let "where" | "ready" = query.name.as_str() {
            let thread = std::thread::current().name().unwrap_or("?").to_string();
            FIRST_STEPS.lock().unwrap().push(thread);
        }
        match query.name.as_str() {
            "ready" => Ok(Vec::new()),
            "hang" => {
                let _guard = SetOnDrop;
                // Needs the adapter runtime's timer: fails if polled without it.
                tokio::time::sleep(Duration::from_secs(3600)).await;
                Err(Error::internal("woke up"))
            }
            "panic" => {
                tokio::time::sleep(Duration::from_millis(1)).await;
                panic!("adapter bug")
            }
            _ => {
                tokio::time::sleep(Duration::from_millis(1)).await;
                Ok(vec![Service {
                    id: context.request_id().to_string(),
                    name: context.actor().to_string(),
                    url: format!("{}", context.deadline().is_some()),
                    ..Default::default()
                }])
            }
        }
    }
}

struct Fixed;
impl ServiceProvider for Fixed {
    fn query(&self, _query: ServiceQuery) -> Result<Vec<Service>> {
        Ok(vec![Service {
            id: "fixed".into(),
            name: "fixed".into(),
            ..Default::default()
        }])
    }
}

fn adapter() -> Adapter {
    Adapter::new("async-test", "0.1.0")
        .service_async("waiting", |_: &Config| Ok(Waiting))
        .service("fixed", |_: &Config| Ok(Fixed))
}

fn provider(name: &str) -> AsyncProviderObject {
    // What the host does after loading: the root module, then the async one.
    let _ = opsorch_plugin_api::abi::__root_module(adapter);
    let module = opsorch_plugin_api::abi::__async_module();
    match module.new_provider()(
        RStr::from_str("service"),
        RStr::from_str(name),
        RStr::from_str("{}"),
    ) {
        RResult::ROk(p) => p,
        RResult::RErr(e) => panic!("constructor failed: {e:?}"),
    }
}

fn context(timeout_ms: Option<u64>) -> AbiCallContext {
    AbiCallContext {
        timeout_ms: timeout_ms.into(),
        request_id: "req-1".into(),
        actor: "ops@example.com".into(),
    }
}

fn call(
    p: &AsyncProviderObject,
    ctx: AbiCallContext,
    payload: &str,
) -> opsorch_plugin_api::abi::CallFuture {
    p.call_async(ctx, RStr::from_str("service.query"), RString::from(payload))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn context_reaches_the_adapter_and_io_runs_on_the_adapter_runtime() {
    let p = provider("waiting");
    assert!(!p.is_blocking());
    let out = call(&p, context(Some(5_000)), r#"{"name":"echo"}"#).await;
    assert_eq!(
        out,
        RResult::ROk(r#"[{"id":"req-1","name":"ops@example.com","url":"true"}]"#.into())
    );
    let out = call(&p, context(None), r#"{"name":"echo"}"#).await;
    assert!(
        matches!(&out, RResult::ROk(s) if s.contains(r#""url":"false""#)),
        "{out:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_method_whose_calls_wait_starts_them_on_the_adapter_runtime() {
    use opsorch_plugin_api::runtime::WAITED_STREAK;
    let p = provider("waiting");
    let on_runtime = |thread: &str| thread.contains("-rt-");
    let streak = usize::from(WAITED_STREAK);
    for _ in 0..streak + 2 {
        let out = call(&p, context(None), r#"{"name":"where"}"#).await;
        assert!(matches!(out, RResult::ROk(_)), "{out:?}");
    }
    // A ready call, started on the runtime, brings the method back.
    let out = call(&p, context(None), r#"{"name":"ready"}"#).await;
    assert_eq!(out, RResult::ROk("[]".into()));
    let out = call(&p, context(None), r#"{"name":"where"}"#).await;
    assert!(matches!(out, RResult::ROk(_)), "{out:?}");

    let steps = FIRST_STEPS.lock().unwrap().clone();
    assert_eq!(steps.len(), streak + 4, "{steps:?}");
    // The first calls start where they are polled (the test's runtime)...
    assert!(steps[..streak].iter().all(|t| !on_runtime(t)), "{steps:?}");
    // ...then, after a streak of waiting ones, on the adapter's runtime.
    assert!(
        steps[streak..streak + 3].iter().all(|t| on_runtime(t)),
        "{steps:?}"
    );
    assert!(!on_runtime(&steps[streak + 3]), "{steps:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_deadline_ends_the_call_with_timeout() {
    let p = provider("waiting");
    let start = Instant::now();
    let out = call(&p, context(Some(50)), r#"{"name":"hang"}"#).await;
    let RResult::RErr(e) = out else {
        panic!("a hanging call answered")
    };
    assert_eq!(e.code.as_str(), "timeout");
    // A hang bound, not a speed assertion.
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "{:?}",
        start.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_the_future_cancels_the_adapter_work() {
    let p = provider("waiting");
    DROPPED.store(false, Ordering::SeqCst);
    let before = STARTED.load(Ordering::SeqCst);
    let fut = call(&p, context(None), r#"{"name":"hang"}"#);
    let out = tokio::time::timeout(Duration::from_millis(50), fut).await;
    assert!(out.is_err(), "the hanging call answered: {out:?}");
    assert!(
        STARTED.load(Ordering::SeqCst) > before,
        "the call never started"
    );
    // A call that waited moved to the adapter runtime, where the abort
    // drops it: promptly, but on that runtime's thread.
    let deadline = Instant::now() + Duration::from_secs(5);
    while !DROPPED.load(Ordering::SeqCst) && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    assert!(
        DROPPED.load(Ordering::SeqCst),
        "the adapter future was not dropped"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_future_is_adapter_panic_and_the_next_call_works() {
    let p = provider("waiting");
    let RResult::RErr(e) = call(&p, context(None), r#"{"name":"panic"}"#).await else {
        panic!("a panicking call answered")
    };
    assert_eq!(e.code.as_str(), "adapter_panic");
    assert!(!e.message.as_str().contains("adapter bug"), "{e:?}");
    let out = call(&p, context(None), r#"{"name":"echo"}"#).await;
    assert!(matches!(out, RResult::ROk(_)), "{out:?}");
}

#[test]
fn a_blocking_provider_is_ready_on_the_first_poll() {
    let p = provider("fixed");
    assert!(p.is_blocking());
    let mut fut = call(&p, context(None), "{}");
    let mut cx = Context::from_waker(Waker::noop());
    match std::pin::Pin::new(&mut fut).poll(&mut cx) {
        Poll::Ready(out) => assert_eq!(
            out,
            RResult::ROk(r#"[{"id":"fixed","name":"fixed"}]"#.into())
        ),
        Poll::Pending => panic!("a synchronous provider's call was not ready at once"),
    }
    // The synchronous entry of the same object.
    let out = p.call(RStr::from_str("service.query"), RStr::from_str("{}"));
    assert_eq!(
        out,
        RResult::ROk(r#"[{"id":"fixed","name":"fixed"}]"#.into())
    );
}

#[tokio::test]
async fn bad_method_and_payload_are_bad_request() {
    let p = provider("waiting");
    let RResult::RErr(e) = p
        .call_async(
            context(None),
            RStr::from_str("service.nope"),
            RString::from("{}"),
        )
        .await
    else {
        panic!("an unknown method answered")
    };
    assert_eq!(e.code.as_str(), "bad_request");
    let RResult::RErr(e) = call(&p, context(None), "[1]").await else {
        panic!("a bad payload answered")
    };
    assert_eq!(e.code.as_str(), "bad_request");
}

#[test]
fn a_non_blocking_adapter_s_synchronous_providers_run_where_they_are_polled() {
    use opsorch_plugin_api::methods::{Capability, Method};
    let construct = |adapter: Adapter, name: &str| {
        adapter
            .construct(Capability::Service, name, &Config::new())
            .unwrap_or_else(|e| panic!("{name}: {e:?}"))
    };
    let blocking = construct(adapter(), "fixed");
    assert!(blocking.is_blocking() && blocking.is_synchronous());
    let inline = construct(adapter().non_blocking(), "fixed");
    assert!(!inline.is_blocking() && inline.is_synchronous());
    // Not the adapter's: an asynchronous provider stays on its runtime.
    let waiting = construct(adapter().non_blocking(), "waiting");
    assert!(!waiting.is_blocking() && !waiting.is_synchronous());

    // Ready on the first poll, on no runtime, even with a deadline.
    let context = CallContext::from(context(Some(1)));
    let fut = inline.call_async(context, Method::ServiceQuery, "{}".into());
    let mut fut = std::pin::pin!(fut);
    let mut cx = Context::from_waker(Waker::noop());
    match fut.as_mut().poll(&mut cx) {
        Poll::Ready(out) => assert_eq!(out.unwrap(), r#"[{"id":"fixed","name":"fixed"}]"#),
        Poll::Pending => panic!("a non-blocking provider's call was not ready at once"),
    }
}
