//! What doors ask of the router, and why the router refuses.
//!
//! A door turns its clients' bytes into these values: topics already
//! validated and normalized in the door's own syntax, values already checked.
//! Everything here may borrow from the bytes the door decoded, so a publish
//! reaches the router without a copy.

use std::borrow::Cow;

use protocol::topic::is_under;
use protocol::{Body, Pattern, Topic};

use super::content_filter::FilterError;
use super::glob::Glob;
use super::keyspace::KeyCommand;
use super::subs::SubTag;
use super::topics::TopicLimit;

/// A request from a client, decoded by its door.
#[derive(Debug, Clone, PartialEq)]
pub enum Command<'a> {
    /// Store a message on a topic and deliver it to the topic's subscribers.
    Publish(Publish<'a>),
    /// Add a subscription.
    Subscribe(Subscribe<'a>),
    /// Remove subscriptions.
    Cancel(Cancel<'a>),
    /// Ask for the topic list.
    List(List<'a>),
    /// Set connection options (v2 `HELLO`) and learn the broker's.
    Hello(Hello<'a>),
    /// Ask for a topic's kept messages (v2 `HISTORY`).
    History(HistoryQuery<'a>),
    /// Ask who is on a topic (v2 `WHO`).
    Who(TopicArg<'a>),
    /// Remove the sending connection's subscription with this tag (a NATS
    /// `UNSUB`).
    Unsubscribe(SubTag),
    /// Whether the sending connection receives its own publishes (NATS
    /// `CONNECT` `echo`; on by default).
    Echo(bool),
    /// Several requests, applied in order (a Redis `SUBSCRIBE a b c`).
    Batch(Vec<Command<'a>>),
    /// Ask about Redis channel and glob subscriptions (`PUBSUB`).
    Channels(ChannelQuery<'a>),
    /// Act on the key space (Redis strings).
    Keys(KeyCommand<'a>),
    /// Answer [`crate::core::Notice::Synced`] with this number: every
    /// request before it is done (a door whose protocol ends each request
    /// explicitly, as gRPC's Session stream does).
    Sync(u64),
}

/// A question about Redis subscriptions (front door), answered with a
/// [`crate::core::Reply`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChannelQuery<'a> {
    /// The topics with channel subscriptions whose channel name matches the
    /// glob, if one is given (`PUBSUB CHANNELS [pattern]`), sorted.
    Channels(Option<Glob<'a>>),
    /// The channel subscriptions of each topic, by the name the client used
    /// (`None`: a name that is no topic, none) (`PUBSUB NUMSUB`).
    NumSub(Vec<(Cow<'a, [u8]>, Option<Topic<'a>>)>),
    /// The distinct glob patterns subscribed to (`PUBSUB NUMPAT`).
    NumPat,
}

/// A topic as a request names it: valid and normalized, plus the text the
/// client sent when that differs (`//a/` for `/a`), since a refusal quotes
/// the client's own text (the lab protocol's `ERROR` does).
#[derive(Debug, Clone, PartialEq)]
pub struct TopicArg<'a> {
    /// The normalized topic.
    pub topic: Topic<'a>,
    /// The text as sent, when it is not already `topic`.
    pub sent: Option<Cow<'a, str>>,
}

impl<'a> TopicArg<'a> {
    /// An argument sent in normal form.
    #[must_use]
    pub fn new(topic: Topic<'a>) -> Self {
        TopicArg { topic, sent: None }
    }

    /// The text the client sent.
    #[must_use]
    pub fn sent(&self) -> &str {
        self.sent.as_deref().unwrap_or(self.topic.as_str())
    }
}

/// Store `body` as the last message of `topic` and deliver it.
#[derive(Debug, Clone, PartialEq)]
pub struct Publish<'a> {
    /// Where to publish.
    pub topic: TopicArg<'a>,
    /// The value, as validated JSON text (or a tree).
    pub body: Body<'a>,
    /// Answer with a `PUBACK` (v2 §15).
    pub ack: bool,
    /// Its `id` and `reply`, if it has either (boxed as a subscription's
    /// options are).
    pub keys: Option<Box<PublishKeys>>,
}

/// What a publish may carry besides its topic, value and `ack` (v2 §15).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PublishKeys {
    /// The publisher's id for the message, for deduplication (1 to 128
    /// bytes, checked by the door).
    pub id: Option<String>,
    /// Where answers go: a normalized topic without patterns.
    pub reply: Option<String>,
    /// A NATS header block (`NATS/1.0\r\n...\r\n\r\n`), passed to NATS
    /// subscribers that read headers; other doors have no headers, and it
    /// is not kept.
    pub headers: Option<Vec<u8>>,
}

/// What a subscription matches. Each door builds the filters its protocol
/// has; the index matches them all in one trie.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Filter<'a> {
    /// The topic and every topic under it, by whole segments (the lab's
    /// subscription: `/msg` receives `/msg` and `/msg/x`, never `/msgs`).
    Subtree(Topic<'a>),
    /// The lab's pattern (v2): `*` segments match any one segment, then the
    /// subtree rule applies (`/time/*/east` receives `/time/us/east/atlanta`).
    /// It names no topic, so subscribing creates none.
    Pattern(Pattern<'a>),
    /// A NATS subject (front door): tokens are segments, `*` matches one,
    /// a trailing `>` one or more, and otherwise a subject matches only
    /// itself (no subtree rule). Subscribing creates no topic.
    Nats(NatsFilter<'a>),
    /// A Redis channel (front door): exactly this topic, nothing under it
    /// (`SUBSCRIBE a/b` is `/a/b` alone). Subscribing creates no topic.
    Channel(Topic<'a>),
    /// A Redis glob pattern (front door, `PSUBSCRIBE`) over the channel
    /// name, the topic without its leading `/`: `*` crosses `/` and `:`.
    /// Subscribing creates no topic.
    Glob(Glob<'a>),
}

/// A NATS subject as a filter, in the lab's form: the segments before a
/// trailing `>` (`*` kept), and whether there was one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NatsFilter<'a> {
    /// The path, then `/>` when the subject ends in `>` (`/time/us/>`;
    /// `/>` for `>` alone).
    text: Cow<'a, str>,
    deeper: bool,
}

impl<'a> NatsFilter<'a> {
    /// `path` alone, or with one or more segments after it (`deeper`, a
    /// trailing `>`).
    #[must_use]
    pub fn new(path: Pattern<'a>, deeper: bool) -> Self {
        let text = match (deeper, path.as_str()) {
            (false, _) => Cow::Owned(path.as_str().to_owned()),
            (true, "/") => Cow::Borrowed("/>"),
            (true, p) => Cow::Owned(format!("{p}/>")),
        };
        NatsFilter { text, deeper }
    }

    /// The segments before `>`, in the lab's form (`/` for `>` alone).
    #[must_use]
    pub fn path(&self) -> &str {
        match self.text.strip_suffix("/>") {
            Some("") => "/",
            Some(p) => p,
            None => &self.text,
        }
    }

    /// Whether the subject ends in `>`.
    #[must_use]
    pub fn deeper(&self) -> bool {
        self.deeper
    }

    /// The same filter, owning its text.
    #[must_use]
    pub fn into_owned(self) -> NatsFilter<'static> {
        NatsFilter {
            text: Cow::Owned(self.text.into_owned()),
            deeper: self.deeper,
        }
    }

    /// The topic every match lies under: the segments before the first
    /// `*`.
    #[must_use]
    pub fn fixed_prefix(&self) -> &str {
        let path = self.path();
        match path.find("/*") {
            Some(0) => "/",
            Some(at) => &path[..at],
            None => path,
        }
    }

    /// Whether a message on the normalized topic `topic` matches: each
    /// segment of the path matches one of the topic's (`*` any), then
    /// nothing may follow, or (with `>`) at least one segment must.
    #[must_use]
    pub fn matches(&self, topic: &str) -> bool {
        let mut rest = protocol::topic::segments(topic);
        let path_matches = protocol::topic::segments(self.path()).all(|p| {
            rest.next()
                .is_some_and(|t| p == protocol::pattern::ANY || p == t)
        });
        path_matches && rest.next().is_some() == self.deeper
    }
}

impl Filter<'_> {
    /// The same filter, owning its text (to be stored).
    #[must_use]
    pub fn into_owned(self) -> Filter<'static> {
        match self {
            Filter::Subtree(t) => Filter::Subtree(t.into_owned()),
            Filter::Pattern(p) => Filter::Pattern(p.into_owned()),
            Filter::Nats(n) => Filter::Nats(n.into_owned()),
            Filter::Channel(t) => Filter::Channel(t.into_owned()),
            Filter::Glob(g) => Filter::Glob(g.into_owned()),
        }
    }

    /// The filter's text, as subscribed.
    #[must_use]
    pub fn text(&self) -> &str {
        match self {
            Filter::Subtree(t) => t.as_str(),
            Filter::Pattern(p) => p.as_str(),
            Filter::Nats(n) => &n.text,
            Filter::Channel(t) => t.as_str(),
            Filter::Glob(g) => g.as_str(),
        }
    }

    /// The filter's segments, `*` included, as the filter trie keys them
    /// (a NATS `>` is not one: it says which list of the node holds it; a
    /// Redis glob is keyed by the whole segments it starts with literally,
    /// and tried against the topics under them).
    pub fn segments(&self) -> impl Iterator<Item = &str> {
        let path = match self {
            Filter::Nats(n) => n.path(),
            Filter::Glob(g) => g.literal_prefix(),
            other => other.text(),
        };
        protocol::topic::segments(path)
    }

    /// The topic every match lies under.
    #[must_use]
    pub fn fixed_prefix(&self) -> &str {
        match self {
            Filter::Subtree(t) => t.as_str(),
            Filter::Pattern(p) => p.fixed_prefix(),
            Filter::Nats(n) => n.fixed_prefix(),
            Filter::Channel(t) => t.as_str(),
            // A glob's literal prefix has no leading `/`: the root is a
            // safe bound (no door that replays makes globs).
            Filter::Glob(_) => "/",
        }
    }

    /// Whether a message on the normalized topic `topic` matches.
    #[must_use]
    pub fn matches(&self, topic: &str) -> bool {
        match self {
            Filter::Subtree(t) => is_under(topic, t.as_str()),
            Filter::Pattern(p) => p.matches(topic),
            Filter::Nats(n) => n.matches(topic),
            Filter::Channel(t) => t.as_str() == topic,
            Filter::Glob(g) => g.matches(topic.strip_prefix('/').unwrap_or(topic).as_bytes()),
        }
    }
}

/// Add a subscription for the sending connection.
#[derive(Debug, Clone, PartialEq)]
pub struct Subscribe<'a> {
    /// What it matches; its topic, for a subtree, is created if missing.
    pub filter: Filter<'a>,
    /// The topic text as the request sent it (refusals quote it).
    pub sent: Cow<'a, str>,
    /// The door's own name for the subscription (a NATS `sid`); doors that
    /// name subscriptions by their filter alone send [`SubTag::NONE`].
    pub tag: SubTag,
    /// Its v2 options, if it has any (boxed: rare, and every command is as
    /// large as its largest kind; a larger command costs every publish).
    pub options: Option<Box<SubscribeOptions>>,
}

/// What a subscription may ask besides its filter (v2 §13-15).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SubscribeOptions {
    /// What the client has seen already, in place of the `LAST_MSG` replay.
    pub resume: Option<Resume>,
    /// The queue group it joins, if any.
    pub group: Option<String>,
    /// Its content filter's CEL expression, if any.
    pub content: Option<String>,
    /// Tell this subscriber who joins and leaves its topic (v2 §16; exact
    /// topics only, checked by the door).
    pub presence: bool,
}

/// A subscriber's position after a lost connection: the numbers it has seen
/// up to, per topic, in the broker's numbering named `epoch`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Resume {
    /// The numbering the positions are in.
    pub epoch: String,
    /// Normalized topic to the last number seen on it.
    pub seen: std::collections::HashMap<String, u64>,
}

/// What happens to a connection whose pending output passes its limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SlowPolicy {
    /// It is closed (v1).
    #[default]
    Disconnect,
    /// Deliveries to it are dropped, then told as gaps once it drains.
    Drop,
}

/// Connection options; what is absent stays as it was.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Hello<'a> {
    /// The client's name (presence, deduplication).
    pub name: Option<Cow<'a, str>>,
    /// Its slow-consumer policy.
    pub slow: Option<SlowPolicy>,
}

/// Ask for the messages kept on one topic.
#[derive(Debug, Clone, PartialEq)]
pub struct HistoryQuery<'a> {
    /// The exact topic.
    pub topic: TopicArg<'a>,
    /// Only messages numbered above this.
    pub since: u64,
    /// Only the newest this many of those.
    pub limit: Option<usize>,
}

/// Remove the sending connection's subscriptions whose filter text is the
/// scope or lies under it, segment by segment (`*` compared as text).
#[derive(Debug, Clone, PartialEq)]
pub struct Cancel<'a> {
    /// Where to cancel: a topic or a pattern.
    pub scope: Pattern<'a>,
}

/// Ask for the topics sorting after a cursor (all of them without one).
#[derive(Debug, Clone, PartialEq)]
pub struct List<'a> {
    /// List the topics sorting strictly after this text.
    pub after: Option<Cow<'a, str>>,
}

/// Why the router refused a request. Each door renders it in its own
/// protocol (the lab's `ERROR` frame carries the `Display` text).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CoreError {
    /// The root holds no messages.
    #[error("cannot publish to the root topic")]
    PublishToRoot,
    /// Creating the topic would pass the limit on topics.
    #[error(transparent)]
    TopicLimit(#[from] TopicLimit),
    /// Retaining the message would pass the limit on retained bytes.
    #[error("retained data limit reached: the broker keeps at most {max} bytes of last messages")]
    RetainedLimit {
        /// The limit, in bytes of JSON text.
        max: usize,
    },
    /// A content filter that does not compile or is too long.
    #[error(transparent)]
    Filter(#[from] FilterError),
    /// Deduplication and presence need what the broker knows of a client
    /// that is over its bound.
    #[error("{what} limit reached: the broker holds at most {max}")]
    StateLimit {
        /// What is full.
        what: &'static str,
        /// The limit.
        max: usize,
    },
    /// A write would pass the key space's bound.
    #[error("key space limit reached: the broker keeps at most {max} bytes of keys")]
    KeyspaceFull {
        /// The limit, in bytes.
        max: usize,
    },
    /// The data directory cannot be written (a full disk): nothing is
    /// accepted that could not be kept.
    #[error("storage unavailable: the broker cannot write its data directory; retry later")]
    Storage,
    /// A new subscription would pass the limit per connection.
    #[error("subscription limit reached: a connection holds at most {max} subscriptions")]
    SubscriptionLimit {
        /// The limit.
        max: usize,
    },
}
