//! A blocking client for the lab broker: the Rust counterpart of the lab's
//! `middleware.py` (`JSONQueue` / `XMLQueue`), speaking the wire protocol of
//! `docs/protocol.md` through the [`protocol`] crate.
//!
//! A [`Queue`] is one TCP connection bound to one topic. A
//! [`Role::Producer`] queue [`push`](Queue::push)es values on its topic; a
//! [`Role::Consumer`] queue subscribes to its topic as soon as it connects and
//! [`pull`](Queue::pull)s [`Event`]s: live messages, retained messages
//! replayed on subscribe, topic lists and the broker's refusals.
//!
//! # Protocol v2
//! A queue speaks v1 unless asked otherwise, and then behaves as the lab's
//! middleware. Deliveries carry the broker's `seq` and `ts` when it sends
//! them. Asked for v2 ([`Queue::connect_with`] and [`Options`], or
//! [`Queue::hello`]), a queue learns the broker's epoch and can:
//! - [`ping`](Queue::ping): a round trip, after which the broker has
//!   handled everything sent before;
//! - [`history`](Queue::history): a topic's kept messages, paging followed;
//! - resume: with a [`Reconnect`] policy, a lost connection is re-established
//!   with backoff and every subscription made again with `resume`, so each
//!   topic goes on after the last number seen, or with an [`Event::Gap`]
//!   (reason [`GapReason::Epoch`] after a broker restart). Repeats are
//!   dropped: the application sees every message once, in order, or a gap.
//!
//! Protocol v2's acknowledgements, request/reply and presence (§15-16):
//! - [`publish_confirmed`](Queue::publish_confirmed): publish and wait for
//!   the broker's [`PubAck`] (number, receivers); without an answer the
//!   message is sent again under the same id ([`Confirm`]), after a
//!   reconnection too, and the broker keeps it once (exactly-once
//!   publishing). The queue takes a `HELLO` name if it has none, since the
//!   broker deduplicates per client name.
//! - [`request`](Queue::request): publish with a reply inbox and wait for
//!   the answer ([`Error::NoResponders`], [`Error::NoReply`]); a responder
//!   answers a request event with [`respond`](Queue::respond).
//! - presence: [`SubscribeOptions::presence()`] adds [`Event::Presence`]
//!   (joins, leaves, away, back of named clients);
//!   [`who`](Queue::who) lists a topic's [`Member`]s.
//!
//! # Layout
//! - [`queue`]: [`Queue`] (connect and handshake, `push`, `pull`,
//!   `pull_timeout`, `subscribe`, `cancel_sub`, `list_topics` with paging,
//!   `close`; v2's `hello`, `ping`, `history`, `set_reconnect`,
//!   `publish_confirmed`, `request`, `respond`, `who`), [`Role`] and
//!   [`DEFAULT_ADDR`].
//! - [`event`]: [`Event`], what `pull` returns (values print as JSON text
//!   through `Display`), and [`GapReason`].
//! - [`options`]: [`Options`] for [`Queue::connect_with`], [`Reconnect`],
//!   [`Confirm`].
//! - [`v2`]: [`Hello`] options, the broker's [`Welcome`], [`History`],
//!   [`SubscribeOptions`], [`PubAck`].
//! - [`presence`]: [`PresenceAction`], and [`Member`] and [`MemberState`],
//!   what `who` lists.
//! - [`error`]: [`Error`], one variant per thing a caller may want to handle,
//!   and the [`Result`] alias.
//!
//! Only `std::net` is used: every call blocks, bounded by
//! [`Queue::set_timeout`] or [`Queue::pull_timeout`] where asked.
//!
//! # Example
//! ```no_run
//! use std::time::Duration;
//! use middleware::{Event, Options, Queue, Reconnect, Role};
//!
//! # fn main() -> middleware::Result<()> {
//! // Like the lab's `JSONQueue("/telephony/orange", MiddlewareType.PRODUCER)`.
//! let mut producer = Queue::json("/telephony/orange", Role::Producer)?;
//! producer.push(27i64)?;
//!
//! // A consumer subscribes to its topic (and everything under it) on
//! // connect; this one survives broker restarts.
//! let options = Options {
//!     reconnect: Some(Reconnect::default()),
//!     ..Options::default()
//! };
//! let mut consumer =
//!     Queue::connect_with(middleware::DEFAULT_ADDR, "/telephony", Role::Consumer, &options)?;
//! println!("topics: {:?}", consumer.list_topics()?);
//! match consumer.pull()? {
//!     Event::Publish { topic, value, seq, .. } => println!("{topic} {value} {seq:?}"),
//!     Event::LastMsg { topic, value, .. } => println!("{topic} {value} (retained)"),
//!     Event::Gap { topic, from, to, reason } => println!("{topic}: lost {from}..={to} ({reason})"),
//!     Event::Topics(topics) => println!("topics: {}", topics.join(" ")),
//!     Event::Error { topic, reason } => eprintln!("error: {topic} {reason}"),
//!     Event::Presence { topic, name, action, .. } => println!("{topic}: {name} {action}"),
//!     Event::NoResponders { topic, .. } => println!("nobody listens on {topic}"),
//! }
//! consumer.cancel_sub("/telephony")?;
//!
//! // Acknowledged publishing, and a request answered by some responder.
//! let ack = producer.publish_confirmed(28i64)?;
//! println!("seq {} reached {} connections", ack.seq, ack.receivers);
//! let answer = producer.request("/service/double", 21i64, Duration::from_secs(2))?;
//! println!("answer: {answer}");
//! # Ok(())
//! # }
//! ```

pub mod error;
pub mod event;
pub mod options;
pub mod presence;
pub mod queue;
pub mod v2;

pub use error::{Error, Result};
pub use event::{Event, GapReason};
pub use options::{Confirm, Options, Reconnect};
pub use presence::{Member, MemberState, PresenceAction};
pub use protocol::{Format, Value};
pub use queue::{Queue, Role, DEFAULT_ADDR};
pub use v2::{Hello, History, HistoryItem, Limits, PubAck, Slow, SubscribeOptions, Welcome};
