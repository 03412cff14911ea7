//! Broker addresses and limits.
//!
//! Every limit is a count or a byte size; `usize::MAX` means no limit (the
//! command line spells it `unlimited`), and no limit is ever 0.

use std::net::SocketAddr;
use std::time::Duration;

use crate::doors::Door;

/// Everything the broker can be told at start-up.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where the lab protocol's door listens; the lab's `0.0.0.0:8000` by
    /// default.
    pub addr: SocketAddr,
    /// Connections beyond this get an `ERROR` and are closed at once, so a
    /// flood cannot exhaust file descriptors or memory.
    pub max_connections: usize,
    /// Bytes queued for one connection and not yet taken by its socket beyond
    /// which it is dropped as a slow consumer.
    pub max_pending_output: usize,
    /// Time a new connection has to complete its door's handshake: idle
    /// sockets would otherwise hold connection slots forever.
    pub handshake_timeout: Duration,
    /// After an error that closes a connection, how long the broker keeps
    /// reading (and discarding) so its last words are not lost to a reset.
    pub linger: Duration,
    /// Topics the broker holds at most; a request that would create more gets
    /// an `ERROR`. Without a bound a client publishing to ever new topics
    /// would grow the broker without end.
    pub max_topics: usize,
    /// Bytes of retained messages (as JSON text) the broker keeps at most; a
    /// publish that would pass it gets an `ERROR`. With `max_topics` this
    /// bounds the memory that messages can pin.
    pub max_retained_bytes: usize,
    /// Bytes read from one connection per readiness turn before the others get
    /// a turn (fairness under a flood from one client).
    pub read_budget: usize,
    /// Messages kept per topic for `HISTORY` and resume (v2 §12); 1 is v1's
    /// retention.
    pub history: usize,
    /// Kept messages older than this leave history, but for each topic's
    /// newest; `None` keeps them regardless of age.
    pub history_ttl: Option<Duration>,
    /// Subscriptions one connection may hold; a `SUBSCRIBE` past it gets an
    /// `ERROR`, so one client cannot grow the index without end.
    pub max_subscriptions: usize,
    /// How long a publish id is remembered for deduplication (v2 §15).
    pub dedup_window: Duration,
    /// Most publish ids remembered at once; past it the oldest leave early.
    pub dedup_max: usize,
    /// Without input for this long, a client on a topic with presence is
    /// `away` (v2 §16); `None`: never.
    pub away: Option<Duration>,
    /// Without input for this long, a connection gets an `ERROR` and is
    /// closed; `None` (the default): never.
    pub idle_timeout: Option<Duration>,
    /// Where the NATS door listens; `None` (the default): no NATS door.
    pub nats: Option<SocketAddr>,
    /// How often the NATS door sends a client `PING`; two left unanswered
    /// close it as stale (nats-server's defaults: 2 minutes, 2).
    pub nats_ping_interval: Duration,
    /// Where the monitoring side (JSON endpoints, `/metrics`, the web
    /// view) listens; `None` (the default): off.
    pub http: Option<SocketAddr>,
    /// Top-level prefixes that get their own series on `/metrics` (a
    /// bounded set, so label cardinality is bounded).
    pub metrics_prefixes: Vec<String>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            addr: SocketAddr::from(([0, 0, 0, 0], 8000)),
            max_connections: 10_000,
            max_pending_output: 8 * 1024 * 1024,
            handshake_timeout: Duration::from_secs(10),
            linger: Duration::from_secs(2),
            max_topics: 1_000_000,
            max_retained_bytes: 1 << 30,
            read_budget: 1024 * 1024,
            history: 100,
            history_ttl: None,
            max_subscriptions: 10_000,
            dedup_window: Duration::from_secs(120),
            dedup_max: 100_000,
            away: Some(Duration::from_secs(60)),
            idle_timeout: None,
            nats: None,
            nats_ping_interval: Duration::from_secs(120),
            http: None,
            metrics_prefixes: Vec::new(),
        }
    }
}

impl Config {
    /// The doors to open and where, in the order the broker binds them.
    #[must_use]
    pub fn doors(&self) -> Vec<(Door, SocketAddr)> {
        let mut doors = vec![(Door::Lab, self.addr)];
        doors.extend(self.nats.map(|a| (Door::Nats, a)));
        doors
    }
}
