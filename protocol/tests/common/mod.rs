//! Shared helpers for the protocol crate's integration tests.
//!
//! - here: comparing values exactly and encoding to, and taking apart, frames;
//! - [`strategies`]: proptest strategies for values and messages;
//! - [`documents`]: shorthands for the spec-rule tests.
#![allow(dead_code)]

pub mod documents;
pub mod strategies;

use protocol::{frame, Attrs, Body, Format, Links, Message, Method, Value};

/// Equality that also tells `0.0` from `-0.0` and `Float` from `Int`.
pub fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Float(x), Value::Float(y)) => x.to_bits() == y.to_bits(),
        (Value::List(x), Value::List(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| same(a, b))
        }
        (Value::Dict(x), Value::Dict(y)) => {
            x.len() == y.len()
                && x.iter()
                    .zip(y)
                    .all(|((ka, a), (kb, b))| ka == kb && same(a, b))
        }
        _ => a == b,
    }
}

/// [`same`] for whole messages.
pub fn same_message(a: &Message, b: &Message) -> bool {
    a.method == b.method
        && a.topic == b.topic
        && a.attrs == b.attrs
        && a.id == b.id
        && a.reply == b.reply
        && same(&a.msg, &b.msg)
}

/// `m` encoded as one frame, header included.
pub fn encode(f: Format, m: &Message) -> Vec<u8> {
    let mut out = Vec::new();
    f.encode(m, &mut out).unwrap();
    out
}

/// A message given by its parts encoded as one frame, header included.
pub fn encode_parts(f: Format, m: Method, topic: &str, body: &Body<'_>, attrs: Attrs) -> Vec<u8> {
    let mut out = Vec::new();
    f.encode_parts(m, topic, body, attrs, &mut out).unwrap();
    out
}

/// The same with `id` and `reply` keys.
pub fn encode_linked(
    f: Format,
    m: Method,
    topic: &str,
    body: &Body<'_>,
    attrs: Attrs,
    links: Links<'_>,
) -> Vec<u8> {
    let mut out = Vec::new();
    f.encode_linked(m, topic, body, attrs, links, &mut out)
        .unwrap();
    out
}

/// The payload of a buffer holding exactly one frame.
pub fn payload(frame_bytes: &[u8]) -> &[u8] {
    let f = frame::decode(frame_bytes).unwrap().expect("a whole frame");
    assert_eq!(f.len, frame_bytes.len(), "exactly one frame");
    f.payload
}
