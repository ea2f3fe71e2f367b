//! The reference row of `scripts/bench-upstream`: the least a gateway in
//! front of a slow upstream can do. `POST /services/query` GETs the upstream
//! URL through hyper-util's pooled client and answers with the body it
//! received, both on tokio's default multi-threaded runtime, in one process.
//! It has no plugin boundary, no second runtime, no JSON decoding, gate,
//! audit record or limits. The host's upstream rows over this one's,
//! measured in the same run, are what the host's design costs on the
//! machine at hand; this row over the ideal is what the machine allows.
//!
//! Usage: `minimal-proxy UPSTREAM_URL [ADDR]` (`ADDR` defaults to
//! `127.0.0.1:0`). It prints `MINIMAL_LISTENING <addr>` on stdout once it
//! accepts connections, and runs until killed. An upstream that fails
//! answers 502.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, StatusCode, Uri};
use axum::routing::post;
use axum::Router;
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

/// The pooled client and the one URL it reads.
#[derive(Clone)]
struct Upstream {
    client: Client<HttpConnector, Empty<Bytes>>,
    url: Uri,
}

async fn query(
    State(upstream): State<Upstream>,
) -> (StatusCode, [(header::HeaderName, &'static str); 1], Bytes) {
    let json = [(header::CONTENT_TYPE, "application/json")];
    let body = match upstream.client.get(upstream.url).await {
        Ok(response) if response.status().is_success() => response.into_body().collect().await,
        _ => return (StatusCode::BAD_GATEWAY, json, Bytes::new()),
    };
    match body {
        Ok(body) => (StatusCode::OK, json, body.to_bytes()),
        Err(_) => (StatusCode::BAD_GATEWAY, json, Bytes::new()),
    }
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let url: Uri = match args.next().map(|u| u.parse()) {
        Some(Ok(url)) => url,
        _ => {
            eprintln!("usage: minimal-proxy UPSTREAM_URL [ADDR]");
            std::process::exit(2);
        }
    };
    let addr = args.next().unwrap_or_else(|| "127.0.0.1:0".to_owned());
    let mut connector = HttpConnector::new();
    connector.set_nodelay(true);
    let client = Client::builder(TokioExecutor::new()).build(connector);
    let app = Router::new()
        .route("/services/query", post(query))
        .with_state(Upstream { client, url });
    opsorch_minimal_axum::serve(&addr, app).await
}
