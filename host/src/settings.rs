//! Configuration from the environment: every `OPSORCH_*` variable (the
//! table in README.md, "Configuration"), read once, strictly.
//!
//! Everything is read through an [`Env`] lookup so that tests pass a map
//! instead of mutating the process environment. Errors name the variable and
//! the reason on one line, and never quote a value: configuration may hold
//! credentials.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use base64::Engine;
use opsorch_plugin_api::methods::Capability;
use serde_json::{Map, Value};
use zeroize::Zeroizing;

/// Looks environment variables up.
pub trait Env {
    /// The variable exactly as set, an empty value included.
    fn raw(&self, name: &str) -> Option<String>;

    /// The variable; an empty value counts as unset.
    fn var(&self, name: &str) -> Option<String> {
        self.raw(name).filter(|v| !v.is_empty())
    }
}

/// The real process environment.
pub struct ProcessEnv;

impl Env for ProcessEnv {
    fn raw(&self, name: &str) -> Option<String> {
        std::env::var(name).ok()
    }
}

impl Env for HashMap<String, String> {
    fn raw(&self, name: &str) -> Option<String> {
        self.get(name).cloned()
    }
}

impl Env for BTreeMap<String, String> {
    fn raw(&self, name: &str) -> Option<String> {
        self.get(name).cloned()
    }
}

impl<const N: usize> Env for [(&str, &str); N] {
    fn raw(&self, name: &str) -> Option<String> {
        self.iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| (*v).to_owned())
    }
}

/// A start-up refusal: which variable (or stored key) is wrong, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub variable: String,
    pub reason: String,
}

impl ConfigError {
    pub fn new(variable: impl Into<String>, reason: impl Into<String>) -> Self {
        ConfigError {
            variable: variable.into(),
            // One line, whatever the reason's source wrote.
            reason: crate::safe_text::escaped(&reason.into().replace(['\n', '\r'], " ")),
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.variable, self.reason)
    }
}

impl std::error::Error for ConfigError {}

/// The default request body limit: 1 MiB.
pub const DEFAULT_MAX_BODY_BYTES: usize = 1 << 20;

/// How long a client may take to send a request's headers, and how long a
/// kept-alive connection may wait for its next request: 10 s.
pub const DEFAULT_HEADER_TIMEOUT: Duration = Duration::from_secs(10);

/// The largest request head (request line and headers): 64 KiB.
pub const DEFAULT_MAX_HEADER_BYTES: usize = 64 << 10;

/// Connections served at once; more are refused: 1024.
pub const DEFAULT_MAX_CONNECTIONS: usize = 1024;

/// How long a response write may make no progress (a client that stopped
/// reading) before the connection is closed: 30 s.
pub const DEFAULT_WRITE_TIMEOUT: Duration = Duration::from_secs(30);

/// The shortest default for a whole request (body read and provider call
/// included). The default is this or the stdio plugin timeout plus
/// [`REQUEST_TIMEOUT_MARGIN`], whichever is longer, so that a plugin's own
/// `plugin_timeout` always answers first.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

/// How much longer than the plugin timeout the default request timeout is.
pub const REQUEST_TIMEOUT_MARGIN: Duration = Duration::from_secs(5);

/// The stdio plugin per-call timeout when neither
/// `OPSORCH_PLUGIN_TIMEOUT_MS` nor the capability's `pluginTimeoutMs` says
/// otherwise: 30 s.
pub const DEFAULT_PLUGIN_TIMEOUT: Duration = Duration::from_secs(30);

/// The environment variable overriding [`DEFAULT_PLUGIN_TIMEOUT`].
pub const PLUGIN_TIMEOUT_VAR: &str = "OPSORCH_PLUGIN_TIMEOUT_MS";

/// Connection-level limits of the HTTP server (see `server`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerLimits {
    /// `OPSORCH_HEADER_TIMEOUT_MS`: time to receive a request's headers,
    /// counted from when the server starts waiting for them, so it also
    /// bounds how long an idle kept-alive connection stays open.
    pub header_timeout: Duration,
    /// `OPSORCH_MAX_HEADER_BYTES`: the largest request head; larger → 431.
    pub max_header_bytes: usize,
    /// `OPSORCH_MAX_CONNECTIONS`: connections served at once.
    pub max_connections: usize,
    /// `OPSORCH_WRITE_TIMEOUT_MS`: how long a write may stall.
    pub write_timeout: Duration,
}

impl Default for ServerLimits {
    fn default() -> Self {
        ServerLimits {
            header_timeout: DEFAULT_HEADER_TIMEOUT,
            max_header_bytes: DEFAULT_MAX_HEADER_BYTES,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            write_timeout: DEFAULT_WRITE_TIMEOUT,
        }
    }
}

/// The certificate and key files for HTTPS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// How the environment selects one capability's provider.
#[derive(Clone, Default, PartialEq)]
pub struct Selection {
    /// `OPSORCH_<CAP>_PROVIDER`, as given.
    pub provider: Option<String>,
    /// `OPSORCH_<CAP>_PLUGIN`; wins over `provider`.
    pub plugin: Option<PathBuf>,
    /// `OPSORCH_<CAP>_CONFIG`, an object (empty when unset).
    pub config: Map<String, Value>,
}

impl Selection {
    /// Whether the environment chooses a provider at all.
    pub fn is_set(&self) -> bool {
        self.provider.is_some() || self.plugin.is_some()
    }
}

impl fmt::Debug for Selection {
    // The config may hold credentials: show its keys only.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Selection")
            .field("provider", &self.provider)
            .field("plugin", &self.plugin)
            .field("config_keys", &self.config.keys().collect::<Vec<_>>())
            .finish()
    }
}

/// Everything the environment configures.
#[derive(Clone)]
pub struct Settings {
    /// `OPSORCH_ADDR` as given (`:8080` means every interface).
    pub addr: String,
    pub cors_origin: String,
    /// `OPSORCH_ALLOWED_HOSTS` (comma-separated): host names a token-less
    /// host answers to besides loopback ones, normalised (`host_name`).
    pub allowed_hosts: Vec<String>,
    pub bearer_token: Option<String>,
    pub tls: Option<TlsFiles>,
    pub max_body_bytes: usize,
    /// `OPSORCH_REQUEST_TIMEOUT_MS`, or its default.
    pub request_timeout: Duration,
    /// `OPSORCH_PLUGIN_TIMEOUT_MS`: the stdio plugins' default per-call
    /// timeout.
    pub plugin_timeout: Duration,
    pub limits: ServerLimits,
    /// `OPSORCH_SECRET_KEY` / `OPSORCH_SECRET_KEY_FILE`: encrypts the json
    /// secret file.
    pub secret_key: Option<KeyMaterial>,
    /// `OPSORCH_PLUGIN_DIR`, colon-separated: where adapter libraries live.
    pub library_dirs: Vec<PathBuf>,
    /// One entry per capability, the secret store included.
    pub selections: BTreeMap<Capability, Selection>,
    /// `OPSORCH_ADMIN_ADDR`: the admin listener (`/metrics`, `/live`,
    /// `/ready`); `None` when set empty (off).
    pub admin_addr: Option<String>,
    /// `OPSORCH_SWAP_TIMEOUT_MS`: how long a successor started by SIGHUP
    /// may take to report ready before it is killed.
    pub swap_timeout: Duration,
    /// `OPSORCH_PID_FILE`: where the host writes its pid once it serves.
    pub pid_file: Option<PathBuf>,
    /// `OPSORCH_LOG_FORMAT=json`: log lines are JSON objects (the binary
    /// reads it before anything else, to set logging up; checked here too).
    pub log_json: bool,
}

impl fmt::Debug for Settings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Settings")
            .field("addr", &self.addr)
            .field("cors_origin", &self.cors_origin)
            .field("allowed_hosts", &self.allowed_hosts)
            .field("bearer_token", &self.bearer_token.as_ref().map(|_| "<set>"))
            .field("tls", &self.tls)
            .field("max_body_bytes", &self.max_body_bytes)
            .field("request_timeout", &self.request_timeout)
            .field("plugin_timeout", &self.plugin_timeout)
            .field("limits", &self.limits)
            .field("secret_key", &self.secret_key)
            .field("library_dirs", &self.library_dirs)
            .field("selections", &self.selections)
            .field("admin_addr", &self.admin_addr)
            .field("swap_timeout", &self.swap_timeout)
            .field("pid_file", &self.pid_file)
            .field("log_json", &self.log_json)
            .finish()
    }
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            addr: ":8080".into(),
            cors_origin: "*".into(),
            allowed_hosts: Vec::new(),
            bearer_token: None,
            tls: None,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            plugin_timeout: DEFAULT_PLUGIN_TIMEOUT,
            limits: ServerLimits::default(),
            secret_key: None,
            library_dirs: Vec::new(),
            selections: BTreeMap::new(),
            admin_addr: Some(DEFAULT_ADMIN_ADDR.into()),
            swap_timeout: DEFAULT_SWAP_TIMEOUT,
            pid_file: None,
            log_json: false,
        }
    }
}

impl Settings {
    /// Reads and validates every variable of README.md's configuration table.
    pub fn from_env(env: &dyn Env) -> Result<Settings, ConfigError> {
        let tls = match (
            env.var("OPSORCH_TLS_CERT_FILE"),
            env.var("OPSORCH_TLS_KEY_FILE"),
        ) {
            (Some(cert), Some(key)) => Some(TlsFiles {
                cert: cert.into(),
                key: key.into(),
            }),
            (None, None) => None,
            (Some(_), None) => {
                return Err(ConfigError::new(
                    "OPSORCH_TLS_KEY_FILE",
                    "must be set when OPSORCH_TLS_CERT_FILE is set",
                ))
            }
            (None, Some(_)) => {
                return Err(ConfigError::new(
                    "OPSORCH_TLS_CERT_FILE",
                    "must be set when OPSORCH_TLS_KEY_FILE is set",
                ))
            }
        };
        let max_body_bytes = positive(env, "OPSORCH_MAX_BODY_BYTES", "bytes", 1)?
            .unwrap_or(DEFAULT_MAX_BODY_BYTES as u64) as usize;
        let millis = |name: &str, default: Duration| {
            positive(env, name, "milliseconds", 1)
                .map(|ms| ms.map(Duration::from_millis).unwrap_or(default))
        };
        let limits = ServerLimits {
            header_timeout: millis("OPSORCH_HEADER_TIMEOUT_MS", DEFAULT_HEADER_TIMEOUT)?,
            // hyper cannot parse a request head in less than this.
            max_header_bytes: positive(env, "OPSORCH_MAX_HEADER_BYTES", "bytes", 1024)?
                .map(|n| n as usize)
                .unwrap_or(DEFAULT_MAX_HEADER_BYTES),
            max_connections: positive(env, "OPSORCH_MAX_CONNECTIONS", "connections", 1)?
                .map(|n| n as usize)
                .unwrap_or(DEFAULT_MAX_CONNECTIONS),
            write_timeout: millis("OPSORCH_WRITE_TIMEOUT_MS", DEFAULT_WRITE_TIMEOUT)?,
        };
        let plugin_timeout = millis(PLUGIN_TIMEOUT_VAR, DEFAULT_PLUGIN_TIMEOUT)?;
        let request_timeout = match positive(env, "OPSORCH_REQUEST_TIMEOUT_MS", "milliseconds", 1)?
        {
            None => DEFAULT_REQUEST_TIMEOUT.max(plugin_timeout + REQUEST_TIMEOUT_MARGIN),
            Some(ms) if Duration::from_millis(ms) < plugin_timeout => {
                return Err(ConfigError::new(
                    "OPSORCH_REQUEST_TIMEOUT_MS",
                    format!(
                        "must not be shorter than the stdio plugin timeout ({} ms, {})",
                        plugin_timeout.as_millis(),
                        PLUGIN_TIMEOUT_VAR
                    ),
                ))
            }
            Some(ms) => Duration::from_millis(ms),
        };
        let secret_key = KeyMaterial::from_env(env)?;
        let library_dirs = env
            .var("OPSORCH_PLUGIN_DIR")
            .map(|dirs| {
                std::env::split_paths(&dirs)
                    .filter(|d| !d.as_os_str().is_empty())
                    .collect()
            })
            .unwrap_or_default();
        let cors_origin = env.var("OPSORCH_CORS_ORIGIN").unwrap_or_else(|| "*".into());
        if axum::http::HeaderValue::from_str(&cors_origin).is_err() {
            return Err(ConfigError::new(
                "OPSORCH_CORS_ORIGIN",
                "is not a valid HTTP header value",
            ));
        }
        let bearer_token = bearer_token(env)?;
        let mut selections = BTreeMap::new();
        for cap in Capability::ALL {
            selections.insert(cap, selection(env, cap)?);
        }
        Ok(Settings {
            addr: env.var("OPSORCH_ADDR").unwrap_or_else(|| ":8080".into()),
            cors_origin,
            allowed_hosts: env
                .var("OPSORCH_ALLOWED_HOSTS")
                .unwrap_or_default()
                .split(',')
                .map(host_name)
                .filter(|h| !h.is_empty())
                .collect(),
            bearer_token,
            tls,
            max_body_bytes,
            request_timeout,
            plugin_timeout,
            limits,
            secret_key,
            library_dirs,
            selections,
            admin_addr: admin_addr(env)?,
            swap_timeout: millis("OPSORCH_SWAP_TIMEOUT_MS", DEFAULT_SWAP_TIMEOUT)?,
            pid_file: env.var("OPSORCH_PID_FILE").map(PathBuf::from),
            log_json: log_json(env)?,
        })
    }

    /// Whether a host without a bearer token checks `Host` headers: it
    /// listens on loopback only, or `OPSORCH_ALLOWED_HOSTS` is set.
    pub fn checks_host_names(&self) -> bool {
        !self.allowed_hosts.is_empty() || is_loopback_listen_addr(&self.addr)
    }

    /// The selection for `cap` (empty when the environment has none).
    pub fn selection(&self, cap: Capability) -> Selection {
        self.selections.get(&cap).cloned().unwrap_or_default()
    }
}

/// The variable holding the json secret store's encryption key.
pub const SECRET_KEY_VAR: &str = "OPSORCH_SECRET_KEY";
/// The variable naming a file that holds the encryption key.
pub const SECRET_KEY_FILE_VAR: &str = "OPSORCH_SECRET_KEY_FILE";

/// What is wrong with a key's text. Never quotes the text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("must be 64 hex characters or the base64 of 32 bytes")]
pub struct BadKey;

/// The 32 bytes of the json secret store's key (`OPSORCH_SECRET_KEY`, or
/// the file `OPSORCH_SECRET_KEY_FILE` names), and the variable they came
/// from. The bytes are wiped when the last copy is dropped (`zeroize`);
/// `Debug` never shows them.
#[derive(Clone)]
pub struct KeyMaterial {
    bytes: Zeroizing<[u8; 32]>,
    variable: &'static str,
}

impl fmt::Debug for KeyMaterial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyMaterial(from {}, redacted)", self.variable)
    }
}

impl KeyMaterial {
    /// Reads `OPSORCH_SECRET_KEY` or `OPSORCH_SECRET_KEY_FILE` (not both).
    /// Errors name the variable and never quote the key.
    pub fn from_env(env: &dyn Env) -> Result<Option<KeyMaterial>, ConfigError> {
        let key_text = env.var(SECRET_KEY_VAR).map(Zeroizing::new);
        match (key_text, env.var(SECRET_KEY_FILE_VAR)) {
            (None, None) => Ok(None),
            (Some(_), Some(_)) => Err(ConfigError::new(
                SECRET_KEY_FILE_VAR,
                format!("set {SECRET_KEY_VAR} or {SECRET_KEY_FILE_VAR}, not both"),
            )),
            (Some(text), None) => KeyMaterial::parse(&text, SECRET_KEY_VAR)
                .map(Some)
                .map_err(|why| ConfigError::new(SECRET_KEY_VAR, why.to_string())),
            (None, Some(path)) => {
                if let Some(mode) = open_to_others(std::path::Path::new(&path)) {
                    return Err(ConfigError::new(
                        SECRET_KEY_FILE_VAR,
                        format!(
                            "the key file is open to group or others (mode {mode:03o}); \
                             chmod 600 it"
                        ),
                    ));
                }
                let text = std::fs::read_to_string(&path)
                    .map(Zeroizing::new)
                    .map_err(|e| {
                        ConfigError::new(
                            SECRET_KEY_FILE_VAR,
                            format!("cannot read the key file: {e}"),
                        )
                    })?;
                KeyMaterial::parse(&text, SECRET_KEY_FILE_VAR)
                    .map(Some)
                    .map_err(|why| ConfigError::new(SECRET_KEY_FILE_VAR, why.to_string()))
            }
        }
    }

    /// A key from its text: 64 hex characters, or base64 of 32 bytes
    /// (standard alphabet, padding optional), surrounding whitespace
    /// ignored.
    pub fn parse(text: &str, variable: &'static str) -> Result<KeyMaterial, BadKey> {
        let text = text.trim();
        let mut bytes = Zeroizing::new([0u8; 32]);
        if text.len() == 64 && hex::decode_to_slice(text, bytes.as_mut_slice()).is_ok() {
            return Ok(KeyMaterial { bytes, variable });
        }
        let decoded = Zeroizing::new(
            base64::engine::general_purpose::STANDARD_NO_PAD
                .decode(text.trim_end_matches('='))
                .map_err(|_| BadKey)?,
        );
        if decoded.len() != 32 {
            return Err(BadKey);
        }
        bytes.copy_from_slice(&decoded);
        Ok(KeyMaterial { bytes, variable })
    }

    /// The key's bytes.
    pub fn bytes(&self) -> &[u8; 32] {
        &self.bytes
    }

    /// The variable the key came from.
    pub fn variable(&self) -> &'static str {
        self.variable
    }
}

/// The name part of a host (a `Host` header value or an
/// `OPSORCH_ALLOWED_HOSTS` entry), lower-case: the port, IPv6 brackets and
/// a trailing dot removed.
pub fn host_name(value: &str) -> String {
    host_name_part(value).to_ascii_lowercase()
}

/// [`host_name`] as a slice of `value`, case unchanged (the request gate
/// checks every request's `Host` without making a string).
pub fn host_name_part(value: &str) -> &str {
    let value = value.trim();
    let name = if let Some(rest) = value.strip_prefix('[') {
        rest.split_once(']').map(|(ip, _)| ip).unwrap_or(rest)
    } else {
        match value.rsplit_once(':') {
            Some((name, port))
                if !name.contains(':') && port.bytes().all(|b| b.is_ascii_digit()) =>
            {
                name
            }
            _ => value,
        }
    };
    name.trim_end_matches('.')
}

/// `localhost`, a name under `.localhost`, or a loopback address (a
/// [`host_name`] or [`host_name_part`]; letters in any case).
pub fn is_loopback_name(name: &str) -> bool {
    const SUFFIX: &str = ".localhost";
    name.eq_ignore_ascii_case("localhost")
        || (name.len() >= SUFFIX.len()
            && name.is_char_boundary(name.len() - SUFFIX.len())
            && name[name.len() - SUFFIX.len()..].eq_ignore_ascii_case(SUFFIX))
        || name
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Whether `OPSORCH_ADDR` listens on loopback only: a loopback address or
/// `localhost`. `:8080` and every other name listen beyond this machine.
pub fn is_loopback_listen_addr(addr: &str) -> bool {
    !addr.starts_with(':') && is_loopback_name(&host_name(addr))
}

/// `OPSORCH_BEARER_TOKEN`. Set but empty would silently turn
/// authentication off, and a token with surrounding whitespace could never
/// match (the HTTP layer trims header values): both refuse start-up.
fn bearer_token(env: &dyn Env) -> Result<Option<String>, ConfigError> {
    const VAR: &str = "OPSORCH_BEARER_TOKEN";
    match env.raw(VAR) {
        None => Ok(None),
        Some(token) if token.trim().is_empty() => Err(ConfigError::new(
            VAR,
            "is set but empty; unset it to run without authentication",
        )),
        Some(token) if token.trim() != token => Err(ConfigError::new(
            VAR,
            "must not start or end with whitespace (clients cannot send it)",
        )),
        Some(token) => Ok(Some(token)),
    }
}

/// The permission bits of a file that group or others have any access to,
/// or `None` (owner-only, unreadable, or not Unix).
fn open_to_others(path: &std::path::Path) -> Option<u32> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path).ok()?.permissions().mode() & 0o777;
        (mode & 0o077 != 0).then_some(mode)
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        None
    }
}

/// The host's fixed internal limits and timeouts: values chosen once and
/// not configurable (a variable for each would be a knob nobody should
/// need), kept here with the configurable defaults so that every limit is
/// in this file. `docs/RELIABILITY.md` ("Fixed limits") lists them with
/// these values; a test checks the table against [`FIXED`].
#[derive(Debug, Clone, Copy)]
pub struct FixedLimits {
    /// How long requests in flight may run after a shutdown signal.
    pub shutdown_grace: Duration,
    /// How long a client may take to finish a TLS handshake.
    pub tls_handshake_timeout: Duration,
    /// How many connections over the cap may be answered (503) at once;
    /// beyond that they are closed without an answer.
    pub refusals_in_flight: usize,
    /// How long answering a refused connection may take.
    pub refusal_timeout: Duration,
    /// How often refused connections are logged (one line with the count).
    pub refusal_log_every: Duration,
    /// How long the log writer thread waits, once woken, for more lines
    /// before writing.
    pub log_gather: Duration,
    /// Buffered log bytes at which writers wait for the output to catch up.
    pub log_high_water: usize,
    /// The longest audit value (an actor ID from a header), in characters.
    pub audit_max_value_chars: usize,
    /// The longest request ID taken from a client.
    pub max_request_id_len: usize,
    /// Call pool: how long every thread of a saturated pool must have been
    /// asleep inside one call before the pool grows; also how often the
    /// watchdog looks.
    pub pool_stall_after: Duration,
    /// Call pool: how long one call may keep a thread running (not asleep)
    /// before the pool treats that thread as stuck.
    pub pool_busy_stall: Duration,
    /// Call pool: how long a call may wait in the queue before a pool with
    /// fewer threads than CPUs grows.
    pub pool_queue_stall: Duration,
    /// Call pool: how long a thread with nothing to do stays around.
    pub pool_idle_exit: Duration,
    /// Call pool: the most threads one library provider may use at once.
    pub pool_max_threads: usize,
    /// The longest the host waits for a library's runtime to stop at
    /// shutdown.
    pub library_runtime_stop_wait: Duration,
    /// How long a stopping plugin gets between stdin closing and SIGKILL.
    pub plugin_stop_grace: Duration,
    /// How long a plugin that closed its stdout may linger before it is
    /// killed: it can no longer answer anything.
    pub plugin_stdout_closed_grace: Duration,
    /// After a plugin process exits, how long the reader may take to drain
    /// answers it wrote before exiting (a grandchild may hold stdout open).
    pub plugin_reader_drain: Duration,
    /// The longest a failed call waits for its dead plugin process to be
    /// reaped: the supervisor kills within `plugin_stop_grace` at worst.
    pub plugin_reap_wait: Duration,
    /// Requests queued for a plugin's writer before callers wait for room.
    pub plugin_write_queue: usize,
    /// A plugin's writer flushes once a batch reaches this size.
    pub plugin_write_batch: usize,
    /// Longest plugin stderr line forwarded whole; the rest is cut.
    pub plugin_max_stderr_line: usize,
    /// A plugin process lives at least this long to count as healthy even
    /// without answering (a plugin that is up but idle).
    pub plugin_healthy_uptime: Duration,
    /// The first restart of a plugin after a failure is immediate;
    /// consecutive failures without a healthy run in between wait this
    /// long, doubling each time, up to `plugin_backoff_max`.
    pub plugin_backoff_start: Duration,
    /// The longest crash-loop backoff.
    pub plugin_backoff_max: Duration,
    /// The longest plugin response line accepted. A longer one means the
    /// plugin is broken (or hostile) and its stream is abandoned rather
    /// than buffered.
    pub plugin_max_response_line: usize,
    /// The largest plugin pool (`processes`): more is a typo, not a plan.
    pub plugin_max_processes: u64,
    /// At host shutdown, how long past `plugin_stop_grace` the host waits
    /// for every plugin process to exit (a backstop: each supervisor kills
    /// its process after the grace).
    pub plugin_shutdown_margin: Duration,
    /// The configuration check of a stdio plugin: the longest it waits for
    /// the answer to its `plugin.info` (capped by the plugin's call
    /// timeout).
    pub plugin_check_timeout: Duration,
    /// The configuration check: how long the checked process may take to
    /// exit once it answered, before it is killed.
    pub plugin_check_exit_grace: Duration,
    /// Capabilities whose providers are built at once at start-up (and by
    /// `opsorch check`): each stdio plugin's configuration check runs a
    /// process, so they run side by side, this many at a time.
    pub provider_builds_at_once: usize,
    /// How long the server waits before accepting again after an accept
    /// error that is not a client's (most likely out of file descriptors).
    pub accept_retry: Duration,
    /// After a hand-over, the least time connections still busy past the
    /// header timeout get to finish.
    pub handover_min_drain: Duration,
    /// Starting a plugin whose file is still open for writing elsewhere
    /// (ETXTBSY, just copied in) is retried after this pause…
    pub plugin_spawn_retry: Duration,
    /// …this many times.
    pub plugin_spawn_retries: usize,
}

/// The fixed limits in effect.
pub const FIXED: FixedLimits = FixedLimits {
    shutdown_grace: Duration::from_secs(20),
    tls_handshake_timeout: Duration::from_secs(10),
    refusals_in_flight: 64,
    refusal_timeout: Duration::from_secs(1),
    refusal_log_every: Duration::from_secs(10),
    log_gather: Duration::from_millis(2),
    log_high_water: 4 << 20,
    audit_max_value_chars: 256,
    max_request_id_len: 128,
    pool_stall_after: Duration::from_millis(2),
    pool_busy_stall: Duration::from_millis(100),
    pool_queue_stall: Duration::from_millis(10),
    pool_idle_exit: Duration::from_secs(10),
    pool_max_threads: 256,
    library_runtime_stop_wait: Duration::from_secs(1),
    plugin_stop_grace: Duration::from_secs(2),
    plugin_stdout_closed_grace: Duration::from_secs(1),
    plugin_reader_drain: Duration::from_millis(500),
    plugin_reap_wait: Duration::from_secs(3),
    plugin_write_queue: 1024,
    plugin_write_batch: 64 << 10,
    plugin_max_stderr_line: 16 << 10,
    plugin_healthy_uptime: Duration::from_secs(10),
    plugin_backoff_start: Duration::from_millis(100),
    plugin_backoff_max: Duration::from_secs(5),
    plugin_max_response_line: 64 << 20,
    plugin_max_processes: 64,
    plugin_shutdown_margin: Duration::from_secs(3),
    plugin_check_timeout: Duration::from_secs(5),
    plugin_check_exit_grace: Duration::from_secs(1),
    provider_builds_at_once: 8,
    accept_retry: Duration::from_secs(1),
    handover_min_drain: Duration::from_secs(1),
    plugin_spawn_retry: Duration::from_millis(10),
    plugin_spawn_retries: 5,
};

/// The admin listener's address when `OPSORCH_ADMIN_ADDR` is not set.
pub const DEFAULT_ADMIN_ADDR: &str = "127.0.0.1:9464";

/// How long a successor may take to report ready, by default: 60 s.
pub const DEFAULT_SWAP_TIMEOUT: Duration = Duration::from_secs(60);

/// `OPSORCH_LOG_FORMAT`: `text` (or unset) or `json`.
fn log_json(env: &dyn Env) -> Result<bool, ConfigError> {
    match env.var("OPSORCH_LOG_FORMAT").as_deref().map(str::trim) {
        None => Ok(false),
        Some(v) if v.eq_ignore_ascii_case("text") => Ok(false),
        Some(v) if v.eq_ignore_ascii_case("json") => Ok(true),
        Some(_) => Err(ConfigError::new(
            "OPSORCH_LOG_FORMAT",
            "must be text or json",
        )),
    }
}

/// `OPSORCH_ADMIN_ADDR`: unset means the default, empty means off;
/// otherwise `host:port` or `:port` (every interface).
fn admin_addr(env: &dyn Env) -> Result<Option<String>, ConfigError> {
    let raw = match env.raw("OPSORCH_ADMIN_ADDR") {
        None => return Ok(Some(DEFAULT_ADMIN_ADDR.into())),
        Some(raw) if raw.trim().is_empty() => return Ok(None),
        Some(raw) => raw.trim().to_owned(),
    };
    let valid = match raw.strip_prefix(':') {
        Some(port) => port.parse::<u16>().is_ok(),
        None => raw.parse::<std::net::SocketAddr>().is_ok(),
    };
    if !valid {
        return Err(ConfigError::new(
            "OPSORCH_ADMIN_ADDR",
            "must be host:port (an IP address), :port, or empty to turn the admin listener off",
        ));
    }
    Ok(Some(raw))
}

/// A whole number variable of at least `min`; `None` when unset.
fn positive(env: &dyn Env, name: &str, unit: &str, min: u64) -> Result<Option<u64>, ConfigError> {
    match env.var(name) {
        None => Ok(None),
        Some(raw) => match raw.trim().parse::<u64>() {
            Ok(n) if n >= min => Ok(Some(n)),
            _ if min > 1 => Err(ConfigError::new(
                name,
                format!("must be a whole number of {unit}, at least {min}"),
            )),
            _ => Err(ConfigError::new(
                name,
                format!("must be a positive number of {unit}"),
            )),
        },
    }
}

/// The name of one of a capability's variables, e.g. `OPSORCH_LOG_CONFIG`.
pub fn var_name(cap: Capability, suffix: &str) -> String {
    format!("OPSORCH_{}_{}", cap.env_key(), suffix)
}

fn selection(env: &dyn Env, cap: Capability) -> Result<Selection, ConfigError> {
    let config_var = var_name(cap, "CONFIG");
    let config = match env.var(&config_var) {
        None => Map::new(),
        Some(raw) => parse_config_object(&raw).map_err(|why| ConfigError::new(config_var, why))?,
    };
    Ok(Selection {
        provider: env
            .var(&var_name(cap, "PROVIDER"))
            .map(|p| p.trim().to_owned())
            .filter(|p| !p.is_empty()),
        plugin: env.var(&var_name(cap, "PLUGIN")).map(PathBuf::from),
        config,
    })
}

/// Parses a provider configuration: a JSON object naming each key once. The
/// reason never quotes a value (serde_json's syntax errors give only a
/// position; a repeated key is quoted, bounded).
pub fn parse_config_object(raw: &str) -> Result<Map<String, Value>, String> {
    crate::unique_keys::check(raw.as_bytes()).map_err(|dup| dup.to_string())?;
    match serde_json::from_str::<Value>(raw) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(Value::Null) => Ok(Map::new()),
        Ok(_) => Err("must be a JSON object".into()),
        Err(e) => Err(format!(
            "invalid JSON at line {} column {}",
            e.line(),
            e.column()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `docs/RELIABILITY.md` lists every fixed limit with its value, and
    /// nothing else, in its "Fixed limits" table.
    #[test]
    fn the_fixed_limits_table_matches_the_code() {
        fn time(d: Duration) -> String {
            if d.as_millis().is_multiple_of(1000) {
                format!("{} s", d.as_secs())
            } else {
                format!("{} ms", d.as_millis())
            }
        }
        fn bytes(n: usize) -> String {
            if n.is_multiple_of(1 << 20) {
                format!("{} MiB", n >> 20)
            } else if n.is_multiple_of(1 << 10) {
                format!("{} KiB", n >> 10)
            } else {
                n.to_string()
            }
        }
        // Destructured: a new field does not compile until it has a row.
        let FixedLimits {
            shutdown_grace,
            tls_handshake_timeout,
            refusals_in_flight,
            refusal_timeout,
            refusal_log_every,
            log_gather,
            log_high_water,
            audit_max_value_chars,
            max_request_id_len,
            pool_stall_after,
            pool_busy_stall,
            pool_queue_stall,
            pool_idle_exit,
            pool_max_threads,
            library_runtime_stop_wait,
            plugin_stop_grace,
            plugin_stdout_closed_grace,
            plugin_reader_drain,
            plugin_reap_wait,
            plugin_write_queue,
            plugin_write_batch,
            plugin_max_stderr_line,
            plugin_healthy_uptime,
            plugin_backoff_start,
            plugin_backoff_max,
            plugin_max_response_line,
            plugin_max_processes,
            plugin_shutdown_margin,
            plugin_check_timeout,
            plugin_check_exit_grace,
            provider_builds_at_once,
            accept_retry,
            handover_min_drain,
            plugin_spawn_retry,
            plugin_spawn_retries,
        } = FIXED;
        let code: BTreeMap<&str, String> = BTreeMap::from([
            ("shutdown_grace", time(shutdown_grace)),
            ("tls_handshake_timeout", time(tls_handshake_timeout)),
            ("refusals_in_flight", refusals_in_flight.to_string()),
            ("refusal_timeout", time(refusal_timeout)),
            ("refusal_log_every", time(refusal_log_every)),
            ("log_gather", time(log_gather)),
            ("log_high_water", bytes(log_high_water)),
            ("audit_max_value_chars", audit_max_value_chars.to_string()),
            ("max_request_id_len", max_request_id_len.to_string()),
            ("pool_stall_after", time(pool_stall_after)),
            ("pool_busy_stall", time(pool_busy_stall)),
            ("pool_queue_stall", time(pool_queue_stall)),
            ("pool_idle_exit", time(pool_idle_exit)),
            ("pool_max_threads", pool_max_threads.to_string()),
            ("library_runtime_stop_wait", time(library_runtime_stop_wait)),
            ("plugin_stop_grace", time(plugin_stop_grace)),
            (
                "plugin_stdout_closed_grace",
                time(plugin_stdout_closed_grace),
            ),
            ("plugin_reader_drain", time(plugin_reader_drain)),
            ("plugin_reap_wait", time(plugin_reap_wait)),
            ("plugin_write_queue", plugin_write_queue.to_string()),
            ("plugin_write_batch", bytes(plugin_write_batch)),
            ("plugin_max_stderr_line", bytes(plugin_max_stderr_line)),
            ("plugin_healthy_uptime", time(plugin_healthy_uptime)),
            ("plugin_backoff_start", time(plugin_backoff_start)),
            ("plugin_backoff_max", time(plugin_backoff_max)),
            ("plugin_max_response_line", bytes(plugin_max_response_line)),
            ("plugin_max_processes", plugin_max_processes.to_string()),
            ("plugin_shutdown_margin", time(plugin_shutdown_margin)),
            ("plugin_check_timeout", time(plugin_check_timeout)),
            ("plugin_check_exit_grace", time(plugin_check_exit_grace)),
            (
                "provider_builds_at_once",
                provider_builds_at_once.to_string(),
            ),
            ("accept_retry", time(accept_retry)),
            ("handover_min_drain", time(handover_min_drain)),
            ("plugin_spawn_retry", time(plugin_spawn_retry)),
            ("plugin_spawn_retries", plugin_spawn_retries.to_string()),
        ]);
        let doc = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../docs/RELIABILITY.md"
        ))
        .unwrap();
        let section = doc
            .split("### Fixed limits")
            .nth(1)
            .expect("a Fixed limits section")
            .split("\n#")
            .next()
            .unwrap();
        let documented: BTreeMap<&str, String> = section
            .lines()
            .filter_map(|line| {
                let cells: Vec<&str> = line.split('|').map(str::trim).collect();
                // | limit | `name` | value |
                let name = cells.get(2)?.strip_prefix('`')?.strip_suffix('`')?;
                Some((name, cells.get(3)?.to_string()))
            })
            .collect();
        assert_eq!(documented, code);
    }

    #[test]
    fn defaults() {
        let s = Settings::from_env(&[("UNRELATED", "x")]).unwrap();
        assert_eq!(s.addr, ":8080");
        assert_eq!(s.cors_origin, "*");
        assert_eq!(s.bearer_token, None);
        assert_eq!(s.tls, None);
        assert_eq!(s.max_body_bytes, 1 << 20);
        assert!(s.library_dirs.is_empty());
        assert_eq!(s.selections.len(), 11);
        assert!(!s.selection(Capability::Incident).is_set());
    }

    #[test]
    fn reads_everything() {
        let s = Settings::from_env(&[
            ("OPSORCH_ADDR", "127.0.0.1:0"),
            ("OPSORCH_CORS_ORIGIN", "http://ui"),
            ("OPSORCH_BEARER_TOKEN", "tok"),
            ("OPSORCH_TLS_CERT_FILE", "/c"),
            ("OPSORCH_TLS_KEY_FILE", "/k"),
            ("OPSORCH_MAX_BODY_BYTES", "10"),
            ("OPSORCH_PLUGIN_DIR", "/a::/b"),
            ("OPSORCH_LOG_PROVIDER", " Elastic "),
            ("OPSORCH_LOG_CONFIG", r#"{"url":"http://es"}"#),
            ("OPSORCH_SECRET_PLUGIN", "/bin/sec"),
        ])
        .unwrap();
        assert_eq!(s.addr, "127.0.0.1:0");
        assert_eq!(s.cors_origin, "http://ui");
        assert_eq!(s.bearer_token.as_deref(), Some("tok"));
        assert_eq!(
            s.tls,
            Some(TlsFiles {
                cert: "/c".into(),
                key: "/k".into()
            })
        );
        assert_eq!(s.max_body_bytes, 10);
        assert_eq!(s.library_dirs, [PathBuf::from("/a"), PathBuf::from("/b")]);
        let log = s.selection(Capability::Log);
        assert_eq!(log.provider.as_deref(), Some("Elastic"));
        assert_eq!(log.config["url"], "http://es");
        assert_eq!(
            s.selection(Capability::Secret).plugin,
            Some(PathBuf::from("/bin/sec"))
        );
        // Debug output never shows the bearer token or config values.
        let debug = format!("{s:?}");
        assert!(
            !debug.contains("tok\"") && !debug.contains("http://es"),
            "{debug}"
        );
    }

    #[test]
    fn refuses_invalid_config_json_naming_the_variable_not_the_value() {
        let err =
            Settings::from_env(&[("OPSORCH_TICKET_CONFIG", "{\"token\": s3cret")]).unwrap_err();
        assert_eq!(err.variable, "OPSORCH_TICKET_CONFIG");
        assert!(err
            .to_string()
            .starts_with("OPSORCH_TICKET_CONFIG: invalid JSON"));
        assert!(!err.to_string().contains("s3cret"));
        let err = Settings::from_env(&[("OPSORCH_SECRET_CONFIG", "[1,2]")]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "OPSORCH_SECRET_CONFIG: must be a JSON object"
        );
    }

    #[test]
    fn host_names_and_listen_addresses() {
        assert_eq!(host_name("LocalHost.:8080"), "localhost");
        assert_eq!(host_name("[::1]:8080"), "::1");
        assert_eq!(host_name(" opsorch "), "opsorch");
        assert_eq!(host_name("::1"), "::1");
        assert_eq!(host_name_part("LocalHost.:8080"), "LocalHost");
        for loopback in [
            "localhost",
            "LOCALHOST",
            "a.localhost",
            "x.LocalHost",
            "127.0.0.1",
            "::1",
        ] {
            assert!(is_loopback_name(loopback), "{loopback}");
        }
        for other in ["localhost.example", "evil-localhost", "10.0.0.1", ""] {
            assert!(!is_loopback_name(other), "{other}");
        }
        let s = Settings::from_env(&[("OPSORCH_ALLOWED_HOSTS", "Opsorch.internal, ,x.example.")])
            .unwrap();
        assert_eq!(s.allowed_hosts, ["opsorch.internal", "x.example"]);
        assert!(s.checks_host_names(), "a list is checked on any address");
        for local in ["127.0.0.1:0", "[::1]:8080", "localhost:8080", "127.0.0.2:1"] {
            assert!(is_loopback_listen_addr(local), "{local}");
        }
        for all in [
            ":8080",
            "0.0.0.0:8080",
            "[::]:8080",
            "10.1.2.3:80",
            "opsorch:8080",
        ] {
            assert!(!is_loopback_listen_addr(all), "{all}");
        }
        assert!(!Settings::from_env(&[("OPSORCH_ADDR", ":8080")])
            .unwrap()
            .checks_host_names());
    }

    #[test]
    fn refuses_bearer_tokens_that_cannot_work() {
        for bad in ["", " ", " tok", "tok\n", "\ttok"] {
            let err = Settings::from_env(&[("OPSORCH_BEARER_TOKEN", bad)]).unwrap_err();
            assert_eq!(err.variable, "OPSORCH_BEARER_TOKEN", "{bad:?}");
            assert!(!err.reason.contains("tok"), "{err}");
        }
        let s = Settings::from_env(&[("OPSORCH_BEARER_TOKEN", "t o k")]).unwrap();
        assert_eq!(s.bearer_token.as_deref(), Some("t o k"));
    }

    #[test]
    fn refuses_half_a_tls_pair() {
        let err = Settings::from_env(&[("OPSORCH_TLS_CERT_FILE", "/c")]).unwrap_err();
        assert_eq!(err.variable, "OPSORCH_TLS_KEY_FILE");
        let err = Settings::from_env(&[("OPSORCH_TLS_KEY_FILE", "/k")]).unwrap_err();
        assert_eq!(err.variable, "OPSORCH_TLS_CERT_FILE");
    }

    #[test]
    fn refuses_a_cors_origin_that_is_not_a_header_value() {
        let err = Settings::from_env(&[("OPSORCH_CORS_ORIGIN", "http://a\u{7f}")]).unwrap_err();
        assert_eq!(err.variable, "OPSORCH_CORS_ORIGIN");
    }

    #[test]
    fn limits_and_timeouts() {
        let s = Settings::from_env(&[("UNRELATED", "x")]).unwrap();
        assert_eq!(s.limits, ServerLimits::default());
        assert_eq!(s.limits.header_timeout, Duration::from_secs(10));
        assert_eq!(s.limits.max_header_bytes, 65536);
        // The default request timeout outlasts the default plugin timeout.
        assert_eq!(s.request_timeout, Duration::from_secs(60));
        assert!(s.request_timeout > DEFAULT_PLUGIN_TIMEOUT);
        let s = Settings::from_env(&[
            ("OPSORCH_HEADER_TIMEOUT_MS", "250"),
            ("OPSORCH_MAX_HEADER_BYTES", "2048"),
            ("OPSORCH_MAX_CONNECTIONS", "3"),
            ("OPSORCH_WRITE_TIMEOUT_MS", "500"),
            ("OPSORCH_PLUGIN_TIMEOUT_MS", "90000"),
        ])
        .unwrap();
        assert_eq!(
            s.limits,
            ServerLimits {
                header_timeout: Duration::from_millis(250),
                max_header_bytes: 2048,
                max_connections: 3,
                write_timeout: Duration::from_millis(500),
            }
        );
        assert_eq!(s.request_timeout, Duration::from_secs(95));
        let s = Settings::from_env(&[
            ("OPSORCH_REQUEST_TIMEOUT_MS", "2000"),
            ("OPSORCH_PLUGIN_TIMEOUT_MS", "2000"),
        ])
        .unwrap();
        assert_eq!(s.request_timeout, Duration::from_secs(2));
        let err = Settings::from_env(&[("OPSORCH_REQUEST_TIMEOUT_MS", "2000")]).unwrap_err();
        assert_eq!(err.variable, "OPSORCH_REQUEST_TIMEOUT_MS");
        assert!(err.reason.contains("OPSORCH_PLUGIN_TIMEOUT_MS"), "{err}");
        for (name, bad) in [
            ("OPSORCH_HEADER_TIMEOUT_MS", "0"),
            ("OPSORCH_MAX_HEADER_BYTES", "100"),
            ("OPSORCH_MAX_CONNECTIONS", "-3"),
            ("OPSORCH_WRITE_TIMEOUT_MS", "soon"),
        ] {
            let err = Settings::from_env(&[(name, bad)]).unwrap_err();
            assert_eq!(err.variable, name);
        }
    }

    const HEX_KEY: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

    #[test]
    fn keys_are_hex_or_base64_of_32_bytes_and_never_shown() {
        let bytes: [u8; 32] = std::array::from_fn(|i| i as u8);
        let b64 = base64::engine::general_purpose::STANDARD.encode(bytes);
        for text in [
            HEX_KEY.to_owned(),
            HEX_KEY.to_uppercase(),
            b64.clone(),
            b64.trim_end_matches('=').to_owned(),
            format!("  {HEX_KEY}\n"),
        ] {
            let k = KeyMaterial::parse(&text, SECRET_KEY_VAR).unwrap();
            assert_eq!(k.bytes(), &bytes);
            assert_eq!(
                format!("{k:?}"),
                "KeyMaterial(from OPSORCH_SECRET_KEY, redacted)"
            );
        }
        for bad in [
            "",
            "abc",
            &HEX_KEY[..62],
            &format!("{HEX_KEY}00"),
            "not base64 at all!!",
            // 64 characters, not all hex, and not base64 of 32 bytes.
            &format!("{}zz", &HEX_KEY[..62]),
        ] {
            assert_eq!(KeyMaterial::parse(bad, SECRET_KEY_VAR).unwrap_err(), BadKey);
        }
        // One fixed reason: the text is never quoted.
        assert_eq!(
            BadKey.to_string(),
            "must be 64 hex characters or the base64 of 32 bytes"
        );
        let err = KeyMaterial::from_env(&[(SECRET_KEY_VAR, "hunter2hunter2")]).unwrap_err();
        assert_eq!(err.variable, SECRET_KEY_VAR);
        assert!(!err.to_string().contains("hunter2"));
        let err = KeyMaterial::from_env(&[(SECRET_KEY_VAR, HEX_KEY), (SECRET_KEY_FILE_VAR, "/k")])
            .unwrap_err();
        assert_eq!(err.variable, SECRET_KEY_FILE_VAR);
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("key");
        std::fs::write(&file, format!("{b64}\n")).unwrap();
        // Open to others: refused, like an unprotected ssh key.
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = |m| std::fs::Permissions::from_mode(m);
            std::fs::set_permissions(&file, mode(0o640)).unwrap();
            let err = KeyMaterial::from_env(&[(SECRET_KEY_FILE_VAR, file.to_str().unwrap())])
                .unwrap_err();
            assert_eq!(err.variable, SECRET_KEY_FILE_VAR);
            assert!(err.reason.contains("chmod 600"), "{err}");
            std::fs::set_permissions(&file, mode(0o600)).unwrap();
        }
        let k = KeyMaterial::from_env(&[(SECRET_KEY_FILE_VAR, file.to_str().unwrap())])
            .unwrap()
            .unwrap();
        assert_eq!(k.variable(), SECRET_KEY_FILE_VAR);
        assert_eq!(k.bytes(), &bytes);
        let err = KeyMaterial::from_env(&[(SECRET_KEY_FILE_VAR, "/nonexistent/key")]).unwrap_err();
        assert_eq!(err.variable, SECRET_KEY_FILE_VAR);
        assert!(KeyMaterial::from_env(&[("UNRELATED", "x")])
            .unwrap()
            .is_none());
    }

    #[test]
    fn plugin_timeout_is_parsed_once_strictly() {
        let s = Settings::from_env(&[(PLUGIN_TIMEOUT_VAR, "1500")]).unwrap();
        assert_eq!(s.plugin_timeout, Duration::from_millis(1500));
        assert_eq!(
            Settings::from_env(&[("X", "1")]).unwrap().plugin_timeout,
            DEFAULT_PLUGIN_TIMEOUT
        );
        for bad in ["0", "-1", "soon"] {
            let err = Settings::from_env(&[(PLUGIN_TIMEOUT_VAR, bad)]).unwrap_err();
            assert_eq!(err.variable, PLUGIN_TIMEOUT_VAR);
        }
    }

    #[test]
    fn refuses_bad_body_limit() {
        for bad in ["0", "-1", "lots"] {
            let err = Settings::from_env(&[("OPSORCH_MAX_BODY_BYTES", bad)]).unwrap_err();
            assert_eq!(err.variable, "OPSORCH_MAX_BODY_BYTES");
        }
    }
}
