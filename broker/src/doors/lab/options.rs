//! The `msg` objects of v2 requests (`HELLO`, `HISTORY`, `SUBSCRIBE`) as
//! typed options, with the checks of v2 §17: a wrong key type, a bad name, a
//! negative `since` or an unknown policy refuses the whole request. Unknown
//! keys are ignored. These requests are rare and small, so their `msg` is
//! read as a value tree.

use std::borrow::Cow;
use std::collections::HashMap;

use protocol::{Body, Topic, Value};

use crate::core::{self, Hello, Resume, SlowPolicy};

/// Most messages one `HISTORY` request may ask for: more than any history
/// holds by default, and a bound on what a mistyped limit means.
pub const MAX_HISTORY_LIMIT: u64 = 1_000_000;

/// Longest client name, in bytes.
const MAX_NAME: usize = 64;

/// Why a request's options are refused; the text goes in the `ERROR`.
pub(super) type Refused = String;

/// The keys of an object `msg`; `None` when `msg` is null. `what` names the
/// request for the error.
fn object(msg: &Body<'_>, what: &str) -> Result<Option<Vec<(String, Value)>>, Refused> {
    match msg.to_value() {
        Value::Null => Ok(None),
        Value::Dict(keys) => Ok(Some(keys)),
        other => Err(format!(
            "{what} takes null or an object in msg, not {other}"
        )),
    }
}

/// A non-negative integer key.
fn count(key: &str, v: &Value) -> Result<u64, Refused> {
    match v {
        Value::Int(n) if *n >= 0 => Ok(n.unsigned_abs()),
        other => Err(format!("{key} must be an integer from 0 up, not {other}")),
    }
}

/// `HELLO`'s options (v2 §10). `version` must be an integer if given; any
/// value is answered with the broker's own.
pub(super) fn hello(msg: &Body<'_>) -> Result<Hello<'static>, Refused> {
    let mut hello = Hello::default();
    for (key, v) in object(msg, "HELLO")?.unwrap_or_default() {
        match (key.as_str(), v) {
            ("version", Value::Int(_)) => {}
            ("name", Value::Str(name)) => {
                check_name(&name)?;
                hello.name = Some(Cow::Owned(name));
            }
            ("slow", Value::Str(policy)) => {
                hello.slow = Some(match policy.as_str() {
                    "disconnect" => SlowPolicy::Disconnect,
                    "drop" => SlowPolicy::Drop,
                    other => {
                        return Err(format!(
                            "unknown slow policy {other:?}: use \"disconnect\" or \"drop\""
                        ))
                    }
                });
            }
            (key @ ("version" | "name" | "slow"), other) => {
                return Err(format!("HELLO {key} has the wrong type: {other}"));
            }
            _ => {}
        }
    }
    Ok(hello)
}

/// A client name: 1 to 64 bytes without whitespace or control characters.
pub(crate) fn check_name(name: &str) -> Result<(), Refused> {
    if name.is_empty() || name.len() > MAX_NAME {
        return Err(format!(
            "a name is 1 to {MAX_NAME} bytes, not {}",
            name.len()
        ));
    }
    if name.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!(
            "a name may not hold whitespace or control characters: {name:?}"
        ));
    }
    Ok(())
}

/// `HISTORY`'s options (v2 §12): `since` (default 0) and `limit`.
pub(super) fn history(msg: &Body<'_>) -> Result<(u64, Option<usize>), Refused> {
    let (mut since, mut limit) = (0, None);
    for (key, v) in object(msg, "HISTORY")?.unwrap_or_default() {
        match key.as_str() {
            "since" => since = count("since", &v)?,
            "limit" => {
                let n = count("limit", &v)?;
                if !(1..=MAX_HISTORY_LIMIT).contains(&n) {
                    return Err(format!(
                        "limit must be from 1 to {MAX_HISTORY_LIMIT}, not {n}"
                    ));
                }
                limit = usize::try_from(n).ok();
            }
            _ => {}
        }
    }
    Ok((since, limit))
}

/// What a `SUBSCRIBE` may ask besides its topic.
#[derive(Debug, Default)]
pub(super) struct SubscribeOptions {
    /// Resume after these numbers (v2 §13).
    pub resume: Option<Resume>,
    /// Join this queue group (v2 §15).
    pub group: Option<String>,
    /// Receive the topic's presence events (v2 §16).
    pub presence: bool,
    /// Only messages this CEL expression passes (v2 §14); the router
    /// compiles it.
    pub filter: Option<String>,
}

impl SubscribeOptions {
    /// The router's form: `None` when there is none (v1).
    pub(super) fn into_core(self) -> Option<Box<core::SubscribeOptions>> {
        if self.resume.is_none() && self.group.is_none() && self.filter.is_none() && !self.presence
        {
            return None;
        }
        Some(Box::new(core::SubscribeOptions {
            resume: self.resume,
            group: self.group,
            content: self.filter,
            presence: self.presence,
        }))
    }
}

/// `SUBSCRIBE`'s options (v2 §13-16: `resume`, `filter`, `group`, `presence`); a `msg` that is not an object is v1's
/// and means none. A group name follows the rules of a client name; a group
/// member gets no replay, so `resume` with `group` is refused.
pub(super) fn subscribe(msg: &Body<'_>) -> Result<SubscribeOptions, Refused> {
    let Value::Dict(keys) = msg.to_value() else {
        return Ok(SubscribeOptions::default());
    };
    let mut options = SubscribeOptions::default();
    for (key, v) in keys {
        match (key.as_str(), v) {
            ("resume", v) => options.resume = Some(parse_resume(v)?),
            ("group", Value::Str(name)) => {
                check_name(&name).map_err(|e| format!("group: {e}"))?;
                options.group = Some(name);
            }
            ("group", other) => return Err(format!("group must be a string, not {other}")),
            ("presence", Value::Bool(b)) => options.presence = b,
            ("presence", other) => return Err(format!("presence must be a bool, not {other}")),
            ("filter", Value::Str(text)) => options.filter = Some(text),
            ("filter", other) => return Err(format!("filter must be a string, not {other}")),
            _ => {}
        }
    }
    if options.resume.is_some() && options.group.is_some() {
        return Err("resume and group do not combine: a group member gets no replay".to_owned());
    }
    Ok(options)
}

/// `{"epoch": E, "topics": {topic: seq, ...}}`; topics are normalized.
fn parse_resume(v: Value) -> Result<Resume, Refused> {
    let Value::Dict(keys) = v else {
        return Err(format!(
            "resume must be an object with epoch and topics, not {v}"
        ));
    };
    let (mut epoch, mut seen) = (None, None);
    for (key, v) in keys {
        match (key.as_str(), v) {
            ("epoch", Value::Str(e)) => epoch = Some(e),
            ("topics", Value::Dict(topics)) => {
                let mut map = HashMap::with_capacity(topics.len());
                for (topic, seq) in topics {
                    let normal =
                        Topic::parse(&topic).map_err(|e| format!("resume topic {topic:?}: {e}"))?;
                    let seq = count("a resume seq", &seq)?;
                    map.insert(normal.as_str().to_owned(), seq);
                }
                seen = Some(map);
            }
            (key @ ("epoch" | "topics"), other) => {
                return Err(format!("resume {key} has the wrong type: {other}"));
            }
            _ => {}
        }
    }
    match (epoch, seen) {
        (Some(epoch), Some(seen)) => Ok(Resume { epoch, seen }),
        _ => Err("resume needs both epoch (a string) and topics (an object)".to_owned()),
    }
}
