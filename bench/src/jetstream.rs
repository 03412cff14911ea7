//! NATS JetStream publishes, acknowledged: the comparison for the lab
//! broker's durable store. A file-storage stream on the benchmark subject is
//! made afresh before the run; each `PUB` carries a reply subject, and the
//! server answers every stored message there (`{"stream":..,"seq":..}`).
//! Core NATS subscribers on the subject get the messages as usual.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use crate::client::{find, Item, Protocol};
use crate::nats::{Nats, CONNECT};
use crate::payload;

/// The subject acknowledgements come to.
const ACKS: &str = "_INBOX.bench-acks";
/// The stream's name.
const STREAM: &str = "BENCH";

/// The JetStream target.
#[derive(Debug, Clone, Copy)]
pub struct JetStream;

impl Protocol for JetStream {
    fn subscribe_request(&self) -> Vec<u8> {
        Nats.subscribe_request()
    }

    fn publisher_hello(&self) -> Vec<u8> {
        format!("{CONNECT}SUB {ACKS} 99\r\n").into_bytes()
    }

    fn sync_request(&self) -> Vec<u8> {
        Vec::new()
    }

    fn expected_acks(&self, messages: u64) -> u64 {
        messages
    }

    fn publish_template(&self, size: usize) -> Result<(Vec<u8>, usize), String> {
        let text = payload::template(size);
        let mut frame = format!("PUB bench {ACKS} {}\r\n", text.len()).into_bytes();
        let text_at = frame.len();
        frame.extend_from_slice(&text);
        frame.extend_from_slice(b"\r\n");
        Ok((frame, text_at))
    }

    fn decode<'a>(&self, buf: &'a [u8]) -> Result<Option<(usize, Item<'a>)>, String> {
        let decoded = Nats.decode(buf)?;
        Ok(decoded.map(|(used, item)| match item {
            Item::Delivery(text) if buf.starts_with(format!("MSG {ACKS} ").as_bytes()) => {
                if find(text, b"\"error\"").is_some() {
                    (used, Item::Error(text))
                } else {
                    (used, Item::Ack)
                }
            }
            // A delivery to a subscriber carries the publish's reply
            // subject: it is a message all the same.
            Item::Request { text, .. } => (used, Item::Delivery(text)),
            other => (used, other),
        }))
    }
}

/// Deletes the benchmark stream if it exists and makes it again, empty,
/// with file storage on the benchmark subject.
///
/// # Errors
/// When the server does not answer, or refuses (JetStream off).
pub fn create_stream(addr: SocketAddr) -> Result<(), String> {
    let config = format!(r#"{{"name":"{STREAM}","subjects":["bench"],"storage":"file"}}"#);
    let delete = request(addr, &format!("$JS.API.STREAM.DELETE.{STREAM}"), "")?;
    log_answer("delete", &delete);
    let created = request(addr, &format!("$JS.API.STREAM.CREATE.{STREAM}"), &config)?;
    if find(created.as_bytes(), b"\"error\"").is_some() {
        return Err(format!("JetStream refused the stream: {created}"));
    }
    Ok(())
}

fn log_answer(what: &str, answer: &str) {
    if find(answer.as_bytes(), b"\"error\"").is_some() && !answer.contains("not found") {
        eprintln!("jetstream {what}: {answer}");
    }
}

/// One JetStream API request on a connection of its own: the answer's
/// payload.
fn request(addr: SocketAddr, subject: &str, body: &str) -> Result<String, String> {
    let mut s = TcpStream::connect(addr).map_err(|e| format!("connect {addr}: {e}"))?;
    s.set_read_timeout(Some(Duration::from_millis(200)))
        .map_err(|e| e.to_string())?;
    let inbox = "_INBOX.bench-api";
    let msg = format!(
        "{CONNECT}SUB {inbox} 1\r\nPUB {subject} {inbox} {}\r\n{body}\r\n",
        body.len()
    );
    s.write_all(msg.as_bytes()).map_err(|e| e.to_string())?;
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    while Instant::now() < deadline {
        let mut at = 0;
        while let Ok(Some((used, item))) = Nats.decode(&buf[at..]) {
            if let Item::Delivery(text) = item {
                return Ok(String::from_utf8_lossy(text).into_owned());
            }
            at += used;
        }
        match s.read(&mut chunk) {
            Ok(0) => return Err("the server closed the connection".into()),
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(_) => {}
        }
    }
    Err(format!(
        "no answer to {subject}: is JetStream on (nats-server -js)?"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn acks_errors_and_deliveries_are_told_apart() {
        let ack = b"MSG _INBOX.bench-acks 99 26\r\n{\"stream\":\"BENCH\",\"seq\":7}\r\n";
        assert!(matches!(JetStream.decode(ack), Ok(Some((n, Item::Ack))) if n == ack.len()));
        let refused = b"MSG _INBOX.bench-acks 99 22\r\n{\"error\":{\"code\":503}}\r\n";
        assert!(matches!(
            JetStream.decode(refused),
            Ok(Some((_, Item::Error(_))))
        ));
        let delivery = b"MSG bench 1 _INBOX.bench-acks 5\r\nt=1 s\r\n";
        assert!(matches!(
            JetStream.decode(delivery),
            Ok(Some((_, Item::Delivery(b"t=1 s"))))
        ));
        let (frame, at) = JetStream.publish_template(64).expect("template");
        assert!(frame.starts_with(b"PUB bench _INBOX.bench-acks 64\r\n") && at > 0);
    }
}
