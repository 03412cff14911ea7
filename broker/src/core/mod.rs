//! The protocol-neutral core: topics, subscriptions and the routing rules.
//!
//! Nothing here sees a socket or the bytes of any protocol. Doors decode their
//! clients' bytes into [`Command`]s; the [`Router`] applies them and answers
//! through an [`Outbox`] in [`Delivery`] and [`Notice`] values, which each door
//! encodes in its own protocol. The reactor implements the outbox; the core
//! imports nothing from it.
//!
//! # Layout
//! - [`command`]: what doors ask ([`Command`]) and the typed refusals ([`CoreError`]).
//! - [`delivery`]: what the router hands out ([`Delivery`], [`Notice`]) and to
//!   whom ([`Recipient`], [`Form`], [`Profile`]).
//! - [`outbox`]: the [`Outbox`] trait the router writes to.
//! - [`router`]: [`Router`], the rules (publishing, subscribing and presence
//!   in child modules); `fan_out`: a delivery to the matching subscriptions.
//! - [`session`]: the router's view of one connection.
//! - [`topics`]: [`TopicTree`], every topic with its [`history`]: numbering
//!   and kept messages.
//! - `replay`: what a subscriber or a `HISTORY` request gets back of what
//!   was kept (v1's `LAST_MSG`, resume, gaps).
//! - [`subs`]: [`SubscriptionIndex`], subscriptions apart from topics, matched
//!   through a filter trie ([`trie`]) and a per-topic match cache.
//! - [`groups`]: queue groups, one member of each getting a message in turn.
//! - [`content_filter`], [`content_filters`]: CEL content filters, compiled
//!   once per text and judged once per message.
//! - [`dedup`]: publish ids in the deduplication window.
//! - [`inboxes`]: reply topics under `/_INBOX`.
//! - [`presence`]: who is on which topic.
//! - `clock`: the time messages are accepted at, read once per loop turn.

mod clock;
pub mod command;
pub mod content_filter;
pub mod content_filters;
pub mod dedup;
pub mod delivery;
mod fan_out;
pub mod glob;
pub mod groups;
pub mod history;
pub mod inboxes;
pub mod keyspace;
pub mod outbox;
pub mod presence;
mod replay;
pub mod router;
mod session;
pub mod subs;
pub mod topics;
pub mod trie;

pub use command::{
    Cancel, ChannelQuery, Command, CoreError, Filter, Hello, HistoryQuery, List, Publish, Resume,
    SlowPolicy, Subscribe, SubscribeOptions, TopicArg,
};
pub use delivery::{
    Delivery, DeliveryKind, DeliveryRule, Form, Gap, GapReason, Greeting, HistoryPage, Notice,
    Profile, Recipient, Reply,
};
pub use groups::{GroupId, Groups};
pub use history::{Entry, History};
pub use outbox::Outbox;
pub use router::{Router, RouterConfig, SessionView};
pub use subs::{CacheHint, Matches, SubId, SubTag, SubscriptionIndex};
pub use topics::{TopicId, TopicList, TopicTree};

/// Identifies a connection: a slot the reactor hands out, reused after the
/// connection is gone (the router forgets it first).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnId(pub usize);
