//! Shorthands for the spec-rule tests (`spec_rules_*.rs`): request documents
//! around a `msg`, decoding just the `msg`, and canonical encodings.

use protocol::{DecodeError, Format, Message, Value, ValueError, HEADER_LEN};

/// A `PUBLISH` to `/a` in XML, with `msg_inner` inside `<message>`.
pub fn xml(msg_inner: &str) -> String {
    format!(r#"<message method="PUBLISH" topic="/a">{msg_inner}</message>"#)
}

/// The `msg` of an XML payload, or why it is refused.
pub fn xml_msg(payload: &str) -> Result<Value, DecodeError> {
    Format::Xml.decode(payload.as_bytes()).map(|m| m.msg)
}

/// The `msg` of a JSON payload, or why it is refused.
pub fn json_msg(payload: &str) -> Result<Value, DecodeError> {
    Format::Json.decode(payload.as_bytes()).map(|m| m.msg)
}

/// A `PUBLISH` to `/a` in JSON with `msg` as the text of its value.
pub fn json_with_msg(msg: &str) -> String {
    format!(r#"{{"method":"PUBLISH","topic":"/a","msg":{msg}}}"#)
}

/// The payload `f` writes for `m`, as text.
pub fn encoded(f: Format, m: &Message) -> String {
    let mut out = Vec::new();
    f.encode(m, &mut out).unwrap();
    String::from_utf8(out[HEADER_LEN..].to_vec()).unwrap()
}

/// `v` published through `f` and decoded back.
pub fn round_trip(f: Format, v: Value) -> Value {
    Format::decode(f, encoded(f, &Message::publish("/a", v)).as_bytes())
        .unwrap()
        .msg
}

/// The refusal of character `c`, which XML cannot carry.
pub fn forbidden(c: u32) -> DecodeError {
    DecodeError::Value(ValueError::ForbiddenChar(c))
}
