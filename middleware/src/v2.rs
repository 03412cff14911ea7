//! The values of protocol v2's requests and answers (`docs/protocol.md`,
//! v2 §10-15): [`Hello`] options, the broker's [`Welcome`], a topic's
//! [`History`], [`SubscribeOptions`] and a publish's [`PubAck`].

use protocol::Value;

use crate::error::{Error, Result};
use crate::event::{field, number};

/// What a connection does when it reads too slowly (`HELLO` `slow`, v2 §10).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Slow {
    /// The broker closes the connection (v1's policy, the broker's default).
    Disconnect,
    /// The broker drops deliveries and later says so with
    /// [`Event::Gap`](crate::Event::Gap) (reason `slow`).
    Drop,
}

impl Slow {
    /// The policy as spelled on the wire.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Slow::Disconnect => "disconnect",
            Slow::Drop => "drop",
        }
    }
}

/// The options of a `HELLO` request (v2 §10); every one is optional.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Hello {
    /// The client's name: 1 to 64 bytes of UTF-8 without whitespace or
    /// control characters (not unique, not authenticated).
    pub name: Option<String>,
    /// The slow-consumer policy of the connection.
    pub slow: Option<Slow>,
}

impl Hello {
    /// The request's `msg`: `{"version": 2}` and the options given.
    pub(crate) fn to_value(&self) -> Value {
        let mut keys = vec![("version".to_owned(), Value::Int(2))];
        if let Some(name) = &self.name {
            keys.push(("name".to_owned(), Value::from(name.as_str())));
        }
        if let Some(slow) = self.slow {
            keys.push(("slow".to_owned(), Value::from(slow.as_str())));
        }
        Value::Dict(keys)
    }
}

/// What a subscription asks besides its topic (`SUBSCRIBE` `msg`, v2 §14-16).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SubscribeOptions {
    /// Only messages this CEL expression is true for, over `msg`, `topic`
    /// and `seq` (e.g. `msg.type == "order" && msg.value > 100`); the broker
    /// answers an expression that does not compile with an error.
    pub filter: Option<String>,
    /// Share the topic's messages with the other members of this queue
    /// group: each message goes to one of them. A member gets no replay.
    pub group: Option<String>,
    /// Also receive [`Event::Presence`](crate::Event::Presence) for the
    /// topic: named clients joining and leaving it (v2 §16). Exact topics
    /// only: the broker refuses it on a pattern.
    pub presence: bool,
}

impl SubscribeOptions {
    /// Only messages `expr` is true for.
    #[must_use]
    pub fn filter(expr: impl Into<String>) -> Self {
        SubscribeOptions {
            filter: Some(expr.into()),
            ..SubscribeOptions::default()
        }
    }

    /// A member of queue group `name`.
    #[must_use]
    pub fn group(name: impl Into<String>) -> Self {
        SubscribeOptions {
            group: Some(name.into()),
            ..SubscribeOptions::default()
        }
    }

    /// With presence events for the topic.
    #[must_use]
    pub fn presence() -> Self {
        SubscribeOptions {
            presence: true,
            ..SubscribeOptions::default()
        }
    }

    /// Whether none is set (a v1 subscription).
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.filter.is_none() && self.group.is_none() && !self.presence
    }

    /// The options' keys of a `SUBSCRIBE` `msg`.
    pub(crate) fn entries(&self) -> Vec<(String, Value)> {
        let mut keys = Vec::new();
        if let Some(f) = &self.filter {
            keys.push(("filter".to_owned(), Value::from(f.as_str())));
        }
        if let Some(g) = &self.group {
            keys.push(("group".to_owned(), Value::from(g.as_str())));
        }
        if self.presence {
            keys.push(("presence".to_owned(), Value::Bool(true)));
        }
        keys
    }
}

/// The broker's acknowledgement of a publish (`PUBACK`, v2 §15), as
/// [`Queue::publish_confirmed`](crate::Queue::publish_confirmed) returns it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PubAck {
    /// The topic published on, normalized.
    pub topic: String,
    /// The message's number on its topic.
    pub seq: u64,
    /// How many connections the message was queued for (subscribers whose
    /// filter refused it, or whose slow policy dropped it, not counted).
    pub receivers: u64,
    /// The id the message was published with.
    pub id: Option<String>,
    /// The broker had accepted this id on this topic already (a retry whose
    /// first `PUBACK` was lost): the message was not stored or delivered
    /// again, and `seq` and `receivers` are the first time's.
    pub duplicate: bool,
}

impl PubAck {
    /// Reads a `PUBACK`: topic, and `msg` `{"seq", "receivers", "id"?,
    /// "duplicate"?}`.
    pub(crate) fn from_message(topic: String, msg: &Value) -> Result<PubAck> {
        let (Some(seq), Some(receivers)) = (number(msg, "seq"), number(msg, "receivers")) else {
            return Err(Error::Protocol(format!(
                "PUBACK msg {msg} lacks seq or receivers"
            )));
        };
        let id = match field(msg, "id") {
            Some(Value::Str(s)) => Some(s.clone()),
            _ => None,
        };
        Ok(PubAck {
            topic,
            seq,
            receivers,
            id,
            duplicate: matches!(field(msg, "duplicate"), Some(Value::Bool(true))),
        })
    }
}

/// The broker's answer to `HELLO` (v2 §10).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Welcome {
    /// The protocol version the broker speaks.
    pub version: u64,
    /// The broker program and its version.
    pub server: String,
    /// Names the lifetime of the broker's numbering: sequence numbers of
    /// different epochs are unrelated.
    pub epoch: String,
    /// This connection's id at the broker.
    pub id: u64,
    /// The broker's limits.
    pub limits: Limits,
}

/// The limits a broker announces in its [`Welcome`]; `None` for one it
/// did not state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest frame payload, in bytes.
    pub frame: Option<u64>,
    /// Messages kept per topic for history and resume.
    pub history: Option<u64>,
    /// Pending output bytes per connection before the slow policy applies.
    pub max_output: Option<u64>,
}

impl Welcome {
    /// Reads the `msg` of a `HELLO` answer.
    pub(crate) fn from_value(msg: &Value) -> Result<Welcome> {
        let bad = || Error::Protocol(format!("HELLO answer {msg} lacks version, epoch or id"));
        let text = |key| match field(msg, key) {
            Some(Value::Str(s)) => Some(s.clone()),
            _ => None,
        };
        let limits = field(msg, "limits").unwrap_or(&Value::Null);
        Ok(Welcome {
            version: number(msg, "version").ok_or_else(bad)?,
            server: text("server").unwrap_or_default(),
            epoch: text("epoch").ok_or_else(bad)?,
            id: number(msg, "id").ok_or_else(bad)?,
            limits: Limits {
                frame: number(limits, "frame"),
                history: number(limits, "history"),
                max_output: number(limits, "max_output"),
            },
        })
    }
}

/// The kept messages of one topic, as [`Queue::history`](crate::Queue::history)
/// gathers them from one or more `HISTORY` answers (v2 §12).
#[derive(Debug, Clone, PartialEq)]
pub struct History {
    /// The topic asked about.
    pub topic: String,
    /// The topic's current number (0 for a topic with no message).
    pub seq: u64,
    /// The oldest number the broker still keeps; `None` when it keeps none.
    pub first: Option<u64>,
    /// The messages asked for, oldest first.
    pub items: Vec<HistoryItem>,
}

/// One kept message of a [`History`].
#[derive(Debug, Clone, PartialEq)]
pub struct HistoryItem {
    /// Its number on the topic.
    pub seq: u64,
    /// When the broker accepted it, in milliseconds since the Unix epoch.
    pub ts: u64,
    /// The published value.
    pub value: Value,
}

/// One `HISTORY` answer's `msg`: `{"seq", "first", "items"}`.
pub(crate) fn history_page(topic: &str, msg: Value) -> Result<History> {
    let bad = |what: &str| Error::Protocol(format!("HISTORY answer on {topic}: {what}"));
    let seq = number(&msg, "seq").ok_or_else(|| bad("no seq"))?;
    let first = match field(&msg, "first") {
        Some(Value::Null) | None => None,
        Some(_) => Some(number(&msg, "first").ok_or_else(|| bad("first is no number"))?),
    };
    let Value::Dict(entries) = msg else {
        return Err(bad("msg is no object"));
    };
    let Some((_, Value::List(raw))) = entries.into_iter().find(|(k, _)| k == "items") else {
        return Err(bad("no list of items"));
    };
    let items = raw
        .into_iter()
        .map(|item| {
            let (Some(seq), Some(ts)) = (number(&item, "seq"), number(&item, "ts")) else {
                return Err(bad("an item without seq or ts"));
            };
            let value = field(&item, "msg").cloned().unwrap_or_default();
            Ok(HistoryItem { seq, ts, value })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(History {
        topic: topic.to_owned(),
        seq,
        first,
        items,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hello_msg_holds_the_options_given() {
        assert_eq!(Hello::default().to_value().to_string(), r#"{"version":2}"#);
        let hello = Hello {
            name: Some("alice".into()),
            slow: Some(Slow::Drop),
        };
        assert_eq!(
            hello.to_value().to_string(),
            r#"{"version":2,"name":"alice","slow":"drop"}"#
        );
    }

    #[test]
    fn subscribe_options_and_pubacks_are_read() {
        let o = SubscribeOptions::presence();
        assert!(!o.is_empty());
        assert_eq!(Value::Dict(o.entries()).to_string(), r#"{"presence":true}"#);
        let msg = Value::Dict(vec![
            ("seq".into(), Value::Int(4)),
            ("receivers".into(), Value::Int(2)),
            ("id".into(), Value::from("p-1")),
            ("duplicate".into(), Value::Bool(true)),
        ]);
        let ack = PubAck::from_message("/a".into(), &msg).unwrap();
        assert_eq!(
            ack,
            PubAck {
                topic: "/a".into(),
                seq: 4,
                receivers: 2,
                id: Some("p-1".into()),
                duplicate: true,
            }
        );
        let plain = Value::Dict(vec![
            ("seq".into(), Value::Int(1)),
            ("receivers".into(), Value::Int(0)),
        ]);
        let ack = PubAck::from_message("/a".into(), &plain).unwrap();
        assert_eq!((ack.id, ack.duplicate), (None, false));
        assert!(PubAck::from_message("/a".into(), &Value::Null).is_err());
    }

    #[test]
    fn welcome_and_history_pages_are_read() {
        let msg = Value::Dict(vec![
            ("version".into(), Value::Int(2)),
            ("server".into(), Value::from("broker 0.1.0")),
            ("epoch".into(), Value::from("e1")),
            ("id".into(), Value::Int(7)),
            (
                "limits".into(),
                Value::Dict(vec![("frame".into(), Value::Int(99_999))]),
            ),
        ]);
        let w = Welcome::from_value(&msg).unwrap();
        assert_eq!((w.epoch.as_str(), w.id, w.version), ("e1", 7, 2));
        assert_eq!(w.limits.frame, Some(99_999));
        assert_eq!(w.limits.history, None);
        assert!(Welcome::from_value(&Value::Null).is_err());

        let item = |seq: i64| {
            Value::Dict(vec![
                ("seq".into(), Value::Int(seq)),
                ("ts".into(), Value::Int(10)),
                ("msg".into(), Value::List(vec![Value::Int(seq)])),
            ])
        };
        let page = Value::Dict(vec![
            ("seq".into(), Value::Int(5)),
            ("first".into(), Value::Int(4)),
            ("items".into(), Value::List(vec![item(4), item(5)])),
        ]);
        let h = history_page("/a", page).unwrap();
        assert_eq!((h.seq, h.first, h.items.len()), (5, Some(4), 2));
        assert_eq!(h.items[1].value, Value::List(vec![Value::Int(5)]));
        let empty = Value::Dict(vec![
            ("seq".into(), Value::Int(0)),
            ("first".into(), Value::Null),
            ("items".into(), Value::List(vec![])),
        ]);
        assert_eq!(history_page("/b", empty).unwrap().first, None);
        assert!(history_page("/b", Value::Int(1)).is_err());
    }
}
