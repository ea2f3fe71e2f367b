//! Listening: plain TCP or HTTPS (rustls), and graceful shutdown.
//!
//! HTTPS uses tokio-rustls behind axum's own `serve` through a small
//! [`Listener`] that completes handshakes in their own tasks, so one slow
//! client cannot hold up the others and both modes share one serving and
//! shutdown path. On SIGTERM or SIGINT the server stops accepting, lets
//! requests in flight finish, and gives up after [`SHUTDOWN_GRACE`].

use std::io::Write;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::serve::Listener;
use axum::Router;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;

use crate::config::{ConfigError, Settings, TlsFiles};

/// How long requests in flight may run after a shutdown signal.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(20);

/// How long a client may take to finish a TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Binds `OPSORCH_ADDR`. `:PORT` (no host) means every interface: IPv6
/// dual-stack when available, else IPv4.
pub async fn bind(addr: &str) -> Result<TcpListener, ConfigError> {
    let fail = |e: std::io::Error| {
        ConfigError::new("OPSORCH_ADDR", format!("cannot listen on {addr}: {e}"))
    };
    if let Some(port) = addr.strip_prefix(':') {
        let port: u16 = port
            .parse()
            .map_err(|_| ConfigError::new("OPSORCH_ADDR", format!("invalid port in {addr}")))?;
        match TcpListener::bind(("::", port)).await {
            Ok(listener) => Ok(listener),
            Err(_) => TcpListener::bind(("0.0.0.0", port)).await.map_err(fail),
        }
    } else {
        TcpListener::bind(addr).await.map_err(fail)
    }
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

/// Accepts TCP connections and hands out those that completed a TLS
/// handshake.
pub struct TlsListener {
    ready: mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
    local: SocketAddr,
}

impl TlsListener {
    pub fn new(mut tcp: TcpListener, config: Arc<ServerConfig>) -> std::io::Result<Self> {
        let local = tcp.local_addr()?;
        let (tx, ready) = mpsc::channel(64);
        let acceptor = TlsAcceptor::from(config);
        tokio::spawn(async move {
            loop {
                let (stream, peer) = tokio::select! {
                    accepted = Listener::accept(&mut tcp) => accepted,
                    // The server dropped the listener: stop accepting.
                    _ = tx.closed() => return,
                };
                let acceptor = acceptor.clone();
                let tx = tx.clone();
                tokio::spawn(async move {
                    match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                        Ok(Ok(tls)) => {
                            let _ = tx.send((tls, peer)).await;
                        }
                        Ok(Err(e)) => tracing::debug!(%peer, error = %e, "TLS handshake failed"),
                        Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
                    }
                });
            }
        });
        Ok(TlsListener { ready, local })
    }
}

impl Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.ready.recv().await {
            Some(conn) => conn,
            // The accept loop only ends once we are dropped; never resolve.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        Ok(self.local)
    }
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

/// Binds, announces the address and serves `app` until a shutdown signal.
///
/// The bound address is logged and also printed on stdout as
/// `OPSORCH_LISTENING <addr>`, so that callers using port 0 can find it.
pub async fn run(settings: &Settings, app: Router) -> anyhow::Result<()> {
    let tls = settings.tls.as_ref().map(tls_config).transpose()?;
    let listener = bind(&settings.addr).await?;
    let addr = listener.local_addr()?;
    let scheme = if tls.is_some() { "https" } else { "http" };
    tracing::info!("listening on {addr} ({scheme})");
    {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "OPSORCH_LISTENING {addr}");
        let _ = out.flush();
    }
    match tls {
        None => serve_until_shutdown(listener, app, shutdown_signal()).await,
        Some(config) => {
            serve_until_shutdown(TlsListener::new(listener, config)?, app, shutdown_signal()).await
        }
    }
}

/// Serves until `signal` resolves, then drains for at most [`SHUTDOWN_GRACE`].
pub async fn serve_until_shutdown<L>(
    listener: L,
    app: Router,
    signal: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()>
where
    L: Listener,
    L::Addr: std::fmt::Debug,
{
    let (stopping_tx, mut stopping) = tokio::sync::watch::channel(false);
    let graceful = axum::serve(listener, app).with_graceful_shutdown(async move {
        signal.await;
        tracing::info!("shutting down: no new connections, finishing requests in flight");
        let _ = stopping_tx.send(true);
    });
    let deadline = async move {
        let _ = stopping.wait_for(|s| *s).await;
        tokio::time::sleep(SHUTDOWN_GRACE).await;
    };
    tokio::select! {
        result = graceful => {
            result?;
            tracing::info!("stopped");
        }
        _ = deadline => {
            tracing::warn!("requests still in flight after {SHUTDOWN_GRACE:?}; stopping anyway");
        }
    }
    Ok(())
}
