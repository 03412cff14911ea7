//! What a client gets back of kept messages: the snapshot a subscription
//! starts with (v1's `LAST_MSG`, or a resume with its gaps) and the answer
//! to `HISTORY`.
//!
//! Both read the tree as it is when the request is handled; the reactor
//! handles nothing else meanwhile, so the next live delivery follows the
//! snapshot with no gap and no duplicate.

use super::command::{Filter, HistoryQuery, Resume};
use super::content_filter::ContentFilter;
use super::content_filters::MessageValue;
use super::delivery::{
    Delivery, DeliveryKind, Form, Gap, GapReason, HistoryPage, Notice, Recipient,
};
use super::history::{Entry, History};
use super::outbox::Outbox;
use super::subs::SubTag;
use super::topics::TopicTree;
use super::ConnId;

/// One client's request for kept messages, with what is remembered of
/// time and numbering.
#[derive(Debug, Clone, Copy)]
pub(super) struct Recall<'a> {
    /// The client.
    pub to: ConnId,
    /// The subscription replayed for (none for a `HISTORY` answer).
    pub tag: SubTag,
    /// The encoding of its notices.
    pub form: Form,
    /// The broker's numbering.
    pub epoch: &'a str,
    /// Messages accepted before this (milliseconds since the Unix epoch)
    /// are expired, though still stored until the next sweep; a topic's
    /// newest never is.
    pub cutoff: u64,
    /// The subscription's content filter: replayed messages pass it too
    /// (v2 §14), and those it rejects are not gaps.
    pub content: Option<&'a ContentFilter>,
    /// The client said `HELLO`: a kept message too large for its protocol
    /// is a `GAP` (reason `size`) rather than nothing.
    pub size_gaps: bool,
}

impl Recall<'_> {
    /// The live (unexpired) kept messages of `history` numbered above `after`.
    fn kept<'h>(&self, history: &'h History, after: u64) -> impl Iterator<Item = &'h Entry> {
        let (cutoff, newest) = (self.cutoff, history.seq());
        history
            .after(after)
            .filter(move |e| e.ts >= cutoff || e.seq == newest)
    }

    /// Replays, for a new subscription with `filter`, the newest message of
    /// every topic it matches (v1), or, for the topics `resume` lists, what
    /// the client missed (v2 §13); topics in sorted order. A pattern's
    /// matches are found under its fixed prefix.
    pub fn subscription(
        &self,
        tree: &TopicTree,
        filter: &Filter<'_>,
        resume: Option<&Resume>,
        out: &mut impl Outbox,
    ) {
        let matching = tree
            .kept_under(filter.fixed_prefix())
            .filter(|(topic, _)| filter.matches(topic));
        for (topic, history) in matching {
            match resume.and_then(|r| Some((r, *r.seen.get(topic)?))) {
                None => {
                    if let Some(newest) = history.newest() {
                        self.send(topic, newest, DeliveryKind::Retained, out);
                    }
                }
                Some((r, seen)) => self.resume(topic, history, r.epoch == self.epoch, seen, out),
            }
        }
    }

    /// Replays one listed topic of a resume: a gap for what is no longer
    /// kept (or for a numbering that ended), then what is.
    fn resume(
        &self,
        topic: &str,
        history: &History,
        same_epoch: bool,
        seen: u64,
        out: &mut impl Outbox,
    ) {
        let after = if same_epoch {
            if seen >= history.seq() {
                return;
            }
            seen
        } else {
            // The old numbering ends at the client's next number; the new
            // one is then accounted for from 1, as if nothing was seen.
            let next = seen.saturating_add(1);
            self.gap(topic, next, next, GapReason::Epoch, out);
            0
        };
        let oldest = self
            .kept(history, after)
            .next()
            .map_or(after + 1, |e| e.seq);
        if oldest > after + 1 {
            self.gap(topic, after + 1, oldest - 1, GapReason::History, out);
        }
        for entry in self.kept(history, after) {
            self.send(topic, entry, DeliveryKind::Resumed, out);
        }
    }

    /// Tells the client that `from..=to` of `topic` will not be delivered.
    fn gap(&self, topic: &str, from: u64, to: u64, reason: GapReason, out: &mut impl Outbox) {
        let gap = Gap {
            topic,
            from,
            to,
            reason,
            epoch: self.epoch,
        };
        out.notify(self.form, &Notice::Gap(gap), &[self.to]);
    }

    /// Answers a `HISTORY` request.
    pub fn history(&self, tree: &TopicTree, q: &HistoryQuery<'_>, out: &mut impl Outbox) {
        let topic = q.topic.topic.as_str();
        let history = tree.get(topic).and_then(|id| tree.history(id));
        let mut items: Vec<&Entry> = Vec::new();
        let (mut seq, mut first) = (0, None);
        if let Some(h) = history {
            items.extend(self.kept(h, q.since));
            if let Some(limit) = q.limit {
                items.drain(..items.len().saturating_sub(limit));
            }
            seq = h.seq();
            first = self.kept(h, 0).next().map(|e| e.seq);
        }
        let page = HistoryPage {
            topic,
            seq,
            first,
            items: &items,
            epoch: self.epoch,
        };
        out.notify(self.form, &Notice::History(page), &[self.to]);
    }

    /// Replays one kept message, if the subscription's filter passes it.
    fn send(&self, topic: &str, entry: &Entry, kind: DeliveryKind, out: &mut impl Outbox) {
        let body = entry.body();
        if let Some(filter) = self.content {
            let mut msg = MessageValue::new(&body, topic, entry.seq);
            if !filter.accepts_lazily(|| msg.value(), topic, entry.seq) {
                return;
            }
        }
        let delivery = Delivery {
            kind,
            topic,
            body: &body,
            seq: entry.seq,
            ts: entry.ts,
            reply: None,
            headers: None,
            publisher: None,
        };
        let to = Recipient {
            conn: self.to,
            tag: self.tag,
        };
        if !out.replay(to, &delivery) && self.size_gaps {
            self.gap(topic, entry.seq, entry.seq, GapReason::Size, out);
        }
    }
}
