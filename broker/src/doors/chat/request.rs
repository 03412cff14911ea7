//! A chat message from a client (seed 000's protocol) as a typed request:
//! `subscribe {room, userId}`, `unsubscribe {room}`, `publish {room, sender,
//! content}`, `get_history {room}`.
//!
//! The seed's server answers text that is not JSON with `{"error": "Invalid
//! message format"}`, ignores unknown types and fails on a missing field;
//! here the last two get a clear `{"error": ...}` too (and the connection
//! stays open). `sender` and `content` may be any JSON value, as in the
//! seed; `room` and `userId` must be strings (a room is a topic segment, a
//! user id a presence name).

use protocol::format::json::parse_value;
use protocol::{DecodeError, Value};

/// Why a chat message was refused; the text is the `error` of the reply.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChatError {
    /// Not JSON (or not UTF-8): the seed's own reply, word for word.
    #[error("Invalid message format")]
    InvalidFormat,
    /// JSON, but not an object.
    #[error("Invalid message format: a message is a JSON object")]
    NotAnObject,
    /// No `type`, or not a string.
    #[error("Missing message type: a message has a string \"type\"")]
    MissingType,
    /// A `type` the protocol does not have.
    #[error(
        "Unknown message type \"{0}\": expected subscribe, unsubscribe, publish or get_history"
    )]
    UnknownType(String),
    /// A field the type needs is absent.
    #[error("Missing field \"{field}\" in {kind}")]
    MissingField {
        /// The message type.
        kind: &'static str,
        /// The field.
        field: &'static str,
    },
    /// A field that must be a string is not one.
    #[error("Field \"{field}\" of {kind} must be a string")]
    NotAString {
        /// The message type.
        kind: &'static str,
        /// The field.
        field: &'static str,
    },
    /// A room that cannot be a topic segment.
    #[error("Invalid room \"{room}\": {why}")]
    InvalidRoom {
        /// The room as sent.
        room: String,
        /// Which rule it breaks.
        why: String,
    },
    /// A value the broker's message model cannot carry.
    #[error("Invalid {field}: {why}")]
    InvalidValue {
        /// The field.
        field: &'static str,
        /// Which rule it breaks.
        why: String,
    },
}

/// A chat request, its fields checked.
#[derive(Debug, Clone, PartialEq)]
pub enum Request {
    /// Join `room` as `user_id` (the presence name).
    Subscribe {
        /// The room.
        room: String,
        /// Who joins.
        user_id: String,
    },
    /// Leave `room`.
    Unsubscribe {
        /// The room.
        room: String,
    },
    /// Post to `room`.
    Publish {
        /// The room.
        room: String,
        /// Who says it (any JSON value, as the seed keeps it).
        sender: Value,
        /// What is said (any JSON value).
        content: Value,
    },
    /// Ask for the room's kept messages.
    GetHistory {
        /// The room.
        room: String,
    },
}

/// The message's fields, by name (the last of duplicates, as Python's
/// `json.loads` keeps).
struct Fields(Vec<(String, Value)>);

impl Fields {
    fn take(&mut self, name: &str) -> Option<Value> {
        let at = self.0.iter().rposition(|(k, _)| k == name)?;
        Some(self.0.swap_remove(at).1)
    }

    fn any(&mut self, kind: &'static str, field: &'static str) -> Result<Value, ChatError> {
        self.take(field)
            .ok_or(ChatError::MissingField { kind, field })
    }

    fn string(&mut self, kind: &'static str, field: &'static str) -> Result<String, ChatError> {
        match self.any(kind, field)? {
            Value::Str(s) => Ok(s),
            _ => Err(ChatError::NotAString { kind, field }),
        }
    }
}

/// Decodes one WebSocket message (text, or binary holding UTF-8 JSON as
/// Python's `json.loads` accepts).
///
/// # Errors
/// A [`ChatError`] saying what is wrong.
pub fn parse(message: &[u8]) -> Result<Request, ChatError> {
    let text = std::str::from_utf8(message).map_err(|_| ChatError::InvalidFormat)?;
    let value = parse_value(text.trim()).map_err(|e| match e {
        // JSON, but with a value the broker's messages cannot carry (a
        // control character, a lone surrogate, 1e999, nesting too deep).
        DecodeError::Value(why) => ChatError::InvalidValue {
            field: "message",
            why: why.to_string(),
        },
        _ => ChatError::InvalidFormat,
    })?;
    let Value::Dict(fields) = value else {
        return Err(ChatError::NotAnObject);
    };
    let mut f = Fields(fields);
    let Some(Value::Str(kind)) = f.take("type") else {
        return Err(ChatError::MissingType);
    };
    Ok(match kind.as_str() {
        "subscribe" => Request::Subscribe {
            room: f.string("subscribe", "room")?,
            user_id: f.string("subscribe", "userId")?,
        },
        "unsubscribe" => Request::Unsubscribe {
            room: f.string("unsubscribe", "room")?,
        },
        "publish" => Request::Publish {
            room: f.string("publish", "room")?,
            sender: f.any("publish", "sender")?,
            content: f.any("publish", "content")?,
        },
        "get_history" => Request::GetHistory {
            room: f.string("get_history", "room")?,
        },
        _ => return Err(ChatError::UnknownType(kind)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_seed_clients_messages_parse() {
        assert_eq!(
            parse(br#"{"type": "subscribe", "room": "general", "userId": "alice"}"#),
            Ok(Request::Subscribe {
                room: "general".into(),
                user_id: "alice".into()
            })
        );
        assert_eq!(
            parse(br#"{"type":"publish","room":"r","sender":"a","content":"hi"}"#),
            Ok(Request::Publish {
                room: "r".into(),
                sender: "a".into(),
                content: "hi".into()
            })
        );
        assert_eq!(
            parse(br#"{"type":"get_history","room":"r"}"#),
            Ok(Request::GetHistory { room: "r".into() })
        );
    }

    #[test]
    fn bad_messages_say_what_is_wrong() {
        assert_eq!(parse(b"not json"), Err(ChatError::InvalidFormat));
        assert_eq!(parse(b"\xff"), Err(ChatError::InvalidFormat));
        assert_eq!(parse(b"[1]"), Err(ChatError::NotAnObject));
        // JSON the broker's values cannot hold gets its own answer.
        assert!(matches!(
            parse(br#"{"type":"publish","room":"r","sender":"a","content":"\u0001"}"#),
            Err(ChatError::InvalidValue { .. })
        ));
        assert_eq!(parse(b"{}"), Err(ChatError::MissingType));
        assert_eq!(
            parse(br#"{"type":"dance"}"#),
            Err(ChatError::UnknownType("dance".into()))
        );
        assert_eq!(
            parse(br#"{"type":"publish","room":"r","sender":"a"}"#),
            Err(ChatError::MissingField {
                kind: "publish",
                field: "content"
            })
        );
        assert_eq!(
            parse(br#"{"type":"subscribe","room":1,"userId":"a"}"#),
            Err(ChatError::NotAString {
                kind: "subscribe",
                field: "room"
            })
        );
    }
}
