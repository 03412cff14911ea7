//! Request/reply over the broker (`docs/protocol.md`, v2 §15; seed 002's
//! request-response with correlation): `request` publishes with a `reply`
//! topic and waits for the first message there; `respond` answers a
//! request received as an event.
//!
//! Each request has its own inbox, `/_INBOX/<queue's random prefix>/<n>`:
//! the queue subscribes to it, publishes the request, and cancels the
//! subscription once answered or given up, so the correlation is the
//! topic itself (a responder's answer needs no id inside it) and the
//! broker forgets every inbox (it keeps none while nobody subscribes).
//! The subscription, the request and the cancellation are sent together:
//! the broker handles a connection's requests in order, so the inbox is
//! subscribed before the request can reach anyone. A reply arriving after
//! its request gave up is dropped.

use std::time::{Duration, Instant};

use protocol::{Message, Method, Value};

use super::requests::{refused, Step};
use super::{check_publish, normalize, Queue};
use crate::error::{Error, Result};
use crate::event::Event;

/// What ended a request's wait.
enum Outcome {
    /// The first message on the inbox.
    Reply(Value),
    /// The broker found no connection for the request.
    NoResponders,
}

impl Queue {
    /// Publishes `value` on `topic` as a request (`PUBLISH` with `reply`,
    /// v2 §15) and returns the first reply, waiting at most `timeout`.
    ///
    /// A responder receives the request as an [`Event::Publish`] whose
    /// `reply` is set, and answers with [`Queue::respond`]. Deliveries and
    /// other events arriving meanwhile are kept for [`Queue::pull`]. The
    /// request is sent once: it is not repeated after a timeout or a lost
    /// connection (a responder may have acted on it); calling again is up
    /// to the caller.
    ///
    /// # Errors
    /// [`Error::NoResponders`] when the request reached no connection;
    /// [`Error::NoReply`] when nothing came back within `timeout`;
    /// [`Error::Topic`] for an invalid topic or a pattern, and as
    /// [`Queue::push`] for the value; [`Error::Broker`] when the broker
    /// refuses the request or the inbox; the connection's errors.
    pub fn request(
        &mut self,
        topic: &str,
        value: impl Into<Value>,
        timeout: Duration,
    ) -> Result<Value> {
        let topic = normalize(topic)?;
        let value = value.into();
        let inbox = self.ids.inbox();
        check_publish(&topic, &value, Some(&inbox))?;
        let topic = topic.as_str().to_owned();
        let deadline = Instant::now().checked_add(timeout);
        // A PING first: an `ERROR` on `topic` after its `PONG` refuses this
        // request, not an earlier publish.
        let token = self.send_ping()?;
        self.write_message(&Message::subscribe(inbox.as_str()))?;
        let mut request = Message::publish(topic.as_str(), value);
        request.reply = Some(inbox.clone());
        let sent = self.write_message(&request);
        // Topic announcements come to connections holding a subscription:
        // a queue with none gets them only because of its inbox.
        let unsubscribed = self.session.subs.is_empty();
        let outcome = sent.and_then(|()| {
            let mut fenced = false;
            self.wait(deadline, |m| match m.method {
                Method::ListAck if unsubscribed => Ok(Step::Taken),
                Method::Publish | Method::LastMsg if m.topic == inbox => {
                    Ok(Step::Done(Outcome::Reply(m.msg)))
                }
                Method::NoResponders if m.topic == inbox => Ok(Step::Done(Outcome::NoResponders)),
                Method::Pong if m.msg == token => {
                    fenced = true;
                    Ok(Step::Taken)
                }
                Method::Pong => Ok(Step::Taken),
                Method::Error if m.topic == inbox || (fenced && m.topic == topic) => {
                    Err(refused(m))
                }
                _ => Ok(Step::Other(m)),
            })
        });
        if !self.dead {
            // On a lost connection the inbox went with it.
            let _ = self.write_message(&Message::cancel_sub(inbox.as_str()));
        }
        match outcome {
            Ok(Outcome::Reply(value)) => Ok(value),
            Ok(Outcome::NoResponders) => Err(Error::NoResponders { topic }),
            Err(Error::TimedOut) => Err(Error::NoReply { topic, timeout }),
            Err(e) => Err(e),
        }
    }

    /// Answers `request`, a delivery that carries a reply topic, by
    /// publishing `value` there (v2 §15): what a responder does with each
    /// [`Event::Publish`] it pulls from its service topic.
    ///
    /// # Errors
    /// [`Error::NotARequest`] when `request` has no reply topic (nothing is
    /// sent); [`Error::Topic`] for a reply topic that is no valid topic; as
    /// [`Queue::push`] otherwise.
    pub fn respond(&mut self, request: &Event, value: impl Into<Value>) -> Result<()> {
        let reply = request.reply_to().ok_or(Error::NotARequest)?;
        let topic = normalize(reply)?;
        let value = value.into();
        check_publish(&topic, &value, None)?;
        self.send(&Message::publish(topic.as_str(), value))
    }
}
