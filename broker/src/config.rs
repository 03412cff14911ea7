//! Broker addresses and limits.
//!
//! Every limit is a count or a byte size; `usize::MAX` means no limit (the
//! command line spells it `unlimited`), and no limit is ever 0.

use std::net::SocketAddr;
use std::time::Duration;

use crate::doors::Door;
use crate::store::StoreConfig;

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
    /// Where the WebSocket chat door listens; `None` (the default): no
    /// WebSocket door.
    pub ws: Option<SocketAddr>,
    /// The topic chat rooms are under: room `R` is `<prefix>/R`.
    pub chat_prefix: String,
    /// Largest WebSocket message, all fragments together; a larger one
    /// closes the connection with status 1009.
    pub ws_max_message: usize,
    /// Where the RPC side (gRPC) listens; `None` (the default): no gRPC.
    pub grpc: Option<SocketAddr>,
    /// Where the Redis door listens; `None` (the default): no Redis door.
    pub redis: Option<SocketAddr>,
    /// Largest message a door that sets its own sizes accepts (a Redis bulk
    /// string), in bytes; at least 1 MiB.
    pub max_message: usize,
    /// Bytes the key space (Redis strings) holds at most; a write past it
    /// is refused.
    pub max_key_bytes: usize,
    /// A Redis client's pending output beyond which it is closed at once
    /// (redis-server's `client-output-buffer-limit pubsub` hard limit).
    pub redis_output_hard: usize,
    /// A Redis client's pending output beyond which, for
    /// [`Config::redis_output_soft_for`] without a break, it is closed (the
    /// soft limit).
    pub redis_output_soft: usize,
    /// How long a Redis client may stay over the soft limit.
    pub redis_output_soft_for: Duration,
    /// The durable store (`--data-dir`); `None` (the default): everything
    /// is kept in memory only, and a restart starts a new epoch.
    pub store: Option<StoreConfig>,
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
            ws: None,
            chat_prefix: "/chat".into(),
            ws_max_message: crate::doors::chat::MAX_MESSAGE,
            redis: None,
            grpc: None,
            max_message: 1024 * 1024,
            max_key_bytes: 64 * 1024 * 1024,
            // redis-server's defaults for pub/sub clients: 32mb 8mb 60.
            redis_output_hard: 32 * 1024 * 1024,
            redis_output_soft: 8 * 1024 * 1024,
            redis_output_soft_for: Duration::from_secs(60),
            store: None,
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
        doors.extend(self.ws.map(|a| (Door::Ws, a)));
        doors.extend(self.redis.map(|a| (Door::Redis, a)));
        doors
    }
}
