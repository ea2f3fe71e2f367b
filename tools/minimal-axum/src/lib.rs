//! What both reference servers share: binding, announcing the address and
//! serving with `axum::serve`.

use std::io::Write;

use axum::Router;

/// Binds `addr`, prints `MINIMAL_LISTENING <addr>` on stdout once it
/// accepts connections, and serves `app` until the process is killed.
pub async fn serve(addr: &str, app: Router) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "MINIMAL_LISTENING {}", listener.local_addr()?)?;
    out.flush()?;
    drop(out);
    axum::serve(listener, app).await
}
