//! The router test harness: requests go in as lab frame payloads, decoded
//! into commands by the lab door's real codec; a recording [`Outbox`] keeps
//! every call the router makes and encodes what it is handed with each
//! recipient's codec, as the reactor does, so the frames can be decoded and
//! checked.
#![allow(dead_code)]

use std::collections::HashMap;

#[path = "../common/stamps.rs"]
pub mod stamps;

use broker::core::{
    ConnId, Delivery, Form, Notice, Outbox, Profile, Recipient, Router, RouterConfig, SlowPolicy,
};
use broker::doors::lab::LabCodec;
use broker::doors::{Action, Codec, Decoded};
use protocol::{frame, Format, Message, Method, Value, MAX_PAYLOAD};

/// What one `deliver` call was handed.
#[derive(Debug, Clone, PartialEq)]
pub struct Delivered {
    pub form: Form,
    pub topic: String,
    pub to: Vec<Recipient>,
}

/// Records every call, and every frame per recipient, in order.
#[derive(Debug, Default)]
pub struct Recorder {
    /// Each lab connection's codec, past its handshake.
    pub codecs: HashMap<ConnId, LabCodec>,
    pub frames: HashMap<ConnId, Vec<Vec<u8>>>,
    pub delivered: Vec<Delivered>,
    /// The slow policy each connection asked for.
    pub policies: HashMap<ConnId, SlowPolicy>,
}

impl Recorder {
    /// Encodes once with the first recipient's codec, as the reactor does,
    /// and gives every recipient the same bytes.
    fn fan_out(
        &mut self,
        to: impl Iterator<Item = ConnId>,
        encode: impl Fn(&mut LabCodec, &mut Vec<u8>),
    ) {
        let mut shared: Option<Vec<u8>> = None;
        for id in to {
            let Some(codec) = self.codecs.get_mut(&id) else {
                continue;
            };
            let bytes = shared.get_or_insert_with(|| {
                let mut out = Vec::new();
                encode(codec, &mut out);
                out
            });
            self.frames.entry(id).or_default().push(bytes.clone());
        }
    }
}

impl Outbox for Recorder {
    fn deliver(&mut self, form: Form, delivery: &Delivery<'_>, to: &[Recipient]) -> Option<usize> {
        self.delivered.push(Delivered {
            form,
            topic: delivery.topic.to_owned(),
            to: to.to_vec(),
        });
        self.fan_out(to.iter().map(|r| r.conn), |codec, out| {
            codec.encode_delivery(delivery, out).expect("encodable");
        });
        Some(to.len())
    }

    fn notify(&mut self, _form: Form, notice: &Notice<'_>, to: &[ConnId]) {
        self.fan_out(to.iter().copied(), |codec, out| {
            codec.encode_notice(notice, out)
        });
    }

    fn replay(&mut self, to: Recipient, delivery: &Delivery<'_>) -> bool {
        self.fan_out(std::iter::once(to.conn), |codec, out| {
            codec.encode_delivery(delivery, out).expect("encodable");
        });
        true
    }

    fn set_slow_policy(&mut self, to: ConnId, policy: SlowPolicy) {
        self.policies.insert(to, policy);
    }
}

/// A router, its recorder and the format of each connection.
pub struct Harness {
    pub router: Router,
    pub out: Recorder,
    pub formats: HashMap<ConnId, Format>,
}

/// A lab codec past the handshake for `format`, and the profile it gave.
pub fn handshaken(format: Format) -> (LabCodec, Profile) {
    let mut codec = LabCodec::default();
    let mut hello = Vec::new();
    frame::encode(format.handshake().as_bytes(), &mut hello).unwrap();
    let mut out = Vec::new();
    match codec.decode(&hello, &mut out) {
        Ok(Decoded::Unit {
            action: Action::Start(profile),
            ..
        }) => (codec, profile),
        other => panic!("handshake: {other:?}"),
    }
}

impl Harness {
    pub fn new() -> Self {
        Harness {
            router: Router::new(RouterConfig::default()),
            out: Recorder::default(),
            formats: HashMap::new(),
        }
    }

    pub fn connect(&mut self, id: usize, format: Format) -> ConnId {
        let id = ConnId(id);
        let (codec, profile) = handshaken(format);
        self.router.connect(id, profile);
        self.out.codecs.insert(id, codec);
        self.formats.insert(id, format);
        id
    }

    pub fn disconnect(&mut self, id: ConnId) {
        self.router.disconnect(id, &mut self.out);
    }

    /// Feeds one raw payload from `from` through its codec (a JSON one for
    /// an id that never connected) to the router.
    pub fn raw(&mut self, from: ConnId, payload: &[u8]) {
        let mut request = Vec::new();
        frame::encode(payload, &mut request).expect("a frame");
        let mut spare = handshaken(Format::Json).0;
        let codec = self.out.codecs.get_mut(&from).unwrap_or(&mut spare);
        let mut answer = Vec::new();
        let action = match codec.decode(&request, &mut answer) {
            Ok(Decoded::Unit { used, action }) => {
                assert_eq!(used, request.len());
                action
            }
            other => panic!("undecodable request: {other:?}"),
        };
        if !answer.is_empty() {
            self.out.frames.entry(from).or_default().push(answer);
        }
        match action {
            Action::Command(command) => self.router.handle(from, command, &mut self.out),
            Action::Commands(commands) => {
                for command in commands {
                    self.router.handle(from, command, &mut self.out);
                }
            }
            Action::Answered => {}
            Action::Close => panic!("the lab protocol has no way to ask for a close"),
            Action::Start(_) => panic!("a second handshake"),
        }
    }

    /// Encodes `m` in `from`'s format and feeds its payload.
    #[track_caller]
    pub fn req(&mut self, from: ConnId, m: &Message) {
        let format = self.formats[&from];
        let mut frame = Vec::new();
        format.encode(m, &mut frame).expect("encode request");
        self.raw(from, &frame[5..]);
    }

    pub fn publish(&mut self, from: ConnId, topic: &str, msg: impl Into<Value>) {
        self.req(from, &Message::publish(topic, msg));
    }

    pub fn subscribe(&mut self, from: ConnId, topic: &str) {
        self.req(from, &Message::subscribe(topic));
    }

    pub fn cancel(&mut self, from: ConnId, topic: &str) {
        self.req(from, &Message::cancel_sub(topic));
    }

    /// The frames sent to `id` since the last take, each checked to be one
    /// whole frame with a `'{:>5}'` header.
    #[track_caller]
    pub fn frames(&mut self, id: ConnId) -> Vec<Vec<u8>> {
        let frames = self.out.frames.remove(&id).unwrap_or_default();
        for f in &frames {
            let parsed = frame::decode(f)
                .expect("valid header")
                .expect("a whole frame");
            assert_eq!(parsed.len, f.len(), "exactly one frame per send");
            assert_eq!(&f[..5], format!("{:>5}", f.len() - 5).as_bytes());
            assert!(f.len() - 5 <= MAX_PAYLOAD);
        }
        frames
    }

    /// The messages sent to `id` since the last take, decoded in its format.
    #[track_caller]
    pub fn take(&mut self, id: ConnId) -> Vec<Message> {
        let format = self.formats[&id];
        self.frames(id)
            .iter()
            .map(|f| {
                stamps::unstamped(format.decode(&f[5..]).unwrap_or_else(|e| {
                    panic!("{format:?} frame {:?}: {e}", String::from_utf8_lossy(f))
                }))
            })
            .collect()
    }

    /// Like [`Harness::take`] without the `LIST_ACK` announcements.
    #[track_caller]
    pub fn take_non_lists(&mut self, id: ConnId) -> Vec<Message> {
        self.take(id)
            .into_iter()
            .filter(|m| m.method != Method::ListAck)
            .collect()
    }

    /// Asserts that nothing at all was sent to any connection.
    #[track_caller]
    pub fn assert_silent(&mut self) {
        let pending: Vec<_> = self
            .out
            .frames
            .iter()
            .filter(|(_, f)| !f.is_empty())
            .map(|(id, f)| (id.0, f.len()))
            .collect();
        assert!(pending.is_empty(), "unexpected frames: {pending:?}");
    }

    pub fn clear(&mut self) {
        self.out.frames.clear();
        self.out.delivered.clear();
    }
}

pub fn strs(items: &[&str]) -> Value {
    Value::List(items.iter().map(|s| Value::from(*s)).collect())
}

pub fn list_ack(items: &[&str]) -> Message {
    Message::new(Method::ListAck, "/", strs(items))
}

pub fn last_msg(topic: &str, msg: impl Into<Value>) -> Message {
    Message::new(Method::LastMsg, topic, msg)
}

#[track_caller]
pub fn assert_error(m: &Message, topic: &str) {
    assert_eq!(m.method, Method::Error, "{m:?}");
    assert_eq!(m.topic, topic, "{m:?}");
    assert!(matches!(&m.msg, Value::Str(s) if !s.is_empty()), "{m:?}");
}
