//! [`Dedup`]: the publish ids each client used on each topic within the
//! deduplication window (v2 §15), with the answer each one got.
//!
//! A retry under the same id is answered with the first `PUBACK` and not
//! stored or delivered again: with a publisher that retries until it gets a
//! `PUBACK`, each message is accepted exactly once. The window is counted
//! from an id's first use; ids leave in that order, so expiry pops the front
//! of a queue. The number of ids is bounded too: past it the oldest leave
//! early (the window shrinks under load) and the broker logs it.

use std::collections::VecDeque;
use std::sync::Arc;

use foldhash::{HashMap, HashMapExt};
use log::warn;

/// Who published: a named client (all its connections share its window) or
/// one unnamed connection (by its session's serial number, never reused).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Publisher {
    /// A client that said its name in `HELLO`.
    Named(Box<str>),
    /// An unnamed connection's session.
    Session(u64),
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct Key {
    who: Publisher,
    topic: Box<str>,
    id: Box<str>,
}

/// What the first publish under an id was answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FirstAck {
    /// Its number on its topic.
    pub seq: u64,
    /// Connections it was queued for.
    pub receivers: u64,
}

/// The ids in the window; see the module docs.
#[derive(Debug)]
pub struct Dedup {
    window_ms: u64,
    max: usize,
    seen: HashMap<Arc<Key>, FirstAck>,
    /// Every id in `seen`, with when it was first used, oldest first.
    order: VecDeque<(Arc<Key>, u64)>,
    /// Ids that left before their window ended, since the last warning.
    evicted: u64,
}

impl Dedup {
    /// A window of `window_ms` milliseconds holding at most `max` ids.
    #[must_use]
    pub fn new(window_ms: u64, max: usize) -> Self {
        Dedup {
            window_ms,
            max: max.max(1),
            seen: HashMap::new(),
            order: VecDeque::new(),
            evicted: 0,
        }
    }

    /// Forgets the ids whose window has ended by `now`.
    pub fn expire(&mut self, now: u64) {
        while let Some((key, first)) = self.order.front() {
            if first.saturating_add(self.window_ms) > now {
                break;
            }
            self.seen.remove(key);
            self.order.pop_front();
        }
        if self.evicted > 0 {
            warn!(
                "deduplication: {} ids left before their window ended (the bound is {} ids)",
                self.evicted, self.max
            );
            self.evicted = 0;
        }
    }

    /// The first answer to `id` from `who` on `topic`, if it is in the window.
    #[must_use]
    pub fn get(&self, who: &Publisher, topic: &str, id: &str) -> Option<FirstAck> {
        let key = Key {
            who: who.clone(),
            topic: topic.into(),
            id: id.into(),
        };
        self.seen.get(&key).copied()
    }

    /// Notes `id`'s first use, at `now`, and its answer.
    pub fn insert(&mut self, who: Publisher, topic: &str, id: &str, now: u64, ack: FirstAck) {
        self.expire(now);
        while self.seen.len() >= self.max {
            let Some((oldest, _)) = self.order.pop_front() else {
                break;
            };
            self.seen.remove(&oldest);
            self.evicted += 1;
        }
        let key = Arc::new(Key {
            who,
            topic: topic.into(),
            id: id.into(),
        });
        if self.seen.insert(Arc::clone(&key), ack).is_none() {
            self.order.push_back((key, now));
        }
    }

    /// Every id in the window, oldest first: who used it, on which topic,
    /// when, and its first answer.
    pub fn entries(&self) -> impl Iterator<Item = (&Publisher, &str, &str, u64, FirstAck)> + '_ {
        self.order.iter().filter_map(|(key, at)| {
            let ack = self.seen.get(key)?;
            Some((&key.who, &*key.topic, &*key.id, *at, *ack))
        })
    }

    /// Ids in the window.
    #[must_use]
    pub fn len(&self) -> usize {
        self.seen.len()
    }

    /// Whether there are none.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.seen.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ACK: FirstAck = FirstAck {
        seq: 7,
        receivers: 2,
    };

    #[test]
    fn an_id_is_remembered_per_publisher_and_topic_for_the_window() {
        let mut d = Dedup::new(1000, 10);
        let alice = Publisher::Named("alice".into());
        d.insert(alice.clone(), "/t", "m1", 0, ACK);
        assert_eq!(d.get(&alice, "/t", "m1"), Some(ACK));
        assert_eq!(d.get(&alice, "/u", "m1"), None, "another topic");
        assert_eq!(
            d.get(&Publisher::Session(1), "/t", "m1"),
            None,
            "another publisher"
        );
        d.expire(999);
        assert_eq!(d.get(&alice, "/t", "m1"), Some(ACK));
        d.expire(1000);
        assert_eq!(d.get(&alice, "/t", "m1"), None, "the window ended");
        assert!(d.is_empty());
    }

    #[test]
    fn past_the_bound_the_oldest_ids_leave_first() {
        let mut d = Dedup::new(1000, 2);
        let who = Publisher::Session(3);
        for (i, id) in ["a", "b", "c"].into_iter().enumerate() {
            d.insert(who.clone(), "/t", id, i as u64, ACK);
        }
        assert_eq!(d.len(), 2);
        assert_eq!(d.get(&who, "/t", "a"), None);
        assert_eq!(d.get(&who, "/t", "c"), Some(ACK));
    }
}
