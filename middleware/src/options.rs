//! How [`Queue::connect_with`](crate::Queue::connect_with) connects:
//! [`Options`], and the [`Reconnect`] policy of a resuming queue; how
//! [`Queue::publish_confirmed`](crate::Queue::publish_confirmed) retries:
//! [`Confirm`].

use std::time::Duration;

use protocol::Format;

use crate::v2::Hello;

/// What [`Queue::connect_with`](crate::Queue::connect_with) does besides
/// the v1 handshake. The default is JSON and v1: no `HELLO`, no reconnection,
/// a [`Role::Consumer`](crate::Role::Consumer) subscribing on connect, which
/// is what [`Queue::connect`](crate::Queue::connect) does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// The serialization mechanism.
    pub format: Format,
    /// Speak v2: send `HELLO` with these options right after the handshake
    /// (before subscribing) and wait for its answer.
    pub hello: Option<Hello>,
    /// Reconnect and resume after a lost connection (see [`Reconnect`]).
    /// Implies `HELLO` (with default options when `hello` is `None`): the
    /// queue needs the broker's epoch to resume.
    pub reconnect: Option<Reconnect>,
    /// Whether a [`Role::Consumer`](crate::Role::Consumer) queue subscribes
    /// to its topic on connect. `false` lets the caller read the topic's
    /// [`history`](crate::Queue::history) first and then
    /// [`subscribe`](crate::Queue::subscribe), which resumes after the last
    /// message the history gave, so none is lost or repeated in between.
    pub subscribe: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            format: Format::Json,
            hello: None,
            reconnect: None,
            subscribe: true,
        }
    }
}

/// How a queue reconnects after losing its connection, and when it gives up.
///
/// An attempt opens a new TCP connection, sends the handshake and `HELLO`
/// (with the options of the last `HELLO`) and waits for its answer, at most
/// [`Reconnect::ATTEMPT_TIMEOUT`]. Before each attempt the queue waits: first
/// `initial`, doubling after each failed attempt up to `max`. It gives up
/// after `attempts` failed attempts or once `give_up_after` has passed since
/// the loss, whichever comes first; `None` sets no such bound.
///
/// The default: 50 ms doubling to 2 s, no bound on attempts, giving up after
/// 30 s.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reconnect {
    /// The wait before the first attempt.
    pub initial: Duration,
    /// The longest wait between two attempts.
    pub max: Duration,
    /// Failed attempts after which the queue gives up.
    pub attempts: Option<u32>,
    /// Time from the loss after which the queue gives up.
    pub give_up_after: Option<Duration>,
}

impl Reconnect {
    /// How long one attempt may take, connecting and waiting for the
    /// `HELLO` answer: a broker that accepts but does not answer in this
    /// time counts as down.
    pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(5);

    /// The default policy without the 30 s bound: retries every 2 s at most,
    /// for as long as the queue is used (a command-line consumer that
    /// should survive any broker restart).
    #[must_use]
    pub fn forever() -> Reconnect {
        Reconnect {
            give_up_after: None,
            ..Reconnect::default()
        }
    }

    /// The wait before attempt `n` (0 for the first).
    #[must_use]
    pub fn delay(&self, n: u32) -> Duration {
        let factor = 1u32.checked_shl(n.min(31)).unwrap_or(u32::MAX);
        self.initial.saturating_mul(factor).min(self.max)
    }
}

impl Default for Reconnect {
    fn default() -> Self {
        Reconnect {
            initial: Duration::from_millis(50),
            max: Duration::from_secs(2),
            attempts: None,
            give_up_after: Some(Duration::from_secs(30)),
        }
    }
}

/// How [`Queue::publish_confirmed`](crate::Queue::publish_confirmed)
/// waits for its `PUBACK` and sends the message again (under the same id,
/// so the broker keeps it once).
///
/// The message is sent again when `retry` passes without an answer, the
/// wait doubling after each attempt, and at once on a new connection after
/// a lost one (with reconnection on). The call gives up with
/// [`Error::Unconfirmed`](crate::Error::Unconfirmed) once `give_up_after`
/// has passed since it started.
///
/// `give_up_after` should stay below the broker's dedup window (2 minutes
/// by default): past the window, a copy still in flight would count as a
/// new message. The default: 1 s doubling, giving up after 60 s.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Confirm {
    /// The wait for a `PUBACK` before the first retry.
    pub retry: Duration,
    /// Time from the call after which it gives up.
    pub give_up_after: Duration,
}

impl Default for Confirm {
    fn default() -> Self {
        Confirm {
            retry: Duration::from_secs(1),
            give_up_after: Duration::from_secs(60),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_maximum() {
        let r = Reconnect::default();
        let ms = |n| r.delay(n).as_millis();
        assert_eq!(
            [ms(0), ms(1), ms(2), ms(5), ms(6), ms(40)],
            [50, 100, 200, 1600, 2000, 2000]
        );
        assert_eq!(Reconnect::forever().give_up_after, None);
    }
}
