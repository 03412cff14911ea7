//! The router and the durable store: the records of what a loop turn
//! accepted (the journal the reactor hands the store's writer), the state
//! rebuilt from those records at start, and the copy of every live record
//! a compaction makes.
//!
//! A compaction copies live records forward a slice per loop turn, topic by
//! topic in byte order, so no turn stalls on it. A topic published before
//! the copy reached it is copied whole at that moment, just before its new
//! message: on disk each topic's records stay in number order, and the
//! later copy's repeats are skipped at recovery.
//!
//! Only named clients' publish ids are kept: an unnamed client's ids are
//! scoped to its connection (v2 §15), which a restart ends. Reply inboxes
//! are never kept, so never written.

use foldhash::HashSet;
use log::warn;
use protocol::Body;

use super::Router;
use crate::core::dedup::{FirstAck, Publisher};
use crate::core::history::History;
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
        match &mut self.compaction {
            // Not copied yet: the whole ring, the new message last.
            Some(c) if c.ahead(path) => {
                c.early.insert(path.into());
                let since = c.resume_after(path);
                let before = journal.bytes().len();
                if let Some(history) = self.topics.history(topic) {
                    copy_ring(journal, path, history, since, usize::MAX);
                }
                c.copied += (journal.bytes().len() - before) as u64;
            }
            _ => journal.push(&Record::Message {
                topic: path,
                seq: first.seq,
                ts,
                value: newest.text(),
            }),
        }
        let name = self
            .sessions
            .get(from.0)
            .and_then(Option::as_ref)
            .and_then(|s| s.name.as_deref());
        if let (Some(id), Some(name)) = (id, name) {
            journal.push(&Record::PublishId {
                publisher: name,
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

    /// Starts copying every live record into the journal, a slice per
    /// [`Router::compact_step`]; the store has started a new segment.
    pub fn start_compaction(&mut self) {
        self.compaction = Some(Compaction::default());
    }

    /// Whether a compaction's copy is under way.
    #[must_use]
    pub fn compacting(&self) -> bool {
        self.compaction.is_some()
    }

    /// Copies the next topics' kept messages into the journal, about
    /// `budget` bytes; once every topic is copied, the named clients'
    /// publish ids in the window too, and answers the bytes copied in all.
    pub fn compact_step(&mut self, budget: usize) -> Option<u64> {
        let Router {
            topics,
            journal,
            compaction,
            dedup,
            ..
        } = self;
        let (Some(c), Some(journal)) = (compaction.as_mut(), journal.as_mut()) else {
            return None;
        };
        let start = journal.bytes().len();
        let from = c.after.take();
        let (mut last, mut more) = (None, false);
        for path in topics.topics_after(from.as_deref()) {
            let room = budget.saturating_sub(journal.bytes().len() - start);
            if room == 0 {
                more = true;
                break;
            }
            let history = topics.get(path).and_then(|id| topics.history(id));
            if let (Some(history), false) = (history, c.early.contains(path)) {
                let since = c.resume_after(path);
                if let Some(upto) = copy_ring(journal, path, history, since, room) {
                    // A long ring: the rest in the next slices.
                    c.partial = Some((path.to_owned(), upto));
                    more = true;
                    break;
                }
            }
            last = Some(path);
        }
        c.after = last.map(str::to_owned).or(from);
        c.copied += (journal.bytes().len() - start) as u64;
        if more {
            return None;
        }
        let before = journal.bytes().len();
        for (who, topic, id, ts, first) in dedup.entries() {
            if let Publisher::Named(name) = who {
                journal.push(&Record::PublishId {
                    publisher: name,
                    topic,
                    id,
                    seq: first.seq,
                    receivers: first.receivers,
                    ts,
                });
            }
        }
        let copied = c.copied + (journal.bytes().len() - before) as u64;
        *compaction = None;
        Some(copied)
    }
}

/// How far a compaction's copy went.
#[derive(Debug, Default)]
pub(super) struct Compaction {
    /// The last topic copied (byte order); none yet when `None`.
    after: Option<String>,
    /// Bytes of records copied.
    copied: u64,
    /// Topics past the cursor copied already, when they were published.
    early: HashSet<Box<str>>,
    /// The topic after the cursor whose ring is copied in part, and the
    /// last number copied.
    partial: Option<(String, u64)>,
}

impl Compaction {
    /// Where the copy of `topic`'s ring goes on from: after the number
    /// copied last, when a slice stopped inside it (then the rest is
    /// copied now, and nothing more remains to resume); else from the
    /// start.
    fn resume_after(&mut self, topic: &str) -> u64 {
        match self.partial.take() {
            Some((t, upto)) if t == topic => upto,
            other => {
                self.partial = other;
                0
            }
        }
    }

    /// Whether `topic` is still to be copied.
    fn ahead(&self, topic: &str) -> bool {
        self.after.as_deref().is_none_or(|after| topic > after) && !self.early.contains(topic)
    }
}

/// Writes a topic's kept messages numbered after `since`, oldest first,
/// until about `budget` bytes are written; answers the last number written
/// when it stopped before the newest.
fn copy_ring(
    journal: &mut Batch,
    topic: &str,
    history: &History,
    since: u64,
    budget: usize,
) -> Option<u64> {
    let start = journal.bytes().len();
    let mut last = None;
    for entry in history.after(since) {
        if journal.bytes().len() - start >= budget {
            return last;
        }
        journal.push(&Record::Message {
            topic,
            seq: entry.seq,
            ts: entry.ts,
            value: entry.text(),
        });
        last = Some(entry.seq);
    }
    None
}
