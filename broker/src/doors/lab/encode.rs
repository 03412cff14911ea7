//! Lab frames for what the router hands out: deliveries (`PUBLISH`,
//! `LAST_MSG`), topic lists (`LIST_ACK`, `LIST_NACK`, paged to the frame
//! limit), v2 answers and notices (`HELLO`, `HISTORY`, `GAP`, `PUBACK`,
//! `NO_RESPONDERS`, `PRESENCE`, `WHO`) and errors (`ERROR`).

use std::borrow::Cow;

use log::debug;
use protocol::value::Digits;
use protocol::{
    frame, Attrs, Body, EncodeError, Format, FrameError, Links, Method, Value, MAX_PAYLOAD,
};

use super::history;
use crate::core::delivery::{PresenceEvent, Present, PubAck};
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
        Notice::PubAck(a) => puback(format, &a, out),
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

/// Appends a `PUBACK` (v2 §15). One may follow every publish, so the usual
/// one (no id, a topic with nothing to escape) is written from a template;
/// the general path builds it as JSON text, which XML streams.
fn puback(format: Format, a: &PubAck<'_>, out: &mut Vec<u8>) {
    let plain = a.id.is_none()
        && !a.duplicate
        && !a
            .topic
            .bytes()
            .any(|b| matches!(b, b'"' | b'\\' | b'&' | b'<' | b'>') || b < 0x20);
    if plain {
        let (seq, receivers) = (a.seq.min(i64::MAX as u64), a.receivers.min(i64::MAX as u64));
        let written = match format {
            Format::Json => puback_json(a.topic, seq, receivers, out),
            Format::Xml => puback_xml(a.topic, seq, receivers, out),
        };
        if written {
            return;
        }
    }
    let mut text = Vec::with_capacity(48 + a.id.map_or(0, str::len));
    text.extend_from_slice(b"{\"seq\":");
    push_uint(&mut text, a.seq);
    text.extend_from_slice(b",\"receivers\":");
    push_uint(&mut text, a.receivers);
    if let Some(id) = a.id {
        text.extend_from_slice(b",\"id\":");
        text.extend_from_slice(protocol::format::json::quote(id).as_bytes());
    }
    if a.duplicate {
        text.extend_from_slice(b",\"duplicate\":true");
    }
    text.push(b'}');
    let Ok(text) = String::from_utf8(text) else {
        return;
    };
    let body = Body::Json {
        text: Cow::Owned(text),
        xml_len: None,
    };
    if let Err(e) = format.encode_parts(Method::PubAck, a.topic, &body, Attrs::NONE, out) {
        debug!("PUBACK on {} not encoded: {e}", a.topic);
    }
}

/// A `PUBACK` without id in JSON on a topic with nothing to escape: its
/// length is known before it is written, so the header goes first and each
/// piece is copied once (constant pieces are inlined moves). `false` if it
/// would not fit a frame.
fn puback_json(topic: &str, seq: u64, receivers: u64, out: &mut Vec<u8>) -> bool {
    const HEAD: &[u8] = b"{\"method\":\"PUBACK\",\"topic\":\"";
    const MID: &[u8] = b"\",\"msg\":{\"seq\":";
    const TAIL: &[u8] = b",\"receivers\":";
    const END: &[u8] = b"}}";
    template(topic, seq, receivers, [HEAD, MID, TAIL, END], out)
}

/// [`puback_json`] in XML.
fn puback_xml(topic: &str, seq: u64, receivers: u64, out: &mut Vec<u8>) -> bool {
    const HEAD: &[u8] = b"<message method=\"PUBACK\" topic=\"";
    const MID: &[u8] = b"\"><msg type=\"dict\"><item key=\"seq\" type=\"int\">";
    const TAIL: &[u8] = b"</item><item key=\"receivers\" type=\"int\">";
    const END: &[u8] = b"</item></msg></message>";
    template(topic, seq, receivers, [HEAD, MID, TAIL, END], out)
}

/// Writes the frame `head topic mid seq tail receivers end`.
#[inline(always)]
fn template(topic: &str, seq: u64, receivers: u64, parts: [&[u8]; 4], out: &mut Vec<u8>) -> bool {
    let [head, mid, tail, end] = parts;
    let (seq, receivers) = (Digits::of(seq), Digits::of(receivers));
    let (seq, receivers) = (seq.as_bytes(), receivers.as_bytes());
    let len =
        head.len() + topic.len() + mid.len() + seq.len() + tail.len() + receivers.len() + end.len();
    if len > MAX_PAYLOAD {
        return false;
    }
    // The frame's room is made once and each piece copied into it: a
    // constant piece is then a few moves, where appending checked the
    // capacity and moved the length for every piece.
    let mut at = out.len();
    out.resize(at + frame::HEADER_LEN + len, 0);
    let header = frame::header(len);
    for piece in [
        &header[..],
        head,
        topic.as_bytes(),
        mid,
        seq,
        tail,
        receivers,
        end,
    ] {
        out[at..at + piece.len()].copy_from_slice(piece);
        at += piece.len();
    }
    true
}

/// Appends the decimal digits of `n`, at most the largest protocol integer.
fn push_uint(out: &mut Vec<u8>, n: u64) {
    protocol::value::push_uint(out, n.min(i64::MAX as u64));
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The general encoder's frame for a `PUBACK` without id.
    fn general(format: Format, topic: &str, seq: u64, receivers: u64) -> Vec<u8> {
        let msg = Value::Dict(vec![
            ("seq".into(), int(seq)),
            ("receivers".into(), int(receivers)),
        ]);
        let mut out = Vec::new();
        format
            .encode_value(Method::PubAck, topic, &msg, Attrs::NONE, &mut out)
            .unwrap();
        out
    }

    #[test]
    fn the_puback_template_writes_what_the_general_encoder_writes() {
        for format in Format::ALL {
            for (topic, seq, receivers) in [
                ("/a", 1, 0),
                ("/bench/x-y_z", 123_456_789, 42),
                ("/t", u64::MAX, 7),
            ] {
                let ack = PubAck {
                    topic,
                    seq,
                    receivers,
                    id: None,
                    duplicate: false,
                };
                let mut fast = Vec::new();
                puback(format, &ack, &mut fast);
                assert_eq!(
                    String::from_utf8(fast).unwrap(),
                    String::from_utf8(general(format, topic, seq, receivers)).unwrap()
                );
            }
        }
    }
}
