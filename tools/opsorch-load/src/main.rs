//! `opsorch-load`: the soak test's load generator.
//!
//! Opens `--connections` keep-alive HTTP/1.1 connections to an OpsOrch host
//! on loopback and sends the mix of [`mix`] (every route of every
//! capability, ids from the mock adapter's seeded world) until
//! `--duration` has passed or `--max-requests` were sent, whichever comes
//! first. Every loop is bounded: by the deadline, the request budget, and a
//! per-request timeout.
//!
//! Non-2xx responses are classified (see [`stats::classify`] and
//! [`faults`]): a fault code is *fault* only when it arrived inside a fault
//! window of its capability (from `--fault-events`, or one of this
//! generator's own reconfigurations) plus `--fault-grace`; a `404` for a
//! record the generator created on a capability named in `--fault-caps` is
//! *lost-state*; anything else is *unexpected*. Requests without a response
//! (timeouts, resets), chain checks that fail (a run not `completed` after
//! completing all its steps), and a route of a faulted capability that never
//! answered 2xx after the capability's last fault are unexpected too. The
//! exit status is 1 when anything was unexpected (or, with
//! `--require-coverage`, a route never answered 2xx), 2 on a usage error.
//!
//! Output: a human report on stdout, ending with one machine-readable line
//! `OPSORCH_LOAD requests=… ok=… non2xx=… fault=… lost_state=… unexpected=…
//! p50_ms=… p99_ms=… rps=…`; `--json FILE` writes the full report as JSON.

mod faults;
mod http;
mod mix;
mod stats;

use std::collections::{BTreeSet, VecDeque};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use clap::Parser;
use serde_json::{json, Value};

use crate::faults::{now_ms, parse_events, recovery, slot, Window, Windows};
use crate::http::Conn;
use crate::mix::{Cap, Req, Rng, Then};
use crate::stats::{bump, classify, Class, Seen, Stats};

/// Mixed traffic over every OpsOrch route, on loopback, bounded in time and count.
#[derive(Parser, Debug)]
#[command(version)]
struct Args {
    /// Host address (loopback only), e.g. 127.0.0.1:8080.
    #[arg(long)]
    addr: SocketAddr,
    /// Concurrent keep-alive connections.
    #[arg(long, default_value_t = 256)]
    connections: usize,
    /// How long to send: `60s`, `500ms`, `2m` or plain seconds.
    #[arg(long, default_value = "60s", value_parser = parse_duration)]
    duration: Duration,
    /// Upper bound on requests sent, across all connections.
    #[arg(long, default_value_t = 50_000_000)]
    max_requests: u64,
    /// Chains (create + follow-ups) started per second, across all
    /// connections, after the first `--write-burst`; 0 disables them.
    #[arg(long, default_value_t = 1.0)]
    write_rate: f64,
    /// Chains that may start at once (3: one of each kind right away).
    #[arg(long, default_value_t = 3)]
    write_burst: u64,
    /// Capabilities that may lose created records because their provider
    /// is replaced or restarted during the run (comma-separated).
    #[arg(long, value_delimiter = ',', value_parser = parse_cap)]
    fault_caps: Vec<Cap>,
    /// File the fault injector appends its events to, read at the end of
    /// the run: `<unix seconds> <capability> start|end|kill` per line (see
    /// `src/faults.rs`). Fault codes count as faults only inside these
    /// windows (plus `--fault-grace`). Must exist when the run ends.
    #[arg(long)]
    fault_events: Option<PathBuf>,
    /// How long after a fault window closes its fault codes still count as
    /// caused by it (calls that were in flight, a plugin restarting).
    #[arg(long, default_value = "2s", value_parser = parse_duration)]
    fault_grace: Duration,
    /// Reconfigure a capability through `POST /providers/{cap}` while the
    /// load runs: `CAP=JSON` (e.g. `services={"provider":"mock"}`). The
    /// capability is treated as one whose records may be lost.
    #[arg(long)]
    reconfigure: Option<String>,
    /// Interval between reconfigurations.
    #[arg(long, default_value = "2s", value_parser = parse_duration)]
    reconfigure_every: Duration,
    /// Per-request timeout (a timeout counts as unexpected).
    #[arg(long, default_value = "35s", value_parser = parse_duration)]
    timeout: Duration,
    /// Bearer token to send (`OPSORCH_BEARER_TOKEN` of the host).
    #[arg(long, env = "OPSORCH_LOAD_TOKEN")]
    token: Option<String>,
    /// Runtime worker threads (1 leaves the other cores to the host).
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// Fail when some route of the mix never got a 2xx answer.
    #[arg(long)]
    require_coverage: bool,
    /// Write the full report as JSON to this file.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Label for the report.
    #[arg(long, default_value = "load")]
    label: String,
    /// Seconds between progress lines on stderr (0: none).
    #[arg(long, default_value_t = 10)]
    progress: u64,
    /// Send one request instead of load: `METHOD PATH [BODY]`. Prints the
    /// status and body; exits 0 on a 2xx answer, 1 otherwise. The soak
    /// script uses it to inject faults, so it needs no curl.
    #[arg(long, num_args = 2..=3, value_names = ["METHOD", "PATH", "BODY"])]
    once: Option<Vec<String>>,
}

fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let (number, unit) = match text.find(|c: char| !c.is_ascii_digit() && c != '.') {
        Some(i) => text.split_at(i),
        None => (text, "s"),
    };
    let n: f64 = number
        .parse()
        .map_err(|_| format!("bad duration {text:?} (use 60s, 500ms, 2m)"))?;
    let secs = match unit {
        "ms" => n / 1000.0,
        "s" => n,
        "m" => n * 60.0,
        _ => return Err(format!("bad duration unit in {text:?} (use ms, s or m)")),
    };
    if !(0.0..=86_400.0).contains(&secs) {
        return Err(format!("duration {text:?} out of range"));
    }
    Ok(Duration::from_secs_f64(secs))
}

fn parse_cap(text: &str) -> Result<Cap, String> {
    Cap::parse(text).ok_or_else(|| format!("unknown capability {text:?}"))
}

/// State shared by every connection task.
struct Shared {
    args: Args,
    started: Instant,
    deadline: Instant,
    /// Extra `Authorization` header line, or empty.
    auth: String,
    /// Capabilities whose lost records are expected.
    faulted: BTreeSet<Cap>,
    /// Requests claimed so far (bounded by `--max-requests`).
    claimed: AtomicU64,
    /// Chains started so far (bounded by `--write-rate`).
    chains: AtomicU64,
    /// For progress lines only.
    served: AtomicU64,
    unexpected: AtomicU64,
    stop: AtomicBool,
}

impl Shared {
    fn running(&self) -> bool {
        !self.stop.load(Ordering::Relaxed) && Instant::now() < self.deadline
    }

    fn claim_request(&self) -> bool {
        self.claimed.fetch_add(1, Ordering::Relaxed) < self.args.max_requests
    }

    /// Takes a chain token if the rate allows one now; returns its number.
    fn claim_chain(&self) -> Option<u64> {
        let allowed = self.args.write_burst
            + (self.started.elapsed().as_secs_f64() * self.args.write_rate.max(0.0)) as u64;
        let mut taken = self.chains.load(Ordering::Relaxed);
        while taken < allowed {
            match self.chains.compare_exchange_weak(
                taken,
                taken + 1,
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => return Some(taken),
                Err(now) => taken = now,
            }
        }
        None
    }
}

/// Sends one request, reconnecting as needed, and records the outcome.
/// Returns the response when there was one.
async fn exchange(
    shared: &Shared,
    conn: &mut Option<Conn>,
    stats: &mut Stats,
    req: &Req,
) -> Option<http::Response> {
    let addr = shared.args.addr;
    let body = req.body.as_deref().map(str::as_bytes);
    stats.sent += 1;
    for attempt in 0..2 {
        if conn.is_none() {
            match tokio::time::timeout(Duration::from_secs(10), Conn::connect(addr)).await {
                Ok(Ok(c)) => {
                    stats.connects += 1;
                    *conn = Some(c);
                }
                Ok(Err(e)) => {
                    bump(&mut stats.transport, format!("connect: {}", e.kind()));
                    shared.unexpected.fetch_add(1, Ordering::Relaxed);
                    // Do not spin on a host that refuses connections.
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    return None;
                }
                Err(_) => {
                    bump(&mut stats.transport, "connect: timed out".into());
                    shared.unexpected.fetch_add(1, Ordering::Relaxed);
                    return None;
                }
            }
        }
        let c = conn.as_mut().expect("connected above");
        let reused = c.served > 0;
        let start = Instant::now();
        let outcome = tokio::time::timeout(
            shared.args.timeout,
            c.send(req.method, &req.path, body, &shared.auth),
        )
        .await;
        match outcome {
            Ok(Ok(response)) => {
                stats.latency.record(start.elapsed());
                if c.closed {
                    *conn = None;
                }
                return Some(response);
            }
            Ok(Err(e)) => {
                // A keep-alive connection the server closed just as we wrote:
                // the standard race, retried once on a fresh connection.
                if attempt == 0
                    && reused
                    && !c.partial
                    && matches!(
                        e.kind(),
                        std::io::ErrorKind::UnexpectedEof
                            | std::io::ErrorKind::ConnectionReset
                            | std::io::ErrorKind::BrokenPipe
                    )
                {
                    *conn = None;
                    stats.retries += 1;
                    continue;
                }
                *conn = None;
                bump(&mut stats.transport, format!("{}: {e}", req.route));
                shared.unexpected.fetch_add(1, Ordering::Relaxed);
                return None;
            }
            Err(_) => {
                *conn = None;
                bump(
                    &mut stats.transport,
                    format!(
                        "{}: no response within {:?}",
                        req.route, shared.args.timeout
                    ),
                );
                shared.unexpected.fetch_add(1, Ordering::Relaxed);
                return None;
            }
        }
    }
    None
}

/// Records a response to a request sent at `sent_ms` (wall clock); returns
/// whether it was 2xx.
fn record(
    shared: &Shared,
    stats: &mut Stats,
    req: &Req,
    response: &http::Response,
    sent_ms: u64,
) -> bool {
    stats.served += 1;
    shared.served.fetch_add(1, Ordering::Relaxed);
    *stats.statuses.entry(response.status).or_default() += 1;
    let route = stats.routes.entry(req.route).or_default();
    if (200..300).contains(&response.status) {
        route.0 += 1;
        let last = stats.last_ok_sent.entry(req.route).or_default();
        *last = (*last).max(sent_ms);
        return true;
    }
    route.1 += 1;
    let code = serde_json::from_slice::<Value>(&response.body)
        .ok()
        .and_then(|v| v["code"].as_str().map(str::to_string))
        .unwrap_or_else(|| "-".into());
    let class = match classify(
        shared.faulted.contains(&req.cap),
        req.created,
        response.status,
        &code,
    ) {
        Seen::Held => {
            *stats
                .held
                .entry((req.route, req.cap, response.status, code))
                .or_default()
                .entry(slot(now_ms()))
                .or_default() += 1;
            return false;
        }
        Seen::LostState => Class::LostState,
        Seen::Unexpected => {
            shared.unexpected.fetch_add(1, Ordering::Relaxed);
            Class::Unexpected
        }
    };
    *stats
        .errors
        .entry((class, req.route, req.cap, response.status, code))
        .or_default() += 1;
    false
}

/// One connection: sends the mix until the deadline or the request budget.
async fn connection(shared: Arc<Shared>, index: usize) -> Stats {
    let mut stats = Stats::default();
    let mut rng = Rng::new(index as u64 + 1);
    let mut queue: VecDeque<Req> = VecDeque::new();
    // Different starting points so every route is hit from the start.
    let mut cycle = index * 7;
    let mut conn: Option<Conn> = None;
    while shared.running() && shared.claim_request() {
        let req = if let Some(req) = queue.pop_front() {
            req
        } else if let Some(n) = shared.claim_chain() {
            stats.chains_started += 1;
            mix::chain_start(n, index, &mut rng)
        } else {
            cycle += 1;
            mix::stateless(cycle, index, &mut rng)
        };
        let sent_ms = now_ms();
        let Some(response) = exchange(&shared, &mut conn, &mut stats, &req).await else {
            queue.clear();
            continue;
        };
        if !record(&shared, &mut stats, &req, &response, sent_ms) {
            // The chain cannot go on without this step.
            queue.clear();
            continue;
        }
        if req.then != Then::Nothing {
            if let Err(e) = mix::follow_up(&req, &response.body, &mut queue) {
                bump(&mut stats.checks, e.0);
                shared.unexpected.fetch_add(1, Ordering::Relaxed);
                queue.clear();
            } else if req.then == Then::ExpectRunCompleted {
                stats.chains_finished += 1;
            }
        } else if req.created && queue.is_empty() {
            stats.chains_finished += 1;
        }
    }
    stats
}

/// `POST /providers/{cap}` every `--reconfigure-every`, on its own connection.
async fn reconfigure(shared: Arc<Shared>, cap: Cap, path: String, body: String) -> Stats {
    let mut stats = Stats::default();
    let mut conn = None;
    let req = Req {
        route: "POST /providers/{cap}",
        cap,
        method: "POST",
        path,
        body: Some(body),
        created: false,
        then: Then::Nothing,
    };
    let every = shared
        .args
        .reconfigure_every
        .max(Duration::from_millis(100));
    loop {
        tokio::time::sleep(every).await;
        if !shared.running() || !shared.claim_request() {
            break;
        }
        let sent_ms = now_ms();
        let response = exchange(&shared, &mut conn, &mut stats, &req).await;
        // The provider may be swapped from the moment the request is sent
        // until it is answered (or, without an answer, until now).
        stats.reconfigured.push((sent_ms, now_ms()));
        if let Some(response) = response {
            record(&shared, &mut stats, &req, &response, sent_ms);
        }
    }
    stats
}

async fn progress(shared: Arc<Shared>) {
    let every = Duration::from_secs(shared.args.progress);
    loop {
        tokio::time::sleep(every).await;
        if !shared.running() {
            break;
        }
        eprintln!(
            "[{}] {:>5.1}s  served {:>9}  unexpected {}",
            shared.args.label,
            shared.started.elapsed().as_secs_f64(),
            shared.served.load(Ordering::Relaxed),
            shared.unexpected.load(Ordering::Relaxed)
        );
    }
}

fn ms(us: u64) -> f64 {
    us as f64 / 1000.0
}

/// Prints the human report and returns the JSON one.
fn report(shared: &Shared, stats: &Stats, elapsed: Duration, routes: &[(&str, Cap)]) -> Value {
    let secs = elapsed.as_secs_f64().max(1e-9);
    let rps = stats.served as f64 / secs;
    let ok: u64 = stats.routes.values().map(|(ok, _)| ok).sum();
    let (p50, p90, p99) = (
        stats.latency.quantile_us(0.50),
        stats.latency.quantile_us(0.90),
        stats.latency.quantile_us(0.99),
    );
    let uncovered: Vec<&str> = routes
        .iter()
        .filter(|(r, _)| stats.routes.get(r).is_none_or(|(ok, _)| *ok == 0))
        .map(|(r, _)| *r)
        .collect();
    let faulted: Vec<&str> = shared.faulted.iter().map(|c| c.name()).collect();

    println!(
        "== {}: {} connections, {:.1}s, fault caps [{}]",
        shared.args.label,
        shared.args.connections,
        secs,
        faulted.join(",")
    );
    println!(
        "requests served {}  ({:.0}/s)  2xx {}  non-2xx {}  (fault {}, lost-state {}, unexpected {})",
        stats.served,
        rps,
        ok,
        stats.non_2xx(),
        stats.count_class(Class::Fault),
        stats.count_class(Class::LostState),
        stats.count_class(Class::Unexpected)
    );
    println!(
        "latency p50 {:.2} ms  p90 {:.2} ms  p99 {:.2} ms  max {:.2} ms",
        ms(p50),
        ms(p90),
        ms(p99),
        ms(stats.latency.max_us())
    );
    let statuses: Vec<String> = stats
        .statuses
        .iter()
        .map(|(s, n)| format!("{s}:{n}"))
        .collect();
    println!("statuses {}", statuses.join(" "));
    println!(
        "chains started {} finished {}  connects {}  keep-alive retries {}",
        stats.chains_started, stats.chains_finished, stats.connects, stats.retries
    );
    if !stats.errors.is_empty() {
        println!("non-2xx by class, route, status and code:");
        for ((class, route, cap, status, code), n) in &stats.errors {
            println!(
                "  {:<10} {:>8}  {status} {code:<22} {route} [{cap}]",
                class.name(),
                n
            );
        }
    }
    for (what, n) in &stats.transport {
        println!("  UNEXPECTED {n:>8}  no response: {what}");
    }
    for (what, n) in &stats.checks {
        println!("  UNEXPECTED {n:>8}  check failed: {what}");
    }
    if !uncovered.is_empty() {
        println!("routes without a 2xx answer: {}", uncovered.join(", "));
    }

    let errors: Vec<Value> = stats
        .errors
        .iter()
        .map(|((class, route, cap, status, code), n)| {
            json!({"class": class.name(), "route": route, "capability": cap.name(),
                   "status": status, "code": code, "count": n})
        })
        .collect();
    json!({
        "label": shared.args.label,
        "connections": shared.args.connections,
        "seconds": secs,
        "faultCaps": faulted,
        "requests": stats.served,
        "sent": stats.sent,
        "rps": rps,
        "ok": ok,
        "non2xx": stats.non_2xx(),
        "fault": stats.count_class(Class::Fault),
        "lostState": stats.count_class(Class::LostState),
        "unexpected": stats.unexpected(),
        "latencyMs": {"p50": ms(p50), "p90": ms(p90), "p99": ms(p99), "max": ms(stats.latency.max_us())},
        "statuses": stats.statuses.iter().map(|(s, n)| (s.to_string(), json!(n))).collect::<serde_json::Map<_, _>>(),
        "errors": errors,
        "noResponse": stats.transport,
        "checkFailures": stats.checks,
        "routes": stats.routes.iter().map(|(r, (ok, bad))| (r.to_string(), json!({"ok": ok, "non2xx": bad}))).collect::<serde_json::Map<_, _>>(),
        "uncovered": uncovered,
        "chains": {"started": stats.chains_started, "finished": stats.chains_finished},
        "connects": stats.connects,
        "retries": stats.retries,
    })
}

/// `--once`: one request, answer on stdout.
async fn once(args: &Args, request: &[String]) -> anyhow::Result<bool> {
    let (method, path) = (request[0].as_str(), request[1].as_str());
    let body = request.get(2).map(String::as_bytes);
    let auth = match &args.token {
        Some(t) if !t.is_empty() => format!("Authorization: Bearer {t}\r\n"),
        _ => String::new(),
    };
    let exchange = async {
        let mut conn = Conn::connect(args.addr).await?;
        conn.send(method, path, body, &auth).await
    };
    let response = tokio::time::timeout(args.timeout, exchange)
        .await
        .map_err(|_| anyhow::anyhow!("{method} {path}: no answer within {:?}", args.timeout))?
        .with_context(|| format!("{method} {path}"))?;
    println!(
        "{} {}",
        response.status,
        String::from_utf8_lossy(&response.body)
    );
    Ok((200..300).contains(&response.status))
}

async fn run(args: Args) -> anyhow::Result<bool> {
    if !args.addr.ip().is_loopback() {
        bail!("--addr {} is not a loopback address", args.addr);
    }
    if let Some(request) = &args.once {
        return once(&args, request).await;
    }
    if args.connections == 0 || args.connections > 4096 {
        bail!("--connections must be 1..=4096");
    }
    let mut faulted: BTreeSet<Cap> = args.fault_caps.iter().copied().collect();
    let mut routes: Vec<(&str, Cap)> = mix::ROUTES.to_vec();
    let reconfigured_cap = args
        .reconfigure
        .as_deref()
        .and_then(|spec| spec.split_once('='))
        .and_then(|(name, _)| Cap::parse(name));
    let reconfigure_plan = match &args.reconfigure {
        None => None,
        Some(spec) => {
            let (name, body) = spec
                .split_once('=')
                .context("--reconfigure wants CAP=JSON")?;
            let cap = parse_cap(name).map_err(anyhow::Error::msg)?;
            serde_json::from_str::<Value>(body).context("--reconfigure JSON")?;
            faulted.insert(cap);
            routes.push(("POST /providers/{cap}", Cap::Meta));
            Some((cap, format!("/providers/{}", name.trim()), body.to_string()))
        }
    };
    let auth = match &args.token {
        Some(t) if !t.is_empty() => format!("Authorization: Bearer {t}\r\n"),
        _ => String::new(),
    };
    let started = Instant::now();
    let shared = Arc::new(Shared {
        deadline: started + args.duration,
        started,
        auth,
        faulted,
        claimed: AtomicU64::new(0),
        chains: AtomicU64::new(0),
        served: AtomicU64::new(0),
        unexpected: AtomicU64::new(0),
        stop: AtomicBool::new(false),
        args,
    });

    let mut tasks = Vec::new();
    for i in 0..shared.args.connections {
        tasks.push(tokio::spawn(connection(shared.clone(), i)));
    }
    if let Some((cap, path, body)) = reconfigure_plan {
        tasks.push(tokio::spawn(reconfigure(shared.clone(), cap, path, body)));
    }
    let progress = (shared.args.progress > 0).then(|| tokio::spawn(progress(shared.clone())));
    let stopper = {
        let shared = shared.clone();
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                shared.stop.store(true, Ordering::Relaxed);
            }
        })
    };

    let mut total = Stats::default();
    for task in tasks {
        total.merge(&task.await.context("connection task")?);
    }
    let elapsed = started.elapsed();

    // Judge the fault codes against the windows, and check recovery.
    let grace_ms = u64::try_from(shared.args.fault_grace.as_millis()).unwrap_or(u64::MAX);
    let injected = match &shared.args.fault_events {
        None => Vec::new(),
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading the fault events {}", path.display()))?;
            parse_events(&text).with_context(|| format!("in {}", path.display()))?
        }
    };
    let injected = Windows::new(injected, grace_ms);
    let mut windows = injected.clone();
    if let Some(cap) = reconfigured_cap {
        for &(from_ms, to_ms) in &total.reconfigured {
            windows.add(Window {
                cap,
                from_ms,
                to_ms: Some(to_ms),
            });
        }
    }
    total.judge(&windows);
    let not_recovered = recovery(&injected, &mix::stateless_routes(), &total.last_ok_sent);
    for missing in &not_recovered {
        bump(&mut total.checks, format!("not recovered: {missing}"));
    }
    stopper.abort();
    if let Some(p) = progress {
        p.abort();
    }

    let json = report(&shared, &total, elapsed, &routes);
    let uncovered = json["uncovered"].as_array().map_or(0, Vec::len);
    if let Some(path) = &shared.args.json {
        std::fs::write(path, serde_json::to_vec_pretty(&json)?)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    println!(
        "OPSORCH_LOAD requests={} ok={} non2xx={} fault={} lost_state={} unexpected={} uncovered={} p50_ms={:.2} p99_ms={:.2} rps={:.0}",
        total.served,
        json["ok"],
        total.non_2xx(),
        total.count_class(Class::Fault),
        total.count_class(Class::LostState),
        total.unexpected(),
        uncovered,
        json["latencyMs"]["p50"].as_f64().unwrap_or(0.0),
        json["latencyMs"]["p99"].as_f64().unwrap_or(0.0),
        json["rps"].as_f64().unwrap_or(0.0),
    );
    Ok(total.unexpected() == 0 && !(shared.args.require_coverage && uncovered > 0))
}

fn main() -> ExitCode {
    let args = Args::parse();
    let threads = args.threads.clamp(1, 64);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("opsorch-load: cannot start the runtime: {e}");
            return ExitCode::from(2);
        }
    };
    match runtime.block_on(run(args)) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("opsorch-load: {e:#}");
            ExitCode::from(2)
        }
    }
}
