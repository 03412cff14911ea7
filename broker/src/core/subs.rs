//! [`SubscriptionIndex`]: every subscription, apart from topics.
//!
//! A subscription is a connection, the door's own name for it ([`SubTag`])
//! and a [`Filter`]. The index finds the subscriptions matching a topic
//! through the [`FilterTrie`], and keeps the answer per topic in a match
//! cache stamped with the index's generation, which every subscribe and
//! cancel bumps (as nats-server's sublist does): a publisher that repeats
//! its topic pays one hash lookup, however many filters exist.
//!
//! Redis glob subscriptions are tried only when a topic's matches are
//! computed, that is once per topic per index generation, and only for the
//! topics under the glob's literal segments: a publish that hits the cache
//! tries no glob at all (redis-server tries every pattern at every
//! publish). The index also counts Redis channel and glob subscriptions,
//! for `PUBSUB`.

use foldhash::{HashMap, HashMapExt};
use slab::Slab;

use super::command::Filter;
use super::content_filters::{ContentFilters, FilterId};
use super::delivery::Recipient;
use super::groups::{GroupId, Groups};
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
    /// Its queue group, if it is in one.
    pub group: Option<GroupId>,
    /// Its content filter, if it has one.
    pub content: Option<FilterId>,
}

/// A queue-group member among a topic's matches.
#[derive(Debug, Clone, Copy)]
pub struct Member {
    /// Its group.
    pub group: GroupId,
    /// Its content filter: a member whose filter rejects a message is no
    /// candidate for it.
    pub content: Option<FilterId>,
    /// Where it delivers.
    pub to: Recipient,
}

/// Most topics whose matches are cached; past it the cache starts over, so
/// publishing to ever new topics cannot grow it without end.
const CACHE_MAX: usize = 4096;

#[derive(Debug)]
struct Cached {
    topic: TopicId,
    /// The index generation the list was computed at.
    generation: u64,
    recipients: Vec<Recipient>,
    /// Matching subscriptions with a content filter, outside groups.
    filtered: Vec<(FilterId, Recipient)>,
    /// Matching queue-group members, apart: a fan-out picks among them.
    grouped: Vec<Member>,
}

/// What matches a topic: plain subscriptions, filtered ones, and
/// queue-group members to pick from.
#[derive(Debug, Clone, Copy)]
pub struct Matches<'a> {
    /// Each gets the message.
    pub plain: &'a [Recipient],
    /// Each gets the message if its filter passes it.
    pub filtered: &'a [(FilterId, Recipient)],
    /// One member per group gets it.
    pub grouped: &'a [Member],
    /// The filters the ids above name.
    pub filters: &'a ContentFilters,
}

/// Where a topic's matches were last found in the cache: a publisher keeps
/// one, so repeating its topic skips the cache's hash lookup. Any value is
/// safe; a wrong one only costs that lookup.
#[derive(Debug, Clone, Copy, Default)]
pub struct CacheHint(usize);

/// All subscriptions; see the module docs.
#[derive(Debug)]
pub struct SubscriptionIndex {
    /// Queue groups, by name and filter text.
    groups: Groups,
    /// Content filters, one per distinct expression.
    filters: ContentFilters,
    subs: Slab<Subscription>,
    trie: FilterTrie,
    /// Bumped by every change, so cached matches know they are stale.
    generation: u64,
    cache: Vec<Cached>,
    /// The cache slot of each topic in it.
    cached_topics: HashMap<TopicId, usize>,
    /// Redis channel subscriptions per topic (`PUBSUB CHANNELS`, `NUMSUB`).
    channels: HashMap<Box<str>, u32>,
    /// Redis glob subscriptions per pattern (`PUBSUB NUMPAT`).
    globs: HashMap<Box<str>, u32>,
    /// Subscriptions by a hash of (connection, tag, filter text), so that a
    /// repeated SUBSCRIBE is found without scanning the connection's others
    /// (10,000 of them took 0.13 s of the reactor's time as a scan).
    by_key: HashMap<u64, Vec<SubId>>,
}

impl Default for SubscriptionIndex {
    fn default() -> Self {
        SubscriptionIndex {
            groups: Groups::default(),
            filters: ContentFilters::default(),
            subs: Slab::new(),
            trie: FilterTrie::default(),
            generation: 0,
            cache: Vec::new(),
            cached_topics: HashMap::new(),
            channels: HashMap::new(),
            globs: HashMap::new(),
            by_key: HashMap::new(),
        }
    }
}

/// Counts one more (`add`) or one less subscription under `key`.
fn count(map: &mut HashMap<Box<str>, u32>, key: &str, add: bool) {
    if add {
        *map.entry(key.into()).or_default() += 1;
    } else if let Some(n) = map.get_mut(key) {
        *n -= 1;
        if *n == 0 {
            map.remove(key);
        }
    }
}

/// The `by_key` hash of a subscription.
fn key(conn: ConnId, tag: SubTag, filter: &Filter<'_>) -> u64 {
    use std::hash::BuildHasher;
    foldhash::fast::FixedState::default().hash_one((conn, tag, filter.text()))
}

impl SubscriptionIndex {
    /// The subscription of `conn` with `tag` and `filter`, if it holds one.
    #[must_use]
    pub fn find(&self, conn: ConnId, tag: SubTag, filter: &Filter<'_>) -> Option<SubId> {
        let candidates = self.by_key.get(&key(conn, tag, filter))?;
        candidates.iter().copied().find(|id| {
            self.subs
                .get(id.0)
                .is_some_and(|s| s.conn == conn && s.tag == tag && s.filter == *filter)
        })
    }

    /// Adds a subscription; `content` is a filter from
    /// [`Self::filters_mut`], which the subscription now holds.
    pub fn insert(
        &mut self,
        conn: ConnId,
        tag: SubTag,
        filter: Filter<'static>,
        group: Option<&str>,
        content: Option<FilterId>,
    ) -> SubId {
        let group = group.map(|name| self.groups.join(name, filter.text()));
        self.count(&filter, true);
        let entry = self.subs.vacant_entry();
        let id = SubId(entry.key());
        self.trie.insert(&filter, id);
        self.by_key
            .entry(key(conn, tag, &filter))
            .or_default()
            .push(id);
        entry.insert(Subscription {
            conn,
            tag,
            filter,
            group,
            content,
        });
        self.generation += 1;
        id
    }

    /// Removes a subscription, returning it (`None` if `id` is not one).
    pub fn remove(&mut self, id: SubId) -> Option<Subscription> {
        let sub = self.subs.try_remove(id.0)?;
        self.trie.remove(&sub.filter, id);
        let k = key(sub.conn, sub.tag, &sub.filter);
        if let Some(ids) = self.by_key.get_mut(&k) {
            ids.retain(|&other| other != id);
            if ids.is_empty() {
                self.by_key.remove(&k);
            }
        }
        self.count(&sub.filter, false);
        if let Some(g) = sub.group {
            self.groups.leave(g);
        }
        if let Some(f) = sub.content {
            self.filters.release(f);
        }
        self.generation += 1;
        Some(sub)
    }

    fn count(&mut self, filter: &Filter<'_>, add: bool) {
        match filter {
            Filter::Channel(t) => count(&mut self.channels, t.as_str(), add),
            Filter::Glob(g) => count(&mut self.globs, g.as_str(), add),
            _ => {}
        }
    }

    /// The topics with Redis channel subscriptions, in no order.
    pub fn channels(&self) -> impl Iterator<Item = &str> {
        self.channels.keys().map(|k| &**k)
    }

    /// How many Redis channel subscriptions `topic` has.
    #[must_use]
    pub fn channel_subscribers(&self, topic: &str) -> u32 {
        self.channels.get(topic).copied().unwrap_or(0)
    }

    /// How many distinct Redis glob patterns are subscribed to.
    #[must_use]
    pub fn glob_patterns(&self) -> usize {
        self.globs.len()
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

    /// How many subscriptions match `path`, counted by a walk of the filter
    /// trie that leaves the match cache alone (monitoring).
    #[must_use]
    pub fn count_matching(&self, path: &str) -> usize {
        let mut n = 0;
        self.trie.for_each_match(path, |_| n += 1);
        n
    }

    /// The queue groups, to take turns in.
    pub fn groups_mut(&mut self) -> &mut Groups {
        &mut self.groups
    }

    /// The content filters, to compile one for a new subscription.
    pub fn filters_mut(&mut self) -> &mut ContentFilters {
        &mut self.filters
    }

    /// The content filters.
    #[must_use]
    pub fn filters(&self) -> &ContentFilters {
        &self.filters
    }

    /// The subscriptions matching `path` (the normalized path of `topic`),
    /// one entry per subscription, from the cache when it is current.
    /// `hint` is where the caller last found this topic, updated.
    #[inline]
    pub fn matching(&mut self, topic: TopicId, path: &str, hint: &mut CacheHint) -> Matches<'_> {
        let slot = match self.cache.get(hint.0) {
            Some(c) if c.topic == topic => hint.0,
            _ => {
                hint.0 = self.cache_slot(topic);
                hint.0
            }
        };
        let (trie, subs, generation) = (&self.trie, &self.subs, self.generation);
        let cached = &mut self.cache[slot];
        if cached.generation != generation {
            cached.recipients.clear();
            cached.filtered.clear();
            cached.grouped.clear();
            let channel = path.strip_prefix('/').unwrap_or(path).as_bytes();
            // Glob matches go last, as redis-server sends a client its
            // `message` before its `pmessage`s.
            let mut globbed = Vec::new();
            trie.for_each_match(path, |id| {
                if let Some(s) = subs.get(id.0) {
                    if let Filter::Glob(g) = &s.filter {
                        if g.matches(channel) && s.group.is_none() && s.content.is_none() {
                            globbed.push(Recipient {
                                conn: s.conn,
                                tag: s.tag,
                            });
                        }
                        return;
                    }
                    let to = Recipient {
                        conn: s.conn,
                        tag: s.tag,
                    };
                    match (s.group, s.content) {
                        (None, None) => cached.recipients.push(to),
                        (None, Some(f)) => cached.filtered.push((f, to)),
                        (Some(group), content) => {
                            cached.grouped.push(Member { group, content, to })
                        }
                    }
                }
            });
            cached.recipients.append(&mut globbed);
            cached.generation = generation;
        }
        Matches {
            plain: &cached.recipients,
            filtered: &cached.filtered,
            grouped: &cached.grouped,
            filters: &self.filters,
        }
    }

    /// The cache slot of `topic`, made (stale) if it has none.
    fn cache_slot(&mut self, topic: TopicId) -> usize {
        if let Some(&slot) = self.cached_topics.get(&topic) {
            return slot;
        }
        if self.cache.len() >= CACHE_MAX {
            self.cache.clear();
            self.cached_topics.clear();
        }
        self.cache.push(Cached {
            topic,
            generation: self.generation.wrapping_sub(1),
            recipients: Vec::new(),
            filtered: Vec::new(),
            grouped: Vec::new(),
        });
        self.cached_topics.insert(topic, self.cache.len() - 1);
        self.cache.len() - 1
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
        let mut hint = CacheHint::default();
        let mut got: Vec<_> = index
            .matching(topic, path, &mut hint)
            .plain
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
        let root = index.insert(ConnId(1), SubTag::NONE, subtree("/"), None, None);
        assert_eq!(conns(&mut index, ab, "/a/b"), [1]);
        let a = index.insert(ConnId(2), SubTag(7), subtree("/a"), None, None);
        assert_eq!(
            conns(&mut index, ab, "/a/b"),
            [1, 2],
            "a subscribe invalidates"
        );
        index.insert(ConnId(3), SubTag::NONE, subtree("/a/b/c"), None, None);
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
        index.insert(ConnId(1), SubTag(1), subtree("/x"), None, None);
        index.insert(ConnId(1), SubTag(2), subtree("/"), None, None);
        let mut hint = CacheHint::default();
        let tags: Vec<_> = index
            .matching(x, "/x", &mut hint)
            .plain
            .iter()
            .map(|r| r.tag.0)
            .collect();
        assert_eq!(tags.len(), 2, "one entry per subscription: {tags:?}");
        assert_eq!(conns(&mut index, y, "/y"), [1]);
        assert_eq!(conns(&mut index, x, "/x"), [1, 1], "/x kept its own entry");
    }

    #[test]
    fn the_cache_is_bounded_and_starts_over() {
        let mut topics = TopicTree::default();
        let mut index = SubscriptionIndex::default();
        index.insert(ConnId(1), SubTag::NONE, subtree("/"), None, None);
        for i in 0..CACHE_MAX + 10 {
            let path = format!("/t{i}");
            let (id, _) = topics.get_or_create(&path).unwrap();
            assert_eq!(conns(&mut index, id, &path), [1]);
            assert!(index.cache.len() <= CACHE_MAX);
        }
    }

    #[test]
    fn a_wrong_or_stale_hint_only_costs_a_lookup() {
        let mut topics = TopicTree::default();
        let (x, _) = topics.get_or_create("/x").unwrap();
        let (y, _) = topics.get_or_create("/y").unwrap();
        let mut index = SubscriptionIndex::default();
        index.insert(ConnId(1), SubTag::NONE, subtree("/x"), None, None);
        index.insert(ConnId(2), SubTag::NONE, subtree("/y"), None, None);
        let mut hint = CacheHint::default();
        let on = |index: &mut SubscriptionIndex, t, p, hint: &mut CacheHint| -> Vec<usize> {
            index
                .matching(t, p, hint)
                .plain
                .iter()
                .map(|r| r.conn.0)
                .collect()
        };
        assert_eq!(on(&mut index, x, "/x", &mut hint), [1]);
        assert_eq!(on(&mut index, y, "/y", &mut hint), [2], "a hint for /x");
        assert_eq!(on(&mut index, x, "/x", &mut hint), [1]);
        let mut wild = CacheHint(usize::MAX);
        assert_eq!(on(&mut index, y, "/y", &mut wild), [2], "out of range");
        assert!(topics.remove(x));
        let (z, _) = topics.get_or_create("/z").unwrap();
        assert_ne!(x, z, "the slot's new topic has a new id");
        assert!(
            on(&mut index, z, "/z", &mut hint).is_empty(),
            "no /x matches for /z"
        );
    }
}
