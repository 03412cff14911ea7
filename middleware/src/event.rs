//! What [`Queue::pull`](crate::Queue::pull) returns: [`Event`], built from
//! the broker's messages, and [`json_text`] to print a value the way the lab
//! prints it.

use std::fmt::Write as _;

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
            Method::Subscribe | Method::CancelSub | Method::List => {
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
            "LIST_ACK msg is {}, not a list of topics",
            json_text(&msg)
        )));
    };
    items
        .into_iter()
        .map(|item| match item {
            Value::Str(s) => Ok(s),
            other => Err(Error::Protocol(format!(
                "LIST_ACK holds {}, not a topic string",
                json_text(&other)
            ))),
        })
        .collect()
}

/// The reason of an `ERROR`: its string, or the JSON text of another value.
pub(crate) fn reason_text(msg: Value) -> String {
    match msg {
        Value::Str(s) => s,
        other => json_text(&other),
    }
}

/// The compact JSON text of a value, as the lab's consumer prints it
/// (`27`, `"hello"`, `[1,2.5,null]`, `{"k":true}`).
///
/// Floats keep a fraction or exponent (`2.0`, not `2`), so the text reads back
/// as the same [`Value`]. Strings are escaped as JSON requires; other
/// characters, non-ASCII included, are written as they are.
#[must_use]
pub fn json_text(value: &Value) -> String {
    let mut out = String::new();
    write_json(&mut out, value);
    out
}

fn write_json(out: &mut String, value: &Value) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Int(i) => {
            let _ = write!(out, "{i}");
        }
        // `{:?}` is the shortest text that reads back as the same f64 and
        // always marks a float (`2.0`, `1e300`). JSON has no NaN/inf: such a
        // value never comes off the wire, and is printed as null if built.
        Value::Float(f) if f.is_finite() => {
            let _ = write!(out, "{f:?}");
        }
        Value::Float(_) => out.push_str("null"),
        Value::Str(s) => write_json_str(out, s),
        Value::List(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_json(out, item);
            }
            out.push(']');
        }
        Value::Dict(entries) => {
            out.push('{');
            for (i, (key, item)) in entries.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_json_str(out, key);
                out.push(':');
                write_json(out, item);
            }
            out.push('}');
        }
    }
}

fn write_json_str(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if u32::from(c) < 0x20 || c == '\u{7f}' => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_text_forms() {
        let v = Value::Dict(vec![
            (
                "a\"b".into(),
                Value::List(vec![Value::Int(-3), Value::Float(2.0), Value::Null]),
            ),
            ("s".into(), Value::Str("tab\there\nquote\" é \u{1}".into())),
            ("b".into(), Value::Bool(false)),
        ]);
        assert_eq!(
            json_text(&v),
            r#"{"a\"b":[-3,2.0,null],"s":"tab\there\nquote\" é \u0001","b":false}"#
        );
        let back = protocol::format::json::parse_value(&json_text(&Value::Str("x\u{7f}y".into())))
            .unwrap();
        assert_eq!(back, Value::Str("x\u{7f}y".into()));
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
