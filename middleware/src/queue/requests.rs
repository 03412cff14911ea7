//! v2's requests that expect an answer (`docs/protocol.md`, v2 §10, §12,
//! §16): `hello`, `ping`, `history` and `who`, and the waiting loop under
//! them (and under `publish_confirmed` and `request`). Whatever else
//! arrives while one waits is kept, in order, for `pull`.

use std::time::{Duration, Instant};

use protocol::{Message, Method, Value};

use super::{normalize, Queue};
use crate::error::{Error, Result};
use crate::event::reason_text;
use crate::options::Reconnect;
use crate::presence::{who_list, Member};
use crate::v2::{history_page, Hello, History, Welcome};

/// Where a request-answer call stands when a message arrives.
pub(super) enum Step<T> {
    /// The call's answer: it is done.
    Done(T),
    /// Not for this call: hand it to `pull` (or drop it, if no event).
    Other(Message),
    /// Consumed by this call; wait for the next message.
    Taken,
}

impl Queue {
    /// Says `HELLO` (v2 §10) with `hello`'s options and waits for the
    /// answer, bounded by [`Queue::set_timeout`]. The options are kept: a
    /// reconnecting queue says `HELLO` again with them.
    ///
    /// # Errors
    /// [`Error::Broker`] when the broker refuses (a bad name, or a v1
    /// broker); [`Error::Protocol`] for an answer that is no `HELLO`
    /// answer; [`Error::TimedOut`]; the connection's errors.
    pub fn hello(&mut self, hello: Hello) -> Result<Welcome> {
        self.session.hello = Some(hello);
        let deadline = self.deadline();
        self.revive(deadline)?;
        self.greet_until(deadline)
    }

    /// `HELLO` with the kept options, waiting at most
    /// [`Reconnect::ATTEMPT_TIMEOUT`]: what connecting does when asked for
    /// v2, so the epoch is known.
    pub(super) fn greet(&mut self) -> Result<Welcome> {
        self.greet_until(Some(Instant::now() + Reconnect::ATTEMPT_TIMEOUT))
    }

    /// Sends `HELLO` with the kept options on the current connection (no
    /// reconnection: this is part of one) and waits for the answer, which
    /// sets the epoch.
    pub(super) fn greet_until(&mut self, deadline: Option<Instant>) -> Result<Welcome> {
        let hello = self.session.hello.clone().unwrap_or_default();
        self.write_message(&Message::new(Method::Hello, "/", hello.to_value()))?;
        let welcome = self.wait(deadline, |m| match m.method {
            Method::Hello => Ok(Step::Done(Welcome::from_value(&m.msg)?)),
            // About no topic: the broker says why it closes the connection
            // (at its connection limit, say), which fails this call.
            Method::Error if m.topic == "/" || m.topic.is_empty() => Err(refused(m)),
            _ => Ok(Step::Other(m)),
        })?;
        self.session.epoch = Some(welcome.epoch.clone());
        Ok(welcome)
    }

    /// Sends `PING` and waits for its `PONG` (v2 §16), bounded by
    /// [`Queue::set_timeout`]; returns the round trip time.
    ///
    /// The broker handles a connection's requests in order, so when this
    /// returns, it has handled every request this queue sent before (and
    /// queued to this queue everything they caused, now kept for `pull`).
    ///
    /// # Errors
    /// [`Error::Broker`] when the broker refuses `PING` (a v1 broker);
    /// [`Error::TimedOut`]; the connection's errors.
    pub fn ping(&mut self) -> Result<Duration> {
        let start = Instant::now();
        let token = self.send_ping()?;
        self.wait(self.deadline(), |m| match m.method {
            Method::Pong if m.msg == token => Ok(Step::Done(())),
            // The answer to a ping that timed out.
            Method::Pong => Ok(Step::Taken),
            Method::Error if m.topic == "/" => Err(refused(m)),
            _ => Ok(Step::Other(m)),
        })?;
        Ok(start.elapsed())
    }

    /// The kept messages of `topic` (an exact topic) numbered after `since`
    /// (0 for all), only the newest `limit` when given (v2 §12), following
    /// the broker's paging until the answer is whole; bounded by
    /// [`Queue::set_timeout`] as a whole.
    ///
    /// The queue counts the items as seen: a later [`Queue::subscribe`]
    /// covering `topic` resumes after the newest of them.
    ///
    /// # Errors
    /// [`Error::Topic`] for an invalid topic; [`Error::Broker`] when the
    /// broker refuses (a v1 broker refuses the `PING` this call sends first,
    /// and its refusal of `HISTORY` then shows up in `pull`);
    /// [`Error::Protocol`] for a malformed answer; [`Error::TimedOut`]; the
    /// connection's errors.
    pub fn history(&mut self, topic: &str, since: u64, limit: Option<u64>) -> Result<History> {
        let topic = normalize(topic)?.as_str().to_owned();
        let deadline = self.deadline();
        // A PING first: the answers of an earlier call that timed out come
        // before its PONG, and are not taken for this call's.
        let token = self.send_ping()?;
        let mut fenced = false;
        let mut whole: Option<History> = None;
        let mut since = since;
        loop {
            let got = u64::try_from(whole.as_ref().map_or(0, |h| h.items.len())).unwrap_or(0);
            let left = limit.map(|n| n.saturating_sub(got));
            if left == Some(0) && whole.is_some() {
                break;
            }
            self.write_message(&history_request(&topic, since, left))?;
            let (page, more) = self.wait(deadline, |m| match m.method {
                Method::Pong if m.msg == token => {
                    fenced = true;
                    Ok(Step::Taken)
                }
                Method::Pong => Ok(Step::Taken),
                Method::History if fenced && m.topic == topic => {
                    Ok(Step::Done((history_page(&topic, m.msg)?, m.attrs.more)))
                }
                Method::History => Ok(Step::Taken),
                // Before the PONG: the PING refused; after it: this request.
                Method::Error if (fenced && m.topic == topic) || (!fenced && m.topic == "/") => {
                    Err(refused(m))
                }
                _ => Ok(Step::Other(m)),
            })?;
            let last = page.items.last().map(|i| i.seq);
            if let Some(seq) = last {
                self.session.note(&topic, seq);
            }
            let done = !more || last.is_none();
            match &mut whole {
                None => whole = Some(page),
                Some(h) => {
                    h.seq = page.seq;
                    h.items.extend(page.items);
                }
            }
            match last {
                Some(seq) if !done => since = seq,
                _ => break,
            }
        }
        whole.ok_or_else(|| Error::Protocol("no HISTORY answer".into()))
    }

    /// The named clients subscribed to exactly `topic` (`WHO`, v2 §16),
    /// sorted by name then connection id; bounded by [`Queue::set_timeout`].
    /// Only clients that said `HELLO` with a name are listed.
    ///
    /// # Errors
    /// [`Error::Topic`] for an invalid topic or a pattern; [`Error::Broker`]
    /// when the broker refuses (a broker without presence refuses `WHO`);
    /// [`Error::Protocol`] for a malformed answer; [`Error::TimedOut`]; the
    /// connection's errors.
    pub fn who(&mut self, topic: &str) -> Result<Vec<Member>> {
        let topic = normalize(topic)?.as_str().to_owned();
        let deadline = self.deadline();
        // A PING first, as for `history`: a late answer to an earlier call
        // comes before its PONG.
        let token = self.send_ping()?;
        self.write_message(&Message::new(Method::Who, topic.as_str(), Value::Null))?;
        let mut fenced = false;
        self.wait(deadline, |m| match m.method {
            Method::Pong if m.msg == token => {
                fenced = true;
                Ok(Step::Taken)
            }
            Method::Pong => Ok(Step::Taken),
            Method::Who if fenced && m.topic == topic => Ok(Step::Done(who_list(&topic, &m.msg)?)),
            Method::Who => Ok(Step::Taken),
            Method::Error if (fenced && m.topic == topic) || (!fenced && m.topic == "/") => {
                Err(refused(m))
            }
            _ => Ok(Step::Other(m)),
        })
    }

    /// Sends a `PING` with a fresh token as its `msg`; returns the token.
    pub(super) fn send_ping(&mut self) -> Result<Value> {
        self.session.token += 1;
        let token = Value::Int(self.session.token);
        self.send(&Message::new(Method::Ping, "/", token.clone()))?;
        Ok(token)
    }

    /// The end of a wait bounded by [`Queue::set_timeout`].
    pub(super) fn deadline(&self) -> Option<Instant> {
        self.timeout.and_then(|t| Instant::now().checked_add(t))
    }

    /// Reads messages until `step` says one is the answer. Messages it
    /// passes on become events for `pull`; undecodable frames are kept for
    /// `pull` as errors.
    pub(super) fn wait<T>(
        &mut self,
        deadline: Option<Instant>,
        mut step: impl FnMut(Message) -> Result<Step<T>>,
    ) -> Result<T> {
        loop {
            let m = match self.next_message(deadline) {
                Ok(Some(m)) => m,
                Ok(None) => return Err(Error::TimedOut),
                Err(e @ Error::Decode(_)) => {
                    self.pending.push_back(Err(e));
                    continue;
                }
                Err(e) => return Err(e),
            };
            match step(m)? {
                Step::Done(answer) => return Ok(answer),
                Step::Other(m) => {
                    if let Some(event) = self.absorb(m) {
                        self.pending.push_back(event);
                    }
                }
                Step::Taken => {}
            }
        }
    }
}

/// The `HISTORY` request for `topic`: `msg` null when nothing narrows it.
fn history_request(topic: &str, since: u64, limit: Option<u64>) -> Message {
    let int = |n: u64| Value::Int(i64::try_from(n).unwrap_or(i64::MAX));
    let mut keys = Vec::new();
    if since > 0 {
        keys.push(("since".to_owned(), int(since)));
    }
    if let Some(n) = limit {
        keys.push(("limit".to_owned(), int(n)));
    }
    let msg = if keys.is_empty() {
        Value::Null
    } else {
        Value::Dict(keys)
    };
    Message::new(Method::History, topic, msg)
}

/// The error for an `ERROR` answering a request.
pub(super) fn refused(m: Message) -> Error {
    Error::Broker {
        topic: m.topic,
        reason: reason_text(m.msg),
    }
}
