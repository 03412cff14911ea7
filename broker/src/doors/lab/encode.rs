//! Lab frames for what the router hands out: deliveries (`PUBLISH`,
//! `LAST_MSG`), topic lists (`LIST_ACK`, `LIST_NACK`, paged to the frame
//! limit) and errors (`ERROR`).

use std::borrow::Cow;

use log::debug;
use protocol::{Body, EncodeError, Format, Method, Value, MAX_PAYLOAD};

use crate::core::{Delivery, DeliveryKind, Notice, TopicList};

/// The LIST_NACK text the lab uses.
pub const NO_TOPICS: &str = "No topics created yet.";

/// Appends a delivery frame.
pub(super) fn delivery(
    format: Format,
    d: &Delivery<'_>,
    out: &mut Vec<u8>,
) -> Result<(), EncodeError> {
    let method = match d.kind {
        DeliveryKind::Live => Method::Publish,
        DeliveryKind::Retained => Method::LastMsg,
    };
    format.encode_parts(method, d.topic, d.body, false, out)
}

/// Appends the frame of a notice.
pub(super) fn notice(format: Format, notice: &Notice<'_>, out: &mut Vec<u8>) {
    match *notice {
        Notice::Topics { list, after } => list_page(list, format, after, out),
        Notice::NoTopics => {
            let nack = Value::from(NO_TOPICS);
            if let Err(e) = format.encode_value(Method::ListNack, "/", &nack, false, out) {
                debug!("LIST_NACK not encoded: {e}");
            }
        }
        Notice::Refused { topic, error: e } => error(format, topic, &e.to_string(), out),
    }
}

/// Appends one `ERROR` echoing `topic`; with a topic too long to fit a frame
/// beside the reason, the topic is left empty.
pub(super) fn error(format: Format, topic: &str, reason: &str, out: &mut Vec<u8>) {
    let reason = Value::from(reason);
    if format
        .encode_value(Method::Error, topic, &reason, false, out)
        .is_err()
    {
        let _ = format.encode_value(Method::Error, "", &reason, false, out);
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
            true,
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
    if let Err(e) = format.encode_value(Method::ListAck, "/", &msg, more, out) {
        debug!("LIST_ACK not encoded: {e}");
    }
}
