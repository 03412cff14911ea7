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
//! node of its topic and matches that node and everything below it.
//! Wildcard children (NATS `*`, `>`) and exact-only lists go next to it.

use foldhash::HashMap;
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
    /// Subscriptions matching this node's path and every path under it.
    subtree: Vec<SubId>,
}

impl TrieNode {
    fn is_empty(&self) -> bool {
        self.subtree.is_empty() && self.children.is_empty()
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
        let Filter::Subtree(topic) = filter;
        let mut at = ROOT;
        for seg in topic.segments() {
            at = match self.node(at).and_then(|n| n.children.get(seg)) {
                Some(&child) => child,
                None => self.add_child(at, seg),
            };
        }
        if let Some(node) = self.node_mut(at) {
            node.subtree.push(sub);
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
            p.children.insert(seg.into(), idx);
        }
        idx
    }

    /// Detaches `sub` from `filter`'s node and prunes the nodes left empty.
    /// Returns whether it was attached there.
    pub fn remove(&mut self, filter: &Filter<'_>, sub: SubId) -> bool {
        let Filter::Subtree(topic) = filter;
        let mut at = ROOT;
        for seg in topic.segments() {
            match self.node(at).and_then(|n| n.children.get(seg)) {
                Some(&child) => at = child,
                None => return false,
            }
        }
        let Some(node) = self.node_mut(at) else {
            return false;
        };
        let Some(i) = node.subtree.iter().position(|&s| s == sub) else {
            return false;
        };
        node.subtree.swap_remove(i);
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
                parent.children.remove(&node.segment);
            }
            at = node.parent;
        }
    }

    /// Calls `f` with every subscription whose filter matches `topic` (a
    /// normalized topic).
    pub fn for_each_match(&self, topic: &str, mut f: impl FnMut(SubId)) {
        let mut at = self.node(ROOT);
        let mut segs = segments(topic);
        while let Some(node) = at {
            node.subtree.iter().copied().for_each(&mut f);
            at = segs
                .next()
                .and_then(|seg| node.children.get(seg))
                .and_then(|&child| self.node(child));
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
