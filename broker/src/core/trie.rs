//! [`FilterTrie`]: subscriptions indexed by the segments of their filters.
//!
//! A node stands for a filter path (`/a/b`) and holds the subscriptions
//! attached there; matching a topic walks its segments from the root, one
//! hash lookup per segment, collecting what each node on the way holds. The
//! trie is kept apart from the topic tree because filters need not be topics
//! (a pattern never is), and nodes are pruned as soon as nothing hangs from
//! them, so departed subscribers leave nothing behind.
//!
//! Filter kinds plug in as lists per node: a subtree subscription sits on the
//! node of its filter and matches that node and everything below it. A `*`
//! segment of a pattern is a node's wildcard child, kept apart from the
//! keyed children, so matching takes the exact child and the wildcard child
//! at each level: a topic with `k` segments visits at most `2^k` nodes, and
//! only as many as patterns branch. NATS subjects sit on their node too,
//! in two more lists: `exact` (a plain or `*` subject, matching only a topic
//! that ends at the node) and `deeper` (a trailing `>`, matching only topics
//! that go on below it).

use foldhash::HashMap;
use protocol::pattern::ANY;
use protocol::topic::segments;

use super::command::Filter;
use super::subs::SubId;

/// A node's index in the arena; the root is 0 and never freed.
type NodeIdx = u32;

const ROOT: NodeIdx = 0;

#[derive(Debug, Default)]
struct TrieNode {
    parent: NodeIdx,
    /// This node's key in its parent's `children`.
    segment: Box<str>,
    children: HashMap<Box<str>, NodeIdx>,
    /// The child for a `*` segment (`ROOT` for none: the root is no child).
    any: NodeIdx,
    /// Subscriptions matching this node's path and every path under it.
    subtree: Vec<SubId>,
    /// Subscriptions matching this node's path only (NATS).
    exact: Vec<SubId>,
    /// Subscriptions matching every path strictly under this node (NATS `>`).
    deeper: Vec<SubId>,
}

impl TrieNode {
    fn is_empty(&self) -> bool {
        self.subtree.is_empty()
            && self.exact.is_empty()
            && self.deeper.is_empty()
            && self.children.is_empty()
            && self.any == ROOT
    }

    /// The list a subscription with `filter` sits in.
    fn list_mut(&mut self, filter: &Filter<'_>) -> &mut Vec<SubId> {
        match filter {
            Filter::Nats(n) if n.deeper() => &mut self.deeper,
            Filter::Nats(_) | Filter::Channel(_) => &mut self.exact,
            // A glob sits where its literal segments end and is tried,
            // when a topic's matches are not cached, on the topics below.
            Filter::Subtree(_) | Filter::Pattern(_) | Filter::Glob(_) => &mut self.subtree,
        }
    }

    /// The child for `seg`, if there is one.
    fn child(&self, seg: &str) -> Option<NodeIdx> {
        if seg == ANY {
            (self.any != ROOT).then_some(self.any)
        } else {
            self.children.get(seg).copied()
        }
    }
}

/// Subscriptions by filter; see the module docs.
#[derive(Debug)]
pub struct FilterTrie {
    nodes: Vec<Option<TrieNode>>,
    free: Vec<NodeIdx>,
}

impl Default for FilterTrie {
    fn default() -> Self {
        FilterTrie {
            nodes: vec![Some(TrieNode::default())],
            free: Vec::new(),
        }
    }
}

impl FilterTrie {
    fn node(&self, idx: NodeIdx) -> Option<&TrieNode> {
        self.nodes.get(idx as usize).and_then(Option::as_ref)
    }

    fn node_mut(&mut self, idx: NodeIdx) -> Option<&mut TrieNode> {
        self.nodes.get_mut(idx as usize).and_then(Option::as_mut)
    }

    /// Attaches `sub` under `filter`, creating the nodes on its path.
    pub fn insert(&mut self, filter: &Filter<'_>, sub: SubId) {
        let mut at = ROOT;
        for seg in filter.segments() {
            at = match self.node(at).and_then(|n| n.child(seg)) {
                Some(child) => child,
                None => self.add_child(at, seg),
            };
        }
        if let Some(node) = self.node_mut(at) {
            node.list_mut(filter).push(sub);
        }
    }

    fn add_child(&mut self, parent: NodeIdx, seg: &str) -> NodeIdx {
        let node = TrieNode {
            parent,
            segment: seg.into(),
            ..TrieNode::default()
        };
        let idx = match self.free.pop() {
            Some(idx) => {
                self.nodes[idx as usize] = Some(node);
                idx
            }
            None => {
                self.nodes.push(Some(node));
                NodeIdx::try_from(self.nodes.len() - 1).unwrap_or(NodeIdx::MAX)
            }
        };
        if let Some(p) = self.node_mut(parent) {
            if seg == ANY {
                p.any = idx;
            } else {
                p.children.insert(seg.into(), idx);
            }
        }
        idx
    }

    /// Detaches `sub` from `filter`'s node and prunes the nodes left empty.
    /// Returns whether it was attached there.
    pub fn remove(&mut self, filter: &Filter<'_>, sub: SubId) -> bool {
        let mut at = ROOT;
        for seg in filter.segments() {
            match self.node(at).and_then(|n| n.child(seg)) {
                Some(child) => at = child,
                None => return false,
            }
        }
        let Some(node) = self.node_mut(at) else {
            return false;
        };
        let list = node.list_mut(filter);
        let Some(i) = list.iter().position(|&s| s == sub) else {
            return false;
        };
        list.swap_remove(i);
        self.prune(at);
        true
    }

    /// Frees `at` and its ancestors while they hold nothing.
    fn prune(&mut self, mut at: NodeIdx) {
        while at != ROOT && self.node(at).is_some_and(TrieNode::is_empty) {
            let Some(node) = self.nodes[at as usize].take() else {
                return;
            };
            self.free.push(at);
            if let Some(parent) = self.node_mut(node.parent) {
                if &*node.segment == ANY {
                    parent.any = ROOT;
                } else {
                    parent.children.remove(&node.segment);
                }
            }
            at = node.parent;
        }
    }

    /// Calls `f` with every subscription whose filter matches `topic` (a
    /// normalized topic).
    pub fn for_each_match(&self, topic: &str, mut f: impl FnMut(SubId)) {
        self.walk(ROOT, segments(topic), &mut f);
    }

    /// Collects what `at` holds, then follows the next segment into the
    /// exact child and the wildcard child; without wildcards this is a loop
    /// down one path.
    fn walk<'t>(
        &self,
        mut at: NodeIdx,
        mut segs: impl Iterator<Item = &'t str> + Clone,
        f: &mut impl FnMut(SubId),
    ) {
        while let Some(node) = self.node(at) {
            node.subtree.iter().copied().for_each(&mut *f);
            let Some(seg) = segs.next() else {
                node.exact.iter().copied().for_each(&mut *f);
                return;
            };
            node.deeper.iter().copied().for_each(&mut *f);
            if node.any != ROOT {
                self.walk(node.any, segs.clone(), f);
            }
            match node.children.get(seg) {
                Some(&child) => at = child,
                None => return,
            }
        }
    }

    /// Nodes in use, the root included.
    #[must_use]
    pub fn node_count(&self) -> usize {
        self.nodes.len() - self.free.len()
    }
}

#[cfg(test)]
mod tests {
    use protocol::Topic;

    use super::*;

    fn subtree(t: &str) -> Filter<'_> {
        Filter::Subtree(Topic::parse(t).unwrap())
    }

    fn matches(trie: &FilterTrie, topic: &str) -> Vec<usize> {
        let mut got = Vec::new();
        trie.for_each_match(topic, |s| got.push(s.0));
        got.sort_unstable();
        got
    }

    #[test]
    fn subtree_filters_match_by_whole_segments() {
        let mut trie = FilterTrie::default();
        trie.insert(&subtree("/"), SubId(1));
        trie.insert(&subtree("/a"), SubId(2));
        trie.insert(&subtree("/a/b"), SubId(3));
        trie.insert(&subtree("/ab"), SubId(4));
        assert_eq!(matches(&trie, "/a/b/c"), [1, 2, 3]);
        assert_eq!(matches(&trie, "/a"), [1, 2]);
        assert_eq!(matches(&trie, "/ab"), [1, 4]);
        assert_eq!(matches(&trie, "/abc"), [1]);
        assert_eq!(matches(&trie, "/"), [1]);
    }

    fn pattern(p: &str) -> Filter<'_> {
        Filter::Pattern(protocol::Pattern::parse(p).unwrap())
    }

    #[test]
    fn star_segments_match_any_one_segment_then_the_subtree() {
        let mut trie = FilterTrie::default();
        trie.insert(&pattern("/time/*/east"), SubId(1));
        trie.insert(&pattern("/a/*"), SubId(2));
        trie.insert(&pattern("/*/b"), SubId(3));
        trie.insert(&subtree("/a/b"), SubId(4));
        trie.insert(&pattern("/*/*"), SubId(5));
        assert_eq!(matches(&trie, "/time/us/east"), [1, 5]);
        assert_eq!(matches(&trie, "/time/us/east/atlanta"), [1, 5]);
        assert!(matches(&trie, "/time/east").contains(&5));
        assert!(!matches(&trie, "/time/east").contains(&1));
        assert_eq!(matches(&trie, "/a/b"), [2, 3, 4, 5]);
        assert_eq!(matches(&trie, "/a"), Vec::<usize>::new());
        assert!(trie.remove(&pattern("/a/*"), SubId(2)));
        assert!(trie.remove(&pattern("/*/b"), SubId(3)));
        assert!(trie.remove(&pattern("/*/*"), SubId(5)));
        assert_eq!(matches(&trie, "/a/b"), [4]);
        assert!(trie.remove(&pattern("/time/*/east"), SubId(1)));
        assert!(trie.remove(&subtree("/a/b"), SubId(4)));
        assert_eq!(trie.node_count(), 1, "wildcard children are pruned too");
    }

    fn nats(path: &str, deeper: bool) -> Filter<'_> {
        Filter::Nats(crate::core::command::NatsFilter::new(
            protocol::Pattern::parse(path).unwrap(),
            deeper,
        ))
    }

    #[test]
    fn nats_subjects_match_exactly_star_one_token_and_gt_the_rest() {
        let mut trie = FilterTrie::default();
        trie.insert(&nats("/time/us/east", false), SubId(1));
        trie.insert(&nats("/time/*/east", false), SubId(2));
        trie.insert(&nats("/time/us", true), SubId(3));
        trie.insert(&nats("/", true), SubId(4));
        trie.insert(&subtree("/time/us"), SubId(5));
        assert_eq!(matches(&trie, "/time/us/east"), [1, 2, 3, 4, 5]);
        assert_eq!(
            matches(&trie, "/time/us/east/atlanta"),
            [3, 4, 5],
            "no subtree rule for NATS"
        );
        assert_eq!(
            matches(&trie, "/time/us"),
            [4, 5],
            "`time.us.>` needs one more token"
        );
        assert_eq!(matches(&trie, "/time/eu/east"), [2, 4]);
        assert!(matches(&trie, "/").is_empty(), "`>` needs a token");
        for (filter, id) in [
            (nats("/time/us/east", false), 1),
            (nats("/time/*/east", false), 2),
            (nats("/time/us", true), 3),
            (nats("/", true), 4),
        ] {
            assert!(!trie.remove(&nats("/nope", false), SubId(id)));
            assert!(trie.remove(&filter, SubId(id)), "{filter:?}");
        }
        assert!(trie.remove(&subtree("/time/us"), SubId(5)));
        assert_eq!(trie.node_count(), 1);
    }

    #[test]
    fn nats_filters_agree_with_the_trie() {
        let filters = [
            nats("/a/b", false),
            nats("/a/*", false),
            nats("/a", true),
            nats("/*/b", true),
        ];
        for topic in ["/a", "/a/b", "/a/b/c", "/x/b", "/x/b/c"] {
            let mut trie = FilterTrie::default();
            for (i, f) in filters.iter().enumerate() {
                trie.insert(f, SubId(i));
            }
            let want: Vec<usize> = (0..filters.len())
                .filter(|&i| filters[i].matches(topic))
                .collect();
            assert_eq!(matches(&trie, topic), want, "{topic}");
        }
    }

    #[test]
    fn removal_prunes_empty_nodes_only() {
        let mut trie = FilterTrie::default();
        trie.insert(&subtree("/a/b/c"), SubId(1));
        trie.insert(&subtree("/a"), SubId(2));
        assert_eq!(trie.node_count(), 4);
        assert!(
            !trie.remove(&subtree("/a/b"), SubId(1)),
            "not attached there"
        );
        assert!(!trie.remove(&subtree("/x"), SubId(1)), "no such node");
        assert!(trie.remove(&subtree("/a/b/c"), SubId(1)));
        assert_eq!(trie.node_count(), 2, "/a/b/c and /a/b pruned, /a kept");
        assert_eq!(matches(&trie, "/a/b/c"), [2]);
        assert!(trie.remove(&subtree("/a"), SubId(2)));
        assert_eq!(trie.node_count(), 1, "only the root is left");
        trie.insert(&subtree("/z/y"), SubId(3));
        assert_eq!(trie.node_count(), 3, "freed nodes are reused");
        assert_eq!(matches(&trie, "/z/y"), [3]);
    }
}
