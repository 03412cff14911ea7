//! The lab protocol (docs/protocol.md): 5-byte length header,
//! handshake `JSONQueue` or `XMLQueue`, then JSON objects or XML documents.
//!
//! Deliveries are recognised without a full parse: the method is read from
//! `"method":"..."` (JSON) or `method="..."` (XML), and the message text
//! starts after `"msg":"` (JSON) or after the `>` of the `<msg ...>` element
//! (XML).
//!
//! Protocol v2 §15 options: with [`Lab::ack`] every publish asks for a
//! `PUBACK`, which the publisher counts; with [`Lab::replies`] a delivery
//! carrying a `reply` topic is a request ([`Item::Request`]) for the
//! request/reply mode.

use std::sync::atomic::{AtomicU64, Ordering};

use protocol::frame::{self, HEADER_LEN, MAX_PAYLOAD};
use protocol::{Format, Message, Method, Value};

use crate::client::{find, Item, Protocol};
use crate::payload;

/// Room left for what the broker adds to a delivery (an XML declaration).
const DELIVERY_SLACK: usize = 100;
/// The benchmark topic.
const TOPIC: &str = "/bench";

/// The lab protocol with one of its two serialization mechanisms.
#[derive(Debug)]
pub struct Lab {
    /// XML (`XMLQueue`) instead of JSON (`JSONQueue`).
    pub xml: bool,
    /// Each subscription's content filter, `{i}` standing for the
    /// subscriber's number.
    pub filter: Option<String>,
    /// Unmatched pattern subscriptions the first subscriber holds.
    pub idle_patterns: u64,
    /// Subscribers set up so far.
    pub subscribers: AtomicU64,
    /// Every publish carries `"ack": true`; the publisher waits for one
    /// `PUBACK` per message.
    pub ack: bool,
    /// Deliveries are searched for a `reply` key, and those that have one
    /// are decoded as [`Item::Request`].
    pub replies: bool,
}

/// Appends one frame (header and payload) to `out`.
pub fn push_frame(out: &mut Vec<u8>, payload: &str) {
    out.extend_from_slice(format!("{:>HEADER_LEN$}", payload.len()).as_bytes());
    out.extend_from_slice(payload.as_bytes());
}

impl Lab {
    /// The plain protocol: no filters, no extra patterns.
    pub fn new(xml: bool) -> Lab {
        Lab {
            xml,
            filter: None,
            idle_patterns: 0,
            subscribers: AtomicU64::new(0),
            ack: false,
            replies: false,
        }
    }

    /// The handshake frame.
    pub fn hello(&self) -> Vec<u8> {
        let mut out = Vec::new();
        push_frame(&mut out, if self.xml { "XMLQueue" } else { "JSONQueue" });
        out
    }

    /// `LIST` with the benchmark topic as paging cursor. Its reply lists only
    /// topics sorting after the benchmark topic, while the `LIST_ACK`
    /// announcements the broker pushes when topics are created list all
    /// topics, the benchmark topic included: that tells them apart.
    fn list(&self) -> Vec<u8> {
        let mut out = Vec::new();
        if self.xml {
            push_frame(
                &mut out,
                &format!(
                    r#"<message method="LIST" topic="/"><msg type="str">{TOPIC}</msg></message>"#
                ),
            );
        } else {
            push_frame(
                &mut out,
                &format!(r#"{{"method":"LIST","topic":"/","msg":"{TOPIC}"}}"#),
            );
        }
        out
    }

    /// Whether a `LIST_ACK` names the benchmark topic (so is an announcement,
    /// not the reply to our cursor `LIST`).
    fn lists_topic(&self, payload: &[u8]) -> bool {
        let needle = if self.xml {
            format!(">{TOPIC}<")
        } else {
            format!("\"{TOPIC}\"")
        };
        find(payload, needle.as_bytes()).is_some()
    }

    /// The value of the `method` field or attribute.
    fn method<'a>(&self, payload: &'a [u8]) -> Option<&'a [u8]> {
        let rest = if self.xml {
            &payload[find(payload, b" method=\"")? + 9..]
        } else {
            json_string_value(payload, b"\"method\"")?
        };
        Some(&rest[..find(rest, b"\"")?])
    }

    /// The message text of a delivery (from its start to the end of the
    /// frame).
    fn text<'a>(&self, payload: &'a [u8]) -> Option<&'a [u8]> {
        if self.xml {
            let element = &payload[find(payload, b"<msg")?..];
            Some(&element[find(element, b">")? + 1..])
        } else {
            json_string_value(payload, b"\"msg\"")
        }
    }

    /// One publish frame on `topic` whose payload is `size` bytes without
    /// the optional keys, with the text built by [`payload::template`].
    /// `"ack": true` (with [`Lab::ack`]) and `reply` (when given) come on top,
    /// so that the message text, and so the deliveries, are the same with or
    /// without them. Returns the frame and the offset of the text in it.
    pub fn publish_frame(
        &self,
        size: usize,
        topic: &str,
        reply: Option<&str>,
    ) -> Result<(Vec<u8>, usize), String> {
        let mut keys = String::new();
        let (plain, head, tail) = if self.xml {
            if self.ack {
                keys.push_str(r#" ack="true""#);
            }
            if let Some(reply) = reply {
                keys.push_str(&format!(r#" reply="{reply}""#));
            }
            let head = |keys: &str| {
                format!(r#"<message method="PUBLISH" topic="{topic}"{keys}><msg type="str">"#)
            };
            (head(""), head(&keys), "</msg></message>")
        } else {
            if self.ack {
                keys.push_str(r#""ack":true,"#);
            }
            if let Some(reply) = reply {
                keys.push_str(&format!(r#""reply":"{reply}","#));
            }
            let head =
                |keys: &str| format!(r#"{{"method":"PUBLISH","topic":"{topic}",{keys}"msg":""#);
            (head(""), head(&keys), "\"}")
        };
        let text = payload::template(size.saturating_sub(plain.len() + tail.len()));
        let len = head.len() + text.len() + tail.len();
        if len + DELIVERY_SLACK > MAX_PAYLOAD {
            return Err(format!(
                "a {len}-byte frame payload is too close to the lab limit of {MAX_PAYLOAD}"
            ));
        }
        let mut frame = format!("{len:>HEADER_LEN$}{head}").into_bytes();
        let text_at = frame.len();
        frame.extend_from_slice(&text);
        frame.extend_from_slice(tail.as_bytes());
        Ok((frame, text_at))
    }

    /// A delivery as a request: its reply topic and its exact message text
    /// (still escaped as the format escapes it, so that it can be copied into
    /// an answer in the same format). `None` when it has no reply topic.
    fn request<'a>(&self, payload: &'a [u8]) -> Option<Item<'a>> {
        let rest = self.text(payload)?;
        let head = &payload[..payload.len() - rest.len()];
        let (text, reply) = if self.xml {
            // `reply` is an attribute of `<message ...>`, before `<msg`.
            let reply = &head[find(head, b" reply=\"")? + 8..];
            (&rest[..find(rest, b"<")?], reply)
        } else {
            // The key may come after the text (as the broker writes it) or
            // before it.
            let end = json_string_end(rest)?;
            let reply = json_string_value(&rest[end + 1..], b"\"reply\"")
                .or_else(|| json_string_value(head, b"\"reply\""))?;
            (&rest[..end], reply)
        };
        let reply = &reply[..find(reply, b"\"")?];
        Some(Item::Request { reply, text })
    }
}

/// The length of a JSON string's content: the offset of its closing quote
/// in `content` (which starts after the opening quote).
fn json_string_end(content: &[u8]) -> Option<usize> {
    let mut i = 0;
    while i < content.len() {
        match content[i] {
            b'"' => return Some(i),
            b'\\' => i += 2,
            _ => i += 1,
        }
    }
    None
}

/// What follows the opening quote of the string value of `key` (a quoted
/// JSON key), allowing whitespace around the colon.
fn json_string_value<'a>(payload: &'a [u8], key: &[u8]) -> Option<&'a [u8]> {
    let rest = payload[find(payload, key)? + key.len()..].trim_ascii_start();
    let rest = rest.strip_prefix(b":")?.trim_ascii_start();
    rest.strip_prefix(b"\"")
}

impl Protocol for Lab {
    fn subscribe_request(&self) -> Vec<u8> {
        let mut out = self.hello();
        let index = self.subscribers.fetch_add(1, Ordering::Relaxed);
        let format = if self.xml { Format::Xml } else { Format::Json };
        if index == 0 {
            for i in 0..self.idle_patterns {
                let m = Message::subscribe(format!("/*/idle{i}"));
                format
                    .encode(&m, &mut out)
                    .expect("a pattern SUBSCRIBE fits");
            }
        }
        if let Some(filter) = &self.filter {
            let expr = filter.replace("{i}", &index.to_string());
            let options = Value::Dict(vec![("filter".to_owned(), Value::from(expr.as_str()))]);
            let m = Message::new(Method::Subscribe, TOPIC, options);
            format.encode(&m, &mut out).expect("a filter fits a frame");
        } else if self.xml {
            push_frame(
                &mut out,
                &format!(r#"<message method="SUBSCRIBE" topic="{TOPIC}"/>"#),
            );
        } else {
            push_frame(
                &mut out,
                &format!(r#"{{"method":"SUBSCRIBE","topic":"{TOPIC}"}}"#),
            );
        }
        out.extend_from_slice(&self.list());
        out
    }

    fn publisher_hello(&self) -> Vec<u8> {
        self.hello()
    }

    /// With [`Lab::ack`] the last `PUBACK` is the proof: nothing to send.
    fn sync_request(&self) -> Vec<u8> {
        if self.ack {
            Vec::new()
        } else {
            self.list()
        }
    }

    fn expected_acks(&self, messages: u64) -> u64 {
        if self.ack {
            messages
        } else {
            1
        }
    }

    fn publish_template(&self, size: usize) -> Result<(Vec<u8>, usize), String> {
        self.publish_frame(size, TOPIC, None)
    }

    fn decode<'a>(&self, buf: &'a [u8]) -> Result<Option<(usize, Item<'a>)>, String> {
        let Some(decoded) = frame::decode(buf).map_err(|e| e.to_string())? else {
            return Ok(None);
        };
        let payload = decoded.payload;
        let item = match self.method(payload) {
            Some(b"PUBLISH") => match self.replies.then(|| self.request(payload)).flatten() {
                Some(request) => request,
                None => Item::Delivery(self.text(payload).unwrap_or_default()),
            },
            Some(b"PUBACK" | b"PONG" | b"LIST_NACK") => Item::Ack,
            Some(b"LIST_ACK") if !self.lists_topic(payload) => Item::Ack,
            Some(b"ERROR") => Item::Error(payload),
            _ => Item::Other,
        };
        Ok(Some((decoded.len, item)))
    }
}

#[cfg(test)]
mod tests;
