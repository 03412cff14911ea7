//! The fast path for the documents this crate writes for scalar values,
//! read without a general XML parser.

use std::borrow::Cow;

use super::read::finish_scalar;
use super::write::text_special;
use crate::format::json::JsonWriter;
use crate::message::{Attrs, Body, Envelope, Method};
use crate::scan;
use crate::value::{check_text, Scalar, Visitor};

/// The document this crate writes for a scalar value, and nothing else:
/// `<message method="M" topic="T"><msg type="TY">TEXT</msg></message>`, with
/// `seq` and `ts` attributes after the topic when it has them (or
/// `<msg type="null"/>`) with nothing to unescape, read without a general XML
/// parser. Answers `None` for any other input, wrong input included, which
/// [`decode_general`](super::read::decode_general) then reads; where this
/// answers, both give the same result.
pub(super) fn decode_canonical(src: &str) -> Option<Envelope<'static>> {
    let rest = src.strip_prefix("<message method=\"")?;
    let (method, rest) = rest.split_once('"')?;
    let method = Method::from_name(method)?;
    let (topic, rest) = rest.strip_prefix(" topic=\"")?.split_once('"')?;
    if topic.bytes().any(|b| b == b'&' || b == b'<' || b < 0x20) {
        return None;
    }
    check_text(topic).ok()?;
    // A request has no attribute after the topic; only deliveries do.
    let (seq, ts, rest) = if rest.starts_with('>') {
        (None, None, rest)
    } else {
        let (seq, rest) = number_attr(rest, " seq=\"")?;
        let (ts, rest) = number_attr(rest, " ts=\"")?;
        (seq, ts, rest)
    };
    let (ty, rest) = rest.strip_prefix("><msg type=\"")?.split_once('"')?;
    let mut json = Vec::new();
    let mut xml_len = None;
    if ty == "null" {
        if rest != "/></message>" {
            return None;
        }
        json.extend_from_slice(b"null");
    } else {
        let ty = match ty {
            "str" => "str",
            "int" => "int",
            "float" => "float",
            "bool" => "bool",
            _ => return None,
        };
        let text = rest.strip_prefix('>')?.strip_suffix("</msg></message>")?;
        // One pass: nothing to unescape, and no byte that could start a
        // character XML forbids (control characters, 0xEF for U+FFFE/U+FFFF);
        // anything else is left to the general reader.
        let bytes = text.as_bytes();
        let unusual = |b: u8| text_special(b) | (b < 0x20) | (b == 0xEF);
        if scan::find(bytes, 0, unusual) != bytes.len() {
            return None;
        }
        json.reserve(text.len() + 2);
        if ty == "str" {
            // Written back as it came: the XML element is measured already.
            xml_len = Some(r#"<msg type="str"></msg>"#.len() + text.len());
            JsonWriter::new(&mut json).scalar(Scalar::Str(text)).ok()?;
        } else {
            finish_scalar(ty, text, &mut JsonWriter::new(&mut json)).ok()?;
        }
    }
    Some(Envelope {
        method,
        topic: Some(Cow::Owned(topic.to_owned())),
        msg: Body::Json {
            text: Cow::Owned(String::from_utf8(json).ok()?),
            xml_len,
        },
        attrs: Attrs {
            seq,
            ts,
            ..Attrs::NONE
        },
        keys: None,
    })
}

/// The number of the attribute that `rest` starts with when it is `name`
/// (`None` when it is another), and what follows it; `None` overall for a
/// value that is not a plain decimal number.
fn number_attr<'s>(rest: &'s str, name: &str) -> Option<(Option<u64>, &'s str)> {
    let Some(value) = rest.strip_prefix(name) else {
        return Some((None, rest));
    };
    let (digits, rest) = value.split_once('"')?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((Some(digits.parse().ok()?), rest))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::xml::read::decode_general;
    use crate::{Format, Message, Value};
    use proptest::prelude::*;

    fn canonical(m: &Message) -> String {
        let mut out = Vec::new();
        Format::Xml.encode(m, &mut out).expect("encodable");
        String::from_utf8(out.split_off(crate::HEADER_LEN)).expect("UTF-8")
    }

    #[test]
    fn canonical_documents_take_the_fast_path() {
        for msg in [
            Value::Int(27),
            Value::Str("t=1 s=2 xxxx".into()),
            Value::Float(2.0),
            Value::Bool(true),
            Value::Null,
        ] {
            let doc = canonical(&Message::publish("/telephony/orange", msg.clone()));
            let fast = decode_canonical(&doc).expect("fast path");
            assert_eq!(
                fast.to_message(),
                Message::publish("/telephony/orange", msg)
            );
        }
        let escaped = canonical(&Message::publish("/a", "x<y"));
        assert!(decode_canonical(&escaped).is_none(), "{escaped}");
        let list = canonical(&Message::publish("/a", Value::List(vec![])));
        assert!(decode_canonical(&list).is_none(), "{list}");
    }

    fn scalar() -> impl Strategy<Value = Value> {
        prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::Int),
            (-1e300f64..1e300).prop_map(Value::Float),
            "[ -~\t\n\r<>&é]{0,12}".prop_map(Value::Str),
        ]
    }

    proptest! {
        /// Wherever the fast path answers, the general reader gives the same
        /// envelope: on canonical documents and on documents with one byte
        /// changed, inserted or removed.
        #[test]
        fn fast_path_agrees_with_quick_xml(
            msg in scalar(),
            topic in "/[a-z&<\"]{1,6}",
            method in "PUBLISH|SUBSCRIBE|LAST_MSG|NOPE",
            edit in proptest::option::of((any::<prop::sample::Index>(), 0u8..3, any::<u8>())),
        ) {
            let m = Message {
                method: crate::Method::from_name(&method).unwrap_or(crate::Method::Publish),
                topic,
                msg,
                attrs: Attrs::NONE,
                id: None,
                reply: None,
            };
            let mut doc = canonical(&m).into_bytes();
            if let Some((at, kind, byte)) = edit {
                let i = at.index(doc.len() + 1);
                match kind {
                    0 if i < doc.len() => doc[i] = byte,
                    1 => doc.insert(i, byte),
                    _ if i < doc.len() => {
                        doc.remove(i);
                    }
                    _ => {}
                }
            }
            if let Ok(src) = std::str::from_utf8(&doc) {
                if let Some(fast) = decode_canonical(src) {
                    // The fast path may have measured the XML length, which is
                    // optional: it must be exact, and the rest must agree.
                    let exact = |e: &Envelope<'_>| {
                        Format::Xml.payload_len(e.method, "/t", &e.msg, Attrs::NONE)
                    };
                    let general = decode_general(src);
                    prop_assert!(general.is_ok(), "{}", src);
                    let general = general.expect("checked");
                    prop_assert_eq!(exact(&fast), exact(&general), "{}", src);
                    let unmeasured = |e: Envelope<'static>| match e.msg {
                        Body::Json { text, .. } => Envelope {
                            msg: Body::Json { text, xml_len: None },
                            ..e
                        },
                        Body::Value(_) | Body::Str { .. } => e,
                    };
                    prop_assert_eq!(unmeasured(fast), unmeasured(general), "{}", src);
                }
            }
        }
    }
}
