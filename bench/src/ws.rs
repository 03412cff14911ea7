//! Seed 000's chat protocol over WebSocket, spoken directly: the HTTP
//! upgrade, then masked text frames (`subscribe`, `publish`, `get_history`)
//! and the server's `subscribed`, `message` and `history` frames. The same
//! bytes work against the broker's WebSocket door and the seed's own Python
//! server (whose JSON has a space after each `:` and `,`).
//!
//! Client frames must be masked; the mask key here is zero, which leaves
//! the payload as it is, so a publisher stamps its template in place as
//! for the other targets.

use crate::client::{find, Item, Protocol};
use crate::payload;

/// The benchmark room.
const ROOM: &str = "bench";
/// The room whose (empty) history answers a publisher's sync request.
const SYNC_ROOM: &str = "bench-sync";
/// The upgrade request (the key is RFC 6455's example).
const UPGRADE: &str = "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
/// An empty pong, masked: the answer to the server's pings.
const PONG: &[u8] = &[0x8A, 0x80, 0, 0, 0, 0];
/// Longest HTTP answer head accepted.
const MAX_HEAD: usize = 16 * 1024;

/// The WebSocket chat target.
#[derive(Debug, Clone, Copy)]
pub struct Ws;

/// Appends a masked (zero key) text frame carrying `payload`.
fn text_frame(out: &mut Vec<u8>, payload: &[u8]) {
    out.push(0x81);
    match payload.len() {
        n if n < 126 => out.push(0x80 | n as u8),
        n if n < 65_536 => {
            out.push(0x80 | 126);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            out.push(0x80 | 127);
            out.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    out.extend_from_slice(&[0; 4]);
    out.extend_from_slice(payload);
}

/// The string value after `"key":` in JSON text `text` (spaces allowed
/// around the colon), from its first character.
fn string_after<'a>(text: &'a [u8], key: &str) -> Option<&'a [u8]> {
    let at = find(text, format!("\"{key}\"").as_bytes())? + key.len() + 2;
    let rest = &text[at..];
    let quote = rest.iter().position(|&b| b == b'"')?;
    rest[..quote]
        .iter()
        .all(|&b| b == b':' || b == b' ')
        .then(|| &rest[quote + 1..])
}

impl Protocol for Ws {
    fn subscribe_request(&self) -> Vec<u8> {
        let mut out = UPGRADE.as_bytes().to_vec();
        let join = format!("{{\"type\":\"subscribe\",\"room\":\"{ROOM}\",\"userId\":\"bench\"}}");
        text_frame(&mut out, join.as_bytes());
        out
    }

    fn publisher_hello(&self) -> Vec<u8> {
        UPGRADE.as_bytes().to_vec()
    }

    fn sync_request(&self) -> Vec<u8> {
        let mut out = Vec::new();
        let ask = format!("{{\"type\":\"get_history\",\"room\":\"{SYNC_ROOM}\"}}");
        text_frame(&mut out, ask.as_bytes());
        out
    }

    fn expected_acks(&self, _messages: u64) -> u64 {
        1
    }

    fn publish_template(&self, size: usize) -> Result<(Vec<u8>, usize), String> {
        let head = format!(
            "{{\"type\":\"publish\",\"room\":\"{ROOM}\",\"sender\":\"bench\",\"content\":\""
        );
        let mut payload = head.into_bytes();
        let text_at = payload.len();
        payload.extend_from_slice(&payload::template(size));
        payload.extend_from_slice(b"\"}");
        let mut frame = Vec::new();
        text_frame(&mut frame, &payload);
        let header = frame.len() - payload.len();
        Ok((frame, header + text_at))
    }

    fn decode<'a>(&self, buf: &'a [u8]) -> Result<Option<(usize, Item<'a>)>, String> {
        if buf.starts_with(b"HTTP/") {
            let Some(end) = find(buf, b"\r\n\r\n") else {
                return if buf.len() > MAX_HEAD {
                    Err("HTTP answer too long".into())
                } else {
                    Ok(None)
                };
            };
            if !buf.starts_with(b"HTTP/1.1 101") {
                return Err(format!(
                    "upgrade refused: {}",
                    String::from_utf8_lossy(&buf[..end])
                ));
            }
            return Ok(Some((end + 4, Item::Other)));
        }
        let [first, second, ..] = *buf else {
            return Ok(None);
        };
        let (head, len) = match second & 0x7F {
            126 if buf.len() >= 4 => (4, usize::from(u16::from_be_bytes([buf[2], buf[3]]))),
            127 if buf.len() >= 10 => {
                let mut n = [0; 8];
                n.copy_from_slice(&buf[2..10]);
                (10, u64::from_be_bytes(n) as usize)
            }
            126 | 127 => return Ok(None),
            n => (2, usize::from(n)),
        };
        let Some(payload) = buf.get(head..head + len) else {
            return Ok(None);
        };
        let item = match first & 0x0F {
            0x1 => classify(payload),
            0x8 => return Err("the server closed the WebSocket".into()),
            0x9 => Item::Respond(PONG),
            _ => Item::Other,
        };
        Ok(Some((head + len, item)))
    }
}

/// What a server text frame is to the benchmark.
fn classify(text: &[u8]) -> Item<'_> {
    if text.starts_with(b"{\"error\"") {
        return Item::Error(text);
    }
    let Some(kind) = string_after(text, "type") else {
        return Item::Other;
    };
    if kind.starts_with(b"message\"") {
        match string_after(text, "content") {
            Some(content) => Item::Delivery(content),
            None => Item::Other,
        }
    } else if kind.starts_with(b"subscribed\"") || kind.starts_with(b"history\"") {
        Item::Ack
    } else {
        Item::Other
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_servers_json_is_read() {
        for text in [
            &br#"{"type":"message","id":"x","room":"bench","sender":"b","content":"t=1 s=2","sequence":1,"timestamp":2}"#[..],
            br#"{"type": "message", "id": "x", "room": "bench", "sender": "b", "content": "t=1 s=2", "sequence": 1}"#,
        ] {
            let mut frame = vec![0x81, 126];
            frame.extend_from_slice(&(text.len() as u16).to_be_bytes());
            frame.extend_from_slice(text);
            match Ws.decode(&frame) {
                Ok(Some((used, Item::Delivery(t)))) => {
                    assert_eq!(used, frame.len());
                    assert!(t.starts_with(b"t=1 s=2\""));
                }
                other => panic!("{other:?}"),
            }
        }
        assert!(matches!(
            Ws.decode(b"\x81\x1e{\"type\": \"subscribed\", \"x\": 1}"),
            Ok(Some((32, Item::Ack)))
        ));
    }

    #[test]
    fn the_template_text_is_in_place() {
        let (frame, at) = Ws.publish_template(200).unwrap();
        assert!(frame[at..].starts_with(b"t=000"));
        assert_eq!(frame[1] & 0x80, 0x80, "masked");
    }
}
