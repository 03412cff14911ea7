//! Reading XML with quick-xml: any document, its typed value streamed as
//! [`Visitor`] events, and the best-effort topic of a refused one.

use std::borrow::Cow;

use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;

use crate::error::{DecodeError, ValueError};
use crate::format::json::JsonWriter;
use crate::message::{Attrs, Body, Envelope, Keys, Method};
use crate::value::{check_text, xml_char, Container, Scalar, Visitor, MAX_DEPTH};

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

pub(super) fn finish_scalar<V: Visitor>(
    ty: &'static str,
    text: &str,
    v: &mut V,
) -> Result<(), DecodeError> {
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

/// Reads any document with quick-xml.
pub(super) fn decode_general(src: &str) -> Result<Envelope<'static>, DecodeError> {
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
    let mut attrs = Attrs::NONE;
    let mut keys: Option<Box<Keys<'static>>> = None;
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
            b"more" => attrs.more = value == "true",
            // As in JSON, a value that is not a number is ignored.
            b"seq" => attrs.seq = value.parse().ok(),
            b"ts" => attrs.ts = value.parse().ok(),
            b"ack" => {
                attrs.ack = match &*value {
                    "true" => true,
                    "false" => false,
                    _ => return Err(DecodeError::FieldType("ack")),
                }
            }
            b"id" => {
                check_text(&value)?;
                keys.get_or_insert_with(Box::default).id = Some(value.into_owned().into());
            }
            b"reply" => {
                check_text(&value)?;
                keys.get_or_insert_with(Box::default).reply = Some(value.into_owned().into());
            }
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
        attrs,
        keys,
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
