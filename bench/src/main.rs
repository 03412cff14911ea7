//! `bench`: a loopback load generator for the lab broker, with NATS and
//! Redis as yardsticks.
//!
//! P publishers send N messages in total on one topic; every one of S
//! subscribers must receive all N. Subscriptions are confirmed before the
//! first publish. The run reports delivered messages per second (summed over
//! subscribers, first publish to last delivery), the publish rate, one-way
//! latency percentiles (the send time travels in the message text) and, when
//! the broker's process is known, its CPU time and peak resident memory.

mod client;
mod lab;
mod nats;
mod payload;
mod proc_stats;
mod redis;
mod stats;

use std::io::{BufRead, BufReader, Read};
use std::net::{SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use clap::{Parser, ValueEnum};

use crate::client::{Clock, End, Protocol, PubResult, Shared, SubResult};
use crate::stats::Summary;

/// Command line.
#[derive(Debug, Parser)]
#[command(
    name = "bench",
    version,
    about = "Loopback load generator: lab broker, NATS or Redis"
)]
struct Cli {
    /// Which broker to talk to.
    #[arg(long, value_enum, default_value_t = Target::Lab)]
    target: Target,
    /// Broker address, HOST[:PORT] on loopback (default 127.0.0.1 and the
    /// target's usual port: 8000, 4222 or 6379).
    #[arg(long)]
    addr: Option<String>,
    /// Start this lab broker binary on a free loopback port (and measure it).
    #[arg(long, value_name = "PATH", conflicts_with_all = ["addr", "broker_pid"])]
    spawn_broker: Option<PathBuf>,
    /// Process id of the broker, to report its CPU time and peak memory.
    #[arg(long, value_name = "PID")]
    broker_pid: Option<u32>,
    /// Number of publishers.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..=1024))]
    pubs: u64,
    /// Number of subscribers.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..=1024))]
    subs: u64,
    /// Message size in bytes: the lab frame payload, or the NATS/Redis
    /// message body (at least 37 bytes are always sent).
    #[arg(long, default_value_t = 128)]
    size: usize,
    /// Messages published in total, shared among the publishers.
    #[arg(long, default_value_t = 100_000,
          value_parser = clap::value_parser!(u64).range(1..=payload::MAX_SEQ))]
    count: u64,
    /// Total publish rate in messages per second (paced run); unpaced if absent.
    #[arg(long, value_name = "MSGS_PER_S")]
    rate: Option<f64>,
    /// Lab serialization mechanism.
    #[arg(long, value_enum, default_value_t = Serializer::Json)]
    serializer: Serializer,
    /// Give up after this many seconds and report what is missing.
    #[arg(long, default_value_t = 60)]
    timeout_s: u64,
    /// Once the publishers are done, stop a subscriber that has received
    /// nothing for this many seconds.
    #[arg(long, default_value_t = 5)]
    idle_s: u64,
    /// Report format.
    #[arg(long, value_enum, default_value_t = Output::Text)]
    output: Output,
}

/// The broker kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Target {
    /// The lab broker (wire protocol v1).
    Lab,
    /// nats-server, core NATS.
    Nats,
    /// redis-server pub/sub.
    Redis,
}

impl Target {
    /// The port the target usually listens on.
    fn default_port(self) -> u16 {
        match self {
            Target::Lab => 8000,
            Target::Nats => 4222,
            Target::Redis => 6379,
        }
    }
}

/// The lab serialization mechanisms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Serializer {
    /// `JSONQueue`.
    Json,
    /// `XMLQueue`.
    Xml,
}

/// Report formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Output {
    /// Several human-readable lines.
    Text,
    /// One JSON object.
    Json,
    /// One short line for a markdown table cell.
    Cell,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(&cli) {
        Ok(report) => {
            match cli.output {
                Output::Text => print_text(&cli, &report),
                Output::Json => println!("{}", to_json(&cli, &report)),
                Output::Cell => println!("{}", cell(&cli, &report)),
            }
            if report.complete() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(2)
            }
        }
        Err(e) => {
            eprintln!("bench: {e}");
            ExitCode::FAILURE
        }
    }
}

/// A lab broker started by the benchmark; killed when dropped.
#[derive(Debug)]
struct SpawnedBroker {
    child: Child,
    addr: SocketAddr,
}

impl Drop for SpawnedBroker {
    fn drop(&mut self) {
        // The broker may have exited already; nothing more to do then.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts the broker at `path` on a free loopback port and waits until it
/// accepts connections. Its output goes to our stderr, prefixed.
fn spawn_broker(path: &Path) -> Result<SpawnedBroker, String> {
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map_err(|e| format!("finding a free port: {e}"))?
        .port();
    let mut child = Command::new(path)
        .args(["--addr", "127.0.0.1", "--port", &port.to_string()])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("starting {}: {e}", path.display()))?;
    forward(child.stdout.take());
    forward(child.stderr.take());
    let mut broker = SpawnedBroker {
        child,
        addr: SocketAddr::from(([127, 0, 0, 1], port)),
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Ok(Some(status)) = broker.child.try_wait() {
            return Err(format!("the broker exited at start ({status})"));
        }
        if TcpStream::connect_timeout(&broker.addr, Duration::from_millis(200)).is_ok() {
            return Ok(broker);
        }
        if Instant::now() >= deadline {
            return Err(format!(
                "the broker does not listen on {} after 10 s",
                broker.addr
            ));
        }
        thread::sleep(Duration::from_millis(50));
    }
}

/// Copies a child's output to our stderr, line by line, on its own thread.
fn forward(output: Option<impl Read + Send + 'static>) {
    if let Some(output) = output {
        thread::spawn(move || {
            for line in BufReader::new(output).lines().map_while(Result::ok) {
                eprintln!("[broker] {line}");
            }
        });
    }
}

/// Resolves `--addr` and refuses anything but loopback.
fn resolve(addr: &str, default_port: u16) -> Result<SocketAddr, String> {
    let with_port = if addr.contains(':') {
        addr.to_owned()
    } else {
        format!("{addr}:{default_port}")
    };
    let all: Vec<SocketAddr> = with_port
        .to_socket_addrs()
        .map_err(|e| format!("--addr {addr}: {e}"))?
        .collect();
    if let Some(bad) = all.iter().find(|a| !a.ip().is_loopback()) {
        return Err(format!(
            "refusing {bad}: the benchmark targets loopback addresses only"
        ));
    }
    all.iter()
        .find(|a| a.is_ipv4())
        .or(all.first())
        .copied()
        .ok_or_else(|| format!("--addr {addr}: no address"))
}

/// Everything a run measured.
#[derive(Debug)]
struct Report {
    addr: SocketAddr,
    /// Size of one publish frame on the wire, framing included.
    frame_bytes: usize,
    pubs: Vec<PubResult>,
    subs: Vec<SubResult>,
    latency: Option<Summary>,
    broker: Option<BrokerUsage>,
}

/// The broker's resource use during the run.
#[derive(Debug)]
struct BrokerUsage {
    pid: u32,
    /// CPU time used between the first publish and the end of the run.
    cpu: Duration,
    /// Wall time of the same interval.
    wall: Duration,
    /// Peak resident memory over the broker's life.
    peak_rss_kib: u64,
}

impl Report {
    fn published(&self) -> u64 {
        self.pubs.iter().map(|p| p.sent).sum()
    }

    fn first_publish_ns(&self) -> Option<u64> {
        self.pubs.iter().filter_map(|p| p.first_ns).min()
    }

    /// Seconds from the first to the end of the last publish write.
    fn publish_secs(&self) -> f64 {
        let last = self.pubs.iter().map(|p| p.last_ns).max().unwrap_or(0);
        secs(last.saturating_sub(self.first_publish_ns().unwrap_or(last)))
    }

    fn delivered(&self) -> u64 {
        self.subs.iter().map(|s| s.unique).sum()
    }

    /// Seconds from the first publish to the last delivery.
    fn delivery_secs(&self) -> f64 {
        let last = self.subs.iter().map(|s| s.last_ns).max().unwrap_or(0);
        secs(last.saturating_sub(self.first_publish_ns().unwrap_or(last)))
    }

    fn sum(&self, f: impl Fn(&SubResult) -> u64) -> u64 {
        self.subs.iter().map(f).sum()
    }

    /// Whether every subscriber got every message once and in order, and
    /// every publisher finished.
    fn complete(&self) -> bool {
        self.subs
            .iter()
            .all(|s| s.end == End::Done && s.duplicates + s.out_of_order + s.invalid == 0)
            && self.pubs.iter().all(|p| p.failure.is_none())
    }
}

/// Nanoseconds to seconds.
fn secs(ns: u64) -> f64 {
    ns as f64 / 1e9
}

/// `count / seconds`, 0 when no time passed.
fn per_second(count: u64, seconds: f64) -> f64 {
    if seconds > 0.0 {
        count as f64 / seconds
    } else {
        0.0
    }
}

/// Sets up the broker and the clients, runs the load and collects results.
fn run(cli: &Cli) -> Result<Report, String> {
    if cli.serializer == Serializer::Xml && cli.target != Target::Lab {
        return Err("--serializer xml is for the lab target only".into());
    }
    if cli.spawn_broker.is_some() && cli.target != Target::Lab {
        return Err("--spawn-broker starts the lab broker; use --target lab".into());
    }
    if cli.rate.is_some_and(|r| !(r.is_finite() && r > 0.0)) {
        return Err("--rate must be a positive number".into());
    }
    let proto: Box<dyn Protocol> = match cli.target {
        Target::Lab => Box::new(lab::Lab {
            xml: cli.serializer == Serializer::Xml,
        }),
        Target::Nats => Box::new(nats::Nats),
        Target::Redis => Box::new(redis::Redis),
    };
    let proto = &*proto;
    let (template, text_at) = proto.publish_template(cli.size)?;

    let spawned = cli.spawn_broker.as_deref().map(spawn_broker).transpose()?;
    let addr = match &spawned {
        Some(broker) => broker.addr,
        None => resolve(
            cli.addr.as_deref().unwrap_or("127.0.0.1"),
            cli.target.default_port(),
        )?,
    };
    let pid = spawned.as_ref().map(|b| b.child.id()).or(cli.broker_pid);

    let clock = Clock::new();
    let sub_conns = (0..cli.subs)
        .map(|_| client::subscribe(addr, proto, &clock))
        .collect::<Result<Vec<_>, _>>()?;
    let pub_conns = (0..cli.pubs)
        .map(|_| client::connect_publisher(addr, proto))
        .collect::<Result<Vec<_>, _>>()?;

    let shared = Shared {
        clock,
        count: cli.count,
        pubs: cli.pubs,
        deadline: Instant::now() + Duration::from_secs(cli.timeout_s),
        idle: Duration::from_secs(cli.idle_s),
        pubs_done_ns: AtomicU64::new(0),
    };
    let shared = &shared;
    let template = &template[..];
    let rate = cli.rate.map(|r| r / cli.pubs as f64);
    let before = pid
        .map(proc_stats::sample)
        .transpose()
        .map_err(|e| e.to_string())?;
    let started = Instant::now();

    let (pubs, subs) = thread::scope(|s| {
        let sub_threads: Vec<_> = sub_conns
            .into_iter()
            .map(|conn| s.spawn(move || client::receive(conn, proto, shared)))
            .collect();
        let pub_threads: Vec<_> = (0..)
            .zip(pub_conns)
            .map(|(i, conn)| {
                s.spawn(move || client::publish(conn, i, rate, template, text_at, proto, shared))
            })
            .collect();
        let pubs = pub_threads
            .into_iter()
            .map(|t| t.join())
            .collect::<Result<Vec<_>, _>>();
        shared
            .pubs_done_ns
            .store(shared.clock.now_ns().max(1), Ordering::Relaxed);
        let subs = sub_threads
            .into_iter()
            .map(|t| t.join())
            .collect::<Result<Vec<_>, _>>();
        (pubs, subs)
    });
    let (Ok(pubs), Ok(mut subs)) = (pubs, subs) else {
        return Err("a client thread panicked".into());
    };

    let broker = match (pid, before) {
        (Some(pid), Some(before)) => {
            let wall = started.elapsed();
            let after = proc_stats::sample(pid).map_err(|e| e.to_string())?;
            Some(BrokerUsage {
                pid,
                cpu: after.cpu.saturating_sub(before.cpu),
                wall,
                peak_rss_kib: after.peak_rss_kib,
            })
        }
        _ => None,
    };
    drop(spawned);
    let latency = stats::summarize(
        subs.iter_mut()
            .map(|s| std::mem::take(&mut s.latencies))
            .collect(),
    );
    Ok(Report {
        addr,
        frame_bytes: template.len(),
        pubs,
        subs,
        latency,
        broker,
    })
}

/// Formats a count per second with a k/M suffix.
fn human_rate(rate: f64) -> String {
    if rate >= 1e6 {
        format!("{:.2}M", rate / 1e6)
    } else if rate >= 1e3 {
        format!("{:.1}k", rate / 1e3)
    } else {
        format!("{rate:.0}")
    }
}

/// Formats nanoseconds with a fitting unit.
fn human_ns(ns: u64) -> String {
    match ns {
        0..1_000 => format!("{ns} ns"),
        1_000..1_000_000 => format!("{:.1} µs", ns as f64 / 1e3),
        1_000_000..1_000_000_000 => format!("{:.2} ms", ns as f64 / 1e6),
        _ => format!("{:.2} s", ns as f64 / 1e9),
    }
}

/// Prints the human-readable report.
fn print_text(cli: &Cli, r: &Report) {
    let rate = cli.rate.map_or("unpaced".into(), |r| format!("{r} msg/s"));
    let target = match cli.target {
        Target::Lab => format!("lab ({:?})", cli.serializer).to_lowercase(),
        other => format!("{other:?}").to_lowercase(),
    };
    println!(
        "target {target} at {}: {} pub -> {} sub, {} B messages ({} B frames), N={}, {rate}",
        r.addr, cli.pubs, cli.subs, cli.size, r.frame_bytes, cli.count
    );
    println!(
        "published  {} msgs in {:.3} s = {} msg/s",
        r.published(),
        r.publish_secs(),
        human_rate(per_second(r.published(), r.publish_secs()))
    );
    let expected = cli.count * cli.subs;
    println!(
        "delivered  {}/{} (missing {}, duplicates {}, out of order {}, invalid {}) in {:.3} s = {} msg/s",
        r.delivered(),
        expected,
        expected - r.delivered(),
        r.sum(|s| s.duplicates),
        r.sum(|s| s.out_of_order),
        r.sum(|s| s.invalid),
        r.delivery_secs(),
        human_rate(per_second(r.delivered(), r.delivery_secs()))
    );
    if let Some(l) = &r.latency {
        println!(
            "latency    p50 {}  p99 {}  p99.9 {}  max {}",
            human_ns(l.p50),
            human_ns(l.p99),
            human_ns(l.p999),
            human_ns(l.max)
        );
    }
    if let Some(b) = &r.broker {
        println!(
            "broker     pid {}: cpu {:.2} s ({:.0}% of one core over {:.2} s), peak RSS {:.1} MiB",
            b.pid,
            b.cpu.as_secs_f64(),
            100.0 * b.cpu.as_secs_f64() / b.wall.as_secs_f64(),
            b.wall.as_secs_f64(),
            b.peak_rss_kib as f64 / 1024.0
        );
    }
    for (i, s) in r.subs.iter().enumerate() {
        if s.end != End::Done {
            println!(
                "sub {i}: {}/{} received, stopped: {:?}",
                s.unique, cli.count, s.end
            );
        }
        for e in &s.broker_errors {
            println!("sub {i}: broker error: {e}");
        }
    }
    for (i, p) in r.pubs.iter().enumerate() {
        if let Some(f) = &p.failure {
            println!("pub {i}: {} sent, failed: {f}", p.sent);
        }
        for e in &p.broker_errors {
            println!("pub {i}: broker error: {e}");
        }
    }
}

/// The report as one JSON object.
fn to_json(cli: &Cli, r: &Report) -> serde_json::Value {
    let expected = cli.count * cli.subs;
    serde_json::json!({
        "target": format!("{:?}", cli.target).to_lowercase(),
        "serializer": format!("{:?}", cli.serializer).to_lowercase(),
        "pubs": cli.pubs,
        "subs": cli.subs,
        "size": cli.size,
        "frame_bytes": r.frame_bytes,
        "count": cli.count,
        "rate": cli.rate,
        "published": r.published(),
        "publish_s": r.publish_secs(),
        "publish_rate": per_second(r.published(), r.publish_secs()),
        "expected": expected,
        "delivered": r.delivered(),
        "missing": expected - r.delivered(),
        "duplicates": r.sum(|s| s.duplicates),
        "out_of_order": r.sum(|s| s.out_of_order),
        "invalid": r.sum(|s| s.invalid),
        "delivery_s": r.delivery_secs(),
        "delivered_rate": per_second(r.delivered(), r.delivery_secs()),
        "latency_ns": r.latency.map(|l| serde_json::json!({
            "p50": l.p50, "p99": l.p99, "p999": l.p999, "max": l.max,
        })),
        "broker": r.broker.as_ref().map(|b| serde_json::json!({
            "pid": b.pid,
            "cpu_s": b.cpu.as_secs_f64(),
            "wall_s": b.wall.as_secs_f64(),
            "peak_rss_kib": b.peak_rss_kib,
        })),
        "subscriber_ends": r.subs.iter().map(|s| format!("{:?}", s.end)).collect::<Vec<_>>(),
        "publisher_failures": r.pubs.iter().filter_map(|p| p.failure.clone()).collect::<Vec<_>>(),
        "complete": r.complete(),
    })
}

/// One line for a markdown table cell: throughput (unpaced) or latency
/// percentiles (paced), broker usage, and what went wrong.
fn cell(cli: &Cli, r: &Report) -> String {
    let mut parts = Vec::new();
    match (cli.rate, &r.latency) {
        (Some(_), Some(l)) => parts.push(format!(
            "p50 {} / p99 {} / p99.9 {}",
            human_ns(l.p50),
            human_ns(l.p99),
            human_ns(l.p999)
        )),
        (None, Some(l)) => parts.push(format!(
            "{} msg/s (p99 {})",
            human_rate(per_second(r.delivered(), r.delivery_secs())),
            human_ns(l.p99)
        )),
        (_, None) => parts.push("nothing delivered".into()),
    }
    if let Some(b) = &r.broker {
        parts.push(format!(
            "cpu {:.2} s, {:.0} MiB",
            b.cpu.as_secs_f64(),
            b.peak_rss_kib as f64 / 1024.0
        ));
    }
    let missing = cli.count * cli.subs - r.delivered();
    if missing > 0 {
        parts.push(format!("**{missing} missing**"));
    }
    let disorder = r.sum(|s| s.duplicates + s.out_of_order + s.invalid);
    if disorder > 0 {
        parts.push(format!("**{disorder} dup/out-of-order/invalid**"));
    }
    if r.pubs.iter().any(|p| p.failure.is_some()) {
        parts.push("**publisher failed**".into());
    }
    parts.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_non_loopback() {
        assert!(resolve("127.0.0.1", 8000).is_ok_and(|a| a.port() == 8000));
        assert!(resolve("127.0.0.1:4222", 8000).is_ok_and(|a| a.port() == 4222));
        assert!(resolve("[::1]:1", 8000).is_ok());
        assert!(resolve("10.0.0.1:8000", 8000).is_err());
        assert!(resolve("0.0.0.0", 8000).is_err());
    }

    #[test]
    fn cli_parses() {
        let cli = Cli::try_parse_from([
            "bench", "--target", "nats", "--pubs", "4", "--rate", "20000", "--output", "cell",
        ]);
        assert!(
            cli.is_ok_and(|c| c.target == Target::Nats && c.pubs == 4 && c.output == Output::Cell)
        );
        assert!(
            Cli::try_parse_from(["bench", "--spawn-broker", "x", "--addr", "127.0.0.1"]).is_err()
        );
        assert!(Cli::try_parse_from(["bench", "--pubs", "0"]).is_err());
    }

    #[test]
    fn human_units() {
        assert_eq!(human_ns(999), "999 ns");
        assert_eq!(human_ns(1_500), "1.5 µs");
        assert_eq!(human_ns(2_500_000), "2.50 ms");
        assert_eq!(human_rate(1_234_567.0), "1.23M");
        assert_eq!(human_rate(20_000.0), "20.0k");
    }
}
