//! Publishing with acknowledgements (`docs/protocol.md`, v2 §15):
//! `publish_confirmed` sends a `PUBLISH` with `ack` and an id, waits for
//! its `PUBACK`, and sends the same message again under the same id after a
//! silence or a reconnection, so the broker's deduplication keeps it once
//! (exactly-once publishing, seed 002).
//!
//! Deduplication is per client name (v2 §15: per connection for an unnamed
//! client), so a queue needs a `HELLO` name for a retry on a new
//! connection to be recognized: one without a name takes `client-<random>`
//! at its first confirmed publish.

use std::time::{Duration, Instant};

use log::debug;
use protocol::{Message, Method, Value};

use super::requests::{refused, Step};
use super::{check_publish, Queue};
use crate::error::{Error, Result};
use crate::options::Confirm;
use crate::v2::{Hello, PubAck};

/// Longest id the broker takes (v2 §15).
const MAX_ID: usize = 128;

impl Queue {
    /// Publishes `value` on the queue's topic and waits until the broker
    /// has accepted it (`PUBLISH` with `ack` and a fresh id, answered
    /// `PUBACK`, v2 §15); returns the acknowledgement: the message's number
    /// and how many connections it was queued for.
    ///
    /// Without an answer the message is sent again under the same id, as
    /// the queue's [`Confirm`] policy says (see [`Queue::set_confirm`]),
    /// and, with reconnection on ([`Queue::set_reconnect`]), at once on the
    /// new connection after a lost one. The broker keeps a message once per
    /// id, so a retry whose first copy did arrive is acknowledged with
    /// [`PubAck::duplicate`] set and the first copy's numbers.
    ///
    /// The queue speaks v2 from the first call: it says `HELLO`, taking
    /// the name `client-<random>` if it has none (the broker recognizes a
    /// retry by client name, id and topic, and a name survives a
    /// reconnection). A named client takes part in presence (v2 §16) on
    /// the topics it subscribes to. Deliveries and other events arriving
    /// meanwhile are kept for [`Queue::pull`].
    ///
    /// # Errors
    /// As [`Queue::push`] for the value; [`Error::Broker`] when the broker
    /// refuses the publish (or, from a v1 broker, the `HELLO`);
    /// [`Error::Unconfirmed`] when the policy gives up; without
    /// reconnection, the connection's errors (the message may then have
    /// been accepted: see [`Queue::publish_confirmed_as`]).
    pub fn publish_confirmed(&mut self, value: impl Into<Value>) -> Result<PubAck> {
        let value = value.into();
        check_publish(&self.topic, &value, None)?;
        let id = self.ids.message_id();
        self.confirm_with_id(value, id)
    }

    /// [`Queue::publish_confirmed`] with the caller's own id (1 to 128
    /// bytes): for a caller that keeps its ids itself, to publish a message
    /// again after [`Error::Unconfirmed`] or a lost connection, or from a
    /// new queue with the same `HELLO` name, within the broker's dedup
    /// window. Ids are per topic and client name.
    ///
    /// # Errors
    /// [`Error::InvalidId`] for an empty id or one over 128 bytes; as
    /// [`Queue::publish_confirmed`] otherwise.
    pub fn publish_confirmed_as(&mut self, value: impl Into<Value>, id: &str) -> Result<PubAck> {
        if id.is_empty() || id.len() > MAX_ID {
            return Err(Error::InvalidId { id: id.to_owned() });
        }
        let value = value.into();
        check_publish(&self.topic, &value, None)?;
        self.confirm_with_id(value, id.to_owned())
    }

    /// How [`Queue::publish_confirmed`] retries and when it gives up.
    pub fn set_confirm(&mut self, policy: Confirm) {
        self.confirm = policy;
    }

    /// The name this queue said in `HELLO`, if any (one it took for
    /// [`Queue::publish_confirmed`] included).
    #[must_use]
    pub fn name(&self) -> Option<&str> {
        self.session.hello.as_ref()?.name.as_deref()
    }

    /// Sends the checked `value` with `id` until its `PUBACK` comes.
    fn confirm_with_id(&mut self, value: Value, id: String) -> Result<PubAck> {
        let policy = self.confirm;
        let start = Instant::now();
        let give_up = start.checked_add(policy.give_up_after);
        self.ensure_identity()?;
        let topic = self.topic.as_str().to_owned();
        let mut message = Message::publish(topic.as_str(), value);
        message.attrs.ack = true;
        message.id = Some(id.clone());
        let unconfirmed = |attempts| Error::Unconfirmed {
            topic: topic.clone(),
            id: id.clone(),
            attempts,
        };
        let mut attempts = 0;
        // A zero wait would resend without ever reading.
        let mut wait = policy.retry.max(Duration::from_millis(1));
        // The first PING token of this call: an `ERROR` on the topic after
        // its `PONG` (once `fenced`) answers one of this call's publishes.
        let mut first_token = None;
        let mut fenced = false;
        loop {
            match self.revive(give_up) {
                Ok(_) => {}
                Err(Error::TimedOut) => return Err(unconfirmed(attempts)),
                Err(e) => return Err(e),
            }
            let sent = self.send_ping().and_then(|token| {
                first_token.get_or_insert(token);
                self.write_message(&message)
            });
            if let Err(e) = sent {
                if self.lost_but_reconnecting(&e) {
                    continue;
                }
                return Err(e);
            }
            attempts += 1;
            let now = Instant::now();
            let until = match (now.checked_add(wait), give_up) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            wait = wait.saturating_mul(2);
            let fence = first_token.clone().unwrap_or(Value::Null);
            match self.await_ack(&topic, &id, (&fence, &mut fenced), until) {
                Ok(ack) => return Ok(ack),
                Err(Error::TimedOut) => {
                    if give_up.is_some_and(|g| Instant::now() >= g) {
                        return Err(unconfirmed(attempts));
                    }
                    debug!("no PUBACK for {id:?} on {topic}; sending it again");
                }
                Err(e) if self.lost_but_reconnecting(&e) => {
                    debug!("connection lost waiting for PUBACK {id:?}: {e}");
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Waits until `until` for the `PUBACK` of `id` on `topic`, or an
    /// `ERROR` on `topic` once `fenced`: after the `PONG` of the token
    /// `fence` or a later one.
    fn await_ack(
        &mut self,
        topic: &str,
        id: &str,
        (fence, fenced): (&Value, &mut bool),
        until: Option<Instant>,
    ) -> Result<PubAck> {
        let first = match fence {
            Value::Int(t) => *t,
            _ => i64::MAX,
        };
        self.wait(until, |m| match m.method {
            Method::PubAck if m.topic == topic && acked_id(&m.msg) == Some(id) => {
                Ok(Step::Done(PubAck::from_message(m.topic, &m.msg)?))
            }
            Method::Pong => {
                *fenced |= matches!(m.msg, Value::Int(t) if t >= first);
                Ok(Step::Taken)
            }
            Method::Error if *fenced && m.topic == topic => Err(refused(m)),
            _ => Ok(Step::Other(m)),
        })
    }

    /// Says `HELLO` with a name when the queue has none yet (or has not
    /// said `HELLO` at all), keeping its other `HELLO` options.
    fn ensure_identity(&mut self) -> Result<()> {
        let named = self.name().is_some();
        if named && self.session.epoch.is_some() {
            return Ok(());
        }
        let mut hello: Hello = self.session.hello.clone().unwrap_or_default();
        if hello.name.is_none() {
            hello.name = Some(self.ids.name());
        }
        self.hello(hello).map(|_| ())
    }

    /// Whether `e` lost the connection and reconnection is on: the next
    /// `revive` re-establishes it and the message goes again.
    fn lost_but_reconnecting(&self, e: &Error) -> bool {
        e.is_fatal()
            && !matches!(e, Error::ReconnectFailed { .. })
            && self.session.reconnect.is_some()
    }
}

/// The `id` of a `PUBACK` `msg`.
fn acked_id(msg: &Value) -> Option<&str> {
    match crate::event::field(msg, "id") {
        Some(Value::Str(s)) => Some(s),
        _ => None,
    }
}
