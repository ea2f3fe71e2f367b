//! Real Prometheus and Alertmanager servers for the adapter tests: each test
//! starts its own processes (Debian's `prometheus`, `promtool` and
//! `prometheus-alertmanager`) on free loopback ports with temporary data
//! directories, and kills them when dropped. No system service is used.
//!
//! Prometheus' data is deterministic: [`Dataset`] writes known series in
//! OpenMetrics, `promtool tsdb create-blocks-from openmetrics` turns them
//! into blocks before the server starts, so query answers can be asserted
//! exactly. The timestamps are the last few hours (minute-aligned), inside
//! the default 15-day retention.

use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use opsorch_e2e::{http, TempDir};

use crate::upstream_support::closed_port;

/// The binaries the real-server tests need.
pub struct Tools {
    pub prometheus: PathBuf,
    pub promtool: PathBuf,
    pub alertmanager: PathBuf,
}

fn on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}

/// The tools, or `None` after printing one line saying that `tests` did
/// not run and how to install them. Under `CI=true` a missing tool fails
/// the test instead.
pub fn tools(tests: &str) -> Option<Tools> {
    let prometheus = on_path("prometheus");
    let promtool = on_path("promtool");
    let alertmanager = on_path("prometheus-alertmanager").or_else(|| on_path("alertmanager"));
    if let (Some(prometheus), Some(promtool), Some(alertmanager)) =
        (prometheus.clone(), promtool.clone(), alertmanager.clone())
    {
        return Some(Tools {
            prometheus,
            promtool,
            alertmanager,
        });
    }
    let missing: Vec<&str> = [
        ("prometheus", prometheus.is_none()),
        ("promtool", promtool.is_none()),
        ("prometheus-alertmanager", alertmanager.is_none()),
    ]
    .into_iter()
    .filter(|(_, absent)| *absent)
    .map(|(name, _)| name)
    .collect();
    let message = format!(
        "{tests} did not run: {} not installed; install with `apt-get install -y --no-install-recommends prometheus prometheus-alertmanager` (or scripts/ci-prometheus)",
        missing.join(", ")
    );
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("{message}");
    }
    eprintln!("{message}");
    None
}

/// A server process, killed and reaped on drop.
pub struct Server {
    pub addr: SocketAddr,
    child: Child,
    /// Removed (with the data) after the process is gone.
    _dir: TempDir,
    log: PathBuf,
}

impl Server {
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The server's own log, for failure messages.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn get(&self, path: &str) -> opsorch_e2e::Response {
        http(self.addr, "GET", path, &[], None)
    }

    /// POST with a body and content type.
    pub fn post(&self, path: &str, content_type: &str, body: &str) -> opsorch_e2e::Response {
        http(
            self.addr,
            "POST",
            path,
            &[("Content-Type", content_type)],
            Some(body.as_bytes()),
        )
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The status of `GET path`, or `None` when nothing answers.
fn probe(addr: SocketAddr, path: &str) -> Option<u16> {
    use std::io::{Read, Write};
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_millis(500)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).ok()?;
    let text = String::from_utf8_lossy(&raw);
    text.split_whitespace().nth(1)?.parse().ok()
}

/// Starts `program` with `args(port)` until `GET /-/ready` answers 200,
/// retrying on another port when the chosen one was taken meanwhile.
fn start_ready(
    name: &str,
    program: &Path,
    dir: TempDir,
    args: impl Fn(u16) -> Vec<String>,
) -> Server {
    let log = dir.path().join(format!("{name}.log"));
    for _attempt in 0..3 {
        let port = closed_port();
        let addr: SocketAddr = ([127, 0, 0, 1], port).into();
        let out = std::fs::File::create(&log).expect("create server log");
        let err = out.try_clone().expect("clone log handle");
        let mut child = Command::new(program)
            .args(args(port))
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::from(out))
            .stderr(Stdio::from(err))
            .spawn()
            .unwrap_or_else(|e| panic!("start {}: {e}", program.display()));
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                let text = std::fs::read_to_string(&log).unwrap_or_default();
                if text.contains("address already in use") {
                    break;
                }
                panic!("{name} exited with {status} before it was ready:\n{text}");
            }
            if probe(addr, "/-/ready") == Some(200) {
                return Server {
                    addr,
                    child,
                    _dir: dir,
                    log,
                };
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                let text = std::fs::read_to_string(&log).unwrap_or_default();
                panic!("{name} was not ready within 60 s:\n{text}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    panic!("{name} found no free port in 3 attempts");
}

/// Label values that must survive the trip through PromQL and matchers:
/// `(case, value)`.
pub const HOSTILE: [(&str, &str); 8] = [
    ("quote", r#"say "hi""#),
    ("backslash", r"C:\temp\"),
    ("newline", "two\nlines"),
    ("tab", "tab\there"),
    ("unicode", "日本語 ☃ 🚀"),
    ("injection", r#"x"} or vector(1) #"#),
    ("regexmeta", "a.b*c"),
    ("decoy", "aXbbc"),
];

/// The services, environments and codes of `http_requests_total`, with the
/// team owning each service.
pub const SERVICES: [(&str, &str); 2] = [("checkout", "commerce"), ("payments", "money")];
pub const ENVS: [&str; 2] = ["prod", "staging"];
pub const CODES: [&str; 2] = ["200", "500"];
/// Samples per series, one a minute.
pub const SAMPLES: i64 = 120;

/// The known series.
///
/// - `http_requests_total{service,team,env,code,method="GET"}` (counter):
///   sample `i` is `i * rate`, with `rate` = 1…8 in the order of
///   [`SERVICES`] × [`ENVS`] × [`CODES`] (see [`Dataset::rate`]).
/// - `queue_depth{service,env="prod"}` (gauge): `i % 10 + 0.5`, plus 100
///   for payments.
/// - `hostile_info{case,v}` (gauge): 1, one series per [`HOSTILE`] entry.
pub struct Dataset {
    /// Unix seconds of sample 0, minute-aligned, three hours ago.
    pub base: i64,
}

impl Dataset {
    pub fn new() -> Dataset {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock after 1970")
            .as_secs() as i64;
        Dataset {
            base: now / 60 * 60 - 3 * 3600,
        }
    }

    /// Unix seconds of sample `i`.
    pub fn t(&self, i: i64) -> i64 {
        self.base + i * 60
    }

    /// RFC 3339 of sample `i` (what clients send).
    pub fn rfc3339(&self, i: i64) -> String {
        rfc3339(self.t(i))
    }

    /// The counter rate of one `http_requests_total` series.
    pub fn rate(service: &str, env: &str, code: &str) -> i64 {
        let s = SERVICES
            .iter()
            .position(|(s, _)| *s == service)
            .expect("service");
        let e = ENVS.iter().position(|x| *x == env).expect("env");
        let c = CODES.iter().position(|x| *x == code).expect("code");
        (s * 4 + e * 2 + c) as i64 + 1
    }

    pub fn queue_depth(service: &str, i: i64) -> f64 {
        (i % 10) as f64 + 0.5 + if service == "payments" { 100.0 } else { 0.0 }
    }

    pub fn openmetrics(&self) -> String {
        let mut out = String::new();
        out.push_str("# HELP http_requests Requests served.\n# TYPE http_requests counter\n");
        for (service, team) in SERVICES {
            for env in ENVS {
                for code in CODES {
                    let rate = Dataset::rate(service, env, code);
                    for i in 0..SAMPLES {
                        out.push_str(&format!(
                            "http_requests_total{{service=\"{service}\",team=\"{team}\",env=\"{env}\",code=\"{code}\",method=\"GET\"}} {} {}\n",
                            i * rate,
                            self.t(i)
                        ));
                    }
                }
            }
        }
        out.push_str("# HELP queue_depth Jobs waiting.\n# TYPE queue_depth gauge\n");
        for (service, team) in SERVICES {
            for i in 0..SAMPLES {
                out.push_str(&format!(
                    "queue_depth{{service=\"{service}\",team=\"{team}\",env=\"prod\"}} {} {}\n",
                    Dataset::queue_depth(service, i),
                    self.t(i)
                ));
            }
        }
        out.push_str("# TYPE hostile_info gauge\n");
        for (case, value) in HOSTILE {
            for i in 0..SAMPLES {
                out.push_str(&format!(
                    "hostile_info{{case=\"{case}\",v=\"{}\"}} 1 {}\n",
                    openmetrics_escape(value),
                    self.t(i)
                ));
            }
        }
        out.push_str("# EOF\n");
        out
    }
}

fn openmetrics_escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// RFC 3339 (UTC, seconds) of unix seconds.
pub fn rfc3339(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Civil-from-days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// What the scraped exporter serves: one metric with metadata, so that
/// `/api/v1/metadata` has something to say.
pub const EXPORTER_TEXT: &str = "# HELP build_info Build information.\n\
# TYPE build_info gauge\n\
build_info{service=\"checkout\",version=\"1.2.3\"} 1\n";

/// Backfills `data`, then starts Prometheus scraping `exporter` every
/// second, and waits for the first scrape's metadata.
pub fn start_prometheus(tools: &Tools, data: &Dataset, exporter: SocketAddr) -> Server {
    let dir = TempDir::new("prometheus");
    let om = dir.path().join("data.om");
    std::fs::write(&om, data.openmetrics()).expect("write openmetrics");
    let tsdb = dir.path().join("data");
    let out = Command::new(&tools.promtool)
        .args(["tsdb", "create-blocks-from", "openmetrics"])
        .arg(&om)
        .arg(&tsdb)
        .output()
        .expect("run promtool");
    assert!(
        out.status.success(),
        "promtool backfill failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::write(
        dir.path().join("prometheus.yml"),
        format!(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n  - job_name: exporter\n    static_configs:\n      - targets: ['{exporter}']\n"
        ),
    )
    .expect("write prometheus.yml");
    let server = start_ready("prometheus", &tools.prometheus, dir, |port| {
        vec![
            "--config.file=prometheus.yml".into(),
            "--storage.tsdb.path=data".into(),
            format!("--web.listen-address=127.0.0.1:{port}"),
            "--log.level=warn".into(),
        ]
    });
    let scraped = opsorch_e2e::wait_until(Duration::from_secs(30), || {
        server
            .get("/api/v1/metadata?metric=build_info")
            .text()
            .contains("Build information.")
    });
    assert!(
        scraped,
        "prometheus never scraped the exporter:\n{}",
        server.log()
    );
    server
}

/// The Alertmanager config: one receiver that sends nothing, and an
/// inhibition of `severity="warning"` alerts by a firing `Source` alert of
/// the same service.
const ALERTMANAGER_YML: &str = "route:\n  receiver: quiet\n  group_wait: 1h\n\
receivers:\n  - name: quiet\n\
inhibit_rules:\n  - source_matchers: ['alertname=\"Source\"']\n    target_matchers: ['severity=\"warning\"']\n    equal: ['service']\n";

/// Starts Alertmanager without clustering.
pub fn start_alertmanager(tools: &Tools) -> Server {
    let dir = TempDir::new("alertmanager");
    std::fs::write(dir.path().join("alertmanager.yml"), ALERTMANAGER_YML)
        .expect("write alertmanager.yml");
    std::fs::create_dir_all(dir.path().join("data")).expect("data dir");
    start_ready("alertmanager", &tools.alertmanager, dir, |port| {
        vec![
            "--config.file=alertmanager.yml".into(),
            "--storage.path=data".into(),
            format!("--web.listen-address=127.0.0.1:{port}"),
            // No gossip: an empty address disables clustering.
            "--cluster.listen-address=".into(),
            "--log.level=warn".into(),
        ]
    })
}
