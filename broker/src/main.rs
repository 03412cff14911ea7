//! `broker`: runs the lab broker until SIGINT or SIGTERM.

use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use broker::logging::LogFormat;
use broker::store::{FsyncPolicy, StoreConfig, StoreError};
use broker::{Broker, Config};
use clap::Parser;

/// The lab message broker (JSON and XML clients, hierarchical topics).
///
/// Limits take a positive number, or `unlimited`.
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    /// Host name or address to listen on.
    #[arg(short, long, default_value = "0.0.0.0")]
    addr: String,
    /// Port to listen on (0 picks a free one).
    #[arg(short, long, default_value_t = 8000)]
    port: u16,
    /// Connections accepted at once; more get an ERROR and are closed.
    #[arg(long, default_value = "10000", value_parser = limit, allow_hyphen_values = true)]
    max_connections: usize,
    /// Pending output bytes after which a connection is dropped as a slow consumer.
    #[arg(long, default_value = "8388608", value_parser = limit, allow_hyphen_values = true)]
    max_pending_output: usize,
    /// Topics held at most; requests that would create more get an ERROR.
    #[arg(long, default_value = "1000000", value_parser = limit, allow_hyphen_values = true)]
    max_topics: usize,
    /// Bytes of kept messages (history) at most: the oldest history goes
    /// first; a publish whose topics' newest messages would not fit gets an ERROR.
    #[arg(long, default_value = "1073741824", value_parser = limit, allow_hyphen_values = true)]
    max_retained_bytes: usize,
    /// Messages kept per topic for HISTORY and resume (1: only the last, as v1).
    #[arg(long, default_value = "100", value_parser = limit, allow_hyphen_values = true)]
    history: usize,
    /// Seconds after which kept messages leave history (never a topic's newest);
    /// off by default.
    #[arg(long, value_parser = positive_seconds, allow_hyphen_values = true)]
    history_ttl: Option<Duration>,
    /// Subscriptions one connection may hold; a SUBSCRIBE past it gets an ERROR.
    #[arg(long, default_value = "10000", value_parser = limit, allow_hyphen_values = true)]
    max_subscriptions: usize,
    /// Seconds a publish id is remembered for deduplication.
    #[arg(long, default_value = "120", value_parser = positive_seconds, allow_hyphen_values = true)]
    dedup_window: Duration,
    /// Publish ids remembered at once; past it the oldest leave early (logged).
    #[arg(long, default_value = "100000", value_parser = limit, allow_hyphen_values = true)]
    dedup_max: usize,
    /// Seconds without input after which a client on a topic is "away" (presence).
    #[arg(long, default_value = "60", value_parser = positive_seconds, allow_hyphen_values = true)]
    away: Duration,
    /// Seconds without input after which a connection gets an ERROR and is
    /// closed; off by default.
    #[arg(long, value_parser = positive_seconds, allow_hyphen_values = true)]
    idle_timeout: Option<Duration>,
    /// Open the NATS door on this address (HOST:PORT, e.g. 127.0.0.1:4222); off by default.
    #[arg(long, value_name = "ADDR")]
    nats: Option<String>,
    /// Seconds between the NATS door's PINGs to each client (two unanswered: stale, closed).
    #[arg(long, default_value = "120", value_parser = positive_seconds, allow_hyphen_values = true)]
    nats_ping_interval: Duration,
    /// Open the WebSocket chat door (seed 000's protocol) on this address
    /// (HOST:PORT, e.g. 127.0.0.1:8080); off by default.
    #[arg(long, value_name = "ADDR")]
    ws: Option<String>,
    /// The topic chat rooms are under: room R is the topic PREFIX/R.
    #[arg(long, default_value = "/chat", value_parser = topic_prefix)]
    chat_prefix: String,
    /// Largest WebSocket message in bytes (all fragments together); a larger
    /// one closes the connection with status 1009.
    #[arg(long, default_value = "1048576", value_parser = limit, allow_hyphen_values = true)]
    ws_max_message: usize,
    /// Open the Redis door (RESP2/RESP3) on this address (HOST:PORT, e.g.
    /// 127.0.0.1:6379); off by default.
    #[arg(long, value_name = "ADDR")]
    redis: Option<String>,
    /// Serve the broker's API over gRPC on this address (HOST:PORT, e.g.
    /// 127.0.0.1:50051; proto/broker.proto); off by default.
    #[arg(long, value_name = "ADDR")]
    grpc: Option<String>,
    /// Largest message in bytes a Redis client may send (a bulk string;
    /// at least 1048576; larger ones close it, as redis-server's
    /// proto-max-bulk-len does), and a gRPC client may publish (larger ones
    /// get RESOURCE_EXHAUSTED).
    #[arg(long, default_value = "1048576", value_parser = message_limit, allow_hyphen_values = true)]
    max_message: usize,
    /// Bytes of keys and values the Redis door's key space holds; writes past it get an -OOM error.
    #[arg(long, default_value = "67108864", value_parser = limit, allow_hyphen_values = true)]
    max_key_bytes: usize,
    /// Pending output bytes past which a Redis client is closed at once
    /// (redis-server's client-output-buffer-limit pubsub hard limit).
    #[arg(long, default_value = "33554432", value_parser = limit, allow_hyphen_values = true)]
    redis_output_hard: usize,
    /// Pending output bytes past which a Redis client is closed once it has
    /// stayed over them for --redis-output-soft-seconds (the soft limit).
    #[arg(long, default_value = "8388608", value_parser = limit, allow_hyphen_values = true)]
    redis_output_soft: usize,
    /// Seconds a Redis client may stay over the soft output limit.
    #[arg(long, default_value = "60", value_parser = positive_seconds, allow_hyphen_values = true)]
    redis_output_soft_seconds: Duration,
    /// Keep topics, history, numbering and publish ids in this directory
    /// (created if missing), so they survive a restart; off by default (memory only).
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// With --data-dir: when to fsync: always (a PUBACK means on disk; one
    /// sync per loop turn), interval=MS, or never.
    #[arg(long, default_value = "always", value_parser = FsyncPolicy::parse)]
    fsync: FsyncPolicy,
    /// With --data-dir: bytes a log segment grows to before the next one starts.
    #[arg(long, default_value = "67108864", value_parser = limit, allow_hyphen_values = true)]
    segment_bytes: usize,
    /// With --data-dir: bytes of log on disk at most, as the kept-bytes bound
    /// behaves: the oldest history leaves first, and a publish whose topics'
    /// newest messages would not fit gets an ERROR.
    #[arg(long, default_value = "unlimited", value_parser = limit, allow_hyphen_values = true)]
    max_disk_bytes: usize,
    /// Seconds a new connection has to send its handshake.
    #[arg(long, default_value = "10", value_parser = positive_seconds, allow_hyphen_values = true)]
    handshake_timeout: Duration,
    /// Serve monitoring (JSON endpoints, /metrics, the web view) on this
    /// address (HOST:PORT, e.g. 127.0.0.1:8222); off by default. No
    /// authentication: bind it to loopback.
    #[arg(long, value_name = "ADDR")]
    http: Option<String>,
    /// Top-level prefixes with their own series on /metrics, comma-separated
    /// (at most 32), e.g. /a,/b.
    #[arg(long, value_name = "TOPICS", value_delimiter = ',', value_parser = prefix)]
    metrics_prefixes: Vec<String>,
    /// How log lines are written: text, or one JSON object per line.
    #[arg(long, value_enum, default_value = "text")]
    log_format: LogFormat,
}

/// Most prefixes `--metrics-prefixes` takes: each adds series to /metrics.
const MAX_METRICS_PREFIXES: usize = 32;

/// A topic, normalized.
fn prefix(text: &str) -> Result<String, String> {
    protocol::Topic::parse(text)
        .map(|t| t.as_ref().to_owned())
        .map_err(|e| format!("'{text}' is not a topic: {e}"))
}

/// A limit: a whole number above zero, or `unlimited`.
fn limit(text: &str) -> Result<usize, String> {
    if text == "unlimited" {
        return Ok(usize::MAX);
    }
    match text.parse::<usize>() {
        Ok(0) => Err("a limit must be at least 1 (or 'unlimited')".into()),
        Ok(n) => Ok(n),
        Err(e) => Err(format!("{e}: a limit is a whole number, or 'unlimited'")),
    }
}

/// A message size limit: at least 1 MiB (front-doors spec, "Values").
fn message_limit(text: &str) -> Result<usize, String> {
    let n = limit(text)?;
    if n < 1024 * 1024 {
        return Err("the message limit is at least 1048576 bytes (1 MiB)".into());
    }
    Ok(n)
}

/// A duration in seconds, finite and above zero.
fn positive_seconds(text: &str) -> Result<Duration, String> {
    let secs: f64 = text.parse().map_err(|e| format!("{e}"))?;
    if !(secs.is_finite() && secs > 0.0) {
        return Err("must be a number of seconds above 0".into());
    }
    Duration::try_from_secs_f64(secs).map_err(|e| e.to_string())
}

/// A topic in normal form (`/chat`), for the chat rooms' prefix.
fn topic_prefix(text: &str) -> Result<String, String> {
    match protocol::Topic::parse(text) {
        Ok(t) => Ok(t.as_str().to_owned()),
        Err(e) => Err(format!("{text}: {e}")),
    }
}

/// The first address `HOST:PORT` resolves to.
fn resolve_addr(text: &str) -> Result<SocketAddr, String> {
    let (host, port) = text
        .rsplit_once(':')
        .ok_or_else(|| format!("{text}: expected HOST:PORT"))?;
    let port = port.parse().map_err(|e| format!("{text}: bad port: {e}"))?;
    resolve(host.trim_matches(['[', ']']), port)
}

/// The first address `host` resolves to, with `port`.
fn resolve(host: &str, port: u16) -> Result<SocketAddr, String> {
    (host, port)
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve {host}: {e}"))?
        .next()
        .ok_or_else(|| format!("{host} resolves to no address"))
}

fn main() -> ExitCode {
    let args = Args::parse();
    broker::logging::init(args.log_format);
    let addr = match resolve(&args.addr, args.port) {
        Ok(a) => a,
        Err(e) => {
            log::error!("{e}");
            return ExitCode::FAILURE;
        }
    };
    let nats = match args.nats.as_deref().map(resolve_addr) {
        Some(Ok(a)) => Some(a),
        Some(Err(e)) => {
            log::error!("--nats: {e}");
            return ExitCode::FAILURE;
        }
        None => None,
    };
    let ws = match args.ws.as_deref().map(resolve_addr) {
        Some(Ok(a)) => Some(a),
        Some(Err(e)) => {
            log::error!("--ws: {e}");
            return ExitCode::FAILURE;
        }
        None => None,
    };
    let redis = match args.redis.as_deref().map(resolve_addr) {
        Some(Ok(a)) => Some(a),
        Some(Err(e)) => {
            log::error!("--redis: {e}");
            return ExitCode::FAILURE;
        }
        None => None,
    };
    let grpc = match args.grpc.as_deref().map(resolve_addr) {
        Some(Ok(a)) => Some(a),
        Some(Err(e)) => {
            log::error!("--grpc: {e}");
            return ExitCode::FAILURE;
        }
        None => None,
    };
    let http = match args.http.as_deref().map(resolve_addr) {
        Some(Ok(a)) => Some(a),
        Some(Err(e)) => {
            log::error!("--http: {e}");
            return ExitCode::FAILURE;
        }
        None => None,
    };
    if args.metrics_prefixes.len() > MAX_METRICS_PREFIXES {
        log::error!("--metrics-prefixes: at most {MAX_METRICS_PREFIXES} prefixes");
        return ExitCode::FAILURE;
    }
    let config = Config {
        addr,
        nats,
        redis,
        grpc,
        max_message: args.max_message,
        max_key_bytes: args.max_key_bytes,
        redis_output_hard: args.redis_output_hard,
        redis_output_soft: args.redis_output_soft,
        redis_output_soft_for: args.redis_output_soft_seconds,
        nats_ping_interval: args.nats_ping_interval,
        ws,
        chat_prefix: args.chat_prefix,
        ws_max_message: args.ws_max_message,
        max_connections: args.max_connections,
        max_pending_output: args.max_pending_output,
        max_topics: args.max_topics,
        max_retained_bytes: args.max_retained_bytes,
        handshake_timeout: args.handshake_timeout,
        history: args.history,
        history_ttl: args.history_ttl,
        max_subscriptions: args.max_subscriptions,
        dedup_window: args.dedup_window,
        dedup_max: args.dedup_max,
        away: Some(args.away),
        idle_timeout: args.idle_timeout,
        store: args.data_dir.map(|dir| StoreConfig {
            fsync: args.fsync,
            segment_bytes: args.segment_bytes as u64,
            max_disk_bytes: args.max_disk_bytes as u64,
            ..StoreConfig::new(dir)
        }),
        http,
        metrics_prefixes: args.metrics_prefixes,
        ..Config::default()
    };
    let broker = match Broker::bind(config.clone()) {
        Ok(b) => b,
        Err(e) if e.get_ref().is_some_and(|inner| inner.is::<StoreError>()) => {
            log::error!("cannot open the store: {e}");
            return ExitCode::FAILURE;
        }
        Err(e) => {
            log::error!("cannot listen on {}: {e}", config.addr);
            return ExitCode::FAILURE;
        }
    };
    let handle = broker.handle();
    if let Err(e) = ctrlc::set_handler(move || handle.shutdown()) {
        log::warn!("cannot install the SIGINT/SIGTERM handler: {e}");
    }
    match broker.run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            log::error!("event loop failed: {e}");
            ExitCode::FAILURE
        }
    }
}
