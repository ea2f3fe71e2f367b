//! Raw-socket helpers shared by the hardening tests: requests no well-behaved
//! client would send, and bounded waits for what the server does with them.
#![allow(dead_code)] // Each topic uses a different subset.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use opsorch_e2e::{parse_response, Response};

/// `OPSORCH_<CAP>_PROVIDER=mock` for every routed capability.
pub const ALL_MOCK: [(&str, &str); 10] = [
    ("OPSORCH_INCIDENT_PROVIDER", "mock"),
    ("OPSORCH_ALERT_PROVIDER", "mock"),
    ("OPSORCH_LOG_PROVIDER", "mock"),
    ("OPSORCH_METRIC_PROVIDER", "mock"),
    ("OPSORCH_TICKET_PROVIDER", "mock"),
    ("OPSORCH_MESSAGING_PROVIDER", "mock"),
    ("OPSORCH_SERVICE_PROVIDER", "mock"),
    ("OPSORCH_DEPLOYMENT_PROVIDER", "mock"),
    ("OPSORCH_TEAM_PROVIDER", "mock"),
    ("OPSORCH_ORCHESTRATION_PROVIDER", "mock"),
];

/// A connection with bounded reads.
pub fn connect(addr: SocketAddr) -> TcpStream {
    let stream = TcpStream::connect(addr).expect("connect to opsorch");
    stream
        .set_read_timeout(Some(Duration::from_millis(200)))
        .expect("read timeout");
    stream
        .set_write_timeout(Some(Duration::from_secs(10)))
        .expect("write timeout");
    stream
}

/// Reads one response (headers, then `Content-Length` bytes or until the
/// server closes), giving up after `within`. `None` when nothing complete
/// arrived in time or the connection closed first.
pub fn read_response(stream: &mut TcpStream, within: Duration) -> Option<Response> {
    let deadline = Instant::now() + within;
    let mut raw = Vec::new();
    let mut buf = [0u8; 16 << 10];
    let mut closed = false;
    while Instant::now() < deadline {
        if let Some(end) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&raw[..end]).to_ascii_lowercase();
            let length = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse::<usize>().ok());
            match length {
                Some(n) if raw.len() >= end + 4 + n => {
                    raw.truncate(end + 4 + n);
                    return Some(parse_response(&raw));
                }
                None if closed => return Some(parse_response(&raw)),
                _ => {}
            }
        }
        if closed {
            return None;
        }
        match stream.read(&mut buf) {
            Ok(0) => closed = true,
            Ok(n) => raw.extend_from_slice(&buf[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(_) => closed = true,
        }
    }
    None
}

/// Whether the server closes `stream` within `within` (bytes it sends
/// first are ignored). Returns how long it took.
pub fn closed_within(stream: &mut TcpStream, within: Duration) -> Option<Duration> {
    let started = Instant::now();
    let mut buf = [0u8; 4096];
    while started.elapsed() < within {
        match stream.read(&mut buf) {
            Ok(0) => return Some(started.elapsed()),
            Ok(_) => {}
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(_) => return Some(started.elapsed()),
        }
    }
    None
}

/// Sends raw bytes on a fresh connection and reads one response.
pub fn exchange(addr: SocketAddr, bytes: &[u8], within: Duration) -> Option<Response> {
    let mut stream = connect(addr);
    // The server may answer and close before it has read everything.
    let _ = stream.write_all(bytes);
    read_response(&mut stream, within)
}

/// A request head for `method path` with `Connection: close` and the given
/// extra header lines (each without CRLF).
pub fn head(method: &str, path: &str, extra: &[String]) -> Vec<u8> {
    let mut text = format!("{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n");
    for line in extra {
        text.push_str(line);
        text.push_str("\r\n");
    }
    text.push_str("\r\n");
    text.into_bytes()
}

/// A complete request with a body and `Content-Length`.
pub fn with_body(method: &str, path: &str, body: &[u8]) -> Vec<u8> {
    let mut bytes = head(
        method,
        path,
        &[
            "Content-Type: application/json".into(),
            format!("Content-Length: {}", body.len()),
        ],
    );
    bytes.extend_from_slice(body);
    bytes
}
