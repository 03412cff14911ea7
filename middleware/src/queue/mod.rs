//! [`Queue`]: one blocking TCP connection to the broker, bound to a topic.
//!
//! Connecting, the accessors and sending are here; receiving (`pull`,
//! `pull_timeout`, `list_topics`, `close` and the frame reader under them)
//! is in `receive`; v2's requests (`hello`, `ping`, `history`, `who`) in
//! `requests`; sequence tracking, reconnection and resume in `resume`;
//! publishing with acknowledgements and retries in `confirm`; request/reply
//! in `request`; the ids and inboxes a queue makes up in `ids`.

mod confirm;
mod ids;
mod receive;
mod request;
mod requests;
mod resume;

use std::borrow::Cow;
use std::collections::VecDeque;
use std::io::{self, BufReader, ErrorKind, Write};
use std::net::{Shutdown, TcpStream};
use std::time::Duration;

use protocol::frame;
use protocol::{
    Attrs, Body, EncodeError, Format, FrameError, Links, Message, Method, Pattern, Topic, Value,
    MAX_PAYLOAD,
};

use crate::error::{Error, Result};
use crate::event::Event;
use crate::options::{Confirm, Options};
use crate::v2::SubscribeOptions;
use ids::Ids;
use resume::Session;

/// Where [`Queue::json`] and [`Queue::xml`] connect: the lab's broker address.
pub const DEFAULT_ADDR: &str = "localhost:8000";

/// What a queue is for, as the lab's `MiddlewareType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// Publishes on its topic; subscribes to nothing on its own.
    Producer,
    /// Subscribes to its topic (and so to all its descendants) on connect.
    Consumer,
}

/// A connection to the broker bound to one topic, like the lab's
/// `JSONQueue(topic, type)` / `XMLQueue(topic, type)`.
///
/// All calls block (see [`Queue::set_timeout`] and [`Queue::pull_timeout`] to
/// bound the waits). Frames are read whole however the bytes arrive, and each
/// frame sent is written with a single `write_all` on a `TCP_NODELAY` socket.
#[derive(Debug)]
pub struct Queue {
    /// The socket, read through a buffer; written through `get_ref()`.
    reader: BufReader<TcpStream>,
    format: Format,
    /// The normalized topic.
    topic: Topic<'static>,
    role: Role,
    /// Events (or errors) read while [`Queue::list_topics`] waited for its
    /// reply, handed out by `pull` before anything new.
    pending: VecDeque<Result<Event>>,
    /// The frame being received: header and payload bytes so far. Kept across
    /// timeouts so no byte is lost.
    partial: Vec<u8>,
    /// Reused buffer for outgoing frames.
    out: Vec<u8>,
    /// Bound on the waits of `pull` and `list_topics`.
    timeout: Option<Duration>,
    /// The read timeout currently set on the socket (saves system calls).
    socket_timeout: Option<Duration>,
    /// Set once the connection is known to be gone.
    dead: bool,
    /// The reason in the last frame received, when it was an `ERROR` about
    /// no topic: a broker closing a connection on its own says why in such a
    /// frame first, and the error for the close carries it.
    parting: Option<String>,
    /// What outlives one connection: subscriptions, numbers seen, the epoch,
    /// the reconnection policy.
    session: Session,
    /// The message ids, inboxes and name this queue makes up.
    ids: Ids,
    /// How `publish_confirmed` retries.
    confirm: Confirm,
}

impl Queue {
    /// Connects to the broker at [`DEFAULT_ADDR`] with JSON (`JSONQueue`).
    ///
    /// # Errors
    /// As [`Queue::connect`].
    pub fn json(topic: &str, role: Role) -> Result<Queue> {
        Queue::connect(DEFAULT_ADDR, topic, role, Format::Json)
    }

    /// Connects to the broker at [`DEFAULT_ADDR`] with XML (`XMLQueue`).
    ///
    /// # Errors
    /// As [`Queue::connect`].
    pub fn xml(topic: &str, role: Role) -> Result<Queue> {
        Queue::connect(DEFAULT_ADDR, topic, role, Format::Xml)
    }

    /// Connects to the broker at `addr` (`host:port`), sends the handshake
    /// naming `format` and, for a [`Role::Consumer`], subscribes to `topic`.
    ///
    /// The topic is validated and normalized first (`//` becomes `/`,
    /// `/a//b/` becomes `/a/b`), before any connection is made.
    ///
    /// # Errors
    /// [`Error::Topic`] for an invalid topic, [`Error::Connect`] when the
    /// broker cannot be reached, [`Error::Io`] when the first writes fail.
    pub fn connect(addr: &str, topic: &str, role: Role, format: Format) -> Result<Queue> {
        Queue::connect_with(
            addr,
            topic,
            role,
            &Options {
                format,
                ..Options::default()
            },
        )
    }

    /// Like [`Queue::connect`], with the v2 choices of [`Options`]: `HELLO`
    /// (waited for, so [`Queue::epoch`] is known on return), reconnection
    /// with resume, and whether a consumer subscribes on connect.
    ///
    /// # Errors
    /// As [`Queue::connect`]; with `HELLO`, also as [`Queue::hello`] (within
    /// [`Reconnect::ATTEMPT_TIMEOUT`](crate::Reconnect::ATTEMPT_TIMEOUT)).
    pub fn connect_with(addr: &str, topic: &str, role: Role, options: &Options) -> Result<Queue> {
        let topic = normalize(topic)?;
        let stream = TcpStream::connect(addr).map_err(|source| Error::Connect {
            addr: addr.to_owned(),
            source,
        })?;
        let mut queue = Queue::start(stream, topic, role, options.format, addr.to_owned())?;
        queue.session.hello = options.hello.clone();
        queue.set_reconnect(options.reconnect)?;
        if queue.session.hello.is_some() && queue.session.epoch.is_none() {
            queue.greet()?;
        }
        if role == Role::Consumer && options.subscribe {
            let topic = queue.topic.to_string();
            queue.subscribe(&topic)?;
        }
        Ok(queue)
    }

    /// Like [`Queue::connect`], over a TCP stream the caller has already
    /// connected (to set a connect timeout, for instance). With
    /// [`Queue::set_reconnect`], new connections go to the stream's peer
    /// address.
    ///
    /// # Errors
    /// [`Error::Topic`] for an invalid topic, [`Error::Io`] when the first
    /// writes fail.
    pub fn with_stream(
        stream: TcpStream,
        topic: &str,
        role: Role,
        format: Format,
    ) -> Result<Queue> {
        let topic = normalize(topic)?;
        // Reconnecting (when asked for) goes where this stream went.
        let addr = stream.peer_addr()?.to_string();
        let mut queue = Queue::start(stream, topic, role, format, addr)?;
        if role == Role::Consumer {
            let topic = queue.topic.to_string();
            queue.subscribe(&topic)?;
        }
        Ok(queue)
    }

    /// Sends the handshake on a new connection.
    fn start(
        stream: TcpStream,
        topic: Topic<'static>,
        role: Role,
        format: Format,
        addr: String,
    ) -> Result<Queue> {
        stream.set_nodelay(true)?;
        let mut queue = Queue {
            reader: BufReader::with_capacity(64 * 1024, stream),
            format,
            topic,
            role,
            pending: VecDeque::new(),
            partial: Vec::new(),
            out: Vec::new(),
            timeout: None,
            socket_timeout: None,
            dead: false,
            parting: None,
            session: Session::new(addr),
            ids: Ids::new(),
            confirm: Confirm::default(),
        };
        queue.send_handshake()?;
        Ok(queue)
    }

    /// Writes the handshake frame naming the queue's format.
    fn send_handshake(&mut self) -> Result<()> {
        self.out.clear();
        frame::encode(self.format.handshake().as_bytes(), &mut self.out)?;
        self.send_out()
    }

    /// The queue's topic, normalized.
    #[must_use]
    pub fn topic(&self) -> &str {
        self.topic.as_str()
    }

    /// The queue's role.
    #[must_use]
    pub fn role(&self) -> Role {
        self.role
    }

    /// The serialization mechanism chosen at the handshake.
    #[must_use]
    pub fn format(&self) -> Format {
        self.format
    }

    /// The bound set by [`Queue::set_timeout`].
    #[must_use]
    pub fn timeout(&self) -> Option<Duration> {
        self.timeout
    }

    /// Bounds how long [`Queue::pull`] and [`Queue::list_topics`] wait for the
    /// broker; past it they fail with [`Error::TimedOut`] and the connection
    /// stays usable. It also bounds each write: a frame the broker does not
    /// take in time fails with [`Error::WriteTimedOut`], which closes the
    /// connection. `None` (the default) waits forever.
    pub fn set_timeout(&mut self, timeout: Option<Duration>) {
        self.timeout = timeout.filter(|t| !t.is_zero());
        // Only a zero duration is refused, and it was filtered out.
        let _ = self.reader.get_ref().set_write_timeout(self.timeout);
    }

    /// Publishes `value` on the queue's topic (`PUBLISH`).
    ///
    /// The value is checked before anything is sent: one the broker would
    /// refuse for its size or content is refused here, and the connection
    /// stays usable. A refusal by the broker arrives later through
    /// [`Queue::pull`] as [`Event::Error`].
    ///
    /// # Errors
    /// [`Error::PublishToRoot`] on a queue bound to `/`; [`Error::Value`] for a
    /// value one of the formats cannot carry; [`Error::TooLarge`] when its
    /// delivery frame would exceed 99,999 bytes in JSON or in XML (spec §7;
    /// measured on the `LAST_MSG` frame, one byte longer than `PUBLISH`, as
    /// the broker measures it, since a retained message must be replayable);
    /// [`Error::Io`] or [`Error::Closed`] when the write fails.
    pub fn push(&mut self, value: impl Into<Value>) -> Result<()> {
        let value = value.into();
        check_publish(&self.topic, &value, None)?;
        let message = Message::publish(self.topic.to_string(), value);
        self.send(&message)
    }

    /// Subscribes to `topic` and all its descendants (`SUBSCRIBE`). The broker
    /// then replays their retained messages as [`Event::LastMsg`].
    ///
    /// Once the queue knows the broker's [`epoch`](Queue::epoch) (v2), the
    /// subscription resumes instead (v2 §13): for each topic under `topic`
    /// that the queue has seen messages of (delivered, or returned by
    /// [`Queue::history`]), the broker sends the messages after the last one
    /// seen, or an [`Event::Gap`] for those it no longer keeps; the others
    /// get their retained message as in v1.
    ///
    /// `topic` may be a pattern (v2 §14): a `*` segment matches any one
    /// segment (`/time/*/east`).
    ///
    /// # Errors
    /// [`Error::Topic`] for an invalid topic (nothing is sent); [`Error::Io`]
    /// or [`Error::Closed`] when the write fails.
    pub fn subscribe(&mut self, topic: &str) -> Result<()> {
        self.subscribe_with(topic, &SubscribeOptions::default())
    }

    /// Subscribes as [`Queue::subscribe`] does, with a content filter and/or
    /// in a queue group (v2 §14-15). Subscribing again to the same topic
    /// replaces the options; the queue says them again on reconnecting. A
    /// filter that does not compile comes back as an [`Event::Error`] on
    /// `topic`, and subscribes nothing.
    ///
    /// # Errors
    /// As [`Queue::subscribe`].
    pub fn subscribe_with(&mut self, topic: &str, options: &SubscribeOptions) -> Result<()> {
        let topic = normalize_pattern(topic)?;
        if !self.session.subs.contains(&topic) {
            self.session.subs.push(topic.clone());
        }
        if options.is_empty() {
            self.session.options.remove(&topic);
        } else {
            self.session.options.insert(topic.clone(), options.clone());
        }
        // A reconnection made every subscription, this one included.
        if self.revive(self.deadline())? {
            return Ok(());
        }
        let m = self.session.subscription(&topic);
        self.write_message(&m)
    }

    /// Cancels this client's subscriptions equal to or under `topic`
    /// (`CANCEL_SUB`, with the topic in both `topic` and `msg` as the lab
    /// middleware sends it).
    ///
    /// # Errors
    /// As [`Queue::subscribe`].
    pub fn cancel_sub(&mut self, topic: &str) -> Result<()> {
        let topic = normalize_pattern(topic)?;
        let Session { subs, options, .. } = &mut self.session;
        subs.retain(|s| !protocol::topic::is_under(s, &topic));
        options.retain(|s, _| subs.contains(s));
        self.send(&Message::cancel_sub(topic))
    }

    /// Encodes `m` and writes it as one frame on the current connection.
    fn write_message(&mut self, m: &Message) -> Result<()> {
        if self.dead {
            return Err(Error::Closed);
        }
        self.out.clear();
        self.format.encode(m, &mut self.out).map_err(encode_error)?;
        self.send_out()
    }

    /// Writes `self.out` with a single `write_all`.
    fn send_out(&mut self) -> Result<()> {
        if self.dead {
            return Err(Error::Closed);
        }
        let result = self.reader.get_ref().write_all(&self.out);
        result.map_err(|e| match e.kind() {
            ErrorKind::WouldBlock | ErrorKind::TimedOut => {
                self.kill();
                Error::WriteTimedOut
            }
            _ => self.io_error(e),
        })
    }

    /// Marks the connection gone and maps the error: a reset or broken pipe
    /// is the broker closing the connection.
    fn io_error(&mut self, e: io::Error) -> Error {
        self.kill();
        match e.kind() {
            ErrorKind::ConnectionReset
            | ErrorKind::ConnectionAborted
            | ErrorKind::BrokenPipe
            | ErrorKind::UnexpectedEof => self.closed(),
            _ => Error::Io(e),
        }
    }

    /// The error for a connection the broker closed, with its reason when
    /// it gave one.
    fn closed(&mut self) -> Error {
        match self.parting.take() {
            Some(reason) => Error::ClosedBecause { reason },
            None => Error::Closed,
        }
    }

    fn kill(&mut self) {
        self.dead = true;
        let _ = self.reader.get_ref().shutdown(Shutdown::Both);
    }
}

/// Checks a publish of `value` on `topic` whose deliveries carry `reply`
/// before anything is sent: not on the root, a value both formats carry,
/// and a delivery frame within 99,999 bytes in JSON and in XML (measured on
/// the `LAST_MSG` frame, one byte longer than `PUBLISH`, as the broker
/// measures it, since a retained message must be replayable).
fn check_publish(topic: &Topic<'_>, value: &Value, reply: Option<&str>) -> Result<()> {
    if topic.is_root() {
        return Err(Error::PublishToRoot);
    }
    value.validate()?;
    let body = Body::Value(Cow::Borrowed(value));
    let links = Links { id: None, reply };
    let mut len = 0;
    for format in Format::ALL {
        len = len.max(
            format
                .linked_payload_len(Method::LastMsg, topic.as_str(), &body, Attrs::NONE, links)
                .map_err(encode_error)?,
        );
    }
    if len > MAX_PAYLOAD {
        return Err(Error::TooLarge { len });
    }
    Ok(())
}

/// `topic` as a subscription's normal form: a topic, or a pattern with `*`
/// segments.
fn normalize_pattern(topic: &str) -> Result<String> {
    Pattern::parse(topic)
        .map(|p| p.as_str().to_owned())
        .map_err(|source| Error::Topic {
            topic: topic.to_owned(),
            source,
        })
}

/// Validates and normalizes a topic.
fn normalize(topic: &str) -> Result<Topic<'static>> {
    Topic::parse(topic)
        .map(Topic::into_owned)
        .map_err(|source| Error::Topic {
            topic: topic.to_owned(),
            source,
        })
}

fn encode_error(e: EncodeError) -> Error {
    match e {
        EncodeError::Value(v) => Error::Value(v),
        EncodeError::Frame(FrameError::TooLarge(len)) => Error::TooLarge { len },
        EncodeError::Frame(f) => Error::Frame(f),
    }
}
