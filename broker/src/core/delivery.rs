//! What the router hands out, and to whom.
//!
//! A [`Delivery`] is one published message on its way to subscribers; a
//! [`Notice`] is anything else the broker tells a client (an answer, an
//! error, a topic announcement). Recipients are grouped by [`Form`], the
//! encoding they need, so that each delivery is encoded once per form, never
//! once per subscriber.

use protocol::Body;

use super::command::CoreError;
use super::history::Entry;
use super::subs::SubTag;
use super::topics::TopicList;
use super::ConnId;

/// One distinct encoding of deliveries: connections of one form receive the
/// same bytes for a message (up to a per-subscription header the door adds
/// around them). Doors number their forms; the router only groups by them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Form(pub u8);

impl Form {
    /// The form as an index into per-form tables.
    #[must_use]
    pub fn index(self) -> usize {
        usize::from(self.0)
    }
}

/// How many copies of one message a connection gets when several of its
/// subscriptions match it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryRule {
    /// One copy per connection (the lab protocol: `/a` and `/a/b` together
    /// still get one copy of a message on `/a/b`).
    OncePerConnection,
    /// One copy per matching subscription, each with its own tag (NATS: one
    /// `MSG` per `sid`).
    OncePerSubscription,
}

/// What the router needs to know of a connection's door, given when its
/// session starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Profile {
    /// The encoding its deliveries take.
    pub form: Form,
    /// How overlapping subscriptions deliver.
    pub rule: DeliveryRule,
    /// Whether it is told of new topics while it holds a subscription (the
    /// lab protocol's `LIST_ACK` push).
    pub announcements: bool,
    /// Whether a new subscription gets kept messages first (the lab's
    /// `LAST_MSG` and resume); protocols without replay (NATS, Redis) get
    /// live messages only.
    pub replay: bool,
}

/// One connection's copy of a delivery, with the tag of the subscription it
/// came through (for doors that deliver per subscription).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Recipient {
    /// Where it goes.
    pub conn: ConnId,
    /// The door's name for the subscription that matched.
    pub tag: SubTag,
}

/// Why a message is being delivered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryKind {
    /// Just published.
    Live,
    /// Retained earlier, replayed to a new subscription (`LAST_MSG`).
    Retained,
    /// Kept earlier, replayed to a subscription that resumes: told as live
    /// deliveries are, but never dropped.
    Resumed,
}

/// A message on its way to one or more connections.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Delivery<'a> {
    /// Live or replayed.
    pub kind: DeliveryKind,
    /// The normalized topic it was published on.
    pub topic: &'a str,
    /// The value.
    pub body: &'a Body<'a>,
    /// Its number on its topic.
    pub seq: u64,
    /// When the broker accepted it, in milliseconds since the Unix epoch.
    pub ts: u64,
    /// Where its publisher wants answers (v2 §15), if anywhere.
    pub reply: Option<&'a str>,
    /// Its NATS header block, if its publisher gave one.
    pub headers: Option<&'a [u8]>,
    /// Its publisher's HELLO name, on a live delivery from a named client
    /// (a chat `message`'s `sender` for a value that is not a chat one).
    pub publisher: Option<&'a str>,
}

/// The answer to a publish that asked for one (v2 §15 `PUBACK`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PubAck<'a> {
    /// The normalized topic.
    pub topic: &'a str,
    /// The message's number on it.
    pub seq: u64,
    /// Connections it was queued for.
    pub receivers: u64,
    /// The publisher's id for it, if it gave one.
    pub id: Option<&'a str>,
    /// The id was used already: this repeats the first answer, and the
    /// message was not stored or delivered again.
    pub duplicate: bool,
}

/// What happened to a client on a topic (v2 §16).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PresenceAction {
    /// It subscribed to the topic.
    Join,
    /// It cancelled that subscription or disconnected.
    Leave,
    /// It sent nothing for the away delay.
    Away,
    /// It sent something after being away.
    Back,
}

impl PresenceAction {
    /// The action as the protocol names it.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            PresenceAction::Join => "join",
            PresenceAction::Leave => "leave",
            PresenceAction::Away => "away",
            PresenceAction::Back => "back",
        }
    }
}

/// A presence event on a topic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PresenceEvent<'a> {
    /// The exact topic.
    pub topic: &'a str,
    /// The client's name.
    pub name: &'a str,
    /// Its connection.
    pub conn: ConnId,
    /// What happened.
    pub action: PresenceAction,
    /// When, in milliseconds since the Unix epoch.
    pub ts: u64,
}

/// One client on a topic, in a `WHO` answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Present {
    /// Its name.
    pub name: String,
    /// Its connection.
    pub conn: ConnId,
    /// Whether it is away.
    pub away: bool,
    /// When it joined the topic, in milliseconds since the Unix epoch.
    pub since: u64,
}

/// The broker's answer to `HELLO`: what a client may rely on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Greeting<'a> {
    /// Names the lifetime of the numbering.
    pub epoch: &'a str,
    /// The connection's id.
    pub conn: ConnId,
    /// Messages kept per topic.
    pub history: usize,
    /// The connection's pending-output limit, in bytes.
    pub max_output: usize,
}

/// The answer to a `HISTORY` request.
#[derive(Debug, Clone, Copy)]
pub struct HistoryPage<'a> {
    /// The topic asked about.
    pub topic: &'a str,
    /// The topic's current number (0 if it has none).
    pub seq: u64,
    /// The oldest kept number, if any.
    pub first: Option<u64>,
    /// The messages asked for, oldest first; a door sends as many as its
    /// frame holds.
    pub items: &'a [&'a Entry],
    /// The broker's numbering, for the `GAP` (reason `size`) of an item too
    /// large for the door's frames.
    pub epoch: &'a str,
}

/// Why messages were not delivered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GapReason {
    /// They are no longer kept.
    History,
    /// The numbering restarted: the numbers are the client's.
    Epoch,
    /// The connection did not read fast enough (slow policy "drop").
    Slow,
    /// They are too large for the client's protocol.
    Size,
}

impl GapReason {
    /// The reason as the protocol names it.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            GapReason::History => "history",
            GapReason::Epoch => "epoch",
            GapReason::Slow => "slow",
            GapReason::Size => "size",
        }
    }
}

/// Messages `from..=to` of `topic` were not and will not be delivered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Gap<'a> {
    /// The topic.
    pub topic: &'a str,
    /// The first missing number.
    pub from: u64,
    /// The last missing number.
    pub to: u64,
    /// Why.
    pub reason: GapReason,
    /// The broker's current numbering.
    pub epoch: &'a str,
}

/// The answer to a [`crate::core::Command::Keys`] or
/// [`crate::core::Command::Channels`] request: the few shapes a key-value
/// answer takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reply<'a> {
    /// Done.
    Ok,
    /// No value (a missing key, a `SET` whose condition failed).
    Nil,
    /// A number.
    Int(i64),
    /// A value.
    Bytes(&'a [u8]),
    /// Topics, sorted.
    Topics(&'a [&'a str]),
    /// A count per name, in the order asked.
    Counts(&'a [(&'a [u8], u64)]),
}

/// Something the broker tells one client that is not a delivery.
#[derive(Debug, Clone, Copy)]
pub enum Notice<'a> {
    /// The topics sorting after `after` (all of them without it), as many as
    /// the door's frames hold: the answer to a topic-list request, and (from
    /// the start) the announcement of new topics.
    Topics {
        /// The topics.
        list: TopicList<'a>,
        /// List only the topics sorting strictly after this text.
        after: Option<&'a str>,
    },
    /// The answer to a topic-list request when there are no topics at all.
    NoTopics,
    /// The answer to `HELLO`.
    Hello(Greeting<'a>),
    /// The answer to `HISTORY`.
    History(HistoryPage<'a>),
    /// Messages that were not delivered.
    Gap(Gap<'a>),
    /// The answer to a publish that asked for one.
    PubAck(PubAck<'a>),
    /// A request (a publish with a reply topic) reached nobody.
    NoResponders {
        /// The reply topic the request named.
        reply: &'a str,
        /// The request's topic.
        topic: &'a str,
    },
    /// Someone joined, left, went away or came back.
    Presence(PresenceEvent<'a>),
    /// The answer to `WHO`: the named clients on a topic, sorted by name
    /// then connection.
    Who {
        /// The topic asked about.
        topic: &'a str,
        /// Who is on it.
        present: &'a [Present],
    },
    /// The answer to a key-space or channel-introspection request.
    Reply(Reply<'a>),
    /// The requests before a [`crate::core::Command::Sync`] with this
    /// number are done.
    Synced(u64),
    /// A refused request.
    Refused {
        /// The request's topic as the client sent it.
        topic: &'a str,
        /// Why.
        error: &'a CoreError,
    },
}
