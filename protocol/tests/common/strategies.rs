//! Proptest strategies for values and messages, weighted toward what
//! stresses the codecs: escaping, whitespace XML normalizes, non-ASCII and
//! astral characters, extreme and integral floats, nesting.

use proptest::prelude::*;
use protocol::value::xml_char;
use protocol::{Attrs, Format, Message, Method, Value};

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
pub fn value() -> impl Strategy<Value = Value> {
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

/// Either format.
pub fn format() -> impl Strategy<Value = Format> {
    prop::sample::select(Format::ALL.to_vec())
}

const TOPIC_RE: &str = "/[a-z]{1,5}(/[a-z0-9_-]{1,5}){0,3}";

/// Messages with topics shaped like real ones.
pub fn message() -> impl Strategy<Value = Message> {
    (method(), TOPIC_RE, value(), attrs(), links()).prop_map(
        |(method, topic, msg, attrs, (id, reply))| Message {
            method,
            topic,
            msg,
            attrs,
            id,
            reply,
        },
    )
}

/// Any `id` and `reply` (v2 §15), each maybe absent.
pub fn links() -> impl Strategy<Value = (Option<String>, Option<String>)> {
    (proptest::option::of(text()), proptest::option::of(text()))
}

/// Any combination of the top-level scalar keys.
pub fn attrs() -> impl Strategy<Value = Attrs> {
    (
        proptest::option::of(any::<u64>()),
        proptest::option::of(any::<u64>()),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(|(seq, ts, more, ack)| Attrs { seq, ts, more, ack })
}

/// Messages whose topic is any XML-legal string (the `ERROR` echo case).
pub fn message_any_topic() -> impl Strategy<Value = Message> {
    (method(), text(), value(), attrs(), links()).prop_map(
        |(method, topic, msg, attrs, (id, reply))| Message {
            method,
            topic,
            msg,
            attrs,
            id,
            reply,
        },
    )
}
