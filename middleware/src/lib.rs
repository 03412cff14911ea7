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
//! # Layout
//! - [`queue`]: [`Queue`] (connect and handshake, `push`, `pull`,
//!   `pull_timeout`, `subscribe`, `cancel_sub`, `list_topics` with paging,
//!   `close`), [`Role`] and [`DEFAULT_ADDR`].
//! - [`event`]: [`Event`], what `pull` returns (values print as JSON text
//!   through `Display`), and [`GapReason`].
//! - [`error`]: [`Error`], one variant per thing a caller may want to handle,
//!   and the [`Result`] alias.
//!
//! Only `std::net` is used: every call blocks, bounded by
//! [`Queue::set_timeout`] or [`Queue::pull_timeout`] where asked.
//!
//! # Example
//! ```no_run
//! use middleware::{Event, Queue, Role};
//!
//! # fn main() -> middleware::Result<()> {
//! // Like the lab's `JSONQueue("/telephony/orange", MiddlewareType.PRODUCER)`.
//! let mut producer = Queue::json("/telephony/orange", Role::Producer)?;
//! producer.push(27i64)?;
//!
//! // A consumer subscribes to its topic (and everything under it) on connect.
//! let mut consumer = Queue::json("/telephony", Role::Consumer)?;
//! println!("topics: {:?}", consumer.list_topics()?);
//! match consumer.pull()? {
//!     Event::Publish { topic, value, seq, .. } => println!("{topic} {value} {seq:?}"),
//!     Event::LastMsg { topic, value, .. } => println!("{topic} {value} (retained)"),
//!     Event::Gap { topic, from, to, reason } => println!("{topic}: lost {from}..={to} ({reason})"),
//!     Event::Topics(topics) => println!("topics: {}", topics.join(" ")),
//!     Event::Error { topic, reason } => eprintln!("error: {topic} {reason}"),
//! }
//! consumer.cancel_sub("/telephony")?;
//! # Ok(())
//! # }
//! ```

pub mod error;
pub mod event;
pub mod queue;

pub use error::{Error, Result};
pub use event::{Event, GapReason};
pub use protocol::{Format, Value};
pub use queue::{Queue, Role, DEFAULT_ADDR};
