//! JSON (spec §3): a strict RFC 8259 parser that streams values as events, and
//! writers for messages and values.
//!
//! The parser is hand-written rather than serde_json because the spec needs
//! things serde_json does not expose: an integer beyond 64 bits must be refused
//! (serde_json silently turns it into a float), characters XML cannot carry must
//! be refused, and a forwarded `msg` must stay borrowed JSON text.
//!
//! This module holds the entry points; the parser is in `parse` (with `skip`
//! for the values of ignored keys, `field` for keys read as packed words),
//! the writers in `write`.

mod field;
mod parse;
mod skip;
mod write;

use std::borrow::Cow;

use crate::error::DecodeError;
use crate::message::{Attrs, Body, Envelope, Keys, Method};
use crate::value::{Builder, Counter, Discard, Value, Visitor};

use self::parse::Parser;
use super::xml::XmlWriter;

pub(crate) use self::write::{put_attrs, put_str, JsonWriter};

/// The envelope's keys, as [`field::word`]s.
const METHOD: u64 = field::word(b"method");
const TOPIC: u64 = field::word(b"topic");
const MSG: u64 = field::word(b"msg");
const ACK: u64 = field::word(b"ack");
const MORE: u64 = field::word(b"more");
const SEQ: u64 = field::word(b"seq");
const TS: u64 = field::word(b"ts");
const ID: u64 = field::word(b"id");
const REPLY: u64 = field::word(b"reply");

/// The member that asks for a `PUBACK`, with the comma before it.
const ACK_TRUE: &[u8; 11] = b",\"ack\":true";

/// Payloads up to this size are not measured as XML while decoding: 16 times
/// this plus any envelope stays under the frame limit.
const MEASURE_XML_ABOVE: usize = 4096;

/// Decodes one JSON frame payload, the first `len` bytes of `input`, into
/// a borrowed [`Envelope`] (the bytes after them are only looked at, see
/// [`crate::scan::utf8_prefix`]).
///
/// The `msg` value is validated completely (syntax, integer range, finite
/// floats, depth, characters XML can carry) but kept as text, with the length of
/// its XML form measured on the way.
///
/// # Errors
/// A [`DecodeError`] saying what is wrong.
pub fn decode_envelope(input: &[u8], len: usize) -> Result<Envelope<'_>, DecodeError> {
    let src = crate::scan::utf8_prefix(input, len).ok_or(DecodeError::NotUtf8)?;
    let mut p = Parser::new(src);
    p.ws();
    if p.peek() != Some(b'{') {
        return Err(DecodeError::NotAnObject);
    }
    p.pos += 1;
    let mut method = None;
    let mut topic = None;
    let mut msg = None;
    let mut attrs = Attrs::NONE;
    let mut keys: Option<Box<Keys<'_>>> = None;
    p.fields(|p, key| {
        match key {
            METHOD => {
                if p.peek() != Some(b'"') {
                    return Err(DecodeError::FieldType("method"));
                }
                p.pos += 1;
                method = Some(p.string()?);
            }
            TOPIC => match p.peek() {
                // Any character, escaped: the topic rules refuse it later, in
                // an `ERROR` that can echo it.
                Some(b'"') => {
                    p.pos += 1;
                    topic = Some(p.any_string()?);
                }
                Some(b'n') => {
                    p.literal(b"null")?;
                    topic = None;
                }
                _ => return Err(DecodeError::FieldType("topic")),
            },
            MSG => {
                let start = p.pos;
                // A short payload's value fits a frame in XML whatever it
                // holds (Body::xml_len_bound), so only long ones are measured.
                let xml_len = if src.len() > MEASURE_XML_ABOVE {
                    let mut xml = Counter::default();
                    p.value(&mut XmlWriter::new(&mut xml), 0)?;
                    Some(xml.0)
                } else {
                    p.value(&mut Discard, 0)?;
                    None
                };
                msg = Some(Body::Json {
                    text: Cow::Borrowed(&src[start..p.pos]),
                    xml_len,
                });
            }
            // v2 §15: the broker refuses a request whose `ack`, `id` or
            // `reply` has the wrong type, so these are errors rather than
            // ignored.
            ACK => match p.peek() {
                Some(b't') => {
                    p.literal(b"true")?;
                    attrs.ack = true;
                }
                Some(b'f') => {
                    p.literal(b"false")?;
                    attrs.ack = false;
                }
                _ => return Err(DecodeError::FieldType("ack")),
            },
            MORE => match p.peek() {
                Some(b't') => {
                    p.literal(b"true")?;
                    attrs.more = true;
                }
                Some(b'f') => {
                    p.literal(b"false")?;
                    attrs.more = false;
                }
                _ => p.skip_value()?,
            },
            // Only the broker numbers messages: a key of another type is not
            // one of these, and is ignored as unknown keys are.
            SEQ => attrs.seq = p.uint_or_skip()?,
            TS => attrs.ts = p.uint_or_skip()?,
            ID | REPLY => {
                if p.peek() != Some(b'"') {
                    return Err(DecodeError::FieldType(if key == ID {
                        "id"
                    } else {
                        "reply"
                    }));
                }
                p.pos += 1;
                let text = Some(p.any_string()?);
                let k = keys.get_or_insert_with(Box::default);
                if key == ID {
                    k.id = text;
                } else {
                    k.reply = text;
                }
            }
            _ => p.skip_value()?,
        }
        // `"ack": true` may come with every publish. Written this way after
        // another member, it is taken here in one compare, not by a turn of
        // the member loop (a tenth of a publish's decoding); what follows it
        // is checked by the loop as after any member.
        if p.skip_exact(ACK_TRUE) {
            attrs.ack = true;
        }
        Ok(())
    })?;
    p.end()?;
    let name = method.ok_or(DecodeError::MissingMethod)?;
    let method =
        Method::from_name(&name).ok_or_else(|| DecodeError::UnknownMethod(name.into_owned()))?;
    Ok(Envelope {
        method,
        topic,
        msg: msg.unwrap_or(Body::NULL),
        attrs,
        keys,
    })
}

/// `s` as a JSON string literal, quotes included, escaped as this crate's
/// writer escapes (so the decoder reads back exactly `s`).
#[must_use]
pub fn quote(s: &str) -> String {
    let mut out = Vec::with_capacity(s.len() + 2);
    write::put_str(&mut out, s);
    // put_str writes `s` unchanged but for ASCII escapes.
    String::from_utf8(out).unwrap_or_default()
}

/// `bytes` as the characters of a string value, when they are one: UTF-8
/// that XML can carry (as [`crate::value::check_text`] says), and whether
/// none of them needs a JSON escape (`false`: some may). The usual printable
/// ASCII takes one vector scan and one validation: a door that turns raw
/// payloads into string values (NATS, Redis) calls this per publish.
#[must_use]
pub fn text_value(bytes: &[u8]) -> Option<(&str, bool)> {
    let special = |b: u8| !(0x20..0x80).contains(&b) | (b == b'"') | (b == b'\\');
    let plain = crate::scan::find(bytes, 0, special) == bytes.len();
    let s = simdutf8::basic::from_utf8(bytes).ok()?;
    if !plain {
        crate::value::check_text(s).ok()?;
    }
    Some((s, plain))
}

/// Bytes of `s` as a JSON string literal ([`quote`]), without writing it.
#[must_use]
pub(crate) fn quoted_len(s: &str) -> usize {
    let mut c = Counter::default();
    write::put_str(&mut c, s);
    c.0
}

/// The string a validated JSON string literal `text` holds, when it holds
/// no escape: the bytes between its quotes. `None` for other values and for
/// strings with escapes.
#[must_use]
pub fn unescaped_string(text: &str) -> Option<&str> {
    let inner = text.strip_prefix('"')?.strip_suffix('"')?;
    let end = crate::scan::find(inner.as_bytes(), 0, |b| b == b'\\');
    (end == inner.len()).then_some(inner)
}

/// Parses a JSON text holding one value.
///
/// # Errors
/// A [`DecodeError`] when the text is not one valid value.
pub fn parse_value(text: &str) -> Result<Value, DecodeError> {
    let mut p = Parser::new(text);
    let mut b = Builder::default();
    p.value(&mut b, 0)?;
    p.end()?;
    Ok(b.finish())
}

/// Re-encodes validated JSON value text through any visitor (XML writer, counter).
pub(crate) fn stream_value<V: Visitor>(text: &str, v: &mut V) -> Result<(), DecodeError> {
    let mut p = Parser::new(text);
    p.value(v, 0)?;
    p.end()
}

/// Best-effort read of the `topic` of a payload that failed to decode, for the
/// `ERROR` reply (spec §5: "the topic string of the request as received").
///
/// JSON can echo any topic, so it is returned whatever it holds.
#[must_use]
pub fn recover_topic(payload: &[u8]) -> Option<String> {
    // Syntax only: a frame refused for its value (`1e999`, a lone surrogate)
    // is still well-formed JSON whose topic can be echoed.
    let src = std::str::from_utf8(payload).ok()?;
    let mut p = Parser::new(src);
    p.ws();
    p.expect(b'{', "expected an object").ok()?;
    let mut topic = None;
    p.members(|p, key| {
        if key == "topic" && p.peek() == Some(b'"') {
            p.pos += 1;
            topic = Some(p.any_string()?.into_owned());
            Ok(())
        } else {
            p.skip_value()
        }
    })
    .ok()?;
    p.end().ok()?;
    topic
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_read_by_the_short_path_or_the_general_one_mean_the_same() {
        let long_key = format!("\"{}\":1,", "k".repeat(40));
        let ok = [
            r#"{"method":"PUBLISH","topic":"/a","msg":1}"#.to_owned(),
            r#"{"\u006dethod":"PUBLISH","t\u006fpic":"/a","msg":1}"#.to_owned(),
            format!(r#"{{{long_key}"é":2,"method":"PUBLISH","topic":"/a","msg":1}}"#),
            r#"{"method":"PUBLISH","topic":"/a","msg":{"":0,"ack":true,"k\"q":1}}"#.to_owned(),
        ];
        for text in &ok {
            let e = decode_envelope(text.as_bytes(), text.len()).expect(text);
            assert_eq!(e.method, crate::Method::Publish, "{text}");
            assert_eq!(e.topic.as_deref(), Some("/a"), "{text}");
        }
        let nested = r#"{"method":"PUBLISH","topic":"/a","msg":{"k\"q":1,"é":2}}"#;
        let e = decode_envelope(nested.as_bytes(), nested.len()).unwrap();
        assert_eq!(e.to_message().msg.to_string(), r#"{"k\"q":1,"é":2}"#);
        for bad in [
            "{\"method\":\"PUBLISH\",\"topic\":\"/a\",\"msg\":{\"a\u{1}\":1}}",
            "{\"method\":\"PUBLISH\",\"topic\":\"/a\",\"msg\":{\"\u{fffe}\":1}}",
            r#"{"method"#,
        ] {
            assert!(
                decode_envelope(bad.as_bytes(), bad.len()).is_err(),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn ack_is_read_alike_wherever_and_however_it_is_written() {
        let ack = |text: &str| decode_envelope(text.as_bytes(), text.len()).map(|e| e.attrs.ack);
        for (text, want) in [
            (
                r#"{"ack":true,"method":"PUBLISH","topic":"/a","msg":1}"#,
                true,
            ),
            (
                r#"{"method":"PUBLISH","topic":"/a","ack":true,"msg":1}"#,
                true,
            ),
            (
                r#"{"method":"PUBLISH","topic":"/a","msg":1,"ack":true}"#,
                true,
            ),
            (
                r#"{"method":"PUBLISH","topic":"/a","msg":1 , "ack" : true }"#,
                true,
            ),
            (
                r#"{"method":"PUBLISH","topic":"/a","msg":1,"ack":false}"#,
                false,
            ),
            (
                r#"{"method":"PUBLISH","topic":"/a","ack":false,"msg":1,"ack":true}"#,
                true,
            ),
            (
                r#"{"method":"PUBLISH","topic":"/a","ack":true,"msg":1,"ack":false}"#,
                false,
            ),
            (
                r#"{"method":"PUBLISH","topic":"/a","msg":",\"ack\":true"}"#,
                false,
            ),
            (
                r#"{"method":"PUBLISH","topic":"/a","msg":{"x":1,"ack":true}}"#,
                false,
            ),
        ] {
            assert_eq!(ack(text).ok(), Some(want), "{text}");
        }
        for bad in [
            r#"{"method":"PUBLISH","topic":"/a","ack":truex,"msg":1}"#,
            r#"{"method":"PUBLISH","topic":"/a","msg":1,"ack":true"#,
            r#"{"method":"PUBLISH","topic":"/a","msg":1,"ack":true,}"#,
            r#"{"method":"PUBLISH","topic":"/a","msg":1,"ack":1}"#,
        ] {
            assert!(ack(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn text_values_are_validated_then_quoted_as_quote_does() {
        let long = "a".repeat(70);
        let cases: [&[u8]; 12] = [
            b"",
            b"plain ascii",
            long.as_bytes(),
            b"tab\tnew\nline\r",
            b"\"quoted\" \\ back",
            b"del \x7f",
            "caf\u{e9} \u{fffd}".as_bytes(),
            b"\xef\xbf\xbe not XML",
            b"\x01 control",
            b"\xff not UTF-8",
            b"\xc3",
            b"{\"a\": 1}",
        ];
        for bytes in cases {
            let slow = std::str::from_utf8(bytes)
                .ok()
                .filter(|s| crate::value::check_text(s).is_ok());
            assert_eq!(text_value(bytes).map(|(s, _)| s), slow, "{bytes:?}");
            if let Some(s) = slow {
                let text = quote(s);
                let plain = text_value(bytes).is_some_and(|(_, plain)| plain);
                assert!(!plain || text == format!("\"{s}\""), "{text}");
                assert_eq!(quoted_len(s), text.len(), "{text}");
                let unescaped = !text[1..text.len() - 1].contains('\\');
                assert_eq!(unescaped_string(&text).is_some(), unescaped, "{text}");
            }
        }
        assert_eq!(unescaped_string("12"), None, "not a string");
    }
}
