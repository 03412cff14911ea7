//! The lab broker: one `mio` reactor thread that owns all state, a
//! protocol-neutral core, and a door per client protocol.
//!
//! # Layout
//! - [`core`]: topics, subscriptions and the routing rules, in terms of
//!   commands and deliveries; no sockets, no protocol bytes.
//! - [`doors`]: one codec per client protocol (framing, handshake, decoding
//!   into commands, encoding deliveries and errors); the lab protocol's is
//!   [`doors::lab`].
//! - [`reactor`]: the event loop ([`Broker`], [`BrokerHandle`]): listeners,
//!   connections, flow control; the only place that sees sockets and time.
//! - [`monitor`], [`http`]: the monitoring side (`--http`): the query
//!   channel and snapshots; the HTTP thread serving JSON, `/metrics` and
//!   the web view.
//! - [`grpc`], [`proto`]: the RPC side (`--grpc`): the tonic service on the
//!   side thread, each call a broker session through the gRPC door
//!   ([`doors::grpc`]); the generated messages.
//! - [`side`]: the one side thread and its async runtime, shared by the
//!   HTTP and gRPC services.
//! - [`logging`]: the log line formats (text, JSON).
//! - [`config`]: addresses and limits.
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
pub mod core;
pub mod doors;
pub mod grpc;
pub mod http;
pub mod logging;
pub mod monitor;
pub mod proto;
pub mod reactor;
pub mod side;
pub mod store;

pub use config::Config;
pub use reactor::{Broker, BrokerHandle};
