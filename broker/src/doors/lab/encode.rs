//! Lab frames for what the router hands out: deliveries (`PUBLISH`,
//! `LAST_MSG`), topic lists (`LIST_ACK`, `LIST_NACK`, paged to the frame
//! limit), v2 answers and notices (`HELLO`, `HISTORY`, `GAP`, `PUBACK`,
//! `NO_RESPONDERS`, `PRESENCE`, `WHO`) and errors (`ERROR`).

use std::borrow::Cow;

use log::debug;
use protocol::{Attrs, Body, EncodeError, Format, FrameError, Links, Method, Value, MAX_PAYLOAD};

use super::{history, puback};
use crate::core::delivery::{PresenceEvent, Present};
use crate::core::{Delivery, DeliveryKind, Gap, Greeting, Notice, TopicList};

/// What `HELLO` answers call the broker.
const SERVER: &str = concat!(env!("CARGO_PKG_NAME"), " ", env!("CARGO_PKG_VERSION"));

/// The LIST_NACK text the lab uses.
pub const NO_TOPICS: &str = "No topics created yet.";

/// Appends a delivery frame.
pub(super) fn delivery(
    format: Format,
    d: &Delivery<'_>,
    out: &mut Vec<u8>,
) -> Result<(), EncodeError> {
    let method = match d.kind {
        DeliveryKind::Live | DeliveryKind::Resumed => Method::Publish,
        DeliveryKind::Retained => Method::LastMsg,
    };
    let links = Links {
        id: None,
        reply: d.reply,
    };
    format.encode_linked(
        method,
        d.topic,
        d.body,
        Attrs::stamped(d.seq, d.ts),
        links,
        out,
    )
}

/// Appends the frame of a notice.
pub(super) fn notice(format: Format, notice: &Notice<'_>, out: &mut Vec<u8>) {
    match *notice {
        Notice::Topics { list, after } => list_page(list, format, after, out),
        Notice::NoTopics => {
            let nack = Value::from(NO_TOPICS);
            if let Err(e) = format.encode_value(Method::ListNack, "/", &nack, Attrs::NONE, out) {
                debug!("LIST_NACK not encoded: {e}");
            }
        }
        Notice::Refused { topic, error: e } => error(format, topic, &e.to_string(), out),
        Notice::Hello(g) => hello(format, &g, out),
        Notice::History(page) => history::page(format, &page, out),
        Notice::Gap(g) => gap(format, &g, out),
        Notice::PubAck(a) => puback::general(format, &a, out),
        Notice::NoResponders { reply, topic } => {
            let msg = Value::from(topic);
            if let Err(e) = format.encode_value(Method::NoResponders, reply, &msg, Attrs::NONE, out)
            {
                debug!("NO_RESPONDERS on {reply} not encoded: {e}");
            }
        }
        Notice::Presence(p) => presence(format, &p, out),
        Notice::Who { topic, present } => who(format, topic, present, out),
        // The lab protocol asks nothing of the key space.
        Notice::Reply(r) => debug!("nothing to tell a lab client of {r:?}"),
        Notice::Synced(_) => {}
    }
}

/// Appends a `PRESENCE` (v2 §16).
fn presence(format: Format, p: &PresenceEvent<'_>, out: &mut Vec<u8>) {
    let msg = Value::Dict(vec![
        ("name".into(), Value::from(p.name)),
        ("id".into(), int(p.conn.0 as u64)),
        ("action".into(), Value::from(p.action.as_str())),
        ("ts".into(), int(p.ts)),
    ]);
    if let Err(e) = format.encode_value(Method::Presence, p.topic, &msg, Attrs::NONE, out) {
        debug!("PRESENCE on {} not encoded: {e}", p.topic);
    }
}

/// Appends the answer to `WHO` (v2 §16). A list too long for one frame is
/// cut to what fits, with `more` set.
fn who(format: Format, topic: &str, present: &[Present], out: &mut Vec<u8>) {
    let entry = |p: &Present| {
        Value::Dict(vec![
            ("name".into(), Value::from(p.name.as_str())),
            ("id".into(), int(p.conn.0 as u64)),
            (
                "state".into(),
                Value::from(if p.away { "away" } else { "online" }),
            ),
            ("since".into(), int(p.since)),
        ])
    };
    let mut shown = present.len();
    loop {
        let msg = Value::List(present[..shown].iter().map(entry).collect());
        let attrs = Attrs::more(shown < present.len());
        match format.encode_value(Method::Who, topic, &msg, attrs, out) {
            Err(EncodeError::Frame(FrameError::TooLarge(_))) if shown > 0 => shown /= 2,
            Err(e) => {
                debug!("WHO on {topic} not encoded: {e}");
                return;
            }
            Ok(()) => return,
        }
    }
}

/// A count as a protocol integer (64-bit signed; larger counts are
/// reported as the largest).
fn int(n: u64) -> Value {
    Value::Int(i64::try_from(n).unwrap_or(i64::MAX))
}

/// Appends the answer to `HELLO` (v2 §10).
fn hello(format: Format, g: &Greeting<'_>, out: &mut Vec<u8>) {
    let size = |n: usize| int(u64::try_from(n).unwrap_or(u64::MAX));
    let limits = Value::Dict(vec![
        ("frame".into(), size(MAX_PAYLOAD)),
        ("history".into(), size(g.history)),
        ("max_output".into(), size(g.max_output)),
    ]);
    let msg = Value::Dict(vec![
        ("version".into(), Value::Int(2)),
        ("server".into(), Value::from(SERVER)),
        ("epoch".into(), Value::from(g.epoch)),
        ("id".into(), size(g.conn.0)),
        ("limits".into(), limits),
    ]);
    if let Err(e) = format.encode_value(Method::Hello, "/", &msg, Attrs::NONE, out) {
        debug!("HELLO not encoded: {e}");
    }
}

/// Appends a `GAP` (v2 §13).
fn gap(format: Format, g: &Gap<'_>, out: &mut Vec<u8>) {
    let msg = Value::Dict(vec![
        ("from".into(), int(g.from)),
        ("to".into(), int(g.to)),
        ("reason".into(), Value::from(g.reason.as_str())),
        ("epoch".into(), Value::from(g.epoch)),
    ]);
    if let Err(e) = format.encode_value(Method::Gap, g.topic, &msg, Attrs::NONE, out) {
        debug!("GAP on {} not encoded: {e}", g.topic);
    }
}

/// Appends one `ERROR` echoing `topic`; with a topic too long to fit a frame
/// beside the reason, the topic is left empty.
pub(super) fn error(format: Format, topic: &str, reason: &str, out: &mut Vec<u8>) {
    let reason = Value::from(reason);
    if format
        .encode_value(Method::Error, topic, &reason, Attrs::NONE, out)
        .is_err()
    {
        let _ = format.encode_value(Method::Error, "", &reason, Attrs::NONE, out);
    }
}

/// Bytes one topic adds to a LIST_ACK's list, in `format` (topics hold no
/// whitespace or control characters, so only these escapes can occur).
fn list_item_len(format: Format, topic: &str) -> usize {
    let count = |c: u8| topic.bytes().filter(|&b| b == c).count();
    match format {
        Format::Json => 2 + topic.len() + count(b'"') + count(b'\\') + 1,
        Format::Xml => {
            r#"<item type="str"></item>"#.len()
                + topic.len()
                + 4 * count(b'&')
                + 3 * (count(b'<') + count(b'>'))
        }
    }
}

/// Appends the LIST_ACK page of the topics after `cursor` that fits one frame,
/// with `more` set when some did not fit.
fn list_page(list: TopicList<'_>, format: Format, cursor: Option<&str>, out: &mut Vec<u8>) {
    let empty = Value::List(Vec::new());
    let base = format
        .payload_len(
            Method::ListAck,
            "/",
            &Body::Value(Cow::Borrowed(&empty)),
            Attrs::more(true),
        )
        .unwrap_or(MAX_PAYLOAD);
    let mut size = base;
    let mut topics = Vec::new();
    let mut more = false;
    for topic in list.after(cursor) {
        size += list_item_len(format, topic);
        if size > MAX_PAYLOAD {
            more = true;
            break;
        }
        topics.push(Value::from(topic));
    }
    let msg = Value::List(topics);
    if let Err(e) = format.encode_value(Method::ListAck, "/", &msg, Attrs::more(more), out) {
        debug!("LIST_ACK not encoded: {e}");
    }
}
