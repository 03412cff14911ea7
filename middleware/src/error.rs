//! The one error type of the crate, [`Error`](enum@Error), and its [`Result`] alias.

use std::io;
use std::time::Duration;

use protocol::{DecodeError, FrameError, TopicError, ValueError};
use thiserror::Error;

/// `Result` with this crate's [`Error`](enum@Error).
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong talking to the broker.
///
/// Each variant says whether the connection is still usable:
///
/// | variant | connection afterwards |
/// |---|---|
/// | [`Connect`](Error::Connect) | there is none |
/// | [`Topic`](Error::Topic), [`PublishToRoot`](Error::PublishToRoot), [`TooLarge`](Error::TooLarge), [`Value`](Error::Value) | usable: nothing was sent |
/// | [`Decode`](Error::Decode), [`Protocol`](Error::Protocol), [`Broker`](Error::Broker), [`TimedOut`](Error::TimedOut) | usable: the frame was consumed whole, or none was started |
/// | [`Unconfirmed`](Error::Unconfirmed), [`InvalidId`](Error::InvalidId), [`NoResponders`](Error::NoResponders), [`NoReply`](Error::NoReply), [`NotARequest`](Error::NotARequest) | usable |
/// | [`Frame`](Error::Frame), [`Closed`](Error::Closed), [`ClosedBecause`](Error::ClosedBecause), [`Io`](Error::Io), [`WriteTimedOut`](Error::WriteTimedOut) | gone: every later call answers [`Closed`](Error::Closed), unless reconnection is on (then the next call reconnects) |
/// | [`ReconnectFailed`](Error::ReconnectFailed) | gone, and reconnection is off |
///
/// With reconnection on ([`Queue::set_reconnect`](crate::Queue::set_reconnect)),
/// `pull` does not return the errors that lose the connection: it reconnects.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum Error {
    /// The TCP connection to the broker could not be opened.
    #[error("cannot connect to broker at {addr}: {source}")]
    Connect {
        /// The address as given (`host:port`).
        addr: String,
        /// Why it failed (connection refused, unknown host ...).
        #[source]
        source: io::Error,
    },
    /// Reading from or writing to the socket failed; the connection is
    /// dropped.
    #[error("I/O error talking to the broker: {0}")]
    Io(#[from] io::Error),
    /// The broker sent a frame header that is not a valid length (spec §1).
    /// The stream cannot be resynchronized, so the connection is dropped.
    #[error("broker sent a bad frame: {0}")]
    Frame(#[from] FrameError),
    /// A frame from the broker did not decode in this queue's format. The
    /// frame was consumed; the connection is still usable.
    #[error("cannot decode a message from the broker: {0}")]
    Decode(#[from] DecodeError),
    /// The broker sent a well-formed message that makes no sense to a client
    /// (a client-side method such as `SUBSCRIBE`, or a `LIST_ACK` whose `msg`
    /// is not a list of strings). The frame was consumed.
    #[error("unexpected message from the broker: {0}")]
    Protocol(String),
    /// A topic given to the queue is not valid (spec §6); nothing was sent.
    #[error("invalid topic {topic:?}: {source}")]
    Topic {
        /// The topic as given.
        topic: String,
        /// The rule it breaks.
        #[source]
        source: TopicError,
    },
    /// `push` on a queue whose topic is the root `/`: the broker refuses
    /// publishing there (spec §6), so nothing was sent.
    #[error("cannot publish to the root topic '/'")]
    PublishToRoot,
    /// The value's delivery frame would exceed 99,999 bytes in JSON or in XML
    /// (spec §7), so the broker would refuse it. Nothing was sent; the
    /// connection is still usable.
    #[error(
        "value too large: its delivery frame would be {len} bytes, more than the limit of 99999"
    )]
    TooLarge {
        /// Payload bytes of the larger of the JSON and XML `LAST_MSG` frames.
        len: usize,
    },
    /// The value cannot be carried by both formats (spec §4: control
    /// characters, non-finite floats, nesting deeper than 64). Nothing was sent.
    #[error("value cannot be sent: {0}")]
    Value(#[from] ValueError),
    /// The broker refused a request that expects a reply (the `LIST` of
    /// [`Queue::list_topics`](crate::Queue::list_topics)). Refusals of
    /// fire-and-forget requests (`PUBLISH`, `SUBSCRIBE` ...) arrive as
    /// [`Event::Error`](crate::Event::Error) instead.
    #[error("broker refused the request on topic {topic:?}: {reason}")]
    Broker {
        /// The topic of the `ERROR` frame.
        topic: String,
        /// The broker's reason.
        reason: String,
    },
    /// The broker closed the connection (at a frame boundary or in the middle
    /// of a frame).
    #[error("broker closed the connection")]
    Closed,
    /// The broker closed the connection right after an `ERROR` about no
    /// topic, which is how it says why it closes one (a connection limit, a
    /// broken frame header, a failed handshake).
    #[error("broker closed the connection: {reason}")]
    ClosedBecause {
        /// The reason the broker gave.
        reason: String,
    },
    /// The timeout set with [`Queue::set_timeout`](crate::Queue::set_timeout)
    /// passed before the broker answered. Bytes of a partly received frame
    /// are kept; the connection is still usable.
    #[error("timed out waiting for the broker")]
    TimedOut,
    /// The broker did not take a frame within the timeout set with
    /// [`Queue::set_timeout`](crate::Queue::set_timeout) (it applies
    /// back-pressure, or hangs). Part of the frame may have been sent, so the
    /// connection was closed.
    #[error("timed out sending to the broker; connection closed")]
    WriteTimedOut,
    /// [`Queue::publish_confirmed`](crate::Queue::publish_confirmed) got no
    /// `PUBACK` before its [`Confirm`](crate::Confirm) deadline, sending the
    /// message `attempts` times under one id. The message may or may not
    /// have been accepted: publishing it again with
    /// [`Queue::publish_confirmed_as`](crate::Queue::publish_confirmed_as)
    /// and this id, within the broker's dedup window (2 minutes by
    /// default), does not repeat it.
    #[error("no PUBACK for message {id:?} on {topic} after {attempts} attempts")]
    Unconfirmed {
        /// The topic published on.
        topic: String,
        /// The message's id.
        id: String,
        /// How many times it was sent.
        attempts: u32,
    },
    /// A message id given to
    /// [`Queue::publish_confirmed_as`](crate::Queue::publish_confirmed_as)
    /// is empty or longer than 128 bytes (v2 §15). Nothing was sent.
    #[error("invalid message id {id:?}: ids are 1 to 128 bytes")]
    InvalidId {
        /// The id as given.
        id: String,
    },
    /// A [`Queue::request`](crate::Queue::request) reached no connection
    /// at all: nobody subscribes to its topic (`NO_RESPONDERS`, v2 §15).
    #[error("no responders on {topic}")]
    NoResponders {
        /// The request's topic.
        topic: String,
    },
    /// A [`Queue::request`](crate::Queue::request) reached some
    /// connection, but no reply came within its timeout. A late reply is
    /// dropped.
    #[error("no reply on {topic} within {timeout:?}")]
    NoReply {
        /// The request's topic.
        topic: String,
        /// The time waited.
        timeout: Duration,
    },
    /// [`Queue::respond`](crate::Queue::respond) to an event that is no
    /// request (no delivery, or one without a reply topic). Nothing was sent.
    #[error("the event has no reply topic to answer on")]
    NotARequest,
    /// The connection was lost and reconnecting gave up, as its
    /// [`Reconnect`](crate::Reconnect) policy says.
    #[error("gave up reconnecting after {attempts} failed attempts: {last}")]
    ReconnectFailed {
        /// Failed attempts.
        attempts: u32,
        /// Why the last attempt (or the connection, if none was made) failed.
        #[source]
        last: Box<Error>,
    },
}

impl Error {
    /// Whether the connection is unusable after this error
    /// ([`Error::Connect`], [`Error::Io`], [`Error::Frame`], [`Error::Closed`],
    /// [`Error::ClosedBecause`], [`Error::WriteTimedOut`],
    /// [`Error::ReconnectFailed`]).
    #[must_use]
    pub fn is_fatal(&self) -> bool {
        matches!(
            self,
            Error::Connect { .. }
                | Error::Io(_)
                | Error::Frame(_)
                | Error::Closed
                | Error::ClosedBecause { .. }
                | Error::WriteTimedOut
                | Error::ReconnectFailed { .. }
        )
    }
}
