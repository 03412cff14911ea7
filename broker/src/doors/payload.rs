//! Message bytes (NATS payloads, Redis bulk strings) and the core's values
//! (front-doors spec, "Values"; `docs/nats.md`, `docs/redis.md`), shared by
//! every door whose protocol carries bytes.
//!
//! Bytes that are UTF-8 text XML can carry become a string value; any other
//! bytes become `{"$bytes": "<base64>"}`, so that every publish has a value
//! for lab, history and filters, and a NATS or Redis subscriber gets back
//! exactly the bytes another client of its kind sent. A value to bytes: a
//! string is its UTF-8 bytes, `{"$bytes": ...}` its decoded bytes, anything
//! else its JSON text.

use std::borrow::Cow;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use protocol::format::json;
use protocol::{Body, Value};

/// The key of the object that carries bytes that are not text.
pub const BYTES_KEY: &str = "$bytes";

/// The value of the payload `bytes`: a string borrowing them when they are
/// text, so that a subscriber of the same kind gets them back with no copy
/// and no quoting.
#[must_use]
pub fn to_body(bytes: &[u8]) -> Body<'_> {
    Body::text(bytes).unwrap_or_else(|| bytes_object(bytes))
}

/// [`to_body`] for bytes the caller owns (a Redis inline command's
/// argument).
#[must_use]
pub fn to_owned_body(bytes: Vec<u8>) -> Body<'static> {
    match Body::text(&bytes) {
        Some(Body::Str { text, plain }) => Body::Str {
            text: Cow::Owned(text.into_owned()),
            plain,
        },
        _ => bytes_object(&bytes),
    }
}

/// `{"$bytes": "<base64>"}` for bytes that are no text.
fn bytes_object(bytes: &[u8]) -> Body<'static> {
    let mut text = String::with_capacity(bytes.len() * 4 / 3 + 16);
    text.push_str("{\"");
    text.push_str(BYTES_KEY);
    text.push_str("\":\"");
    STANDARD.encode_string(bytes, &mut text);
    text.push_str("\"}");
    Body::Json {
        text: Cow::Owned(text),
        xml_len: None,
    }
}

/// The payload a NATS client gets for `body`.
#[must_use]
pub fn to_bytes<'b>(body: &'b Body<'_>) -> Cow<'b, [u8]> {
    match body {
        Body::Str { text, .. } => Cow::Borrowed(text.as_bytes()),
        Body::Json { text, .. } => {
            // A string without escapes is its own bytes between the quotes.
            if let Some(inner) = json::unescaped_string(text) {
                return Cow::Borrowed(inner.as_bytes());
            }
            match json::parse_value(text) {
                Ok(v) => Cow::Owned(value_bytes(&v).unwrap_or_else(|| text.as_bytes().to_vec())),
                Err(_) => Cow::Borrowed(text.as_bytes()),
            }
        }
        Body::Value(v) => Cow::Owned(value_bytes(v).unwrap_or_else(|| v.to_string().into_bytes())),
    }
}

/// The bytes of a string or of a `$bytes` object; `None` for any other
/// value (whose bytes are its JSON text).
fn value_bytes(v: &Value) -> Option<Vec<u8>> {
    match v {
        Value::Str(s) => Some(s.clone().into_bytes()),
        Value::Dict(entries) => match &entries[..] {
            [(key, Value::Str(b64))] if key == BYTES_KEY => STANDARD.decode(b64).ok(),
            _ => None,
        },
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_come_back_exactly() {
        let cases: [&[u8]; 6] = [
            b"",
            b"hello",
            "caf\u{e9} \"quoted\" \\ back".as_bytes(),
            b"\x00\x01binary\xff",
            b"{\"a\": 1}",
            b"line\nbreak",
        ];
        for bytes in cases {
            let body = to_body(bytes);
            assert_eq!(&*to_bytes(&body), bytes, "{body:?}");
            assert_eq!(to_owned_body(bytes.to_vec()), body, "{bytes:?}");
        }
    }

    #[test]
    fn text_is_a_string_and_other_bytes_an_object() {
        let text = |b: &Body<'_>| match b {
            Body::Json { text, .. } => text.to_string(),
            Body::Value(v) => v.to_string(),
            Body::Str { text, .. } => json::quote(text),
        };
        let hi = Body::Str {
            text: Cow::Borrowed("hi"),
            plain: true,
        };
        assert_eq!(to_body(b"hi"), hi);
        assert_eq!(text(&to_body(b"hi")), "\"hi\"");
        assert_eq!(text(&to_body(b"\xff")), "{\"$bytes\":\"/w==\"}");
        let lab = Body::Value(Cow::Owned(Value::Int(42)));
        assert_eq!(&*to_bytes(&lab), b"42", "a lab value's JSON text");
    }
}
