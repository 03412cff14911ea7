//! The NATS text protocol, spoken directly: `CONNECT`, `SUB`, `PUB`,
//! `PING`/`PONG` and the server's `MSG` deliveries.

use crate::client::{find, Item, Protocol};
use crate::payload;

/// The client options: no `+OK` after every command.
pub const CONNECT: &str = "CONNECT {\"verbose\":false,\"pedantic\":false}\r\n";
/// The benchmark subject.
const SUBJECT: &str = "bench";
/// Longest control line accepted (the server's `INFO` is the longest).
const MAX_LINE: usize = 64 * 1024;

/// The NATS target.
#[derive(Debug, Clone, Copy)]
pub struct Nats;

impl Protocol for Nats {
    fn subscribe_request(&self) -> Vec<u8> {
        format!("{CONNECT}SUB {SUBJECT} 1\r\nPING\r\n").into_bytes()
    }

    fn publisher_hello(&self) -> Vec<u8> {
        CONNECT.as_bytes().to_vec()
    }

    fn sync_request(&self) -> Vec<u8> {
        b"PING\r\n".to_vec()
    }

    fn expected_acks(&self, _messages: u64) -> u64 {
        1
    }

    fn publish_template(&self, size: usize) -> Result<(Vec<u8>, usize), String> {
        let text = payload::template(size);
        let mut frame = format!("PUB {SUBJECT} {}\r\n", text.len()).into_bytes();
        let text_at = frame.len();
        frame.extend_from_slice(&text);
        frame.extend_from_slice(b"\r\n");
        Ok((frame, text_at))
    }

    fn decode<'a>(&self, buf: &'a [u8]) -> Result<Option<(usize, Item<'a>)>, String> {
        let Some(eol) = find(buf, b"\r\n") else {
            return if buf.len() > MAX_LINE {
                Err("control line too long".into())
            } else {
                Ok(None)
            };
        };
        let line = &buf[..eol];
        let after = eol + 2;
        let item = if line.starts_with(b"MSG ") {
            // MSG <subject> <sid> [reply-to] <#bytes>
            let bad = || format!("bad MSG line {:?}", String::from_utf8_lossy(line));
            let mut fields = [&[][..]; 5];
            let mut n = 0;
            for field in line.split(|&b| b == b' ').filter(|f| !f.is_empty()) {
                *fields.get_mut(n).ok_or_else(bad)? = field;
                n += 1;
            }
            let len = std::str::from_utf8(fields[n.max(1) - 1])
                .ok()
                .and_then(|n| n.parse::<usize>().ok())
                .filter(|_| n >= 4)
                .ok_or_else(bad)?;
            let Some(body) = buf.get(after..after + len + 2) else {
                return Ok(None);
            };
            let text = &body[..len];
            let item = if n == 5 {
                Item::Request {
                    reply: fields[3],
                    text,
                }
            } else {
                Item::Delivery(text)
            };
            return Ok(Some((after + len + 2, item)));
        } else if line == b"PING" {
            Item::Respond(b"PONG\r\n")
        } else if line == b"PONG" {
            Item::Ack
        } else if line.starts_with(b"-ERR") {
            Item::Error(line)
        } else {
            Item::Other
        };
        Ok(Some((after, item)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_server_lines() {
        let buf = b"INFO {\"x\":1}\r\nPING\r\nMSG bench 1 7\r\nt=1 s=2\r\nPONG\r\n-ERR 'x'\r\nMSG bench 1 3";
        let mut at = 0;
        let mut seen = Vec::new();
        while let Ok(Some((used, item))) = Nats.decode(&buf[at..]) {
            at += used;
            seen.push(match item {
                Item::Delivery(text) => format!("delivery {}", String::from_utf8_lossy(text)),
                other => format!("{other:?}"),
            });
        }
        assert_eq!(
            seen,
            [
                "Other",
                "Respond([80, 79, 78, 71, 13, 10])",
                "delivery t=1 s=2",
                "Ack",
                "Error([45, 69, 82, 82, 32, 39, 120, 39])"
            ]
        );
        assert_eq!(&buf[at..], b"MSG bench 1 3");
    }

    #[test]
    fn msg_with_reply_subject_is_a_request() {
        let buf = b"MSG bench.rr 1 _INBOX.bench-7f 7\r\nt=1 s=2\r\nMSG  _INBOX.x  2  3\r\nt=1\r\n";
        let Ok(Some((used, Item::Request { reply, text }))) = Nats.decode(buf) else {
            panic!("not a request");
        };
        assert_eq!((reply, text), (&b"_INBOX.bench-7f"[..], &b"t=1 s=2"[..]));
        assert!(matches!(
            Nats.decode(&buf[used..]),
            Ok(Some((_, Item::Delivery(b"t=1"))))
        ));
        for bad in [
            &b"MSG bench 1\r\n"[..],
            b"MSG a 1 r 3 x\r\n",
            b"MSG a 1 x\r\n",
        ] {
            assert!(
                Nats.decode(bad).is_err(),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn publish_template_round_trips_through_msg() {
        let Ok((frame, text_at)) = Nats.publish_template(128) else {
            panic!("template refused");
        };
        assert!(frame.starts_with(b"PUB bench 128\r\n"));
        let delivered = [b"MSG bench 1 128\r\n", &frame[text_at..]].concat();
        assert!(matches!(
            Nats.decode(&delivered),
            Ok(Some((n, Item::Delivery(text)))) if n == delivered.len() && text.len() == 128
        ));
    }
}
