//! The upstream part of a provider's configuration (the JSON object from
//! `OPSORCH_<CAP>_CONFIG`): base URL, credentials, CA file, timeout and
//! answer size limit, and a typed reader for the adapter's own keys.
//!
//! Unknown keys are ignored (operators share one config between adapters);
//! a known key with the wrong type or an invalid value is `bad_request`,
//! found when the provider is built. Secrets (`bearerToken`, `password`) are
//! held in [`Secret`], whose `Debug` never shows them, and no error message
//! quotes a secret or a URL path (webhook URLs carry their token in the path).

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use opsorch_plugin_api::{Config, Error, Result};
use serde_json::Value;

/// Default per-call timeout.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// Default cap on an upstream answer's size.
pub const DEFAULT_MAX_RESPONSE_BYTES: usize = 16 * 1024 * 1024;

/// A secret string; `Debug` and `Display` print `<redacted>`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    /// The secret itself, for building an `Authorization` header only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// How the adapter authenticates to the upstream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Auth {
    None,
    Bearer(Secret),
    Basic { username: String, password: Secret },
}

/// An upstream base URL: `http` or `https`, no query, no fragment, no user
/// info, without a trailing slash (a path prefix is kept).
#[derive(Clone, PartialEq, Eq)]
pub struct BaseUrl {
    /// The whole URL, e.g. `https://prom.example.com/prometheus`.
    full: String,
    /// `scheme://host[:port]`, the only part errors and logs show.
    origin: String,
}

impl BaseUrl {
    /// Parses and checks a base URL; `key` names the config key in errors.
    /// The error never repeats the URL (it may hold a token).
    pub fn parse(key: &str, raw: &str) -> Result<BaseUrl> {
        BaseUrl::parse_with(key, raw, false)
    }

    /// Like [`BaseUrl::parse`], but the URL is kept exactly as given, query
    /// and trailing slash included: for endpoints such as webhooks that are
    /// called as they are, never joined with a path.
    pub fn parse_exact(key: &str, raw: &str) -> Result<BaseUrl> {
        BaseUrl::parse_with(key, raw, true)
    }

    fn parse_with(key: &str, raw: &str, exact: bool) -> Result<BaseUrl> {
        let raw = raw.trim();
        let bad = |why: &str| Error::bad_request(format!("config.{key} {why}"));
        let uri: hyper::Uri = raw
            .parse()
            .map_err(|_| bad("is not a valid URL (expected http://host:port or https://…)"))?;
        let scheme = uri
            .scheme_str()
            .ok_or_else(|| bad("needs a scheme (http:// or https://)"))?;
        if !scheme.eq_ignore_ascii_case("http") && !scheme.eq_ignore_ascii_case("https") {
            return Err(bad("must use http or https"));
        }
        let authority = uri.authority().ok_or_else(|| bad("needs a host"))?;
        if authority.as_str().contains('@') {
            return Err(bad(
                "must not carry credentials; use username/password or bearerToken",
            ));
        }
        if authority.host().is_empty() {
            return Err(bad("needs a host"));
        }
        if raw.contains('#') || (!exact && uri.query().is_some()) {
            return Err(bad(if exact {
                "must not have a fragment"
            } else {
                "must not have a query or fragment"
            }));
        }
        let origin = format!("{}://{}", scheme.to_ascii_lowercase(), authority);
        let full = if exact {
            let path_and_query = uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
            format!("{origin}{path_and_query}")
        } else {
            format!("{origin}{}", uri.path().trim_end_matches('/'))
        };
        Ok(BaseUrl { full, origin })
    }

    pub fn as_str(&self) -> &str {
        &self.full
    }

    /// `scheme://host[:port]`, safe to show.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    pub fn is_https(&self) -> bool {
        self.origin.starts_with("https://")
    }

    /// `base + path`, where `path` starts with `/`.
    pub fn join(&self, path: &str) -> String {
        format!("{}{path}", self.full)
    }
}

impl fmt::Debug for BaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The path may carry a token (webhook URLs): show the origin only.
        write!(f, "{}/…", self.origin)
    }
}

/// What every HTTP-based provider needs to reach its upstream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpSettings {
    pub base: BaseUrl,
    pub auth: Auth,
    /// Extra PEM CA certificates to trust besides the webpki roots.
    pub ca_file: Option<PathBuf>,
    /// Per-call timeout (the whole upstream exchange).
    pub timeout: Duration,
    pub max_response_bytes: usize,
}

/// Typed access to the config object with key-naming errors.
pub struct Reader<'a> {
    config: &'a Config,
}

impl<'a> Reader<'a> {
    pub fn new(config: &'a Config) -> Reader<'a> {
        Reader { config }
    }

    fn present(&self, key: &str) -> Option<&'a Value> {
        match self.config.get(key) {
            None | Some(Value::Null) => None,
            Some(v) => Some(v),
        }
    }

    /// An optional string; empty counts as absent.
    pub fn string(&self, key: &str) -> Result<Option<&'a str>> {
        match self.present(key) {
            None => Ok(None),
            Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.as_str())),
            Some(_) => Err(Error::bad_request(format!("config.{key} must be a string"))),
        }
    }

    /// A required string.
    pub fn required(&self, key: &str) -> Result<&'a str> {
        self.string(key)?
            .ok_or_else(|| Error::bad_request(format!("missing required config field: {key}")))
    }

    /// A positive integer; env-sourced configs often quote numbers.
    pub fn positive_u64(&self, key: &str) -> Result<Option<u64>> {
        let bad = || Error::bad_request(format!("config.{key} must be a positive integer"));
        let n = match self.present(key) {
            None => return Ok(None),
            Some(Value::Number(n)) => n.as_u64().ok_or_else(bad)?,
            Some(Value::String(s)) => s.trim().parse::<u64>().map_err(|_| bad())?,
            Some(_) => return Err(bad()),
        };
        if n == 0 {
            return Err(bad());
        }
        Ok(Some(n))
    }

    /// The shared HTTP settings, with the base URL under `url_key`.
    pub fn http(&self, url_key: &str) -> Result<HttpSettings> {
        let base = BaseUrl::parse(url_key, self.required(url_key)?)?;
        self.http_with_base(base)
    }

    /// The shared HTTP settings for an endpoint called exactly as given
    /// (see [`BaseUrl::parse_exact`]).
    pub fn http_exact(&self, url_key: &str) -> Result<HttpSettings> {
        let base = BaseUrl::parse_exact(url_key, self.required(url_key)?)?;
        self.http_with_base(base)
    }

    /// The shared HTTP settings for an already-parsed base URL.
    pub fn http_with_base(&self, base: BaseUrl) -> Result<HttpSettings> {
        let bearer = self.string("bearerToken")?;
        let username = self.string("username")?;
        let password = self.string("password")?;
        let auth = match (bearer, username, password) {
            (Some(_), Some(_), _) | (Some(_), _, Some(_)) => {
                return Err(Error::bad_request(
                    "config sets both bearerToken and username/password; choose one",
                ))
            }
            (Some(token), None, None) => Auth::Bearer(Secret::new(token)),
            (None, Some(user), Some(pass)) => Auth::Basic {
                username: user.to_string(),
                password: Secret::new(pass),
            },
            (None, Some(_), None) => {
                return Err(Error::bad_request(
                    "config.username is set without config.password",
                ))
            }
            (None, None, Some(_)) => {
                return Err(Error::bad_request(
                    "config.password is set without config.username",
                ))
            }
            (None, None, None) => Auth::None,
        };
        if !matches!(auth, Auth::None) && !base.is_https() && !is_loopback(&base) {
            opsorch_plugin_api::log::warn(format_args!(
                "credentials for {} are sent over plain http",
                base.origin()
            ));
        }
        let ca_file = self.string("caFile")?.map(PathBuf::from);
        let timeout = self
            .positive_u64("timeoutMs")?
            .map(Duration::from_millis)
            .unwrap_or(DEFAULT_TIMEOUT);
        let max_response_bytes = match self.positive_u64("maxResponseBytes")? {
            Some(n) => usize::try_from(n).map_err(|_| {
                Error::bad_request("config.maxResponseBytes is too large for this machine")
            })?,
            None => DEFAULT_MAX_RESPONSE_BYTES,
        };
        Ok(HttpSettings {
            base,
            auth,
            ca_file,
            timeout,
            max_response_bytes,
        })
    }

    /// An optional base URL for deep links (`uiURL`), defaulting to `api`.
    pub fn ui_url(&self, api: &BaseUrl) -> Result<BaseUrl> {
        match self.string("uiURL")? {
            Some(raw) => BaseUrl::parse("uiURL", raw),
            None => Ok(api.clone()),
        }
    }
}

fn is_loopback(base: &BaseUrl) -> bool {
    let host = base
        .origin()
        .split("://")
        .nth(1)
        .unwrap_or_default()
        .rsplit_once(':')
        .map(|(h, _)| h)
        .unwrap_or_else(|| base.origin().split("://").nth(1).unwrap_or_default());
    host == "localhost" || host.starts_with("127.") || host == "[::1]"
}

#[cfg(test)]
mod tests {
    use super::*;
    use opsorch_plugin_api::ErrorKind;

    fn settings(json: &str) -> Result<HttpSettings> {
        let config: Config = serde_json::from_str(json).unwrap();
        Reader::new(&config).http("url")
    }

    #[test]
    fn the_url_is_required_and_checked() {
        let err = settings("{}").unwrap_err();
        assert_eq!(err.message(), "missing required config field: url");
        for bad in [
            r#"{"url": 123}"#,
            r#"{"url": "localhost:9090"}"#,
            r#"{"url": "ftp://h/"}"#,
            r#"{"url": "http://h/?x=1"}"#,
            r#"{"url": "http://h/#x"}"#,
            r#"{"url": "http:///nohost"}"#,
        ] {
            assert_eq!(
                settings(bad).unwrap_err().kind(),
                ErrorKind::BadRequest,
                "{bad}"
            );
        }
        let s = settings(r#"{"url": "http://127.0.0.1:9090/prom/"}"#).unwrap();
        assert_eq!(s.base.as_str(), "http://127.0.0.1:9090/prom");
        assert_eq!(s.base.origin(), "http://127.0.0.1:9090");
        assert_eq!(
            s.base.join("/api/v1/query_range"),
            "http://127.0.0.1:9090/prom/api/v1/query_range"
        );
        assert_eq!(s.timeout, DEFAULT_TIMEOUT);
        assert_eq!(s.max_response_bytes, DEFAULT_MAX_RESPONSE_BYTES);
        assert_eq!(s.auth, Auth::None);
    }

    #[test]
    fn exact_endpoints_keep_their_path_and_query() {
        let config: Config = serde_json::from_str(
            r#"{"url": "https://hooks.example/services/T0/B0/xyz/?x=1&y=%20"}"#,
        )
        .unwrap();
        let s = Reader::new(&config).http_exact("url").unwrap();
        assert_eq!(
            s.base.as_str(),
            "https://hooks.example/services/T0/B0/xyz/?x=1&y=%20"
        );
        assert_eq!(s.base.origin(), "https://hooks.example");
        assert!(!format!("{s:?}").contains("xyz"));
        let config: Config = serde_json::from_str(r#"{"url": "https://hooks.example"}"#).unwrap();
        let s = Reader::new(&config).http_exact("url").unwrap();
        assert_eq!(s.base.as_str(), "https://hooks.example/");
        let config: Config = serde_json::from_str(r#"{"url": "https://h.example/a#b"}"#).unwrap();
        assert!(Reader::new(&config).http_exact("url").is_err());
    }

    #[test]
    fn credentials_in_the_url_are_refused_without_echoing_them() {
        let err = settings(r#"{"url": "https://bob:hunter2@prom.example"}"#).unwrap_err();
        assert!(!err.message().contains("hunter2"), "{err}");
        assert!(err.message().contains("credentials"), "{err}");
    }

    #[test]
    fn auth_options_and_their_conflicts() {
        let s = settings(r#"{"url": "https://p.example", "bearerToken": "tok-123"}"#).unwrap();
        assert_eq!(s.auth, Auth::Bearer(Secret::new("tok-123")));
        let s = settings(r#"{"url": "https://p.example", "username": "u", "password": "pw-456"}"#)
            .unwrap();
        assert_eq!(
            s.auth,
            Auth::Basic {
                username: "u".into(),
                password: Secret::new("pw-456")
            }
        );
        for bad in [
            r#"{"url": "https://p.example", "bearerToken": "t", "password": "pw-456"}"#,
            r#"{"url": "https://p.example", "username": "u"}"#,
            r#"{"url": "https://p.example", "password": "pw-456"}"#,
            r#"{"url": "https://p.example", "bearerToken": 5}"#,
        ] {
            let err = settings(bad).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::BadRequest, "{bad}");
            assert!(!err.message().contains("pw-456"));
        }
    }

    #[test]
    fn secrets_and_paths_never_show_in_debug_output() {
        let s = settings(
            r#"{"url": "https://p.example/secret-path", "username": "u", "password": "pw-456"}"#,
        )
        .unwrap();
        let shown = format!("{s:?}");
        assert!(!shown.contains("pw-456"), "{shown}");
        assert!(!shown.contains("secret-path"), "{shown}");
        assert!(shown.contains("<redacted>"), "{shown}");
        assert_eq!(format!("{}", Secret::new("x")), "<redacted>");
    }

    #[test]
    fn timeouts_limits_and_ca_file() {
        let s = settings(
            r#"{"url": "http://p:9090", "timeoutMs": "2500", "maxResponseBytes": 1024,
                "caFile": "/etc/ca.pem"}"#,
        )
        .unwrap();
        assert_eq!(s.timeout, Duration::from_millis(2500));
        assert_eq!(s.max_response_bytes, 1024);
        assert_eq!(s.ca_file, Some(PathBuf::from("/etc/ca.pem")));
        for bad in [
            r#"{"url": "http://p", "timeoutMs": 0}"#,
            r#"{"url": "http://p", "timeoutMs": -5}"#,
            r#"{"url": "http://p", "timeoutMs": "soon"}"#,
            r#"{"url": "http://p", "maxResponseBytes": true}"#,
        ] {
            assert!(settings(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn ui_url_defaults_to_the_api_url() {
        let config: Config =
            serde_json::from_str(r#"{"url": "http://p:9090", "uiURL": "https://g.example/prom/"}"#)
                .unwrap();
        let reader = Reader::new(&config);
        let s = reader.http("url").unwrap();
        assert_eq!(
            reader.ui_url(&s.base).unwrap().as_str(),
            "https://g.example/prom"
        );
        let config: Config = serde_json::from_str(r#"{"url": "http://p:9090"}"#).unwrap();
        assert_eq!(Reader::new(&config).ui_url(&s.base).unwrap(), s.base);
    }
}
