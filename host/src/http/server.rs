//! Listening: plain TCP or HTTPS (rustls), connection limits, and graceful
//! shutdown.
//!
//! Connections are accepted here and served one task each by hyper's
//! HTTP/1.1 server, which gives the limits `axum::serve` does not expose:
//! a header read timeout (also the idle keep-alive timeout), a maximum
//! request head size, a cap on concurrent connections, and a stall timeout
//! on writes (see [`serve_until_shutdown`] and [`ServerLimits`]). TLS
//! handshakes run in the connection's own task, so one slow client cannot
//! hold up the others. On SIGTERM or SIGINT the server stops accepting,
//! lets requests in flight finish, and gives up after `FIXED.shutdown_grace`.

use std::future::Future;
use std::io::Write;
use std::net::SocketAddr;
use std::pin::{pin, Pin};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use std::convert::Infallible;

use axum::response::Response;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, OwnedSemaphorePermit, Semaphore};
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::TlsAcceptor;

use crate::settings::FIXED;
use crate::settings::{ConfigError, ServerLimits, Settings, TlsFiles};

/// What the server serves: a cloneable tower service from requests to
/// responses, such as [`crate::http::service`] or an axum `Router`.
pub trait App:
    tower_service::Service<
        hyper::Request<Incoming>,
        Response = Response,
        Error = Infallible,
        Future: Send + 'static,
    > + Clone
    + Send
    + Sync
    + 'static
{
}

impl<T> App for T where
    T: tower_service::Service<
            hyper::Request<Incoming>,
            Response = Response,
            Error = Infallible,
            Future: Send + 'static,
        > + Clone
        + Send
        + Sync
        + 'static
{
}

/// Binds `addr` for the variable `var` (its name is in the reason when it
/// fails), as a non-blocking std listener that a successor can inherit.
/// `:PORT` (no host) means every interface: IPv6 dual-stack when
/// available, else IPv4.
pub fn bind_std(var: &str, addr: &str) -> Result<std::net::TcpListener, ConfigError> {
    let fail = |e: std::io::Error| ConfigError::new(var, format!("cannot listen on {addr}: {e}"));
    let listener = if let Some(port) = addr.strip_prefix(':') {
        let port: u16 = port
            .parse()
            .map_err(|_| ConfigError::new(var, format!("invalid port in {addr}")))?;
        match std::net::TcpListener::bind(("::", port)) {
            Ok(listener) => listener,
            Err(_) => std::net::TcpListener::bind(("0.0.0.0", port)).map_err(fail)?,
        }
    } else {
        std::net::TcpListener::bind(addr).map_err(fail)?
    };
    listener.set_nonblocking(true).map_err(fail)?;
    Ok(listener)
}

/// Reads the certificate chain and key into a rustls server configuration.
/// Reasons never quote file content.
pub fn tls_config(files: &TlsFiles) -> Result<Arc<ServerConfig>, ConfigError> {
    let pem_reason = |what: &str, e: rustls_pki_types::pem::Error| match e {
        rustls_pki_types::pem::Error::Io(io) => format!("cannot read the {what} file: {io}"),
        rustls_pki_types::pem::Error::NoItemsFound => format!("no {what} found in the file"),
        _ => format!("the {what} file is not valid PEM"),
    };
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&files.cert)
        .map_err(|e| ConfigError::new("OPSORCH_TLS_CERT_FILE", pem_reason("certificate", e)))?
        .collect::<Result<_, _>>()
        .map_err(|e| ConfigError::new("OPSORCH_TLS_CERT_FILE", pem_reason("certificate", e)))?;
    if certs.is_empty() {
        return Err(ConfigError::new(
            "OPSORCH_TLS_CERT_FILE",
            "no certificate found in the file",
        ));
    }
    let key = PrivateKeyDer::from_pem_file(&files.key)
        .map_err(|e| ConfigError::new("OPSORCH_TLS_KEY_FILE", pem_reason("private key", e)))?;
    let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| ConfigError::new("OPSORCH_TLS_CERT_FILE", e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| {
            ConfigError::new(
                "OPSORCH_TLS_KEY_FILE",
                format!("the key does not fit the certificate: {e}"),
            )
        })?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// Resolves on SIGTERM or SIGINT.
pub async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = interrupt => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = interrupt.await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = interrupt.await;
    }
}

/// Whether serving on `addr` without a bearer token exposes the API beyond
/// this machine.
pub fn exposed_without_token(addr: SocketAddr, bearer_token: Option<&str>) -> bool {
    bearer_token.is_none() && !addr.ip().is_loopback()
}

/// Why the server stops accepting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// SIGTERM or SIGINT: requests in flight finish (at most
    /// `FIXED.shutdown_grace`), idle connections close at once.
    Terminate,
    /// A successor has taken over the listener: every connection gets
    /// `Connection: close` on its next response and ends by itself; those
    /// left after the header timeout are shut down as for `Terminate`,
    /// bounded by the request timeout.
    HandOver,
}

/// Serves `app` on `listener` (already bound, or inherited) until `stop`
/// resolves; `ready` runs once the listener accepts.
///
/// The address is logged and also printed on stdout as
/// `OPSORCH_LISTENING <addr>`, so that callers using port 0, and a host
/// waiting for its successor, can find it.
pub async fn run(
    settings: &Settings,
    listener: std::net::TcpListener,
    app: impl App,
    stop: impl Future<Output = Stop> + Send + 'static,
    ready: impl FnOnce(SocketAddr),
) -> anyhow::Result<()> {
    let tls = settings.tls.as_ref().map(tls_config).transpose()?;
    let listener = TcpListener::from_std(listener)?;
    let addr = listener.local_addr()?;
    let scheme = if tls.is_some() { "https" } else { "http" };
    if exposed_without_token(addr, settings.bearer_token.as_deref()) {
        tracing::warn!(
            "UNAUTHENTICATED API on {addr}: OPSORCH_BEARER_TOKEN is not set and the address is \
             not loopback, so anyone who can reach it can read operational data and change \
             provider configuration (including credentials) through POST /providers; set \
             OPSORCH_BEARER_TOKEN or listen on 127.0.0.1"
        );
    }
    let limits = &settings.limits;
    tracing::info!(
        header_timeout_ms = limits.header_timeout.as_millis() as u64,
        max_header_bytes = limits.max_header_bytes,
        max_connections = limits.max_connections,
        write_timeout_ms = limits.write_timeout.as_millis() as u64,
        request_timeout_ms = settings.request_timeout.as_millis() as u64,
        max_body_bytes = settings.max_body_bytes,
        "listening on {addr} ({scheme})"
    );
    ready(addr);
    {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "OPSORCH_LISTENING {addr}");
        let _ = out.flush();
    }
    let handover_limit = limits.header_timeout + settings.request_timeout;
    serve_with_stop(listener, tls, limits.clone(), app, stop, handover_limit).await
}

/// The body of the answer to a connection over the cap (plain HTTP only).
const REFUSAL_BODY: &str = r#"{"code":"too_many_connections","message":"the server is at its connection limit; retry shortly"}"#;

fn refusal() -> Vec<u8> {
    format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\nretry-after: 1\r\n\
         connection: close\r\ncontent-length: {}\r\n\r\n{REFUSAL_BODY}",
        REFUSAL_BODY.len()
    )
    .into_bytes()
}

/// Serves connections from `listener` (over TLS with `tls`) until `signal`
/// resolves, then drains for at most `FIXED.shutdown_grace`.
///
/// Each connection is HTTP/1.1 served by hyper with the [`ServerLimits`]:
/// headers must arrive within `header_timeout` (which also closes idle
/// kept-alive connections), a request head over `max_header_bytes` gets
/// 431, a write that stalls for `write_timeout` closes the connection, and
/// at most `max_connections` are served at once (TLS handshakes included).
/// A connection over the cap is answered 503 `too_many_connections` and
/// closed (over TLS it is closed at once).
pub async fn serve_until_shutdown<A: App>(
    listener: TcpListener,
    tls: Option<Arc<ServerConfig>>,
    limits: ServerLimits,
    app: A,
    signal: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let stop = async move {
        signal.await;
        Stop::Terminate
    };
    serve_with_stop(listener, tls, limits, app, stop, FIXED.shutdown_grace).await
}

/// [`serve_until_shutdown`], stopping as `stop` says; after a
/// [`Stop::HandOver`] the drain lasts at most `handover_limit`.
pub async fn serve_with_stop(
    listener: TcpListener,
    tls: Option<Arc<ServerConfig>>,
    limits: ServerLimits,
    app: impl App,
    stop: impl Future<Output = Stop> + Send + 'static,
    handover_limit: Duration,
) -> anyhow::Result<()> {
    let acceptor = tls.map(TlsAcceptor::from);
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let refusals = Arc::new(Semaphore::new(FIXED.refusals_in_flight));
    let refused_log = Arc::new(RefusalLog::default());
    let header_timeout = limits.header_timeout;
    let limits = Arc::new(limits);
    // Set once a successor has taken over: every response then says
    // `Connection: close`, so clients move to the successor between two
    // requests instead of finding their connection closed under them.
    let closing = Arc::new(AtomicBool::new(false));
    let app = {
        let closing = Arc::clone(&closing);
        tower::ServiceExt::map_response(app, move |response| {
            close_when_handed_over(&closing, response)
        })
    };
    // Connections watch `stopping` (which also stops them if this future
    // is dropped); each holds a clone of `alive`, so `alive_tx.closed()`
    // resolves once all of them have ended.
    let stopping = Arc::new(StopSignal::default());
    let _stop_when_dropped = StopOnDrop(Arc::clone(&stopping));
    let (alive_tx, alive) = watch::channel(());
    let mut stop = pin!(stop);

    let why = loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(e) if is_connection_error(&e) => continue,
                Err(e) => {
                    // Most likely out of file descriptors: wait rather than spin.
                    tracing::error!(error = %e, retry_ms = FIXED.accept_retry.as_millis() as u64,
                        "cannot accept connections; retrying");
                    tokio::select! {
                        _ = tokio::time::sleep(FIXED.accept_retry) => continue,
                        why = &mut stop => break why,
                    }
                }
            },
            why = &mut stop => break why,
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            refused_log.note(limits.max_connections);
            refuse(stream, acceptor.is_none(), &refusals);
            continue;
        };
        let _ = stream.set_nodelay(true);
        let connection = Connection {
            app: app.clone(),
            limits: Arc::clone(&limits),
            stopping: stopping.watch(),
            _alive: alive.clone(),
            _slot: slot,
        };
        let acceptor = acceptor.clone();
        tokio::spawn(async move {
            match acceptor {
                None => connection.serve(stream, peer).await,
                Some(acceptor) => connection.serve_tls(acceptor, stream, peer).await,
            }
        });
    };

    drop(listener);
    drop(alive);
    let grace = match why {
        Stop::Terminate => {
            tracing::info!("shutting down: no new connections, finishing requests in flight");
            FIXED.shutdown_grace
        }
        Stop::HandOver => {
            tracing::info!("handed over: no new connections, closing each after its next response");
            closing.store(true, Ordering::Release);
            // Idle connections end at the header timeout by themselves.
            let soft = header_timeout.min(handover_limit);
            if tokio::time::timeout(soft, alive_tx.closed()).await.is_ok() {
                tracing::info!("stopped");
                return Ok(());
            }
            handover_limit
                .saturating_sub(soft)
                .max(FIXED.handover_min_drain)
        }
    };
    stopping.stop();
    if tokio::time::timeout(grace, alive_tx.closed())
        .await
        .is_err()
    {
        tracing::warn!("requests still in flight after {grace:?}; stopping anyway");
    } else {
        tracing::info!("stopped");
    }
    Ok(())
}

/// Adds `Connection: close` once the host has handed over.
fn close_when_handed_over(
    closing: &AtomicBool,
    mut response: axum::response::Response,
) -> axum::response::Response {
    if closing.load(Ordering::Acquire) {
        response.headers_mut().insert(
            axum::http::header::CONNECTION,
            axum::http::HeaderValue::from_static("close"),
        );
    }
    response
}

/// Accept errors that concern one connection only (as hyper and axum
/// treat them): skip it and go on.
fn is_connection_error(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::ConnectionRefused
            | std::io::ErrorKind::ConnectionAborted
            | std::io::ErrorKind::ConnectionReset
    )
}

/// Answers a connection over the cap with a 503 (plain HTTP) and closes
/// it, in a bounded task; when too many are being answered, or over TLS,
/// closes it at once.
fn refuse(stream: TcpStream, plain: bool, refusals: &Arc<Semaphore>) {
    if !plain {
        return;
    }
    let Ok(permit) = refusals.clone().try_acquire_owned() else {
        return;
    };
    tokio::spawn(async move {
        let _permit = permit;
        let mut stream = stream;
        let _ = tokio::time::timeout(FIXED.refusal_timeout, async {
            stream.write_all(&refusal()).await?;
            stream.shutdown().await?;
            // Read what the client sent, so that closing does not reset the
            // connection before it has read the answer.
            let mut sink = [0u8; 4096];
            let mut drained = 0;
            while drained < 64 << 10 {
                match stream.read(&mut sink).await? {
                    0 => break,
                    n => drained += n,
                }
            }
            Ok::<_, std::io::Error>(())
        })
        .await;
    });
}

/// Logs refused connections: the first at once, then at most one line per
/// `FIXED.refusal_log_every` with the count since the last line.
#[derive(Default)]
struct RefusalLog {
    state: std::sync::Mutex<(u64, Option<Instant>)>,
}

impl RefusalLog {
    fn note(&self, cap: usize) {
        let mut state = self
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        state.0 += 1;
        let due = state
            .1
            .is_none_or(|at| at.elapsed() >= FIXED.refusal_log_every);
        if due {
            tracing::warn!(
                refused = state.0,
                max_connections = cap,
                "connection limit reached; refusing new connections (OPSORCH_MAX_CONNECTIONS)"
            );
            *state = (0, Some(Instant::now()));
        }
    }
}

/// Tells every connection that the server is stopping.
///
/// A connection checks it each time its task wakes up, so that check must
/// cost next to nothing: one atomic load, and the task's waker is
/// registered once (again only if it changes), not on every wake-up. (A
/// `tokio::sync::watch` receiver locks the channel's waiter list at each
/// poll, a lock all connections share.)
#[derive(Default)]
struct StopSignal {
    stopping: AtomicBool,
    /// The waker of each connection that has been polled, by its id.
    wakers: std::sync::Mutex<std::collections::HashMap<u64, Waker>>,
    next_id: AtomicU64,
}

impl StopSignal {
    /// Sets the signal and wakes every connection watching it.
    fn stop(&self) {
        self.stopping.store(true, Ordering::SeqCst);
        let wakers = std::mem::take(&mut *self.lock_wakers());
        for waker in wakers.into_values() {
            waker.wake();
        }
    }

    /// A watch for one connection.
    fn watch(self: &Arc<Self>) -> StopWatch {
        StopWatch {
            signal: Arc::clone(self),
            id: self.next_id.fetch_add(1, Ordering::Relaxed),
            registered: None,
        }
    }

    fn lock_wakers(&self) -> std::sync::MutexGuard<'_, std::collections::HashMap<u64, Waker>> {
        // Only map updates happen under the lock.
        self.wakers
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Stops the connections when the server's future ends, however it ends.
struct StopOnDrop(Arc<StopSignal>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.stop();
    }
}

/// One connection's view of the [`StopSignal`]: a future that resolves
/// once the server is stopping (or gone).
struct StopWatch {
    signal: Arc<StopSignal>,
    id: u64,
    /// The waker last registered.
    registered: Option<Waker>,
}

impl Future for StopWatch {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.signal.stopping.load(Ordering::Acquire) {
            return Poll::Ready(());
        }
        if self
            .registered
            .as_ref()
            .is_some_and(|w| w.will_wake(cx.waker()))
        {
            return Poll::Pending;
        }
        let waker = cx.waker().clone();
        self.signal.lock_wakers().insert(self.id, waker.clone());
        self.registered = Some(waker);
        // `stop` may have taken the wakers just before this one went in.
        if self.signal.stopping.load(Ordering::Acquire) {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }
}

impl Drop for StopWatch {
    fn drop(&mut self) {
        if self.registered.is_some() {
            self.signal.lock_wakers().remove(&self.id);
        }
    }
}

/// One accepted connection and what it holds until it ends.
struct Connection<A> {
    app: A,
    limits: Arc<ServerLimits>,
    stopping: StopWatch,
    /// Dropped when the connection ends; shutdown waits for all of them.
    _alive: watch::Receiver<()>,
    /// Its place under the connection cap.
    _slot: OwnedSemaphorePermit,
}

impl<A: App> Connection<A> {
    async fn serve_tls(mut self, acceptor: TlsAcceptor, stream: TcpStream, peer: SocketAddr) {
        let handshake = tokio::time::timeout(FIXED.tls_handshake_timeout, acceptor.accept(stream));
        let tls = tokio::select! {
            done = handshake => match done {
                Ok(Ok(tls)) => tls,
                Ok(Err(e)) => {
                    tracing::debug!(%peer, error = %e, "TLS handshake failed");
                    return;
                }
                Err(_) => {
                    tracing::debug!(%peer, "TLS handshake timed out");
                    return;
                }
            },
            _ = &mut self.stopping => return,
        };
        self.serve(tls, peer).await
    }

    async fn serve<IO>(mut self, io: IO, peer: SocketAddr)
    where
        IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let io = TokioIo::new(StallGuard::new(io, self.limits.write_timeout));
        let service = TowerToHyperService::new(self.app.clone());
        let mut builder = http1::Builder::new();
        builder
            .timer(TokioTimer::new())
            .header_read_timeout(self.limits.header_timeout)
            .max_header_size(self.limits.max_header_bytes)
            .keep_alive(true);
        let connection = builder.serve_connection(io, service);
        let mut connection = pin!(connection);
        // Not `tokio::select!`: it polls both futures in a random order on
        // every wake-up; the stop signal costs one load here.
        let mut graceful = false;
        let result = std::future::poll_fn(|cx| {
            if !graceful && Pin::new(&mut self.stopping).poll(cx).is_ready() {
                graceful = true;
                connection.as_mut().graceful_shutdown();
            }
            connection.as_mut().poll(cx)
        })
        .await;
        if let Err(e) = result {
            tracing::debug!(%peer, error = %e, "connection ended with an error");
        }
    }
}

/// Fails a write (or flush) that has made no progress for `limit`: a client
/// that stopped reading its response must not hold a connection forever.
struct StallGuard<IO> {
    io: IO,
    limit: Duration,
    stalled: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl<IO> StallGuard<IO> {
    fn new(io: IO, limit: Duration) -> Self {
        StallGuard {
            io,
            limit,
            stalled: None,
        }
    }

    /// Called when the inner write is pending: starts the clock, or reports
    /// that it ran out.
    fn check_stall(&mut self, cx: &mut Context<'_>) -> Poll<std::io::Error> {
        let limit = self.limit;
        let sleep = self
            .stalled
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(limit)));
        match sleep.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "the client stopped reading",
            )),
            Poll::Pending => Poll::Pending,
        }
    }

    fn progress<T>(
        &mut self,
        poll: Poll<std::io::Result<T>>,
        cx: &mut Context<'_>,
    ) -> Poll<std::io::Result<T>> {
        match poll {
            Poll::Ready(result) => {
                self.stalled = None;
                Poll::Ready(result)
            }
            Poll::Pending => self.check_stall(cx).map(Err),
        }
    }
}

impl<IO: AsyncRead + Unpin> AsyncRead for StallGuard<IO> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl<IO: AsyncWrite + Unpin> AsyncWrite for StallGuard<IO> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let poll = Pin::new(&mut self.io).poll_write(cx, buf);
        self.progress(poll, cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let poll = Pin::new(&mut self.io).poll_write_vectored(cx, bufs);
        self.progress(poll, cx)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        let poll = Pin::new(&mut self.io).poll_flush(cx);
        self.progress(poll, cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        let poll = Pin::new(&mut self.io).poll_shutdown(cx);
        self.progress(poll, cx)
    }
}

#[cfg(test)]
#[path = "server_tests.rs"]
mod tests;
