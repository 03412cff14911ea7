//! Reply inboxes (v2 §15): `/_INBOX` and the topics under it carry answers
//! to requests. They keep no message, are never listed or announced, and go
//! once nobody subscribes to them (their numbering then restarts).

use foldhash::{HashMap, HashMapExt};

use super::topics::{TopicId, TopicTree};

/// The root of reply topics.
pub const INBOX: &str = "/_INBOX";

/// Whether the normalized topic `topic` is an inbox (or `/_INBOX` itself).
#[must_use]
pub fn is_inbox(topic: &str) -> bool {
    topic
        .strip_prefix(INBOX)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

/// How many subscriptions each inbox topic has (subtree subscriptions made
/// on it; a subscription above `/_INBOX`, to `/` say, receives replies but
/// does not keep inboxes alive).
#[derive(Debug)]
pub struct Inboxes {
    subscribers: HashMap<TopicId, usize>,
}

impl Default for Inboxes {
    fn default() -> Self {
        Inboxes {
            subscribers: HashMap::new(),
        }
    }
}

impl Inboxes {
    /// One more subscription on inbox `id`.
    pub fn subscribed(&mut self, id: TopicId) {
        *self.subscribers.entry(id).or_default() += 1;
    }

    /// One subscription less on inbox `id`; forgets it (and its inbox
    /// ancestors that have become unused) once it has none.
    pub fn cancelled(&mut self, id: TopicId, tree: &mut TopicTree) {
        if let Some(n) = self.subscribers.get_mut(&id) {
            *n -= 1;
            if *n == 0 {
                self.subscribers.remove(&id);
            }
        }
        self.forget_unused(id, tree);
    }

    /// Removes inbox `id` if nobody subscribes to it and it has no
    /// children, then its parent on the same terms, up to `/_INBOX`.
    pub fn forget_unused(&mut self, mut id: TopicId, tree: &mut TopicTree) {
        loop {
            if self.subscribers.contains_key(&id) || !tree.path(id).is_some_and(is_inbox) {
                return;
            }
            let parent = tree.parent(id);
            if !tree.remove(id) {
                return;
            }
            match parent {
                Some(p) => id = p,
                None => return,
            }
        }
    }

    /// Inbox topics with subscribers.
    #[must_use]
    pub fn len(&self) -> usize {
        self.subscribers.len()
    }

    /// Whether there are none.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.subscribers.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inbox_topics_are_the_inbox_root_and_below() {
        assert!(is_inbox("/_INBOX"));
        assert!(is_inbox("/_INBOX/abc"));
        assert!(!is_inbox("/_INBOXES"));
        assert!(!is_inbox("/x/_INBOX"));
    }

    #[test]
    fn an_inbox_goes_with_its_last_subscriber_and_takes_unused_parents() {
        let mut tree = TopicTree::default();
        let mut inboxes = Inboxes::default();
        let (a, _) = tree.get_or_create("/_INBOX/a").unwrap();
        let (b, _) = tree.get_or_create("/_INBOX/b").unwrap();
        inboxes.subscribed(a);
        inboxes.subscribed(a);
        inboxes.subscribed(b);
        inboxes.cancelled(a, &mut tree);
        assert!(tree.contains(a), "one subscriber left");
        inboxes.cancelled(a, &mut tree);
        assert!(!tree.contains(a));
        assert!(tree.get("/_INBOX").is_some(), "/_INBOX/b holds it");
        inboxes.cancelled(b, &mut tree);
        // `is_empty` counts listed topics only, which inboxes never are.
        assert_eq!(tree.get("/_INBOX"), None, "all gone");
    }
}
