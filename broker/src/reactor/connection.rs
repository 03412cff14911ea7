//! [`Connection`]: one client's socket, buffers, codec and state.
//!
//! ```text
//! Handshake --the door's handshake--> Open          (the router knows it)
//! Handshake --failed handshake, or deadline--> Closing
//! Open      --framing error--> Closing
//! Closing   --output flushed--> shutdown(write); read and discard until EOF or linger deadline
//! any       --EOF / I/O error / output over the limit (slow consumer)--> Dead, removed at the end of the turn
//! ```
//!
//! Complete units are decoded straight out of the reactor's shared read
//! buffer; only an incomplete tail (or what a stall held back) is copied into
//! `input`, so an idle connection holds no buffer at all.

use std::net::{Shutdown, SocketAddr};
use std::time::{Duration, Instant};

use super::drops::Slow;
use super::flow::Pressure;
use super::output::{Output, KEEP_CAPACITY};
use super::stream::Stream;
use crate::core::ConnId;
use crate::doors::{Codec, Door};
use crate::monitor::Traffic;

/// Where a connection is in its life (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Life {
    /// Its door has not completed a handshake: no session yet.
    Handshake,
    /// In session with the router.
    Open,
    /// Its last words are queued; it closes once they are flushed.
    Closing,
    /// Gone or dropped: removed at the end of the loop turn.
    Dead,
}

/// Whether a connection counts toward the connection limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Admission {
    /// Admitted: it counts.
    Counted,
    /// Accepted over the limit only to be told so; it closes as soon as its
    /// farewell is read, and does not count.
    Refused,
}

/// A client connection.
#[derive(Debug)]
pub(super) struct Connection {
    /// The socket, registered once for reading and writing.
    pub(super) stream: Stream,
    /// The peer's address, for logs.
    pub(super) peer: SocketAddr,
    /// Distinguishes this connection from a later one reusing its slot, for
    /// timers that outlive it.
    pub(super) serial: u64,
    /// The door it came through.
    pub(super) door: Door,
    /// Its door's protocol.
    pub(super) codec: Box<dyn Codec>,
    /// Unread input: an incomplete unit, or what a stall held back.
    pub(super) input: Vec<u8>,
    /// Queued output.
    pub(super) output: Output,
    /// As a subscriber: how far behind its reading is.
    pub(super) pressure: Pressure,
    /// Whether it counts toward the connection limit.
    pub(super) admission: Admission,
    /// What happens when it falls too far behind.
    pub(super) slow: Slow,
    /// When it last sent anything (the idle timeout, presence's away).
    pub(super) last_input: Instant,
    /// Its session was told it is away: its next input brings it back.
    pub(super) away: bool,
    /// Pending output past which it is dropped as a slow consumer: the
    /// broker's limit, or its door's own.
    pub(super) max_output: usize,
    /// Its door's soft output limit and how long it may stay over it, if
    /// the door has one (Redis's `client-output-buffer-limit`).
    pub(super) soft_limit: Option<(usize, Duration)>,
    /// Since when its output has been over the soft limit (checked once a
    /// second).
    pub(super) over_soft_since: Option<Instant>,
    /// Every copy of a delivery counts as a receiver (Redis), not each
    /// connection once.
    pub(super) counts_each_copy: bool,
    /// The last delivery it was counted as a receiver of.
    pub(super) counted_in: u64,
    /// Its messages and bytes, for monitoring.
    pub(super) traffic: Traffic,
    life: Life,
    /// Queued in the reactor's flush list.
    dirty: bool,
}

impl Connection {
    /// A new connection waiting for its door's handshake.
    pub(super) fn new(
        stream: Stream,
        peer: SocketAddr,
        serial: u64,
        door: Door,
        codec: Box<dyn Codec>,
        admission: Admission,
        max_output: usize,
    ) -> Self {
        let limit = codec.output_limit();
        Connection {
            max_output: limit.map_or(max_output, |l| l.hard),
            soft_limit: limit.map(|l| (l.soft, l.soft_for)),
            over_soft_since: None,
            counts_each_copy: codec.counts_each_copy(),
            counted_in: 0,
            stream,
            peer,
            serial,
            door,
            codec,
            input: Vec::new(),
            output: Output::new(),
            pressure: Pressure::Clear,
            admission,
            slow: Slow::Disconnect,
            last_input: Instant::now(),
            away: false,
            traffic: Traffic::default(),
            life: Life::Handshake,
            dirty: false,
        }
    }

    /// Where it is in its life.
    pub(super) fn life(&self) -> Life {
        self.life
    }

    /// Whether what it sends is still acted on.
    pub(super) fn is_open(&self) -> bool {
        matches!(self.life, Life::Handshake | Life::Open)
    }

    /// Whether it is to be removed.
    pub(super) fn is_dead(&self) -> bool {
        self.life == Life::Dead
    }

    /// Its session has started.
    pub(super) fn open(&mut self) {
        self.life = Life::Open;
    }

    /// Starts closing: no more input is acted on; once the output is
    /// flushed the write side is shut so the peer sees the last words, then EOF.
    pub(super) fn start_closing(&mut self) {
        self.life = Life::Closing;
        self.input = Vec::new();
    }

    /// Shuts the write side (after the output was flushed while closing).
    pub(super) fn shutdown_write(&self) {
        let _ = self.stream.shutdown(Shutdown::Write);
    }

    /// Its traffic so far: the counters bumped as it goes, plus what its
    /// output and slow policy counted.
    pub(super) fn traffic(&self) -> Traffic {
        let mut traffic = self.traffic;
        traffic.bytes_out = self.output.sent();
        if let Slow::Drop(drops) = &self.slow {
            traffic.dropped = drops.dropped;
        }
        traffic
    }

    /// Whether an empty buffer larger than [`KEEP_CAPACITY`] is held.
    pub(super) fn holds_big_buffers(&self) -> bool {
        self.output.is_big() || self.input.capacity() > KEEP_CAPACITY
    }

    /// Frees big buffers that are empty; returns whether a big buffer is
    /// still in use.
    pub(super) fn release_idle_buffers(&mut self) -> bool {
        self.output.release_if_idle();
        if self.input.is_empty() && self.input.capacity() > KEEP_CAPACITY {
            self.input = Vec::new();
        }
        self.holds_big_buffers()
    }
}

/// The connections the loop turn must come back to.
#[derive(Debug, Default)]
pub(super) struct Schedule {
    /// With output to flush at the end of the turn.
    pub(super) dirty: Vec<ConnId>,
    /// To remove (and disconnect from the router) before the flush.
    pub(super) dead: Vec<ConnId>,
    /// To read again: a read budget ran out, or a stall ended, and an
    /// edge-triggered poll will not say so again.
    pub(super) backlog: Vec<ConnId>,
    /// To close once their last words, already queued, are flushed.
    pub(super) closing: Vec<ConnId>,
}

impl Schedule {
    /// Puts `conn` on the flush list, once.
    #[inline]
    pub(super) fn mark_dirty(&mut self, id: ConnId, conn: &mut Connection) {
        if !conn.dirty {
            conn.dirty = true;
            self.dirty.push(id);
        }
    }

    /// Takes `conn` off the flush list it was popped from.
    pub(super) fn clean(conn: &mut Connection) {
        conn.dirty = false;
    }

    /// Schedules `conn` to close after its queued output (the reactor starts
    /// its linger); its input is no longer acted on.
    pub(super) fn close(&mut self, id: ConnId, conn: &mut Connection) {
        if conn.is_open() {
            conn.start_closing();
            self.closing.push(id);
            self.mark_dirty(id, conn);
        }
    }

    /// Marks `conn` dead and schedules its removal, once.
    pub(super) fn doom(&mut self, id: ConnId, conn: &mut Connection) {
        if conn.life != Life::Dead {
            conn.life = Life::Dead;
            self.dead.push(id);
        }
    }
}
