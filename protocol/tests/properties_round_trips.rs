//! Property tests for the wire protocol (spec `docs/protocol.md`):
//! lossless round trips in both formats, the streaming JSON-to-XML
//! transcoder, exact `payload_len` and its bounds, floats and nesting.

mod common;

use std::borrow::Cow;

use proptest::prelude::*;
use protocol::{Attrs, Body, Format, Message, Method, Value, HEADER_LEN};

use common::strategies::{format, message, message_any_topic, value};
use common::{encode, encode_linked, encode_parts, payload, same, same_message};

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
        let links = env.links();
        let xml2 = encode_linked(Format::Xml, env.method, topic, &env.msg, env.attrs, links);
        prop_assert_eq!(&xml2, &xml);
        let back = Format::Xml.decode(payload(&xml2)).unwrap();
        prop_assert_eq!(encode(Format::Json, &back), json.clone());
        let json2 = encode_linked(Format::Json, env.method, topic, &env.msg, env.attrs, links);
        prop_assert_eq!(json2, json);
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
            let len = f.payload_len(Method::LastMsg, "/a", &env.msg, Attrs::NONE).unwrap();
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
                let len = f.payload_len(m.method, &m.topic, body, m.attrs).unwrap();
                let bytes = encode_parts(f, m.method, &m.topic, body, m.attrs);
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
        let bound = Format::Xml.max_payload_len(Method::LastMsg, &topic, &unmeasured, Attrs::NONE).unwrap();
        let exact = Format::Xml.payload_len(Method::LastMsg, &topic, &unmeasured, Attrs::NONE).unwrap();
        let written = encode_parts(Format::Xml, Method::LastMsg, &topic, &unmeasured, Attrs::NONE);
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
    /// refused by the encoder (and the decoders, see `spec_rules_limits.rs`).
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
