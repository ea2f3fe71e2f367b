//! `serve` runs calls of asynchronous providers concurrently and writes the
//! answers in request order, in exactly the line format of a sequential
//! server.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use opsorch_plugin_api::schema::{Service, ServiceQuery};
use opsorch_plugin_api::{
    async_trait, serve, Adapter, AsyncServiceProvider, CallContext, Config, Error, Result,
};

static RUNNING: AtomicUsize = AtomicUsize::new(0);

/// Each call waits until three calls run at once (or 5 s pass), then
/// answers after `name` milliseconds, echoing the name.
struct Gathering;

#[async_trait]
impl AsyncServiceProvider for Gathering {
    async fn query(&self, _context: &CallContext, query: ServiceQuery) -> Result<Vec<Service>> {
        RUNNING.fetch_add(1, Ordering::SeqCst);
        let mut waited = Duration::ZERO;
        while RUNNING.load(Ordering::SeqCst) < 3 {
            if waited > Duration::from_secs(5) {
                return Err(Error::internal("calls did not run concurrently"));
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
            waited += Duration::from_millis(5);
        }
        let delay: u64 = query.name.parse().unwrap_or(0);
        tokio::time::sleep(Duration::from_millis(delay)).await;
        Ok(vec![Service {
            id: query.name.clone(),
            name: query.name,
            ..Default::default()
        }])
    }
}

#[test]
fn async_calls_run_concurrently_and_answer_in_request_order() {
    let adapter =
        Adapter::new("gathering", "0.1.0").service_async("gathering", |_: &Config| Ok(Gathering));
    let input = [
        r#"{"method":"service.query","config":{},"payload":{"name":"60"}}"#,
        r#"{"method":"service.query","config":{},"payload":{"name":"1"}}"#,
        r#"{"method":"nope","config":{},"payload":{}}"#,
        r#"{"method":"service.query","config":{},"payload":{"name":"20"}}"#,
    ]
    .join("\n")
        + "\n";
    let mut output = Vec::new();
    serve(&adapter, input.as_bytes(), &mut output).unwrap();
    let output = String::from_utf8(output).unwrap();
    assert_eq!(
        output,
        concat!(
            r#"{"result":[{"id":"60","name":"60"}]}"#,
            "\n",
            r#"{"result":[{"id":"1","name":"1"}]}"#,
            "\n",
            r#"{"error":{"code":"bad_request","message":"unknown method \"nope\""}}"#,
            "\n",
            r#"{"result":[{"id":"20","name":"20"}]}"#,
            "\n",
        )
    );
}
