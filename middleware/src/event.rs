//! What [`Queue::pull`](crate::Queue::pull) returns: [`Event`], built from
//! the broker's messages. Values print as compact JSON through their
//! `Display`, the way the lab prints them.

use protocol::{Message, Method, Value};

use crate::error::{Error, Result};

/// One thing the broker told this client.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// A live message (`PUBLISH`), published after this client subscribed.
    Publish {
        /// The exact topic it was published on (normalized), which may be a
        /// descendant of the subscribed topic.
        topic: String,
        /// The published value.
        value: Value,
    },
    /// A retained message (`LAST_MSG`), replayed when this client subscribed:
    /// the last value published on `topic` before the subscription.
    LastMsg {
        /// The topic the value was published on.
        topic: String,
        /// The retained value.
        value: Value,
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
}

impl Event {
    /// Whether this is a delivery ([`Event::Publish`] or [`Event::LastMsg`]).
    #[must_use]
    pub fn is_delivery(&self) -> bool {
        matches!(self, Event::Publish { .. } | Event::LastMsg { .. })
    }

    /// Turns a message received from the broker into an event.
    ///
    /// # Errors
    /// [`Error::Protocol`] for a method only clients send, or a `LIST_ACK`
    /// whose `msg` is not a list of strings.
    pub fn from_message(m: Message) -> Result<Event> {
        Ok(match m.method {
            Method::Publish => Event::Publish {
                topic: m.topic,
                value: m.msg,
            },
            Method::LastMsg => Event::LastMsg {
                topic: m.topic,
                value: m.msg,
            },
            Method::ListAck => Event::Topics(topic_list(m.msg)?),
            Method::ListNack => Event::Topics(Vec::new()),
            Method::Error => Event::Error {
                topic: m.topic,
                reason: reason_text(m.msg),
            },
            Method::Subscribe
            | Method::CancelSub
            | Method::List
            | Method::Hello
            | Method::Ping
            | Method::Pong
            | Method::History
            | Method::Gap => {
                return Err(Error::Protocol(format!(
                    "the broker sent a {} request",
                    m.method
                )));
            }
        })
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
        let e = Event::from_message(Message::new(Method::LastMsg, "/a", 1i64)).unwrap();
        assert_eq!(
            e,
            Event::LastMsg {
                topic: "/a".into(),
                value: Value::Int(1)
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
}
