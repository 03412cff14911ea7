//! Property tests for the wire protocol (spec `shared/spec/wire-protocol.md`).
//!
//! Framing under arbitrary read splits, lossless round trips in both formats,
//! the streaming JSON-to-XML transcoder, exact `payload_len`, and decoders that
//! never panic and only accept what both formats can carry.

use std::borrow::Cow;

use proptest::prelude::*;
use proptest::sample::Index;
use protocol::topic::{is_under, normalize, segments};
use protocol::value::{check_text, xml_char};
use protocol::{frame, Body, Format, Message, Method, Topic, Value, HEADER_LEN, MAX_PAYLOAD};

// ---------------------------------------------------------------------------
// Strategies
// ---------------------------------------------------------------------------

/// Characters that stress escaping: XML/JSON metacharacters, whitespace that
/// XML normalizes, non-ASCII, the 0xEF lead byte range (U+F000..U+FFFD), astral.
const SPECIAL_CHARS: &[char] = &[
    '\r',
    '\t',
    '\n',
    ' ',
    '<',
    '>',
    '&',
    '"',
    '\'',
    '\\',
    '/',
    ']',
    ';',
    '#',
    '=',
    'é',
    '漢',
    '🎉',
    '\u{7F}',
    '\u{85}',
    '\u{A0}',
    '\u{2028}',
    '\u{D7FF}',
    '\u{E000}',
    '\u{F8FF}',
    '\u{FF46}',
    '\u{FFFD}',
    '\u{10000}',
    '\u{10FFFF}',
];

fn xml_legal_char() -> impl Strategy<Value = char> {
    prop_oneof![
        4 => prop::sample::select(SPECIAL_CHARS),
        3 => prop::char::range('a', 'z'),
        2 => any::<char>().prop_filter("XML-legal", |&c| xml_char(c)),
    ]
}

/// A short string of characters XML 1.0 allows.
fn text() -> impl Strategy<Value = String> {
    prop::collection::vec(xml_legal_char(), 0..12).prop_map(|cs| cs.into_iter().collect())
}

fn int() -> impl Strategy<Value = i64> {
    prop_oneof![
        any::<i64>(),
        prop::sample::select(vec![0, -1, 1, i64::MIN, i64::MAX, i64::MIN + 1]),
        -1000i64..1000,
    ]
}

fn float() -> impl Strategy<Value = f64> {
    prop_oneof![
        any::<f64>().prop_filter("finite", |f| f.is_finite()),
        // Integral floats: the "2.0 must not become 2" case.
        any::<i32>().prop_map(f64::from),
        prop::sample::select(vec![
            0.0,
            -0.0,
            2.0,
            0.1,
            1e300,
            -1e-300,
            5e-324,
            f64::MAX,
            f64::MIN,
            f64::MIN_POSITIVE,
            1e16,
            1e15 + 0.3,
            9_007_199_254_740_993.0,
        ]),
    ]
}

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        int().prop_map(Value::Int),
        float().prop_map(Value::Float),
        text().prop_map(Value::Str),
    ]
}

/// Arbitrary valid values: nested lists and dicts (duplicate keys included) a
/// few levels deep.
fn value() -> impl Strategy<Value = Value> {
    leaf().prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::List),
            prop::collection::vec((text(), inner), 0..6).prop_map(Value::Dict),
        ]
    })
}

fn method() -> impl Strategy<Value = Method> {
    prop::sample::select(Method::ALL.to_vec())
}

fn format() -> impl Strategy<Value = Format> {
    prop::sample::select(Format::ALL.to_vec())
}

const TOPIC_RE: &str = "/[a-z]{1,5}(/[a-z0-9_-]{1,5}){0,3}";

/// Messages with topics shaped like real ones.
fn message() -> impl Strategy<Value = Message> {
    (method(), TOPIC_RE, value(), any::<bool>()).prop_map(|(method, topic, msg, more)| Message {
        method,
        topic,
        msg,
        more,
    })
}

/// Messages whose topic is any XML-legal string (the `ERROR` echo case).
fn message_any_topic() -> impl Strategy<Value = Message> {
    (method(), text(), value(), any::<bool>()).prop_map(|(method, topic, msg, more)| Message {
        method,
        topic,
        msg,
        more,
    })
}

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

/// Equality that also tells `0.0` from `-0.0` and `Float` from `Int`.
fn same(a: &Value, b: &Value) -> bool {
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

fn same_message(a: &Message, b: &Message) -> bool {
    a.method == b.method && a.topic == b.topic && a.more == b.more && same(&a.msg, &b.msg)
}

fn encode(f: Format, m: &Message) -> Vec<u8> {
    let mut out = Vec::new();
    f.encode(m, &mut out).unwrap();
    out
}

fn encode_parts(f: Format, m: Method, topic: &str, body: &Body<'_>, more: bool) -> Vec<u8> {
    let mut out = Vec::new();
    f.encode_parts(m, topic, body, more, &mut out).unwrap();
    out
}

/// The payload of a buffer holding exactly one frame.
fn payload(frame_bytes: &[u8]) -> &[u8] {
    let f = frame::decode(frame_bytes).unwrap().expect("a whole frame");
    assert_eq!(f.len, frame_bytes.len(), "exactly one frame");
    f.payload
}

/// Feeds `chunks` into a growing buffer as reads would, taking frames off the
/// front as soon as they are complete.
fn decode_incrementally<'a>(chunks: impl IntoIterator<Item = &'a [u8]>) -> Vec<Vec<u8>> {
    let mut buf = Vec::new();
    let mut got = Vec::new();
    for chunk in chunks {
        buf.extend_from_slice(chunk);
        while let Some(f) = frame::decode(&buf).expect("valid stream") {
            got.push(f.payload.to_vec());
            let n = f.len;
            buf.drain(..n);
        }
    }
    assert!(buf.is_empty(), "bytes left over: {buf:?}");
    got
}

/// Splits `bytes` at the given cut points (any order, duplicates allowed).
fn split_at_cuts(bytes: &[u8], cuts: &[Index]) -> Vec<Vec<u8>> {
    let mut at: Vec<usize> = cuts.iter().map(|i| i.index(bytes.len() + 1)).collect();
    at.push(0);
    at.push(bytes.len());
    at.sort_unstable();
    at.windows(2).map(|w| bytes[w[0]..w[1]].to_vec()).collect()
}

/// A header in one of the forms receivers must accept (spec §1).
fn header_in_style(len: usize, style: u8) -> Vec<u8> {
    let h = match style % 4 {
        0 => format!("{len:>5}"),
        1 => format!("{len:05}"),
        2 => format!("{len:<5}"),
        _ => format!("{len:^5}"),
    };
    assert_eq!(h.len(), HEADER_LEN);
    h.into_bytes()
}

/// What every decoder must guarantee for any input: no panic, errors that
/// can themselves be sent back in an `ERROR` (any format), and accepted
/// messages that every subscriber can receive, in either format, unchanged.
fn check_decoder_contract(input: &[u8]) -> Result<(), TestCaseError> {
    for f in Format::ALL {
        if let Some(topic) = f.recover_topic(input) {
            prop_assert!(
                check_text(&topic).is_ok(),
                "{f:?} recovered topic {topic:?}"
            );
        }
        let _ = f.decode(input);
        match f.decode_envelope(input) {
            Err(e) => {
                let reason = e.to_string();
                prop_assert!(
                    check_text(&reason).is_ok(),
                    "{f:?}: unsendable reason {reason:?}"
                );
            }
            Ok(env) => {
                let m = env.to_message();
                prop_assert_eq!(f.decode(input).ok(), Some(m.clone()));
                prop_assert!(m.msg.validate().is_ok(), "accepted {:?}", m.msg);
                let topic = env.topic.as_deref().unwrap_or("");
                for g in Format::ALL {
                    let len = g.payload_len(env.method, topic, &env.msg, env.more);
                    let Ok(len) = len else {
                        return Err(TestCaseError::fail(format!(
                            "{f:?} accepted {m:?}, {g:?} cannot carry it: {len:?}"
                        )));
                    };
                    if len > MAX_PAYLOAD {
                        continue;
                    }
                    let bytes = encode_parts(g, env.method, topic, &env.msg, env.more);
                    prop_assert_eq!(bytes.len() - HEADER_LEN, len);
                    let back = g.decode(payload(&bytes)).map_err(|e| {
                        TestCaseError::fail(format!("{g:?} re-encoding of {m:?} fails: {e}"))
                    })?;
                    prop_assert!(same_message(&back, &m), "{:?} -> {:?}", m, back);
                }
            }
        }
    }
    Ok(())
}

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

// ---------------------------------------------------------------------------
// Framing
// ---------------------------------------------------------------------------

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Any split of a stream of encoded messages into reads decodes to the
    /// same messages as the whole stream at once.
    #[test]
    fn split_reads_yield_same_messages(
        msgs in prop::collection::vec((format(), message()), 1..6),
        cuts in prop::collection::vec(any::<Index>(), 0..16),
    ) {
        let mut stream = Vec::new();
        for (f, m) in &msgs {
            f.encode(m, &mut stream).unwrap();
        }
        let whole = decode_incrementally([stream.as_slice()]);
        let chunks = split_at_cuts(&stream, &cuts);
        let split = decode_incrementally(chunks.iter().map(Vec::as_slice));
        prop_assert_eq!(&split, &whole);
        prop_assert_eq!(whole.len(), msgs.len());
        for ((f, m), p) in msgs.iter().zip(&whole) {
            let back = f.decode(p).unwrap();
            prop_assert!(same_message(&back, m), "{:?} -> {:?}", m, back);
        }
    }

    /// Raw payloads with every accepted header form, split anywhere, come out
    /// byte for byte.
    #[test]
    fn split_reads_yield_same_payloads(
        frames in prop::collection::vec(
            (prop::collection::vec(any::<u8>(), 1..200), any::<u8>()),
            1..8,
        ),
        cuts in prop::collection::vec(any::<Index>(), 0..24),
    ) {
        let mut stream = Vec::new();
        for (p, style) in &frames {
            stream.extend_from_slice(&header_in_style(p.len(), *style));
            stream.extend_from_slice(p);
        }
        let chunks = split_at_cuts(&stream, &cuts);
        let got = decode_incrementally(chunks.iter().map(Vec::as_slice));
        let want: Vec<Vec<u8>> = frames.into_iter().map(|(p, _)| p).collect();
        prop_assert_eq!(got, want);
    }

    /// `frame::encode` output parses back to the same payload, with the
    /// Python `'{:>5}'` header.
    #[test]
    fn frame_encode_decode(p in prop::collection::vec(any::<u8>(), 1..300)) {
        let mut out = Vec::new();
        frame::encode(&p, &mut out).unwrap();
        let header = format!("{:>5}", p.len());
        prop_assert_eq!(&out[..HEADER_LEN], header.as_bytes());
        prop_assert_eq!(payload(&out), &p[..]);
    }
}

/// Exhaustively: every split of a small stream into up to three reads, and
/// byte-at-a-time reads.
#[test]
fn every_two_cut_split_of_a_small_stream() {
    let msgs = [
        (
            Format::Json,
            Message::publish("/a/b", Value::Str("x\r\ny".into())),
        ),
        (
            Format::Xml,
            Message::publish("/t", Value::List(vec![Value::Float(2.0), "<&>".into()])),
        ),
        (Format::Json, Message::list(Some("/a"))),
    ];
    let mut stream = Vec::new();
    for (f, m) in &msgs {
        f.encode(m, &mut stream).unwrap();
    }
    let whole = decode_incrementally([stream.as_slice()]);
    assert_eq!(whole.len(), msgs.len());
    for ((f, m), p) in msgs.iter().zip(&whole) {
        assert_eq!(&f.decode(p).unwrap(), m);
    }
    let n = stream.len();
    for i in 0..=n {
        for j in i..=n {
            let got = decode_incrementally([&stream[..i], &stream[i..j], &stream[j..]]);
            assert_eq!(got, whole, "cuts at {i}, {j}");
        }
    }
    assert_eq!(decode_incrementally(stream.chunks(1)), whole);
}

// ---------------------------------------------------------------------------
// Round trips
// ---------------------------------------------------------------------------

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// decode(encode(m)) == m in both formats, through both decode paths.
    #[test]
    fn encode_decode_round_trip(m in message(), f in format()) {
        let bytes = encode(f, &m);
        let back = f.decode(payload(&bytes)).unwrap();
        prop_assert!(same_message(&back, &m), "{:?} -> {:?}", m, back);
        let env = f.decode_envelope(payload(&bytes)).unwrap();
        prop_assert_eq!(env.topic.as_deref(), Some(m.topic.as_str()));
        prop_assert!(same(&env.msg.to_value(), &m.msg));
    }

    /// The same with any XML-legal topic string (what an `ERROR` echoes).
    #[test]
    fn round_trip_any_topic(m in message_any_topic(), f in format()) {
        let bytes = encode(f, &m);
        let back = f.decode(payload(&bytes)).unwrap();
        prop_assert!(same_message(&back, &m), "{:?} -> {:?}", m, back);
    }

    /// JSON -> XML -> JSON is the identity, both through value trees and
    /// through the streaming transcoder (`Body::Json` into `encode_parts`);
    /// the canonical JSON bytes come back exactly.
    #[test]
    fn json_to_xml_to_json(m in message()) {
        let json = encode(Format::Json, &m);

        // Through trees.
        let tree = Format::Json.decode(payload(&json)).unwrap();
        let xml = encode(Format::Xml, &tree);
        let from_xml = Format::Xml.decode(payload(&xml)).unwrap();
        prop_assert!(same_message(&from_xml, &m), "{:?} -> {:?}", m, from_xml);
        prop_assert_eq!(encode(Format::Json, &from_xml), json.clone());

        // Through the transcoder.
        let env = Format::Json.decode_envelope(payload(&json)).unwrap();
        prop_assert!(matches!(env.msg, Body::Json { .. }), "JSON keeps its text");
        let topic = env.topic.as_deref().unwrap();
        let xml2 = encode_parts(Format::Xml, env.method, topic, &env.msg, env.more);
        prop_assert_eq!(&xml2, &xml);
        let back = Format::Xml.decode(payload(&xml2)).unwrap();
        prop_assert_eq!(encode(Format::Json, &back), json.clone());
        let json2 = encode_parts(Format::Json, env.method, topic, &env.msg, env.more);
        prop_assert_eq!(json2, json);
    }

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
        prop_assert_eq!(env.more, more);
        let Body::Json { ref text, .. } = env.msg else {
            return Err(TestCaseError::fail("JSON body expected"));
        };
        prop_assert_eq!(text.as_ref(), value_text.as_str());
        prop_assert!(same(&env.msg.to_value(), &v), "{:?} -> {:?}", v, env.msg.to_value());
        for f in Format::ALL {
            let bytes = encode_parts(f, env.method, "/a/b", &env.msg, env.more);
            let len = f.payload_len(env.method, "/a/b", &env.msg, env.more).unwrap();
            prop_assert_eq!(len, bytes.len() - HEADER_LEN);
            let back = f.decode(payload(&bytes)).unwrap();
            prop_assert!(same(&back.msg, &v), "{:?}: {:?} -> {:?}", f, v, back.msg);
            prop_assert_eq!(back.more, more);
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
        if m.more {
            attrs.push(("more", "true"));
        }
        if rng.below(2) == 0 {
            attrs.push(("seq", "42"));
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

    /// The broker skips the size check of a request of at most 4 KiB because
    /// rewriting it cannot inflate it past the frame limit: XML grows at most
    /// about 4x, in the most compact forms (`<item/>` becomes
    /// `<item type="str"></item>`), and its JSON form less.
    #[test]
    fn rewritten_xml_grows_at_most_4x(
        items in prop_oneof![
            prop::collection::vec(
                prop::sample::select(vec![
                    "<item/>",
                    "<item></item>",
                    "<item>a</item>",
                    r#"<item type="list"/>"#,
                    r#"<item type="null"/>"#,
                    r#"<item type="int">1</item>"#,
                ]),
                1..300,
            ),
            (1usize..300).prop_map(|n| vec!["<item/>"; n]),
        ],
    ) {
        let doc = format!(
            r#"<message method="PUBLISH" topic="/a"><msg type="list">{}</msg></message>"#,
            items.concat()
        );
        let env = Format::Xml.decode_envelope(doc.as_bytes()).unwrap();
        for f in Format::ALL {
            let len = f.payload_len(Method::LastMsg, "/a", &env.msg, false).unwrap();
            prop_assert!(len <= 4 * doc.len() + 64, "{:?}: {} from {}", f, len, doc.len());
        }
    }

    /// `payload_len` is exactly what `encode_parts` writes, for both formats
    /// and both kinds of body.
    #[test]
    fn payload_len_is_exact(m in message_any_topic()) {
        let json = encode(Format::Json, &m);
        let env = Format::Json.decode_envelope(payload(&json)).unwrap();
        let bodies = [Body::Value(Cow::Borrowed(&m.msg)), env.msg.clone()];
        for body in &bodies {
            for f in Format::ALL {
                let len = f.payload_len(m.method, &m.topic, body, m.more).unwrap();
                let bytes = encode_parts(f, m.method, &m.topic, body, m.more);
                prop_assert_eq!(len, bytes.len() - HEADER_LEN, "{:?} {:?}", f, body);
            }
        }
    }

    /// The bound used to skip measuring short payloads' XML really bounds it,
    /// for general values and for the shapes XML inflates most (lists of
    /// one-digit numbers, empty containers, `"":0` entries, long floats, `<`).
    #[test]
    fn unmeasured_xml_len_is_bounded(
        v in prop_oneof![
            value(),
            prop::collection::vec(
                prop_oneof![
                    (0i64..10).prop_map(Value::Int),
                    Just(Value::List(vec![])),
                    Just(Value::Dict(vec![])),
                    Just(Value::Null),
                    Just(Value::Bool(true)),
                    Just(Value::Float(1e15)),
                    Just(Value::Float(-1.2345678901234567e-300)),
                    Just(Value::Str("<".into())),
                    Just(Value::Dict(vec![(String::new(), Value::Int(0))])),
                ],
                0..200,
            )
            .prop_map(Value::List),
            (0usize..300).prop_map(|n| Value::List(vec![Value::Int(1); n])),
            (0usize..300).prop_map(|n| Value::List(vec![Value::List(vec![]); n])),
        ],
        topic in "/[a-z&\"<]{1,8}",
    ) {
        let m = Message::publish(topic.clone(), v);
        let json = encode(Format::Json, &m);
        let text_len = {
            let env = Format::Json.decode_envelope(payload(&json)).unwrap();
            let Body::Json { text, .. } = env.msg else { panic!("JSON body") };
            text.len()
        };
        let unmeasured = Body::Json {
            text: Cow::Borrowed(std::str::from_utf8(&payload(&json)[payload(&json).len() - 1 - text_len..payload(&json).len() - 1]).unwrap()),
            xml_len: None,
        };
        let bound = Format::Xml.max_payload_len(Method::LastMsg, &topic, &unmeasured, false).unwrap();
        let exact = Format::Xml.payload_len(Method::LastMsg, &topic, &unmeasured, false).unwrap();
        let written = encode_parts(Format::Xml, Method::LastMsg, &topic, &unmeasured, false);
        prop_assert_eq!(exact, written.len() - HEADER_LEN);
        prop_assert!(exact <= bound, "exact {} > bound {} for {:?}", exact, bound, m.msg);
    }

    /// A float stays a float in both formats, even when it is integral.
    #[test]
    fn floats_stay_floats(i in any::<i32>(), f in format()) {
        let x = f64::from(i);
        let m = Message::publish("/f", Value::List(vec![Value::Float(x), Value::Int(i.into())]));
        let back = f.decode(payload(&encode(f, &m))).unwrap();
        prop_assert!(same_message(&back, &m), "{:?} -> {:?}", m, back);
    }

    /// Chains of lists and dicts: 64 levels go through both formats, 65 are
    /// refused by the encoder (and the decoders, see `spec_rules.rs`).
    #[test]
    fn nesting_limit(kinds in prop::collection::vec(any::<bool>(), 1..70), f in format()) {
        let mut v = Value::Int(1);
        for &dict in &kinds {
            v = if dict { Value::Dict(vec![("k".into(), v)]) } else { Value::List(vec![v]) };
        }
        let m = Message::publish("/deep", v);
        let mut out = Vec::new();
        let r = f.encode(&m, &mut out);
        if kinds.len() <= 64 {
            prop_assert!(r.is_ok());
            prop_assert_eq!(f.decode(payload(&out)).unwrap(), m);
        } else {
            prop_assert!(r.is_err());
            prop_assert!(out.is_empty());
        }
    }
}

// ---------------------------------------------------------------------------
// Topics
// ---------------------------------------------------------------------------

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Normalization is a fixpoint, keeps the non-empty segments, and
    /// "is under" is segment-prefix.
    #[test]
    fn topic_normal_form(
        s in "[/a-c*# \u{e9}\u{1}]{0,12}",
        t in "/([a-c]{0,2}/){0,4}",
    ) {
        if let Ok(n) = normalize(&s) {
            let n = n.into_owned();
            prop_assert!(n.starts_with('/'));
            prop_assert!(n == "/" || (!n.ends_with('/') && !n.contains("//")));
            prop_assert!(matches!(normalize(&n), Ok(Cow::Borrowed(b)) if b == n));
            prop_assert_eq!(segments(&n).collect::<Vec<_>>(), segments(&s).collect::<Vec<_>>());
            let a = Topic::parse(&t).unwrap();
            let n = Topic::parse(&n).unwrap();
            let (ns, as_): (Vec<_>, Vec<_>) = (n.segments().collect(), a.segments().collect());
            prop_assert_eq!(n.is_under(&a), ns.starts_with(&as_));
            prop_assert_eq!(is_under(n.as_str(), a.as_str()), ns.starts_with(&as_));
        }
    }
}

// ---------------------------------------------------------------------------
// Garbage in: no panics, only reportable errors, only carryable values
// ---------------------------------------------------------------------------

/// Whether serde_json refused for a reason JSON's grammar does not give:
/// numbers beyond f64, lone surrogates, its recursion limit.
fn serde_only_refusal(e: &serde_json::Error) -> bool {
    let e = e.to_string();
    [
        "out of range",
        "surrogate",
        "hex escape",
        "unicode code point",
        "recursion limit",
    ]
    .iter()
    .any(|s| e.contains(s))
}

const JSON_FRAGMENTS: &[&str] = &[
    "[",
    "]",
    "{",
    "}",
    ",",
    ":",
    "\"",
    "\\",
    "\\u",
    "\\ud800",
    "\\udc00",
    "\\ud83d\\ude00",
    "\\b",
    "\\f",
    "\\n",
    "\\/",
    "\\u0000",
    "\\uFFFE",
    "\u{FFFE}",
    "\u{FF46}",
    "\u{F8FF}",
    "1",
    "-",
    "0",
    "01",
    "1.",
    ".5",
    "1e",
    "1e999",
    "-0.0",
    "9223372036854775808",
    "2.0",
    "true",
    "tru",
    "null",
    "nul",
    "\"k\"",
    "\"k\":",
    " ",
    "\n",
    "\t",
    "\u{1}",
    "é",
    "🎉",
];

const XML_FRAGMENTS: &[&str] = &[
    "<message",
    "<message method=\"PUBLISH\" topic=\"/a\">",
    "</message>",
    "<msg",
    "<msg>",
    "</msg>",
    "<msg type=\"list\">",
    "<msg type=\"dict\">",
    "<msg type=\"int\">",
    "<msg type=\"null\"/>",
    "<item",
    "<item type=\"str\">",
    "<item key=\"k\" type=\"float\">",
    "<item type=\"list\">",
    "</item>",
    " type=\"bool\"",
    " key=\"",
    " more=\"true\"",
    " topic=\"",
    "/>",
    ">",
    "<",
    "\"",
    "&#",
    "&#x",
    "&#13;",
    "&#0;",
    "&#1;",
    "&#xD800;",
    "&#xFFFE;",
    "&lt;",
    "&amp",
    "&foo;",
    "]]>",
    "<![CDATA[",
    "<!--",
    "-->",
    "<?xml version=\"1.0\"?>",
    "<?pi x?>",
    "<!DOCTYPE message [<!ENTITY a \"aaaa\">]>",
    "&a;",
    "true",
    " 42 ",
    "2.0",
    "\r",
    "\r\n",
    "\t",
    "\u{1}",
    "\u{FFFE}",
    "\u{FF46}",
    "漢",
];

fn fragments(set: &'static [&'static str]) -> impl Strategy<Value = Vec<u8>> {
    let piece = prop_oneof![
        4 => prop::sample::select(set).prop_map(|s| s.as_bytes().to_vec()),
        1 => prop::collection::vec(any::<u8>(), 0..4),
        1 => "[a-z/ ]{0,4}".prop_map(String::into_bytes),
    ];
    prop::collection::vec(piece, 0..24).prop_map(|ps| ps.concat())
}

/// Syntactically valid JSON, including what `msg` may not hold: `\b`, lone
/// surrogates, NUL, noncharacters, huge numbers, deep nesting.
fn any_json() -> impl Strategy<Value = String> {
    let string = prop::collection::vec(
        prop_oneof![
            "[a-z ]{1,3}",
            prop::sample::select(vec![
                "\\b", "\\f", "\\u0000", "\\ud800", "\\uDFFF", "\\uFFFE", "\\\"", "\\\\", "\\/",
                "\u{FFFE}", "\u{FF46}", "\u{7F}",
            ])
            .prop_map(str::to_owned),
        ],
        0..5,
    )
    .prop_map(|parts| format!("\"{}\"", parts.concat()));
    let number = prop_oneof![
        "-?(0|[1-9][0-9]{0,30})(\\.[0-9]{1,5})?([eE][+-]?[0-9]{1,4})?",
        Just("1e999".to_owned()),
    ];
    let leaf = prop_oneof![
        string.clone(),
        number,
        prop::sample::select(vec!["true", "false", "null"]).prop_map(str::to_owned),
    ];
    let tree = leaf.prop_recursive(4, 32, 5, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5)
                .prop_map(|items| format!("[ {} ]", items.join(" , "))),
            prop::collection::vec((string.clone(), inner), 0..5).prop_map(|entries| {
                let entries: Vec<String> = entries
                    .into_iter()
                    .map(|(k, v)| format!("{k}:{v}"))
                    .collect();
                format!("{{{}}}", entries.join(","))
            }),
        ]
    });
    (tree, 0usize..100)
        .prop_map(|(t, depth)| format!("{}{t}{}", "[".repeat(depth), "]".repeat(depth)))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Arbitrary bytes: no decoder panics.
    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        let _ = frame::decode(&bytes);
        if let Some(h) = bytes.first_chunk::<HEADER_LEN>() {
            let _ = frame::parse_header(*h);
        }
        let text = String::from_utf8_lossy(&bytes);
        let _ = Topic::parse(&text);
        let _ = normalize(&text);
        check_decoder_contract(&bytes)?;
    }

    /// Garbage where `msg` goes in an otherwise valid JSON request.
    #[test]
    fn json_msg_garbage(garbage in fragments(JSON_FRAGMENTS)) {
        let mut doc = br#"{"method":"PUBLISH","topic":"/a","msg":"#.to_vec();
        doc.extend_from_slice(&garbage);
        doc.push(b'}');
        check_decoder_contract(&doc)?;
        // Also as a JSON string's content and as a whole payload.
        let mut doc = br#"{"method":"PUBLISH","topic":"/a","msg":"\n"#.to_vec();
        doc.extend_from_slice(&garbage);
        doc.extend_from_slice(b"\"}");
        check_decoder_contract(&doc)?;
        check_decoder_contract(&garbage)?;
    }

    /// Garbage as the value of an unknown key is ignored exactly when it is
    /// JSON (serde_json as the reference), whatever the JSON holds.
    #[test]
    fn json_unknown_key_garbage(garbage in fragments(JSON_FRAGMENTS)) {
        let mut doc = br#"{"method":"PUBLISH","topic":"/a","x":"#.to_vec();
        doc.extend_from_slice(&garbage);
        doc.extend_from_slice(br#","msg":1}"#);
        check_decoder_contract(&doc)?;
        let ours = Format::Json.decode(&doc);
        let reference = serde_json::from_slice::<serde_json::Value>(&doc);
        let text = String::from_utf8_lossy(&garbage);
        let names_a_field = ["method", "topic", "msg", "more"].iter().any(|k| text.contains(k));
        if reference.is_ok() && !names_a_field {
            prop_assert_eq!(ours.clone(), Ok(Message::publish("/a", 1)));
        }
        if let (Ok(_), Err(e)) = (&ours, &reference) {
            prop_assert!(serde_only_refusal(e), "accepted, serde_json: {}", e);
        }
    }

    /// Any JSON under an unknown key is ignored; a one-byte change to it is
    /// accepted exactly when serde_json still sees JSON.
    #[test]
    fn json_unknown_key_any_json(j in any_json(), at in any::<Index>(), b in any::<u8>()) {
        let doc = format!(r#"{{"method":"PUBLISH","x":{j},"topic":"/a","msg":1}}"#);
        prop_assert_eq!(Format::Json.decode(doc.as_bytes()), Ok(Message::publish("/a", 1)));
        let mut doc = doc.into_bytes();
        let start = r#"{"method":"PUBLISH","x":"#.len();
        doc[start + at.index(j.len())] = b;
        check_decoder_contract(&doc)?;
        let ours = Format::Json.decode(&doc);
        match serde_json::from_slice::<serde_json::Value>(&doc) {
            Ok(_) => prop_assert_eq!(ours, Ok(Message::publish("/a", 1))),
            Err(e) if ours.is_ok() => {
                prop_assert!(serde_only_refusal(&e), "accepted, serde_json: {}", e);
            }
            Err(_) => {}
        }
    }

    /// XML-ish garbage, bare and inside a valid envelope.
    #[test]
    fn xml_garbage(garbage in fragments(XML_FRAGMENTS)) {
        check_decoder_contract(&garbage)?;
        let mut doc = br#"<message method="PUBLISH" topic="/a">"#.to_vec();
        doc.extend_from_slice(&garbage);
        doc.extend_from_slice(b"</message>");
        check_decoder_contract(&doc)?;
        let mut doc = br#"<message method="PUBLISH" topic="/a"><msg type="str">"#.to_vec();
        doc.extend_from_slice(&garbage);
        doc.extend_from_slice(b"</msg></message>");
        check_decoder_contract(&doc)?;
        let mut doc = br#"<message method="PUBLISH" topic=""#.to_vec();
        doc.extend_from_slice(&garbage);
        doc.extend_from_slice(b"\"/>");
        check_decoder_contract(&doc)?;
    }

    /// Valid encodings with a byte flipped, dropped or inserted.
    #[test]
    fn mutated_encodings(
        m in message(),
        f in format(),
        at in any::<Index>(),
        op in 0u8..3,
        b in any::<u8>(),
    ) {
        let bytes = encode(f, &m);
        let mut p = payload(&bytes).to_vec();
        let i = at.index(p.len());
        match op {
            0 => p[i] = b,
            1 => {
                p.remove(i);
            }
            _ => p.insert(i, b),
        }
        check_decoder_contract(&p)?;
    }
}
