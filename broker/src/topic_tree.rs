//! The topic tree: every topic that exists, its subscribers and its retained
//! message.
//!
//! Nodes live in an arena and point to their parent, so a publish finds its
//! node with one hash lookup on the whole topic and collects subscribers by
//! walking up to the root (at most 33 nodes). A byte-sorted index gives LIST
//! and the `LAST_MSG` replay their order: a depth-first walk would not, since
//! `-` sorts before `/` (`/a`, `/a-b`, `/a/b`). Topics are never removed, so
//! memory is bounded by the topics that were created and their last messages.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::Arc;

use foldhash::{HashMap, HashMapExt};
use protocol::topic::segments;
use protocol::Body;

use crate::ConnId;

/// Index of a node in the arena; [`NodeId::ROOT`] is `/`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct NodeId(u32);

impl NodeId {
    /// The root, `/`.
    pub const ROOT: NodeId = NodeId(0);
}

/// The last message published on a topic, as the JSON text of its value
/// (both decoders give JSON text, so forwarding and replay are the same path).
#[derive(Debug, Clone, PartialEq)]
pub struct Retained {
    /// The validated JSON text; its buffer is reused by the next publish.
    text: String,
    /// Bytes of the XML `msg` element for this value, when measured.
    xml_len: Option<usize>,
}

impl Retained {
    /// The retained value as a [`Body`] to encode.
    #[must_use]
    pub fn body(&self) -> Body<'_> {
        Body::Json {
            text: Cow::Borrowed(&self.text),
            xml_len: self.xml_len,
        }
    }

    fn store(slot: &mut Option<Retained>, body: &Body<'_>) {
        let retained = slot.get_or_insert_with(|| Retained {
            text: String::new(),
            xml_len: None,
        });
        retained.text.clear();
        match body {
            Body::Json { text, xml_len } => {
                retained.text.push_str(text);
                retained.xml_len = *xml_len;
            }
            // Only clients build value trees; the router was handed one that
            // passed the size checks, so its JSON form is valid.
            Body::Value(v) => {
                retained.text = v.to_string();
                retained.xml_len = None;
            }
        }
    }
}

#[derive(Debug)]
struct Node {
    path: Arc<str>,
    parent: Option<NodeId>,
    subscribers: Vec<ConnId>,
    retained: Option<Retained>,
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
    /// Topics are never removed, so this bounds the tree's memory against a
    /// client that publishes to ever new topics.
    max_topics: usize,
    /// Sum of the retained texts' lengths, for the retained-data limit.
    retained_bytes: usize,
    nodes: Vec<Node>,
    by_path: HashMap<Arc<str>, NodeId>,
    sorted: BTreeMap<Arc<str>, NodeId>,
}

impl Default for TopicTree {
    fn default() -> Self {
        let root: Arc<str> = Arc::from("/");
        TopicTree {
            max_topics: usize::MAX,
            retained_bytes: 0,
            nodes: vec![Node {
                path: root.clone(),
                parent: None,
                subscribers: Vec::new(),
                retained: None,
            }],
            by_path: {
                let mut m = HashMap::new();
                m.insert(root, NodeId::ROOT);
                m
            },
            sorted: BTreeMap::new(),
        }
    }
}

impl TopicTree {
    /// The node of a normalized topic, if it exists.
    #[must_use]
    pub fn get(&self, topic: &str) -> Option<NodeId> {
        self.by_path.get(topic).copied()
    }

    /// A tree that holds at most `max_topics` topics (the root not counted).
    #[must_use]
    pub fn with_max_topics(max_topics: usize) -> Self {
        TopicTree {
            max_topics,
            ..Self::default()
        }
    }

    /// The node of a normalized topic, created with any missing ancestors.
    /// The flag says whether anything was created.
    ///
    /// # Errors
    /// [`TopicLimit`] when that would pass the limit; nothing is created.
    pub fn get_or_create(&mut self, topic: &str) -> Result<(NodeId, bool), TopicLimit> {
        if let Some(id) = self.get(topic) {
            return Ok((id, false));
        }
        let missing = prefixes(topic)
            .filter(|p| !self.by_path.contains_key(*p))
            .count();
        if self.len() + missing > self.max_topics {
            return Err(TopicLimit {
                max: self.max_topics,
            });
        }
        let mut parent = NodeId::ROOT;
        for prefix in prefixes(topic) {
            parent = match self.by_path.get(prefix) {
                Some(&id) => id,
                None => self.insert(prefix, parent),
            };
        }
        Ok((parent, true))
    }

    fn insert(&mut self, path: &str, parent: NodeId) -> NodeId {
        let id = NodeId(u32::try_from(self.nodes.len()).unwrap_or(u32::MAX));
        let path: Arc<str> = Arc::from(path);
        self.nodes.push(Node {
            path: path.clone(),
            parent: Some(parent),
            subscribers: Vec::new(),
            retained: None,
        });
        self.by_path.insert(path.clone(), id);
        self.sorted.insert(path, id);
        id
    }

    fn node(&self, id: NodeId) -> &Node {
        &self.nodes[id.0 as usize]
    }

    fn node_mut(&mut self, id: NodeId) -> &mut Node {
        &mut self.nodes[id.0 as usize]
    }

    /// The topic string of a node.
    #[must_use]
    pub fn path(&self, id: NodeId) -> &str {
        &self.node(id).path
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

    /// Stores `body` as the last message of `id`.
    pub fn retain(&mut self, id: NodeId, body: &Body<'_>) {
        let old = self.retained_len(id);
        Retained::store(&mut self.node_mut(id).retained, body);
        let new = self.retained_len(id);
        self.retained_bytes = self.retained_bytes - old + new;
    }

    /// Bytes of JSON text retained on `id`.
    #[must_use]
    pub fn retained_len(&self, id: NodeId) -> usize {
        self.node(id).retained.as_ref().map_or(0, |r| r.text.len())
    }

    /// Bytes of JSON text retained on all topics.
    #[must_use]
    pub fn retained_bytes(&self) -> usize {
        self.retained_bytes
    }

    /// Calls `f` with every subscriber of `id` and of each of its ancestors.
    pub fn for_each_subscriber(&self, id: NodeId, mut f: impl FnMut(ConnId)) {
        let mut next = Some(id);
        while let Some(n) = next {
            let node = self.node(n);
            node.subscribers.iter().copied().for_each(&mut f);
            next = node.parent;
        }
    }

    /// Adds `conn` to the subscribers of `id`; false if it was there already.
    pub fn subscribe(&mut self, id: NodeId, conn: ConnId) -> bool {
        let subs = &mut self.node_mut(id).subscribers;
        if subs.contains(&conn) {
            return false;
        }
        subs.push(conn);
        true
    }

    /// Removes `conn` from the subscribers of `id`.
    pub fn unsubscribe(&mut self, id: NodeId, conn: ConnId) {
        let subs = &mut self.node_mut(id).subscribers;
        if let Some(i) = subs.iter().position(|&c| c == conn) {
            subs.swap_remove(i);
        }
    }

    /// Topics equal to or under `topic` that hold a retained message, in byte order.
    pub fn retained_under<'a>(
        &'a self,
        topic: &'a str,
    ) -> impl Iterator<Item = (&'a str, &'a Retained)> + 'a {
        let (itself, below) = subtree_bounds(topic);
        let itself = itself.and_then(|t| self.sorted.get_key_value(t));
        itself
            .into_iter()
            .chain(self.sorted.range::<str, _>((
                below.0.as_ref().map(String::as_str),
                below.1.as_ref().map(String::as_str),
            )))
            .filter_map(|(path, &id)| self.node(id).retained.as_ref().map(|r| (&**path, r)))
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

/// The topic and its ancestors but the root, shortest first: `/a`, `/a/b`.
fn prefixes(topic: &str) -> impl Iterator<Item = &str> {
    // `topic` is normalized: each segment follows exactly one '/'.
    segments(topic).scan(0, move |end, seg| {
        *end += 1 + seg.len();
        Some(&topic[..*end])
    })
}

/// `topic` itself (unless it is the root, which is not in the index) and the
/// byte range holding exactly its descendants: `T/` up to, not including, `T0`
/// (`'0'` is the byte after `'/'`). `T` alone does not start that range, since
/// `T-b` sorts between `T` and `T/`.
type Below = (Bound<String>, Bound<String>);

fn subtree_bounds(topic: &str) -> (Option<&str>, Below) {
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
mod tests {
    use super::*;

    fn body(text: &str) -> Body<'_> {
        Body::Json {
            text: Cow::Borrowed(text),
            xml_len: None,
        }
    }

    #[test]
    fn creates_ancestors_once() {
        let mut t = TopicTree::default();
        let (orange, created) = t.get_or_create("/telephony/orange").unwrap();
        assert!(created);
        assert_eq!(t.path(orange), "/telephony/orange");
        assert_eq!(
            t.topics_after(None).collect::<Vec<_>>(),
            ["/telephony", "/telephony/orange"]
        );
        assert_eq!(t.get_or_create("/telephony/orange"), Ok((orange, false)));
        let (_, created) = t.get_or_create("/telephony/unite").unwrap();
        assert!(created);
        assert_eq!(t.len(), 3);
    }

    #[test]
    fn retained_replay_is_byte_sorted_and_segment_bounded() {
        let mut t = TopicTree::default();
        for topic in ["/a/b", "/a-b", "/a", "/ab", "/a/c/d"] {
            let (id, _) = t.get_or_create(topic).unwrap();
            t.retain(id, &body("1"));
        }
        let under_a: Vec<_> = t.retained_under("/a").map(|(p, _)| p).collect();
        assert_eq!(under_a, ["/a", "/a/b", "/a/c/d"]);
        let all: Vec<_> = t.retained_under("/").map(|(p, _)| p).collect();
        assert_eq!(all, ["/a", "/a-b", "/a/b", "/a/c/d", "/ab"]);
        assert_eq!(
            t.topics_after(Some("/a/b")).collect::<Vec<_>>(),
            ["/a/c", "/a/c/d", "/ab"]
        );
    }

    #[test]
    fn subscribers_collected_up_to_root() {
        let mut t = TopicTree::default();
        let (ab, _) = t.get_or_create("/a/b").unwrap();
        let a = t.get("/a").unwrap();
        assert!(t.subscribe(NodeId::ROOT, ConnId(1)));
        assert!(t.subscribe(a, ConnId(2)));
        assert!(t.subscribe(ab, ConnId(3)));
        assert!(!t.subscribe(ab, ConnId(3)));
        let mut seen = Vec::new();
        t.for_each_subscriber(ab, |c| seen.push(c.0));
        seen.sort_unstable();
        assert_eq!(seen, [1, 2, 3]);
        t.unsubscribe(a, ConnId(2));
        seen.clear();
        t.for_each_subscriber(ab, |c| seen.push(c.0));
        seen.sort_unstable();
        assert_eq!(seen, [1, 3]);
    }

    #[test]
    fn topic_limit_counts_ancestors_and_creates_nothing_past_it() {
        let mut t = TopicTree::with_max_topics(3);
        assert!(t.get_or_create("/a/b").is_ok());
        assert_eq!(t.get_or_create("/c/d"), Err(TopicLimit { max: 3 }));
        assert_eq!(t.len(), 2, "a refused topic creates no ancestor either");
        assert!(t.get_or_create("/a/c").is_ok());
        assert!(
            t.get_or_create("/a/b").is_ok(),
            "existing topics stay usable"
        );
        assert_eq!(t.get_or_create("/d"), Err(TopicLimit { max: 3 }));
    }

    #[test]
    fn retained_bytes_follow_replacements() {
        let mut t = TopicTree::default();
        let (a, _) = t.get_or_create("/a").unwrap();
        let (b, _) = t.get_or_create("/b").unwrap();
        t.retain(a, &body("\"hello\""));
        t.retain(b, &body("1"));
        assert_eq!(t.retained_bytes(), 8);
        t.retain(a, &body("22"));
        assert_eq!(t.retained_bytes(), 3);
        assert_eq!(t.retained_len(a), 2);
    }

    #[test]
    fn retained_buffer_is_reused() {
        let mut t = TopicTree::default();
        let (id, _) = t.get_or_create("/x").unwrap();
        t.retain(id, &body("\"a long first value\""));
        t.retain(id, &body("2"));
        let (_, r) = t.retained_under("/x").next().unwrap();
        assert_eq!(r.body(), body("2"));
    }
}
