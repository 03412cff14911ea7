//! Property tests for the wire protocol (spec `docs/protocol.md`):
//! decoders that never panic on garbage, give reasons that can be sent back,
//! and only accept what both formats can carry.

mod common;

use proptest::prelude::*;
use proptest::sample::Index;
use protocol::topic::normalize;
use protocol::value::check_text;
use protocol::{frame, Format, Message, Topic, HEADER_LEN, MAX_PAYLOAD};

use common::strategies::{format, message};
use common::{encode, encode_linked, payload, same_message};

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
                let links = env.links();
                for g in Format::ALL {
                    let len = g.linked_payload_len(env.method, topic, &env.msg, env.attrs, links);
                    let Ok(len) = len else {
                        return Err(TestCaseError::fail(format!(
                            "{f:?} accepted {m:?}, {g:?} cannot carry it: {len:?}"
                        )));
                    };
                    if len > MAX_PAYLOAD {
                        continue;
                    }
                    let bytes = encode_linked(g, env.method, topic, &env.msg, env.attrs, links);
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
