//! The WebSocket opening handshake (RFC 6455 §4.2) on the bytes read so
//! far: `tungstenite` parses the HTTP request and checks it
//! (`GET`, HTTP/1.1, `Connection: Upgrade`, `Upgrade: websocket`, version 13,
//! a valid key) and builds the `101 Switching Protocols` answer; anything
//! else gets `400 Bad Request` saying why, and the connection closes.

use std::io::Write;

use tungstenite::handshake::machine::TryParse;
use tungstenite::handshake::server::{create_response, write_response, Request};

/// Longest request head accepted: a browser's is well under 8 KiB.
pub const MAX_REQUEST: usize = 16 * 1024;

/// Why a handshake was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("bad WebSocket handshake: {0}")]
pub struct BadHandshake(pub String);

/// Answers the request at the front of `input` into `out`: `Ok(None)` while
/// it is incomplete, `Ok(Some(used))` once the upgrade is accepted.
///
/// # Errors
/// [`BadHandshake`] when the request is not a WebSocket upgrade; the `400`
/// answer is in `out`.
pub fn answer(input: &[u8], out: &mut Vec<u8>) -> Result<Option<usize>, BadHandshake> {
    let refuse = |why: String, out: &mut Vec<u8>| {
        bad_request(out, &why);
        Err(BadHandshake(why))
    };
    let (used, request) = match Request::try_parse(input) {
        Ok(Some(found)) => found,
        Ok(None) if input.len() > MAX_REQUEST => {
            return refuse(format!("request head over {MAX_REQUEST} bytes"), out)
        }
        Ok(None) => return Ok(None),
        Err(e) => return refuse(e.to_string(), out),
    };
    match create_response(&request) {
        Ok(response) => {
            // Writing into a Vec cannot fail.
            let _ = write_response(&mut *out, &response);
            Ok(Some(used))
        }
        Err(e) => refuse(e.to_string(), out),
    }
}

/// Appends a `400 Bad Request` whose body says `why`.
pub fn bad_request(out: &mut Vec<u8>, why: &str) {
    http_error(out, "400 Bad Request", why);
}

/// Appends an HTTP error answer with `status` and the text `why`, closing
/// the connection.
pub fn http_error(out: &mut Vec<u8>, status: &str, why: &str) {
    let body = format!("{why}\n");
    let _ = write!(
        out,
        "HTTP/1.1 {status}\r\nConnection: close\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "GET /chat HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";

    #[test]
    fn the_rfc_example_is_accepted() {
        let mut out = Vec::new();
        for cut in 0..GOOD.len() {
            assert_eq!(answer(&GOOD.as_bytes()[..cut], &mut out), Ok(None));
        }
        assert_eq!(answer(GOOD.as_bytes(), &mut out), Ok(Some(GOOD.len())));
        let text = String::from_utf8(out).unwrap();
        assert!(text.starts_with("HTTP/1.1 101"), "{text}");
        assert!(text.contains("s3pPLMBiTxaQ9kYGzzhZRbK+xOo="), "{text}");
    }

    #[test]
    fn a_plain_http_request_gets_400() {
        let mut out = Vec::new();
        let req = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n";
        assert!(answer(req, &mut out).is_err());
        assert!(out.starts_with(b"HTTP/1.1 400 Bad Request\r\n"));
        let mut out = Vec::new();
        assert!(answer(b"\x16\x03\x01 not http\r\n\r\n", &mut out).is_err());
        assert!(out.starts_with(b"HTTP/1.1 400"));
    }
}
