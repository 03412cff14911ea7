//! The lab broker: a single-threaded `mio` reactor implementing the wire
//! protocol (`shared/spec/wire-protocol.md`) on top of the `protocol` crate.
//!
//! # Layout
//! - [`reactor`] holds the event loop ([`Broker`], [`BrokerHandle`]); the only
//!   place that sees sockets and time.
//! - [`conn`] holds one connection's socket, buffers and state machine.
//! - [`outbox`] queues frames into connections, with the slow-consumer limit.
//! - [`router`] applies the spec's rules, sans I/O: publish, subscribe, cancel, list.
//! - [`topic_tree`] holds topics, subscribers and retained messages.
//! - [`config`] holds the limits.
//!
//! # Example
//! ```no_run
//! let broker = broker::Broker::bind(broker::Config::default())?;
//! let handle = broker.handle();
//! std::thread::spawn(move || broker.run());
//! // ... later
//! handle.shutdown();
//! # Ok::<(), std::io::Error>(())
//! ```

pub mod config;
pub mod conn;
pub mod outbox;
pub mod reactor;
pub mod router;
pub mod topic_tree;

pub use config::Config;
pub use reactor::{Broker, BrokerHandle};

/// Identifies a connection: its slot in the reactor's slab.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnId(pub usize);
