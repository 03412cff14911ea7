//! [`Outbox`]: where the router sends what it has to say.
//!
//! The router decides who gets what; the outbox encodes (through each
//! recipient's door) and queues it. The reactor implements it over its
//! connections; tests implement it with a recorder.

use super::command::SlowPolicy;
use super::delivery::{Delivery, Form, Notice, Recipient};
use super::ConnId;

/// Where the router sends deliveries and notices.
pub trait Outbox {
    /// Queues `delivery` for every recipient in `to`, all of one form: the
    /// delivery is encoded once and the same bytes go to each (within the
    /// slow-consumer limit of each). Returns for how many it was queued
    /// (not dropped by a slow policy), or `None` when this form cannot carry
    /// it at all (too large for the protocol's frames).
    fn deliver(&mut self, form: Form, delivery: &Delivery<'_>, to: &[Recipient]) -> Option<usize>;

    /// Queues `notice` for every connection in `to`, all of one form,
    /// encoded once.
    fn notify(&mut self, form: Form, notice: &Notice<'_>, to: &[ConnId]);

    /// Queues a notice nobody asked for (a topic announcement) as
    /// [`Outbox::notify`] does; an outbox may skip connections that are not
    /// reading.
    fn announce(&mut self, form: Form, notice: &Notice<'_>, to: &[ConnId]) {
        self.notify(form, notice, to);
    }

    /// Whether a long answer, such as the replay of retained messages on a
    /// subscribe, may start for `to`: not when `to` already has more output
    /// pending than a client that reads would have.
    fn accepts_replay(&mut self, to: ConnId) -> bool {
        let _ = to;
        true
    }

    /// Queues one delivery of an accepted replay. The client asked for all
    /// of it at once, so it may take the output past the slow-consumer
    /// limit, unlike live deliveries, which the client has had the chance to
    /// read.
    /// `to` names the subscription replayed for, as a live delivery's
    /// recipient does. Returns `false` when its protocol cannot carry it.
    fn replay(&mut self, to: Recipient, delivery: &Delivery<'_>) -> bool;

    /// Sets what happens to `to` when its pending output passes its limit.
    fn set_slow_policy(&mut self, to: ConnId, policy: SlowPolicy);
}
