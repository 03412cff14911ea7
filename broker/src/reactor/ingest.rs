//! Reading a connection, decoding its input with its door's codec, and
//! dispatching what it asks for.
//!
//! Whole units are decoded in place in the shared read buffer; only an
//! incomplete tail is copied into the connection's `input`, and when more
//! bytes arrive only as many as that unit still needs are copied after it
//! (when the door can tell), so large frames straddling reads are not copied
//! twice. A unit that congests a recipient stalls the sender right after it:
//! the rest of the read is kept in `input` until the sender is resumed.

use std::io::{self, Read};
use std::time::Instant;

use log::{debug, info, warn};

use super::Broker;
use crate::core::{Command, ConnId};
use crate::doors::{Action, Decoded, DoorError, Farewell};

/// Size of the one read buffer all connections share.
pub(super) const READ_BUF: usize = 64 * 1024;

/// How far [`Broker::read`] reads a connection that has more to give.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Drain {
    /// Until a read returns fewer bytes than the buffer holds. The socket
    /// was then empty, and its next bytes or its peer's FIN raise a new
    /// edge (epoll(7): a short read on a stream "exhausted the read I/O
    /// space"), so the read that would only say `WouldBlock` is saved: one
    /// system call in four for a message that arrives alone.
    Short,
    /// Until `WouldBlock` or the end of input: when the peer's close may
    /// already have been reported (nothing reports it twice); when TCP
    /// urgent data is pending (`EPOLLPRI`: a read stops at its mark, with
    /// bytes queued behind it and no edge to come for them); or when the
    /// connection is read without an event (resumed, or over its budget).
    Empty,
}

/// Why processing a connection's bytes stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stop {
    /// The rest is not a whole unit: at least this many more bytes are
    /// needed (0: unknown).
    Incomplete(usize),
    /// A unit congested a recipient: the sender waits.
    Stalled,
    /// The connection is closing or gone.
    Closed,
}

impl Broker {
    /// Reads from `id` as far as `drain` says, or to EOF, the read budget or
    /// a stall;
    /// not at all while the durable store is behind (it is read once the
    /// store catches up).
    pub(super) fn read(&mut self, id: ConnId, drain: Drain) {
        if self.wait_for_store(id) {
            return;
        }
        // Input kept back by a stall comes before anything new on the socket.
        let stalled = self.flow.is_stalled(id);
        let held = self
            .conns
            .get(id.0)
            .is_some_and(|c| c.is_open() && !stalled && !c.input.is_empty());
        if held && self.ingest(id, &[]) {
            self.flow.stall(id);
            return;
        }
        let mut buf = std::mem::take(&mut self.read_buf);
        let mut budget = self.config.read_budget;
        while let Some(conn) = self.conns.get_mut(id.0) {
            if conn.is_dead() || self.flow.is_stalled(id) {
                break;
            }
            if budget == 0 {
                self.schedule.backlog.push(id);
                break;
            }
            match conn.stream.read(&mut buf) {
                Ok(0) => {
                    debug!("conn {} closed by peer", id.0);
                    self.schedule.doom(id, conn);
                    break;
                }
                Ok(n) => {
                    budget = budget.saturating_sub(n);
                    conn.traffic.bytes_in += n as u64;
                    if !conn.is_open() {
                        continue;
                    }
                    conn.last_input = Instant::now();
                    if std::mem::take(&mut conn.away) {
                        let (router, mut outbox) = self.outbox();
                        router.active(id, &mut outbox);
                    }
                    if self.ingest(id, &buf[..n]) {
                        self.flow.stall(id);
                        break;
                    }
                    if drain == Drain::Short && n < buf.len() {
                        break;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    debug!("conn {} read error: {e}", id.0);
                    self.schedule.doom(id, conn);
                    break;
                }
            }
        }
        self.read_buf = buf;
    }

    /// Acts on the whole units in `data`, after completing the unit held in
    /// the connection's input, and keeps what it did not act on: an
    /// incomplete tail, or everything after a unit that congested a
    /// recipient. Returns whether to stall the sender.
    fn ingest(&mut self, id: ConnId, mut data: &[u8]) -> bool {
        let Some(conn) = self.conns.get_mut(id.0) else {
            return false;
        };
        let mut held = std::mem::take(&mut conn.input);
        while !held.is_empty() {
            let (used, stop) = self.process(id, &held);
            held.drain(..used);
            match stop {
                Stop::Incomplete(need) if !data.is_empty() && !held.is_empty() => {
                    let take = if need == 0 {
                        data.len()
                    } else {
                        need.min(data.len())
                    };
                    held.extend_from_slice(&data[..take]);
                    data = &data[take..];
                }
                Stop::Incomplete(_) if held.is_empty() => {}
                Stop::Incomplete(_) | Stop::Stalled | Stop::Closed => {
                    held.extend_from_slice(data);
                    self.keep_input(id, held);
                    return stop == Stop::Stalled;
                }
            }
        }
        let (used, stop) = self.process(id, data);
        held.extend_from_slice(&data[used..]);
        self.keep_input(id, held);
        stop == Stop::Stalled
    }

    /// Stores the unprocessed rest of a read.
    fn keep_input(&mut self, id: ConnId, input: Vec<u8>) {
        if let Some(conn) = self.conns.get_mut(id.0).filter(|c| c.is_open()) {
            conn.input = input;
            self.watch_buffers(id);
        }
    }

    /// Handles the whole units at the front of `data`, up to the first that
    /// congests a recipient; returns the bytes used and why it stopped.
    fn process(&mut self, id: ConnId, data: &[u8]) -> (usize, Stop) {
        let mut pos = 0;
        loop {
            let Some(conn) = self.conns.get_mut(id.0).filter(|c| c.is_open()) else {
                return (pos, Stop::Closed);
            };
            let rest = &data[pos..];
            if rest.is_empty() {
                return (pos, Stop::Incomplete(0));
            }
            let before = conn.output.pending();
            let decoded = conn.codec.decode(rest, conn.output.buffer());
            let answered = conn.output.pending() > before;
            let (used, action) = match decoded {
                Ok(Decoded::Incomplete(need)) => return (pos, Stop::Incomplete(need)),
                // A unit of no bytes would loop for ever: wait for more.
                Ok(Decoded::Unit { used: 0, .. }) => return (pos, Stop::Incomplete(0)),
                Ok(Decoded::Unit { used, action }) => (used.min(rest.len()), action),
                Err(e) => {
                    self.close_with(id, &e);
                    return (pos, Stop::Closed);
                }
            };
            conn.traffic.msgs_in += publishes(&action);
            pos += used;
            let mut stall = false;
            if answered {
                let (_, mut outbox) = self.outbox();
                outbox.queued(id);
                stall = outbox.stall;
            }
            // Stop right after a unit that congested a recipient: one request
            // can queue a lot (a topic list to every subscriber), so waiting
            // for the end of the read could overshoot the slow-consumer limit
            // for a reader that keeps up.
            if self.act(id, action) || stall {
                return (pos, Stop::Stalled);
            }
        }
    }

    /// Carries out what one unit asked for; returns whether to stall.
    #[inline]
    fn act(&mut self, id: ConnId, action: Action<'_>) -> bool {
        match action {
            Action::Start(profile) => {
                if let Some(conn) = self.conns.get_mut(id.0) {
                    conn.open();
                    info!(
                        "conn {} ({}) speaks {}",
                        id.0,
                        conn.peer,
                        conn.codec.describe()
                    );
                }
                self.router.connect(id, profile);
                false
            }
            Action::Command(command) => self.dispatch(id, command),
            // Every command is applied, whether an earlier one stalls or not.
            Action::Commands(commands) => {
                let mut stall = false;
                for command in commands {
                    stall |= self.dispatch(id, command);
                }
                stall
            }
            Action::Answered => false,
            Action::Close => {
                if let Some(conn) = self.conns.get(id.0) {
                    info!("conn {} ({}) closed by its client", id.0, conn.peer);
                }
                self.start_closing(id);
                false
            }
        }
    }

    /// Hands a command to the router; returns whether to stall the sender.
    #[inline]
    fn dispatch(&mut self, id: ConnId, command: Command<'_>) -> bool {
        let (router, mut outbox) = self.outbox();
        router.handle(id, command, &mut outbox);
        outbox.stall
    }

    /// Closes `id` after its codec refused its input with `error` (its last
    /// words are already queued).
    fn close_with(&mut self, id: ConnId, error: &DoorError) {
        if let Some(conn) = self.conns.get(id.0) {
            warn!("conn {} ({}): {error}; closing", id.0, conn.peer);
        }
        self.start_closing(id);
    }

    /// Closes `id` because it sent no handshake in time.
    pub(super) fn expire_handshake(&mut self, id: ConnId) {
        let Some(conn) = self.conns.get_mut(id.0) else {
            return;
        };
        warn!(
            "conn {} ({}): no handshake within {:?}; closing",
            id.0, conn.peer, self.config.handshake_timeout
        );
        conn.codec
            .farewell(Farewell::HandshakeTimeout, conn.output.buffer());
        self.start_closing(id);
    }

    /// Stops acting on `id`'s input, forgets its session and lets it linger
    /// until its output is flushed and the peer closes, or the linger ends.
    pub(super) fn start_closing(&mut self, id: ConnId) {
        let Some(conn) = self.conns.get_mut(id.0) else {
            return;
        };
        conn.start_closing();
        let deadline = Instant::now() + self.config.linger;
        self.lingering.push(deadline, id, conn.serial);
        self.schedule.mark_dirty(id, conn);
        let (router, mut outbox) = self.outbox();
        router.disconnect(id, &mut outbox);
    }
}

/// The messages a unit publishes (for the monitoring counters): one for a
/// publish, those of a batch (a door may send several commands at once).
#[inline]
fn publishes(action: &Action<'_>) -> u64 {
    fn count(command: &Command<'_>) -> u64 {
        match command {
            Command::Publish(_) => 1,
            Command::Batch(commands) => commands.iter().map(count).sum(),
            _ => 0,
        }
    }
    match action {
        Action::Command(command) => count(command),
        Action::Commands(commands) => commands.iter().map(count).sum(),
        _ => 0,
    }
}
