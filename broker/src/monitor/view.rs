//! The snapshots the reactor hands the HTTP side: owned, so the reactor
//! forgets them once sent, and serializable as the endpoints' JSON.

use std::net::SocketAddr;

use serde::Serialize;

use super::traffic::{Event, Traffic};

/// `/api/server`: the broker as a whole.
#[derive(Debug, Clone, Serialize)]
pub struct ServerView {
    /// The broker's version.
    pub version: &'static str,
    /// When it started, in milliseconds since the Unix epoch.
    pub started_at_ms: u64,
    /// Seconds since it started.
    pub uptime_s: f64,
    /// Every door, with its address and its own totals.
    pub doors: Vec<DoorView>,
    /// Where the monitoring side listens.
    pub http: Option<SocketAddr>,
    /// Connections open (or closing), all doors.
    pub connections: usize,
    /// Topics held.
    pub topics: usize,
    /// Subscriptions held, all connections.
    pub subscriptions: usize,
    /// Bytes of kept messages.
    pub kept_bytes: usize,
    /// Messages and bytes through all doors since the start.
    pub traffic: Traffic,
    /// Slow-consumer and drop events since the start.
    pub events: u64,
}

/// One door.
#[derive(Debug, Clone, Serialize)]
pub struct DoorView {
    /// Its name (`lab`, `nats`, ...).
    pub door: &'static str,
    /// Where it listens.
    pub addr: SocketAddr,
    /// Its connections open (or closing).
    pub connections: usize,
    /// Messages and bytes through it since the start, closed connections
    /// included.
    pub traffic: Traffic,
}

/// One connection, for `/api/connections`.
#[derive(Debug, Clone, Serialize)]
pub struct ConnectionView {
    /// Its id (reused after it closes; pages go by it).
    pub id: usize,
    /// Its door.
    pub door: &'static str,
    /// What its codec speaks (`JSON`, `XML`, `NATS`, ...).
    pub format: &'static str,
    /// The name it gave, if any.
    pub name: Option<String>,
    /// Its peer address.
    pub peer: SocketAddr,
    /// `handshake`, `open`, `closing` or `dead`.
    pub state: &'static str,
    /// Subscriptions it holds.
    pub subscriptions: usize,
    /// Bytes queued for it, not yet written.
    pub pending_output: usize,
    /// Its messages and bytes.
    #[serde(flatten)]
    pub traffic: Traffic,
}

/// A page of connections.
#[derive(Debug, Clone, Serialize)]
pub struct ConnectionPage {
    /// Connections open, all doors.
    pub total: usize,
    /// This page, by id.
    pub connections: Vec<ConnectionView>,
    /// The `after` of the next page, when there is one.
    pub next: Option<usize>,
}

/// One topic, for `/api/topics`.
#[derive(Debug, Clone, Serialize)]
pub struct TopicView {
    /// Its path.
    pub topic: String,
    /// Its last message's number (0: none yet).
    pub seq: u64,
    /// Subscriptions a message on it would match.
    pub subscribers: usize,
    /// Bytes of its newest (retained) message.
    pub retained_bytes: usize,
    /// Messages kept in its history.
    pub history: usize,
    /// Messages per second since the HTTP side's previous look at it
    /// (filled in there; `None` on a first look).
    pub rate: Option<f64>,
}

/// A page of topics under a prefix.
#[derive(Debug, Clone, Serialize)]
pub struct TopicPage {
    /// The subtree's root.
    pub prefix: String,
    /// This page, in byte order.
    pub topics: Vec<TopicView>,
    /// The `after` of the next page, when there is one.
    pub next: Option<String>,
}

/// A topic's newest kept message, for `/api/topic`.
#[derive(Debug, Clone)]
pub struct TopicMessage {
    /// Its topic.
    pub topic: String,
    /// Its number, 0 when the topic has none.
    pub seq: u64,
    /// When it was accepted, milliseconds since the Unix epoch.
    pub ts: u64,
    /// Its value as JSON text (`None` when the topic has none kept).
    pub json: Option<String>,
}

/// `/api/events`.
#[derive(Debug, Clone, Serialize)]
pub struct EventsView {
    /// Events recorded since the start.
    pub total: u64,
    /// The newest, newest first.
    pub events: Vec<Event>,
}

/// One configured top-level prefix's series on `/metrics`.
#[derive(Debug, Clone, Serialize)]
pub struct PrefixView {
    /// The prefix (a topic).
    pub prefix: String,
    /// Topics in its subtree (counted up to the scan limit).
    pub topics: usize,
    /// Messages published in its subtree: the sum of its topics' numbers.
    pub messages: u64,
    /// Bytes of its topics' retained messages.
    pub retained_bytes: usize,
    /// Subscriptions a message on the prefix itself would match.
    pub subscribers: usize,
    /// The subtree had more topics than one scan looks at.
    pub truncated: bool,
}

/// Everything `/metrics` exposes.
#[derive(Debug, Clone, Serialize)]
pub struct MetricsView {
    /// The server's totals and doors.
    pub server: ServerView,
    /// The configured prefixes' series.
    pub prefixes: Vec<PrefixView>,
}
