//! The server listening for real: HTTPS with rustls, graceful shutdown,
//! bind rules, the body limit before any byte of the body, the connection
//! cap, the exposure rule.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use opsorch_plugin_api::methods::Method;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::rustls;

use super::{bind_std, exposed_without_token, serve_until_shutdown, tls_config};
use crate::http::app;
use crate::log_capture::LogCapture;
use crate::providers::seam::{Json, Provider, ProviderFuture, ProviderRegistry};
use crate::providers::state::{AppState, HttpSettings};
use crate::settings::{ServerLimits, TlsFiles, FIXED};

/// How long [`exchange`] waits for a whole response: only a bound on a
/// hang; an answer takes milliseconds.
const REPLY_BOUND: Duration = Duration::from_secs(10);

/// A state with no provider in effect.
fn empty_state(http: HttpSettings) -> AppState {
    AppState::new(ProviderRegistry::new(), None, http)
}

/// A listener on `addr`, as start-up binds `OPSORCH_ADDR`.
fn bind(addr: &str) -> TcpListener {
    TcpListener::from_std(bind_std("OPSORCH_ADDR", addr).unwrap()).unwrap()
}

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn tls_files() -> TlsFiles {
    TlsFiles {
        cert: fixture("tls-cert.pem"),
        key: fixture("tls-key.pem"),
    }
}

/// Sends one HTTP/1.1 request with `Connection: close` and returns the raw
/// response; panics if the server has not closed the connection within
/// [`REPLY_BOUND`] (a bound on a hang, not a speed check).
async fn exchange<S: AsyncRead + AsyncWrite + Unpin>(mut stream: S, request_line: &str) -> String {
    let request =
        format!("{request_line} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    let read = stream.read_to_end(&mut raw);
    tokio::time::timeout(REPLY_BOUND, read)
        .await
        .unwrap_or_else(|_| panic!("{request_line}: not answered and closed"))
        .unwrap_or_default();
    String::from_utf8_lossy(&raw).into_owned()
}

/// Trusts only the test CA that signed the fixture certificate.
fn tls_client() -> tokio_rustls::TlsConnector {
    use rustls_pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls_pki_types::CertificateDer::pem_file_iter(fixture("test-ca.pem")).unwrap() {
        roots.add(cert.unwrap()).unwrap();
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    tokio_rustls::TlsConnector::from(Arc::new(config))
}

#[tokio::test]
async fn serves_https_and_stops_on_signal() {
    let listener = bind("127.0.0.1:0");
    let addr = listener.local_addr().unwrap();
    let tls = tls_config(&tls_files()).unwrap();
    let app = app(empty_state(HttpSettings::default()));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(serve_until_shutdown(
        listener,
        Some(tls),
        ServerLimits::default(),
        app,
        async {
            let _ = stopped.await;
        },
    ));

    let tcp = TcpStream::connect(addr).await.unwrap();
    let name = rustls_pki_types::ServerName::try_from("localhost").unwrap();
    let stream = tls_client()
        .connect(name, tcp)
        .await
        .expect("TLS handshake");
    let response = exchange(stream, "GET /health").await;
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(response.ends_with(r#"{"status":"ok"}"#), "{response}");

    // Plain HTTP on the TLS port gets no HTTP answer.
    let plain = TcpStream::connect(addr).await.unwrap();
    let response = tokio::time::timeout(Duration::from_secs(15), exchange(plain, "GET /health"))
        .await
        .unwrap();
    assert!(!response.contains("200 OK"), "{response}");

    stop.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(5), server)
        .await
        .expect("server stopped")
        .unwrap()
        .unwrap();
    // The port is closed.
    assert!(TcpStream::connect(addr).await.is_err());
}

/// Answers after a delay.
struct Slow;
impl Provider for Slow {
    fn call(&self, _: Method, _: String) -> ProviderFuture<'_> {
        Box::pin(async {
            tokio::time::sleep(Duration::from_millis(400)).await;
            Ok(Json::check(r#"[{"id":"late"}]"#).unwrap())
        })
    }
}

#[tokio::test]
async fn shutdown_lets_requests_in_flight_finish() {
    let listener = bind("127.0.0.1:0");
    let addr = listener.local_addr().unwrap();
    let state = empty_state(HttpSettings::default());
    state.set_provider(
        opsorch_plugin_api::methods::Capability::Incident,
        Some(Arc::new(Slow)),
    );
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(serve_until_shutdown(
        listener,
        None,
        ServerLimits::default(),
        app(state),
        async {
            let _ = stopped.await;
        },
    ));

    let stream = TcpStream::connect(addr).await.unwrap();
    let in_flight = tokio::spawn(exchange(stream, "GET /incidents/i1"));
    tokio::time::sleep(Duration::from_millis(100)).await;
    stop.send(()).unwrap();
    let response = in_flight.await.unwrap();
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(response.contains("late"), "{response}");
    tokio::time::timeout(Duration::from_secs(5), server)
        .await
        .expect("server stopped")
        .unwrap()
        .unwrap();
}

#[test]
fn tls_files_are_checked_without_quoting_them() {
    let err = tls_config(&TlsFiles {
        cert: fixture("missing.pem"),
        key: fixture("tls-key.pem"),
    })
    .unwrap_err();
    assert_eq!(err.variable, "OPSORCH_TLS_CERT_FILE");
    assert!(
        err.reason.starts_with("cannot read the certificate file: "),
        "{err}"
    );
    // The key is not a certificate.
    let err = tls_config(&TlsFiles {
        cert: fixture("tls-key.pem"),
        key: fixture("tls-key.pem"),
    })
    .unwrap_err();
    assert_eq!(err.variable, "OPSORCH_TLS_CERT_FILE");
    // The certificate is not a key.
    let err = tls_config(&TlsFiles {
        cert: fixture("tls-cert.pem"),
        key: fixture("tls-cert.pem"),
    })
    .unwrap_err();
    assert_eq!(err.variable, "OPSORCH_TLS_KEY_FILE");
    assert_eq!(err.reason, "no private key found in the file");
    let dir = tempfile::tempdir().unwrap();
    let garbage = dir.path().join("garbage.pem");
    std::fs::write(
        &garbage,
        "-----BEGIN PRIVATE KEY-----\nhunter2!!\n-----END PRIVATE KEY-----\n",
    )
    .unwrap();
    let err = tls_config(&TlsFiles {
        cert: fixture("tls-cert.pem"),
        key: garbage,
    })
    .unwrap_err();
    assert_eq!(err.variable, "OPSORCH_TLS_KEY_FILE");
    assert!(!err.to_string().contains("hunter2"), "{err}");
}

#[test]
fn bind_rules() {
    // `:PORT` means every interface.
    let any = bind_std("OPSORCH_ADDR", ":0").unwrap();
    assert!(any.local_addr().unwrap().ip().is_unspecified());
    let err = bind_std("OPSORCH_ADDR", ":http").unwrap_err();
    assert_eq!(err.variable, "OPSORCH_ADDR");
    let taken = bind_std("OPSORCH_ADDR", "127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let err = bind_std("OPSORCH_ADDR", &addr).unwrap_err();
    assert_eq!(err.variable, "OPSORCH_ADDR");
}

/// Serves `app` on 127.0.0.1 with `limits` (and TLS when asked) until the
/// returned sender is dropped.
async fn serve(
    app: axum::Router,
    limits: ServerLimits,
    tls: bool,
) -> (SocketAddr, tokio::sync::oneshot::Sender<()>) {
    let listener = bind("127.0.0.1:0");
    let addr = listener.local_addr().unwrap();
    let tls = tls.then(|| tls_config(&tls_files()).unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(serve_until_shutdown(listener, tls, limits, app, async {
        let _ = stopped.await;
    }));
    (addr, stop)
}

/// Reads until the server closes or `within` passes.
async fn read_all(stream: &mut TcpStream, within: Duration) -> Option<String> {
    let mut raw = Vec::new();
    tokio::time::timeout(within, stream.read_to_end(&mut raw))
        .await
        .ok()?
        .ok()?;
    Some(String::from_utf8_lossy(&raw).into_owned())
}

#[tokio::test]
async fn announced_length_over_the_limit_is_413_without_reading_the_body() {
    let http = HttpSettings {
        max_body_bytes: 1024,
        ..HttpSettings::default()
    };
    let (addr, _stop) = serve(app(empty_state(http)), ServerLimits::default(), false).await;
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(
            b"POST /incidents/query HTTP/1.1\r\nHost: localhost\r\nContent-Length: 100000000\r\n\r\n",
        )
        .await
        .unwrap();
    // Not a byte of the body follows; the answer must not wait for it.
    let started = Instant::now();
    let response = read_all(&mut stream, Duration::from_secs(5))
        .await
        .expect("answered and closed without the body");
    assert!(response.starts_with("HTTP/1.1 413"), "{response}");
    assert!(response.contains("payload_too_large"), "{response}");
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[test]
fn exposure_rule() {
    let addr = |s: &str| s.parse::<SocketAddr>().unwrap();
    for exposed in ["0.0.0.0:8080", "[::]:8080", "10.1.2.3:80", "192.168.0.2:1"] {
        assert!(exposed_without_token(addr(exposed), None), "{exposed}");
        assert!(
            !exposed_without_token(addr(exposed), Some("t")),
            "{exposed}"
        );
    }
    for local in ["127.0.0.1:8080", "127.0.0.2:1", "[::1]:8080"] {
        assert!(!exposed_without_token(addr(local), None), "{local}");
    }
}

#[tokio::test]
async fn connection_cap_holds_over_tls_and_frees_slots() {
    let _one_at_a_time = REFUSING.lock().await;
    let app = app(empty_state(HttpSettings::default()));
    let limits = ServerLimits {
        max_connections: 2,
        header_timeout: Duration::from_millis(300),
        ..ServerLimits::default()
    };
    let (addr, _stop) = serve(app, limits, true).await;
    // Two idle TCP connections (no handshake) take both slots.
    let idle = [
        TcpStream::connect(addr).await.unwrap(),
        TcpStream::connect(addr).await.unwrap(),
    ];
    tokio::time::sleep(Duration::from_millis(50)).await;
    // A third is closed at once, without a plain-text answer on a TLS port.
    let mut third = TcpStream::connect(addr).await.unwrap();
    let closed = read_all(&mut third, Duration::from_secs(2)).await;
    assert_eq!(closed.as_deref(), Some(""));
    // Once the idle ones go, a slot is free again (TLS handshake starts:
    // the server waits for a ClientHello instead of closing).
    drop(idle);
    let mut freed = false;
    for _ in 0..40 {
        let mut probe = TcpStream::connect(addr).await.unwrap();
        let mut buf = [0u8; 1];
        match tokio::time::timeout(Duration::from_millis(100), probe.read(&mut buf)).await {
            Err(_) => {
                freed = true;
                break;
            }
            Ok(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
    assert!(freed, "no slot was freed");
}

/// Held by the tests that make the server refuse connections: the refusal
/// log line of one, on a thread with no subscriber, is otherwise not seen
/// by the subscriber of the other (tracing's per-call-site filter state).
static REFUSING: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

#[tokio::test]
async fn plain_connections_over_the_cap_get_a_json_503_and_one_log_line() {
    let _one_at_a_time = REFUSING.lock().await;
    // `#[tokio::test]` runs the server's tasks on this thread, under this
    // subscriber.
    let logs = LogCapture::default();
    // A plain fmt subscriber: the host's own (startup::logging) is a higher
    // layer than http.
    let _guard = tracing::subscriber::set_default(
        tracing_subscriber::fmt()
            .with_ansi(false)
            .with_env_filter(tracing_subscriber::EnvFilter::new("debug"))
            .with_writer(logs.clone())
            .finish(),
    );
    let limits = ServerLimits {
        max_connections: 1,
        header_timeout: Duration::from_secs(5),
        ..ServerLimits::default()
    };
    let (addr, _stop) = serve(app(empty_state(HttpSettings::default())), limits, false).await;
    // One idle connection takes the only slot.
    let idle = TcpStream::connect(addr).await.unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    for _ in 0..3 {
        let mut over = TcpStream::connect(addr).await.unwrap();
        over.write_all(b"GET /health HTTP/1.1\r\nHost: localhost\r\n\r\n")
            .await
            .unwrap();
        // Read only once the server has answered and closed its side: the
        // answer must survive the close.
        tokio::time::sleep(Duration::from_millis(100)).await;
        let response = read_all(&mut over, REPLY_BOUND)
            .await
            .expect("answered and closed");
        let (head, body) = response.split_once("\r\n\r\n").expect("a whole response");
        assert!(head.starts_with("HTTP/1.1 503 "), "{response}");
        let head = head.to_ascii_lowercase();
        for line in [
            "content-type: application/json",
            "retry-after: 1",
            "connection: close",
            &format!("content-length: {}", body.len()),
        ] {
            assert!(head.contains(&format!("\r\n{line}")), "{line}: {response}");
        }
        let body: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(body["code"], "too_many_connections", "{response}");
    }
    // The refusals are logged once (then at most every 10 s), with the count.
    let text = logs.text();
    let lines: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("connection limit reached"))
        .collect();
    assert_eq!(lines.len(), 1, "{text}");
    assert!(lines[0].contains(" WARN "), "{text}");
    assert!(lines[0].contains(" refused=1 "), "{text}");
    assert!(lines[0].ends_with(" max_connections=1"), "{text}");
    // Once the idle connection goes, a fresh client is served.
    drop(idle);
    let mut served = false;
    for _ in 0..40 {
        let fresh = TcpStream::connect(addr).await.unwrap();
        if exchange(fresh, "GET /health")
            .await
            .starts_with("HTTP/1.1 200")
        {
            served = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(served, "no slot was freed");
}

#[tokio::test]
async fn the_stall_guard_passes_writes_flushes_and_shutdown_through() {
    use tokio::io::BufWriter;
    // A buffered writer underneath: only a flush passed through sends.
    let (near, mut far) = tokio::io::duplex(64);
    let mut guard = super::StallGuard::new(BufWriter::new(near), Duration::from_secs(5));
    guard.write_all(b"hello").await.unwrap();
    guard.flush().await.unwrap();
    let mut hello = [0u8; 5];
    tokio::time::timeout(REPLY_BOUND, far.read_exact(&mut hello))
        .await
        .expect("the flush reached the writer underneath")
        .unwrap();
    assert_eq!(&hello, b"hello");
    // More than the pipe holds goes through whole as the far end reads.
    let big: Vec<u8> = (0..4096u32).map(|i| i as u8).collect();
    let reader = tokio::spawn(async move {
        let mut got = Vec::new();
        far.read_to_end(&mut got).await.map(|_| got)
    });
    guard.write_all(&big).await.unwrap();
    // The shutdown reaches the far end as the end of the stream.
    guard.shutdown().await.unwrap();
    let got = tokio::time::timeout(REPLY_BOUND, reader)
        .await
        .expect("the shutdown reached the far end")
        .unwrap()
        .unwrap();
    assert_eq!(got, big);
}

#[tokio::test]
async fn the_stall_guard_fails_a_write_the_far_end_stops_reading() {
    let (near, _far) = tokio::io::duplex(64);
    let limit = Duration::from_millis(200);
    let mut guard = super::StallGuard::new(near, limit);
    let started = Instant::now();
    let err = tokio::time::timeout(REPLY_BOUND, guard.write_all(&[0u8; 4096]))
        .await
        .expect("the stalled write failed")
        .unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::TimedOut, "{err}");
    assert!(started.elapsed() >= limit);
}

/// Counts the times it is woken.
#[derive(Default)]
struct WakeCount(std::sync::atomic::AtomicUsize);

impl std::task::Wake for WakeCount {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }
}

impl WakeCount {
    fn woken(&self) -> usize {
        self.0.load(std::sync::atomic::Ordering::SeqCst)
    }
}

/// Polls a stop watch once with `waker`.
fn poll_watch(watch: &mut super::StopWatch, waker: &std::task::Waker) -> std::task::Poll<()> {
    let mut cx = std::task::Context::from_waker(waker);
    std::future::Future::poll(std::pin::Pin::new(watch), &mut cx)
}

#[test]
fn stopping_wakes_every_watching_connection_once_and_later_watches_see_it_at_once() {
    let signal = Arc::new(super::StopSignal::default());
    let counts = [
        Arc::new(WakeCount::default()),
        Arc::new(WakeCount::default()),
    ];
    let wakers = counts.clone().map(std::task::Waker::from);
    let mut watches = [signal.watch(), signal.watch()];
    for (watch, waker) in watches.iter_mut().zip(&wakers) {
        assert!(poll_watch(watch, waker).is_pending());
        // Polled again with the same waker: still waiting, nothing woken.
        assert!(poll_watch(watch, waker).is_pending());
    }
    assert_eq!(signal.lock_wakers().len(), 2);
    signal.stop();
    for count in &counts {
        assert_eq!(count.woken(), 1);
    }
    for (watch, waker) in watches.iter_mut().zip(&wakers) {
        assert!(poll_watch(watch, waker).is_ready());
    }
    let mut late = signal.watch();
    assert!(poll_watch(&mut late, &wakers[0]).is_ready());
}

#[test]
fn the_server_s_end_stops_its_connections_and_an_ended_connection_leaves_the_list() {
    let signal = Arc::new(super::StopSignal::default());
    let count = Arc::new(WakeCount::default());
    let waker = std::task::Waker::from(count.clone());
    let mut ended = signal.watch();
    assert!(poll_watch(&mut ended, &waker).is_pending());
    let mut open = signal.watch();
    assert!(poll_watch(&mut open, &waker).is_pending());
    assert_eq!(signal.lock_wakers().len(), 2);
    // A connection that ends takes its waker with it: the list does not
    // grow with every connection the server has had.
    drop(ended);
    assert_eq!(signal.lock_wakers().len(), 1);
    // The guard the server's future holds stops the rest when it goes.
    drop(super::StopOnDrop(signal.clone()));
    assert_eq!(count.woken(), 1);
    assert!(poll_watch(&mut open, &waker).is_ready());
    assert!(signal.lock_wakers().is_empty());
}

#[tokio::test]
async fn shutdown_closes_an_idle_keep_alive_connection_without_waiting_out_the_grace() {
    let listener = bind("127.0.0.1:0");
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(serve_until_shutdown(
        listener,
        None,
        ServerLimits::default(),
        app(empty_state(HttpSettings::default())),
        async {
            let _ = stopped.await;
        },
    ));
    // One whole exchange on a connection kept alive, which then sits idle.
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(b"GET /health HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .await
        .unwrap();
    let mut raw = Vec::new();
    let whole = async {
        let mut chunk = [0u8; 1024];
        loop {
            let n = stream.read(&mut chunk).await.unwrap();
            assert!(n > 0, "closed before the answer: {raw:?}");
            raw.extend_from_slice(&chunk[..n]);
            let text = String::from_utf8_lossy(&raw).to_string();
            if let Some((head, body)) = text.split_once("\r\n\r\n") {
                let length: usize = head
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length: "))
                    .expect("a content-length")
                    .parse()
                    .unwrap();
                if body.len() >= length {
                    return text;
                }
            }
        }
    };
    let answer = tokio::time::timeout(REPLY_BOUND, whole)
        .await
        .expect("answered");
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    stop.send(()).unwrap();
    // The server tells the idle connection to close at once: the shutdown
    // grace (FIXED.shutdown_grace, 20 s) is for requests in flight.
    assert!(FIXED.shutdown_grace > REPLY_BOUND);
    let mut byte = [0u8; 1];
    let read = tokio::time::timeout(REPLY_BOUND, stream.read(&mut byte))
        .await
        .expect("the idle connection was closed before the grace ran out");
    assert_eq!(read.unwrap(), 0, "closed without another byte");
    tokio::time::timeout(REPLY_BOUND, server)
        .await
        .expect("server stopped")
        .unwrap()
        .unwrap();
}
