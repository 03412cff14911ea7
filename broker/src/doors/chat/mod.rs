//! The WebSocket chat door (front-doors spec, seed 000): seed 000's chat
//! protocol over WebSocket, on the same topic tree, so that the seed's
//! Python and TypeScript clients work unchanged.
//!
//! ```text
//! accept --HTTP upgrade--> 101, session open         (else 400, close)
//! subscribe   --> HELLO (first time: userId is the presence name),
//!                 SUBSCRIBE <prefix>/room with presence, HISTORY limit 0
//!                 --> presence join (to the room), subscribed {sequence}
//! unsubscribe --> UNSUBSCRIBE its tag --> presence leave (to the others)
//! publish     --> PUBLISH {"sender","content","id"} --> message {sequence = seq}
//! get_history --> HISTORY --> history {messages}
//! not JSON --> {"error":"Invalid message format"}; unknown type, missing
//!              field --> {"error": ...}; the connection stays open
//! ping --> pong; close --> close (echoed), then closed (Action::Close)
//! bad frame, message over the limit --> close 1002/1007/1009, closed
//! ```
//!
//! - [`handshake`]: the HTTP upgrade.
//! - [`frames`]: WebSocket frames to messages and back.
//! - [`request`]: a chat message to a typed request.
//! - [`room`]: rooms to topics and back.
//! - [`said`]: what a room's messages are kept as, and told as.
//! - [`encode`]: the replies, as the seed's server writes them.
//!
//! A delivery is encoded once for every chat client ([`Codec::encode_delivery`]);
//! one chat `subscribe` is three commands ([`Action::Commands`]).

pub mod encode;
pub mod frames;
pub mod handshake;
pub mod request;
pub mod room;
pub mod said;

use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::{HashMap, VecDeque};

use log::{debug, warn};
use tungstenite::protocol::frame::coding::{Control, OpCode};

use self::frames::{Event, Read, Reader};
use self::request::{ChatError, Request};
use super::{Action, Codec, Decoded, DoorError, Farewell, CHAT};
use crate::core::command::{Filter, SubscribeOptions, TopicArg};
use crate::core::delivery::PresenceAction;
use crate::core::{
    Command, Delivery, DeliveryRule, Hello, HistoryQuery, Notice, Profile, Publish, SubTag,
    Subscribe,
};

/// Largest WebSocket message by default, all fragments together (the
/// front-doors spec: at least 1 MiB).
pub const MAX_MESSAGE: usize = 1024 * 1024;

/// Where a connection is in the WebSocket protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Waiting for the HTTP upgrade request.
    Handshake,
    /// Exchanging frames.
    Open,
    /// A close frame was sent: nothing more is read.
    Closed,
}

/// What a `HISTORY` answer from the router is for: answers come in the
/// order of the requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Awaited {
    /// `subscribed` (the room's number; no messages asked for).
    Subscribed,
    /// `history`.
    History,
}

/// Why the door closes a connection: its upgrade request or its frames.
#[derive(Debug, thiserror::Error)]
enum Closing {
    /// A frame broke the protocol (a close frame with its code was sent).
    #[error(transparent)]
    Violation(#[from] frames::Violation),
    /// The upgrade request was refused (400 sent).
    #[error(transparent)]
    Handshake(#[from] handshake::BadHandshake),
}

/// One WebSocket chat connection's codec.
#[derive(Debug)]
pub struct ChatCodec {
    phase: Phase,
    reader: Reader,
    /// The topic rooms are under (`/chat`).
    prefix: String,
    /// The presence name, from the first `subscribe`'s `userId` (the seed
    /// keeps the first too).
    name: Option<String>,
    /// The room subscriptions' tags, by room.
    rooms: HashMap<String, SubTag>,
    /// The last tag given.
    last_tag: u64,
    /// `HISTORY` answers still to come. Encoding is `&self` (a delivery is
    /// encoded by one codec for all), but the router answers this
    /// connection's own requests through this connection's codec, in order.
    awaited: RefCell<VecDeque<Awaited>>,
    ids: said::Ids,
}

impl ChatCodec {
    /// A codec for rooms under `prefix` (a normalized topic), refusing
    /// messages over `max_message` bytes.
    #[must_use]
    pub fn new(prefix: &str, max_message: usize) -> Self {
        ChatCodec {
            phase: Phase::Handshake,
            reader: Reader::new(max_message),
            prefix: prefix.to_owned(),
            name: None,
            rooms: HashMap::new(),
            last_tag: 0,
            awaited: RefCell::new(VecDeque::new()),
            ids: said::Ids::default(),
        }
    }

    /// The action for one frame.
    fn event(&mut self, event: Event, out: &mut Vec<u8>) -> Action<'static> {
        match event {
            Event::Fragment | Event::Pong => Action::Answered,
            Event::Ping(payload) => {
                frames::write_frame(out, OpCode::Control(Control::Pong), &payload);
                Action::Answered
            }
            Event::Close(code) => {
                // Echo the client's code (RFC 6455 §5.5.1), then close.
                match code {
                    Some(c) => frames::write_close(out, c, ""),
                    None => frames::write_frame(out, OpCode::Control(Control::Close), &[]),
                }
                debug!("chat client closed the WebSocket (code {code:?})");
                self.phase = Phase::Closed;
                Action::Close
            }
            Event::Message(_, bytes) => {
                match request::parse(&bytes).and_then(|r| self.request(r)) {
                    Ok(action) => action,
                    Err(e) => {
                        warn!("chat client: {e}");
                        encode::error(out, &e.to_string());
                        Action::Answered
                    }
                }
            }
        }
    }

    /// The commands for one chat request.
    fn request(&mut self, request: Request) -> Result<Action<'static>, ChatError> {
        Ok(match request {
            Request::Subscribe { room, user_id } => {
                let topic = room::topic(&self.prefix, &room)?;
                let tag = *self.rooms.entry(room).or_insert_with(|| {
                    self.last_tag += 1;
                    SubTag(self.last_tag)
                });
                let mut commands = Vec::with_capacity(3);
                if self.name.is_none() {
                    self.name = Some(user_id.clone());
                    commands.push(Command::Hello(Hello {
                        name: Some(Cow::Owned(user_id)),
                        slow: None,
                    }));
                }
                commands.push(Command::Subscribe(Subscribe {
                    filter: Filter::Subtree(topic.clone()),
                    sent: Cow::Owned(topic.as_str().to_owned()),
                    tag,
                    options: Some(Box::new(SubscribeOptions {
                        presence: true,
                        ..SubscribeOptions::default()
                    })),
                }));
                commands.push(Command::History(HistoryQuery {
                    topic: TopicArg::new(topic),
                    since: 0,
                    limit: Some(0),
                }));
                self.awaited.get_mut().push_back(Awaited::Subscribed);
                Action::Commands(commands)
            }
            Request::Unsubscribe { room } => {
                room::topic(&self.prefix, &room)?;
                match self.rooms.remove(&room) {
                    Some(tag) => Action::Command(Command::Unsubscribe(tag)),
                    None => {
                        debug!("chat client left {room}, where it was not");
                        Action::Answered
                    }
                }
            }
            Request::Publish {
                room,
                sender,
                content,
            } => {
                let topic = room::topic(&self.prefix, &room)?;
                let body = said::stored(sender, content, self.ids.fresh()).map_err(|why| {
                    ChatError::InvalidValue {
                        field: "message",
                        why,
                    }
                })?;
                Action::Command(Command::Publish(Publish {
                    topic: TopicArg::new(topic),
                    body,
                    ack: false,
                    keys: None,
                }))
            }
            Request::GetHistory { room } => {
                let topic = room::topic(&self.prefix, &room)?;
                self.awaited.get_mut().push_back(Awaited::History);
                Action::Command(Command::History(HistoryQuery {
                    topic: TopicArg::new(topic),
                    since: 0,
                    limit: None,
                }))
            }
        })
    }
}

/// The session every chat connection starts with: a room is one exact
/// topic, so one copy per connection; no replay of the last message on
/// subscribe (the seed sends none: `get_history` is the way to the past).
fn profile() -> Profile {
    Profile {
        form: CHAT,
        rule: DeliveryRule::OncePerConnection,
        announcements: false,
        replay: false,
    }
}

impl Codec for ChatCodec {
    fn decode<'a>(&mut self, input: &'a [u8], out: &mut Vec<u8>) -> Result<Decoded<'a>, DoorError> {
        match self.phase {
            Phase::Handshake => match handshake::answer(input, out) {
                Ok(None) => Ok(Decoded::Incomplete(0)),
                Ok(Some(used)) => {
                    self.phase = Phase::Open;
                    Ok(Decoded::Unit {
                        used,
                        action: Action::Start(profile()),
                    })
                }
                Err(e) => {
                    self.phase = Phase::Closed;
                    Err(Box::new(Closing::from(e)))
                }
            },
            Phase::Open => match self.reader.read(input) {
                Ok(Read::Incomplete(need)) => Ok(Decoded::Incomplete(need)),
                Ok(Read::Frame { used, event }) => Ok(Decoded::Unit {
                    used,
                    action: self.event(event, out),
                }),
                Err(v) => {
                    frames::write_close(out, v.code, &v.reason);
                    self.phase = Phase::Closed;
                    Err(Box::new(Closing::from(v)))
                }
            },
            // The reactor stops reading a connection its codec closed;
            // should bytes come anyway, they are dropped.
            Phase::Closed => Ok(Decoded::Unit {
                used: input.len(),
                action: Action::Answered,
            }),
        }
    }

    fn farewell(&mut self, why: Farewell, out: &mut Vec<u8>) {
        if self.phase == Phase::Handshake {
            let (status, text) = match why {
                Farewell::HandshakeTimeout => ("408 Request Timeout", "no upgrade request in time"),
                _ => ("503 Service Unavailable", "connection limit reached"),
            };
            handshake::http_error(out, status, text);
        } else {
            let (code, text) = match why {
                Farewell::TooManyConnections { .. } => (1013, "connection limit reached"),
                Farewell::HandshakeTimeout => (1002, "no handshake in time"),
                Farewell::TooManyGaps { .. } => (1008, "slow consumer"),
                Farewell::IdleTimeout { .. } => (1001, "idle timeout"),
                Farewell::Stale => (1001, "stale connection"),
            };
            frames::write_close(out, code, text);
        }
        self.phase = Phase::Closed;
    }

    fn describe(&self) -> &'static str {
        "WebSocket chat"
    }

    fn encode_delivery(&self, delivery: &Delivery<'_>, out: &mut Vec<u8>) -> Result<(), DoorError> {
        let Some(room) = room::of_topic(&self.prefix, delivery.topic) else {
            return Err(format!("{} is not a room", delivery.topic).into());
        };
        let said = said::Said::of(
            delivery.body,
            delivery.topic,
            delivery.seq,
            delivery.ts,
            delivery.publisher,
        );
        encode::message(out, &said, room, delivery.seq, delivery.ts);
        Ok(())
    }

    fn encode_notice(&mut self, notice: &Notice<'_>, out: &mut Vec<u8>) {
        match notice {
            Notice::History(page) => {
                let room = room::of_topic(&self.prefix, page.topic).unwrap_or(page.topic);
                match self.awaited.borrow_mut().pop_front() {
                    Some(Awaited::Subscribed) => encode::subscribed(out, room, page.seq),
                    Some(Awaited::History) => encode::history(out, room, page),
                    None => debug!("a history answer nobody asked for on {}", page.topic),
                }
            }
            Notice::Presence(event)
                if matches!(event.action, PresenceAction::Join | PresenceAction::Leave)
                    && room::of_topic(&self.prefix, event.topic).is_some() =>
            {
                encode::presence(out, event);
            }
            Notice::Refused { error, .. } => encode::error(out, &error.to_string()),
            other => debug!("nothing to tell a chat client of {other:?}"),
        }
    }
}

#[cfg(test)]
mod codec_tests;
