//! `opsorch-upstream-server`: the slow vendor API of the benchmark.
//!
//! A loopback HTTP/1.1 server (keep-alive) that answers every request, after
//! `--delay-ms`, with `200` and a JSON array of services, as the
//! `upstream` fixture adapter expects. It prints
//! `OPSORCH_UPSTREAM_LISTENING <addr>` once it accepts connections and runs
//! until killed, or for `--max-seconds` at most.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context;
use bytes::Bytes;
use clap::Parser;
use http_body_util::Full;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;

/// A loopback HTTP server answering a fixed JSON list after a fixed delay.
#[derive(Parser, Debug)]
#[command(version)]
struct Args {
    /// Address to listen on (loopback only).
    #[arg(long, default_value = "127.0.0.1:0")]
    addr: SocketAddr,
    /// How long each answer takes.
    #[arg(long, default_value_t = 50)]
    delay_ms: u64,
    /// Stop after this long, whatever happens (a bound for scripts).
    #[arg(long, default_value_t = 3600)]
    max_seconds: u64,
}

const BODY: &str = r#"[{"id":"svc-checkout","name":"checkout","tags":{"tier":"tier-1"}},{"id":"svc-payments","name":"payments","tags":{"tier":"tier-1"}}]"#;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    anyhow::ensure!(
        args.addr.ip().is_loopback(),
        "--addr must be a loopback address"
    );
    let listener = tokio::net::TcpListener::bind(args.addr)
        .await
        .with_context(|| format!("cannot listen on {}", args.addr))?;
    println!("OPSORCH_UPSTREAM_LISTENING {}", listener.local_addr()?);
    let delay = Duration::from_millis(args.delay_ms);
    let serve = async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let _ = stream.set_nodelay(true);
            tokio::spawn(async move {
                let service = service_fn(move |_req: Request<hyper::body::Incoming>| async move {
                    tokio::time::sleep(delay).await;
                    Ok::<_, Infallible>(
                        Response::builder()
                            .header("content-type", "application/json")
                            .body(Full::new(Bytes::from_static(BODY.as_bytes())))
                            .expect("a static response"),
                    )
                });
                let _ = http1::Builder::new()
                    .keep_alive(true)
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    };
    tokio::select! {
        _ = serve => Ok(()),
        _ = tokio::time::sleep(Duration::from_secs(args.max_seconds)) => Ok(()),
    }
}
