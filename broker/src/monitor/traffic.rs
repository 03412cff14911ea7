//! The reactor's counters: plain integers bumped where reading, delivering
//! and dropping already happen (no atomics, no allocation per message), and
//! a bounded ring of recent slow-consumer and drop events.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::Serialize;

/// Most events kept; the oldest leave first.
pub const EVENTS_KEPT: usize = 256;

/// Milliseconds since the Unix epoch, now.
#[must_use]
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// Messages and bytes through one connection, or a door's total.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Traffic {
    /// Messages published by the client(s).
    pub msgs_in: u64,
    /// Bytes read from the socket(s).
    pub bytes_in: u64,
    /// Deliveries queued to the client(s).
    pub msgs_out: u64,
    /// Bytes written to the socket(s).
    pub bytes_out: u64,
    /// Deliveries dropped under slow policy "drop".
    pub dropped: u64,
    /// Connections closed as slow consumers.
    pub slow_closed: u64,
}

impl Traffic {
    /// Adds `other`'s counts to these.
    pub fn add(&mut self, other: &Traffic) {
        self.msgs_in += other.msgs_in;
        self.bytes_in += other.bytes_in;
        self.msgs_out += other.msgs_out;
        self.bytes_out += other.bytes_out;
        self.dropped += other.dropped;
        self.slow_closed += other.slow_closed;
    }
}

/// Why an event was recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EventReason {
    /// Its pending output passed the limit: the connection was closed.
    SlowConsumerClosed,
    /// Under slow policy "drop", it started losing deliveries (owed as gaps).
    DroppingDeliveries,
    /// Under slow policy "drop", it was owed gaps on too many topics: closed.
    TooManyGaps,
}

/// One slow-consumer or drop event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Event {
    /// When, in milliseconds since the Unix epoch.
    pub at_ms: u64,
    /// The connection's id.
    pub conn: usize,
    /// Its door's name.
    pub door: &'static str,
    /// Its peer address.
    pub peer: SocketAddr,
    /// The topic of the delivery that caused it, when there was one.
    pub topic: Option<Box<str>>,
    /// Its pending output at that moment, in bytes.
    pub pending_bytes: usize,
    /// What happened.
    pub reason: EventReason,
}

/// The most recent events, oldest first, at most [`EVENTS_KEPT`].
#[derive(Debug, Default)]
pub struct EventLog {
    ring: VecDeque<Event>,
    /// Events recorded since the start.
    total: u64,
}

impl EventLog {
    /// Records an event now (the oldest leaves a full ring).
    pub fn record(
        &mut self,
        conn: usize,
        door: &'static str,
        peer: SocketAddr,
        topic: Option<&str>,
        pending_bytes: usize,
        reason: EventReason,
    ) {
        if self.ring.len() == EVENTS_KEPT {
            self.ring.pop_front();
        }
        self.ring.push_back(Event {
            at_ms: now_ms(),
            conn,
            door,
            peer,
            topic: topic.map(Box::from),
            pending_bytes,
            reason,
        });
        self.total += 1;
    }

    /// The newest `limit` events, newest first.
    pub fn newest(&self, limit: usize) -> impl Iterator<Item = &Event> {
        self.ring.iter().rev().take(limit)
    }

    /// Events recorded since the start.
    #[must_use]
    pub fn total(&self) -> u64 {
        self.total
    }
}
