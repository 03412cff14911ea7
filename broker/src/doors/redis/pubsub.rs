//! `SUBSCRIBE`, `PSUBSCRIBE`, `UNSUBSCRIBE`, `PUNSUBSCRIBE`, `PUBLISH` and
//! `PUBSUB`.
//!
//! The door keeps the connection's channels and patterns itself, so it
//! answers each (un)subscription with the count redis-server gives (this
//! connection's channels and patterns together) before the router applies
//! it; a channel is a Redis channel filter (the exact topic), a pattern a
//! Redis glob filter. `PUBLISH` asks the router for the receiver count.

use std::borrow::Cow;

use super::channel;
use super::commands::{batch, Args};
use super::{RedisCodec, Sub};
use crate::core::command::ChannelQuery;
use crate::core::glob::Glob;
use crate::core::{Command, CoreError, Filter, Publish, SubTag, Subscribe, TopicArg};
use crate::doors::{payload, Action};

/// Longest pattern accepted. redis-server has no bound, but it tries a
/// pattern against a channel in up to (pattern × channel) steps, and here
/// that runs on the one reactor thread; no channel is over 1,024 bytes, so
/// a longer pattern could only be stars and classes.
pub const MAX_PATTERN: usize = 4096;

impl RedisCodec {
    /// Writes `kind name count` as a push (RESP3) or an array; a missing
    /// name is a null.
    fn confirm(&self, out: &mut Vec<u8>, kind: &str, name: Option<&[u8]>) {
        let resp = self.resp;
        resp.push(out, 3);
        resp.bulk(out, kind.as_bytes());
        match name {
            Some(n) => resp.bulk(out, n),
            None => resp.null(out),
        }
        resp.int(out, i64::try_from(self.subscriptions()).unwrap_or(i64::MAX));
    }

    /// `SUBSCRIBE` (or `PSUBSCRIBE`, `pattern`) of every argument.
    pub(super) fn subscribe<'a>(
        &mut self,
        args: &Args<'a, '_>,
        pattern: bool,
        out: &mut Vec<u8>,
    ) -> Action<'a> {
        let kind = if pattern { "psubscribe" } else { "subscribe" };
        let mut commands = Vec::new();
        for i in 1..args.len() {
            let name = args.get(i);
            let held = if pattern {
                self.patterns.contains_key(name)
            } else {
                self.channels.contains_key(name)
            };
            if !held {
                match self.filter(name, pattern) {
                    Ok(filter) if self.subscriptions() < self.max_subscriptions => {
                        self.last_tag += 1;
                        let tag = self.last_tag;
                        let names = if pattern {
                            &mut self.patterns
                        } else {
                            &mut self.channels
                        };
                        names.insert(name.into(), tag);
                        let sub = Sub {
                            pattern,
                            name: name.into(),
                        };
                        self.subs.insert(tag, sub);
                        let sent = match args.cow(i) {
                            Cow::Borrowed(b) => String::from_utf8_lossy(b),
                            Cow::Owned(b) => Cow::Owned(String::from_utf8_lossy(&b).into_owned()),
                        };
                        commands.push(Command::Subscribe(Subscribe {
                            filter,
                            sent,
                            tag: SubTag(tag),
                            options: None,
                        }));
                    }
                    Ok(_) => {
                        let max = self.max_subscriptions;
                        let e = CoreError::SubscriptionLimit { max };
                        self.resp.error(out, &format!("ERR {e}"));
                        continue;
                    }
                    Err(e) => {
                        self.resp.error(out, &e);
                        continue;
                    }
                }
            }
            self.confirm(out, kind, Some(name));
        }
        batch(commands)
    }

    /// The filter for subscribing to `name`, or the error reply's text.
    fn filter(&self, name: &[u8], pattern: bool) -> Result<Filter<'static>, String> {
        if !pattern {
            return channel::topic(name).map(Filter::Channel);
        }
        if name.len() > MAX_PATTERN {
            return Err(format!(
                "ERR invalid pattern: longer than {MAX_PATTERN} bytes"
            ));
        }
        match std::str::from_utf8(name) {
            Ok(text) => Ok(Filter::Glob(Glob::new(text.to_owned()))),
            Err(_) => Err(format!(
                "ERR invalid pattern '{}': a pattern is UTF-8 text here",
                String::from_utf8_lossy(name)
            )),
        }
    }

    /// `UNSUBSCRIBE` (or `PUNSUBSCRIBE`, `pattern`) of the arguments, or
    /// of every channel (pattern) without any.
    pub(super) fn unsubscribe<'a>(
        &mut self,
        args: &Args<'a, '_>,
        pattern: bool,
        out: &mut Vec<u8>,
    ) -> Action<'a> {
        let kind = if pattern {
            "punsubscribe"
        } else {
            "unsubscribe"
        };
        let mut commands = Vec::new();
        let names: Vec<Box<[u8]>> = if args.len() > 1 {
            args.from(1).map(Into::into).collect()
        } else {
            // Oldest first (redis-server goes in its hash table's order).
            let map = if pattern {
                &self.patterns
            } else {
                &self.channels
            };
            let mut held: Vec<(u64, Box<[u8]>)> =
                map.iter().map(|(n, &t)| (t, n.clone())).collect();
            held.sort_unstable();
            held.into_iter().map(|(_, n)| n).collect()
        };
        if names.is_empty() {
            self.confirm(out, kind, None);
        }
        for name in names {
            let map = if pattern {
                &mut self.patterns
            } else {
                &mut self.channels
            };
            if let Some(tag) = map.remove(&name) {
                self.subs.remove(&tag);
                commands.push(Command::Unsubscribe(SubTag(tag)));
            }
            self.confirm(out, kind, Some(&name));
        }
        batch(commands)
    }

    /// `PUBLISH channel message`: the router answers with the receivers.
    pub(super) fn publish<'a>(&mut self, args: &Args<'a, '_>, out: &mut Vec<u8>) -> Action<'a> {
        let name = args.get(1);
        // A publisher usually repeats its channel: checking it again costs
        // more than comparing it.
        let topic = match &self.last_publish {
            Some((last, topic)) if **last == *name => topic.clone(),
            _ => match channel::topic(name) {
                Ok(t) => {
                    self.last_publish = Some((name.into(), t.clone()));
                    t
                }
                Err(e) => {
                    self.resp.error(out, &e);
                    return Action::Answered;
                }
            },
        };
        Action::Command(Command::Publish(Publish {
            topic: TopicArg::new(topic),
            body: match args.cow(2) {
                Cow::Borrowed(bytes) => payload::to_body(bytes),
                Cow::Owned(bytes) => payload::to_owned_body(bytes),
            },
            ack: true,
            keys: None,
        }))
    }

    /// `PUBSUB CHANNELS [pattern] | NUMSUB [channel ...] | NUMPAT` (arity
    /// checked).
    pub(super) fn pubsub<'a>(&mut self, args: &Args<'a, '_>, out: &mut Vec<u8>) -> Action<'a> {
        let sub = args.get(1);
        let query = if sub.eq_ignore_ascii_case(b"channels") {
            if args.len() > 3 {
                let mut e = b"ERR unknown subcommand or wrong number of arguments for '".to_vec();
                e.extend_from_slice(sub);
                e.extend_from_slice(b"'. Try PUBSUB HELP.");
                self.resp.error_bytes(out, &e);
                return Action::Answered;
            }
            let pattern = args.get(2);
            if pattern.len() > MAX_PATTERN {
                self.resp.error(
                    out,
                    &format!("ERR invalid pattern: longer than {MAX_PATTERN} bytes"),
                );
                return Action::Answered;
            }
            let glob =
                (args.len() == 3).then(|| Glob::new(String::from_utf8_lossy(pattern).into_owned()));
            ChannelQuery::Channels(glob)
        } else if sub.eq_ignore_ascii_case(b"numsub") {
            ChannelQuery::NumSub(
                (2..args.len())
                    .map(|i| {
                        let name = args.cow(i);
                        let topic = channel::topic(&name).ok();
                        (name, topic)
                    })
                    .collect(),
            )
        } else {
            ChannelQuery::NumPat
        };
        Action::Command(Command::Channels(query))
    }
}
