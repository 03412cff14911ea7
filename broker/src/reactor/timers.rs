//! Time in the loop: deadlines per connection, in the order they were set,
//! and the broker's timed work (how long to wait in `poll`, what is due
//! after it).

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use super::connection::Life;
use super::{flow, Broker, BUFFER_SWEEP, HOUSEKEEPING};
use crate::core::ConnId;

/// Deadlines of one kind (handshakes, lingering closes). All of a kind have
/// the same length, so setting order is deadline order and a queue suffices.
/// Each carries the connection's serial number, so a deadline never hits a
/// later connection in the same slot.
#[derive(Debug, Default)]
pub(super) struct TimerQueue {
    entries: VecDeque<(Instant, ConnId, u64)>,
}

impl TimerQueue {
    /// Sets a deadline for connection `id` with serial number `serial`.
    pub(super) fn push(&mut self, deadline: Instant, id: ConnId, serial: u64) {
        self.entries.push_back((deadline, id, serial));
    }

    /// The earliest deadline.
    pub(super) fn next(&self) -> Option<Instant> {
        self.entries.front().map(|e| e.0)
    }

    /// Takes the earliest deadline if it has passed at `now`.
    pub(super) fn pop_due(&mut self, now: Instant) -> Option<(ConnId, u64)> {
        match self.entries.front() {
            Some(&(deadline, id, serial)) if deadline <= now => {
                self.entries.pop_front();
                Some((id, serial))
            }
            _ => None,
        }
    }
}

impl Broker {
    /// How long `poll` may wait: until the next deadline, or not at all
    /// while work is pending.
    pub(super) fn poll_timeout(&self) -> Option<Duration> {
        let compacting = self.router.compacting();
        if !self.schedule.backlog.is_empty()
            || !self.schedule.dead.is_empty()
            || compacting
            || self.queries_due
        {
            return Some(Duration::ZERO);
        }
        let now = Instant::now();
        let deadlines = [
            self.handshakes.next(),
            self.lingering.next(),
            self.accept_retry,
            self.buffer_sweep,
            Some(self.housekeeping),
            self.flow.watching().then(|| now + flow::CHECK_EVERY),
        ];
        deadlines
            .into_iter()
            .flatten()
            .min()
            .map(|d| d.saturating_duration_since(now))
    }

    /// Handles what is due: handshake and linger deadlines, the sweep of
    /// idle buffers, accept retries, the housekeeping, flow control.
    pub(super) fn check_timers(&mut self) {
        let now = Instant::now();
        while let Some((id, serial)) = self.handshakes.pop_due(now) {
            let waiting = self
                .conns
                .get(id.0)
                .is_some_and(|c| c.serial == serial && c.life() == Life::Handshake);
            if waiting {
                self.expire_handshake(id);
            }
        }
        while let Some((id, serial)) = self.lingering.pop_due(now) {
            if let Some(conn) = self.conns.get_mut(id.0).filter(|c| c.serial == serial) {
                self.schedule.doom(id, conn);
            }
        }
        if self.buffer_sweep.is_some_and(|t| t <= now) {
            let mut held = false;
            for (_, conn) in &mut self.conns {
                held |= conn.release_idle_buffers();
            }
            self.buffer_sweep = held.then(|| now + BUFFER_SWEEP);
        }
        if self.accept_retry.is_some_and(|t| t <= now) {
            self.accept_retry = None;
            for i in 0..self.listeners.len() {
                self.accept(i);
            }
        }
        if self.housekeeping <= now {
            self.housekeep(now);
            self.housekeeping = now + HOUSEKEEPING;
        }
        self.flow.check(now, &mut self.conns);
        self.flow
            .resume(&mut self.conns, &mut self.schedule.backlog);
    }
}
