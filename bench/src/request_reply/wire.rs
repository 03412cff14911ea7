//! What request/reply adds to a target's protocol ([`Exchange`]): the
//! requester's inbox subscription, requests that name it, and answers on a
//! request's reply topic. Lab (protocol v2 §15: `reply` key, `/_INBOX/...`
//! topics, `PING` as the confirmation) and core NATS (`PUB <subject>
//! <reply-to>`, `_INBOX.` subjects); Redis pub/sub has no reply subjects.
//!
//! Requests and answers are decoded by [`Protocol::decode`]: a delivery with
//! a reply topic is an [`Item::Request`](crate::client::Item::Request), an
//! answer arriving in an inbox an ordinary delivery.

use std::fmt::Write as _;

use protocol::frame::HEADER_LEN;

use crate::client::Protocol;
use crate::lab::{push_frame, Lab};
use crate::nats::{Nats, CONNECT};
use crate::payload;

/// The lab topic requests go to.
const LAB_TOPIC: &str = "/bench/rr";
/// The NATS subject requests go to.
const NATS_SUBJECT: &str = "bench.rr";

/// Request/reply on top of a target's [`Protocol`].
pub trait Exchange: Protocol {
    /// The inbox (reply topic or subject) of a requester, made unique by
    /// `token`.
    fn inbox(&self, token: &str) -> String;
    /// Bytes that open a requester connection, subscribe to `inbox` and ask
    /// for one [`Item::Ack`](crate::client::Item::Ack) proving it is active.
    fn requester_hello(&self, inbox: &str) -> Vec<u8>;
    /// Bytes that open the responder connection, subscribe to the request
    /// topic and ask for one `Ack`.
    fn responder_hello(&self) -> Vec<u8>;
    /// One complete request frame naming `inbox` as its reply topic, with a
    /// [`payload::template`] text sized as the pub/sub messages are for
    /// `size`; returns the frame and the offset of the text in it.
    fn request_template(&self, size: usize, inbox: &str) -> Result<(Vec<u8>, usize), String>;
    /// Appends the answer to a request: `text` published on `reply`, both
    /// as they were received (already in the target's escaping).
    fn answer(&self, out: &mut Vec<u8>, reply: &[u8], text: &[u8]);
}

impl Lab {
    /// A `SUBSCRIBE` to `topic` then a `PING`, after the handshake: the
    /// `PONG` proves the subscription is active (requests are handled in
    /// order). Not the pub/sub mode's `LIST`: topic announcements would look
    /// like its answer here.
    fn subscribe_and_ping(&self, topic: &str) -> Vec<u8> {
        let mut out = self.hello();
        if self.xml {
            push_frame(
                &mut out,
                &format!(r#"<message method="SUBSCRIBE" topic="{topic}"/>"#),
            );
            push_frame(&mut out, r#"<message method="PING" topic="/"/>"#);
        } else {
            push_frame(
                &mut out,
                &format!(r#"{{"method":"SUBSCRIBE","topic":"{topic}"}}"#),
            );
            push_frame(&mut out, r#"{"method":"PING","topic":"/"}"#);
        }
        out
    }
}

impl Exchange for Lab {
    fn inbox(&self, token: &str) -> String {
        format!("/_INBOX/bench-{token}")
    }

    fn requester_hello(&self, inbox: &str) -> Vec<u8> {
        self.subscribe_and_ping(inbox)
    }

    fn responder_hello(&self) -> Vec<u8> {
        self.subscribe_and_ping(LAB_TOPIC)
    }

    fn request_template(&self, size: usize, inbox: &str) -> Result<(Vec<u8>, usize), String> {
        self.publish_frame(size, LAB_TOPIC, Some(inbox))
    }

    fn answer(&self, out: &mut Vec<u8>, reply: &[u8], text: &[u8]) {
        let parts: [&[u8]; 5] = if self.xml {
            [
                br#"<message method="PUBLISH" topic=""#,
                reply,
                br#""><msg type="str">"#,
                text,
                b"</msg></message>",
            ]
        } else {
            [
                br#"{"method":"PUBLISH","topic":""#,
                reply,
                br#"","msg":""#,
                text,
                br#""}"#,
            ]
        };
        frame_parts(out, &parts);
    }
}

/// Appends one lab frame whose payload is `parts` end to end.
fn frame_parts(out: &mut Vec<u8>, parts: &[&[u8]]) {
    let len: usize = parts.iter().map(|p| p.len()).sum();
    let mut header = String::with_capacity(HEADER_LEN);
    // Writing to a String cannot fail.
    let _ = write!(header, "{len:>HEADER_LEN$}");
    out.extend_from_slice(header.as_bytes());
    for part in parts {
        out.extend_from_slice(part);
    }
}

impl Exchange for Nats {
    fn inbox(&self, token: &str) -> String {
        format!("_INBOX.bench-{token}")
    }

    fn requester_hello(&self, inbox: &str) -> Vec<u8> {
        format!("{CONNECT}SUB {inbox} 1\r\nPING\r\n").into_bytes()
    }

    fn responder_hello(&self) -> Vec<u8> {
        format!("{CONNECT}SUB {NATS_SUBJECT} 1\r\nPING\r\n").into_bytes()
    }

    fn request_template(&self, size: usize, inbox: &str) -> Result<(Vec<u8>, usize), String> {
        let text = payload::template(size);
        let mut frame = format!("PUB {NATS_SUBJECT} {inbox} {}\r\n", text.len()).into_bytes();
        let text_at = frame.len();
        frame.extend_from_slice(&text);
        frame.extend_from_slice(b"\r\n");
        Ok((frame, text_at))
    }

    fn answer(&self, out: &mut Vec<u8>, reply: &[u8], text: &[u8]) {
        out.extend_from_slice(b"PUB ");
        out.extend_from_slice(reply);
        out.extend_from_slice(format!(" {}\r\n", text.len()).as_bytes());
        out.extend_from_slice(text);
        out.extend_from_slice(b"\r\n");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::Item;

    /// A lab protocol that decodes requests.
    fn lab(xml: bool) -> Lab {
        Lab {
            replies: true,
            ..Lab::new(xml)
        }
    }

    /// Decodes the first item of `buf` as `(reply, text)` of a request, or
    /// `("", text)` of a plain delivery.
    fn first(proto: &dyn Exchange, buf: &[u8]) -> Option<(Vec<u8>, Vec<u8>)> {
        match proto.decode(buf) {
            Ok(Some((used, Item::Request { reply, text }))) if used == buf.len() => {
                Some((reply.to_vec(), text.to_vec()))
            }
            Ok(Some((used, Item::Delivery(text)))) if used == buf.len() => {
                Some((Vec::new(), text.to_vec()))
            }
            _ => None,
        }
    }

    #[test]
    fn lab_requests_decode_as_requests_and_answers_as_deliveries() {
        for xml in [false, true] {
            let lab = lab(xml);
            let inbox = lab.inbox("00ff");
            assert_eq!(inbox, "/_INBOX/bench-00ff");
            let Ok((request, text_at)) = lab.request_template(128, &inbox) else {
                panic!("template refused");
            };
            let tail = if xml { "</msg></message>".len() } else { 2 };
            let text = request[text_at..request.len() - tail].to_vec();
            let Some((reply, got)) = first(&lab, &request) else {
                panic!("request not decoded");
            };
            assert_eq!((reply, &got[..]), (inbox.clone().into_bytes(), &text[..]));
            let mut answer = Vec::new();
            lab.answer(&mut answer, inbox.as_bytes(), &got);
            let Some((none, echoed)) = first(&lab, &answer) else {
                panic!("answer not decoded");
            };
            assert!(none.is_empty() && echoed.starts_with(&text));
            assert_eq!(payload::parse(&echoed), Some((0, 0)));
        }
    }

    #[test]
    fn lab_sizes_and_hellos() {
        let lab = lab(false);
        let Ok((request, text_at)) = lab.request_template(128, "/_INBOX/bench-1") else {
            panic!("template refused");
        };
        let mut answer = Vec::new();
        lab.answer(
            &mut answer,
            b"/_INBOX/bench-1",
            &request[text_at..request.len() - 2],
        );
        // The answer is the plain publish of the same text on the inbox:
        // `--size` bytes but for the longer topic.
        let longer = "/_INBOX/bench-1".len() - LAB_TOPIC.len();
        assert_eq!(answer.len(), HEADER_LEN + 128 + longer);
        let hello = String::from_utf8_lossy(&lab.requester_hello("/_INBOX/x")).into_owned();
        assert!(
            hello.contains(r#""topic":"/_INBOX/x""#) && hello.ends_with(r#""PING","topic":"/"}"#)
        );
        let hello = String::from_utf8_lossy(&Lab::new(true).responder_hello()).into_owned();
        assert!(hello.starts_with("    8XMLQueue") && hello.contains(r#"topic="/bench/rr""#));
    }

    #[test]
    fn nats_request_and_answer() {
        let inbox = Nats.inbox("7");
        let Ok((request, text_at)) = Nats.request_template(64, &inbox) else {
            panic!("template refused");
        };
        assert!(request.starts_with(b"PUB bench.rr _INBOX.bench-7 64\r\n"));
        let text = &request[text_at..request.len() - 2];
        let delivered = [b"MSG bench.rr 1 _INBOX.bench-7 64\r\n", text, b"\r\n"].concat();
        let Some((reply, got)) = first(&Nats, &delivered) else {
            panic!("request not decoded");
        };
        assert_eq!((&reply[..], &got[..]), (inbox.as_bytes(), text));
        let mut answer = Vec::new();
        Nats.answer(&mut answer, &reply, &got);
        assert_eq!(
            answer,
            [b"PUB _INBOX.bench-7 64\r\n", text, b"\r\n"].concat()
        );
        assert!(String::from_utf8_lossy(&Nats.responder_hello()).contains("SUB bench.rr 1\r\nPING"));
    }
}
