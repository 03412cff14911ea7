//! What a request/reply run measured ([`RrReport`]) and its three outputs,
//! as for the pub/sub mode: text lines, one JSON object, one table cell.

use std::net::SocketAddr;

use super::peers::ReqResult;
use crate::args::{Cli, Target};
use crate::client::End;
use crate::report::{human_ns, human_rate, per_second, secs, BrokerUsage};
use crate::stats::Summary;

/// Everything a request/reply run measured.
#[derive(Debug)]
pub struct RrReport {
    /// The broker's address.
    pub addr: SocketAddr,
    /// Size of one request on the wire, framing included.
    pub frame_bytes: usize,
    /// What each requester did.
    pub requesters: Vec<ReqResult>,
    /// Requests the responder answered.
    pub answered: u64,
    /// Deliveries to the responder that carried no reply topic.
    pub strays: u64,
    /// Error reports the responder received.
    pub responder_errors: Vec<String>,
    /// Why the responder stopped (`Stopped` when the requesters were done).
    pub responder_end: End,
    /// Round-trip percentiles over all answers; `None` when none came.
    pub latency: Option<Summary>,
    /// The broker's resource use from the first request to the last answer
    /// (give or take the threads' joins), when its process is known.
    pub broker: Option<BrokerUsage>,
}

impl RrReport {
    /// Answers received, all requesters together.
    fn round_trips(&self) -> u64 {
        self.requesters.iter().map(|r| r.answers).sum()
    }

    /// Seconds from the first request to the last answer.
    fn secs(&self) -> f64 {
        let first = self.requesters.iter().filter_map(|r| r.first_ns).min();
        let last = self.requesters.iter().map(|r| r.last_ns).max().unwrap_or(0);
        secs(last.saturating_sub(first.unwrap_or(last)))
    }

    /// Round trips per second.
    fn rate(&self) -> f64 {
        per_second(self.round_trips(), self.secs())
    }

    /// Broker CPU per round trip, in nanoseconds.
    fn broker_ns_per_round_trip(&self) -> Option<f64> {
        let b = self.broker.as_ref()?;
        let n = self.round_trips();
        (n > 0).then(|| b.cpu.as_secs_f64() * 1e9 / n as f64)
    }

    fn invalid(&self) -> u64 {
        self.requesters.iter().map(|r| r.invalid).sum()
    }

    /// Whether every requester got all its answers, each once, and the
    /// responder saw only requests.
    pub fn complete(&self) -> bool {
        self.requesters
            .iter()
            .all(|r| r.end == End::Done && r.invalid == 0 && r.failure.is_none())
            && self.strays == 0
            && matches!(self.responder_end, End::Stopped | End::Done)
    }
}

/// The target's name as the reports print it.
fn target_name(cli: &Cli) -> String {
    match cli.target {
        Target::Lab => format!("lab ({:?})", cli.serializer).to_lowercase(),
        other => format!("{other:?}").to_lowercase(),
    }
}

/// Prints the human-readable report.
pub fn print_text(cli: &Cli, r: &RrReport) {
    println!(
        "target {} at {}: request/reply, {} requester(s) -> 1 responder, window {}, {} B messages ({} B requests), N={}",
        target_name(cli),
        r.addr,
        cli.pubs,
        cli.window,
        cli.size,
        r.frame_bytes,
        cli.count
    );
    println!(
        "round trips {}/{} (invalid {}) in {:.3} s = {} round trips/s; responder answered {}",
        r.round_trips(),
        cli.count,
        r.invalid(),
        r.secs(),
        human_rate(r.rate()),
        r.answered
    );
    if let Some(l) = &r.latency {
        println!(
            "round trip  p50 {}  p99 {}  p99.9 {}  max {}",
            human_ns(l.p50),
            human_ns(l.p99),
            human_ns(l.p999),
            human_ns(l.max)
        );
    }
    if let (Some(b), Some(per)) = (&r.broker, r.broker_ns_per_round_trip()) {
        println!(
            "broker      pid {}: cpu {:.2} s ({:.0}% of one core over {:.2} s) = {} per round trip, peak RSS {:.1} MiB",
            b.pid,
            b.cpu.as_secs_f64(),
            100.0 * b.cpu.as_secs_f64() / b.wall.as_secs_f64(),
            b.wall.as_secs_f64(),
            human_ns(per as u64),
            b.peak_rss_kib as f64 / 1024.0
        );
    }
    for (i, q) in r.requesters.iter().enumerate() {
        if q.end != End::Done {
            println!(
                "requester {i}: {} sent, {} answered, stopped: {:?}",
                q.sent, q.answers, q.end
            );
        }
        for e in &q.broker_errors {
            println!("requester {i}: broker error: {e}");
        }
    }
    if !matches!(r.responder_end, End::Stopped | End::Done) || r.strays > 0 {
        println!(
            "responder: stopped: {:?}, {} deliveries without a reply topic",
            r.responder_end, r.strays
        );
    }
    for e in &r.responder_errors {
        println!("responder: broker error: {e}");
    }
}

/// The report as one JSON object.
pub fn to_json(cli: &Cli, r: &RrReport) -> serde_json::Value {
    serde_json::json!({
        "mode": "request-reply",
        "target": format!("{:?}", cli.target).to_lowercase(),
        "serializer": format!("{:?}", cli.serializer).to_lowercase(),
        "requesters": cli.pubs,
        "window": cli.window,
        "size": cli.size,
        "frame_bytes": r.frame_bytes,
        "count": cli.count,
        "sent": r.requesters.iter().map(|q| q.sent).sum::<u64>(),
        "round_trips": r.round_trips(),
        "answered": r.answered,
        "invalid": r.invalid(),
        "strays": r.strays,
        "elapsed_s": r.secs(),
        "round_trip_rate": r.rate(),
        "latency_ns": r.latency.map(|l| serde_json::json!({
            "p50": l.p50, "p99": l.p99, "p999": l.p999, "max": l.max,
        })),
        "broker": r.broker.as_ref().map(|b| serde_json::json!({
            "pid": b.pid,
            "cpu_s": b.cpu.as_secs_f64(),
            "wall_s": b.wall.as_secs_f64(),
            "peak_rss_kib": b.peak_rss_kib,
            "cpu_ns_per_round_trip": r.broker_ns_per_round_trip(),
        })),
        "requester_ends": r.requesters.iter().map(|q| format!("{:?}", q.end)).collect::<Vec<_>>(),
        "responder_end": format!("{:?}", r.responder_end),
        "complete": r.complete(),
    })
}

/// One line for a markdown table cell: round trips per second, p50 and p99,
/// broker CPU per round trip, and what went wrong.
pub fn cell(cli: &Cli, r: &RrReport) -> String {
    let mut parts = vec![format!("{} rt/s", human_rate(r.rate()))];
    if let Some(l) = &r.latency {
        parts.push(format!("p50 {} / p99 {}", human_ns(l.p50), human_ns(l.p99)));
    }
    if let Some(per) = r.broker_ns_per_round_trip() {
        parts.push(format!("broker {} per rt", human_ns(per as u64)));
    }
    let missing = cli.count - r.round_trips().min(cli.count);
    if missing > 0 {
        parts.push(format!("**{missing} missing**"));
    }
    if !r.complete() && missing == 0 {
        parts.push("**incomplete**".into());
    }
    parts.join(", ")
}
