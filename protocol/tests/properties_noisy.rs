//! Property tests for the wire protocol (spec `docs/protocol.md`):
//! JSON and XML as other writers may produce them (whitespace, escapes,
//! character references, unknown keys and elements, any order) decode to the
//! same messages, and JSON keeps its text for forwarding.

mod common;

use proptest::prelude::*;
use protocol::{Body, Format, Method, Value, HEADER_LEN};

use common::strategies::{message_any_topic, value};
use common::{encode_parts, payload, same, same_message};

// ---------------------------------------------------------------------------
// Other writers' JSON and XML
// ---------------------------------------------------------------------------

/// A tiny deterministic generator for the noisy-JSON writer's choices.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn noisy_ws(rng: &mut Rng, out: &mut String) {
    out.push_str(["", "", " ", "\n", "\t", "\r\n  "][rng.below(6) as usize]);
}

fn noisy_str(rng: &mut Rng, s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        let must_escape = matches!(c, '"' | '\\') || u32::from(c) < 0x20;
        match rng.below(4) {
            0 | 1 if !must_escape => out.push(c),
            0..=2 => match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                '/' => out.push_str("\\/"),
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                '\t' => out.push_str("\\t"),
                _ if must_escape => out.push_str(&format!("\\u{:04x}", u32::from(c))),
                _ => out.push(c),
            },
            _ => {
                let mut units = [0u16; 2];
                for u in c.encode_utf16(&mut units) {
                    if rng.below(2) == 0 {
                        out.push_str(&format!("\\u{u:04x}"));
                    } else {
                        out.push_str(&format!("\\u{u:04X}"));
                    }
                }
            }
        }
    }
    out.push('"');
}

/// Writes `v` as valid JSON that is not in this crate's canonical form:
/// whitespace everywhere, assorted escapes, exponent forms for floats.
fn noisy_json(rng: &mut Rng, v: &Value, out: &mut String) {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Int(i) => out.push_str(&i.to_string()),
        Value::Float(f) => match rng.below(3) {
            0 => out.push_str(&format!("{f:?}")),
            1 => out.push_str(&format!("{f:e}")),
            _ => out.push_str(&format!("{f:E}")),
        },
        Value::Str(s) => noisy_str(rng, s, out),
        Value::List(items) => {
            out.push('[');
            noisy_ws(rng, out);
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                    noisy_ws(rng, out);
                }
                noisy_json(rng, item, out);
                noisy_ws(rng, out);
            }
            out.push(']');
        }
        Value::Dict(entries) => {
            out.push('{');
            noisy_ws(rng, out);
            for (i, (k, item)) in entries.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                    noisy_ws(rng, out);
                }
                noisy_str(rng, k, out);
                noisy_ws(rng, out);
                out.push(':');
                noisy_ws(rng, out);
                noisy_json(rng, item, out);
                noisy_ws(rng, out);
            }
            out.push('}');
        }
    }
}

/// Whitespace and markup that may sit between XML elements.
fn noisy_xml_gap(rng: &mut Rng, out: &mut String) {
    out.push_str(
        ["", "", " ", "\n  ", "\r\n\t", "<!-- c -->", " <?pi x?> "][rng.below(7) as usize],
    );
}

/// A character reference for `c`, decimal or hex.
fn char_ref(rng: &mut Rng, c: char) -> String {
    match rng.below(3) {
        0 => format!("&#{};", u32::from(c)),
        1 => format!("&#x{:X};", u32::from(c)),
        _ => format!("&#x{:04x};", u32::from(c)),
    }
}

/// An attribute in either quote style, escaped the way any writer may.
fn noisy_attr(rng: &mut Rng, name: &str, value: &str, out: &mut String) {
    let quote = if rng.below(2) == 0 { '"' } else { '\'' };
    out.push(' ');
    out.push_str(name);
    out.push('=');
    out.push(quote);
    for c in value.chars() {
        match c {
            // Attribute-value normalization would turn these into spaces.
            '\t' | '\n' | '\r' => out.push_str(&char_ref(rng, c)),
            '&' => out.push_str(["&amp;", "&#38;"][rng.below(2) as usize]),
            '<' => out.push_str(["&lt;", "&#60;"][rng.below(2) as usize]),
            '"' if quote == '"' => out.push_str(["&quot;", "&#34;"][rng.below(2) as usize]),
            '\'' if quote == '\'' => out.push_str(["&apos;", "&#39;"][rng.below(2) as usize]),
            _ if rng.below(4) == 0 => out.push_str(&char_ref(rng, c)),
            _ => out.push(c),
        }
    }
    out.push(quote);
}

/// Text content escaped the way any writer may: entities, character
/// references, CDATA sections, comments in between; never a literal CR.
fn noisy_text(rng: &mut Rng, s: &str, out: &mut String) {
    for c in s.chars() {
        match c {
            '\r' => out.push_str(&char_ref(rng, c)),
            '&' => out.push_str(["&amp;", "&#38;", "<![CDATA[&]]>"][rng.below(3) as usize]),
            '<' => out.push_str(["&lt;", "&#x3C;", "<![CDATA[<]]>"][rng.below(3) as usize]),
            '>' => out.push_str(["&gt;", "&#62;"][rng.below(2) as usize]),
            _ => match rng.below(8) {
                0 => out.push_str(&char_ref(rng, c)),
                1 => {
                    out.push_str("<![CDATA[");
                    out.push(c);
                    out.push_str("]]>");
                }
                2 => {
                    out.push_str("<!---->");
                    out.push(c);
                }
                _ => out.push(c),
            },
        }
    }
}

/// Writes `v` as a typed element the way another XML writer might: any
/// attribute order and quoting, unknown attributes, `type` left out for
/// strings, whitespace around numbers and booleans, comments and PIs.
fn noisy_xml(rng: &mut Rng, v: &Value, name: &str, key: Option<&str>, out: &mut String) {
    let ty = match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Int(_) => "int",
        Value::Float(_) => "float",
        Value::Str(_) => "str",
        Value::List(_) => "list",
        Value::Dict(_) => "dict",
    };
    let mut attrs: Vec<(&str, &str)> = Vec::new();
    if ty != "str" || rng.below(2) == 0 {
        attrs.push(("type", ty));
    }
    if let Some(k) = key {
        attrs.push(("key", k));
    }
    if rng.below(4) == 0 {
        attrs.push(("note", "x\"y'<&"));
    }
    if rng.below(2) == 0 {
        attrs.reverse();
    }
    out.push('<');
    out.push_str(name);
    for (n, value) in attrs {
        noisy_attr(rng, n, value, out);
    }
    let pad = |rng: &mut Rng, out: &mut String| {
        out.push_str(["", " ", "\n", "\t ", "\r\n"][rng.below(5) as usize]);
    };
    let body = match v {
        Value::Null if rng.below(2) == 0 => {
            out.push_str(if rng.below(2) == 0 { "/>" } else { " />" });
            return;
        }
        Value::Null => {
            out.push('>');
            pad(rng, out);
            None
        }
        Value::Bool(b) => Some(b.to_string()),
        Value::Int(i) => Some(i.to_string()),
        Value::Float(f) => Some(if rng.below(2) == 0 {
            format!("{f:?}")
        } else {
            format!("{f:e}")
        }),
        Value::Str(s) => {
            out.push('>');
            noisy_text(rng, s, out);
            None
        }
        Value::List(items) => {
            out.push('>');
            for item in items {
                noisy_xml_gap(rng, out);
                noisy_xml(rng, item, "item", None, out);
            }
            noisy_xml_gap(rng, out);
            None
        }
        Value::Dict(entries) => {
            out.push('>');
            for (k, item) in entries {
                noisy_xml_gap(rng, out);
                noisy_xml(rng, item, "item", Some(k), out);
            }
            noisy_xml_gap(rng, out);
            None
        }
    };
    if let Some(scalar) = body {
        out.push('>');
        pad(rng, out);
        out.push_str(&scalar);
        pad(rng, out);
    }
    out.push_str("</");
    out.push_str(name);
    out.push('>');
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Non-canonical JSON (whitespace, `\u` escapes including surrogate pairs,
    /// `\/`, exponent floats, unknown keys, any key order) decodes to the same
    /// value, keeps its text for forwarding, and transcodes to XML losslessly.
    #[test]
    fn noisy_json_transcodes(v in value(), seed in any::<u64>(), more in any::<bool>()) {
        let mut rng = Rng(seed | 1);
        let mut value_text = String::new();
        noisy_json(&mut rng, &v, &mut value_text);
        let mut fields = vec![
            r#""method" : "PUBLISH""#.to_owned(),
            "\"topic\":\"\\/a\\/b\"".to_owned(),
            format!("\"msg\":{value_text}"),
            r#""later_version_key": {"seq": [1, 2.5, "x"]}"#.to_owned(),
        ];
        if more {
            fields.push(r#""more":true"#.to_owned());
        }
        let rotate = rng.below(fields.len() as u64) as usize;
        fields.rotate_left(rotate);
        let mut doc = String::from("{");
        for (i, field) in fields.iter().enumerate() {
            if i > 0 {
                doc.push(',');
            }
            noisy_ws(&mut rng, &mut doc);
            doc.push_str(field);
            noisy_ws(&mut rng, &mut doc);
        }
        doc.push('}');

        let env = Format::Json.decode_envelope(doc.as_bytes()).unwrap();
        prop_assert_eq!(env.method, Method::Publish);
        prop_assert_eq!(env.topic.as_deref(), Some("/a/b"));
        prop_assert_eq!(env.attrs.more, more);
        let Body::Json { ref text, .. } = env.msg else {
            return Err(TestCaseError::fail("JSON body expected"));
        };
        prop_assert_eq!(text.as_ref(), value_text.as_str());
        prop_assert!(same(&env.msg.to_value(), &v), "{:?} -> {:?}", v, env.msg.to_value());
        for f in Format::ALL {
            let bytes = encode_parts(f, env.method, "/a/b", &env.msg, env.attrs);
            let len = f.payload_len(env.method, "/a/b", &env.msg, env.attrs).unwrap();
            prop_assert_eq!(len, bytes.len() - HEADER_LEN);
            let back = f.decode(payload(&bytes)).unwrap();
            prop_assert!(same(&back.msg, &v), "{:?}: {:?} -> {:?}", f, v, back.msg);
            prop_assert_eq!(back.attrs.more, more);
        }
    }

    /// XML as another writer may produce it (Python's ElementTree, say)
    /// decodes to the same message: quoting, attribute order, unknown
    /// attributes and elements, character references, CDATA, comments, PIs,
    /// whitespace around numbers, `type` omitted for strings.
    #[test]
    fn noisy_xml_decodes(m in message_any_topic(), seed in any::<u64>()) {
        let mut rng = Rng(seed | 1);
        let mut doc = String::new();
        if rng.below(2) == 0 {
            doc.push_str("<?xml version='1.0' encoding='utf-8'?>\n");
        }
        noisy_xml_gap(&mut rng, &mut doc);
        doc.push_str("<message");
        let mut attrs = vec![("method", m.method.as_str()), ("topic", m.topic.as_str())];
        if m.attrs.more {
            attrs.push(("more", "true"));
        }
        let seq = m.attrs.seq.map(|n| n.to_string());
        let ts = m.attrs.ts.map(|n| n.to_string());
        attrs.extend(seq.as_deref().map(|n| ("seq", n)));
        attrs.extend(ts.as_deref().map(|n| ("ts", n)));
        if m.attrs.ack {
            attrs.push(("ack", "true"));
        }
        attrs.extend(m.id.as_deref().map(|v| ("id", v)));
        attrs.extend(m.reply.as_deref().map(|v| ("reply", v)));
        if rng.below(2) == 0 {
            attrs.push(("later", "42"));
        }
        let rotate = rng.below(attrs.len() as u64) as usize;
        attrs.rotate_left(rotate);
        for (name, value) in attrs {
            noisy_attr(&mut rng, name, value, &mut doc);
        }
        doc.push('>');
        noisy_xml_gap(&mut rng, &mut doc);
        if rng.below(3) == 0 {
            doc.push_str("<later a='1'><x>text &amp; more</x></later>");
        }
        if m.msg != Value::Null || rng.below(2) == 0 {
            noisy_xml(&mut rng, &m.msg, "msg", None, &mut doc);
        }
        noisy_xml_gap(&mut rng, &mut doc);
        doc.push_str("</message>");
        noisy_xml_gap(&mut rng, &mut doc);
        let back = Format::Xml.decode(doc.as_bytes());
        prop_assert!(
            matches!(&back, Ok(b) if same_message(b, &m)),
            "{:?}\n{}\n-> {:?}", m, doc, back
        );
    }
}
