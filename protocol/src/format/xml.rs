//! XML (spec §4): `<message method=".." topic=".."><msg type="..">..</msg></message>`.
//!
//! Reading uses quick-xml and streams the typed `msg`/`item` elements as value
//! events; writing is done by hand (an [`XmlWriter`] visitor) because the
//! output is a fixed shape and must also be measurable without being written.

use std::borrow::Cow;

use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;

use super::json::JsonWriter;
use crate::error::{DecodeError, ValueError};
use crate::message::{Body, Envelope, Method};
use crate::scan;
use crate::value::{
    check_text, put_float, put_int, xml_char, Container, Out, Scalar, Visitor, MAX_DEPTH,
};

/// Writes `s` escaped for XML text, or for a double-quoted attribute.
///
/// A carriage return is written `&#13;` (a literal one would read back as a
/// newline); in attributes tab and newline are escaped too, because attribute
/// value normalization would turn them into spaces.
pub(crate) fn put_escaped(out: &mut impl Out, s: &str, attr: bool) {
    let bytes = s.as_bytes();
    let mut run = 0;
    loop {
        let at = if attr {
            scan::find(bytes, run, |b| {
                text_special(b) | (b == b'"') | (b == b'\t') | (b == b'\n')
            })
        } else {
            scan::find(bytes, run, text_special)
        };
        out.put(&bytes[run..at]);
        let Some(&b) = bytes.get(at) else {
            return;
        };
        out.put(match b {
            b'&' => b"&amp;",
            b'<' => b"&lt;",
            b'>' => b"&gt;",
            b'\r' => b"&#13;",
            b'"' => b"&quot;",
            b'\t' => b"&#9;",
            _ => b"&#10;",
        });
        run = at + 1;
    }
}

/// Whether text byte `b` must be escaped: `&`, `<`, `>`, carriage return
/// (branch-free, for [`scan::find`]).
fn text_special(b: u8) -> bool {
    (b == b'&') | (b == b'<') | (b == b'>') | (b == b'\r')
}

/// Writes the opening `<message ...>` tag.
pub(crate) fn put_open(out: &mut impl Out, method: Method, topic: &str, more: bool) {
    out.put(b"<message method=\"");
    out.put(method.as_str().as_bytes());
    out.put(b"\" topic=\"");
    put_escaped(out, topic, true);
    if more {
        out.put(b"\" more=\"true\">");
    } else {
        out.put(b"\">");
    }
}

/// Writes a value as a typed `msg` element, from events.
#[derive(Debug)]
pub(crate) struct XmlWriter<'o, O: Out> {
    out: &'o mut O,
    depth: usize,
    /// `key` already wrote `<item key=".."`; the value adds its type.
    keyed: bool,
}

impl<'o, O: Out> XmlWriter<'o, O> {
    pub(crate) fn new(out: &'o mut O) -> Self {
        XmlWriter {
            out,
            depth: 0,
            keyed: false,
        }
    }

    fn open(&mut self, ty: &[u8]) {
        if !self.keyed {
            self.out
                .put(if self.depth == 0 { b"<msg" } else { b"<item" });
        }
        self.keyed = false;
        self.out.put(b" type=\"");
        self.out.put(ty);
        self.out.put(b"\"");
    }

    fn close(&mut self) {
        self.out.put(if self.depth == 0 {
            b"</msg>"
        } else {
            b"</item>"
        });
    }
}

impl<O: Out> Visitor for XmlWriter<'_, O> {
    fn scalar(&mut self, s: Scalar<'_>) -> Result<(), ValueError> {
        match s {
            Scalar::Null => {
                self.open(b"null");
                self.out.put(b"/>");
                return Ok(());
            }
            Scalar::Bool(b) => {
                self.open(b"bool");
                self.out.put(if b { b">true" } else { b">false" });
            }
            Scalar::Int(i) => {
                self.open(b"int");
                self.out.put(b">");
                put_int(self.out, i);
            }
            Scalar::Float(f) => {
                self.open(b"float");
                self.out.put(b">");
                put_float(self.out, f);
            }
            Scalar::Str(s) => {
                self.open(b"str");
                self.out.put(b">");
                put_escaped(self.out, s, false);
            }
        }
        self.close();
        Ok(())
    }

    fn begin(&mut self, c: Container) -> Result<(), ValueError> {
        self.open(if c == Container::List {
            b"list"
        } else {
            b"dict"
        });
        self.out.put(b">");
        self.depth += 1;
        Ok(())
    }

    fn key(&mut self, k: &str) -> Result<(), ValueError> {
        self.out.put(b"<item key=\"");
        put_escaped(self.out, k, true);
        self.out.put(b"\"");
        self.keyed = true;
        Ok(())
    }

    fn end(&mut self, _: Container) -> Result<(), ValueError> {
        self.depth -= 1;
        self.close();
        Ok(())
    }
}

/// An XML error whose message can itself be sent in an `ERROR` frame: quick-xml
/// quotes the offending input, so characters XML cannot carry are escaped.
fn xml_err(e: impl std::fmt::Display) -> DecodeError {
    let mut reason = e.to_string();
    if check_text(&reason).is_err() {
        reason = reason
            .chars()
            .map(|c| {
                if xml_char(c) {
                    c.to_string()
                } else {
                    c.escape_unicode().to_string()
                }
            })
            .collect();
    }
    DecodeError::Xml(reason)
}

fn is_xml_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\r' | '\n')
}

/// The typed value element being read.
/// The text of a scalar borrows from the frame when it arrives in one piece
/// (no references, no CDATA), which is the usual case.
enum Open<'a> {
    Container(Container),
    Scalar {
        ty: &'static str,
        text: Cow<'a, str>,
    },
}

struct ElementAttrs<'e> {
    ty: Option<Cow<'e, str>>,
    key: Option<Cow<'e, str>>,
}

fn element_attrs<'e>(e: &'e BytesStart<'_>) -> Result<ElementAttrs<'e>, DecodeError> {
    let mut attrs = ElementAttrs {
        ty: None,
        key: None,
    };
    for attr in e.attributes() {
        let attr = attr.map_err(xml_err)?;
        match attr.key.as_ref() {
            b"type" => attrs.ty = Some(attr.unescape_value().map_err(xml_err)?),
            b"key" => attrs.key = Some(attr.unescape_value().map_err(xml_err)?),
            _ => {}
        }
    }
    Ok(attrs)
}

/// An optional sign and at least one ASCII digit: an integer, if maybe too big.
fn is_integer_text(s: &str) -> bool {
    let digits = s.strip_prefix(['-', '+']).unwrap_or(s);
    !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())
}

fn finish_scalar<V: Visitor>(ty: &'static str, text: &str, v: &mut V) -> Result<(), DecodeError> {
    let bad = || ValueError::BadScalar {
        ty,
        text: text.chars().take(64).collect(),
    };
    let trimmed = text.trim_matches(is_xml_space);
    let scalar = match ty {
        "str" => {
            check_text(text)?;
            Scalar::Str(text)
        }
        "int" => match trimmed.parse::<i64>() {
            Ok(i) => Scalar::Int(i),
            Err(_) if is_integer_text(trimmed) => {
                return Err(ValueError::IntOutOfRange(trimmed.to_owned()).into())
            }
            Err(_) => return Err(bad().into()),
        },
        "float" => match trimmed.parse::<f64>() {
            Ok(f) if f.is_finite() => Scalar::Float(f),
            Ok(_) => return Err(ValueError::NonFiniteFloat.into()),
            Err(_) => return Err(bad().into()),
        },
        "bool" => match trimmed {
            "true" => Scalar::Bool(true),
            "false" => Scalar::Bool(false),
            _ => return Err(bad().into()),
        },
        _ if trimmed.is_empty() => Scalar::Null,
        _ => return Err(bad().into()),
    };
    v.scalar(scalar)?;
    Ok(())
}

/// Handles the opening of a `msg` (at the root) or `item` element.
fn open_element<'a, V: Visitor>(
    e: &BytesStart<'_>,
    empty: bool,
    stack: &mut Vec<Open<'a>>,
    v: &mut V,
) -> Result<(), DecodeError> {
    let attrs = element_attrs(e)?;
    match stack.last() {
        Some(Open::Container(Container::Dict)) => {
            let key = attrs
                .key
                .ok_or_else(|| xml_err("dict item without a key attribute"))?;
            check_text(&key)?;
            v.key(&key)?;
        }
        Some(Open::Container(Container::List)) | None => {}
        Some(Open::Scalar { .. }) => return Err(xml_err("element inside a scalar value")),
    }
    let ty: &'static str = match attrs.ty.as_deref().unwrap_or("str") {
        "list" | "dict" => {
            let c = if attrs.ty.as_deref() == Some("list") {
                Container::List
            } else {
                Container::Dict
            };
            let depth = stack
                .iter()
                .filter(|o| matches!(o, Open::Container(_)))
                .count();
            if depth >= MAX_DEPTH {
                return Err(ValueError::TooDeep.into());
            }
            v.begin(c)?;
            if empty {
                v.end(c)?;
            } else {
                stack.push(Open::Container(c));
            }
            return Ok(());
        }
        "str" => "str",
        "int" => "int",
        "float" => "float",
        "bool" => "bool",
        "null" => "null",
        other => return Err(xml_err(format_args!("unknown value type {other:?}"))),
    };
    if empty {
        finish_scalar(ty, "", v)
    } else {
        stack.push(Open::Scalar {
            ty,
            text: Cow::Borrowed(""),
        });
        Ok(())
    }
}

/// Reads the value whose root element `first` was just read.
fn read_value<V: Visitor>(
    reader: &mut Reader<&[u8]>,
    first: &BytesStart<'_>,
    empty: bool,
    v: &mut V,
) -> Result<(), DecodeError> {
    let mut stack = Vec::new();
    open_element(first, empty, &mut stack, v)?;
    while !stack.is_empty() {
        match reader.read_event().map_err(xml_err)? {
            Event::Start(e) | Event::Empty(e) if e.name().as_ref() != b"item" => {
                return Err(xml_err(format_args!(
                    "unexpected element <{}> in a value",
                    String::from_utf8_lossy(e.name().as_ref())
                )));
            }
            Event::Start(e) => open_element(&e, false, &mut stack, v)?,
            Event::Empty(e) => open_element(&e, true, &mut stack, v)?,
            Event::Text(t) => {
                let content = t.xml10_content().map_err(xml_err)?;
                match stack.last_mut() {
                    Some(Open::Scalar { text, .. }) if text.is_empty() => *text = content,
                    Some(Open::Scalar { text, .. }) => text.to_mut().push_str(&content),
                    _ if content.chars().all(is_xml_space) => {}
                    _ => return Err(xml_err("text inside a list or dict")),
                }
            }
            Event::CData(c) => match stack.last_mut() {
                Some(Open::Scalar { text, .. }) => {
                    text.to_mut().push_str(&c.xml10_content().map_err(xml_err)?)
                }
                _ => return Err(xml_err("CDATA inside a list or dict")),
            },
            Event::GeneralRef(r) => {
                let Some(Open::Scalar { text, .. }) = stack.last_mut() else {
                    return Err(xml_err("reference inside a list or dict"));
                };
                if let Some(c) = r.resolve_char_ref().map_err(xml_err)? {
                    text.to_mut().push(c);
                } else {
                    let name = r.decode().map_err(xml_err)?;
                    let resolved = quick_xml::escape::resolve_predefined_entity(&name)
                        .ok_or_else(|| xml_err(format_args!("unknown entity &{name};")))?;
                    text.to_mut().push_str(resolved);
                }
            }
            Event::End(_) => match stack.pop() {
                Some(Open::Scalar { ty, text }) => finish_scalar(ty, &text, v)?,
                Some(Open::Container(c)) => v.end(c)?,
                None => return Err(xml_err("unbalanced end tag")),
            },
            Event::Comment(_) | Event::PI(_) => {}
            Event::Decl(_) | Event::DocType(_) => {
                return Err(xml_err("declaration inside a value"))
            }
            Event::Eof => return Err(xml_err("unexpected end of document")),
        }
    }
    Ok(())
}

fn whitespace_or(t: &quick_xml::events::BytesText<'_>, what: &str) -> Result<(), DecodeError> {
    let content = t.decode().map_err(xml_err)?;
    if content.chars().all(is_xml_space) {
        Ok(())
    } else {
        Err(xml_err(format_args!("unexpected text {what}")))
    }
}

/// Decodes one XML frame payload into an [`Envelope`] (its value is a tree).
///
/// # Errors
/// A [`DecodeError`] saying what is wrong.
pub fn decode_envelope(payload: &[u8]) -> Result<Envelope<'static>, DecodeError> {
    let src = std::str::from_utf8(payload).map_err(|_| DecodeError::NotUtf8)?;
    match decode_canonical(src) {
        Some(envelope) => Ok(envelope),
        None => decode_general(src),
    }
}

/// The document this crate writes for a scalar value, and nothing else:
/// `<message method="M" topic="T"><msg type="TY">TEXT</msg></message>` (or
/// `<msg type="null"/>`) with nothing to unescape, read without a general XML
/// parser. Answers `None` for any other input, wrong input included, which
/// [`decode_general`] then reads; where this answers, both give the same result.
fn decode_canonical(src: &str) -> Option<Envelope<'static>> {
    let rest = src.strip_prefix("<message method=\"")?;
    let (method, rest) = rest.split_once('"')?;
    let method = Method::from_name(method)?;
    let (topic, rest) = rest.strip_prefix(" topic=\"")?.split_once('"')?;
    if topic.bytes().any(|b| b == b'&' || b == b'<' || b < 0x20) {
        return None;
    }
    check_text(topic).ok()?;
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
        more: false,
    })
}

/// Reads any document with quick-xml.
fn decode_general(src: &str) -> Result<Envelope<'static>, DecodeError> {
    let mut reader = Reader::from_str(src);
    let (root, empty) = loop {
        match reader.read_event().map_err(xml_err)? {
            Event::Start(e) => break (e, false),
            Event::Empty(e) => break (e, true),
            Event::Decl(_) | Event::Comment(_) | Event::PI(_) => {}
            Event::Text(t) => whitespace_or(&t, "before the root element")?,
            Event::DocType(_) => return Err(xml_err("DOCTYPE is not allowed")),
            Event::Eof => return Err(xml_err("no root element")),
            _ => return Err(xml_err("unexpected content before the root element")),
        }
    };
    if root.name().as_ref() != b"message" {
        return Err(xml_err("root element must be <message>"));
    }
    let mut method = None;
    let mut topic = None;
    let mut more = false;
    for attr in root.attributes() {
        let attr = attr.map_err(xml_err)?;
        let value = attr.unescape_value().map_err(xml_err)?;
        match attr.key.as_ref() {
            b"method" => {
                method = Some(
                    Method::from_name(&value)
                        .ok_or_else(|| DecodeError::UnknownMethod(value.into_owned())),
                )
            }
            b"topic" => {
                check_text(&value)?;
                topic = Some(value.into_owned());
            }
            b"more" => more = value == "true",
            _ => {}
        }
    }
    // The value is streamed into JSON text as it is read: no tree, and from
    // here on the broker handles it exactly as a JSON publisher's value.
    let mut json: Option<Vec<u8>> = None;
    if !empty {
        loop {
            match reader.read_event().map_err(xml_err)? {
                Event::Start(e) if e.name().as_ref() == b"msg" && json.is_none() => {
                    let mut out = Vec::with_capacity(src.len());
                    read_value(&mut reader, &e, false, &mut JsonWriter::new(&mut out))?;
                    json = Some(out);
                }
                Event::Empty(e) if e.name().as_ref() == b"msg" && json.is_none() => {
                    let mut out = Vec::new();
                    read_value(&mut reader, &e, true, &mut JsonWriter::new(&mut out))?;
                    json = Some(out);
                }
                Event::Start(e) | Event::Empty(e) if e.name().as_ref() == b"msg" => {
                    return Err(xml_err("more than one <msg> element"));
                }
                // Later protocol versions may add elements; skip them whole.
                Event::Start(e) => {
                    reader.read_to_end(e.name()).map_err(xml_err)?;
                }
                Event::Empty(_) | Event::Comment(_) | Event::PI(_) => {}
                Event::Text(t) => whitespace_or(&t, "inside <message>")?,
                Event::End(_) => break,
                Event::Eof => return Err(xml_err("unexpected end of document")),
                _ => return Err(xml_err("unexpected content inside <message>")),
            }
        }
    }
    loop {
        match reader.read_event().map_err(xml_err)? {
            Event::Eof => break,
            Event::Comment(_) | Event::PI(_) => {}
            Event::Text(t) => whitespace_or(&t, "after the root element")?,
            _ => return Err(xml_err("content after the root element")),
        }
    }
    let method = method.ok_or(DecodeError::MissingMethod)??;
    let msg = match json {
        None => Body::NULL,
        Some(out) => Body::Json {
            // JsonWriter writes only whole UTF-8 strings and ASCII.
            text: Cow::Owned(String::from_utf8(out).map_err(|_| xml_err("value is not UTF-8"))?),
            xml_len: None,
        },
    };
    Ok(Envelope {
        method,
        topic: topic.map(Into::into),
        msg,
        more,
    })
}

/// Best-effort read of the `topic` attribute of a payload that failed to
/// decode, for the `ERROR` reply; `None` when it holds characters XML cannot
/// carry.
#[must_use]
pub fn recover_topic(payload: &[u8]) -> Option<String> {
    // Only a well-formed document has a topic to echo (spec §9: a frame that
    // cannot be decoded at all gets topic "").
    let src = std::str::from_utf8(payload).ok()?;
    let mut reader = Reader::from_str(src);
    let mut root = None;
    // quick-xml does not report elements left open at the end of input.
    let mut depth = 0usize;
    loop {
        let event = reader.read_event().ok()?;
        if let Event::Start(e) | Event::Empty(e) = &event {
            if root.is_none() {
                let topic = match e.try_get_attribute("topic").ok()? {
                    Some(attr) => Some(attr.unescape_value().ok()?.into_owned()),
                    None => None,
                };
                root = Some(topic);
            }
        }
        match event {
            Event::Start(_) => depth += 1,
            Event::End(_) => depth = depth.checked_sub(1)?,
            Event::Eof if depth == 0 => break,
            Event::Eof => return None,
            _ => {}
        }
    }
    root.flatten().filter(|t| check_text(t).is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;
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
                more: false,
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
                        Format::Xml.payload_len(e.method, "/t", &e.msg, false)
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
                        Body::Value(_) => e,
                    };
                    prop_assert_eq!(unmeasured(fast), unmeasured(general), "{}", src);
                }
            }
        }
    }
}
