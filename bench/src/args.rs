//! The command line: [`Cli`] and its value enums, and [`resolve`] for
//! `--addr` (loopback only).

use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;

use clap::{Parser, ValueEnum};

use crate::payload;

/// Command line.
#[derive(Debug, Parser)]
#[command(
    name = "bench",
    version,
    about = "Loopback load generator: lab broker, NATS or Redis"
)]
pub struct Cli {
    /// What to measure: one-way publish/subscribe load, or request/reply
    /// round trips.
    #[arg(long, value_enum, default_value_t = Mode::PubSub)]
    pub mode: Mode,
    /// Which broker to talk to.
    #[arg(long, value_enum, default_value_t = Target::Lab)]
    pub target: Target,
    /// Broker address, HOST[:PORT] on loopback (default 127.0.0.1 and the
    /// target's usual port: 8000, 4222, 6379 or 8080).
    #[arg(long)]
    pub addr: Option<String>,
    /// Start this lab broker binary on a free loopback port (and measure it).
    #[arg(long, value_name = "PATH", conflicts_with_all = ["addr", "broker_pid"])]
    pub spawn_broker: Option<PathBuf>,
    /// Process id of the broker, to report its CPU time and peak memory.
    #[arg(long, value_name = "PID")]
    pub broker_pid: Option<u32>,
    /// Number of publishers (request-reply mode: requesters).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..=1024))]
    pub pubs: u64,
    /// Number of subscribers (request-reply mode: responders; only 1).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..=1024))]
    pub subs: u64,
    /// Message size in bytes: the lab frame payload, or the NATS/Redis
    /// message body (at least 37 bytes are always sent).
    #[arg(long, default_value_t = 128)]
    pub size: usize,
    /// Messages published in total, shared among the publishers
    /// (request-reply mode: round trips, shared among the requesters).
    #[arg(long, default_value_t = 100_000,
          value_parser = clap::value_parser!(u64).range(1..=payload::MAX_SEQ))]
    pub count: u64,
    /// Total publish rate in messages per second (paced run); unpaced if absent.
    #[arg(long, value_name = "MSGS_PER_S")]
    pub rate: Option<f64>,
    /// Lab serialization mechanism.
    #[arg(long, value_enum, default_value_t = Serializer::Json)]
    pub serializer: Serializer,
    /// Give up after this many seconds and report what is missing.
    #[arg(long, default_value_t = 60)]
    pub timeout_s: u64,
    /// Once the publishers are done, stop a subscriber that has received
    /// nothing for this many seconds.
    #[arg(long, default_value_t = 5)]
    pub idle_s: u64,
    /// Lab: every subscription has this CEL content filter (protocol v2
    /// §14); `{i}` in it becomes the subscriber's number (0, 1, ...), to make
    /// the filters distinct.
    #[arg(long, value_name = "EXPR")]
    pub filter: Option<String>,
    /// Lab: the first subscriber also holds this many pattern subscriptions
    /// that match no benchmark message (`/*/idle<i>`), to measure what
    /// unmatched patterns cost a publish.
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub idle_patterns: u64,
    /// Pub-sub mode: every publish is acknowledged, and the publisher waits
    /// for one acknowledgement per message instead of one `LIST` answer at
    /// the end. Lab: `"ack": true` (protocol v2 §15), answered by `PUBACK`;
    /// NATS: JetStream (a file-storage stream `BENCH` on the subject, made
    /// afresh; each publish carries a reply subject the server's ack comes
    /// to; needs `nats-server -js`).
    #[arg(long)]
    pub ack: bool,
    /// Request-reply mode: requests each requester keeps outstanding (1 is a
    /// closed loop: the next request leaves when the reply has arrived).
    #[arg(long, value_name = "K", default_value_t = 1,
          value_parser = clap::value_parser!(u64).range(1..=10_000))]
    pub window: u64,
    /// `--target grpc`: how publishers publish.
    #[arg(long, value_enum, default_value_t = GrpcPublish::Stream)]
    pub grpc_publish: GrpcPublish,
    /// Report format.
    #[arg(long, value_enum, default_value_t = Output::Text)]
    pub output: Output,
}

/// What a run measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Mode {
    /// Publishers send N messages on one topic; every subscriber receives
    /// them all.
    PubSub,
    /// Requesters send N requests with a reply inbox; one responder echoes
    /// each on its reply topic; round trips are timed.
    RequestReply,
}

/// The broker kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Target {
    /// The lab broker (wire protocol v1).
    Lab,
    /// nats-server, core NATS.
    Nats,
    /// redis-server pub/sub.
    Redis,
    /// Seed 000's chat over WebSocket: the broker's `--ws` door or the
    /// seed's Python server (one room; publishers sync with `get_history`).
    Ws,
    /// The broker's gRPC API (`--grpc`): Subscribe streams, and Publish
    /// calls or a Session stream (`--grpc-publish`).
    Grpc,
}

/// How a gRPC publisher publishes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum GrpcPublish {
    /// One unary Publish call after another, each waiting for its PubAck.
    Unary,
    /// One Session stream per publisher: requests without an id (no answer)
    /// pipelined, then one request whose answer proves all were read.
    Stream,
}

impl Target {
    /// The port the target usually listens on.
    pub fn default_port(self) -> u16 {
        match self {
            Target::Lab => 8000,
            Target::Nats => 4222,
            Target::Redis => 6379,
            Target::Ws => 8080,
            Target::Grpc => 50051,
        }
    }
}

/// The lab serialization mechanisms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Serializer {
    /// `JSONQueue`.
    Json,
    /// `XMLQueue`.
    Xml,
}

/// Report formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Output {
    /// Several human-readable lines.
    Text,
    /// One JSON object.
    Json,
    /// One short line for a markdown table cell.
    Cell,
}

/// Resolves `--addr` and refuses anything but loopback.
pub fn resolve(addr: &str, default_port: u16) -> Result<SocketAddr, String> {
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
        let rr = Cli::try_parse_from(["bench", "--mode", "request-reply", "--window", "8"]);
        assert!(rr.is_ok_and(|c| c.mode == Mode::RequestReply && c.window == 8 && !c.ack));
        assert!(Cli::try_parse_from(["bench", "--ack"]).is_ok_and(|c| c.mode == Mode::PubSub));
        assert!(Cli::try_parse_from(["bench", "--window", "0"]).is_err());
    }
}
