//! The router: every rule of the broker that is not about sockets or bytes.
//!
//! It owns the topic tree, the subscription index and one [`Session`] per
//! connection, takes [`Command`]s that doors decoded, and answers through an
//! [`Outbox`]. It never touches a socket or an encoding, so its rules are unit
//! tested with a recording outbox.
//!
//! A delivery goes to its recipients grouped by [`Form`], so the outbox
//! encodes it once per form, never once per subscriber; a connection that
//! delivers once per connection is deduplicated with a fan-out stamp on its
//! session instead of a per-publish set.

use log::debug;

use super::clock::Clock;
use super::command::{Command, CoreError, Hello, HistoryQuery, List};
use super::dedup::Dedup;
use super::delivery::{Form, Greeting, Notice, Profile, Recipient};
use super::groups::GroupId;
use super::inboxes::Inboxes;
use super::keyspace::Keyspace;
use super::outbox::Outbox;
use super::presence::Presence;
use super::replay::Recall;
use super::session::Session;
use super::subs::SubTag;
use super::subs::SubscriptionIndex;
use super::topics::TopicTree;
use super::ConnId;
use crate::store::Batch;

#[path = "router_keys.rs"]
mod keys;
#[path = "router_presence.rs"]
mod presence;
#[path = "router_publish.rs"]
mod publish;
#[path = "router_store.rs"]
mod store;
#[path = "router_subscribe.rs"]
mod subscribe;
#[path = "router_view.rs"]
mod view;

pub use view::SessionView;

/// The router's limits and numbering, fixed at start-up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouterConfig {
    /// Most topics; a request that would create more is refused.
    pub max_topics: usize,
    /// Most bytes of kept JSON text; the oldest history goes first, and a
    /// publish whose topic's newest messages would not fit is refused.
    pub max_retained: usize,
    /// Messages kept per topic (1 is v1's retention).
    pub history: usize,
    /// Kept messages older than this (milliseconds) leave history, but for
    /// each topic's newest; `None` keeps them regardless of age.
    pub history_ttl: Option<u64>,
    /// Names this lifetime of the numbering (v2 `epoch`).
    pub epoch: String,
    /// Each connection's pending-output limit, as `HELLO` reports it.
    pub max_output: usize,
    /// Most subscriptions one connection may hold.
    pub max_subscriptions: usize,
    /// How long a publish id is remembered (milliseconds, v2 §15).
    pub dedup_window_ms: u64,
    /// Most publish ids remembered at once.
    pub dedup_max: usize,
    /// After how long without input a present client is away (milliseconds,
    /// v2 §16); `None`: never.
    pub away_ms: Option<u64>,
    /// Most bytes the key space holds (Redis strings).
    pub max_key_bytes: usize,
}

impl Default for RouterConfig {
    fn default() -> Self {
        RouterConfig {
            max_topics: usize::MAX,
            max_retained: usize::MAX,
            history: 100,
            history_ttl: None,
            epoch: "0".to_owned(),
            max_output: usize::MAX,
            max_subscriptions: usize::MAX,
            dedup_window_ms: 120_000,
            dedup_max: 100_000,
            away_ms: Some(60_000),
            max_key_bytes: 64 << 20,
        }
    }
}

/// Routing state; see the module docs.
#[derive(Debug)]
pub struct Router {
    topics: TopicTree,
    subs: SubscriptionIndex,
    sessions: Vec<Option<Session>>,
    /// Counts fan-outs: a session stamped with the current count was
    /// collected already.
    fan_outs: u64,
    /// The recipients of the delivery being fanned out, by form index.
    by_form: Vec<Vec<Recipient>>,
    /// The connections a topic announcement goes to, by form index.
    announce_to: Vec<Vec<ConnId>>,
    /// The queue-group members matching the delivery being fanned out.
    grouped: Vec<(GroupId, Recipient)>,
    /// Publish ids in the deduplication window.
    dedup: Dedup,
    /// Reply inboxes and their subscribers.
    inboxes: Inboxes,
    /// Who is on which topic.
    presence: Presence,
    /// Keys and values (Redis strings).
    keys: Keyspace,
    /// Sessions started, to number them (deduplication of unnamed clients).
    sessions_started: u64,
    config: RouterConfig,
    /// When messages are accepted.
    clock: Clock,
    /// With a durable store: this loop turn's accepted messages and publish
    /// ids, as records for the store's writer.
    journal: Option<Batch>,
    /// The store cannot write: publishes are refused.
    storage_failing: bool,
    /// A compaction in progress: how far the copy of live records went.
    compaction: Option<store::Compaction>,
}

impl Default for Router {
    fn default() -> Self {
        Router::new(RouterConfig::default())
    }
}

impl Router {
    /// A router with no topics and no sessions.
    #[must_use]
    pub fn new(config: RouterConfig) -> Self {
        Router {
            topics: TopicTree::new(config.max_topics, config.history),
            subs: SubscriptionIndex::default(),
            sessions: Vec::new(),
            fan_outs: 0,
            by_form: Vec::new(),
            announce_to: Vec::new(),
            grouped: Vec::new(),
            dedup: Dedup::new(config.dedup_window_ms, config.dedup_max),
            inboxes: Inboxes::default(),
            presence: Presence::default(),
            keys: Keyspace::new(config.max_key_bytes),
            sessions_started: 0,
            config,
            clock: Clock::default(),
            journal: None,
            storage_failing: false,
            compaction: None,
        }
    }

    /// A new loop turn: the next message reads the clock again.
    pub fn tick(&mut self) {
        self.clock.tick();
    }

    /// Sets the time messages are accepted at (milliseconds since the Unix
    /// epoch) until the next [`Router::tick`].
    pub fn set_clock(&mut self, now: u64) {
        self.clock.set(now);
    }

    /// Messages accepted before this are past the age bound (0 without one).
    fn cutoff(&mut self) -> u64 {
        match self.config.history_ttl {
            Some(ttl) => self.clock.now().saturating_sub(ttl),
            None => 0,
        }
    }

    /// Forgets publish ids whose deduplication window has passed.
    pub fn expire_ids(&mut self) {
        let now = self.clock.now();
        self.dedup.expire(now);
    }

    /// Removes kept messages past the age bound, if there is one; returns
    /// how many left.
    pub fn expire(&mut self) -> usize {
        match self.config.history_ttl {
            Some(_) => {
                let cutoff = self.cutoff();
                self.topics.expire(cutoff)
            }
            None => 0,
        }
    }

    /// The name of this lifetime of the numbering.
    #[must_use]
    pub fn epoch(&self) -> &str {
        &self.config.epoch
    }

    /// How kept messages are read for `to`, expired ones being those
    /// accepted before `cutoff`.
    fn recall(&self, to: ConnId, form: Form, cutoff: u64) -> Recall<'_> {
        Recall {
            to,
            tag: SubTag::NONE,
            form,
            epoch: &self.config.epoch,
            cutoff,
            content: None,
            size_gaps: self.session(to).is_some_and(|s| s.said_hello),
        }
    }

    /// Starts the session of a connection whose door is ready, replacing
    /// anything left under its id.
    pub fn connect(&mut self, id: ConnId, profile: Profile) {
        if self.sessions.len() <= id.0 {
            self.sessions.resize_with(id.0 + 1, || None);
        }
        self.sessions_started += 1;
        self.sessions[id.0] = Some(Session::new(profile, self.sessions_started));
    }

    /// Forgets a connection and all its subscriptions. Notices its departure
    /// causes to others (presence leaves) go through `out`; calling it again
    /// does nothing.
    pub fn disconnect(&mut self, id: ConnId, out: &mut impl Outbox) {
        let Some(subs) = self.session_mut(id).map(|s| std::mem::take(&mut s.subs)) else {
            return;
        };
        for sub in subs {
            if let Some(gone) = self.subs.remove(sub) {
                self.forget(id, &gone, out);
            }
        }
        self.sessions[id.0] = None;
    }

    /// The topic tree, for inspection.
    #[must_use]
    pub fn tree(&self) -> &TopicTree {
        &self.topics
    }

    /// The subscription index, for inspection.
    #[must_use]
    pub fn subscriptions(&self) -> &SubscriptionIndex {
        &self.subs
    }

    /// Who is on which topic, for inspection.
    #[must_use]
    pub fn presence(&self) -> &Presence {
        &self.presence
    }

    /// The reply inboxes in use, for inspection.
    #[must_use]
    pub fn inboxes(&self) -> &Inboxes {
        &self.inboxes
    }

    /// The publish ids in the deduplication window, for inspection.
    #[must_use]
    pub fn dedup(&self) -> &Dedup {
        &self.dedup
    }

    fn session(&self, id: ConnId) -> Option<&Session> {
        self.sessions.get(id.0).and_then(Option::as_ref)
    }

    fn session_mut(&mut self, id: ConnId) -> Option<&mut Session> {
        self.sessions.get_mut(id.0).and_then(Option::as_mut)
    }

    /// Sends `notice` to `to` alone, in its form.
    fn tell(&self, to: ConnId, notice: &Notice<'_>, out: &mut impl Outbox) {
        if let Some(form) = self.session(to).map(|s| s.profile.form) {
            out.notify(form, notice, &[to]);
        }
    }

    /// Applies one request of connection `from`; every answer and delivery
    /// goes through `out`. A refused request gets one [`Notice::Refused`]
    /// and has no effect. Requests from a connection with no session are
    /// ignored.
    #[inline]
    pub fn handle(&mut self, from: ConnId, command: Command<'_>, out: &mut impl Outbox) {
        if self.session(from).is_none() {
            return;
        }
        match command {
            Command::Publish(p) => self.publish(from, p, out),
            Command::Subscribe(s) => self.subscribe(from, s, out),
            Command::Cancel(c) => self.cancel(from, &c, out),
            Command::List(l) => self.list(from, &l, out),
            Command::Hello(h) => self.hello(from, h, out),
            Command::History(q) => self.history(from, &q, out),
            Command::Who(t) => self.who(from, &t, out),
            Command::Unsubscribe(tag) => self.unsubscribe(from, tag, out),
            Command::Echo(echo) => {
                if let Some(s) = self.session_mut(from) {
                    s.echo = echo;
                }
            }
            Command::Batch(commands) => {
                for c in commands {
                    self.handle(from, c, out);
                }
            }
            Command::Channels(q) => self.channels(from, q, out),
            Command::Keys(k) => self.keys(from, k, out),
            Command::Sync(n) => self.tell(from, &Notice::Synced(n), out),
        }
    }

    fn hello(&mut self, from: ConnId, h: Hello<'_>, out: &mut impl Outbox) {
        let Some(session) = self.sessions.get_mut(from.0).and_then(Option::as_mut) else {
            return;
        };
        let old = session.name.clone();
        session.said_hello = true;
        if let Some(name) = h.name {
            session.name = Some(name.as_ref().into());
        }
        if let Some(policy) = h.slow {
            out.set_slow_policy(from, policy);
        }
        let form = session.profile.form;
        let greeting = Greeting {
            epoch: &self.config.epoch,
            conn: from,
            history: self.config.history,
            max_output: self.config.max_output,
        };
        out.notify(form, &Notice::Hello(greeting), &[from]);
        self.renamed(from, old, out);
    }

    fn history(&mut self, from: ConnId, q: &HistoryQuery<'_>, out: &mut impl Outbox) {
        if let Some(form) = self.session(from).map(|s| s.profile.form) {
            let cutoff = self.cutoff();
            self.recall(from, form, cutoff)
                .history(&self.topics, q, out);
        }
    }

    fn list(&mut self, from: ConnId, l: &List<'_>, out: &mut impl Outbox) {
        let Some(form) = self.session(from).map(|s| s.profile.form) else {
            return;
        };
        let notice = if !self.topics.has_listed() {
            Notice::NoTopics
        } else {
            Notice::Topics {
                list: self.topics.list(),
                after: l.after.as_deref(),
            }
        };
        out.notify(form, &notice, &[from]);
    }

    /// Tells every connection that holds a subscription and wants
    /// announcements the new topic list.
    fn announce(&mut self, out: &mut impl Outbox) {
        let Router {
            sessions,
            announce_to,
            ..
        } = self;
        announce_to.iter_mut().for_each(Vec::clear);
        for (i, session) in sessions.iter().enumerate() {
            let Some(s) = session else {
                continue;
            };
            if s.profile.announcements && !s.subs.is_empty() {
                let form = s.profile.form.index();
                if announce_to.len() <= form {
                    announce_to.resize_with(form + 1, Vec::new);
                }
                announce_to[form].push(ConnId(i));
            }
        }
        let notice = Notice::Topics {
            list: self.topics.list(),
            after: None,
        };
        for (form, to) in (0..=u8::MAX).map(Form).zip(self.announce_to.iter()) {
            if !to.is_empty() {
                out.announce(form, &notice, to);
            }
        }
    }

    /// Sends `to` one refusal of its request about `topic`.
    fn refuse(&self, to: ConnId, topic: &str, error: &CoreError, out: &mut impl Outbox) {
        let Some(form) = self.session(to).map(|s| s.profile.form) else {
            return;
        };
        debug!("conn {}: refused: {error}", to.0);
        let notice = Notice::Refused { topic, error };
        out.notify(form, &notice, &[to]);
    }
}
