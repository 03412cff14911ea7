//! Publishing: numbering and keeping a message, fanning it out, and what the
//! publisher is told back (v2 §15: `PUBACK`, deduplication by id,
//! `NO_RESPONDERS`). Reply inboxes are numbered but never kept, and go once
//! unused.

use log::warn;
use protocol::Body;

use super::Router;
use crate::core::command::{CoreError, Publish, PublishKeys};
use crate::core::dedup::{FirstAck, Publisher};
use crate::core::delivery::{Delivery, DeliveryKind, Form, Gap, GapReason, Notice, PubAck};
use crate::core::fan_out::FanOut;
use crate::core::inboxes::is_inbox;
use crate::core::outbox::Outbox;
use crate::core::topics::{TopicId, TopicLimit};
use crate::core::ConnId;

impl Router {
    pub(super) fn publish(&mut self, from: ConnId, p: Publish<'_>, out: &mut impl Outbox) {
        let topic = p.topic.topic.as_str();
        if p.topic.topic.is_root() {
            self.refuse(from, p.topic.sent(), &CoreError::PublishToRoot, out);
            return;
        }
        let keys = p.keys.as_deref();
        if self.storage_failing && !is_inbox(topic) {
            self.refuse(from, p.topic.sent(), &CoreError::Storage, out);
            return;
        }
        if let Some(id) = keys.and_then(|k| k.id.as_deref()) {
            if self.repeated(from, topic, id, p.ack, out) {
                return;
            }
        }
        let inbox = is_inbox(topic);
        if !inbox {
            if let Err(e) = self.check_retained(topic, &p.body) {
                self.refuse(from, p.topic.sent(), &e, out);
                return;
            }
        }
        let (id, created) = match self.publish_topic(from, topic) {
            Ok(found) => found,
            Err(e) => {
                self.refuse(from, p.topic.sent(), &e.into(), out);
                return;
            }
        };
        let ts = self.clock.now();
        let seq = self.topics.record(id, &p.body, ts).unwrap_or_default();
        if inbox {
            self.inboxes.forget_unused(id, &mut self.topics);
        } else {
            // Always enough: the newest messages fit (checked above), and
            // only they cannot leave.
            self.topics.make_room(self.config.max_retained);
            if created {
                self.announce(out);
            }
        }
        // Shared (a reference count, not a copy): the delivery is fanned out
        // by `&mut self`.
        let publisher = self.session(from).and_then(|s| s.name.clone());
        let delivery = Delivery {
            kind: DeliveryKind::Live,
            topic,
            body: &p.body,
            seq,
            ts,
            reply: keys.and_then(|k| k.reply.as_deref()),
            headers: keys.and_then(|k| k.headers.as_deref()),
            publisher: publisher.as_deref(),
        };
        let (receivers, unfit) = self.fan_out(from, id, &delivery, out);
        if unfit != 0 {
            self.size_gaps(unfit, topic, seq, out);
        }
        if self.journal.is_some() && !inbox {
            let first = FirstAck {
                seq,
                receivers: receivers as u64,
            };
            self.journal_publish(from, id, keys.and_then(|k| k.id.as_deref()), ts, first);
        }
        if p.ack || keys.is_some() {
            let told = FirstAck {
                seq,
                receivers: receivers as u64,
            };
            self.answer(from, topic, keys, p.ack, told, out);
        }
    }

    /// Whether a publish with an id repeats one in the deduplication window;
    /// if so it is answered as the first was (when it asks) and goes no
    /// further.
    #[inline(never)]
    fn repeated(
        &mut self,
        from: ConnId,
        topic: &str,
        id: &str,
        ack: bool,
        out: &mut impl Outbox,
    ) -> bool {
        let Some(who) = self.publisher(from) else {
            return false;
        };
        let now = self.clock.now();
        self.dedup.expire(now);
        let Some(first) = self.dedup.get(&who, topic, id) else {
            return false;
        };
        if ack {
            let ack = PubAck {
                topic,
                seq: first.seq,
                receivers: first.receivers,
                id: Some(id),
                duplicate: true,
            };
            self.tell(from, &Notice::PubAck(ack), out);
        }
        true
    }

    /// What the publisher of an accepted message is told (`told`: its
    /// number and receivers; a `PUBACK` if `ack`), and what is remembered
    /// of its id.
    ///
    /// The numbers come as two values, not in a struct behind a pointer:
    /// the caller had just stored the struct's fields, and copying them on
    /// as one 16-byte load of two 8-byte stores stalled until those stores
    /// retired (half of this function's time in a `perf` profile of
    /// scenario a) with acks).
    #[inline(never)]
    fn answer(
        &mut self,
        from: ConnId,
        topic: &str,
        keys: Option<&PublishKeys>,
        ack: bool,
        told: FirstAck,
        out: &mut impl Outbox,
    ) {
        let id = keys.and_then(|k| k.id.as_deref());
        // Who published matters only for an id (a named publisher's name is
        // copied to be a dedup key).
        if let Some((id, who)) = id.and_then(|id| Some((id, self.publisher(from)?))) {
            let now = self.clock.now();
            self.dedup.insert(who, topic, id, now, told);
        }
        if ack {
            let ack = PubAck {
                topic,
                seq: told.seq,
                receivers: told.receivers,
                id,
                duplicate: false,
            };
            self.tell(from, &Notice::PubAck(ack), out);
        }
        let reply = keys.and_then(|k| k.reply.as_deref());
        if let Some(reply) = reply.filter(|_| told.receivers == 0) {
            self.tell(from, &Notice::NoResponders { reply, topic }, out);
        }
    }

    /// Whose ids a publish of `from` is deduplicated among: its name, or
    /// its session.
    fn publisher(&self, from: ConnId) -> Option<Publisher> {
        let s = self.session(from)?;
        Some(match &s.name {
            Some(name) => Publisher::Named(name.as_ref().into()),
            None => Publisher::Session(s.serial),
        })
    }

    /// Tells the recipients that could not be given message `seq` of
    /// `topic` (too large for their protocol, in the forms of `unfit`):
    /// a `GAP` (reason `size`) to those that said `HELLO`, a log line for
    /// the others (front-doors spec, "Values").
    #[cold]
    #[inline(never)]
    fn size_gaps(&mut self, unfit: u64, topic: &str, seq: u64, out: &mut impl Outbox) {
        let gap = Gap {
            topic,
            from: seq,
            to: seq,
            reason: GapReason::Size,
            epoch: &self.config.epoch,
        };
        let mut silent = 0;
        for (i, to) in self.by_form.iter().enumerate() {
            if i >= 64 || unfit & (1 << i) == 0 {
                continue;
            }
            let told: Vec<ConnId> = to
                .iter()
                .map(|r| r.conn)
                .filter(|c| {
                    let v2 = self
                        .sessions
                        .get(c.0)
                        .and_then(Option::as_ref)
                        .is_some_and(|s| s.said_hello);
                    silent += usize::from(!v2);
                    v2
                })
                .collect();
            if !told.is_empty() {
                let form = Form(u8::try_from(i).unwrap_or(u8::MAX));
                out.notify(form, &Notice::Gap(gap), &told);
            }
        }
        if silent > 0 {
            warn!("message {seq} of {topic} is too large for {silent} recipients' protocol, which said no HELLO: not delivered to them");
        }
    }

    /// Hands `delivery` to the subscriptions matching `topic`; returns the
    /// connections it was queued for, and the forms that could not carry it.
    #[inline]
    fn fan_out(
        &mut self,
        from: ConnId,
        topic: TopicId,
        delivery: &Delivery<'_>,
        out: &mut impl Outbox,
    ) -> (usize, u64) {
        self.fan_outs += 1;
        FanOut {
            subs: &mut self.subs,
            sessions: &mut self.sessions,
            by_form: &mut self.by_form,
            grouped: &mut self.grouped,
            stamp: self.fan_outs,
        }
        .run(from, topic, delivery, out)
    }

    /// Whether `body` as the newest message of `topic` keeps the topics'
    /// newest messages, which cannot leave, within the kept-bytes bound
    /// (older history makes room). One addition per publish; the exact check
    /// (which looks the topic up) only runs near the bound.
    #[inline]
    fn check_retained(&self, topic: &str, body: &Body<'_>) -> Result<(), CoreError> {
        let max = self.config.max_retained;
        let new = body.json_len();
        let total = self.topics.newest_bytes();
        if total.saturating_add(new) <= max {
            return Ok(());
        }
        let old = self
            .topics
            .get(topic)
            .map_or(0, |id| self.topics.newest_len(id));
        if (total - old).saturating_add(new) <= max {
            return Ok(());
        }
        Err(CoreError::RetainedLimit { max })
    }

    /// The topic of a publish, created if need be, through the publisher's
    /// last-topic cache.
    #[inline]
    fn publish_topic(&mut self, from: ConnId, topic: &str) -> Result<(TopicId, bool), TopicLimit> {
        let Some(session) = self.sessions.get_mut(from.0).and_then(Option::as_mut) else {
            return self.topics.get_or_create(topic);
        };
        if let Some((last, id)) = &session.last_publish {
            if last == topic && self.topics.contains(*id) {
                return Ok((*id, false));
            }
        }
        let (id, created) = self.topics.get_or_create(topic)?;
        match &mut session.last_publish {
            Some((last, cached)) => {
                last.clear();
                last.push_str(topic);
                *cached = id;
            }
            None => session.last_publish = Some((topic.to_owned(), id)),
        }
        Ok((id, created))
    }
}
