//! What [`Queue::pull`](crate::Queue::pull) returns: [`Event`], built from
//! the broker's messages. Values print as compact JSON through their
//! `Display`, the way the lab prints them.

use std::fmt;

use protocol::{Message, Method, Value};

use crate::error::{Error, Result};
use crate::presence::PresenceAction;

/// One thing the broker told this client.
///
/// The enum is exhaustive on purpose: a `match` must say what it does with a
/// [`Event::Gap`], so a v2 client cannot miss one.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// A live message (`PUBLISH`), published after this client subscribed,
    /// or one replayed by a resumed subscription (v2 §13).
    Publish {
        /// The exact topic it was published on (normalized), which may be a
        /// descendant of the subscribed topic.
        topic: String,
        /// The published value.
        value: Value,
        /// Its number on its topic (v2 §11); `None` from a v1 broker.
        seq: Option<u64>,
        /// When the broker accepted it, in milliseconds since the Unix
        /// epoch (v2 §11); `None` from a v1 broker.
        ts: Option<u64>,
        /// Where the publisher waits for an answer (v2 §15): the message
        /// is a request, answered with [`Queue::respond`](crate::Queue::respond).
        reply: Option<String>,
    },
    /// A retained message (`LAST_MSG`), replayed when this client subscribed:
    /// the last value published on `topic` before the subscription.
    LastMsg {
        /// The topic the value was published on.
        topic: String,
        /// The retained value.
        value: Value,
        /// Its number on its topic (v2 §11); `None` from a v1 broker.
        seq: Option<u64>,
        /// When the broker accepted it (ms since the Unix epoch); `None`
        /// from a v1 broker.
        ts: Option<u64>,
        /// The reply topic its publisher gave, if any (v2 §15).
        reply: Option<String>,
    },
    /// Messages `from..=to` of `topic` were not and will not be delivered on
    /// this connection (`GAP`, v2 §13).
    Gap {
        /// The topic the messages were published on.
        topic: String,
        /// The first missing number.
        from: u64,
        /// The last missing number (inclusive).
        to: u64,
        /// Why they are missing; with [`GapReason::Epoch`] the numbers are
        /// the old numbering's.
        reason: GapReason,
    },
    /// A topic list: an unsolicited `LIST_ACK` announcing new topics (spec §7),
    /// or a `LIST_ACK`/`LIST_NACK` that [`Queue::list_topics`](crate::Queue::list_topics)
    /// could not take as its reply. Sorted as the broker sent it; empty for
    /// `LIST_NACK`.
    Topics(Vec<String>),
    /// The broker refused one of this client's requests (`ERROR`).
    Error {
        /// The topic of the refused request as the broker received it, or `""`.
        topic: String,
        /// The broker's human-readable reason.
        reason: String,
    },
    /// A named client joined, left, went away from or came back to `topic`
    /// (`PRESENCE`, v2 §16), for a subscription made with
    /// [`SubscribeOptions::presence`](crate::SubscribeOptions::presence).
    Presence {
        /// The topic subscribed to with presence.
        topic: String,
        /// The client's `HELLO` name.
        name: String,
        /// The client's connection id at the broker.
        id: u64,
        /// What happened.
        action: PresenceAction,
        /// When, in milliseconds since the Unix epoch.
        ts: u64,
    },
    /// A message this client published with a reply topic reached no
    /// connection at all (`NO_RESPONDERS`, v2 §15). [`Queue::request`](crate::Queue::request)
    /// takes those of its own requests; this is for the others.
    NoResponders {
        /// The reply topic of the request.
        reply: String,
        /// The topic the request was published on (normalized).
        topic: String,
    },
}

/// Why a [`Event::Gap`] left messages out (v2 §13).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum GapReason {
    /// No longer kept in the broker's history.
    History,
    /// The broker's numbering restarted (a new epoch, e.g. after a restart):
    /// messages from the old numbering's next number on are lost.
    Epoch,
    /// Dropped because this connection read too slowly (HELLO `slow: drop`).
    Slow,
    /// Too large for this client's protocol.
    Size,
    /// A reason this library does not know, as the broker spelled it.
    Other(String),
}

impl GapReason {
    /// The reason as spelled on the wire.
    #[must_use]
    pub fn as_str(&self) -> &str {
        match self {
            GapReason::History => "history",
            GapReason::Epoch => "epoch",
            GapReason::Slow => "slow",
            GapReason::Size => "size",
            GapReason::Other(s) => s,
        }
    }

    fn from_wire(s: String) -> GapReason {
        match s.as_str() {
            "history" => GapReason::History,
            "epoch" => GapReason::Epoch,
            "slow" => GapReason::Slow,
            "size" => GapReason::Size,
            _ => GapReason::Other(s),
        }
    }
}

impl fmt::Display for GapReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Event {
    /// Whether this is a delivery ([`Event::Publish`] or [`Event::LastMsg`]).
    #[must_use]
    pub fn is_delivery(&self) -> bool {
        matches!(self, Event::Publish { .. } | Event::LastMsg { .. })
    }

    /// The reply topic of a delivery that is a request (v2 §15).
    #[must_use]
    pub fn reply_to(&self) -> Option<&str> {
        match self {
            Event::Publish { reply, .. } | Event::LastMsg { reply, .. } => reply.as_deref(),
            _ => None,
        }
    }

    /// Turns a message received from the broker into an event.
    ///
    /// # Errors
    /// [`Error::Protocol`] for a method only clients send, for an answer
    /// that is no event (`HELLO`, `PONG`, `HISTORY`, `PUBACK` and `WHO`
    /// answers are taken by the [`Queue`](crate::Queue) call that asked),
    /// for a `LIST_ACK` whose `msg` is not a list of strings and for a
    /// malformed `GAP` or `PRESENCE`.
    pub fn from_message(m: Message) -> Result<Event> {
        Ok(match m.method {
            Method::Publish => Event::Publish {
                topic: m.topic,
                value: m.msg,
                seq: m.attrs.seq,
                ts: m.attrs.ts,
                reply: m.reply,
            },
            Method::LastMsg => Event::LastMsg {
                topic: m.topic,
                value: m.msg,
                seq: m.attrs.seq,
                ts: m.attrs.ts,
                reply: m.reply,
            },
            Method::Presence => presence(m.topic, &m.msg)?,
            Method::NoResponders => Event::NoResponders {
                reply: m.topic,
                topic: reason_text(m.msg),
            },
            Method::Gap => gap(m.topic, m.msg)?,
            Method::ListAck => Event::Topics(topic_list(m.msg)?),
            Method::ListNack => Event::Topics(Vec::new()),
            Method::Error => Event::Error {
                topic: m.topic,
                reason: reason_text(m.msg),
            },
            // Answers taken by the call that asked (late ones are dropped
            // before they get here).
            Method::Hello | Method::Pong | Method::History | Method::PubAck | Method::Who => {
                return Err(Error::Protocol(format!(
                    "a {} answer outside the call that asks for it",
                    m.method
                )));
            }
            Method::Subscribe | Method::CancelSub | Method::List | Method::Ping => {
                return Err(Error::Protocol(format!(
                    "the broker sent a {} request",
                    m.method
                )));
            }
        })
    }
}

/// The event of a `GAP` `msg`: `{"from", "to", "reason", "epoch"}`.
fn gap(topic: String, msg: Value) -> Result<Event> {
    let bad = |msg: &Value| Error::Protocol(format!("GAP msg {msg} is not from, to and reason"));
    let (Some(from), Some(to), Some(Value::Str(reason))) = (
        number(&msg, "from"),
        number(&msg, "to"),
        field(&msg, "reason"),
    ) else {
        return Err(bad(&msg));
    };
    Ok(Event::Gap {
        topic,
        from,
        to,
        reason: GapReason::from_wire(reason.clone()),
    })
}

/// The event of a `PRESENCE` `msg`: `{"name", "id", "action", "ts"}`.
fn presence(topic: String, msg: &Value) -> Result<Event> {
    let (Some(Value::Str(name)), Some(id), Some(Value::Str(action)), Some(ts)) = (
        field(msg, "name"),
        number(msg, "id"),
        field(msg, "action"),
        number(msg, "ts"),
    ) else {
        return Err(Error::Protocol(format!(
            "PRESENCE msg {msg} is not name, id, action and ts"
        )));
    };
    Ok(Event::Presence {
        topic,
        name: name.clone(),
        id,
        action: PresenceAction::from_wire(action),
        ts,
    })
}

/// The value of `key` in a dict `v` (the first, if repeated).
pub(crate) fn field<'a>(v: &'a Value, key: &str) -> Option<&'a Value> {
    match v {
        Value::Dict(entries) => entries.iter().find(|(k, _)| k == key).map(|(_, v)| v),
        _ => None,
    }
}

/// The non-negative integer at `key` in a dict `v`.
pub(crate) fn number(v: &Value, key: &str) -> Option<u64> {
    match field(v, key)? {
        Value::Int(n) => u64::try_from(*n).ok(),
        _ => None,
    }
}

/// The topics of a `LIST_ACK` `msg`.
pub(crate) fn topic_list(msg: Value) -> Result<Vec<String>> {
    let Value::List(items) = msg else {
        return Err(Error::Protocol(format!(
            "LIST_ACK msg is {msg}, not a list of topics"
        )));
    };
    items
        .into_iter()
        .map(|item| match item {
            Value::Str(s) => Ok(s),
            other => Err(Error::Protocol(format!(
                "LIST_ACK holds {other}, not a topic string"
            ))),
        })
        .collect()
}

/// The reason of an `ERROR`: its string, or the JSON text of another value.
pub(crate) fn reason_text(msg: Value) -> String {
    match msg {
        Value::Str(s) => s,
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use protocol::Attrs;

    #[test]
    fn values_print_as_compact_json() {
        let v = Value::Dict(vec![
            (
                "a\"b".into(),
                Value::List(vec![Value::Int(-3), Value::Float(2.0), Value::Null]),
            ),
            ("s".into(), Value::Str("tab\there\nquote\" é".into())),
            ("b".into(), Value::Bool(false)),
        ]);
        assert_eq!(
            reason_text(v),
            r#"{"a\"b":[-3,2.0,null],"s":"tab\there\nquote\" é","b":false}"#
        );
        assert_eq!(reason_text(Value::Str("plain".into())), "plain");
    }

    #[test]
    fn events_from_messages() {
        let mut m = Message::new(Method::LastMsg, "/a", 1i64);
        m.attrs = Attrs::stamped(4, 1_733_500_000_000);
        let e = Event::from_message(m).unwrap();
        assert_eq!(
            e,
            Event::LastMsg {
                topic: "/a".into(),
                value: Value::Int(1),
                seq: Some(4),
                ts: Some(1_733_500_000_000),
                reply: None,
            }
        );
        assert!(e.is_delivery());
        let e = Event::from_message(Message::new(Method::Error, "", Value::Int(4))).unwrap();
        assert_eq!(
            e,
            Event::Error {
                topic: String::new(),
                reason: "4".into()
            }
        );
        assert!(matches!(
            Event::from_message(Message::subscribe("/a")),
            Err(Error::Protocol(_))
        ));
        assert!(matches!(
            Event::from_message(Message::new(
                Method::ListAck,
                "/",
                Value::List(vec![Value::Int(1)])
            )),
            Err(Error::Protocol(_))
        ));
        assert_eq!(
            Event::from_message(Message::new(
                Method::ListNack,
                "/",
                "No topics created yet."
            ))
            .unwrap(),
            Event::Topics(vec![])
        );
    }

    #[test]
    fn gaps_from_messages() {
        let msg = |reason: &str| {
            Value::Dict(vec![
                ("from".into(), Value::Int(3)),
                ("to".into(), Value::Int(7)),
                ("reason".into(), Value::from(reason)),
                ("epoch".into(), Value::from("e1")),
            ])
        };
        for (wire, reason) in [
            ("history", GapReason::History),
            ("epoch", GapReason::Epoch),
            ("slow", GapReason::Slow),
            ("size", GapReason::Size),
            ("later", GapReason::Other("later".into())),
        ] {
            let e = Event::from_message(Message::new(Method::Gap, "/a", msg(wire))).unwrap();
            assert_eq!(
                e,
                Event::Gap {
                    topic: "/a".into(),
                    from: 3,
                    to: 7,
                    reason: reason.clone(),
                }
            );
            assert_eq!(reason.to_string(), wire);
            assert!(!e.is_delivery());
        }
        let negative = Value::Dict(vec![
            ("from".into(), Value::Int(-1)),
            ("to".into(), Value::Int(7)),
            ("reason".into(), Value::from("slow")),
        ]);
        for bad in [Value::Null, negative] {
            assert!(matches!(
                Event::from_message(Message::new(Method::Gap, "/a", bad)),
                Err(Error::Protocol(_))
            ));
        }
        assert!(matches!(
            Event::from_message(Message::new(Method::Pong, "/", 1i64)),
            Err(Error::Protocol(_))
        ));
    }

    #[test]
    fn v2_part_3_events_from_messages() {
        let mut m = Message::publish("/svc", 2i64);
        m.reply = Some("/_INBOX/ab/1".into());
        let e = Event::from_message(m).unwrap();
        assert_eq!(e.reply_to(), Some("/_INBOX/ab/1"));
        let presence = |action: &str| {
            Value::Dict(vec![
                ("name".into(), Value::from("alice")),
                ("id".into(), Value::Int(3)),
                ("action".into(), Value::from(action)),
                ("ts".into(), Value::Int(99)),
            ])
        };
        for (wire, action) in [
            ("join", PresenceAction::Join),
            ("leave", PresenceAction::Leave),
            ("away", PresenceAction::Away),
            ("back", PresenceAction::Back),
            ("later", PresenceAction::Other("later".into())),
        ] {
            let e = Event::from_message(Message::new(Method::Presence, "/room", presence(wire)));
            assert_eq!(
                e.unwrap(),
                Event::Presence {
                    topic: "/room".into(),
                    name: "alice".into(),
                    id: 3,
                    action: action.clone(),
                    ts: 99,
                }
            );
            assert_eq!(action.to_string(), wire);
        }
        assert!(matches!(
            Event::from_message(Message::new(Method::Presence, "/room", Value::Null)),
            Err(Error::Protocol(_))
        ));
        let e = Event::from_message(Message::new(Method::NoResponders, "/_INBOX/x", "/svc"));
        assert_eq!(
            e.unwrap(),
            Event::NoResponders {
                reply: "/_INBOX/x".into(),
                topic: "/svc".into(),
            }
        );
        for method in [Method::PubAck, Method::Who] {
            assert!(matches!(
                Event::from_message(Message::new(method, "/a", Value::Null)),
                Err(Error::Protocol(_))
            ));
        }
    }
}
