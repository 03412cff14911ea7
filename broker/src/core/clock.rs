//! [`Clock`]: the time messages are accepted at.

use std::time::{SystemTime, UNIX_EPOCH};

/// The wall clock in milliseconds since the Unix epoch, read at the first
/// need since the last [`Clock::tick`]: every message accepted in one loop
/// turn gets one `ts`, and a turn that accepts none reads no clock (a read
/// costs about what routing a small message does).
#[derive(Debug, Default)]
pub(super) struct Clock {
    now: Option<u64>,
}

impl Clock {
    /// A new loop turn: the next message reads the clock again.
    pub fn tick(&mut self) {
        self.now = None;
    }

    /// Fixes the time until the next [`Clock::tick`].
    pub fn set(&mut self, now: u64) {
        self.now = Some(now);
    }

    /// The time of this turn.
    pub fn now(&mut self) -> u64 {
        *self.now.get_or_insert_with(unix_millis)
    }
}

/// The wall clock in milliseconds since the Unix epoch (0 if it is set
/// before 1970).
fn unix_millis() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() * 1000 + u64::from(d.subsec_millis()))
}
