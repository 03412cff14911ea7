//! Presence (v2 §16): what an [`Event::Presence`](crate::Event::Presence)
//! reports ([`PresenceAction`]), and who is on a topic: the [`Member`]s a
//! [`Queue::who`](crate::Queue::who) answer lists.

use std::fmt;

use protocol::Value;

use crate::error::{Error, Result};
use crate::event::{field, number};

/// What an [`Event::Presence`](crate::Event::Presence) reports (v2 §16).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum PresenceAction {
    /// The client subscribed to the topic.
    Join,
    /// It cancelled that subscription or disconnected.
    Leave,
    /// The broker heard nothing from it for its away delay.
    Away,
    /// It sent a frame again after being away.
    Back,
    /// An action this library does not know, as the broker spelled it.
    Other(String),
}

impl PresenceAction {
    /// The action as spelled on the wire.
    #[must_use]
    pub fn as_str(&self) -> &str {
        match self {
            PresenceAction::Join => "join",
            PresenceAction::Leave => "leave",
            PresenceAction::Away => "away",
            PresenceAction::Back => "back",
            PresenceAction::Other(s) => s,
        }
    }

    pub(crate) fn from_wire(s: &str) -> PresenceAction {
        match s {
            "join" => PresenceAction::Join,
            "leave" => PresenceAction::Leave,
            "away" => PresenceAction::Away,
            "back" => PresenceAction::Back,
            _ => PresenceAction::Other(s.to_owned()),
        }
    }
}

impl fmt::Display for PresenceAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A named client subscribed to a topic, as `WHO` lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// Its `HELLO` name (names are not unique).
    pub name: String,
    /// Its connection id at the broker.
    pub id: u64,
    /// Whether the broker has heard from it lately.
    pub state: MemberState,
    /// When it joined the topic, in milliseconds since the Unix epoch.
    pub since: u64,
}

/// A [`Member`]'s liveness.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum MemberState {
    /// It sent a frame within the broker's away delay.
    Online,
    /// Nothing from it for the away delay.
    Away,
    /// A state this library does not know, as the broker spelled it.
    Other(String),
}

impl MemberState {
    /// The state as spelled on the wire.
    #[must_use]
    pub fn as_str(&self) -> &str {
        match self {
            MemberState::Online => "online",
            MemberState::Away => "away",
            MemberState::Other(s) => s,
        }
    }

    fn from_wire(s: &str) -> MemberState {
        match s {
            "online" => MemberState::Online,
            "away" => MemberState::Away,
            _ => MemberState::Other(s.to_owned()),
        }
    }
}

impl fmt::Display for MemberState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The members of a `WHO` answer's `msg`: a list of `{"name", "id",
/// "state", "since"}`, kept in the broker's order (by name, then id).
pub(crate) fn who_list(topic: &str, msg: &Value) -> Result<Vec<Member>> {
    let bad = || Error::Protocol(format!("WHO answer on {topic}: {msg} is not a member list"));
    let Value::List(items) = msg else {
        return Err(bad());
    };
    items
        .iter()
        .map(|item| {
            let (Some(Value::Str(name)), Some(id), Some(Value::Str(state)), Some(since)) = (
                field(item, "name"),
                number(item, "id"),
                field(item, "state"),
                number(item, "since"),
            ) else {
                return Err(bad());
            };
            Ok(Member {
                name: name.clone(),
                id,
                state: MemberState::from_wire(state),
                since,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn who_answers_are_read() {
        let member = |name: &str, id: i64, state: &str| {
            Value::Dict(vec![
                ("name".into(), Value::from(name)),
                ("id".into(), Value::Int(id)),
                ("state".into(), Value::from(state)),
                ("since".into(), Value::Int(1_000)),
            ])
        };
        let msg = Value::List(vec![member("alice", 4, "online"), member("bob", 2, "away")]);
        let members = who_list("/room", &msg).unwrap();
        assert_eq!(
            members,
            [
                Member {
                    name: "alice".into(),
                    id: 4,
                    state: MemberState::Online,
                    since: 1_000,
                },
                Member {
                    name: "bob".into(),
                    id: 2,
                    state: MemberState::Away,
                    since: 1_000,
                },
            ]
        );
        assert_eq!(
            who_list("/room", &Value::List(vec![])).unwrap(),
            Vec::<Member>::new()
        );
        assert!(who_list("/room", &Value::Null).is_err());
        let odd = Value::List(vec![member("carol", -1, "online")]);
        assert!(who_list("/room", &odd).is_err());
        assert_eq!(MemberState::from_wire("idle").to_string(), "idle");
    }
}
