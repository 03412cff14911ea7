//! One test per rule of `docs/protocol.md` §1, §2, §4-§7 and §9
//! on what both formats can carry that the unit tests in `src/` do not already
//! pin down: nesting depth, characters XML cannot carry, the frame limit,
//! floats, exact names and topic order; plus regressions for bugs found by
//! the property tests (`properties_*.rs`).

mod common;

use protocol::{
    Attrs, Body, DecodeError, EncodeError, Format, FrameError, Message, Method, Topic, Value,
    ValueError, HEADER_LEN,
};

use common::documents::{encoded, forbidden, json_msg, json_with_msg, round_trip, xml, xml_msg};

// §9: nesting

fn xml_chain(kinds: &[bool]) -> String {
    let mut open = String::new();
    let mut close = String::new();
    for (i, &dict) in kinds.iter().enumerate() {
        let name = if i == 0 { "msg" } else { "item" };
        let parent_is_dict = i > 0 && kinds[i - 1];
        let key = if parent_is_dict { r#" key="k""# } else { "" };
        let ty = if dict { "dict" } else { "list" };
        open.push_str(&format!(r#"<{name}{key} type="{ty}">"#));
        close = format!("</{name}>{close}");
    }
    let key = if kinds.last() == Some(&true) {
        r#" key="k""#
    } else {
        ""
    };
    xml(&format!(r#"{open}<item{key} type="int">1</item>{close}"#))
}

fn json_chain(kinds: &[bool]) -> String {
    let open: String = kinds
        .iter()
        .map(|&d| if d { r#"{"k":"# } else { "[" })
        .collect();
    let close: String = kinds
        .iter()
        .rev()
        .map(|&d| if d { "}" } else { "]" })
        .collect();
    json_with_msg(&format!("{open}1{close}"))
}

fn chain_value(kinds: &[bool]) -> Value {
    kinds.iter().rev().fold(Value::Int(1), |v, &dict| {
        if dict {
            Value::Dict(vec![("k".into(), v)])
        } else {
            Value::List(vec![v])
        }
    })
}

#[test]
fn nesting_64_accepted_65_refused_lists_dicts_mixed() {
    let shapes: [fn(usize) -> bool; 3] = [|_| true, |_| false, |i| i % 3 == 0];
    for shape in shapes {
        for depth in [63, 64, 65, 66] {
            let kinds: Vec<bool> = (0..depth).map(shape).collect();
            let want = if depth <= 64 {
                Ok(chain_value(&kinds))
            } else {
                Err(DecodeError::Value(ValueError::TooDeep))
            };
            assert_eq!(xml_msg(&xml_chain(&kinds)), want, "XML depth {depth}");
            assert_eq!(json_msg(&json_chain(&kinds)), want, "JSON depth {depth}");
            for f in Format::ALL {
                let mut out = Vec::new();
                let r = f.encode(&Message::publish("/a", chain_value(&kinds)), &mut out);
                assert_eq!(r.is_ok(), depth <= 64, "{f:?} encode depth {depth}");
            }
        }
    }
}

// §4: characters XML cannot carry

#[test]
fn noncharacters_fffe_ffff_refused_everywhere() {
    for (c, code) in [('\u{FFFE}', 0xFFFE), ('\u{FFFF}', 0xFFFF)] {
        let raw = json_with_msg(&format!("\"a{c}\""));
        assert_eq!(json_msg(&raw), Err(forbidden(code)));
        let after_escape = json_with_msg(&format!("\"\\n{c}\""));
        assert_eq!(json_msg(&after_escape), Err(forbidden(code)));
        let escaped = json_with_msg(&format!("\"\\u{code:04x}\""));
        assert_eq!(json_msg(&escaped), Err(forbidden(code)));
        let key = json_with_msg(&format!("{{\"{c}\":1}}"));
        assert_eq!(json_msg(&key), Err(forbidden(code)));
        assert_eq!(
            xml_msg(&xml(&format!("<msg>{c}</msg>"))),
            Err(forbidden(code))
        );
        assert_eq!(
            xml_msg(&xml(&format!("<msg>&#x{code:X};</msg>"))),
            Err(forbidden(code))
        );
        let xml_key = xml(&format!(
            r#"<msg type="dict"><item key="{c}">1</item></msg>"#
        ));
        assert_eq!(xml_msg(&xml_key), Err(forbidden(code)));
        for f in Format::ALL {
            let mut out = b"keep".to_vec();
            let r = f.encode(&Message::publish("/a", Value::Str(c.to_string())), &mut out);
            assert_eq!(r, Err(EncodeError::Value(ValueError::ForbiddenChar(code))));
            assert_eq!(out, b"keep");
        }
    }
    // Their neighbours are fine.
    assert_eq!(
        json_msg(&json_with_msg("\"\u{FFFD}\\ufffd\u{FF46}\"")),
        Ok("\u{FFFD}\u{FFFD}\u{FF46}".into())
    );
}

#[test]
fn backspace_and_formfeed_refused() {
    assert_eq!(json_msg(&json_with_msg(r#""a\bc""#)), Err(forbidden(0x08)));
    assert_eq!(json_msg(&json_with_msg(r#""a\fc""#)), Err(forbidden(0x0C)));
    assert_eq!(
        json_msg(&json_with_msg(r#""\u0008""#)),
        Err(forbidden(0x08))
    );
    assert_eq!(
        json_msg(&json_with_msg(r#"{"\f":1}"#)),
        Err(forbidden(0x0C))
    );
    // XML cannot carry them at all, escaped or not.
    assert!(xml_msg(&xml("<msg>&#8;</msg>")).is_err());
    assert!(xml_msg(&xml("<msg>&#xC;</msg>")).is_err());
    assert!(xml_msg(&xml("<msg>\u{8}</msg>")).is_err());
    for f in Format::ALL {
        let mut out = Vec::new();
        let r = f.encode(&Message::publish("/a", "\u{8}"), &mut out);
        assert_eq!(r, Err(EncodeError::Value(ValueError::ForbiddenChar(8))));
    }
}

#[test]
fn surrogates_and_nul_refused() {
    assert_eq!(
        json_msg(&json_with_msg(r#""\udc00""#)),
        Err(ValueError::LoneSurrogate(0xDC00).into())
    );
    assert_eq!(
        json_msg(&json_with_msg(r#""\ud800x""#)),
        Err(ValueError::LoneSurrogate(0xD800).into())
    );
    assert_eq!(
        json_msg(&json_with_msg(r#""\ud800\u0041""#)),
        Err(ValueError::LoneSurrogate(0xD800).into())
    );
    assert_eq!(
        json_msg(&json_with_msg(r#""\ud83d\ude00""#)),
        Ok("😀".into())
    );
    assert_eq!(json_msg(&json_with_msg(r#""\u0000""#)), Err(forbidden(0)));
    assert!(xml_msg(&xml("<msg>&#xD800;</msg>")).is_err());
    assert!(xml_msg(&xml("<msg>&#0;</msg>")).is_err());
    assert_eq!(xml_msg(&xml("<msg>&#x1F600;</msg>")), Ok("😀".into()));
}

// §1, §7: the frame limit

#[test]
fn frame_limit_is_exact_in_both_formats() {
    let envelopes = [
        (
            Format::Json,
            r#"{"method":"PUBLISH","topic":"/a","msg":""}"#.len(),
        ),
        (
            Format::Xml,
            r#"<message method="PUBLISH" topic="/a"><msg type="str"></msg></message>"#.len(),
        ),
    ];
    for (f, overhead) in envelopes {
        for (len, fits) in [(99_999, true), (100_000, false)] {
            let m = Message::publish("/a", "x".repeat(len - overhead));
            let body = Body::Value(std::borrow::Cow::Borrowed(&m.msg));
            assert_eq!(
                f.payload_len(m.method, &m.topic, &body, Attrs::NONE),
                Ok(len),
                "{f:?}"
            );
            let mut out = b"keep".to_vec();
            let r = f.encode(&m, &mut out);
            if fits {
                assert_eq!(r, Ok(()), "{f:?}");
                assert_eq!(&out[4..4 + HEADER_LEN], b"99999");
                assert_eq!(out.len(), 4 + HEADER_LEN + len);
            } else {
                assert_eq!(
                    r,
                    Err(EncodeError::Frame(FrameError::TooLarge(len))),
                    "{f:?}"
                );
                assert_eq!(out, b"keep");
            }
        }
    }
}

// §4: a float stays a float

#[test]
fn floats_stay_floats() {
    let m = Message::publish("/f", Value::Float(2.0));
    assert!(encoded(Format::Json, &m).contains(r#""msg":2.0}"#));
    assert!(encoded(Format::Xml, &m).contains(r#"<msg type="float">2.0</msg>"#));
    for f in Format::ALL {
        assert_eq!(round_trip(f, Value::Float(2.0)), Value::Float(2.0));
        let z = round_trip(f, Value::Float(-0.0));
        assert!(
            matches!(z, Value::Float(z) if z.to_bits() == (-0.0f64).to_bits()),
            "{z:?}"
        );
        assert_eq!(round_trip(f, Value::Float(1e300)), Value::Float(1e300));
    }
    assert_eq!(json_msg(&json_with_msg("2.0")), Ok(Value::Float(2.0)));
    assert_eq!(json_msg(&json_with_msg("2e0")), Ok(Value::Float(2.0)));
    assert_eq!(json_msg(&json_with_msg("2")), Ok(Value::Int(2)));
    assert_eq!(json_msg(&json_with_msg("-0")), Ok(Value::Int(0)));
    assert_eq!(
        xml_msg(&xml(r#"<msg type="float">2</msg>"#)),
        Ok(Value::Float(2.0))
    );
    // JSON -> XML by the streaming transcoder keeps it a float too.
    let doc = json_with_msg("[2.0, 2]");
    let e = Format::Json.decode_envelope(doc.as_bytes()).unwrap();
    let mut out = Vec::new();
    Format::Xml
        .encode_parts(e.method, "/a", &e.msg, Attrs::NONE, &mut out)
        .unwrap();
    let text = String::from_utf8(out).unwrap();
    assert!(
        text.contains(r#"<item type="float">2.0</item><item type="int">2</item>"#),
        "{text}"
    );
}

// §2, §5, §6: exact names and topic order

#[test]
fn names_match_exactly() {
    assert_eq!(Format::from_handshake(b"JSONQueue"), Some(Format::Json));
    assert_eq!(Format::from_handshake(b"XMLQueue"), Some(Format::Xml));
    for bad in [
        &b"jsonqueue"[..],
        b"JSONQueue ",
        b" XMLQueue",
        b"XMLQUEUE",
        b"",
    ] {
        assert_eq!(Format::from_handshake(bad), None);
    }
    assert_eq!(
        Format::Xml.decode(br#"<message method="publish" topic="/a"/>"#),
        Err(DecodeError::UnknownMethod("publish".into()))
    );
    assert_eq!(
        Format::Xml.decode(br#"<message topic="/a"/>"#),
        Err(DecodeError::MissingMethod)
    );
    for m in Method::ALL {
        assert_eq!(Method::from_name(m.as_str()), Some(m));
        assert_eq!(Method::from_name(&m.as_str().to_lowercase()), None);
    }
}

#[test]
fn topics_sort_by_bytes() {
    let mut topics: Vec<Topic<'_>> = ["/a/b", "/b", "/a-b", "/a", "/A"]
        .iter()
        .map(|t| Topic::parse(t).unwrap())
        .collect();
    topics.sort();
    let sorted: Vec<&str> = topics.iter().map(Topic::as_str).collect();
    assert_eq!(sorted, ["/A", "/a", "/a-b", "/a/b", "/b"]);
}

// Regressions for bugs found by the property tests

#[test]
fn json_escape_then_three_byte_char_does_not_panic() {
    // An escape switches the string reader to its owned path; a following
    // character starting with byte 0xEF (U+F000..U+FFFD, e.g. full-width
    // forms) used to be sliced in the middle and panic.
    assert_eq!(
        json_msg(&json_with_msg("\"a\\nｆｕｌｌ\"")),
        Ok("a\nｆｕｌｌ".into())
    );
    assert_eq!(
        json_msg(&json_with_msg(
            "{\"\\tｋ\\u00e9\u{F8FF}\":\"\\\"\u{FFFD}x\"}"
        )),
        Ok(Value::Dict(vec![(
            "\tｋé\u{F8FF}".into(),
            "\"\u{FFFD}x".into()
        )]))
    );
}

#[test]
fn topics_xml_cannot_carry_are_refused_in_xml_and_echoed_in_json() {
    // An XML topic attribute holding a control character is refused: XML
    // 1.0 cannot carry it, so no XML frame could echo it.
    assert_eq!(
        Format::Xml.decode(br#"<message method="PUBLISH" topic="/a&#1;"/>"#),
        Err(forbidden(1))
    );
    assert_eq!(
        Format::Xml.decode(b"<message method=\"PUBLISH\" topic=\"/a\x01\"/>"),
        Err(forbidden(1))
    );
    // JSON escapes any character: the topic decodes (the topic rules refuse
    // it later), and an ERROR can echo it as received (v1 section 5).
    assert_eq!(
        Format::Json.decode(br#"{"method":"PUBLISH","topic":"/a\u0001"}"#),
        Ok(Message::publish("/a\u{1}", Value::Null))
    );
    let mut out = Vec::new();
    Format::Json
        .encode(&Message::new(Method::Error, "/a\u{1}", "bad"), &mut out)
        .unwrap();
    assert_eq!(
        &out[HEADER_LEN..],
        br#"{"method":"ERROR","topic":"/a\u0001","msg":"bad"}"#
    );
    assert_eq!(
        Format::Json.decode(&out[HEADER_LEN..]).unwrap().topic,
        "/a\u{1}"
    );
    // XML encoding refuses it.
    let mut out = b"keep".to_vec();
    let r = Format::Xml.encode(&Message::publish("/a\u{1}", 1), &mut out);
    assert_eq!(r, Err(EncodeError::Value(ValueError::ForbiddenChar(1))));
    assert_eq!(out, b"keep");
    let r = Format::Xml.payload_len(Method::Error, "\u{FFFE}", &Body::NULL, Attrs::NONE);
    assert_eq!(
        r,
        Err(EncodeError::Value(ValueError::ForbiddenChar(0xFFFE)))
    );
    // recover_topic only offers topics an ERROR in that format can echo.
    assert_eq!(
        Format::Json
            .recover_topic(br#"{"method":"NOPE","topic":"/a\u0001"}"#)
            .as_deref(),
        Some("/a\u{1}")
    );
    assert_eq!(
        Format::Xml.recover_topic(b"<message method=\"NOPE\" topic=\"/a\x01\"/>"),
        None
    );
    assert_eq!(
        Format::Json
            .recover_topic(br#"{"method":"NOPE","topic":"/a\tb"}"#)
            .as_deref(),
        Some("/a\tb")
    );
}

#[test]
fn xml_error_reasons_can_be_sent_back() {
    // quick-xml quotes the input in its messages; the reason goes into an
    // ERROR frame, so it must hold only characters both formats carry.
    for payload in [
        &b"<message method=\"PUBLISH\"><msg type=\"list\"><\x0bitem/></msg></message>"[..],
        b"<message method=\"PUBLISH\"><msg>&a\x01;</msg></message>",
        b"<message method=\"PUBLISH\"><msg></ms\x01></message>",
    ] {
        let err = Format::Xml.decode(payload).unwrap_err();
        let reason = err.to_string();
        assert!(protocol::value::check_text(&reason).is_ok(), "{reason:?}");
        let mut out = Vec::new();
        Format::Xml
            .encode(&Message::new(Method::Error, "", reason.as_str()), &mut out)
            .unwrap();
    }
}
