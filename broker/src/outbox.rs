//! The [`Outbox`] the router writes into: the reactor's connections.
//!
//! Queueing is where the slow-consumer limit applies (as NATS does in
//! `queueOutbound`): a connection whose pending output passes the limit is
//! dropped there and then, so one stuck reader cannot grow without bound.
//! Below that, a connection over the stall threshold is "congested": the
//! publisher that fed it stops being read until it drains (back-pressure
//! through TCP) unless it is stuck.

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

impl Outbox for ConnOutbox<'_> {
    fn send(&mut self, to: ConnId, frame: &[u8]) {
        let Some(conn) = self.conns.get_mut(to.0) else {
            return;
        };
        if !conn.is_open() {
            return;
        }
        let pending = conn.queue(frame);
        if pending > self.max_pending {
            warn!(
                "conn {} ({}) dropped: slow consumer with {pending} bytes pending (limit {})",
                to.0, conn.peer, self.max_pending
            );
            conn.doomed = true;
            conn.discard_output();
            self.dead.push(to);
            return;
        }
        if !conn.dirty {
            conn.dirty = true;
            self.dirty.push(to);
        }
        if pending > self.stall_threshold && !conn.stuck {
            if !conn.congested {
                conn.congested = true;
                self.congested.push(to);
            }
            self.stall = true;
        }
    }
}
