//! Slow policy "drop" (v2 §13): a connection that falls behind loses
//! deliveries instead of its connection, and is told which as `GAP`s.
//!
//! ```text
//! Delivering --a delivery would pass the limit--> Dropping(gaps)
//! Dropping   --every delivery--> Dropping (recorded, not queued)
//! Dropping   --pending output under half the limit--> GAP per topic, Delivering
//! Dropping   --gaps on more than MAX_GAP_TOPICS topics--> ERROR, closed
//! ```
//!
//! Dropping everything from the first drop until the gaps are sent makes
//! each gap one unbroken range of numbers that were never queued.

use std::collections::BTreeMap;

use log::{debug, info};

use super::connection::Connection;
use crate::core::{ConnId, Gap, GapReason, Notice};

/// Most topics with pending gaps before the connection is closed instead.
pub(super) const MAX_GAP_TOPICS: usize = 10_000;

/// What happens to a connection whose pending output passes its limit.
#[derive(Debug, Default)]
pub(super) enum Slow {
    /// It is closed (v1).
    #[default]
    Disconnect,
    /// Deliveries are dropped and owed as gaps.
    Drop(Drops),
}

/// The drops a connection is owed gaps for.
#[derive(Debug, Default)]
pub(super) struct Drops {
    /// Per topic, the first and last dropped number; empty while delivering.
    gaps: BTreeMap<Box<str>, (u64, u64)>,
    /// Deliveries dropped over the connection's life.
    pub(super) dropped: u64,
}

/// The connection has gaps on too many topics: close it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct TooManyGaps;

impl Drops {
    /// Whether deliveries are being dropped.
    pub(super) fn dropping(&self) -> bool {
        !self.gaps.is_empty()
    }

    /// Records that message `seq` of `topic` was dropped.
    pub(super) fn record(&mut self, id: ConnId, topic: &str, seq: u64) -> Result<(), TooManyGaps> {
        if self.gaps.is_empty() {
            info!("conn {}: slow, dropping deliveries until it drains", id.0);
        }
        self.dropped += 1;
        debug!("conn {}: dropped {topic} #{seq}", id.0);
        let topics = self.gaps.len();
        match self.gaps.get_mut(topic) {
            Some((_, last)) => *last = seq,
            None if topics >= MAX_GAP_TOPICS => return Err(TooManyGaps),
            None => {
                self.gaps.insert(topic.into(), (seq, seq));
            }
        }
        Ok(())
    }
}

/// Whether a delivery of `len` bytes on `topic` numbered `seq` may be queued
/// to `conn` under its slow policy, given its output `limit`; a dropped one
/// is recorded. `Err` when `conn` must be closed.
pub(super) fn admit(
    id: ConnId,
    conn: &mut Connection,
    topic: &str,
    seq: u64,
    len: usize,
    limit: usize,
) -> Result<bool, TooManyGaps> {
    let Slow::Drop(drops) = &mut conn.slow else {
        return Ok(true);
    };
    let over = conn.output.pending().saturating_add(len) > limit;
    if !drops.dropping() && !over {
        return Ok(true);
    }
    drops.record(id, topic, seq)?;
    Ok(false)
}

/// Once `conn`'s pending output is under half its `limit`, appends the
/// `GAP`s it is owed (in topic order) and delivers again; returns whether
/// it did. Checked at every flush, so the common answer is inlined.
#[inline(always)]
pub(super) fn settle(id: ConnId, conn: &mut Connection, limit: usize, epoch: &str) -> bool {
    matches!(&conn.slow, Slow::Drop(d) if d.dropping()) && send_gaps(id, conn, limit, epoch)
}

/// [`settle`] for a connection that is owed gaps.
fn send_gaps(id: ConnId, conn: &mut Connection, limit: usize, epoch: &str) -> bool {
    let Slow::Drop(drops) = &mut conn.slow else {
        return false;
    };
    if !drops.dropping() || conn.output.pending() >= limit / 2 {
        return false;
    }
    let gaps = std::mem::take(&mut drops.gaps);
    info!(
        "conn {}: drained; {} gaps sent ({} deliveries dropped so far)",
        id.0,
        gaps.len(),
        drops.dropped
    );
    for (topic, (from, to)) in &gaps {
        let gap = Gap {
            topic,
            from: *from,
            to: *to,
            reason: GapReason::Slow,
            epoch,
        };
        conn.codec
            .encode_notice(&Notice::Gap(gap), conn.output.buffer());
    }
    true
}
