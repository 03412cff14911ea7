//! Flow control: back-pressure on publishers, and who is too slow to wait for.
//!
//! An unpaced publisher can outrun a subscriber that does read, only more
//! slowly. As soon as a frame leaves a recipient's pending output (less what
//! is held for the durable store, whose backlog `durable` bounds) above an
//! eighth of the limit, that recipient is congested and the publisher that
//! sent the frame is stalled: not read (the rest of its read is kept) until
//! every congested connection drains below a sixteenth of the limit, so TCP
//! slows the publisher down. A congested connection that makes no write
//! progress for [`STALL_TIMEOUT`], or stays congested for [`STALL_MAX`] in all,
//! is stuck: publishers stop waiting for it until it catches up, and it is
//! dropped if its output reaches the limit first.
//!
//! A connection's own flow state is its [`Pressure`], as a subscriber. Whether
//! it is stalled, as a publisher, is kept here, in [`FlowControl`]'s list:
//! the two are independent (a client may publish to itself and not read).

use std::time::{Duration, Instant};

use log::warn;
use slab::Slab;

use super::connection::Connection;
use crate::core::ConnId;

/// How long a publisher may wait for a congested subscriber that makes no
/// progress before that subscriber is deemed stuck and ignored for stalling.
const STALL_TIMEOUT: Duration = Duration::from_millis(250);

/// How long a subscriber may stay congested, progress or not, before it is
/// deemed stuck: one that reads a little now and then must not hold its
/// publishers to its pace.
const STALL_MAX: Duration = Duration::from_secs(1);

/// How often congested connections are checked while there are some.
pub(super) const CHECK_EVERY: Duration = Duration::from_millis(50);

/// A connection's output backlog, as a subscriber.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Pressure {
    /// Below the stall threshold, or caught up since.
    Clear,
    /// Above the stall threshold since `since`: publishers feeding it wait.
    Congested {
        /// When it became congested.
        since: Instant,
    },
    /// Congested for too long: nobody waits for it until it catches up.
    Stuck,
}

/// The congested and stalled connections; see the module docs.
#[derive(Debug)]
pub(super) struct FlowControl {
    congested: Vec<ConnId>,
    stalled: Vec<ConnId>,
    /// Pending bytes from which a recipient congests its publishers.
    stall_at: usize,
    /// Pending bytes at or below which a congested recipient has caught up.
    resume_at: usize,
}

impl FlowControl {
    /// Thresholds derived from the slow-consumer limit.
    pub(super) fn new(max_pending: usize) -> Self {
        FlowControl {
            congested: Vec::new(),
            stalled: Vec::new(),
            stall_at: max_pending / 8,
            resume_at: max_pending / 16,
        }
    }

    /// Called after output was queued to `conn`, which now has `pending`
    /// bytes: whether the sender must stall.
    pub(super) fn congests(&mut self, id: ConnId, conn: &mut Connection, pending: usize) -> bool {
        if pending <= self.stall_at {
            return false;
        }
        match conn.pressure {
            Pressure::Stuck => false,
            Pressure::Congested { .. } => true,
            Pressure::Clear => {
                conn.pressure = Pressure::Congested {
                    since: Instant::now(),
                };
                self.congested.push(id);
                true
            }
        }
    }

    /// Called after a flush of `conn`: once caught up, publishers wait for it
    /// again if it falls behind.
    pub(super) fn flushed(&self, conn: &mut Connection) {
        if conn.output.owed() <= self.resume_at {
            conn.pressure = Pressure::Clear;
        }
    }

    /// Stops reading `id` until the connections it congested drain: its
    /// readiness events are ignored meanwhile, and [`FlowControl::resume`]
    /// puts it on the backlog to be read again.
    pub(super) fn stall(&mut self, id: ConnId) {
        if !self.is_stalled(id) {
            self.stalled.push(id);
        }
    }

    /// Whether `id` is stalled (a short list: the publishers paused now).
    pub(super) fn is_stalled(&self, id: ConnId) -> bool {
        self.stalled.contains(&id)
    }

    /// Forgets a connection that is gone, so a later one in its slot starts
    /// unstalled.
    pub(super) fn forget(&mut self, id: ConnId) {
        self.stalled.retain(|&s| s != id);
    }

    /// Whether some connection is congested (the loop then wakes up every
    /// [`CHECK_EVERY`] to run [`FlowControl::check`]).
    pub(super) fn watching(&self) -> bool {
        !self.congested.is_empty()
    }

    /// Marks stuck the congested connections that made no progress for
    /// [`STALL_TIMEOUT`] or have been congested for [`STALL_MAX`].
    pub(super) fn check(&mut self, now: Instant, conns: &mut Slab<Connection>) {
        self.congested.retain(|id| {
            let Some(conn) = conns.get_mut(id.0).filter(|c| !c.is_dead()) else {
                return false;
            };
            let Pressure::Congested { since } = conn.pressure else {
                return false;
            };
            if conn.output.waits_for_store() {
                // Its output waits for the durable store, not for it.
                return true;
            }
            let idle = now.duration_since(conn.output.last_progress()) > STALL_TIMEOUT;
            let long = now.duration_since(since) > STALL_MAX;
            if idle || long {
                warn!(
                    "conn {} ({}) reads too slowly; publishers no longer wait for it",
                    id.0, conn.peer
                );
                conn.pressure = Pressure::Stuck;
                return false;
            }
            true
        });
    }

    /// Puts stalled publishers back to work (on `backlog`) once no
    /// connection is congested.
    ///
    /// Called after every flush as well as from the timers: a flush that
    /// drains a congested connection must resume its publishers at once, or
    /// they wait for the next check.
    pub(super) fn resume(&mut self, conns: &mut Slab<Connection>, backlog: &mut Vec<ConnId>) {
        self.congested.retain(|id| {
            conns
                .get(id.0)
                .is_some_and(|c| !c.is_dead() && matches!(c.pressure, Pressure::Congested { .. }))
        });
        if !self.congested.is_empty() {
            return;
        }
        backlog.extend(self.stalled.drain(..).filter(|id| conns.contains(id.0)));
    }
}
