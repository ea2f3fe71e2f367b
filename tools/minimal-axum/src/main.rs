//! The reference row of `scripts/bench`: a minimal axum server answering
//! `GET /health` with the same canned body as the host, served by
//! `axum::serve` on tokio's default multi-threaded runtime (as the host's
//! `main` uses). It has none of the host's limits, gate or logging, so the
//! host's `/health` rate over this one's, measured in the same run, is what
//! those cost.
//!
//! Usage: `minimal-axum [ADDR]` (default `127.0.0.1:0`). It prints
//! `MINIMAL_LISTENING <addr>` on stdout once it accepts connections, and
//! runs until killed.

use axum::http::header;
use axum::routing::get;
use axum::Router;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:0".to_owned());
    let app = Router::new().route(
        "/health",
        get(|| async {
            (
                [(header::CONTENT_TYPE, "application/json")],
                r#"{"status":"ok"}"#,
            )
        }),
    );
    opsorch_minimal_axum::serve(&addr, app).await
}
