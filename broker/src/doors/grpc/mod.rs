//! The gRPC door: one broker session per gRPC stream or pooled unary
//! session of the side thread ([`crate::grpc`]), which hands the reactor
//! one end of a local socket pair per session. On it, this codec reads
//! `SessionRequest` messages and writes `SessionEvent` messages, each
//! preceded by its length as a varint (docs/grpc.md).
//!
//! - [`request`]: a request to the core's commands, with its checks.
//! - [`value`]: values between protobuf and the core, losslessly.
//! - [`encode`]: events, answers and the shared part of deliveries.
//!
//! Requests carry an `id`, and their answers must carry it too. The router
//! answers a connection's requests in order, each completely before the
//! next is decoded, so the codec remembers the id of the request it
//! decoded last and stamps it on the answers that follow; a request with an
//! id ends with a [`Command::Sync`], whose [`Notice::Synced`] becomes its
//! `done`.

mod encode;
mod request;
mod value;

use log::debug;
use prost::encoding::decode_varint;
use prost::Message;
use tonic::Code;

use super::{Action, Codec, Decoded, DoorError, Farewell, GRPC};
use crate::core::{Command, CoreError, Delivery, DeliveryRule, Notice, Profile, SubTag};
use crate::proto::{self, answer::Result as Answered};

/// The longest request frame past which the side thread is broken: it
/// sends only what tonic accepted under the broker's message size.
const FRAME_SLACK: usize = 64 * 1024;

/// One gRPC session's protocol state.
#[derive(Debug)]
pub struct GrpcCodec {
    /// The request decoded last: its answers carry its id.
    current: u64,
    /// Largest published value's JSON text, in bytes (`--max-message`).
    max_message: usize,
}

impl GrpcCodec {
    /// A codec for a new session.
    #[must_use]
    pub fn new(max_message: usize) -> Self {
        GrpcCodec {
            current: 0,
            max_message,
        }
    }
}

/// The status code of a router's refusal.
fn code_of(error: &CoreError) -> Code {
    match error {
        CoreError::PublishToRoot | CoreError::Filter(_) => Code::InvalidArgument,
        CoreError::Storage => Code::Unavailable,
        CoreError::TopicLimit(_)
        | CoreError::RetainedLimit { .. }
        | CoreError::StateLimit { .. }
        | CoreError::KeyspaceFull { .. }
        | CoreError::SubscriptionLimit { .. } => Code::ResourceExhausted,
    }
}

impl Codec for GrpcCodec {
    fn greet(&mut self, _out: &mut Vec<u8>) -> Option<Profile> {
        Some(Profile {
            form: GRPC,
            rule: DeliveryRule::OncePerSubscription,
            announcements: false,
            replay: true,
        })
    }

    fn decode<'a>(&mut self, input: &'a [u8], out: &mut Vec<u8>) -> Result<Decoded<'a>, DoorError> {
        let mut rest = input;
        let len = match decode_varint(&mut rest) {
            Ok(len) => len,
            // Ten bytes hold any varint: fewer may be a varint cut short.
            Err(_) if input.len() < 10 => return Ok(Decoded::Incomplete(0)),
            Err(e) => return Err(format!("bad frame length: {e}").into()),
        };
        let header = input.len() - rest.len();
        let len = usize::try_from(len).unwrap_or(usize::MAX);
        if len > self.max_message.saturating_add(FRAME_SLACK) {
            encode::error(
                0,
                Code::ResourceExhausted,
                format!("request of {len} bytes"),
                out,
            );
            return Err(format!("request frame of {len} bytes").into());
        }
        if rest.len() < len {
            return Ok(Decoded::Incomplete(len - rest.len()));
        }
        let used = header + len;
        let request = match proto::SessionRequest::decode(&rest[..len]) {
            Ok(r) => r,
            Err(e) => {
                encode::error(0, Code::Internal, format!("undecodable request: {e}"), out);
                return Err(format!("undecodable request: {e}").into());
            }
        };
        let id = request.id;
        self.current = id;
        match request::commands(id, request.kind, self.max_message) {
            Ok(mut commands) => {
                if id != 0 {
                    commands.push(Command::Sync(id));
                }
                Ok(Decoded::Unit {
                    used,
                    action: Action::Commands(commands),
                })
            }
            Err(refusal) => {
                debug!("gRPC request {id} refused: {}", refusal.message);
                encode::error(id, refusal.code, refusal.message, out);
                if id != 0 {
                    encode::answer(id, Answered::Done(proto::Done {}), out);
                }
                Ok(Decoded::Unit {
                    used,
                    action: Action::Answered,
                })
            }
        }
    }

    fn farewell(&mut self, why: Farewell, out: &mut Vec<u8>) {
        let (code, message) = match why {
            Farewell::TooManyConnections { limit } => (
                Code::ResourceExhausted,
                format!("connection limit reached: the broker serves at most {limit} sessions"),
            ),
            Farewell::TooManyGaps { limit } => (
                Code::ResourceExhausted,
                format!("too far behind: gaps owed on more than {limit} topics"),
            ),
            Farewell::IdleTimeout { after } => (
                Code::DeadlineExceeded,
                format!("idle for {after:?}: the session is closed"),
            ),
            Farewell::HandshakeTimeout | Farewell::Stale => {
                (Code::Unavailable, "the session is closed".to_owned())
            }
        };
        encode::error(0, code, message, out);
    }

    fn describe(&self) -> &'static str {
        "gRPC"
    }

    fn encode_delivery(&self, delivery: &Delivery<'_>, out: &mut Vec<u8>) -> Result<(), DoorError> {
        encode::delivery_shared(delivery, out);
        Ok(())
    }

    fn wraps_deliveries(&self) -> bool {
        true
    }

    fn wrap_delivery(
        &self,
        _delivery: &Delivery<'_>,
        tag: SubTag,
        shared: &[u8],
        out: &mut Vec<u8>,
    ) {
        encode::delivery_for(tag.0, shared, out);
    }

    fn encode_notice(&mut self, notice: &Notice<'_>, out: &mut Vec<u8>) {
        let id = self.current;
        let result = match notice {
            Notice::Topics { list, after } => Answered::Topics(encode::topics(*list, *after)),
            Notice::NoTopics => Answered::Topics(proto::TopicList::default()),
            Notice::Hello(g) => Answered::Hello(proto::HelloReply {
                epoch: g.epoch.to_owned(),
                id: g.conn.0 as u64,
                history: g.history as u64,
                max_output: g.max_output as u64,
            }),
            Notice::History(page) => Answered::History(encode::history(page)),
            Notice::PubAck(ack) => Answered::Puback(proto::PubAck {
                topic: ack.topic.to_owned(),
                seq: ack.seq,
                receivers: ack.receivers,
                id: ack.id.unwrap_or_default().to_owned(),
                duplicate: ack.duplicate,
            }),
            Notice::NoResponders { reply, topic } => Answered::NoResponders(proto::NoResponders {
                reply: (*reply).to_owned(),
                topic: (*topic).to_owned(),
            }),
            Notice::Who { topic, present } => Answered::Who(proto::WhoReply {
                topic: (*topic).to_owned(),
                present: present
                    .iter()
                    .map(|p| proto::Present {
                        name: p.name.clone(),
                        id: p.conn.0 as u64,
                        away: p.away,
                        since: p.since,
                    })
                    .collect(),
            }),
            Notice::Refused { topic, error } => Answered::Error(proto::Error {
                code: code_of(error) as i32,
                message: format!("{topic}: {error}"),
            }),
            Notice::Synced(n) => return encode::answer(*n, Answered::Done(proto::Done {}), out),
            Notice::Gap(gap) => return encode::event(encode::gap(gap), out),
            Notice::Presence(event) => return encode::event(encode::presence(event), out),
            Notice::Reply(r) => return debug!("nothing to tell a gRPC client of {r:?}"),
        };
        encode::answer(id, result, out);
    }
}
