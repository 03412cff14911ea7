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
use protocol::topic::is_under;
use protocol::Body;

use super::clock::Clock;
use super::command::{
    Cancel, Command, CoreError, Filter, Hello, HistoryQuery, List, Publish, Subscribe,
};
use super::delivery::{Delivery, DeliveryKind, Form, Greeting, Notice, Profile, Recipient};
use super::fan_out::FanOut;
use super::groups::GroupId;
use super::outbox::Outbox;
use super::replay::Recall;
use super::session::Session;
use super::subs::SubscriptionIndex;
use super::topics::{TopicId, TopicLimit, TopicTree};
use super::ConnId;

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
    config: RouterConfig,
    /// When messages are accepted.
    clock: Clock,
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
            config,
            clock: Clock::default(),
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
            form,
            epoch: &self.config.epoch,
            cutoff,
            content: None,
        }
    }

    /// Starts the session of a connection whose door is ready, replacing
    /// anything left under its id.
    pub fn connect(&mut self, id: ConnId, profile: Profile) {
        if self.sessions.len() <= id.0 {
            self.sessions.resize_with(id.0 + 1, || None);
        }
        self.sessions[id.0] = Some(Session::new(profile));
    }

    /// Forgets a connection and all its subscriptions. Notices its departure
    /// causes to others go through `out`; calling it again does nothing.
    pub fn disconnect(&mut self, id: ConnId, _out: &mut impl Outbox) {
        if let Some(session) = self.sessions.get_mut(id.0).and_then(Option::take) {
            for sub in session.subs {
                self.subs.remove(sub);
            }
        }
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

    fn session(&self, id: ConnId) -> Option<&Session> {
        self.sessions.get(id.0).and_then(Option::as_ref)
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
            Command::Cancel(c) => self.cancel(from, &c),
            Command::List(l) => self.list(from, &l, out),
            Command::Hello(h) => self.hello(from, h, out),
            Command::History(q) => self.history(from, &q, out),
        }
    }

    fn hello(&mut self, from: ConnId, h: Hello<'_>, out: &mut impl Outbox) {
        let Some(session) = self.sessions.get_mut(from.0).and_then(Option::as_mut) else {
            return;
        };
        if let Some(name) = h.name {
            session.name = Some(name.into_owned());
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
    }

    fn history(&mut self, from: ConnId, q: &HistoryQuery<'_>, out: &mut impl Outbox) {
        if let Some(form) = self.session(from).map(|s| s.profile.form) {
            let cutoff = self.cutoff();
            self.recall(from, form, cutoff)
                .history(&self.topics, q, out);
        }
    }

    fn publish(&mut self, from: ConnId, p: Publish<'_>, out: &mut impl Outbox) {
        let topic = p.topic.topic.as_str();
        if p.topic.topic.is_root() {
            self.refuse(from, p.topic.sent(), &CoreError::PublishToRoot, out);
            return;
        }
        if let Err(e) = self.check_retained(topic, &p.body) {
            self.refuse(from, p.topic.sent(), &e, out);
            return;
        }
        let (id, created) = match self.publish_topic(from, topic) {
            Ok(found) => found,
            Err(e) => {
                self.refuse(from, p.topic.sent(), &e.into(), out);
                return;
            }
        };
        let ts = self.clock.now();
        let seq = self.topics.record(id, &p.body, ts).unwrap_or_default();
        // Always enough: the newest messages fit (checked above), and only
        // they cannot leave.
        self.topics.make_room(self.config.max_retained);
        if created {
            self.announce(out);
        }
        let delivery = Delivery {
            kind: DeliveryKind::Live,
            topic,
            body: &p.body,
            seq,
            ts,
        };
        self.fan_out(from, id, &delivery, out);
    }

    /// Hands `delivery` to the subscriptions matching `topic`.
    #[inline]
    fn fan_out(
        &mut self,
        from: ConnId,
        topic: TopicId,
        delivery: &Delivery<'_>,
        out: &mut impl Outbox,
    ) {
        self.fan_outs += 1;
        FanOut {
            subs: &mut self.subs,
            sessions: &mut self.sessions,
            by_form: &mut self.by_form,
            grouped: &mut self.grouped,
            stamp: self.fan_outs,
        }
        .run(from, topic, delivery, out);
    }

    /// Whether `body` as the newest message of `topic` keeps the topics'
    /// newest messages, which cannot leave, within the kept-bytes bound
    /// (older history makes room). One addition per publish; the exact check
    /// (which looks the topic up) only runs near the bound.
    #[inline]
    fn check_retained(&self, topic: &str, body: &Body<'_>) -> Result<(), CoreError> {
        let max = self.config.max_retained;
        let new = match body {
            Body::Json { text, .. } => text.len(),
            Body::Value(v) => v.to_string().len(),
        };
        let total = self.topics.newest_bytes();
        if total.saturating_add(new) <= max {
            return Ok(());
        }
        let old = self
            .topics
            .get(topic)
            .map_or(0, |id| self.topics.newest_len(id));
        if (total - old).saturating_add(new) <= max {
            return Ok(());
        }
        Err(CoreError::RetainedLimit { max })
    }

    /// The topic of a publish, created if need be, through the publisher's
    /// last-topic cache.
    #[inline]
    fn publish_topic(&mut self, from: ConnId, topic: &str) -> Result<(TopicId, bool), TopicLimit> {
        let Some(session) = self.sessions.get_mut(from.0).and_then(Option::as_mut) else {
            return self.topics.get_or_create(topic);
        };
        if let Some((last, id)) = &session.last_publish {
            if last == topic && self.topics.contains(*id) {
                return Ok((*id, false));
            }
        }
        let (id, created) = self.topics.get_or_create(topic)?;
        match &mut session.last_publish {
            Some((last, cached)) => {
                last.clear();
                last.push_str(topic);
                *cached = id;
            }
            None => session.last_publish = Some((topic.to_owned(), id)),
        }
        Ok((id, created))
    }

    fn subscribe(&mut self, from: ConnId, s: Subscribe<'_>, out: &mut impl Outbox) {
        let Router { subs, sessions, .. } = self;
        let Some(Some(session)) = sessions.get(from.0) else {
            return;
        };
        // Subscribing again to a filter held replaces its options.
        let held = session.subs.iter().position(|&id| {
            subs.get(id)
                .is_some_and(|x| x.tag == s.tag && x.filter == s.filter)
        });
        let max = self.config.max_subscriptions;
        if held.is_none() && session.subs.len() >= max {
            let error = CoreError::SubscriptionLimit { max };
            self.refuse(from, &s.sent, &error, out);
            return;
        }
        let options = s.options.as_deref();
        let content = match options
            .and_then(|o| o.content.as_deref())
            .map(|text| subs.filters_mut().acquire(text))
        {
            Some(Ok(id)) => Some(id),
            Some(Err(e)) => return self.refuse(from, &s.sent, &e.into(), out),
            None => None,
        };
        let created = match &s.filter {
            Filter::Subtree(topic) => match self.topics.get_or_create(topic.as_str()) {
                Ok((_, created)) => created,
                Err(e) => {
                    if let Some(f) = content {
                        self.subs.filters_mut().release(f);
                    }
                    return self.refuse(from, &s.sent, &e.into(), out);
                }
            },
            Filter::Pattern(_) => false,
        };
        let Router { subs, sessions, .. } = self;
        let Some(Some(session)) = sessions.get_mut(from.0) else {
            return;
        };
        if let Some(i) = held {
            subs.remove(session.subs.swap_remove(i));
        }
        let filter = s.filter.clone().into_owned();
        let group = options.and_then(|o| o.group.as_deref());
        session
            .subs
            .push(subs.insert(from, s.tag, filter, group, content));
        let form = session.profile.form;
        debug!("conn {} subscribed to {}", from.0, s.filter.text());
        if created {
            self.announce(out);
        }
        // A queue-group member gets no replay: the group shares live
        // messages, not the past.
        if group.is_some() || !out.accepts_replay(from) {
            return;
        }
        let cutoff = self.cutoff();
        let mut recall = self.recall(from, form, cutoff);
        recall.content = content.and_then(|f| self.subs.filters().get(f));
        let resume = options.and_then(|o| o.resume.as_ref());
        recall.subscription(&self.topics, &s.filter, resume, out);
    }

    fn cancel(&mut self, from: ConnId, c: &Cancel<'_>) {
        let Router { subs, sessions, .. } = self;
        let Some(Some(session)) = sessions.get_mut(from.0) else {
            return;
        };
        let scope = c.scope.as_str();
        session.subs.retain(|&id| match subs.get(id) {
            Some(sub) if is_under(sub.filter.text(), scope) => {
                subs.remove(id);
                false
            }
            Some(_) => true,
            None => false,
        });
        debug!("conn {} cancelled {scope}", from.0);
    }

    fn list(&mut self, from: ConnId, l: &List<'_>, out: &mut impl Outbox) {
        let Some(form) = self.session(from).map(|s| s.profile.form) else {
            return;
        };
        let notice = if self.topics.is_empty() {
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
