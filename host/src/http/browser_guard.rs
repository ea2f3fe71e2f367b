//! What keeps web pages from driving a host that has no bearer token.
//!
//! A browser sends a cross-origin `POST` with `Content-Type: text/plain`
//! without a preflight, and a page on a rebound DNS name reaches a loopback
//! listener as if it were its own origin. Without a token nothing else
//! stands in the way, so on a token-less host the request gate applies
//! [`check`] before anything else:
//!
//! - **Origin.** A request that carries an `Origin` header (only browsers
//!   send one) passes only when that origin is the one `OPSORCH_CORS_ORIGIN`
//!   names; `*` names none. Otherwise 403 `origin_not_allowed`. Clients
//!   without `Origin` (curl, MCP servers, server-side code) are unaffected.
//! - **Host.** When the host listens on loopback only, or
//!   `OPSORCH_ALLOWED_HOSTS` is set, the `Host` header must name a loopback
//!   address, `localhost` (or a name under `.localhost`), or one of
//!   `OPSORCH_ALLOWED_HOSTS`. Otherwise 403 `host_not_allowed`: a DNS
//!   rebinding page sends its own name. A request without `Host` is not
//!   from a browser and passes.
//!
//! With a bearer token set, neither check applies: a page cannot attach the
//! token, and a client that has it may call from anywhere.

use axum::http::{header, HeaderMap};

use crate::providers::state::HttpSettings;
use crate::settings::{host_name_part, is_loopback_name};

/// Why a browser request was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BrowserRefusal {
    /// `Origin` present and not the allowed one.
    Origin,
    /// `Host` names something other than loopback or an allowed host.
    Host,
}

/// Checks a request's `Origin` and `Host` headers against `http`, for a
/// host without a bearer token.
pub fn check(http: &HttpSettings, headers: &HeaderMap) -> Result<(), BrowserRefusal> {
    if let Some(origin) = headers.get(header::ORIGIN) {
        let allowed = http.cors_origin.trim();
        if allowed == "*" || !allowed.as_bytes().eq_ignore_ascii_case(origin.as_bytes()) {
            return Err(BrowserRefusal::Origin);
        }
    }
    if http.check_host {
        if let Some(host) = headers.get(header::HOST) {
            let name = host.to_str().map(host_name_part).unwrap_or_default();
            let allowed = is_loopback_name(name)
                || http
                    .allowed_hosts
                    .iter()
                    .any(|h| h.eq_ignore_ascii_case(name));
            if !allowed {
                return Err(BrowserRefusal::Host);
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::context::headers;

    fn http(cors_origin: &str, allowed_hosts: &[&str], check_host: bool) -> HttpSettings {
        HttpSettings {
            cors_origin: cors_origin.into(),
            allowed_hosts: allowed_hosts.iter().map(|h| h.to_string()).collect(),
            check_host,
            ..HttpSettings::default()
        }
    }

    #[test]
    fn origins_need_naming_and_star_names_none() {
        let open = http("*", &[], false);
        assert_eq!(check(&open, &headers(&[])), Ok(()));
        assert_eq!(
            check(&open, &headers(&[("origin", "https://evil.example")])),
            Err(BrowserRefusal::Origin)
        );
        let ui = http("http://ui:3000", &[], false);
        assert_eq!(
            check(&ui, &headers(&[("origin", "http://ui:3000")])),
            Ok(())
        );
        assert_eq!(
            check(&ui, &headers(&[("origin", "HTTP://UI:3000")])),
            Ok(())
        );
        for bad in ["http://ui:3001", "null", "*"] {
            assert_eq!(
                check(&ui, &headers(&[("origin", bad)])),
                Err(BrowserRefusal::Origin),
                "{bad}"
            );
        }
    }

    #[test]
    fn checked_hosts_must_be_loopback_or_listed() {
        let local = http("*", &[], true);
        for ok in [
            "localhost:8080",
            "LOCALHOST",
            "localhost.",
            "app.localhost:1",
            "127.0.0.1:8080",
            "127.9.9.9",
            "[::1]:8080",
            "[::1]",
        ] {
            assert_eq!(check(&local, &headers(&[("host", ok)])), Ok(()), "{ok}");
        }
        for bad in [
            "rebind.attacker.example:8080",
            "localhost.attacker.example",
            "10.0.0.1:8080",
            "[::2]:80",
            "",
        ] {
            assert_eq!(
                check(&local, &headers(&[("host", bad)])),
                Err(BrowserRefusal::Host),
                "{bad}"
            );
        }
        let listed = http("*", &["opsorch.internal"], true);
        assert_eq!(
            check(&listed, &headers(&[("host", "opsorch.INTERNAL:80")])),
            Ok(())
        );
        assert_eq!(
            check(&listed, &headers(&[("host", "other:80")])),
            Err(BrowserRefusal::Host)
        );
        // Not checked: service names work.
        let all = http("*", &[], false);
        assert_eq!(check(&all, &headers(&[("host", "opsorch:8080")])), Ok(()));
    }
}
