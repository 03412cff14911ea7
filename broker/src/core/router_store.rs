//! The router and the durable store: the records of what a loop turn
//! accepted (the journal the reactor hands the store's writer), the state
//! rebuilt from those records at start, and every live record at once for
//! a compaction.
//!
//! Only named clients' publish ids are kept: an unnamed client's ids are
//! scoped to its connection (v2 §15), which a restart ends. Reply inboxes
//! are never kept, so never written.

use log::warn;
use protocol::Body;

use super::Router;
use crate::core::dedup::{FirstAck, Publisher};
use crate::core::inboxes::is_inbox;
use crate::core::topics::TopicId;
use crate::core::ConnId;
use crate::store::{Batch, Record};

impl Router {
    /// Starts writing a journal of accepted messages (a durable store is
    /// in use); [`Router::take_journal`] takes it each loop turn.
    pub fn keep_journal(&mut self) {
        self.journal.get_or_insert_with(Batch::default);
    }

    /// The records accepted since the last call, if any.
    pub fn take_journal(&mut self) -> Option<Batch> {
        let journal = self.journal.as_mut()?;
        (!journal.is_empty()).then(|| journal.take())
    }

    /// Whether records accepted in this loop turn wait to be handed over.
    #[must_use]
    pub fn journal_pending(&self) -> bool {
        self.journal.as_ref().is_some_and(|j| !j.is_empty())
    }

    /// The store can or cannot write: while it cannot, publishes get an
    /// `ERROR` (nothing is accepted that could not be kept).
    pub fn set_storage_failing(&mut self, failing: bool) {
        self.storage_failing = failing;
    }

    /// Lowers (or restores) the kept-bytes bound, so the store's live
    /// records fit its disk bound: the oldest history leaves at once, and a
    /// publish whose topic's newest messages would not fit is refused, as
    /// with the retained-bytes bound.
    pub fn set_kept_bound(&mut self, max: usize) {
        self.config.max_retained = max;
        self.topics.make_room(max);
    }

    /// The bytes of JSON text kept (what the kept-bytes bound counts).
    #[must_use]
    pub fn kept_bytes(&self) -> usize {
        self.topics.kept_bytes()
    }

    /// Names the numbering's lifetime: the store's, when it could be kept.
    pub fn set_epoch(&mut self, epoch: String) {
        self.config.epoch = epoch;
    }

    /// Writes the message just kept as the newest of `topic`, and its
    /// publish id when a named client gave one, to the journal.
    pub(super) fn journal_publish(
        &mut self,
        from: ConnId,
        topic: TopicId,
        id: Option<&str>,
        ts: u64,
        first: FirstAck,
    ) {
        let (Some(journal), Some(path), Some(newest)) = (
            self.journal.as_mut(),
            self.topics.path(topic),
            self.topics.history(topic).and_then(|h| h.newest()),
        ) else {
            return;
        };
        journal.push(&Record::Message {
            topic: path,
            seq: first.seq,
            ts,
            value: newest.text(),
        });
        let name = self
            .sessions
            .get(from.0)
            .and_then(Option::as_ref)
            .and_then(|s| s.name.as_ref());
        if let (Some(id), Some(name)) = (id, name) {
            journal.push(&Record::PublishId {
                publisher: name.as_str(),
                topic: path,
                id,
                seq: first.seq,
                receivers: first.receivers,
                ts,
            });
        }
    }

    /// Applies one record read back from the store at start.
    pub fn restore(&mut self, record: &Record<'_>) {
        match *record {
            Record::Message {
                topic,
                seq,
                ts,
                value,
            } => {
                if is_inbox(topic) {
                    return;
                }
                let id = match self.topics.get_or_create(topic) {
                    Ok((id, _)) => id,
                    Err(e) => {
                        warn!("store: {topic} not restored: {e}");
                        return;
                    }
                };
                let body = Body::Json {
                    text: value.into(),
                    xml_len: None,
                };
                if self.topics.restore(id, seq, ts, &body) {
                    self.topics.make_room(self.config.max_retained);
                }
            }
            Record::PublishId {
                publisher,
                topic,
                id,
                seq,
                receivers,
                ts,
            } => {
                let who = Publisher::Named(publisher.into());
                if self.dedup.get(&who, topic, id).is_none() {
                    self.dedup
                        .insert(who, topic, id, ts, FirstAck { seq, receivers });
                }
            }
            Record::Close => {}
        }
    }

    /// Every live record: each topic's kept messages, oldest first, and
    /// the named clients' publish ids in the window. A compaction writes
    /// them to a new segment so the older ones can go.
    #[must_use]
    pub fn snapshot(&self) -> Batch {
        let mut batch = Batch::default();
        for (topic, history) in self.topics.kept_under("/") {
            for entry in history.after(0) {
                batch.push(&Record::Message {
                    topic,
                    seq: entry.seq,
                    ts: entry.ts,
                    value: entry.text(),
                });
            }
        }
        for (who, topic, id, ts, first) in self.dedup.entries() {
            if let Publisher::Named(name) = who {
                batch.push(&Record::PublishId {
                    publisher: name,
                    topic,
                    id,
                    seq: first.seq,
                    receivers: first.receivers,
                    ts,
                });
            }
        }
        batch
    }
}
