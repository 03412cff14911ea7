//! Monitoring: what the reactor hands the HTTP side, and how they talk.
//!
//! The HTTP thread never touches broker state. It sends a [`Query`] over a
//! channel and wakes the reactor through its `mio::Waker`, with a flag that
//! tells "queries pending" from "stop"; at the end of that loop turn the
//! reactor answers each pending query (a bounded number per turn) with an
//! owned snapshot sent back on the query's oneshot channel.
//!
//! - [`query`]: [`Query`], [`Monitor`] (the HTTP side's end), [`Inbox`] (the
//!   reactor's).
//! - [`view`]: the snapshots, serializable as the JSON the endpoints serve.
//! - [`traffic`]: the reactor's cheap counters: per connection, per door,
//!   and the ring of recent slow-consumer and drop events.

pub mod query;
pub mod traffic;
pub mod view;

pub use query::{Inbox, Monitor, Query};
pub use traffic::{Event, EventLog, EventReason, Traffic};
