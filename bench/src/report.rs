//! What a run measured ([`Report`]) and its three outputs: text lines, one
//! JSON object, or one markdown table cell.

use std::net::SocketAddr;
use std::time::Duration;

use crate::args::{Cli, Target};
use crate::client::{End, PubResult, SubResult};
use crate::stats::Summary;

/// Everything a run measured.
#[derive(Debug)]
pub struct Report {
    /// The broker's address.
    pub addr: SocketAddr,
    /// Size of one publish frame on the wire, framing included.
    pub frame_bytes: usize,
    /// What each publisher did.
    pub pubs: Vec<PubResult>,
    /// What each subscriber received.
    pub subs: Vec<SubResult>,
    /// One-way latency percentiles over all subscribers; `None` when
    /// nothing was delivered.
    pub latency: Option<Summary>,
    /// The broker's resource use, when its process is known.
    pub broker: Option<BrokerUsage>,
}

/// The broker's resource use during the run.
#[derive(Debug)]
pub struct BrokerUsage {
    /// The broker's process id.
    pub pid: u32,
    /// CPU time used between the first publish and the end of the run.
    pub cpu: Duration,
    /// Wall time of the same interval.
    pub wall: Duration,
    /// Peak resident memory over the broker's life.
    pub peak_rss_kib: u64,
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
    pub fn complete(&self) -> bool {
        self.subs
            .iter()
            .all(|s| s.end == End::Done && s.duplicates + s.out_of_order + s.invalid == 0)
            && self.pubs.iter().all(|p| p.failure.is_none())
    }
}

/// Nanoseconds to seconds.
pub fn secs(ns: u64) -> f64 {
    ns as f64 / 1e9
}

/// `count / seconds`, 0 when no time passed.
pub fn per_second(count: u64, seconds: f64) -> f64 {
    if seconds > 0.0 {
        count as f64 / seconds
    } else {
        0.0
    }
}

/// Formats a count per second with a k/M suffix.
pub fn human_rate(rate: f64) -> String {
    if rate >= 1e6 {
        format!("{:.2}M", rate / 1e6)
    } else if rate >= 1e3 {
        format!("{:.1}k", rate / 1e3)
    } else {
        format!("{rate:.0}")
    }
}

/// Formats nanoseconds with a fitting unit.
pub fn human_ns(ns: u64) -> String {
    match ns {
        0..1_000 => format!("{ns} ns"),
        1_000..1_000_000 => format!("{:.1} µs", ns as f64 / 1e3),
        1_000_000..1_000_000_000 => format!("{:.2} ms", ns as f64 / 1e6),
        _ => format!("{:.2} s", ns as f64 / 1e9),
    }
}

/// Prints the human-readable report.
pub fn print_text(cli: &Cli, r: &Report) {
    let mut rate = cli.rate.map_or("unpaced".into(), |r| format!("{r} msg/s"));
    if cli.ack {
        rate.push_str(", every publish acknowledged (PUBACK)");
    }
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
    if cli.ack {
        let last = r.pubs.iter().map(|p| p.acked_ns).max().unwrap_or(0);
        let secs = secs(last.saturating_sub(r.first_publish_ns().unwrap_or(last)));
        println!(
            "acknowledged {} msgs in {secs:.3} s = {} msg/s (confirmed publishes)",
            r.published(),
            human_rate(per_second(r.published(), secs))
        );
    }
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
pub fn to_json(cli: &Cli, r: &Report) -> serde_json::Value {
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
        "ack": cli.ack,
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
pub fn cell(cli: &Cli, r: &Report) -> String {
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
    fn human_units() {
        assert_eq!(human_ns(999), "999 ns");
        assert_eq!(human_ns(1_500), "1.5 µs");
        assert_eq!(human_ns(2_500_000), "2.50 ms");
        assert_eq!(human_rate(1_234_567.0), "1.23M");
        assert_eq!(human_rate(20_000.0), "20.0k");
    }
}
