//! [`Session`]: the router's view of one connection.

use super::delivery::{DeliveryRule, Profile, Recipient};
use super::subs::{CacheHint, SubId};
use super::topics::TopicId;

/// Per-connection routing state.
#[derive(Debug)]
pub(super) struct Session {
    /// What the connection's door told the router at the start.
    pub profile: Profile,
    /// Reverse index: this connection's subscriptions, so cancelling and
    /// disconnecting cost this client's subscriptions, not all of them.
    pub subs: Vec<SubId>,
    /// The last publish this session was collected for (deduplication
    /// without a per-publish set), or that it published with echo off.
    pub seen_in: u64,
    /// The topic this client last published on and its id: a publisher
    /// usually repeats its topic, and a string compare is cheaper than a hash
    /// lookup. The id's generation guards against the topic's removal.
    pub last_publish: Option<(String, TopicId)>,
    /// Where the matches of its last published topic sit in the cache.
    pub cache_hint: CacheHint,
    /// The name it gave in `HELLO`, if any.
    pub name: Option<std::sync::Arc<str>>,
    /// This session's number among all started (never reused, unlike
    /// connection ids).
    pub serial: u64,
    /// Sent nothing for the away delay (presence).
    pub away: bool,
    /// The topics it is a presence member of.
    pub present_on: Vec<Box<str>>,
    /// Whether it receives its own publishes.
    pub echo: bool,
    /// It said `HELLO` (v2): it is told of messages too large for it.
    pub said_hello: bool,
}

impl Session {
    /// A session with no subscriptions, numbered `serial`.
    pub fn new(profile: Profile, serial: u64) -> Self {
        Session {
            profile,
            subs: Vec::new(),
            seen_in: 0,
            last_publish: None,
            cache_hint: CacheHint::default(),
            name: None,
            serial,
            away: false,
            present_on: Vec::new(),
            echo: true,
            said_hello: false,
        }
    }
}

/// Adds `r` to the recipients of the delivery stamped `stamp`, in its
/// session's form, unless its connection delivers once and has it already,
/// or is a publisher that does not want its own messages.
#[inline(always)]
pub(super) fn collect(
    sessions: &mut [Option<Session>],
    by_form: &mut Vec<Vec<Recipient>>,
    stamp: u64,
    r: Recipient,
) {
    let Some(Some(s)) = sessions.get_mut(r.conn.0) else {
        return;
    };
    // Collected already, or the publisher itself with echo off.
    if s.seen_in == stamp {
        return;
    }
    if s.profile.rule == DeliveryRule::OncePerConnection {
        s.seen_in = stamp;
    }
    let form = s.profile.form.index();
    if by_form.len() <= form {
        by_form.resize_with(form + 1, Vec::new);
    }
    by_form[form].push(r);
}
