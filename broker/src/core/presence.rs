//! [`Presence`]: who is on which topic (v2 §16).
//!
//! A member of topic T is a named client's connection holding a
//! subscription to exactly T; a watcher is a connection that asked for
//! presence on T. Members are kept in the order they joined; names and the
//! away state are the sessions', so a rename or an away needs no change
//! here. Everything is per connection and goes with it.

use foldhash::{HashMap, HashMapExt};

use super::ConnId;

/// A member of a topic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Member {
    /// Its connection.
    pub conn: ConnId,
    /// When it joined, in milliseconds since the Unix epoch.
    pub since: u64,
    /// Its subscriptions to the topic (a door that names subscriptions may
    /// hold several); it leaves with the last.
    subscriptions: u32,
}

#[derive(Debug, Default)]
struct OnTopic {
    members: Vec<Member>,
    watchers: Vec<ConnId>,
}

/// Members and watchers per topic; see the module docs.
#[derive(Debug)]
pub struct Presence {
    topics: HashMap<Box<str>, OnTopic>,
}

impl Default for Presence {
    fn default() -> Self {
        Presence {
            topics: HashMap::new(),
        }
    }
}

impl Presence {
    /// `conn` subscribed to exactly `topic` at `now`; whether that made it a
    /// member (its first subscription there).
    pub fn join(&mut self, topic: &str, conn: ConnId, now: u64) -> bool {
        let on = self.topics.entry(topic.into()).or_default();
        if let Some(m) = on.members.iter_mut().find(|m| m.conn == conn) {
            m.subscriptions += 1;
            return false;
        }
        on.members.push(Member {
            conn,
            since: now,
            subscriptions: 1,
        });
        true
    }

    /// `conn` cancelled a subscription to exactly `topic`; whether that was
    /// its last there (it left). `all` drops every one (a disconnection, or
    /// a rename that makes it join again).
    pub fn leave(&mut self, topic: &str, conn: ConnId, all: bool) -> bool {
        let Some(on) = self.topics.get_mut(topic) else {
            return false;
        };
        let Some(i) = on.members.iter().position(|m| m.conn == conn) else {
            return false;
        };
        let m = &mut on.members[i];
        m.subscriptions = if all { 0 } else { m.subscriptions - 1 };
        let left = m.subscriptions == 0;
        if left {
            on.members.remove(i);
        }
        self.drop_if_unused(topic);
        left
    }

    /// `conn` wants presence events of `topic` (once, however often asked).
    pub fn watch(&mut self, topic: &str, conn: ConnId) {
        let on = self.topics.entry(topic.into()).or_default();
        if !on.watchers.contains(&conn) {
            on.watchers.push(conn);
        }
    }

    /// `conn` no longer wants presence events of `topic`.
    pub fn unwatch(&mut self, topic: &str, conn: ConnId) {
        if let Some(on) = self.topics.get_mut(topic) {
            on.watchers.retain(|&w| w != conn);
        }
        self.drop_if_unused(topic);
    }

    fn drop_if_unused(&mut self, topic: &str) {
        if self
            .topics
            .get(topic)
            .is_some_and(|on| on.members.is_empty() && on.watchers.is_empty())
        {
            self.topics.remove(topic);
        }
    }

    /// The members of `topic`, in the order they joined.
    #[must_use]
    pub fn members(&self, topic: &str) -> &[Member] {
        self.topics.get(topic).map_or(&[], |on| &on.members)
    }

    /// Who watches `topic`.
    #[must_use]
    pub fn watchers(&self, topic: &str) -> &[ConnId] {
        self.topics.get(topic).map_or(&[], |on| &on.watchers)
    }

    /// Whether `conn` is a member of `topic`.
    #[must_use]
    pub fn is_member(&self, topic: &str, conn: ConnId) -> bool {
        self.members(topic).iter().any(|m| m.conn == conn)
    }

    /// Topics with members or watchers.
    #[must_use]
    pub fn len(&self) -> usize {
        self.topics.len()
    }

    /// Whether there are none.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.topics.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_connection_joins_once_and_leaves_with_its_last_subscription() {
        let mut p = Presence::default();
        assert!(p.join("/room", ConnId(1), 10));
        assert!(!p.join("/room", ConnId(1), 20), "a second subscription");
        assert!(p.join("/room", ConnId(2), 30));
        assert_eq!(p.members("/room")[0].since, 10);
        assert!(!p.leave("/room", ConnId(1), false));
        assert!(p.leave("/room", ConnId(1), false));
        assert!(p.leave("/room", ConnId(2), true), "all at once");
        assert!(p.is_empty(), "nothing left of the topic");
    }

    #[test]
    fn watchers_are_kept_apart_from_members() {
        let mut p = Presence::default();
        p.watch("/room", ConnId(5));
        p.watch("/room", ConnId(5));
        assert_eq!(p.watchers("/room"), [ConnId(5)]);
        assert!(p.members("/room").is_empty());
        p.unwatch("/room", ConnId(5));
        assert!(p.is_empty());
    }
}
