//! A lab request frame to a core [`Command`].
//!
//! What is about this protocol is checked here: the envelope and value
//! (both formats' rules), the topic syntax, the fields each method takes, and
//! that a published message fits a frame in both formats. A request that
//! fails gets its `ERROR` here, echoing the topic as received.

use std::borrow::Cow;

use protocol::{Attrs, Body, Envelope, Format, Links, Method, Pattern, Topic, MAX_PAYLOAD};

use super::{encode, history, options};
use crate::core::command::PublishKeys;
use crate::core::{
    Cancel, Command, Filter, HistoryQuery, List, Publish, SubTag, Subscribe, TopicArg,
};
use crate::doors::Action;

/// Requests up to this size cannot yield a delivery over the frame limit in
/// either format (16 * 4096 + 6 * 1024 plus an envelope is under 99,999), so
/// their size is not checked.
const SMALL_REQUEST: usize = 4096;

/// Decodes one request payload, the first `len` bytes of `input` (the
/// rest is the next frames, see [`Format::decode_envelope_ahead`]);
/// refusals are appended to `out`.
pub(super) fn decode<'a>(
    format: Format,
    input: &'a [u8],
    len: usize,
    out: &mut Vec<u8>,
) -> Action<'a> {
    let envelope = match format.decode_envelope_ahead(input, len) {
        Ok(e) => e,
        Err(e) => {
            let topic = format.recover_topic(&input[..len]).unwrap_or_default();
            return refuse(format, &topic, &e.to_string(), out);
        }
    };
    let Envelope {
        method,
        topic,
        msg,
        attrs,
        keys,
    } = envelope;
    let raw = topic.unwrap_or(Cow::Borrowed(""));
    let command = match method {
        Method::Publish => {
            // Nearly every publish is v1's: its keys are not looked at.
            let keys = match keys {
                Some(k) => publish_keys(k.id, k.reply),
                None => Ok(None),
            };
            match keys {
                Ok(keys) => publish(raw, msg, attrs.ack, keys, len),
                Err(reason) => Err(Refusal { topic: raw, reason }),
            }
        }
        Method::Subscribe => subscribe(raw, &msg),
        Method::CancelSub => cancel(raw, &msg),
        Method::List => list(raw, &msg),
        Method::Hello => options::hello(&msg)
            .map(Command::Hello)
            .map_err(|reason| Refusal { topic: raw, reason }),
        Method::History => history_query(raw, &msg),
        Method::Who => topic_arg(raw).map(Command::Who),
        Method::Ping => {
            pong(format, raw.as_ref(), &msg, out);
            return Action::Answered;
        }
        other => Err(Refusal {
            topic: raw,
            reason: format!("method {other} is sent by the broker, not accepted from clients"),
        }),
    };
    match command {
        Ok(c) => Action::Command(c),
        Err(r) => refuse(format, &r.topic, &r.reason, out),
    }
}

/// A request refused by this door: the topic to echo and why.
struct Refusal<'a> {
    topic: Cow<'a, str>,
    reason: String,
}

fn refuse<'a>(format: Format, topic: &str, reason: &str, out: &mut Vec<u8>) -> Action<'a> {
    log::debug!("ERROR {reason}");
    encode::error(format, topic, reason, out);
    Action::Answered
}

/// Validates and normalizes a request's topic, keeping the text as sent
/// when it differs (refusals echo it).
#[inline(always)]
fn topic_arg(raw: Cow<'_, str>) -> Result<TopicArg<'_>, Refusal<'_>> {
    // Text borrowed from the frame, nearly every request's: normalizing only
    // ever removes bytes, so an equal length means it was already normal.
    if let Cow::Borrowed(text) = raw {
        return match Topic::parse(text) {
            Ok(topic) => {
                let sent = (topic.as_str().len() != text.len()).then_some(raw);
                Ok(TopicArg { topic, sent })
            }
            Err(e) => Err(Refusal {
                topic: raw,
                reason: e.to_string(),
            }),
        };
    }
    Topic::parse_cow(raw)
        .map(|(topic, sent)| TopicArg { topic, sent })
        .map_err(|(raw, e)| Refusal {
            topic: raw,
            reason: e.to_string(),
        })
}

/// Longest publish `id`, in bytes (v2 §15).
const MAX_ID_LEN: usize = 128;

/// A publish's v2 keys (v2 §15).
#[cold]
#[inline(never)]
fn publish_keys(
    id: Option<Cow<'_, str>>,
    reply: Option<Cow<'_, str>>,
) -> Result<Option<Box<PublishKeys>>, String> {
    if let Some(id) = &id {
        if id.is_empty() || id.len() > MAX_ID_LEN {
            return Err(format!(
                "id must be 1 to {MAX_ID_LEN} bytes, not {}",
                id.len()
            ));
        }
    }
    let reply = match reply {
        Some(r) if r.contains('*') => {
            return Err(format!("reply {r:?} is a pattern; it must be a topic"))
        }
        Some(r) => match Topic::parse(&r) {
            Ok(t) if t.is_root() => return Err("reply cannot be the root topic".to_owned()),
            Ok(t) => Some(t.as_str().to_owned()),
            Err(e) => return Err(format!("reply {r:?}: {e}")),
        },
        None => None,
    };
    if id.is_none() && reply.is_none() {
        return Ok(None);
    }
    Ok(Some(Box::new(PublishKeys {
        headers: None,
        id: id.map(Cow::into_owned),
        reply,
    })))
}

fn publish<'a>(
    raw: Cow<'a, str>,
    body: Body<'a>,
    ack: bool,
    keys: Option<Box<PublishKeys>>,
    request_len: usize,
) -> Result<Command<'a>, Refusal<'a>> {
    let topic = topic_arg(raw)?;
    // The router refuses a publish to the root before anything else.
    if request_len > SMALL_REQUEST && !topic.topic.is_root() {
        let reply = keys.as_deref().and_then(|k| k.reply.as_deref());
        if let Err(reason) = check_size(topic.topic.as_str(), &body, reply) {
            return Err(Refusal {
                topic: Cow::Owned(topic.sent().to_owned()),
                reason,
            });
        }
    }
    Ok(Command::Publish(Publish {
        topic,
        body,
        ack,
        keys,
    }))
}

/// Whether a message fits every frame it may travel in, in both formats,
/// whoever is subscribed now: its deliveries (`LAST_MSG`, the longer method
/// name, with the widest `seq` and `ts`) and a `HISTORY` answer holding it
/// alone. A short request needs no check: its value takes at most 16 bytes
/// of XML per byte of JSON (`Body::xml_len_bound`) and its XML at most about
/// 4 bytes per byte when rewritten (`<item/>` becomes `<item
/// type="str"></item>`), and a topic at most 6 bytes per byte; a `HISTORY`
/// answer adds a few hundred bytes.
fn check_size(topic: &str, body: &Body<'_>, reply: Option<&str>) -> Result<(), String> {
    let widest = Attrs::stamped(u64::MAX, u64::MAX);
    let links = Links { id: None, reply };
    let reply_len = |format: Format| {
        let none = format.payload_len(Method::Publish, "/", &Body::NULL, Attrs::NONE);
        let with = format.linked_payload_len(Method::Publish, "/", &Body::NULL, Attrs::NONE, links);
        with.and_then(|w| Ok(w - none?))
    };
    for format in Format::ALL {
        let extra = history::extra_over_delivery(format) + reply_len(format).unwrap_or(0);
        let len = format
            .max_payload_len(Method::LastMsg, topic, body, widest)
            .and_then(|bound| match bound + extra {
                fits if fits <= MAX_PAYLOAD => Ok(fits),
                _ => Ok(format.payload_len(Method::LastMsg, topic, body, widest)? + extra),
            });
        match len {
            Ok(len) if len <= MAX_PAYLOAD => {}
            Ok(len) => {
                return Err(format!("message too large: its largest {format:?} frame (a delivery, or a HISTORY answer holding it) would be {len} bytes, over the frame limit of {MAX_PAYLOAD}"));
            }
            Err(e) => return Err(e.to_string()),
        }
    }
    Ok(())
}

/// `SUBSCRIBE`: a topic, and options when `msg` is an object.
fn subscribe<'a>(raw: Cow<'a, str>, msg: &Body<'_>) -> Result<Command<'a>, Refusal<'a>> {
    let options = match options::subscribe(msg) {
        Ok(o) => o,
        Err(reason) => return Err(Refusal { topic: raw, reason }),
    };
    if options.presence && raw.contains('*') {
        return Err(Refusal {
            topic: raw,
            reason: "presence is for an exact topic, not a pattern".to_owned(),
        });
    }
    // A `*` segment makes it a pattern (v2 §14); anything else is a topic.
    let filter = if raw.contains('*') {
        match Pattern::parse_cow(raw.clone()) {
            Ok(pattern) => Filter::Pattern(pattern),
            Err((_, e)) => {
                return Err(Refusal {
                    topic: raw,
                    reason: e.to_string(),
                })
            }
        }
    } else {
        Filter::Subtree(topic_arg(raw.clone())?.topic)
    };
    Ok(Command::Subscribe(Subscribe {
        filter,
        sent: raw,
        tag: SubTag::NONE,
        options: options.into_core(),
    }))
}

/// `HISTORY`: an exact topic, and `since`/`limit` in `msg`.
fn history_query<'a>(raw: Cow<'a, str>, msg: &Body<'_>) -> Result<Command<'a>, Refusal<'a>> {
    let (since, limit) = match options::history(msg) {
        Ok(found) => found,
        Err(reason) => return Err(Refusal { topic: raw, reason }),
    };
    let topic = topic_arg(raw)?;
    Ok(Command::History(HistoryQuery {
        topic,
        since,
        limit,
    }))
}

/// Answers `PING` with `PONG`: the same topic (`/` when it had none) and the
/// same msg. Nothing reaches the router, and the answer follows whatever the
/// connection's earlier requests queued.
fn pong(format: Format, topic: &str, msg: &Body<'_>, out: &mut Vec<u8>) {
    let topic = if topic.is_empty() { "/" } else { topic };
    if let Err(e) = format.encode_parts(Method::Pong, topic, msg, Attrs::NONE, out) {
        encode::error(format, topic, &format!("PING not answered: {e}"), out);
    }
}

/// `CANCEL_SUB`: the topic to cancel is `msg` when it is a non-empty string
/// (the lab middleware sends it there), otherwise `topic`. An `ERROR` echoes
/// the request's topic field even when the target came from `msg`.
fn cancel<'a>(raw: Cow<'a, str>, msg: &Body<'_>) -> Result<Command<'a>, Refusal<'a>> {
    let target = match msg.as_nonempty_str() {
        Some(t) => Cow::Owned(t.into_owned()),
        None => raw.clone(),
    };
    match Pattern::parse_cow(target) {
        Ok(scope) => Ok(Command::Cancel(Cancel { scope })),
        Err((target, e)) => Err(Refusal {
            topic: raw,
            reason: format!("cannot cancel {target:?}: {e}"),
        }),
    }
}

/// `LIST`: `msg` is null, or a topic to list after.
fn list<'a>(raw: Cow<'a, str>, msg: &Body<'_>) -> Result<Command<'a>, Refusal<'a>> {
    let after = msg.as_nonempty_str().map(|c| Cow::Owned(c.into_owned()));
    if after.is_none() && !msg.is_null() {
        return Err(Refusal {
            topic: raw,
            reason: "LIST takes null or a topic to list after in msg".into(),
        });
    }
    Ok(Command::List(List { after }))
}
