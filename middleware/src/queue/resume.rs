//! What outlives one connection ([`Session`]: subscriptions, the last
//! number seen per topic, the broker's epoch) and what a queue does with it
//! (`docs/protocol.md`, v2 §11, §13): note every delivery's number, drop
//! repeats, and after a lost connection reconnect with backoff and
//! resubscribe with `resume`, so the application sees every message once,
//! in order, or an [`Event::Gap`].

use std::collections::{BTreeMap, BTreeSet};
use std::io::{self, BufReader};
use std::net::{TcpStream, ToSocketAddrs};
use std::thread;
use std::time::Instant;

use log::{debug, info, warn};
use protocol::topic::is_under;
use protocol::{EncodeError, FrameError, Message, Method, Value};

use super::Queue;
use crate::error::{Error, Result};
use crate::event::{Event, GapReason};
use crate::options::Reconnect;
use crate::v2::{Hello, SubscribeOptions, Welcome};

/// A queue's state beyond its current connection.
#[derive(Debug)]
pub(super) struct Session {
    /// Where to reconnect: the address connected to.
    pub(super) addr: String,
    /// The subscriptions asked for and not cancelled, normalized (topics
    /// or patterns).
    pub(super) subs: Vec<String>,
    /// The options of those that have some.
    pub(super) options: BTreeMap<String, SubscribeOptions>,
    /// Per topic, the last number delivered (or accounted for by a gap),
    /// in the numbering named by `epoch`.
    seen: BTreeMap<String, u64>,
    /// The broker's epoch, from its last `HELLO` answer: set once the queue
    /// speaks v2, which turns on resuming and dropping repeats.
    pub(super) epoch: Option<String>,
    /// The options of the last `HELLO`, said again on reconnecting.
    pub(super) hello: Option<Hello>,
    /// How to reconnect; `None`: a lost connection stays lost.
    pub(super) reconnect: Option<Reconnect>,
    /// Since when and how the connection is being re-established.
    lost: Option<Lost>,
    /// Topics whose epoch gap the queue reported itself at the last
    /// reconnection (they did not exist at the new broker yet), so one the
    /// broker sends too, had a topic come up meanwhile, is a repeat.
    epoch_gaps: BTreeSet<String>,
    /// The last `PING` token sent.
    pub(super) token: i64,
}

/// A lost connection being re-established.
#[derive(Debug)]
struct Lost {
    since: Instant,
    /// Failed attempts so far.
    failed: u32,
    /// When the next attempt may start.
    next: Instant,
    /// Why the connection (or the last attempt) failed.
    cause: Error,
}

impl Session {
    pub(super) fn new(addr: String) -> Session {
        Session {
            addr,
            subs: Vec::new(),
            options: BTreeMap::new(),
            seen: BTreeMap::new(),
            epoch: None,
            hello: None,
            reconnect: None,
            lost: None,
            epoch_gaps: BTreeSet::new(),
            token: 0,
        }
    }

    /// The `SUBSCRIBE` for `topic`: with `resume` in the current epoch when
    /// the queue speaks v2 and has seen topics under it.
    /// A queue-group member never resumes: the group shares live messages.
    pub(super) fn subscription(&self, topic: &str) -> Message {
        self.subscription_after(topic, self.epoch.as_deref(), self.seen_under(topic))
    }

    /// The `SUBSCRIBE` for `topic`, with its options, resuming after `seen`
    /// in `epoch` when there is one.
    fn subscription_after(
        &self,
        topic: &str,
        epoch: Option<&str>,
        seen: Vec<(String, u64)>,
    ) -> Message {
        let options = self.options.get(topic);
        let grouped = options.is_some_and(|o| o.group.is_some());
        let extra = options.map(SubscribeOptions::entries).unwrap_or_default();
        match epoch {
            Some(epoch) if !grouped => resume(topic, epoch, seen, extra),
            _ if extra.is_empty() => Message::subscribe(topic),
            _ => Message::new(Method::Subscribe, topic, Value::Dict(extra)),
        }
    }

    /// The numbers seen on the topics `sub` matches.
    fn seen_under(&self, sub: &str) -> Vec<(String, u64)> {
        self.seen
            .iter()
            .filter(|(t, _)| covers(sub, t))
            .map(|(t, s)| (t.clone(), *s))
            .collect()
    }

    /// Whether the subscription `sub` makes a copy of every message
    /// `other` gets, so that resubscribing `other` too would repeat them.
    fn covers_all_of(&self, sub: &str, other: &str) -> bool {
        sub != other
            && !self.options.contains_key(sub)
            && is_under(other, sub)
            && !sub.contains('*')
    }

    /// Notes that `topic`'s messages up to `seq` are accounted for. Returns
    /// `false` for a repeat (nothing new) once the queue speaks v2, where
    /// repeats can come from a resumed subscription overlapping what was
    /// in flight; a v1 queue hands every message out as it comes.
    pub(super) fn note(&mut self, topic: &str, seq: u64) -> bool {
        match self.seen.get_mut(topic) {
            Some(last) if *last >= seq => self.epoch.is_none(),
            Some(last) => {
                *last = seq;
                true
            }
            None => {
                self.seen.insert(topic.to_owned(), seq);
                true
            }
        }
    }
}

/// Whether the subscription `sub` (a topic or a pattern) receives the
/// messages of `topic`.
fn covers(sub: &str, topic: &str) -> bool {
    if sub.contains('*') {
        protocol::Pattern::parse(sub).is_ok_and(|p| p.matches(topic))
    } else {
        is_under(topic, sub)
    }
}

/// `SUBSCRIBE topic` resuming after `seen` in `epoch`, with the option
/// entries `extra`; one without `resume` when nothing was seen, or when the
/// list does not fit a frame (then retained messages come as in v1 and
/// repeats are dropped).
fn resume(
    topic: &str,
    epoch: &str,
    seen: Vec<(String, u64)>,
    extra: Vec<(String, Value)>,
) -> Message {
    let plain = |extra: Vec<(String, Value)>| {
        if extra.is_empty() {
            Message::subscribe(topic)
        } else {
            Message::new(Method::Subscribe, topic, Value::Dict(extra))
        }
    };
    if seen.is_empty() {
        return plain(extra);
    }
    let int = |n: u64| Value::Int(i64::try_from(n).unwrap_or(i64::MAX));
    let topics = seen.into_iter().map(|(t, s)| (t, int(s))).collect();
    let resume = Value::Dict(vec![
        ("epoch".to_owned(), Value::from(epoch)),
        ("topics".to_owned(), Value::Dict(topics)),
    ]);
    let mut keys = vec![("resume".to_owned(), resume)];
    keys.extend(extra.iter().cloned());
    let m = Message::new(Method::Subscribe, topic, Value::Dict(keys));
    match protocol::Format::Xml.encode(&m, &mut Vec::new()) {
        Err(EncodeError::Frame(FrameError::TooLarge(_))) => plain(extra),
        _ => m,
    }
}

impl Queue {
    /// The broker's epoch (v2 §11), once the queue speaks v2: numbers of
    /// different epochs are unrelated.
    #[must_use]
    pub fn epoch(&self) -> Option<&str> {
        self.session.epoch.as_deref()
    }

    /// The last number of `topic` this queue delivered (or accounted for by
    /// a gap or a history), in the current epoch.
    #[must_use]
    pub fn last_seq(&self, topic: &str) -> Option<u64> {
        self.session.seen.get(topic).copied()
    }

    /// Whether the queue holds a live connection (it may have failed
    /// unnoticed: a lost connection shows at the next read or write).
    #[must_use]
    pub fn is_connected(&self) -> bool {
        !self.dead
    }

    /// Turns reconnection on (`Some`) or off. With it, a lost connection is
    /// re-established as [`Reconnect`] says, inside the call that finds it
    /// lost: `pull` keeps waiting (within its own bound) and carries on
    /// with the resumed subscriptions' messages; a send reconnects first
    /// (within [`Queue::set_timeout`]). Every subscription is made again
    /// with `resume`, so each topic continues after the last number seen,
    /// or with an [`Event::Gap`] (reason `epoch` after a broker restart).
    /// A request whose answer was lost with the connection fails; calling it
    /// again is up to the caller. After giving up, calls fail with
    /// [`Error::ReconnectFailed`], then [`Error::Closed`], and reconnection
    /// is off.
    ///
    /// Resuming needs the broker's epoch, so this says `HELLO` (with default
    /// options) when the queue has not yet.
    ///
    /// # Errors
    /// As [`Queue::hello`].
    pub fn set_reconnect(&mut self, policy: Option<Reconnect>) -> Result<()> {
        self.session.reconnect = policy;
        if policy.is_some() && self.session.epoch.is_none() {
            if self.session.hello.is_none() {
                self.session.hello = Some(Hello::default());
            }
            self.greet()?;
        }
        Ok(())
    }

    /// Takes in a message from the broker: notes numbers and the epoch;
    /// returns its event, or `None` when it is none for `pull` (a repeat, or
    /// a late answer or reply to a request that timed out).
    pub(super) fn absorb(&mut self, m: Message) -> Option<Result<Event>> {
        match m.method {
            Method::Hello => {
                if let Ok(w) = Welcome::from_value(&m.msg) {
                    self.session.epoch = Some(w.epoch);
                }
                return None;
            }
            Method::Pong | Method::History | Method::PubAck | Method::Who => {
                debug!("late {} answer on {:?} dropped", m.method, m.topic);
                return None;
            }
            // A reply to a request that gave up waiting.
            Method::Publish | Method::LastMsg | Method::NoResponders
                if self.ids.is_inbox(&m.topic) =>
            {
                debug!("late reply on {:?} dropped", m.topic);
                return None;
            }
            _ => {}
        }
        let event = Event::from_message(m);
        let new = match &event {
            Ok(
                Event::Publish {
                    topic,
                    seq: Some(seq),
                    ..
                }
                | Event::LastMsg {
                    topic,
                    seq: Some(seq),
                    ..
                },
            ) => self.session.note(topic, *seq),
            // An epoch gap's numbers are the old numbering's.
            Ok(Event::Gap { topic, reason, .. }) if *reason == GapReason::Epoch => {
                !self.session.epoch_gaps.contains(topic)
            }
            Ok(Event::Gap { topic, to, .. }) => self.session.note(topic, *to),
            _ => true,
        };
        new.then_some(event)
    }

    /// Encodes `m` and writes it as one frame, reconnecting first (within
    /// [`Queue::set_timeout`]) when the connection was lost and
    /// reconnection is on.
    pub(super) fn send(&mut self, m: &Message) -> Result<()> {
        self.revive(self.deadline())?;
        self.write_message(m)
    }

    /// Re-establishes a lost connection when reconnection is on; `Ok(true)`
    /// when it did so now (and so made every subscription again).
    ///
    /// # Errors
    /// [`Error::Closed`] without reconnection; [`Error::TimedOut`] when
    /// `deadline` passes first; [`Error::ReconnectFailed`].
    pub(super) fn revive(&mut self, deadline: Option<Instant>) -> Result<bool> {
        if !self.dead {
            return Ok(false);
        }
        if self.recover(Error::Closed, deadline)? {
            Ok(true)
        } else {
            Err(Error::TimedOut)
        }
    }

    /// Handles the loss of the connection (`cause`): without reconnection,
    /// returns `cause`; with it, attempts as the policy says until one
    /// succeeds (`Ok(true)`) or `deadline` passes (`Ok(false)`; the next
    /// call goes on where this one stopped).
    ///
    /// # Errors
    /// `cause` without reconnection; [`Error::ReconnectFailed`] when the
    /// policy gives up.
    pub(super) fn recover(&mut self, cause: Error, deadline: Option<Instant>) -> Result<bool> {
        let Some(policy) = self.session.reconnect else {
            return Err(cause);
        };
        let mut lost = self.session.lost.take().unwrap_or_else(|| {
            warn!(
                "connection to {} lost ({cause}); reconnecting",
                self.session.addr
            );
            let now = Instant::now();
            Lost {
                since: now,
                failed: 0,
                next: now + policy.delay(0),
                cause,
            }
        });
        loop {
            let now = Instant::now();
            let out_of_attempts = policy.attempts.is_some_and(|n| lost.failed >= n);
            let out_of_time = policy
                .give_up_after
                .is_some_and(|t| now.duration_since(lost.since) >= t);
            if out_of_attempts || out_of_time {
                self.session.reconnect = None;
                return Err(Error::ReconnectFailed {
                    attempts: lost.failed,
                    last: Box::new(lost.cause),
                });
            }
            if lost.next > now {
                if let Some(d) = deadline.filter(|d| *d < lost.next) {
                    thread::sleep(d.saturating_duration_since(now));
                    self.session.lost = Some(lost);
                    return Ok(false);
                }
                thread::sleep(lost.next - now);
            }
            match self.attempt() {
                Ok(()) => {
                    info!(
                        "reconnected to {} after {} failed attempts",
                        self.session.addr, lost.failed
                    );
                    return Ok(true);
                }
                Err(e) => {
                    self.kill();
                    debug!("reconnection attempt {} failed: {e}", lost.failed + 1);
                    lost.failed += 1;
                    lost.next = Instant::now() + policy.delay(lost.failed);
                    lost.cause = e;
                }
            }
        }
    }

    /// One attempt: connect, handshake, `HELLO` (which sets the new epoch),
    /// then every subscription again, resuming in the old epoch.
    fn attempt(&mut self) -> Result<()> {
        let deadline = Instant::now() + Reconnect::ATTEMPT_TIMEOUT;
        let stream = connect(&self.session.addr)?;
        stream.set_nodelay(true)?;
        stream.set_write_timeout(self.timeout)?;
        self.reader = BufReader::with_capacity(64 * 1024, stream);
        self.partial.clear();
        self.socket_timeout = None;
        self.parting = None;
        self.dead = false;
        self.send_handshake()?;
        let old = self.session.epoch.clone();
        self.greet_until(Some(deadline))?;
        // A subscription under another one is covered by it: making both
        // again would replay its topics twice.
        let subs: Vec<String> = self
            .session
            .subs
            .iter()
            .filter(|s| {
                !self
                    .session
                    .subs
                    .iter()
                    .any(|o| self.session.covers_all_of(o, s))
            })
            .cloned()
            .collect();
        self.session.epoch_gaps.clear();
        if subs.is_empty() {
            return self.forget_if_new_epoch(old);
        }
        // Topics that had no message when the connection was lost resume
        // from 0: they may have got some meanwhile, which a plain
        // subscription would reduce to the last one.
        let topics = self.list_until(Some(deadline))?;
        if old != self.session.epoch {
            self.report_epoch_gaps(&subs, &topics);
        }
        for sub in subs {
            let mut seen = self.session.seen_under(&sub);
            for t in topics.iter().filter(|t| covers(&sub, t)) {
                if !self.session.seen.contains_key(t) {
                    seen.push((t.clone(), 0));
                }
            }
            let m = self.session.subscription_after(&sub, old.as_deref(), seen);
            self.write_message(&m)?;
        }
        self.forget_if_new_epoch(old)
    }

    /// After a restart the broker reports no epoch gap for a topic it does
    /// not have (yet), so the queue reports those itself, as the broker
    /// would: the old numbering ended after the last number seen.
    fn report_epoch_gaps(&mut self, subs: &[String], topics: &[String]) {
        let missing: Vec<(String, u64)> = self
            .session
            .seen
            .iter()
            .filter(|(t, _)| subs.iter().any(|s| covers(s, t)))
            .filter(|(t, _)| topics.binary_search(t).is_err())
            .map(|(t, s)| (t.clone(), *s))
            .collect();
        for (topic, seq) in missing {
            let next = seq.saturating_add(1);
            self.session.epoch_gaps.insert(topic.clone());
            self.pending.push_back(Ok(Event::Gap {
                topic,
                from: next,
                to: next,
                reason: GapReason::Epoch,
            }));
        }
    }

    /// After a reconnection: numbers of an older epoch mean nothing in the
    /// new one (the resume requests carried them already).
    fn forget_if_new_epoch(&mut self, old: Option<String>) -> Result<()> {
        if old != self.session.epoch {
            self.session.seen.clear();
        }
        Ok(())
    }
}

/// A TCP connection to `addr`, trying each address it resolves to, each
/// bounded by [`Reconnect::ATTEMPT_TIMEOUT`].
fn connect(addr: &str) -> Result<TcpStream> {
    let mut last = io::Error::new(io::ErrorKind::NotFound, "no address");
    for a in addr.to_socket_addrs()? {
        match TcpStream::connect_timeout(&a, Reconnect::ATTEMPT_TIMEOUT) {
            Ok(s) => return Ok(s),
            Err(e) => last = e,
        }
    }
    Err(Error::Connect {
        addr: addr.to_owned(),
        source: last,
    })
}
