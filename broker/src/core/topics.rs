//! The topic tree: every topic that exists, its numbering and kept messages.
//!
//! Nodes live in an arena of slots and know their parent and children. A
//! node can be removed once it has no children; its slot is then reused
//! under a new generation, so a [`TopicId`] kept somewhere (a publisher's
//! last topic, the match cache) never reaches the node that took the slot.
//!
//! A hash index by path finds a topic with one lookup; a byte-sorted index
//! gives LIST and the `LAST_MSG` replay their order, which a depth-first walk
//! would not give, since `-` sorts before `/` (`/a`, `/a-b`, `/a/b`).
//! Subscriptions are not here: they live in the subscription index, keyed by
//! filters, which need not be topics. What is kept of messages, and how it
//! leaves (age, the bytes bound), is in the child module `retention`.

use std::collections::{BTreeMap, VecDeque};
use std::ops::Bound;
use std::sync::Arc;

use foldhash::{HashMap, HashMapExt};
use protocol::topic::segments;

pub use super::history::{Entry, History};
use super::inboxes::is_inbox;

#[path = "topics_retention.rs"]
mod retention;

/// A topic's slot and the generation of the node in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TopicId {
    slot: u32,
    generation: u32,
}

impl TopicId {
    /// The root, `/`: slot 0, never removed.
    pub const ROOT: TopicId = TopicId {
        slot: 0,
        generation: 0,
    };
}

#[derive(Debug)]
struct Node {
    path: Arc<str>,
    parent: Option<TopicId>,
    children: Vec<TopicId>,
    /// Where this node sits in its parent's `children`, so removal is O(1).
    index_in_parent: usize,
    history: History,
    /// Its newest entry was taken out of the age queue while it could not
    /// leave, this many-th (see `retention`); it goes back, in that order,
    /// when a newer one arrives.
    set_aside: Option<u64>,
    /// A reply inbox: numbered but never kept, listed or announced.
    inbox: bool,
}

#[derive(Debug)]
struct Slot {
    generation: u32,
    node: Option<Node>,
}

/// Creating a topic would pass the limit on the number of topics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("topic limit reached: the broker holds at most {max} topics")]
pub struct TopicLimit {
    /// The limit.
    pub max: usize,
}

/// All topics, rooted at `/` (the lab's `/root`, which never shows on the wire).
#[derive(Debug)]
pub struct TopicTree {
    /// Bounds the tree's memory against a client that publishes to ever new
    /// topics.
    max_topics: usize,
    /// Most messages kept per topic.
    history_cap: usize,
    /// Bytes of JSON text of every kept message.
    kept_bytes: usize,
    /// Messages kept on all topics.
    kept_count: usize,
    /// Bytes of JSON text of each topic's newest message: what can never
    /// leave, so what the bound is checked against.
    newest_bytes: usize,
    /// Every kept message as (topic, number), oldest first; entries that left
    /// otherwise stay until met or compacted.
    aged: VecDeque<(TopicId, u64)>,
    /// Topics' former newest messages that were set aside and have since
    /// been superseded, by the order they were set aside: all older than
    /// anything in `aged`, so they leave first.
    returned: BTreeMap<u64, (TopicId, u64)>,
    /// How many newest messages were ever set aside.
    set_asides: u64,
    slots: Vec<Slot>,
    free: Vec<u32>,
    by_path: HashMap<Arc<str>, TopicId>,
    sorted: BTreeMap<Arc<str>, TopicId>,
    /// Changes whenever a topic is created or removed.
    version: u64,
}

impl Default for TopicTree {
    fn default() -> Self {
        Self::new(usize::MAX, 1)
    }
}

impl TopicTree {
    /// A tree that holds at most `max_topics` topics (the root not counted)
    /// and keeps the last `history_cap` messages of each (at least one).
    #[must_use]
    pub fn new(max_topics: usize, history_cap: usize) -> Self {
        let root: Arc<str> = Arc::from("/");
        let mut by_path = HashMap::new();
        by_path.insert(root.clone(), TopicId::ROOT);
        TopicTree {
            max_topics,
            history_cap: history_cap.max(1),
            kept_bytes: 0,
            kept_count: 0,
            newest_bytes: 0,
            aged: VecDeque::new(),
            returned: BTreeMap::new(),
            set_asides: 0,
            slots: vec![Slot {
                generation: 0,
                node: Some(Node {
                    path: root,
                    parent: None,
                    children: Vec::new(),
                    index_in_parent: 0,
                    history: History::default(),
                    set_aside: None,
                    inbox: false,
                }),
            }],
            free: Vec::new(),
            by_path,
            sorted: BTreeMap::new(),
            version: 0,
        }
    }

    /// The topic of a normalized path, if it exists.
    #[must_use]
    pub fn get(&self, topic: &str) -> Option<TopicId> {
        self.by_path.get(topic).copied()
    }

    /// The topic of a normalized path, created with any missing ancestors.
    /// The flag says whether anything was created.
    ///
    /// # Errors
    /// [`TopicLimit`] when that would pass the limit; nothing is created.
    pub fn get_or_create(&mut self, topic: &str) -> Result<(TopicId, bool), TopicLimit> {
        if let Some(id) = self.get(topic) {
            return Ok((id, false));
        }
        let missing = prefixes(topic)
            .filter(|p| !self.by_path.contains_key(*p))
            .count();
        // Every topic but the root counts, inboxes too (they are not in
        // the list that `len` counts).
        if self.by_path.len() - 1 + missing > self.max_topics {
            return Err(TopicLimit {
                max: self.max_topics,
            });
        }
        let mut parent = TopicId::ROOT;
        for prefix in prefixes(topic) {
            parent = match self.by_path.get(prefix) {
                Some(&id) => id,
                None => self.insert(prefix, parent),
            };
        }
        Ok((parent, true))
    }

    fn insert(&mut self, path: &str, parent: TopicId) -> TopicId {
        let path: Arc<str> = Arc::from(path);
        let index_in_parent = self.node(parent).map_or(0, |p| p.children.len());
        let node = Node {
            path: path.clone(),
            parent: Some(parent),
            children: Vec::new(),
            index_in_parent,
            history: History::default(),
            set_aside: None,
            inbox: is_inbox(&path),
        };
        let inbox = node.inbox;
        let id = match self.free.pop() {
            Some(slot) => {
                let s = &mut self.slots[slot as usize];
                s.node = Some(node);
                TopicId {
                    slot,
                    generation: s.generation,
                }
            }
            None => {
                let slot = u32::try_from(self.slots.len()).unwrap_or(u32::MAX);
                self.slots.push(Slot {
                    generation: 0,
                    node: Some(node),
                });
                TopicId {
                    slot,
                    generation: 0,
                }
            }
        };
        if let Some(p) = self.node_mut(parent) {
            p.children.push(id);
        }
        self.by_path.insert(path.clone(), id);
        // Inboxes are never listed, so the list does not change.
        if !inbox {
            self.sorted.insert(path, id);
            self.version += 1;
        }
        id
    }

    /// Removes a topic that has no children, with its kept messages.
    /// Returns whether it was removed: not the root, not a topic with
    /// children, not an id whose topic is already gone.
    pub fn remove(&mut self, id: TopicId) -> bool {
        if id == TopicId::ROOT || self.node(id).is_none_or(|n| !n.children.is_empty()) {
            return false;
        }
        let slot = &mut self.slots[id.slot as usize];
        let Some(node) = slot.node.take() else {
            return false;
        };
        slot.generation = slot.generation.wrapping_add(1);
        self.free.push(id.slot);
        self.kept_bytes -= node.history.after(0).map(Entry::bytes).sum::<usize>();
        self.kept_count -= node.history.len();
        self.newest_bytes -= node.history.newest().map_or(0, Entry::bytes);
        self.by_path.remove(&node.path);
        if !node.inbox {
            self.sorted.remove(&node.path);
            self.version += 1;
        }
        if let Some(parent) = node.parent.and_then(|p| self.node_mut(p)) {
            parent.children.swap_remove(node.index_in_parent);
            let moved = parent.children.get(node.index_in_parent).copied();
            if let Some(moved) = moved.and_then(|m| self.node_mut(m)) {
                moved.index_in_parent = node.index_in_parent;
            }
        }
        true
    }

    #[inline]
    fn node(&self, id: TopicId) -> Option<&Node> {
        self.slots
            .get(id.slot as usize)
            .filter(|s| s.generation == id.generation)
            .and_then(|s| s.node.as_ref())
    }

    #[inline]
    fn node_mut(&mut self, id: TopicId) -> Option<&mut Node> {
        self.slots
            .get_mut(id.slot as usize)
            .filter(|s| s.generation == id.generation)
            .and_then(|s| s.node.as_mut())
    }

    /// The parent of `id` (`None` for the root or a topic that is gone).
    #[must_use]
    pub fn parent(&self, id: TopicId) -> Option<TopicId> {
        self.node(id).and_then(|n| n.parent)
    }

    /// Whether some topic is listed (inboxes never are).
    #[must_use]
    pub fn has_listed(&self) -> bool {
        !self.sorted.is_empty()
    }

    /// Whether `id` names a topic that still exists.
    #[must_use]
    #[inline]
    pub fn contains(&self, id: TopicId) -> bool {
        self.node(id).is_some()
    }

    /// The topic string of `id`, if it still exists.
    #[must_use]
    pub fn path(&self, id: TopicId) -> Option<&str> {
        self.node(id).map(|n| &*n.path)
    }

    /// The children of `id`, in no particular order.
    #[must_use]
    pub fn children(&self, id: TopicId) -> &[TopicId] {
        self.node(id).map_or(&[], |n| &n.children)
    }

    /// Number of topics, the root excluded.
    #[must_use]
    pub fn len(&self) -> usize {
        self.sorted.len()
    }

    /// Whether no topic exists but the root.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.sorted.is_empty()
    }

    /// The numbering and kept messages of `id`, if it still exists.
    #[must_use]
    pub fn history(&self, id: TopicId) -> Option<&History> {
        self.node(id).map(|n| &n.history)
    }

    /// Bytes of JSON text of the newest message of `id`.
    #[must_use]
    pub fn newest_len(&self, id: TopicId) -> usize {
        self.history(id)
            .and_then(History::newest)
            .map_or(0, Entry::bytes)
    }

    /// Bytes of JSON text of every topic's newest message.
    #[must_use]
    pub fn newest_bytes(&self) -> usize {
        self.newest_bytes
    }

    /// Bytes of JSON text of every kept message.
    #[must_use]
    pub fn kept_bytes(&self) -> usize {
        self.kept_bytes
    }

    /// Topics equal to or under `topic` with their history (empty for a
    /// topic that has had no message), in byte order.
    pub fn kept_under<'a>(
        &'a self,
        topic: &'a str,
    ) -> impl Iterator<Item = (&'a str, &'a History)> + 'a {
        let (itself, below) = subtree_bounds(topic);
        let itself = itself.and_then(|t| self.sorted.get_key_value(t));
        itself
            .into_iter()
            .chain(self.sorted.range::<str, _>((
                below.0.as_ref().map(String::as_str),
                below.1.as_ref().map(String::as_str),
            )))
            .filter_map(|(path, &id)| Some((&**path, &self.node(id)?.history)))
    }

    /// Topics equal to or under `topic` sorting strictly after `after` (all
    /// when `None`), in byte order, with their ids: a subtree a page at a
    /// time, each page starting where the last ended (monitoring).
    pub fn under_after<'a>(
        &'a self,
        topic: &'a str,
        after: Option<&'a str>,
    ) -> impl Iterator<Item = (&'a str, TopicId)> + 'a {
        let (itself, (lo, hi)) = subtree_bounds(topic);
        let itself = itself
            .filter(|t| after.is_none_or(|a| *t > a))
            .and_then(|t| self.sorted.get_key_value(t));
        let lo = match (lo, after) {
            (Bound::Included(l), Some(a)) if a < l.as_str() => Bound::Included(l),
            (_, Some(a)) => Bound::Excluded(a.to_owned()),
            (lo, None) => lo,
        };
        itself
            .into_iter()
            .chain(self.sorted.range::<str, _>((
                lo.as_ref().map(String::as_str),
                hi.as_ref().map(String::as_str),
            )))
            .map(|(path, &id)| (&**path, id))
    }

    /// A read-only view of the topic list, for doors to page through.
    #[must_use]
    pub fn list(&self) -> TopicList<'_> {
        TopicList { tree: self }
    }

    /// All topics but the root sorting strictly after `cursor` (all when `None`), in byte order.
    pub fn topics_after<'a>(
        &'a self,
        cursor: Option<&'a str>,
    ) -> impl Iterator<Item = &'a str> + 'a {
        let lo = cursor.map_or(Bound::Unbounded, Bound::Excluded);
        self.sorted
            .range::<str, _>((lo, Bound::Unbounded))
            .map(|(p, _)| &**p)
    }
}

/// The topic list as doors see it: sorted, read-only.
#[derive(Debug, Clone, Copy)]
pub struct TopicList<'a> {
    tree: &'a TopicTree,
}

impl<'a> TopicList<'a> {
    /// All topics but the root sorting strictly after `cursor` (all when
    /// `None`), in byte order.
    pub fn after(self, cursor: Option<&'a str>) -> impl Iterator<Item = &'a str> + 'a {
        self.tree.topics_after(cursor)
    }

    /// Changes whenever a topic is created or removed: a door may cache what
    /// it encoded of the list under this number.
    #[must_use]
    pub fn version(self) -> u64 {
        self.tree.version
    }
}

/// The topic and its ancestors but the root, shortest first: `/a`, `/a/b`.
fn prefixes(topic: &str) -> impl Iterator<Item = &str> {
    // `topic` is normalized: each segment follows exactly one '/'.
    segments(topic).scan(0, move |end, seg| {
        *end += 1 + seg.len();
        Some(&topic[..*end])
    })
}

/// The bounds of a byte range of the sorted index.
type Range = (Bound<String>, Bound<String>);

/// `topic` itself (unless it is the root, which is not in the index) and the
/// byte range holding exactly its descendants: `T/` up to, not including, `T0`
/// (`'0'` is the byte after `'/'`). `T` alone does not start that range, since
/// `T-b` sorts between `T` and `T/`.
fn subtree_bounds(topic: &str) -> (Option<&str>, Range) {
    if topic == "/" {
        return (None, (Bound::Unbounded, Bound::Unbounded));
    }
    (
        Some(topic),
        (
            Bound::Included(format!("{topic}/")),
            Bound::Excluded(format!("{topic}0")),
        ),
    )
}

#[cfg(test)]
#[path = "topics_tests.rs"]
mod tests;
