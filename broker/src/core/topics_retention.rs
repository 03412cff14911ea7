//! What the tree keeps of messages, and how it leaves.
//!
//! A message leaves its topic's history when the ring is full, when it is
//! older than the age bound, or when kept bytes pass their bound; in the last
//! two cases the oldest go first, whichever their topic. The age queue
//! (`aged`) lists every kept message by (topic, number) in the order they
//! were accepted, so the oldest is found at its front without a search.
//!
//! A topic's newest message never leaves but for a newer one (it is v1's
//! retained message). When it is met at the queue's front it is taken out and
//! its node marked `requeue`; when a newer message supersedes it, it goes back
//! to the front, where it belongs by age. Entries that left through the ring
//! stay in the queue until met there, or until the queue holds twice as many
//! entries as are kept, when it is compacted: both cost O(1) per message.

use protocol::Body;

use super::{Entry, TopicId, TopicTree};

/// The queue is compacted when it holds more than twice the kept messages
/// plus this.
const COMPACT_SLACK: usize = 1024;

impl TopicTree {
    /// Keeps `body`, accepted at `ts`, as the newest message of `id` and
    /// returns its number (`None` if `id` is gone). The caller has checked
    /// that the topics' newest messages fit the bound with it
    /// ([`TopicTree::newest_bytes`]), so [`TopicTree::make_room`] succeeds.
    #[inline]
    pub fn record(&mut self, id: TopicId, body: &Body<'_>, ts: u64) -> Option<u64> {
        let cap = self.history_cap;
        let node = self.node_mut(id)?;
        let pushed = node.history.push(body, ts, cap);
        let requeue = std::mem::take(&mut node.requeue);
        let new = node.history.newest().map_or(0, Entry::bytes);
        let first = node.history.first().unwrap_or(pushed.seq);
        self.kept_bytes = self.kept_bytes - pushed.dropped.unwrap_or(0) + new;
        match pushed.dropped {
            // The entry that left a full ring is the queue's front whenever
            // this topic's messages are the oldest (one topic, or topics
            // published in turn): taken off here, it never needs compacting.
            Some(_) => {
                while self
                    .aged
                    .front()
                    .is_some_and(|&(t, s)| t == id && s < first)
                {
                    self.aged.pop_front();
                }
            }
            None => self.kept_count += 1,
        }
        self.newest_bytes = self.newest_bytes - pushed.superseded + new;
        if requeue && pushed.seq > 1 {
            self.aged.push_front((id, pushed.seq - 1));
        }
        self.aged.push_back((id, pushed.seq));
        if self.aged.len() > 2 * self.kept_count + COMPACT_SLACK {
            self.compact();
        }
        Some(pushed.seq)
    }

    /// Removes the oldest messages that may leave until kept bytes are at
    /// most `max`; answers whether they are.
    #[inline]
    pub fn make_room(&mut self, max: usize) -> bool {
        self.kept_bytes <= max || self.make_room_slow(max)
    }

    fn make_room_slow(&mut self, max: usize) -> bool {
        while self.kept_bytes > max {
            if !self.drop_oldest(|_| true) {
                return false;
            }
        }
        true
    }

    /// Removes the messages accepted before `cutoff` (milliseconds since the
    /// Unix epoch), but for each topic's newest; returns how many left.
    pub fn expire(&mut self, cutoff: u64) -> usize {
        let mut gone = 0;
        while self.drop_oldest(|e| e.ts < cutoff) {
            gone += 1;
        }
        gone
    }

    /// Removes the oldest kept message that is not its topic's newest, if
    /// `leaves` says it should; answers whether one left.
    fn drop_oldest(&mut self, leaves: impl Fn(&Entry) -> bool) -> bool {
        while let Some(&(id, seq)) = self.aged.front() {
            let node = self
                .slots
                .get_mut(id.slot as usize)
                .filter(|s| s.generation == id.generation)
                .and_then(|s| s.node.as_mut());
            let Some(node) = node else {
                self.aged.pop_front();
                continue;
            };
            let Some(entry) = node.history.get(seq) else {
                self.aged.pop_front();
                continue;
            };
            if !leaves(entry) {
                return false;
            }
            self.aged.pop_front();
            match node.history.remove_oldest(seq) {
                Some(bytes) => {
                    self.kept_bytes -= bytes;
                    self.kept_count -= 1;
                    return true;
                }
                // The newest: it waits outside the queue for a newer one.
                None => node.requeue = true,
            }
        }
        false
    }

    /// Drops the queue's entries for messages no longer kept.
    fn compact(&mut self) {
        let aged = std::mem::take(&mut self.aged);
        self.aged = aged
            .into_iter()
            .filter(|&(id, seq)| self.history(id).and_then(|h| h.get(seq)).is_some())
            .collect();
    }
}

#[cfg(test)]
mod tests {
    use std::borrow::Cow;

    use super::*;

    fn body(text: &str) -> Body<'_> {
        Body::Json {
            text: Cow::Borrowed(text),
            xml_len: None,
        }
    }

    fn kept(t: &TopicTree, topic: &str) -> Vec<u64> {
        let id = t.get(topic).unwrap();
        t.history(id).unwrap().after(0).map(|e| e.seq).collect()
    }

    #[test]
    fn the_bound_takes_the_oldest_of_all_topics_never_a_newest() {
        let mut t = TopicTree::new(100, 10);
        let (a, _) = t.get_or_create("/a").unwrap();
        let (b, _) = t.get_or_create("/b").unwrap();
        t.record(a, &body("11"), 1);
        t.record(b, &body("22"), 2);
        t.record(a, &body("33"), 3);
        t.record(b, &body("44"), 4);
        assert_eq!((t.kept_bytes(), t.newest_bytes()), (8, 4));
        assert!(t.make_room(6));
        assert_eq!((kept(&t, "/a"), kept(&t, "/b")), (vec![2], vec![1, 2]));
        assert!(t.make_room(4));
        assert_eq!((kept(&t, "/a"), kept(&t, "/b")), (vec![2], vec![2]));
        assert!(!t.make_room(3), "newest messages never leave");
        assert_eq!(t.kept_bytes(), 4);
    }

    #[test]
    fn a_newest_met_at_the_front_leaves_first_once_superseded() {
        let mut t = TopicTree::new(100, 10);
        let (a, _) = t.get_or_create("/a").unwrap();
        let (b, _) = t.get_or_create("/b").unwrap();
        t.record(a, &body("1"), 1);
        t.record(b, &body("2"), 2);
        t.record(b, &body("3"), 3);
        assert!(t.make_room(2), "/a's newest set aside, /b's first removed");
        assert_eq!((kept(&t, "/a"), kept(&t, "/b")), (vec![1], vec![2]));
        t.record(a, &body("4"), 4);
        assert!(t.make_room(2));
        assert_eq!((kept(&t, "/a"), kept(&t, "/b")), (vec![2], vec![2]));
    }

    #[test]
    fn age_removes_old_messages_but_each_topic_keeps_its_newest() {
        let mut t = TopicTree::new(100, 10);
        let (a, _) = t.get_or_create("/a").unwrap();
        for ts in 1..=4 {
            t.record(a, &body("1"), ts * 10);
        }
        assert_eq!(t.expire(25), 2);
        assert_eq!(kept(&t, "/a"), [3, 4]);
        assert_eq!(t.expire(1000), 1);
        assert_eq!(kept(&t, "/a"), [4]);
        t.record(a, &body("1"), 2000);
        assert_eq!(t.expire(1000), 1, "the old newest leaves once superseded");
        assert_eq!(kept(&t, "/a"), [5]);
        assert_eq!(t.kept_bytes(), 1);
    }

    #[test]
    fn topics_published_in_turn_keep_the_age_queue_exact() {
        let mut t = TopicTree::new(100, 3);
        let ids: Vec<_> = (0..4)
            .map(|i| t.get_or_create(&format!("/t{i}")).unwrap().0)
            .collect();
        for round in 0..10 {
            for &id in &ids {
                t.record(id, &body("1"), round);
            }
        }
        assert_eq!(t.aged.len(), 4 * 3, "no entry that left stays queued");
    }

    #[test]
    fn the_age_queue_stays_proportional_to_what_is_kept() {
        let mut t = TopicTree::new(100, 2);
        let (a, _) = t.get_or_create("/a").unwrap();
        for ts in 0..10_000 {
            t.record(a, &body("1"), ts);
        }
        assert!(
            t.aged.len() <= 2 * 2 + COMPACT_SLACK + 1,
            "{}",
            t.aged.len()
        );
        assert_eq!(kept(&t, "/a"), [9_999, 10_000]);
    }
}
