//! [`SubscriptionIndex`]: every subscription, apart from topics.
//!
//! A subscription is a connection, the door's own name for it ([`SubTag`])
//! and a [`Filter`]. The index finds the subscriptions matching a topic
//! through the [`FilterTrie`], and keeps the answer per topic in a match
//! cache stamped with the index's generation, which every subscribe and
//! cancel bumps (as nats-server's sublist does): a publisher that repeats
//! its topic pays one hash lookup, however many filters exist.

use foldhash::{HashMap, HashMapExt};
use slab::Slab;

use super::command::Filter;
use super::delivery::Recipient;
use super::topics::TopicId;
use super::trie::FilterTrie;
use super::ConnId;

/// A door's own name for a subscription, carried back with each delivery
/// through it (a NATS `sid`, once parsed). Doors that name subscriptions by
/// their filter alone use [`SubTag::NONE`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SubTag(pub u64);

impl SubTag {
    /// No tag: the filter names the subscription.
    pub const NONE: SubTag = SubTag(0);
}

/// A subscription's slot in the index.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SubId(pub(crate) usize);

/// One subscription.
#[derive(Debug, Clone, PartialEq)]
pub struct Subscription {
    /// Whose it is.
    pub conn: ConnId,
    /// The door's name for it.
    pub tag: SubTag,
    /// What it matches.
    pub filter: Filter<'static>,
}

/// Most topics whose matches are cached; past it the cache starts over, so
/// publishing to ever new topics cannot grow it without end.
const CACHE_MAX: usize = 4096;

#[derive(Debug)]
struct Cached {
    /// The index generation the list was computed at.
    generation: u64,
    recipients: Vec<Recipient>,
}

/// All subscriptions; see the module docs.
#[derive(Debug)]
pub struct SubscriptionIndex {
    subs: Slab<Subscription>,
    trie: FilterTrie,
    /// Bumped by every change, so cached matches know they are stale.
    generation: u64,
    cache: HashMap<TopicId, Cached>,
}

impl Default for SubscriptionIndex {
    fn default() -> Self {
        SubscriptionIndex {
            subs: Slab::new(),
            trie: FilterTrie::default(),
            generation: 0,
            cache: HashMap::new(),
        }
    }
}

impl SubscriptionIndex {
    /// Adds a subscription.
    pub fn insert(&mut self, conn: ConnId, tag: SubTag, filter: Filter<'static>) -> SubId {
        let entry = self.subs.vacant_entry();
        let id = SubId(entry.key());
        self.trie.insert(&filter, id);
        entry.insert(Subscription { conn, tag, filter });
        self.generation += 1;
        id
    }

    /// Removes a subscription, returning it (`None` if `id` is not one).
    pub fn remove(&mut self, id: SubId) -> Option<Subscription> {
        let sub = self.subs.try_remove(id.0)?;
        self.trie.remove(&sub.filter, id);
        self.generation += 1;
        Some(sub)
    }

    /// The subscription in slot `id`.
    #[must_use]
    pub fn get(&self, id: SubId) -> Option<&Subscription> {
        self.subs.get(id.0)
    }

    /// Number of subscriptions.
    #[must_use]
    pub fn len(&self) -> usize {
        self.subs.len()
    }

    /// Whether there are none.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.subs.is_empty()
    }

    /// Nodes of the filter trie in use, its root included.
    #[must_use]
    pub fn trie_nodes(&self) -> usize {
        self.trie.node_count()
    }

    /// The subscriptions matching `path` (the normalized path of `topic`),
    /// one entry per subscription, from the cache when it is current.
    pub fn matching(&mut self, topic: TopicId, path: &str) -> &[Recipient] {
        if self.cache.len() >= CACHE_MAX && !self.cache.contains_key(&topic) {
            self.cache.clear();
        }
        let (trie, subs, generation) = (&self.trie, &self.subs, self.generation);
        let cached = self.cache.entry(topic).or_insert_with(|| Cached {
            generation: generation.wrapping_sub(1),
            recipients: Vec::new(),
        });
        if cached.generation != generation {
            cached.recipients.clear();
            trie.for_each_match(path, |id| {
                if let Some(s) = subs.get(id.0) {
                    cached.recipients.push(Recipient {
                        conn: s.conn,
                        tag: s.tag,
                    });
                }
            });
            cached.generation = generation;
        }
        &cached.recipients
    }
}

#[cfg(test)]
mod tests {
    use protocol::Topic;

    use super::*;
    use crate::core::TopicTree;

    fn subtree(t: &str) -> Filter<'static> {
        Filter::Subtree(Topic::parse(t).unwrap().into_owned())
    }

    fn conns(index: &mut SubscriptionIndex, topic: TopicId, path: &str) -> Vec<usize> {
        let mut got: Vec<_> = index
            .matching(topic, path)
            .iter()
            .map(|r| r.conn.0)
            .collect();
        got.sort_unstable();
        got
    }

    #[test]
    fn matches_follow_every_subscribe_and_cancel() {
        let mut topics = TopicTree::default();
        let (ab, _) = topics.get_or_create("/a/b").unwrap();
        let mut index = SubscriptionIndex::default();
        let root = index.insert(ConnId(1), SubTag::NONE, subtree("/"));
        assert_eq!(conns(&mut index, ab, "/a/b"), [1]);
        let a = index.insert(ConnId(2), SubTag(7), subtree("/a"));
        assert_eq!(
            conns(&mut index, ab, "/a/b"),
            [1, 2],
            "a subscribe invalidates"
        );
        index.insert(ConnId(3), SubTag::NONE, subtree("/a/b/c"));
        assert_eq!(
            conns(&mut index, ab, "/a/b"),
            [1, 2],
            "deeper filters do not match"
        );
        assert_eq!(index.remove(a).map(|s| s.tag), Some(SubTag(7)));
        assert_eq!(conns(&mut index, ab, "/a/b"), [1], "a cancel invalidates");
        assert!(index.remove(a).is_none(), "removed once");
        index.remove(root);
        assert!(conns(&mut index, ab, "/a/b").is_empty());
        assert_eq!(index.len(), 1);
    }

    #[test]
    fn cached_matches_are_per_topic_and_per_subscription() {
        let mut topics = TopicTree::default();
        let (x, _) = topics.get_or_create("/x").unwrap();
        let (y, _) = topics.get_or_create("/y").unwrap();
        let mut index = SubscriptionIndex::default();
        index.insert(ConnId(1), SubTag(1), subtree("/x"));
        index.insert(ConnId(1), SubTag(2), subtree("/"));
        let tags: Vec<_> = index.matching(x, "/x").iter().map(|r| r.tag.0).collect();
        assert_eq!(tags.len(), 2, "one entry per subscription: {tags:?}");
        assert_eq!(conns(&mut index, y, "/y"), [1]);
        assert_eq!(conns(&mut index, x, "/x"), [1, 1], "/x kept its own entry");
    }

    #[test]
    fn the_cache_is_bounded_and_starts_over() {
        let mut topics = TopicTree::default();
        let mut index = SubscriptionIndex::default();
        index.insert(ConnId(1), SubTag::NONE, subtree("/"));
        for i in 0..CACHE_MAX + 10 {
            let path = format!("/t{i}");
            let (id, _) = topics.get_or_create(&path).unwrap();
            assert_eq!(conns(&mut index, id, &path), [1]);
            assert!(index.cache.len() <= CACHE_MAX);
        }
    }
}
