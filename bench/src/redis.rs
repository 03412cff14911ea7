//! Redis pub/sub over RESP2: `SUBSCRIBE`, pipelined `PUBLISH`, and the
//! `["message", channel, payload]` pushes.

use crate::client::{find, Item, Protocol};
use crate::payload;

/// The benchmark channel.
const CHANNEL: &str = "bench";
/// Longest simple line accepted.
const MAX_LINE: usize = 64 * 1024;

/// The Redis target.
#[derive(Debug, Clone, Copy)]
pub struct Redis;

/// Encodes a command as a RESP array of bulk strings.
fn command(args: &[&[u8]]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for arg in args {
        out.extend_from_slice(format!("${}\r\n", arg.len()).as_bytes());
        out.extend_from_slice(arg);
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// Reads the line starting at `at`: `Ok(None)` if incomplete, else the line
/// (without CRLF) and the offset after it.
fn line(buf: &[u8], at: usize) -> Result<Option<(&[u8], usize)>, String> {
    match find(&buf[at..], b"\r\n") {
        Some(n) => Ok(Some((&buf[at..at + n], at + n + 2))),
        None if buf.len() - at > MAX_LINE => Err("RESP line too long".into()),
        None => Ok(None),
    }
}

/// Parses the decimal integer of a RESP header line such as `$12` or `*3`.
fn header_number(line: &[u8]) -> Result<i64, String> {
    std::str::from_utf8(&line[1..])
        .ok()
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| format!("bad RESP header {:?}", String::from_utf8_lossy(line)))
}

/// Reads one scalar RESP value (bulk string, integer or simple string) at
/// `at`: its bytes and the offset after it.
fn scalar(buf: &[u8], at: usize) -> Result<Option<(&[u8], usize)>, String> {
    let Some((head, after)) = line(buf, at)? else {
        return Ok(None);
    };
    match head.first() {
        Some(b'$') => {
            let Ok(len) = usize::try_from(header_number(head)?) else {
                return Ok(Some((&[], after))); // null bulk string
            };
            Ok(buf
                .get(after..after + len + 2)
                .map(|body| (&body[..len], after + len + 2)))
        }
        Some(b':' | b'+') => Ok(Some((&head[1..], after))),
        _ => Err(format!(
            "unexpected RESP value {:?}",
            String::from_utf8_lossy(head)
        )),
    }
}

impl Protocol for Redis {
    fn subscribe_request(&self) -> Vec<u8> {
        command(&[b"SUBSCRIBE", CHANNEL.as_bytes()])
    }

    fn publisher_hello(&self) -> Vec<u8> {
        Vec::new()
    }

    fn sync_request(&self) -> Vec<u8> {
        Vec::new()
    }

    /// Every `PUBLISH` is answered by an integer, and the last one proves
    /// the rest were read.
    fn expected_acks(&self, messages: u64) -> u64 {
        messages
    }

    fn publish_template(&self, size: usize) -> Result<(Vec<u8>, usize), String> {
        let text = payload::template(size);
        let mut frame = format!(
            "*3\r\n$7\r\nPUBLISH\r\n${}\r\n{CHANNEL}\r\n${}\r\n",
            CHANNEL.len(),
            text.len()
        )
        .into_bytes();
        let text_at = frame.len();
        frame.extend_from_slice(&text);
        frame.extend_from_slice(b"\r\n");
        Ok((frame, text_at))
    }

    fn decode<'a>(&self, buf: &'a [u8]) -> Result<Option<(usize, Item<'a>)>, String> {
        let Some((head, after)) = line(buf, 0)? else {
            return Ok(None);
        };
        let item = match head.first() {
            Some(b':') => Item::Ack,
            Some(b'-') => Item::Error(head),
            Some(b'+') => Item::Other,
            Some(b'$') => {
                return Ok(scalar(buf, 0)?.map(|(_, end)| (end, Item::Other)));
            }
            Some(b'*') => {
                let mut at = after;
                let mut first = [&[][..]; 3];
                for i in 0..header_number(head)?.max(0) as usize {
                    let Some((value, next)) = scalar(buf, at)? else {
                        return Ok(None);
                    };
                    if let Some(slot) = first.get_mut(i) {
                        *slot = value;
                    }
                    at = next;
                }
                let item = match first[0] {
                    b"message" => Item::Delivery(first[2]),
                    b"subscribe" => Item::Ack,
                    _ => Item::Other,
                };
                return Ok(Some((at, item)));
            }
            _ => {
                return Err(format!(
                    "unexpected RESP value {:?}",
                    String::from_utf8_lossy(head)
                ))
            }
        };
        Ok(Some((after, item)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Decodes all complete items of `buf`; returns them and what is left.
    fn decode_all(buf: &[u8]) -> (Vec<String>, &[u8]) {
        let mut at = 0;
        let mut seen = Vec::new();
        while let Ok(Some((used, item))) = Redis.decode(&buf[at..]) {
            at += used;
            seen.push(match item {
                Item::Delivery(text) => format!("delivery {}", String::from_utf8_lossy(text)),
                other => format!("{other:?}"),
            });
        }
        (seen, &buf[at..])
    }

    #[test]
    fn decodes_pushes_and_replies() {
        let buf = b"*3\r\n$9\r\nsubscribe\r\n$5\r\nbench\r\n:1\r\n\
                    *3\r\n$7\r\nmessage\r\n$5\r\nbench\r\n$7\r\nt=1 s=2\r\n\
                    :3\r\n+OK\r\n-ERR no\r\n*3\r\n$7\r\nmessage\r\n$5\r\nbench\r\n$7\r\nt=1";
        let (seen, rest) = decode_all(buf);
        assert_eq!(
            seen,
            [
                "Ack",
                "delivery t=1 s=2",
                "Ack",
                "Other",
                "Error([45, 69, 82, 82, 32, 110, 111])"
            ]
        );
        assert!(rest.starts_with(b"*3\r\n$7\r\nmessage"));
    }

    #[test]
    fn publish_template_is_a_resp_command() {
        let Ok((frame, text_at)) = Redis.publish_template(40) else {
            panic!("template refused");
        };
        let expected = command(&[b"PUBLISH", b"bench", &frame[text_at..text_at + 40]]);
        assert_eq!(frame, expected);
        assert_eq!(frame[text_at..text_at + 40], payload::template(40));
    }
}
