//! Helpers shared by the stdio end-to-end suites (`stdio_*.rs`): fixture
//! paths, the host's child processes from `/proc`, bounded waits and
//! concurrent requests.

#![allow(dead_code)]

use std::time::Duration;

use opsorch_e2e::{binary, Host, Response};
use serde_json::Value;

/// The Go-style timestamp the fixtures send (`opsorch_stdio_fixtures::GO_TIME`).
pub const GO_TIME: &str = "2026-11-29T07:37:53.909586661Z";

/// The path of a fixture or plugin binary, as a string for the environment.
pub fn plugin(name: &str) -> String {
    binary(name).display().to_string()
}

/// The live (non-zombie) child processes of `pid`, from `/proc/*/stat`.
pub fn children(pid: u32) -> Vec<u32> {
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return found;
    };
    for entry in entries.flatten() {
        let Some(child) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        if let Some((state, ppid)) = stat(child) {
            if ppid == pid && state != 'Z' {
                found.push(child);
            }
        }
    }
    found.sort_unstable();
    found
}

/// The state letter and parent pid of `pid`.
fn stat(pid: u32) -> Option<(char, u32)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name is in parentheses and may itself contain spaces.
    let rest = &text[text.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace();
    let state = fields.next()?.chars().next()?;
    let ppid = fields.next()?.parse().ok()?;
    Some((state, ppid))
}

/// True once `pid` no longer exists (or is a zombie nobody reaped yet).
pub fn is_gone(pid: u32) -> bool {
    !matches!(stat(pid), Some((state, _)) if state != 'Z')
}

pub use opsorch_e2e::wait_until;

/// Runs `f(0..n)` on `n` threads at once and returns the results in order.
pub fn in_parallel<T: Send>(n: usize, f: impl Fn(usize) -> T + Sync) -> Vec<T> {
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..n)
            .map(|i| {
                scope.spawn({
                    let f = &f;
                    move || f(i)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("request thread panicked"))
            .collect()
    })
}

/// Asserts the status and returns the JSON body.
pub fn expect(response: &Response, status: u16) -> Value {
    assert_eq!(
        response.status,
        status,
        "unexpected status; body: {}",
        response.text()
    );
    response.json()
}

/// Asserts an error response's status and code; returns its message.
pub fn expect_error(response: &Response, status: u16, code: &str) -> String {
    let body = expect(response, status);
    assert_eq!(body["code"], code, "body: {body}");
    body["message"].as_str().unwrap_or_default().to_string()
}

/// Waits (bounded) until the host log contains a line with every needle.
pub fn log_line(host: &mut Host, needles: &[&str]) -> Option<String> {
    let mut found = None;
    wait_until(Duration::from_secs(5), || {
        found = host
            .stderr()
            .lines()
            .find(|line| needles.iter().all(|n| line.contains(n)))
            .map(str::to_owned);
        found.is_some()
    });
    found
}

/// `GET path` on a host by address (a `Host` cannot be shared across threads).
pub fn get(addr: std::net::SocketAddr, path: &str) -> Response {
    opsorch_e2e::http(addr, "GET", path, &[], None)
}

/// `POST path` with a JSON body on a host by address.
pub fn post(addr: std::net::SocketAddr, path: &str, body: &str) -> Response {
    opsorch_e2e::http(addr, "POST", path, &[], Some(body.as_bytes()))
}
