//! Listening for real: HTTPS with rustls, graceful shutdown, bind rules.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use opsorch::http::server::{bind, serve_until_shutdown, tls_config};
use opsorch::settings::ServerLimits;
use opsorch::settings::TlsFiles;
use opsorch::{Provider, ProviderFuture};
use opsorch_plugin_api::methods::Method;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::rustls;

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
/// [`crate::support::REPLY_BOUND`] (a bound on a hang, not a speed check).
async fn exchange<S: AsyncRead + AsyncWrite + Unpin>(mut stream: S, request_line: &str) -> String {
    let request =
        format!("{request_line} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    let read = stream.read_to_end(&mut raw);
    tokio::time::timeout(crate::support::REPLY_BOUND, read)
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
    let listener = bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let tls = tls_config(&tls_files()).unwrap();
    let app = crate::support::app_with(&crate::support::FakeProvider::new());
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
            Ok(opsorch::providers::seam::Json::check(r#"[{"id":"late"}]"#).unwrap())
        })
    }
}

#[tokio::test]
async fn shutdown_lets_requests_in_flight_finish() {
    let listener = bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let state = opsorch::AppState::new(opsorch::ProviderRegistry::new(), None, Default::default());
    state.set_provider(
        opsorch_plugin_api::methods::Capability::Incident,
        Some(Arc::new(Slow)),
    );
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(serve_until_shutdown(
        listener,
        None,
        ServerLimits::default(),
        opsorch::app(state),
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

#[tokio::test]
async fn bind_rules() {
    // `:PORT` means every interface.
    let any = bind(":0").await.unwrap();
    assert!(any.local_addr().unwrap().ip().is_unspecified());
    let err = bind(":http").await.unwrap_err();
    assert_eq!(err.variable, "OPSORCH_ADDR");
    let taken = bind("127.0.0.1:0").await.unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let err = bind(&addr).await.unwrap_err();
    assert_eq!(err.variable, "OPSORCH_ADDR");
}
