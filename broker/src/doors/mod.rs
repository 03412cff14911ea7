//! Doors: one [`Codec`] per client protocol, plugged into the reactor's
//! listeners.
//!
//! A codec owns everything that is about its protocol's bytes: framing, the
//! handshake, decoding requests into core [`Command`]s, and encoding what the
//! router hands out ([`Delivery`], [`Notice`]) and the door's own errors. The
//! reactor knows no protocol: it feeds a connection's input to its codec,
//! passes the commands to the router, and writes what the codec encoded.
//!
//! Adding a door: implement [`Codec`], give its deliveries a [`Form`] below,
//! add a [`Door`] variant that builds the codec, and a listener address in
//! [`crate::Config`]. ARCHITECTURE.md walks through it.

pub mod chat;
pub mod grpc;
pub mod lab;
pub mod nats;
pub mod payload;
pub mod redis;

use std::fmt;

use crate::core::{Command, Delivery, Form, Notice, Profile, SubTag};

/// Deliveries to lab clients speaking JSON.
pub const LAB_JSON: Form = Form(0);
/// Deliveries to lab clients speaking XML.
pub const LAB_XML: Form = Form(1);
/// Deliveries to NATS clients (their payload; each subscription's `MSG`
/// line is written around it).
pub const NATS: Form = Form(2);
/// Deliveries to WebSocket chat clients (a whole `message` frame).
pub const CHAT: Form = Form(3);
/// Deliveries to Redis clients (their payload as a bulk string; each
/// subscription's `message` or `pmessage` header is written before it).
pub const REDIS: Form = Form(4);
/// Deliveries to gRPC sessions (a `Delivery` message's shared fields; each
/// subscription's number and the lengths are written around them).
pub const GRPC: Form = Form(5);

/// A client protocol the broker can listen for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Door {
    /// The lab protocol: 5-byte length headers, JSON or XML
    /// ([`lab::LabCodec`]).
    Lab,
    /// The NATS client protocol ([`nats::NatsCodec`]).
    Nats,
    /// WebSocket, with seed 000's chat protocol ([`chat::ChatCodec`]).
    Ws,
    /// RESP2 and RESP3, Redis's protocol ([`redis::RedisCodec`]).
    Redis,
    /// gRPC sessions, handed over by the side thread on local sockets
    /// ([`grpc::GrpcCodec`]).
    Grpc,
}

impl Door {
    /// The door's name, for logs.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Door::Lab => "lab",
            Door::Nats => "nats",
            Door::Ws => "ws",
            Door::Redis => "redis",
            Door::Grpc => "grpc",
        }
    }

    /// A codec for a new connection through this door, configured by
    /// `config`.
    #[must_use]
    pub fn codec(self, config: &crate::Config) -> Box<dyn Codec> {
        match self {
            Door::Lab => Box::new(lab::LabCodec::default()),
            Door::Nats => Box::new(nats::NatsCodec::new(config.nats_ping_interval)),
            Door::Ws => Box::new(chat::ChatCodec::new(
                &config.chat_prefix,
                config.ws_max_message,
            )),
            Door::Redis => Box::new(redis::RedisCodec::new(config)),
            Door::Grpc => Box::new(grpc::GrpcCodec::new(config.max_message)),
        }
    }
}

/// A door's error: why a connection closes, or why something could not be
/// encoded. Its text goes to the log; the door has already told the client
/// in its own protocol.
pub type DoorError = Box<dyn std::error::Error + Send + Sync>;

/// What the front of a connection's input decoded to.
#[derive(Debug)]
pub enum Decoded<'a> {
    /// Not a whole unit yet: at least this many more bytes are needed (0
    /// when the door cannot tell). The reactor keeps the bytes and reads on.
    Incomplete(usize),
    /// The first `used` bytes were one unit, asking for `action`.
    Unit {
        /// Bytes consumed.
        used: usize,
        /// What to do.
        action: Action<'a>,
    },
}

/// What one decoded unit asks of the reactor.
#[derive(Debug)]
pub enum Action<'a> {
    /// The handshake is complete: the connection's session starts.
    Start(Profile),
    /// A request for the router.
    Command(Command<'a>),
    /// Several requests for the router, applied in order (one chat
    /// `subscribe` is a `HELLO`, a `SUBSCRIBE` and a `HISTORY`).
    Commands(Vec<Command<'a>>),
    /// The client ended the session the way its protocol does (a WebSocket
    /// close frame, Redis's `QUIT`), answered into the output: the
    /// connection closes once the output is flushed, as a normal end rather
    /// than an error.
    Close,
    /// Nothing for the router: the door answered by itself (refusing a
    /// request it could not decode, say) into the output it was given.
    Answered,
}

/// Why the broker closes a connection on its own initiative.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Farewell {
    /// The connection limit was reached when it connected.
    TooManyConnections {
        /// The limit.
        limit: usize,
    },
    /// It did not complete its handshake in time.
    HandshakeTimeout,
    /// It fell behind under slow policy "drop" until gaps were owed on more
    /// topics than the broker keeps track of.
    TooManyGaps {
        /// The most topics with gaps.
        limit: usize,
    },
    /// It sent nothing for the idle timeout.
    IdleTimeout {
        /// The timeout.
        after: std::time::Duration,
    },
    /// It did not answer the door's keep-alive probes (NATS's `PING`).
    Stale,
}

/// A door's own output limits for its connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutputLimit {
    /// Pending bytes past which the connection is closed at once.
    pub hard: usize,
    /// Pending bytes past which, for `soft_for` without a break, it is
    /// closed.
    pub soft: usize,
    /// How long it may stay over `soft`.
    pub soft_for: std::time::Duration,
}

/// One connection's protocol: see the module docs.
///
/// Every `out` is the connection's own output buffer: what a codec appends
/// there is sent to that client, after everything queued before it.
pub trait Codec: fmt::Debug + Send {
    /// Appends what the door says as soon as a connection is accepted
    /// (NATS's `INFO`); the lab protocol says nothing first. A door whose
    /// sessions start at once, with no handshake (NATS), returns their
    /// profile.
    fn greet(&mut self, out: &mut Vec<u8>) -> Option<Profile> {
        let _ = out;
        None
    }

    /// Decodes the unit at the front of `input`. Refusals the door decides on
    /// its own (a request it cannot decode) are appended to `out`.
    ///
    /// # Errors
    /// When the connection must close (a framing error, a failed
    /// handshake); the door has appended its last words to `out`.
    fn decode<'a>(&mut self, input: &'a [u8], out: &mut Vec<u8>) -> Result<Decoded<'a>, DoorError>;

    /// Appends what the door says when the broker closes the connection for
    /// `why`.
    fn farewell(&mut self, why: Farewell, out: &mut Vec<u8>);

    /// What the connection speaks, for logs (`JSONQueue`).
    fn describe(&self) -> &'static str;

    /// Appends `delivery` as every connection of this codec's form receives
    /// it: the part shared by all its recipients.
    ///
    /// # Errors
    /// When this protocol cannot carry it (too large, say); nothing is
    /// appended and the delivery skips this form's recipients.
    fn encode_delivery(&self, delivery: &Delivery<'_>, out: &mut Vec<u8>) -> Result<(), DoorError>;

    /// Whether each recipient's copy needs [`Codec::wrap_delivery`]: a
    /// per-subscription header around the shared part (NATS's `MSG subject
    /// sid len`). Asked once per delivery and form.
    fn wraps_deliveries(&self) -> bool {
        false
    }

    /// Appends one recipient's copy of a delivery whose shared part is
    /// `shared`, for the subscription tagged `tag`. Without a header it is
    /// the shared part itself.
    fn wrap_delivery(
        &self,
        delivery: &Delivery<'_>,
        tag: SubTag,
        shared: &[u8],
        out: &mut Vec<u8>,
    ) {
        let _ = (delivery, tag);
        out.extend_from_slice(shared);
    }

    /// Appends one recipient's copy of `delivery` for the subscription
    /// tagged `tag` in one step: what [`Codec::encode_delivery`] then
    /// [`Codec::wrap_delivery`] append, without the shared part in between.
    /// A delivery with a single recipient needs no shared part, and a 16 KiB
    /// payload copied once instead of twice is a tenth of its CPU.
    /// `Ok(false)`: this door has no such step (nothing is appended).
    ///
    /// # Errors
    /// As [`Codec::encode_delivery`].
    fn encode_delivery_for(
        &self,
        delivery: &Delivery<'_>,
        tag: SubTag,
        out: &mut Vec<u8>,
    ) -> Result<bool, DoorError> {
        let _ = (delivery, tag, out);
        Ok(false)
    }

    /// A subscription that ended by itself since the last call (NATS's
    /// `UNSUB sid max` once `max` messages went out): the reactor asks after
    /// each loop turn's deliveries and cancels it in the router, so it stops
    /// counting as a receiver.
    fn take_ended(&mut self) -> Option<SubTag> {
        None
    }

    /// Appends `notice` in this protocol (some doors have nothing to say for
    /// some notices: the lab protocol alone announces topics).
    fn encode_notice(&mut self, notice: &Notice<'_>, out: &mut Vec<u8>);

    /// Called about once a second on an open connection: a door that probes
    /// its clients (NATS's `PING`) writes the probe to `out`.
    ///
    /// # Errors
    /// [`Farewell::Stale`] when the client left too many probes unanswered:
    /// the connection is closed with it.
    fn keepalive(&mut self, now: std::time::Instant, out: &mut Vec<u8>) -> Result<(), Farewell> {
        let _ = (now, out);
        Ok(())
    }

    /// Whether every copy of a delivery counts as one receiver in a
    /// publisher's count (Redis: a client with a channel and a matching
    /// pattern counts twice); otherwise each connection counts once.
    fn counts_each_copy(&self) -> bool {
        false
    }

    /// The output limits of this door's connections, when they differ from
    /// the broker's slow-consumer limit (Redis's
    /// `client-output-buffer-limit`).
    fn output_limit(&self) -> Option<OutputLimit> {
        None
    }
}
