//! The [`Outbox`] the router writes into: the reactor's connections.
//!
//! Queueing is where the slow-consumer limit applies (as NATS does in
//! `queueOutbound`): a connection whose pending output passes the limit is
//! dropped there and then, so one stuck reader cannot grow without bound.
//! Below that, a connection over the stall threshold is "congested": the
//! publisher that fed it stops being read until it drains (back-pressure
//! through TCP) unless it is stuck.

use std::time::Instant;

use log::warn;
use slab::Slab;

use crate::conn::Conn;
use crate::router::Outbox;
use crate::ConnId;

/// Queues frames into connections' output buffers.
#[derive(Debug)]
pub struct ConnOutbox<'a> {
    /// All connections, by slab key.
    pub conns: &'a mut Slab<Conn>,
    /// Connections with output to flush after this loop turn.
    pub dirty: &'a mut Vec<ConnId>,
    /// Connections to remove after this loop turn.
    pub dead: &'a mut Vec<ConnId>,
    /// Connections over the stall threshold.
    pub congested: &'a mut Vec<ConnId>,
    /// The slow-consumer limit, in pending bytes.
    pub max_pending: usize,
    /// Pending bytes from which publishers are paused.
    pub stall_threshold: usize,
    /// Set when a frame went to a congested connection: pause the sender.
    pub stall: bool,
}

impl ConnOutbox<'_> {
    /// Drops `to` as a slow consumer (spec §8), with a log line.
    fn drop_slow(&mut self, to: ConnId) {
        let Some(conn) = self.conns.get_mut(to.0) else {
            return;
        };
        warn!(
            "conn {} ({}) dropped: slow consumer with {} bytes pending (limit {})",
            to.0,
            conn.peer,
            conn.pending_out(),
            self.max_pending
        );
        conn.doomed = true;
        conn.discard_output();
        self.dead.push(to);
    }

    /// Queues `frame`; `limit` is the pending size past which the connection
    /// is dropped as a slow consumer, checked after queueing.
    fn queue(&mut self, to: ConnId, frame: &[u8], limit: usize) {
        let Some(conn) = self.conns.get_mut(to.0) else {
            return;
        };
        if !conn.is_open() {
            return;
        }
        let pending = conn.queue(frame);
        if pending > limit.saturating_add(conn.allowance) {
            self.drop_slow(to);
            return;
        }
        if !conn.dirty {
            conn.dirty = true;
            self.dirty.push(to);
        }
        if pending > self.stall_threshold && !conn.stuck {
            if !conn.congested {
                conn.congested = true;
                conn.congested_since = Instant::now();
                self.congested.push(to);
            }
            self.stall = true;
        }
    }
}

impl Outbox for ConnOutbox<'_> {
    fn send(&mut self, to: ConnId, frame: &[u8]) {
        self.queue(to, frame, self.max_pending);
    }

    /// A client whose output is already over the limit is not reading: it is
    /// dropped here rather than handed a long reply on top.
    fn accepts_reply(&mut self, to: ConnId) -> bool {
        let over = self
            .conns
            .get(to.0)
            .is_some_and(|c| c.pending_out() > self.max_pending);
        if over {
            self.drop_slow(to);
        }
        !over && self.conns.get(to.0).is_some_and(Conn::is_open)
    }

    fn send_reply(&mut self, to: ConnId, frame: &[u8]) {
        self.queue(to, frame, usize::MAX);
        if let Some(conn) = self.conns.get_mut(to.0) {
            conn.allowance += frame.len();
        }
    }
}
