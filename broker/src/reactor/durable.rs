//! The reactor and the durable store: each loop turn's records go to the
//! store's writer thread, and everything that turn queued for clients
//! (the `PUBACK`s, but also the deliveries, which tell the same numbers) is
//! held until the writer says the batch is durable; then it is released in
//! the next flush. The reactor never waits for the disk: a turn only sends
//! a batch over a channel, and the writer's word comes through the poll's
//! waker like any other event. Under `--fsync never` the writer writes the
//! batch on this thread as it is handed over (into the page cache, a short
//! copy), so the turn's output goes out at once and nothing is held unless
//! the write failed.
//!
//! The store's backlog is bounded apart from flow control: while
//! [`MAX_IN_FLIGHT`] batches are not yet durable, no connection is read;
//! those that were ready are read again once the writer catches up. Held
//! output, which flow control does not count against its client, stays
//! within that many turns' worth.
//!
//! So a client never sees a number the store could lose: after `kill -9`
//! (or, with `--fsync always`, a power loss) the numbering goes on under
//! the same epoch and a resuming subscriber misses nothing.

use std::time::{Duration, Instant};

use log::{debug, info};

use super::Broker;
use crate::core::{ConnId, Router};
use crate::store::{Recovery, StoreConfig, StoreError, Writer};

/// The store's writer and the connections whose output waits for it.
#[derive(Debug)]
pub(super) struct Durable {
    writer: Writer,
    /// Connections holding output for a batch not yet durable (each once).
    held: Vec<ConnId>,
    /// Connections not read while the store is behind (deduplicated when
    /// they are put back to be read).
    waiting: Vec<ConnId>,
    /// The last durable batch the held output was released for.
    released: u64,
    /// Whether the router was told the store cannot write.
    failing: bool,
    /// Log bytes past which the live records are copied forward.
    compact_at: u64,
    segment_bytes: u64,
    /// The disk bound (`--max-disk-bytes`).
    max_disk: u64,
    /// The kept-bytes bound as configured, which the disk bound may lower.
    max_retained: usize,
    /// What the store cost the loop since the last report.
    cost: Cost,
}

/// What handing batches to the writer (or, under `--fsync never`, writing
/// them) cost the reactor, for the once-a-second debug line (docs/store.md
/// quotes it).
#[derive(Debug, Default)]
struct Cost {
    batches: u64,
    records: u64,
    /// The longest hand-over of one turn's batch (encoding is done as
    /// messages are accepted; this is the channel send, or the write).
    longest_send: Duration,
    /// The longest slice of a compaction's copy taken in a turn.
    longest_step: Duration,
}

/// Batches sent to the writer and not yet durable from which the reactor
/// stops reading: one being written and one more, so that a loop turn's
/// work overlaps the writing of the last.
const MAX_IN_FLIGHT: u64 = 2;

/// Bytes of live records a compaction copies per loop turn (a quarter of a
/// segment at most): about a quarter of a millisecond of encoding.
const COMPACT_STEP: usize = 256 * 1024;

impl Durable {
    /// After a compaction wrote `live` bytes (or recovery read them): when
    /// to compact next, and the kept-bytes bound that keeps the disk bound:
    /// the log may grow to half of it, and the live records (at the
    /// measured `live_disk` bytes on disk per kept byte) to the other half.
    fn bound(&mut self, router: &mut Router, live: u64, live_disk: u64) {
        let half = self.max_disk / 2;
        self.compact_at = live
            .saturating_mul(2)
            .saturating_add(self.segment_bytes)
            .min(half)
            // Never a compaction per turn, whatever the bound.
            .max(live.saturating_add(self.segment_bytes));
        if self.max_disk == u64::MAX {
            return;
        }
        let kept = router.kept_bytes().max(1) as u64;
        let per_kept_byte = (live_disk as f64 / kept as f64).max(1.0);
        let fits = (half.saturating_sub(self.segment_bytes) as f64 / per_kept_byte) as usize;
        router.set_kept_bound(self.max_retained.min(fits));
    }
}

impl Broker {
    /// Opens the store: recovery rebuilds the router's state, then the
    /// writer starts a new segment under the epoch kept or made.
    pub(super) fn open_store(&mut self, config: &StoreConfig) -> Result<(), StoreError> {
        let started = Instant::now();
        let router = &mut self.router;
        let recovery = Recovery::run(&config.dir, |record| router.restore(record))?;
        let found = recovery.recovered;
        if let Some(epoch) = &recovery.epoch {
            self.router.set_epoch(epoch.clone());
        }
        info!(
            "store {}: {} records from {} segments ({} bytes, {} cut) recovered in {} ms",
            config.dir.display(),
            found.records,
            found.segments,
            found.bytes,
            found.cuts,
            started.elapsed().as_millis()
        );
        let writer = Writer::start(
            recovery,
            self.router.epoch(),
            config,
            self.handle.waker.clone(),
        )?;
        self.router.keep_journal();
        let max_disk = config.max_disk_bytes;
        let segment_bytes = config.segment_bytes.min(max_disk / 4).max(1);
        let mut durable = Durable {
            compact_at: 0,
            writer,
            held: Vec::new(),
            waiting: Vec::new(),
            released: 0,
            failing: false,
            segment_bytes,
            max_disk,
            max_retained: self.config.max_retained_bytes,
            cost: Cost::default(),
        };
        // Until a compaction measures it, a kept byte is taken to cost two
        // on disk (record heads, topic names, publish ids).
        let estimate = 2 * self.router.kept_bytes() as u64;
        durable.bound(&mut self.router, found.bytes, estimate);
        self.durable = Some(durable);
        Ok(())
    }

    /// At the end of a loop turn: hands this turn's records to the writer
    /// (and, when the log has grown enough, every live record for a
    /// compaction); answers the batch the turn's output waits for.
    pub(super) fn store_turn(&mut self) -> Option<u64> {
        let durable = self.durable.as_mut()?;
        let started = Instant::now();
        let copied = if self.router.compacting() {
            let step = COMPACT_STEP.min(durable.segment_bytes as usize / 4).max(1);
            self.router.compact_step(step)
        } else {
            None
        };
        durable.cost.longest_step = durable.cost.longest_step.max(started.elapsed());
        let n = self.router.take_journal().map(|batch| {
            let started = Instant::now();
            durable.cost.batches += 1;
            durable.cost.records += batch.len() as u64;
            let n = durable.writer.append(batch);
            durable.cost.longest_send = durable.cost.longest_send.max(started.elapsed());
            n
        });
        // Written already (under `--fsync never`, on this thread): nothing
        // waits for it.
        let n = n.filter(|&n| durable.writer.progress().durable() < n);
        let failing = durable.writer.progress().failing() != durable.failing;
        if let Some(size) = copied {
            durable.writer.end_compaction();
            durable.bound(&mut self.router, size, size);
            debug!("store: {size} bytes of live records copied forward");
        } else if !self.router.compacting() && durable.writer.log_bytes() > durable.compact_at {
            durable.writer.start_compaction();
            self.router.start_compaction();
        }
        if failing {
            self.store_progress();
        }
        n
    }

    /// Once a second: retries a write that failed on this thread (the
    /// writer thread retries its own).
    pub(super) fn store_retry(&mut self) {
        if let Some(durable) = self.durable.as_mut() {
            durable.writer.retry();
            self.store_progress();
        }
    }

    /// Holds what `id` queued until `batch` is durable, or lets it go
    /// (behind anything already held) when the turn wrote nothing.
    pub(super) fn hold_output(&mut self, id: ConnId, batch: Option<u64>) {
        let (Some(durable), Some(conn)) = (self.durable.as_mut(), self.conns.get_mut(id.0)) else {
            return;
        };
        match batch {
            Some(n) => {
                if conn.output.hold(n) {
                    durable.held.push(id);
                }
            }
            None => conn.output.seal(),
        }
    }

    /// Whether output queued so far in this turn may be written now: not
    /// while this turn's records are not yet handed to the writer.
    pub(super) fn may_write_now(&self) -> bool {
        self.durable.is_none() || !self.router.journal_pending()
    }

    /// Whether the store is [`MAX_IN_FLIGHT`] batches behind: `id` is then
    /// not read until it catches up. A failing store holds nothing back
    /// (publishers are refused meanwhile, and told so).
    pub(super) fn wait_for_store(&mut self, id: ConnId) -> bool {
        let Some(durable) = self.durable.as_mut() else {
            return false;
        };
        let progress = durable.writer.progress();
        let behind = durable.writer.sent().saturating_sub(progress.durable()) >= MAX_IN_FLIGHT;
        if !behind || progress.failing() {
            return false;
        }
        // Each readiness edge may add it again: duplicates are dropped
        // when the list is drained, not searched for on every read.
        durable.waiting.push(id);
        true
    }

    /// The writer made progress: releases the output held for durable
    /// batches (flushed at the end of this turn), puts the connections that
    /// waited for it back to be read, and tells the router whether the
    /// store can write.
    pub(super) fn store_progress(&mut self) {
        let Some(durable) = self.durable.as_mut() else {
            return;
        };
        let progress = durable.writer.progress();
        let failing = progress.failing();
        if failing != durable.failing {
            durable.failing = failing;
            self.router.set_storage_failing(failing);
        }
        let done = progress.durable();
        // Read again (a connection still too early waits once more).
        durable.waiting.sort_unstable_by_key(|id| id.0);
        durable.waiting.dedup();
        self.schedule.backlog.append(&mut durable.waiting);
        if done <= durable.released {
            return;
        }
        durable.released = done;
        let conns = &mut self.conns;
        let schedule = &mut self.schedule;
        durable.held.retain(|&id| {
            let Some(conn) = conns.get_mut(id.0) else {
                return false;
            };
            let still = conn.output.release(done);
            schedule.mark_dirty(id, conn);
            still
        });
    }

    /// Logs (debug) what the store cost the loop in the last second.
    pub(super) fn store_report(&mut self) {
        let Some(durable) = self.durable.as_mut() else {
            return;
        };
        let cost = std::mem::take(&mut durable.cost);
        if cost.batches > 0 {
            debug!(
                "store: {} batches, {} records ({:.1} per batch), longest hand-over {:?}, longest compaction slice {:?}",
                cost.batches,
                cost.records,
                cost.records as f64 / cost.batches as f64,
                cost.longest_send,
                cost.longest_step
            );
        }
    }

    /// Stops the writer after it wrote everything sent, with a clean end.
    pub(super) fn close_store(&mut self) {
        if let Some(durable) = self.durable.as_mut() {
            durable.writer.close();
        }
    }
}
