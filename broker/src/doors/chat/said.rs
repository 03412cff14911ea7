//! What is said in a room, as the core keeps it and as chat clients see it.
//!
//! A chat publish is kept as the value `{"sender": s, "content": c, "id":
//! i}` (front-doors spec, "Values"), `i` made as seed 000's server makes
//! message ids: 12 random characters from `a-z0-9`. Any other value on a
//! room's topic (a lab, NATS or Redis publish) is told to chat clients with
//! the value's text as `content` (a string as itself, anything else as its
//! JSON text) and its publisher's HELLO name as `sender` ("" without one);
//! its id is made from its topic, number and time, so that the live message
//! and the history show the same id.

use std::hash::{BuildHasher, RandomState};

use protocol::format::json::{parse_value, quote};
use protocol::{Body, Value};

/// Characters of a message id, as the seed's `_generate_id`.
const ID_CHARS: &[u8; 36] = b"abcdefghijklmnopqrstuvwxyz0123456789";
/// Characters in a message id.
const ID_LEN: usize = 12;

/// Makes the ids of chat publishes.
#[derive(Debug)]
pub struct Ids {
    keys: RandomState,
    count: u64,
}

impl Default for Ids {
    fn default() -> Self {
        Ids {
            keys: RandomState::new(),
            count: 0,
        }
    }
}

impl Ids {
    /// A fresh random id.
    pub fn fresh(&mut self) -> String {
        self.count += 1;
        id_of(self.keys.hash_one(self.count))
    }
}

/// 12 id characters from the bits of `n`.
fn id_of(mut n: u64) -> String {
    (0..ID_LEN)
        .map(|_| {
            let c = ID_CHARS[(n % 36) as usize];
            n /= 36;
            char::from(c)
        })
        .collect()
}

/// The value a chat publish is kept as.
///
/// # Errors
/// The rule of the broker's message model that `sender` or `content`
/// breaks (a string XML cannot carry, nesting too deep).
pub fn stored(sender: Value, content: Value, id: String) -> Result<Body<'static>, String> {
    let value = Value::Dict(vec![
        ("sender".into(), sender),
        ("content".into(), content),
        ("id".into(), Value::Str(id)),
    ]);
    value.validate().map_err(|e| e.to_string())?;
    Ok(Body::Json {
        text: value.to_string().into(),
        xml_len: None,
    })
}

/// A kept message as a chat client sees it: each part as JSON text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Said {
    /// The `id` (a JSON string).
    pub id: String,
    /// The `sender`.
    pub sender: String,
    /// The `content`.
    pub content: String,
}

impl Said {
    /// The message `body`, number `seq` at `ts` on `topic`, published by
    /// `publisher` (its HELLO name, if known).
    #[must_use]
    pub fn of(body: &Body<'_>, topic: &str, seq: u64, ts: u64, publisher: Option<&str>) -> Self {
        let value = match body {
            Body::Json { text, .. } => parse_value(text).unwrap_or_default(),
            Body::Value(v) => v.as_ref().clone(),
            Body::Str { text, .. } => Value::Str(text.to_string()),
        };
        if let Some(said) = Said::chat(&value) {
            return said;
        }
        let id = id_of(foldhash::fast::FixedState::with_seed(0).hash_one((topic, seq, ts)));
        let content = match &value {
            Value::Str(s) => quote(s),
            other => quote(&other.to_string()),
        };
        Said {
            id: quote(&id),
            sender: quote(publisher.unwrap_or("")),
            content,
        }
    }

    /// The parts of a value kept by a chat publish: exactly `sender`,
    /// `content` and a string `id`.
    fn chat(value: &Value) -> Option<Said> {
        let Value::Dict(fields) = value else {
            return None;
        };
        if fields.len() != 3 {
            return None;
        }
        let get = |name: &str| fields.iter().find(|(k, _)| k == name).map(|(_, v)| v);
        let (Some(sender), Some(content), Some(Value::Str(id))) =
            (get("sender"), get("content"), get("id"))
        else {
            return None;
        };
        Some(Said {
            id: quote(id),
            sender: sender.to_string(),
            content: content.to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_look_like_the_seeds() {
        let mut ids = Ids::default();
        let (a, b) = (ids.fresh(), ids.fresh());
        assert_ne!(a, b);
        assert_eq!(a.len(), 12);
        assert!(a.bytes().all(|c| ID_CHARS.contains(&c)), "{a}");
    }

    #[test]
    fn a_chat_value_comes_back_as_it_was_said() {
        let body = stored("alice".into(), Value::Int(3), "abc".into()).unwrap();
        let said = Said::of(&body, "/chat/r", 1, 2, Some("lab"));
        assert_eq!(
            said,
            Said {
                id: "\"abc\"".into(),
                sender: "\"alice\"".into(),
                content: "3".into()
            }
        );
    }

    #[test]
    fn a_value_the_message_model_cannot_carry_is_refused() {
        let control = Value::Str("\u{1}".into());
        assert!(stored("a".into(), control, "abc".into()).is_err());
    }

    #[test]
    fn other_values_are_told_as_text_from_their_publisher() {
        let text = |t: &str| Body::Json {
            text: t.to_owned().into(),
            xml_len: None,
        };
        let said = Said::of(&text("\"hi\""), "/chat/r", 1, 2, Some("bob"));
        assert_eq!((&*said.sender, &*said.content), ("\"bob\"", "\"hi\""));
        let said = Said::of(&text("{\"a\":1}"), "/chat/r", 1, 2, None);
        assert_eq!((&*said.sender, &*said.content), ("\"\"", r#""{\"a\":1}""#));
        // The same message has the same id each time it is told.
        assert_eq!(
            said.id,
            Said::of(&text("{\"a\":1}"), "/chat/r", 1, 2, None).id
        );
    }
}
