//! What the router shows an operator (the monitoring side): a session's name
//! and subscription count, a topic's subscriber count. Read-only, and none
//! of it is on the path of a message.

use super::{ConnId, Router};

/// A session as monitoring shows it.
#[derive(Debug, Clone, Copy)]
pub struct SessionView<'a> {
    /// The name it gave (`HELLO`), if any.
    pub name: Option<&'a str>,
    /// Subscriptions it holds.
    pub subscriptions: usize,
}

impl Router {
    /// The session of connection `id`, if its handshake is complete.
    #[must_use]
    pub fn session_view(&self, id: ConnId) -> Option<SessionView<'_>> {
        self.session(id).map(|s| SessionView {
            name: s.name.as_deref(),
            subscriptions: s.subs.len(),
        })
    }

    /// How many subscriptions a message on `path` would match (patterns and
    /// subtrees included), before content filters and queue groups pick.
    #[must_use]
    pub fn subscribers_of(&self, path: &str) -> usize {
        self.subscriptions().count_matching(path)
    }
}
