//! Deadlines per connection, in the order they were set.

use std::collections::VecDeque;
use std::time::Instant;

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
