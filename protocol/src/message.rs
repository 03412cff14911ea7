//! Methods and messages (spec §5), in an owned form for clients and a
//! borrowed form ([`Envelope`]) for the broker's forwarding path.

use std::borrow::Cow;
use std::fmt;

use crate::value::Value;

/// A protocol method. Names match exactly, upper case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Method {
    /// Client: publish `msg` on `topic`. Broker: a delivery.
    Publish,
    /// Client: subscribe to `topic` and its descendants.
    Subscribe,
    /// Client: cancel subscriptions equal to or under a topic.
    CancelSub,
    /// Client: ask for the topic list (optionally after a cursor in `msg`).
    List,
    /// Broker: a retained message, replayed on subscribe.
    LastMsg,
    /// Broker: the sorted topic list.
    ListAck,
    /// Broker: there are no topics at all.
    ListNack,
    /// Broker: a request was refused.
    Error,
    /// Client: announce protocol v2 and set options; broker: the answer (v2 §10).
    Hello,
    /// Client: a round trip; answered `PONG` (v2 §16).
    Ping,
    /// Broker: the answer to `PING`.
    Pong,
    /// Client: ask for a topic's kept messages; broker: the answer (v2 §12).
    History,
    /// Broker: messages of a topic that were not and will not be delivered (v2 §13).
    Gap,
    /// Broker: a publish was accepted, with its number and receiver count (v2 §15).
    PubAck,
    /// Broker: a request (a publish with `reply`) reached nobody (v2 §15).
    NoResponders,
    /// Broker: a client joined, left, went away or came back on a topic (v2 §16).
    Presence,
    /// Client: who is on a topic; broker: the answer (v2 §16).
    Who,
}

impl Method {
    /// Every method, in spec order.
    pub const ALL: [Method; 17] = [
        Method::Publish,
        Method::Subscribe,
        Method::CancelSub,
        Method::List,
        Method::LastMsg,
        Method::ListAck,
        Method::ListNack,
        Method::Error,
        Method::Hello,
        Method::Ping,
        Method::Pong,
        Method::History,
        Method::Gap,
        Method::PubAck,
        Method::NoResponders,
        Method::Presence,
        Method::Who,
    ];

    /// The wire name, e.g. `"CANCEL_SUB"`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Publish => "PUBLISH",
            Method::Subscribe => "SUBSCRIBE",
            Method::CancelSub => "CANCEL_SUB",
            Method::List => "LIST",
            Method::LastMsg => "LAST_MSG",
            Method::ListAck => "LIST_ACK",
            Method::ListNack => "LIST_NACK",
            Method::Error => "ERROR",
            Method::Hello => "HELLO",
            Method::Ping => "PING",
            Method::Pong => "PONG",
            Method::History => "HISTORY",
            Method::Gap => "GAP",
            Method::PubAck => "PUBACK",
            Method::NoResponders => "NO_RESPONDERS",
            Method::Presence => "PRESENCE",
            Method::Who => "WHO",
        }
    }

    /// Looks up a wire name; exact match only.
    #[must_use]
    pub fn from_name(name: &str) -> Option<Method> {
        Some(match name {
            "PUBLISH" => Method::Publish,
            "SUBSCRIBE" => Method::Subscribe,
            "CANCEL_SUB" => Method::CancelSub,
            "LIST" => Method::List,
            "LAST_MSG" => Method::LastMsg,
            "LIST_ACK" => Method::ListAck,
            "LIST_NACK" => Method::ListNack,
            "ERROR" => Method::Error,
            "HELLO" => Method::Hello,
            "PING" => Method::Ping,
            "PONG" => Method::Pong,
            "HISTORY" => Method::History,
            "GAP" => Method::Gap,
            "PUBACK" => Method::PubAck,
            "NO_RESPONDERS" => Method::NoResponders,
            "PRESENCE" => Method::Presence,
            "WHO" => Method::Who,
            _ => return None,
        })
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The scalar top-level keys besides `method`, `topic` and `msg` (v2): JSON
/// writes them as keys after `msg`, XML as attributes of `message`. A key
/// that does not apply is absent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Attrs {
    /// A delivery's number on its topic (v2 §11).
    pub seq: Option<u64>,
    /// When the broker accepted the message, in milliseconds since the Unix
    /// epoch (v2 §11).
    pub ts: Option<u64>,
    /// The answer did not fit one frame: ask again for the rest (`LIST_ACK`,
    /// `HISTORY` paging).
    pub more: bool,
    /// A `PUBLISH` asks for a `PUBACK` (v2 §15).
    pub ack: bool,
}

/// The string top-level keys of a `PUBLISH` and its deliveries (v2 §15),
/// borrowed: written as [`Attrs`] are.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Links<'a> {
    /// The publisher's id for the message (deduplication); on requests only.
    pub id: Option<&'a str>,
    /// Where to answer (request/reply): on a `PUBLISH` and its deliveries.
    pub reply: Option<&'a str>,
}

impl Links<'_> {
    /// Neither key.
    pub const NONE: Links<'static> = Links {
        id: None,
        reply: None,
    };
}

impl Attrs {
    /// No key at all: what v1 requests and answers carry.
    pub const NONE: Attrs = Attrs {
        seq: None,
        ts: None,
        more: false,
        ack: false,
    };

    /// Only `more`, as given.
    #[must_use]
    pub fn more(more: bool) -> Attrs {
        Attrs {
            more,
            ..Attrs::NONE
        }
    }

    /// A delivery's number and time.
    #[must_use]
    pub fn stamped(seq: u64, ts: u64) -> Attrs {
        Attrs {
            seq: Some(seq),
            ts: Some(ts),
            ..Attrs::NONE
        }
    }
}

/// A whole message with an owned value: what clients build and read.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    /// The method.
    pub method: Method,
    /// The topic string as sent (not validated here; `""` when absent).
    pub topic: String,
    /// The value; `Null` when absent.
    pub msg: Value,
    /// `more`, `seq`, `ts` and `ack`, when present.
    pub attrs: Attrs,
    /// `id`, when present (v2 §15).
    pub id: Option<String>,
    /// `reply`, when present (v2 §15).
    pub reply: Option<String>,
}

impl Message {
    /// A message with no attributes.
    pub fn new(method: Method, topic: impl Into<String>, msg: impl Into<Value>) -> Self {
        Message {
            method,
            topic: topic.into(),
            msg: msg.into(),
            attrs: Attrs::NONE,
            id: None,
            reply: None,
        }
    }

    /// Its `id` and `reply`, borrowed for encoding.
    #[must_use]
    pub fn links(&self) -> Links<'_> {
        Links {
            id: self.id.as_deref(),
            reply: self.reply.as_deref(),
        }
    }

    /// `PUBLISH topic msg`.
    pub fn publish(topic: impl Into<String>, msg: impl Into<Value>) -> Self {
        Self::new(Method::Publish, topic, msg)
    }

    /// `SUBSCRIBE topic`.
    pub fn subscribe(topic: impl Into<String>) -> Self {
        Self::new(Method::Subscribe, topic, Value::Null)
    }

    /// `CANCEL_SUB`, with the topic in both fields as the lab middleware sends it.
    pub fn cancel_sub(topic: impl Into<String>) -> Self {
        let topic = topic.into();
        Self::new(Method::CancelSub, topic.clone(), topic)
    }

    /// `LIST`, from the start or after `cursor` (spec §7 paging).
    #[must_use]
    pub fn list(cursor: Option<&str>) -> Self {
        Self::new(Method::List, "/", cursor.map_or(Value::Null, Value::from))
    }
}

/// A `msg` value on its way through the broker.
///
/// A JSON publisher's value stays as its validated JSON text, so forwarding it
/// to JSON subscribers is a copy, and XML subscribers get it transcoded as a
/// stream without a tree (see [`crate::Format::encode_parts`]). An XML
/// publisher's value is streamed into JSON text while it is decoded, so the
/// broker handles both the same way.
#[derive(Debug, Clone, PartialEq)]
pub enum Body<'a> {
    /// Validated JSON text of the value (checked for everything XML needs too).
    Json {
        /// The JSON text, without surrounding whitespace: borrowed from a JSON
        /// frame, or written while decoding an XML one.
        text: Cow<'a, str>,
        /// Bytes of the value's XML `msg` element, measured while validating;
        /// `None` when the text was short enough for its XML form to fit a
        /// frame whatever it holds (see [`Body::xml_len_bound`]).
        xml_len: Option<usize>,
    },
    /// A decoded value (from an XML publisher, or built by a client).
    Value(Cow<'a, Value>),
    /// A string value held as its characters, not as JSON text: a NATS or
    /// Redis payload that is text, borrowed from the request. Those doors
    /// write it back as it is, so only a JSON or XML consumer (a lab client,
    /// the history) pays for quoting it. Built by [`Body::text`].
    Str {
        /// The characters: only those XML can carry.
        text: Cow<'a, str>,
        /// None of them needs a JSON escape (printable ASCII but `"` and
        /// `\`), so the JSON text is the characters between quotes; `false`
        /// when some may.
        plain: bool,
    },
}

impl<'a> Body<'a> {
    /// The string value whose characters are `bytes`, when they are one:
    /// UTF-8 that XML can carry.
    #[must_use]
    pub fn text(bytes: &'a [u8]) -> Option<Body<'a>> {
        let (s, plain) = crate::format::json::text_value(bytes)?;
        Some(Body::Str {
            text: Cow::Borrowed(s),
            plain,
        })
    }

    /// Bytes of the value's JSON text (a tree is written to be measured).
    #[must_use]
    pub fn json_len(&self) -> usize {
        match self {
            Body::Json { text, .. } => text.len(),
            Body::Value(v) => v.to_string().len(),
            Body::Str { text, plain: true } => text.len() + 2,
            Body::Str { text, plain: false } => crate::format::json::quoted_len(text),
        }
    }

    /// Appends the value's JSON text to `out` (a kept message's reused
    /// buffer).
    pub fn push_json(&self, out: &mut String) {
        match self {
            Body::Json { text, .. } => out.push_str(text),
            Body::Value(v) => out.push_str(&v.to_string()),
            Body::Str { text, plain: true } => {
                out.push('"');
                out.push_str(text);
                out.push('"');
            }
            Body::Str { text, plain: false } => out.push_str(&crate::format::json::quote(text)),
        }
    }

    /// A null value.
    pub const NULL: Body<'static> = Body::Json {
        text: Cow::Borrowed("null"),
        xml_len: Some(r#"<msg type="null"/>"#.len()),
    };

    /// Most bytes the XML `msg` element of a value can take per byte of its
    /// JSON text: the worst case is a list of one-digit integers, where `1,`
    /// (2 bytes) becomes `<item type="int">1</item>` (25 bytes).
    pub const XML_PER_JSON_BYTE: usize = 16;

    /// Bytes of XML `msg` element beyond that, for the element around a scalar
    /// (`1` becomes `<msg type="int">1</msg>`, 23 bytes).
    pub const XML_OVERHEAD: usize = 32;

    /// An upper bound of the bytes of the value's XML `msg` element: exact
    /// when measured, else from the length of its JSON text.
    #[must_use]
    pub fn xml_len_bound(&self) -> Option<usize> {
        match self {
            Body::Json {
                xml_len: Some(n), ..
            } => Some(*n),
            Body::Json {
                text,
                xml_len: None,
            } => Some(text.len() * Self::XML_PER_JSON_BYTE + Self::XML_OVERHEAD),
            // No character's XML escape takes 16 bytes per byte.
            Body::Str { text, .. } => {
                Some(text.len() * Self::XML_PER_JSON_BYTE + Self::XML_OVERHEAD)
            }
            Body::Value(_) => None,
        }
    }

    /// The value as a tree.
    #[must_use]
    pub fn to_value(&self) -> Value {
        match self {
            Body::Json { text, .. } => crate::format::json::parse_value(text).unwrap_or_default(),
            Body::Value(v) => v.as_ref().clone(),
            Body::Str { text, .. } => Value::Str(text.to_string()),
        }
    }

    /// The value as a non-empty string, when it is one: where `CANCEL_SUB`
    /// looks for its topic and `LIST` for its cursor.
    #[must_use]
    pub fn as_nonempty_str(&self) -> Option<Cow<'_, str>> {
        match self {
            Body::Json { text, .. } if text.starts_with('"') => {
                match crate::format::json::parse_value(text) {
                    Ok(Value::Str(s)) if !s.is_empty() => Some(Cow::Owned(s)),
                    _ => None,
                }
            }
            Body::Value(v) => match v.as_ref() {
                Value::Str(s) if !s.is_empty() => Some(Cow::Borrowed(s.as_str())),
                _ => None,
            },
            Body::Str { text, .. } if !text.is_empty() => Some(Cow::Borrowed(text)),
            Body::Json { .. } | Body::Str { .. } => None,
        }
    }

    /// Whether the value is null.
    #[must_use]
    pub fn is_null(&self) -> bool {
        match self {
            Body::Json { text, .. } => *text == "null",
            Body::Value(v) => matches!(v.as_ref(), Value::Null),
            Body::Str { .. } => false,
        }
    }
}

/// A decoded request, borrowing from the frame it came in.
#[derive(Debug, Clone, PartialEq)]
pub struct Envelope<'a> {
    /// The method.
    pub method: Method,
    /// The topic as sent, unvalidated; `None` when absent.
    pub topic: Option<Cow<'a, str>>,
    /// The value.
    pub msg: Body<'a>,
    /// `more`, `seq`, `ts` and `ack`, when present.
    pub attrs: Attrs,
    /// `id` and `reply`, when either is present (boxed: rare, and every
    /// frame's envelope is moved on the way to the broker).
    pub keys: Option<Box<Keys<'a>>>,
}

/// The string top-level keys of a decoded request (v2 §15), as sent: any
/// string (the broker checks them).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Keys<'a> {
    /// `id`.
    pub id: Option<Cow<'a, str>>,
    /// `reply`.
    pub reply: Option<Cow<'a, str>>,
}

impl Envelope<'_> {
    /// An owned [`Message`] with the same content.
    #[must_use]
    pub fn to_message(&self) -> Message {
        let links = self.links();
        Message {
            method: self.method,
            topic: self.topic.as_deref().unwrap_or_default().to_owned(),
            msg: self.msg.to_value(),
            attrs: self.attrs,
            id: links.id.map(str::to_owned),
            reply: links.reply.map(str::to_owned),
        }
    }

    /// Its `id` and `reply`, borrowed.
    #[must_use]
    pub fn links(&self) -> Links<'_> {
        match &self.keys {
            Some(k) => Links {
                id: k.id.as_deref(),
                reply: k.reply.as_deref(),
            },
            None => Links::NONE,
        }
    }
}
