//! The lab protocol (docs/protocol.md): 5-byte length header,
//! handshake `JSONQueue` or `XMLQueue`, then JSON objects or XML documents.
//!
//! Deliveries are recognised without a full parse: the method is read from
//! `"method":"..."` (JSON) or `method="..."` (XML), and the message text
//! starts after `"msg":"` (JSON) or after the `>` of the `<msg ...>` element
//! (XML).

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
}

/// Appends one frame (header and payload) to `out`.
fn push_frame(out: &mut Vec<u8>, payload: &str) {
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
        }
    }

    /// The handshake frame.
    fn hello(&self) -> Vec<u8> {
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

    fn sync_request(&self) -> Vec<u8> {
        self.list()
    }

    fn expected_acks(&self, _messages: u64) -> u64 {
        1
    }

    fn publish_template(&self, size: usize) -> Result<(Vec<u8>, usize), String> {
        let (head, tail) = if self.xml {
            (
                format!(r#"<message method="PUBLISH" topic="{TOPIC}"><msg type="str">"#),
                "</msg></message>",
            )
        } else {
            (
                format!(r#"{{"method":"PUBLISH","topic":"{TOPIC}","msg":""#),
                "\"}",
            )
        };
        let text = payload::template(size.saturating_sub(head.len() + tail.len()));
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

    fn decode<'a>(&self, buf: &'a [u8]) -> Result<Option<(usize, Item<'a>)>, String> {
        let Some(decoded) = frame::decode(buf).map_err(|e| e.to_string())? else {
            return Ok(None);
        };
        let payload = decoded.payload;
        let item = match self.method(payload) {
            Some(b"PUBLISH") => Item::Delivery(self.text(payload).unwrap_or_default()),
            Some(b"LIST_NACK") => Item::Ack,
            Some(b"LIST_ACK") if !self.lists_topic(payload) => Item::Ack,
            Some(b"ERROR") => Item::Error(payload),
            _ => Item::Other,
        };
        Ok(Some((decoded.len, item)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Frames `payload` and decodes it with `lab`.
    fn decode_one(lab: &Lab, payload: &str) -> String {
        let mut buf = Vec::new();
        push_frame(&mut buf, payload);
        match lab.decode(&buf) {
            Ok(Some((used, item))) => {
                assert_eq!(used, buf.len());
                match item {
                    Item::Delivery(text) => format!("delivery {}", String::from_utf8_lossy(text)),
                    other => format!("{other:?}"),
                }
            }
            other => format!("{other:?}"),
        }
    }

    #[test]
    fn json_frames_are_classified() {
        let lab = Lab::new(false);
        assert_eq!(
            decode_one(
                &lab,
                r#"{"method": "PUBLISH", "topic": "/bench", "msg": "t=1 s=2"}"#
            ),
            r#"delivery t=1 s=2"}"#
        );
        assert_eq!(
            decode_one(
                &lab,
                r#"{"msg":"t=1 s=2","method":"PUBLISH","topic":"/bench"}"#
            ),
            r#"delivery t=1 s=2","method":"PUBLISH","topic":"/bench"}"#
        );
        assert_eq!(
            decode_one(
                &lab,
                r#"{"method":"LIST_ACK","topic":"/","msg":["/bench"]}"#
            ),
            "Other"
        );
        assert_eq!(
            decode_one(&lab, r#"{"method":"LIST_ACK","topic":"/","msg":[]}"#),
            "Ack"
        );
        assert_eq!(
            decode_one(&lab, r#"{"method":"LIST_NACK","topic":"/","msg":"No"}"#),
            "Ack"
        );
        assert_eq!(
            decode_one(
                &lab,
                r#"{"method":"LAST_MSG","topic":"/bench","msg":"t=1 s=2"}"#
            ),
            "Other"
        );
        assert!(
            decode_one(&lab, r#"{"method":"ERROR","topic":"","msg":"bad"}"#).starts_with("Error")
        );
    }

    #[test]
    fn xml_frames_are_classified() {
        let lab = Lab::new(true);
        assert_eq!(
            decode_one(
                &lab,
                r#"<?xml version="1.0" encoding="UTF-8"?><message method="PUBLISH" topic="/bench"><msg type="str">t=1 s=2</msg></message>"#
            ),
            "delivery t=1 s=2</msg></message>"
        );
        assert_eq!(
            decode_one(
                &lab,
                r#"<message method="PUBLISH" topic="/bench"><msg>t=1 s=2</msg></message>"#
            ),
            "delivery t=1 s=2</msg></message>"
        );
        assert_eq!(
            decode_one(
                &lab,
                r#"<message method="LIST_ACK" topic="/"><msg type="list"><item type="str">/bench</item></msg></message>"#
            ),
            "Other"
        );
        assert_eq!(
            decode_one(
                &lab,
                r#"<message method="LIST_ACK" topic="/"><msg type="list"/></message>"#
            ),
            "Ack"
        );
    }

    #[test]
    fn partial_and_bad_headers() {
        let lab = Lab::new(false);
        assert!(matches!(lab.decode(b"   4"), Ok(None)));
        assert!(matches!(lab.decode(b"   42{}"), Ok(None)));
        assert!(lab.decode(b"  x42{}").is_err());
        assert!(lab.decode(b"    0").is_err());
        assert!(lab.decode(b" 4 2 ").is_err());
    }

    #[test]
    fn publish_template_has_the_requested_size() {
        for xml in [false, true] {
            let lab = Lab::new(xml);
            let Ok((frame, text_at)) = lab.publish_template(128) else {
                panic!("template refused");
            };
            assert_eq!(frame.len(), HEADER_LEN + 128);
            assert!(frame[text_at..].starts_with(b"t=0000"));
            let decoded = lab.decode(&frame);
            assert!(matches!(decoded, Ok(Some((n, Item::Delivery(_)))) if n == frame.len()));
        }
        assert!(Lab::new(false).publish_template(99_990).is_err());
    }
}
