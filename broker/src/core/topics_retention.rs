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
//! its node marked with the order it was set aside in; when a newer message
//! supersedes it, it goes to `returned`, by that order. Everything there is
//! older than everything left in the queue (it was at the front), and set
//! aside in the order of acceptance, so `returned` is drained first, in its
//! order. Entries that left through the ring stay in the queue until met
//! there, or until the queue holds twice as many entries as are kept, when it
//! is compacted: both cost O(1) per message.

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
        if node.inbox {
            return Some(node.history.advance());
        }
        let pushed = node.history.push(body, ts, cap);
        let set_aside = node.set_aside.take();
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
        if let Some(order) = set_aside {
            self.returned.insert(order, (id, pushed.seq - 1));
        }
        self.aged.push_back((id, pushed.seq));
        if self.aged.len() > 2 * self.kept_count + COMPACT_SLACK {
            self.compact();
        }
        Some(pushed.seq)
    }

    /// Keeps `body` as message `seq` of `id`, read back from the store:
    /// numbering goes on from the log's number. A number already kept or
    /// passed is a repeat (a compaction's copy) and is skipped; after a
    /// hole (a damaged log was cut) the ring starts over. Answers whether
    /// it was kept.
    pub fn restore(&mut self, id: TopicId, seq: u64, ts: u64, body: &Body<'_>) -> bool {
        let Some(node) = self.node_mut(id) else {
            return false;
        };
        let last = node.history.seq();
        if seq <= last {
            return false;
        }
        if seq > last + 1 {
            let (bytes, count, newest) = node.history.restart_after(seq - 1);
            node.set_aside = None;
            self.kept_bytes -= bytes;
            self.kept_count -= count;
            self.newest_bytes -= newest;
        }
        self.record(id, body, ts).is_some()
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

    /// The oldest queued message: the first returned one, else the age
    /// queue's front.
    fn oldest_queued(&self) -> Option<(TopicId, u64)> {
        match self.returned.first_key_value() {
            Some((_, &found)) => Some(found),
            None => self.aged.front().copied(),
        }
    }

    /// Takes [`TopicTree::oldest_queued`] off its queue.
    fn pop_oldest_queued(&mut self) {
        if self.returned.pop_first().is_none() {
            self.aged.pop_front();
        }
    }

    /// Removes the oldest kept message that is not its topic's newest, if
    /// `leaves` says it should; answers whether one left.
    fn drop_oldest(&mut self, leaves: impl Fn(&Entry) -> bool) -> bool {
        while let Some((id, seq)) = self.oldest_queued() {
            let node = self
                .slots
                .get_mut(id.slot as usize)
                .filter(|s| s.generation == id.generation)
                .and_then(|s| s.node.as_mut());
            let Some(entry) = node.as_ref().and_then(|n| n.history.get(seq)) else {
                self.pop_oldest_queued();
                continue;
            };
            if !leaves(entry) {
                return false;
            }
            self.pop_oldest_queued();
            let Some(node) = self
                .slots
                .get_mut(id.slot as usize)
                .and_then(|s| s.node.as_mut())
            else {
                continue;
            };
            match node.history.remove_oldest(seq) {
                Some(bytes) => {
                    self.kept_bytes -= bytes;
                    self.kept_count -= 1;
                    return true;
                }
                // The newest: it waits aside for a newer one.
                None => {
                    self.set_asides += 1;
                    node.set_aside = Some(self.set_asides);
                }
            }
        }
        false
    }

    /// Drops the queue's entries for messages no longer kept.
    fn compact(&mut self) {
        let kept = |t: &TopicTree, (id, seq): (TopicId, u64)| {
            t.history(id).and_then(|h| h.get(seq)).is_some()
        };
        let aged = std::mem::take(&mut self.aged);
        self.aged = aged.into_iter().filter(|&e| kept(self, e)).collect();
        let returned = std::mem::take(&mut self.returned);
        self.returned = returned
            .into_iter()
            .filter(|&(_, e)| kept(self, e))
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
    fn newest_messages_set_aside_leave_in_the_order_they_were_accepted() {
        let max = 10;
        let mut t = TopicTree::new(100, 100);
        let publish = |t: &mut TopicTree, topic: &str, v: &str| {
            let (id, _) = t.get_or_create(topic).unwrap();
            t.record(id, &body(v), 1);
            assert!(t.make_room(max));
        };
        publish(&mut t, "/a", "1");
        publish(&mut t, "/b", "2");
        publish(&mut t, "/c", "\"xxxxxx\"");
        publish(&mut t, "/c", "3"); // /a #1 and /b #1 set aside; /c #1 leaves
        publish(&mut t, "/a", "4"); // /a #1 returns
        publish(&mut t, "/b", "5"); // /b #1 returns, after /a #1 by age
        publish(&mut t, "/d", "\"xxxx\""); // one byte over: /a #1 leaves
        assert_eq!((kept(&t, "/a"), kept(&t, "/b")), (vec![2], vec![1, 2]));
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
