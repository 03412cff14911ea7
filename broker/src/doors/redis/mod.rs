//! The Redis door (front-doors spec, seed 003): RESP2 and RESP3 on the same
//! topic tree, so that redis-py, redis-cli and the `redis` crate work
//! unchanged for pub/sub and the small string key space of the chapter's
//! cache pattern. redis-server is the reference: same replies, same push
//! shapes, same error texts, a close only where it closes.
//!
//! ```text
//! accept --> session open (no handshake; HELLO 3 switches to RESP3)
//! request --> a command for the router (PUBLISH, SUBSCRIBE, SET, ...),
//!             or answered here (PING, ECHO, HELLO, errors, ...)
//! protocol error (bad lengths, quotes) --> -ERR Protocol error: ..., close
//! QUIT --> +OK, close
//! ```
//!
//! - [`parse`]: requests (arrays of bulk strings, inline commands).
//! - [`reply`]: RESP2 and RESP3 replies.
//! - [`commands`]: the command table, arity and subscribed-mode checks, the
//!   connection commands.
//! - [`pubsub`]: `SUBSCRIBE` and the rest, `PUBLISH`, `PUBSUB`.
//! - [`keys`]: `SET`, `GET`, ... as key-space commands.
//! - [`channel`]: channel names to topics and back.
//!
//! A delivery's payload is encoded once per message as a bulk string
//! ([`Codec::encode_delivery`]); each subscription's `message` or `pmessage`
//! header is written before it ([`Codec::wrap_delivery`]).

pub mod channel;
pub mod commands;
pub mod keys;
pub mod parse;
pub mod pubsub;
pub mod reply;

use std::sync::atomic::{AtomicU64, Ordering};

use foldhash::{HashMap, HashMapExt};
use log::{debug, warn};

use self::parse::{ArgsBuf, Parsed};
use self::reply::Resp;
use super::{payload, Codec, Decoded, DoorError, Farewell, OutputLimit, REDIS};
use crate::core::{CoreError, Delivery, DeliveryRule, Notice, Profile, Reply, SubTag};

/// Client ids, as `HELLO` and `CLIENT ID` report them: one counter for the
/// process, as redis-server has one.
static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// One subscription of this connection.
#[derive(Debug)]
struct Sub {
    /// A pattern (`PSUBSCRIBE`) rather than a channel.
    pattern: bool,
    /// The channel or pattern as the client sent it.
    name: Box<[u8]>,
}

/// One Redis connection's codec.
#[derive(Debug)]
pub struct RedisCodec {
    /// The protocol version: RESP3 after `HELLO 3`.
    resp: Resp,
    /// This client's id.
    id: u64,
    /// Its name (`CLIENT SETNAME`, `HELLO ... SETNAME`).
    name: Option<Box<[u8]>>,
    /// Subscriptions by the router's tag.
    subs: HashMap<u64, Sub>,
    /// Tags by channel name.
    channels: HashMap<Box<[u8]>, u64>,
    /// Tags by pattern.
    patterns: HashMap<Box<[u8]>, u64>,
    /// The last tag given.
    last_tag: u64,
    /// The channel of the last `PUBLISH` and its topic.
    last_publish: Option<(Box<[u8]>, protocol::Topic<'static>)>,
    /// Where a request's arguments are parsed to (kept for its capacity).
    args: ArgsBuf,
    /// Longest bulk string accepted.
    max_bulk: usize,
    /// Most subscriptions, channels and patterns together.
    max_subscriptions: usize,
    /// The output limits of pub/sub clients.
    limit: OutputLimit,
}

impl RedisCodec {
    /// A codec for a new connection, with the broker's limits.
    #[must_use]
    pub fn new(config: &crate::Config) -> Self {
        RedisCodec {
            resp: Resp { v3: false },
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            name: None,
            subs: HashMap::new(),
            channels: HashMap::new(),
            patterns: HashMap::new(),
            last_tag: 0,
            last_publish: None,
            args: ArgsBuf::default(),
            max_bulk: config.max_message,
            max_subscriptions: config.max_subscriptions,
            limit: OutputLimit {
                hard: config.redis_output_hard,
                soft: config.redis_output_soft,
                soft_for: config.redis_output_soft_for,
            },
        }
    }

    /// Appends the `message` (or `pmessage`) push that precedes a delivery's
    /// payload for the subscription tagged `tag`; `false` (nothing appended)
    /// if that subscription is gone.
    fn message_header(&self, delivery: &Delivery<'_>, tag: SubTag, out: &mut Vec<u8>) -> bool {
        let Some(sub) = self.subs.get(&tag.0) else {
            return false;
        };
        let channel = channel::of_topic(delivery.topic).as_bytes();
        if sub.pattern {
            self.resp.push(out, 4);
            out.extend_from_slice(b"$8\r\npmessage\r\n");
            self.resp.bulk(out, &sub.name);
        } else {
            self.resp.push(out, 3);
            out.extend_from_slice(b"$7\r\nmessage\r\n");
        }
        self.resp.bulk(out, channel);
        true
    }

    /// Channels and patterns subscribed to: the count Redis replies with.
    fn subscriptions(&self) -> usize {
        self.subs.len()
    }

    /// Whether RESP2's subscribed mode limits the commands.
    fn subscribed_mode(&self) -> bool {
        !self.resp.v3 && !self.subs.is_empty()
    }

    /// Bytes an incomplete request may hold before the connection is
    /// closed (redis-server's `client-query-buffer-limit`, scaled to this
    /// broker's bulk limit).
    fn query_limit(&self) -> usize {
        self.max_bulk.saturating_add(1024 * 1024)
    }
}

/// The session every Redis connection starts with.
fn profile() -> Profile {
    Profile {
        form: REDIS,
        rule: DeliveryRule::OncePerSubscription,
        announcements: false,
        replay: false,
    }
}

impl Codec for RedisCodec {
    fn greet(&mut self, _out: &mut Vec<u8>) -> Option<Profile> {
        Some(profile())
    }

    fn decode<'a>(&mut self, input: &'a [u8], out: &mut Vec<u8>) -> Result<Decoded<'a>, DoorError> {
        let mut args = std::mem::take(&mut self.args);
        let decoded = match parse::parse(input, self.max_bulk, &mut args) {
            Ok(Parsed::Incomplete(need)) => {
                if input.len() > self.query_limit() {
                    // redis-server closes such a client without a word.
                    self.args = args;
                    return Err(format!(
                        "an incomplete request of over {} bytes (query buffer limit)",
                        self.query_limit()
                    )
                    .into());
                }
                Ok(Decoded::Incomplete(need))
            }
            Ok(Parsed::Request { used, inline }) => {
                let view = commands::Args::new(input, &args, inline);
                let action = self.execute(&view, out);
                Ok(Decoded::Unit { used, action })
            }
            Err(e) => {
                self.resp.error(out, &format!("ERR Protocol error: {e}"));
                Err(Box::new(e) as DoorError)
            }
        };
        self.args = args;
        decoded
    }

    fn farewell(&mut self, why: Farewell, out: &mut Vec<u8>) {
        // redis-server says why only when it refuses a client at the limit;
        // it closes idle and slow clients without a word.
        if let Farewell::TooManyConnections { .. } = why {
            self.resp.error(out, "ERR max number of clients reached");
        }
    }

    fn describe(&self) -> &'static str {
        if self.resp.v3 {
            "RESP3"
        } else {
            "RESP2"
        }
    }

    fn encode_delivery(&self, delivery: &Delivery<'_>, out: &mut Vec<u8>) -> Result<(), DoorError> {
        self.resp.bulk(out, &payload::to_bytes(delivery.body));
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
        if self.message_header(delivery, tag, out) {
            out.extend_from_slice(shared);
        }
    }

    fn encode_delivery_for(
        &self,
        delivery: &Delivery<'_>,
        tag: SubTag,
        out: &mut Vec<u8>,
    ) -> Result<bool, DoorError> {
        if self.message_header(delivery, tag, out) {
            self.resp.bulk(out, &payload::to_bytes(delivery.body));
        }
        Ok(true)
    }

    fn counts_each_copy(&self) -> bool {
        true
    }

    fn output_limit(&self) -> Option<OutputLimit> {
        Some(self.limit)
    }

    fn encode_notice(&mut self, notice: &Notice<'_>, out: &mut Vec<u8>) {
        let resp = self.resp;
        match notice {
            Notice::PubAck(ack) => resp.int(out, i64::try_from(ack.receivers).unwrap_or(i64::MAX)),
            Notice::Reply(reply) => match *reply {
                Reply::Ok => resp.simple(out, "OK"),
                Reply::Nil => resp.null(out),
                Reply::Int(n) => resp.int(out, n),
                Reply::Bytes(b) => resp.bulk(out, b),
                Reply::Topics(topics) => {
                    resp.array(out, topics.len());
                    for t in topics {
                        resp.bulk(out, channel::of_topic(t).as_bytes());
                    }
                }
                Reply::Counts(counts) => {
                    resp.array(out, 2 * counts.len());
                    for (name, n) in counts {
                        resp.bulk(out, name);
                        resp.int(out, i64::try_from(*n).unwrap_or(i64::MAX));
                    }
                }
            },
            Notice::Refused { error, .. } => match error {
                CoreError::KeyspaceFull { .. } => {
                    resp.error(
                        out,
                        "OOM command not allowed when used memory > 'maxmemory'.",
                    );
                }
                other => resp.error(out, &format!("ERR {other}")),
            },
            Notice::Gap(g) => warn!(
                "message {} of {} not delivered to a Redis client ({})",
                g.from,
                g.topic,
                g.reason.as_str()
            ),
            other => debug!("nothing to tell a Redis client of {other:?}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::doors::Decoded;

    /// Feeds `chunks` to a fresh codec as the reactor does (an incomplete
    /// tail is kept and completed by the next chunk); returns what it wrote
    /// and the actions it asked for, and whether it ended the connection.
    fn feed(chunks: &[&[u8]]) -> (Vec<u8>, Vec<String>, bool) {
        let mut codec = RedisCodec::new(&crate::Config::default());
        let (mut out, mut actions, mut held) = (Vec::new(), Vec::new(), Vec::new());
        for chunk in chunks {
            held.extend_from_slice(chunk);
            loop {
                match codec.decode(&held, &mut out) {
                    Ok(Decoded::Incomplete(_)) => break,
                    Ok(Decoded::Unit { used, action }) => {
                        assert!(used > 0 && used <= held.len());
                        actions.push(format!("{action:?}"));
                        held.drain(..used);
                    }
                    Err(_) => return (out, actions, true),
                }
            }
        }
        (out, actions, false)
    }

    const STREAM: &[u8] =
        b"*3\r\n$7\r\nPUBLISH\r\n$1\r\na\r\n$2\r\nhi\r\nPING\r\nSUBSCRIBE x y\r\n\
*2\r\n$10\r\nPSUBSCRIBE\r\n$2\r\nx*\r\nPING hey\r\nGET k\r\nUNSUBSCRIBE\r\nHELLO 3\r\n\
*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$3\r\na\r\nb\r\necho \"q\\x41\"\r\n";

    #[test]
    fn every_split_point_decodes_the_same() {
        let whole = feed(&[STREAM]);
        assert!(!whole.2);
        for cut in 0..=STREAM.len() {
            let (a, b) = STREAM.split_at(cut);
            assert_eq!(feed(&[a, b]), whole, "cut at {cut}");
        }
    }

    proptest! {
        #[test]
        fn any_input_is_answered_or_refused_never_a_panic(
            bytes in proptest::collection::vec(
                prop::sample::select(b"*$\r\n0123-9 \"'\\xPINGSUBCRIBEpubshQT?[]".to_vec()),
                0..300,
            ),
            cut in 0usize..300,
        ) {
            let cut = cut.min(bytes.len());
            let (a, b) = bytes.split_at(cut);
            let _ = feed(&[a, b]);
        }
    }
}
