//! The NATS door (front-doors spec, seed 004): the NATS client protocol on
//! the same topic tree, so that nats-py and the `nats` CLI work unchanged.
//!
//! ```text
//! accept --> INFO, session open (as nats-server: CONNECT is optional)
//! CONNECT/PUB/HPUB/SUB/UNSUB/PING/PONG --> commands, or answered here
//! bad operation, control line or payload too long --> -ERR '...', close
//! invalid subject --> -ERR 'Invalid Subject', stay open
//! ```
//!
//! - [`parse`]: operations from the front of the input.
//! - [`subject`]: subjects to topics and filters, and back.
//!
//! A delivery's payload is encoded once per message ([`Codec::encode_delivery`]);
//! each subscription's `MSG subject sid len` line is written around it
//! ([`Codec::wrap_delivery`]).

pub mod parse;
pub mod subject;

use foldhash::{HashMap, HashMapExt};
use std::cell::{Cell, RefCell};
use std::io::Write;
use std::time::{Duration, Instant};

use log::debug;
use serde::Deserialize;

use self::parse::Op;
use super::payload;
use super::{Action, Codec, Decoded, DoorError, Farewell, NATS};
use crate::core::command::{Filter, PublishKeys, SubscribeOptions, TopicArg};
use protocol::Topic;

use crate::core::{Command, Delivery, DeliveryRule, Notice, Profile, Publish, SubTag, Subscribe};

/// Largest payload, as nats-server's default `max_payload` (1 MiB).
pub const MAX_PAYLOAD: usize = 1024 * 1024;

/// What a client asked for in `CONNECT` (the fields this door uses; others
/// are accepted and ignored, as nats-server does).
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(default)]
struct ConnectOptions {
    /// `+OK` after every operation.
    verbose: bool,
    /// The client reads headers (`HMSG`).
    headers: bool,
    /// The client wants a 503 status for requests nobody answers.
    no_responders: bool,
    /// The client receives its own publishes (nats-server's default).
    echo: bool,
}

impl Default for ConnectOptions {
    fn default() -> Self {
        ConnectOptions {
            verbose: false,
            headers: false,
            no_responders: false,
            echo: true,
        }
    }
}

/// One subscription of this connection.
#[derive(Debug)]
struct Sid {
    /// The client's name for it.
    sid: Box<str>,
    /// Its subject as subscribed.
    subject: Box<str>,
    /// Deliveries after which it ends (`UNSUB sid max`).
    max: Option<u64>,
    /// Deliveries so far.
    delivered: Cell<u64>,
}

/// `PING`s left unanswered after which a client is stale (nats-server's
/// `max_pings_out`).
const MAX_PINGS_OUT: u8 = 2;

/// One NATS connection's codec.
#[derive(Debug)]
pub struct NatsCodec {
    options: ConnectOptions,
    /// How often the door sends `PING`.
    ping_interval: Duration,
    /// When it last did (or when the connection started).
    last_ping: Instant,
    /// `PING`s sent since the client's last `PONG`.
    pings_out: u8,
    /// Subscriptions by the router's tag.
    subs: HashMap<u64, Sid>,
    /// Tags by the client's sid.
    tags: HashMap<Box<str>, u64>,
    /// The last tag given.
    last_tag: u64,
    /// The last `PUB` subject and its topic: publishers mostly repeat one
    /// subject, and checking it anew cost more than the rest of the parse.
    last_pub: Option<(Box<[u8]>, Topic<'static>)>,
    /// Tags of subscriptions that reached their `max` while delivering
    /// (which cannot change the maps), for [`Codec::take_ended`].
    ended: RefCell<Vec<u64>>,
}

/// Writes `-ERR 'text'`.
fn err(out: &mut Vec<u8>, text: &str) {
    let _ = write!(out, "-ERR '{text}'\r\n");
}

impl NatsCodec {
    /// A codec that probes its client every `ping_interval`.
    #[must_use]
    pub fn new(ping_interval: Duration) -> Self {
        NatsCodec {
            options: ConnectOptions::default(),
            ping_interval,
            last_ping: Instant::now(),
            pings_out: 0,
            subs: HashMap::new(),
            tags: HashMap::new(),
            last_tag: 0,
            last_pub: None,
            ended: RefCell::new(Vec::new()),
        }
    }

    /// Appends the `MSG` (or `HMSG`) line that precedes a delivery's
    /// `len`-byte payload for the subscription tagged `tag`, counting it
    /// against the subscription's `max`; `false` (nothing appended) if the
    /// subscription is gone or has had its `max`. Written byte by byte,
    /// with no allocation: this runs once per recipient.
    fn msg_header(
        &self,
        delivery: &Delivery<'_>,
        tag: SubTag,
        len: usize,
        out: &mut Vec<u8>,
    ) -> bool {
        let Some(sub) = self.subs.get(&tag.0) else {
            return false;
        };
        if let Some(max) = sub.max {
            if sub.delivered.get() >= max {
                return false;
            }
        }
        sub.delivered.set(sub.delivered.get() + 1);
        if sub.max == Some(sub.delivered.get()) {
            self.ended.borrow_mut().push(tag.0);
        }
        let headers = delivery.headers.filter(|_| self.options.headers);
        out.extend_from_slice(if headers.is_some() { b"HMSG " } else { b"MSG " });
        put_subject(out, delivery.topic);
        out.push(b' ');
        out.extend_from_slice(sub.sid.as_bytes());
        if let Some(reply) = delivery.reply {
            out.push(b' ');
            put_subject(out, reply);
        }
        out.push(b' ');
        if let Some(h) = headers {
            protocol::value::push_uint(out, h.len() as u64);
            out.push(b' ');
            protocol::value::push_uint(out, (h.len() + len) as u64);
            out.extend_from_slice(b"\r\n");
            out.extend_from_slice(h);
        } else {
            protocol::value::push_uint(out, len as u64);
            out.extend_from_slice(b"\r\n");
        }
        true
    }

    fn ok(&self, out: &mut Vec<u8>) {
        if self.options.verbose {
            out.extend_from_slice(b"+OK\r\n");
        }
    }

    /// The action for one operation.
    fn act<'a>(&mut self, op: Op<'a>, out: &mut Vec<u8>) -> Result<Action<'a>, DoorError> {
        Ok(match op {
            Op::Ping => {
                out.extend_from_slice(b"PONG\r\n");
                Action::Answered
            }
            Op::Pong => {
                self.pings_out = 0;
                Action::Answered
            }
            Op::Connect(json) => match serde_json::from_slice::<ConnectOptions>(json) {
                Ok(options) => {
                    self.options = options;
                    self.ok(out);
                    Action::Command(Command::Echo(options.echo))
                }
                Err(e) => {
                    err(out, "Unknown Protocol Operation");
                    return Err(format!("bad CONNECT: {e}").into());
                }
            },
            Op::Pub {
                subject,
                reply,
                headers,
                payload,
            } => self.publish(subject, reply, headers, payload, out),
            Op::Sub {
                subject,
                queue,
                sid,
            } => self.subscribe(subject, queue, sid, out),
            Op::Unsub { sid, max } => self.unsubscribe(sid, max, out),
        })
    }

    fn publish<'a>(
        &mut self,
        subject: &'a [u8],
        reply: Option<&'a str>,
        headers: Option<&[u8]>,
        payload: &'a [u8],
        out: &mut Vec<u8>,
    ) -> Action<'a> {
        let topic = match &self.last_pub {
            Some((last, topic)) if **last == *subject => topic.clone(),
            // The parser refused subjects that are no UTF-8.
            _ => match std::str::from_utf8(subject)
                .map_err(|_| subject::SubjectError::Invalid)
                .and_then(subject::topic)
            {
                Ok(t) => {
                    self.last_pub = Some((subject.into(), t.clone()));
                    t
                }
                Err(e) => {
                    err(out, &e.to_string());
                    return Action::Answered;
                }
            },
        };
        let reply = match reply.map(subject::topic) {
            Some(Ok(r)) => Some(r.as_str().to_owned()),
            Some(Err(e)) => {
                err(out, &e.to_string());
                return Action::Answered;
            }
            None => None,
        };
        self.ok(out);
        let keys = (reply.is_some() || headers.is_some()).then(|| {
            Box::new(PublishKeys {
                id: None,
                reply,
                headers: headers.map(<[u8]>::to_vec),
            })
        });
        Action::Command(Command::Publish(Publish {
            topic: TopicArg::new(topic),
            body: payload::to_body(payload),
            ack: false,
            keys,
        }))
    }

    fn subscribe<'a>(
        &mut self,
        subject: &'a str,
        queue: Option<&'a str>,
        sid: &'a str,
        out: &mut Vec<u8>,
    ) -> Action<'a> {
        let filter = match subject::filter(subject) {
            Ok(f) => f,
            Err(_) => {
                err(out, "Invalid Subject");
                return Action::Answered;
            }
        };
        if queue.is_some_and(|q| q.contains(|c: char| c.is_whitespace() || c.is_control())) {
            err(out, "Invalid Queue Name");
            return Action::Answered;
        }
        let tag = match self.tags.get(sid) {
            Some(&tag) => tag,
            None => {
                self.last_tag += 1;
                self.tags.insert(sid.into(), self.last_tag);
                self.last_tag
            }
        };
        self.ended.get_mut().retain(|&t| t != tag);
        self.subs.insert(
            tag,
            Sid {
                sid: sid.into(),
                subject: subject.into(),
                max: None,
                delivered: Cell::new(0),
            },
        );
        self.ok(out);
        let options = queue.map(|q| {
            Box::new(SubscribeOptions {
                group: Some(q.to_owned()),
                ..SubscribeOptions::default()
            })
        });
        Action::Command(Command::Subscribe(Subscribe {
            filter: Filter::Nats(filter),
            sent: subject.into(),
            tag: SubTag(tag),
            options,
        }))
    }

    fn unsubscribe<'a>(&mut self, sid: &str, max: Option<u64>, out: &mut Vec<u8>) -> Action<'a> {
        self.ok(out);
        let Some(&tag) = self.tags.get(sid) else {
            // nats-server ignores an unknown sid.
            return Action::Answered;
        };
        if let (Some(max), Some(s)) = (max, self.subs.get_mut(&tag)) {
            if s.delivered.get() < max {
                s.max = Some(max);
                return Action::Answered;
            }
        }
        self.subs.remove(&tag);
        self.tags.remove(sid);
        Action::Command(Command::Unsubscribe(SubTag(tag)))
    }

    /// The sid of a subscription matching `subject`, for a status message.
    fn sid_for(&self, subject: &str) -> Option<&str> {
        self.subs
            .values()
            .find(|s| subject::matches(&s.subject, subject))
            .map(|s| &*s.sid)
    }
}

/// Appends the subject of the normalized topic `topic` (`/a/b` is `a.b`).
fn put_subject(out: &mut Vec<u8>, topic: &str) {
    let rest = topic.strip_prefix('/').unwrap_or(topic).as_bytes();
    let start = out.len();
    out.extend_from_slice(rest);
    for b in &mut out[start..] {
        if *b == b'/' {
            *b = b'.';
        }
    }
}

/// The session every NATS connection starts with.
fn profile() -> Profile {
    Profile {
        form: NATS,
        rule: DeliveryRule::OncePerSubscription,
        announcements: false,
        replay: false,
    }
}

impl Codec for NatsCodec {
    fn greet(&mut self, out: &mut Vec<u8>) -> Option<Profile> {
        let _ = write!(
            out,
            "INFO {{\"server_id\":\"{}\",\"server_name\":\"{}\",\"version\":\"{}\",\"go\":\"rust\",\"proto\":1,\"headers\":true,\"max_payload\":{MAX_PAYLOAD}}}\r\n",
            env!("CARGO_PKG_NAME"),
            env!("CARGO_PKG_NAME"),
            env!("CARGO_PKG_VERSION"),
        );
        Some(profile())
    }

    fn decode<'a>(&mut self, input: &'a [u8], out: &mut Vec<u8>) -> Result<Decoded<'a>, DoorError> {
        match parse::parse(input, MAX_PAYLOAD) {
            Ok(None) => Ok(Decoded::Incomplete(0)),
            Ok(Some((op, used))) => Ok(Decoded::Unit {
                used,
                action: self.act(op, out)?,
            }),
            Err(e) => {
                err(out, &e.to_string());
                Err(Box::new(e))
            }
        }
    }

    fn farewell(&mut self, why: Farewell, out: &mut Vec<u8>) {
        let text = match why {
            Farewell::TooManyConnections { .. } => "maximum connections exceeded",
            Farewell::HandshakeTimeout => "Authentication Timeout",
            Farewell::TooManyGaps { .. } => "Slow Consumer",
            Farewell::IdleTimeout { .. } | Farewell::Stale => "Stale Connection",
        };
        err(out, text);
    }

    fn describe(&self) -> &'static str {
        "NATS"
    }

    fn encode_delivery(&self, delivery: &Delivery<'_>, out: &mut Vec<u8>) -> Result<(), DoorError> {
        out.extend_from_slice(&payload::to_bytes(delivery.body));
        out.extend_from_slice(b"\r\n");
        Ok(())
    }

    fn wraps_deliveries(&self) -> bool {
        true
    }

    fn wrap_delivery(
        &self,
        delivery: &Delivery<'_>,
        tag: SubTag,
        shared: &[u8],
        out: &mut Vec<u8>,
    ) {
        let len = shared.len().saturating_sub(2);
        if self.msg_header(delivery, tag, len, out) {
            out.extend_from_slice(shared);
        }
    }

    fn encode_delivery_for(
        &self,
        delivery: &Delivery<'_>,
        tag: SubTag,
        out: &mut Vec<u8>,
    ) -> Result<bool, DoorError> {
        let payload = payload::to_bytes(delivery.body);
        if self.msg_header(delivery, tag, payload.len(), out) {
            out.extend_from_slice(&payload);
            out.extend_from_slice(b"\r\n");
        }
        Ok(true)
    }

    fn take_ended(&mut self) -> Option<SubTag> {
        let tag = self.ended.get_mut().pop()?;
        if let Some(sub) = self.subs.remove(&tag) {
            self.tags.remove(&sub.sid);
        }
        Some(SubTag(tag))
    }

    fn keepalive(&mut self, now: Instant, out: &mut Vec<u8>) -> Result<(), Farewell> {
        if now.saturating_duration_since(self.last_ping) < self.ping_interval {
            return Ok(());
        }
        if self.pings_out >= MAX_PINGS_OUT {
            return Err(Farewell::Stale);
        }
        out.extend_from_slice(b"PING\r\n");
        self.pings_out += 1;
        self.last_ping = now;
        Ok(())
    }

    fn encode_notice(&mut self, notice: &Notice<'_>, out: &mut Vec<u8>) {
        match notice {
            Notice::Refused { error, .. } => err(out, &error.to_string()),
            Notice::NoResponders { reply, .. }
                if self.options.headers && self.options.no_responders =>
            {
                let subject = subject::of_topic(reply);
                if let Some(sid) = self.sid_for(&subject) {
                    // nats-server's status message: a header block, no payload.
                    let status = "NATS/1.0 503\r\n\r\n";
                    let n = status.len();
                    let _ = write!(out, "HMSG {subject} {sid} {n} {n}\r\n{status}\r\n");
                }
            }
            other => debug!("nothing to tell a NATS client of {other:?}"),
        }
    }
}
