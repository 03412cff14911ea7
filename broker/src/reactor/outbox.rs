//! [`ConnOutbox`]: the router's [`Outbox`] over the reactor's connections.
//!
//! A delivery is encoded once per form, by the codec of its first
//! recipient, into a scratch buffer; each recipient then gets those bytes
//! (or its door's per-subscription header around them) appended to its
//! output. A delivery with one recipient is encoded straight into its
//! output, header and all, as replays are: no shared copy is needed.
//! Queueing is where the slow-consumer limit applies (as NATS does
//! in `queueOutbound`): a connection whose pending output passes the limit
//! is dropped there and then, or, under slow policy "drop", the delivery is
//! (see [`super::drops`]). Below that, flow control may ask to stall the
//! sender (see [`super::flow`]).

use log::{debug, warn};
use slab::Slab;

use super::connection::{Connection, Schedule};
use super::drops::{self, Drops, Slow};
use super::flow::FlowControl;
use crate::core::{ConnId, Delivery, Form, Notice, Outbox, Recipient, SlowPolicy, SubTag};
use crate::doors::{DoorError, Farewell};
use crate::monitor::{EventLog, EventReason};

/// Queues what the router says into connections' output buffers.
#[derive(Debug)]
pub(super) struct ConnOutbox<'a> {
    pub(super) conns: &'a mut Slab<Connection>,
    pub(super) flow: &'a mut FlowControl,
    pub(super) schedule: &'a mut Schedule,
    /// The shared encoding of the delivery or notice being fanned out.
    pub(super) scratch: &'a mut Vec<u8>,
    /// Deliveries queued so far, to number them: a connection counted as a
    /// receiver of the current one carries its number.
    pub(super) deliveries: &'a mut u64,
    /// Where slow-consumer and drop events are recorded.
    pub(super) events: &'a mut EventLog,
    /// Set when output went to a congested connection: pause the sender.
    pub(super) stall: bool,
}

impl ConnOutbox<'_> {
    /// Accounts for bytes just appended to `to`'s output (see [`account`]).
    pub(super) fn queued(&mut self, to: ConnId) {
        if let Some(conn) = self.conns.get_mut(to.0) {
            self.stall |= account(self.flow, self.schedule, self.events, to, conn, false, None);
        }
    }

    /// Appends the shared bytes to each open connection of `to`; a
    /// `delivery`'s are subject to each one's slow policy. Returns to how
    /// many they were appended.
    fn fan_out(
        &mut self,
        delivery: Option<&Delivery<'_>>,
        to: impl Iterator<Item = ConnId>,
    ) -> usize {
        let ConnOutbox {
            conns,
            flow,
            schedule,
            scratch,
            deliveries: _,
            events,
            stall,
        } = self;
        let mut queued = 0;
        for id in to {
            let Some(conn) = conns.get_mut(id.0).filter(|c| c.is_open()) else {
                continue;
            };
            if let Some(d) = delivery {
                if !admit(schedule, events, id, conn, d, scratch.len()) {
                    continue;
                }
                conn.traffic.msgs_out += 1;
            }
            conn.output.buffer().extend_from_slice(scratch);
            let topic = delivery.map(|d| d.topic);
            *stall |= account(flow, schedule, events, id, conn, false, topic);
            queued += 1;
        }
        queued
    }
}

/// Whether `delivery`, `len` bytes, may be queued to `conn` under its slow
/// policy; a connection owed gaps on too many topics is closed. The default
/// policy's answer is inlined at every delivery; the other is not.
#[inline(always)]
fn admit(
    schedule: &mut Schedule,
    events: &mut EventLog,
    id: ConnId,
    conn: &mut Connection,
    delivery: &Delivery<'_>,
    len: usize,
) -> bool {
    matches!(conn.slow, Slow::Disconnect)
        || admit_dropping(schedule, events, id, conn, delivery, len)
}

/// [`admit`] under slow policy "drop".
#[inline(never)]
fn admit_dropping(
    schedule: &mut Schedule,
    events: &mut EventLog,
    id: ConnId,
    conn: &mut Connection,
    delivery: &Delivery<'_>,
    len: usize,
) -> bool {
    let limit = conn.max_output.saturating_add(conn.output.allowance());
    let was_dropping = matches!(&conn.slow, Slow::Drop(d) if d.dropping());
    match drops::admit(id, conn, delivery.topic, delivery.seq, len, limit) {
        Ok(true) => true,
        Ok(false) => {
            if !was_dropping {
                let reason = EventReason::DroppingDeliveries;
                record(events, id, conn, Some(delivery.topic), reason);
            }
            // The flush after this turn sends the gaps once it drains.
            schedule.mark_dirty(id, conn);
            false
        }
        Err(drops::TooManyGaps) => {
            record(
                events,
                id,
                conn,
                Some(delivery.topic),
                EventReason::TooManyGaps,
            );
            warn!(
                "conn {} ({}): gaps owed on over {} topics; closing",
                id.0,
                conn.peer,
                drops::MAX_GAP_TOPICS
            );
            // Its queued output goes first: cutting it could cut a frame
            // already partly written. No gap is owed any more.
            conn.slow = Slow::Disconnect;
            let why = Farewell::TooManyGaps {
                limit: drops::MAX_GAP_TOPICS,
            };
            conn.codec.farewell(why, conn.output.buffer());
            schedule.close(id, conn);
            false
        }
    }
}

/// Records a slow-consumer or drop event of `conn`'s.
#[cold]
fn record(
    events: &mut EventLog,
    id: ConnId,
    conn: &Connection,
    topic: Option<&str>,
    reason: EventReason,
) {
    let pending = conn.output.pending();
    events.record(id.0, conn.door.name(), conn.peer, topic, pending, reason);
}

/// Appends `delivery` to `conn`'s output, the only recipient of its form,
/// as its door writes it for the subscription tagged `tag`; returns the
/// bytes appended, or `None` when the door cannot carry it.
#[inline]
fn encode_one(
    conn: &mut Connection,
    delivery: &Delivery<'_>,
    tag: SubTag,
    scratch: &mut Vec<u8>,
) -> Option<usize> {
    let before = conn.output.buffer().len();
    let encoded = if conn.codec.wraps_deliveries() {
        wrap_one(conn, delivery, tag, scratch)
    } else {
        conn.codec.encode_delivery(delivery, conn.output.buffer())
    };
    match encoded {
        Ok(()) => {
            conn.traffic.msgs_out += 1;
            Some(conn.output.buffer().len() - before)
        }
        Err(e) => {
            debug!("delivery on {} not encoded: {e}", delivery.topic);
            None
        }
    }
}

/// [`encode_one`] for a door with a per-subscription header: in one step
/// where the door has one, else its shared part encoded into `scratch`
/// first and wrapped.
fn wrap_one(
    conn: &mut Connection,
    delivery: &Delivery<'_>,
    tag: SubTag,
    scratch: &mut Vec<u8>,
) -> Result<(), DoorError> {
    if conn
        .codec
        .encode_delivery_for(delivery, tag, conn.output.buffer())?
    {
        return Ok(());
    }
    scratch.clear();
    conn.codec.encode_delivery(delivery, scratch)?;
    conn.codec
        .wrap_delivery(delivery, tag, scratch, conn.output.buffer());
    Ok(())
}

/// Accounts for bytes just appended to `conn`'s output (a delivery on
/// `topic`, or an answer): drops it if its
/// pending output passed its limit (plus its allowance; none for a replay),
/// else schedules the flush and applies flow control. Returns whether the
/// sender must stall.
#[inline(always)]
fn account(
    flow: &mut FlowControl,
    schedule: &mut Schedule,
    events: &mut EventLog,
    id: ConnId,
    conn: &mut Connection,
    replay: bool,
    topic: Option<&str>,
) -> bool {
    let limit = if replay { usize::MAX } else { conn.max_output };
    let pending = conn.output.pending();
    if let Slow::Drop(_) = conn.slow {
        // Its deliveries were admitted under the limit and answers are never
        // dropped; nor does it hold publishers back.
        schedule.mark_dirty(id, conn);
        return false;
    }
    if pending > limit.saturating_add(conn.output.allowance()) {
        drop_slow(schedule, events, id, conn, topic);
        return false;
    }
    schedule.mark_dirty(id, conn);
    flow.congests(id, conn, conn.output.owed())
}

/// Drops `conn` as a slow consumer, with a log line and an event (naming
/// `topic`, the delivery that passed the limit, when there was one).
pub(super) fn drop_slow(
    schedule: &mut Schedule,
    events: &mut EventLog,
    id: ConnId,
    conn: &mut Connection,
    topic: Option<&str>,
) {
    record(events, id, conn, topic, EventReason::SlowConsumerClosed);
    conn.traffic.slow_closed += 1;
    warn!(
        "conn {} ({}, {}) dropped: slow consumer with {} bytes pending (output limit {})",
        id.0,
        conn.peer,
        conn.codec.describe(),
        conn.output.pending(),
        conn.max_output,
    );
    conn.output.discard();
    schedule.doom(id, conn);
}

impl Outbox for ConnOutbox<'_> {
    fn deliver(&mut self, _form: Form, delivery: &Delivery<'_>, to: &[Recipient]) -> Option<usize> {
        if let [only] = to {
            // One recipient needs no shared copy: encode into its output,
            // with its door's header if it has one. A connection that may
            // drop deliveries takes the shared path, where the policy
            // judges the bytes before they are queued.
            let conn = self.conns.get_mut(only.conn.0)?;
            if matches!(conn.slow, Slow::Disconnect) {
                if !conn.is_open() {
                    return Some(0);
                }
                encode_one(conn, delivery, only.tag, self.scratch)?;
                let topic = Some(delivery.topic);
                self.stall |= account(
                    self.flow,
                    self.schedule,
                    self.events,
                    only.conn,
                    conn,
                    false,
                    topic,
                );
                return Some(1);
            }
        }
        let first = to.iter().find_map(|r| self.conns.get(r.conn.0))?;
        let wraps = first.codec.wraps_deliveries();
        self.scratch.clear();
        if let Err(e) = first.codec.encode_delivery(delivery, self.scratch) {
            debug!("delivery on {} not encoded: {e}", delivery.topic);
            return None;
        }
        if !wraps {
            return Some(self.fan_out(Some(delivery), to.iter().map(|r| r.conn)));
        }
        // A connection with several matching subscriptions counts once,
        // unless its door counts every copy (Redis).
        *self.deliveries += 1;
        let stamp = *self.deliveries;
        let mut queued = 0;
        for r in to {
            let Some(conn) = self.conns.get_mut(r.conn.0).filter(|c| c.is_open()) else {
                continue;
            };
            let len = self.scratch.len();
            if !admit(self.schedule, self.events, r.conn, conn, delivery, len) {
                continue;
            }
            conn.traffic.msgs_out += 1;
            conn.codec
                .wrap_delivery(delivery, r.tag, self.scratch, conn.output.buffer());
            if conn.counts_each_copy || conn.counted_in != stamp {
                conn.counted_in = stamp;
                queued += 1;
            }
            let topic = Some(delivery.topic);
            self.stall |= account(
                self.flow,
                self.schedule,
                self.events,
                r.conn,
                conn,
                false,
                topic,
            );
        }
        Some(queued)
    }

    fn notify(&mut self, _form: Form, notice: &Notice<'_>, to: &[ConnId]) {
        if let [only] = to {
            // An answer to one client (a PUBACK may follow every publish):
            // encoded straight into its output, with no shared copy.
            let Some(conn) = self.conns.get_mut(only.0).filter(|c| c.is_open()) else {
                return;
            };
            let before = conn.output.buffer().len();
            conn.codec.encode_notice(notice, conn.output.buffer());
            if conn.output.buffer().len() > before {
                self.stall |= account(
                    self.flow,
                    self.schedule,
                    self.events,
                    *only,
                    conn,
                    false,
                    None,
                );
            }
            return;
        }
        let Some(&first) = to.iter().find(|id| self.conns.contains(id.0)) else {
            return;
        };
        let first = &mut self.conns[first.0];
        self.scratch.clear();
        first.codec.encode_notice(notice, self.scratch);
        if !self.scratch.is_empty() {
            self.fan_out(None, to.iter().copied());
        }
    }

    /// Connections that drop deliveries also skip announcements while they
    /// are over their limit: those are not answers, and `LIST` gives the
    /// same list when asked.
    fn announce(&mut self, form: Form, notice: &Notice<'_>, to: &[ConnId]) {
        let conns = &*self.conns;
        let reading: Vec<ConnId> = to
            .iter()
            .copied()
            .filter(|id| {
                conns.get(id.0).is_some_and(|c| {
                    matches!(c.slow, Slow::Disconnect) || c.output.pending() <= c.max_output
                })
            })
            .collect();
        self.notify(form, notice, &reading);
    }

    /// A client whose output is already over the limit is not reading: it is
    /// dropped here rather than handed a long reply on top.
    fn accepts_replay(&mut self, to: ConnId) -> bool {
        let Some(conn) = self.conns.get_mut(to.0) else {
            return false;
        };
        if conn.output.pending() > conn.max_output && matches!(conn.slow, Slow::Disconnect) {
            drop_slow(self.schedule, self.events, to, conn, None);
            return false;
        }
        conn.is_open()
    }

    fn set_slow_policy(&mut self, to: ConnId, policy: SlowPolicy) {
        let Some(conn) = self.conns.get_mut(to.0) else {
            return;
        };
        match (policy, &conn.slow) {
            (SlowPolicy::Disconnect, _) => conn.slow = Slow::Disconnect,
            (SlowPolicy::Drop, Slow::Disconnect) => conn.slow = Slow::Drop(Drops::default()),
            (SlowPolicy::Drop, Slow::Drop(_)) => {}
        }
    }

    fn replay(&mut self, recipient: Recipient, delivery: &Delivery<'_>) -> bool {
        let to = recipient.conn;
        let Some(conn) = self.conns.get_mut(to.0).filter(|c| c.is_open()) else {
            return true;
        };
        let added = encode_one(conn, delivery, recipient.tag, self.scratch);
        let Some(added) = added else {
            return false;
        };
        let topic = Some(delivery.topic);
        self.stall |= account(self.flow, self.schedule, self.events, to, conn, true, topic);
        conn.output.allow(added);
        true
    }
}

#[cfg(test)]
#[path = "outbox_tests.rs"]
mod tests;
