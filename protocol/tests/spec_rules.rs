//! One test per rule of `shared/spec/wire-protocol.md` §3, §4 and §9 that the
//! unit tests in `src/` do not already pin down, plus regressions for bugs
//! found by `properties.rs`.

use protocol::{
    Body, DecodeError, EncodeError, Format, FrameError, Message, Method, Topic, Value, ValueError,
    HEADER_LEN,
};

fn xml(msg_inner: &str) -> String {
    format!(r#"<message method="PUBLISH" topic="/a">{msg_inner}</message>"#)
}

fn xml_msg(payload: &str) -> Result<Value, DecodeError> {
    Format::Xml.decode(payload.as_bytes()).map(|m| m.msg)
}

fn json_msg(payload: &str) -> Result<Value, DecodeError> {
    Format::Json.decode(payload.as_bytes()).map(|m| m.msg)
}

fn json_with_msg(msg: &str) -> String {
    format!(r#"{{"method":"PUBLISH","topic":"/a","msg":{msg}}}"#)
}

fn encoded(f: Format, m: &Message) -> String {
    let mut out = Vec::new();
    f.encode(m, &mut out).unwrap();
    String::from_utf8(out[HEADER_LEN..].to_vec()).unwrap()
}

fn round_trip(f: Format, v: Value) -> Value {
    Format::decode(f, encoded(f, &Message::publish("/a", v)).as_bytes())
        .unwrap()
        .msg
}

fn forbidden(c: u32) -> DecodeError {
    DecodeError::Value(ValueError::ForbiddenChar(c))
}

// §4: types

#[test]
fn xml_type_omitted_means_str() {
    assert_eq!(xml_msg(&xml("<msg>42</msg>")), Ok(Value::Str("42".into())));
    assert_eq!(xml_msg(&xml("<msg/>")), Ok(Value::Str(String::new())));
    assert_eq!(
        xml_msg(&xml(
            r#"<msg type="list"><item>true</item><item type="bool">true</item></msg>"#
        )),
        Ok(Value::List(vec!["true".into(), Value::Bool(true)]))
    );
    assert_eq!(
        xml_msg(&xml(r#"<msg type="dict"><item key="k"> 1 </item></msg>"#)),
        Ok(Value::Dict(vec![("k".into(), " 1 ".into())]))
    );
}

#[test]
fn xml_null_forms() {
    for payload in [
        xml(r#"<msg type="null"/>"#),
        xml(r#"<msg type="null"></msg>"#),
        xml("<msg type=\"null\"> \n </msg>"),
        xml(""),
        r#"<message method="PUBLISH" topic="/a"/>"#.to_owned(),
    ] {
        assert_eq!(xml_msg(&payload), Ok(Value::Null), "{payload}");
    }
    assert!(matches!(
        xml_msg(&xml(r#"<msg type="null">x</msg>"#)),
        Err(DecodeError::Value(ValueError::BadScalar { ty: "null", .. }))
    ));
    // And null is written the short way.
    assert_eq!(
        encoded(Format::Xml, &Message::subscribe("/a")),
        r#"<message method="SUBSCRIBE" topic="/a"><msg type="null"/></message>"#
    );
}

#[test]
fn json_absent_msg_is_null_and_null_topic_is_absent() {
    let e = Format::Json
        .decode_envelope(br#"{"method":"LIST","topic":null}"#)
        .unwrap();
    assert_eq!(e.topic, None);
    assert!(e.msg.is_null());
    assert_eq!(e.to_message(), Message::new(Method::List, "", Value::Null));
    assert_eq!(
        Format::Json.decode(br#"{"method":"LIST","topic":5}"#),
        Err(DecodeError::FieldType("topic"))
    );
}

// §9: whitespace around numbers and booleans, none trimmed from strings

#[test]
fn xml_scalar_text_whitespace() {
    assert_eq!(
        xml_msg(&xml("<msg type=\"int\">\n\t 42 \r\n</msg>")),
        Ok(Value::Int(42))
    );
    assert_eq!(
        xml_msg(&xml("<msg type=\"int\"> -7</msg>")),
        Ok(Value::Int(-7))
    );
    assert_eq!(
        xml_msg(&xml("<msg type=\"float\"> 1.5\n</msg>")),
        Ok(Value::Float(1.5))
    );
    assert_eq!(
        xml_msg(&xml("<msg type=\"bool\">\ttrue </msg>")),
        Ok(Value::Bool(true))
    );
    assert_eq!(
        xml_msg(&xml("<msg type=\"bool\"> false</msg>")),
        Ok(Value::Bool(false))
    );
    assert_eq!(
        xml_msg(&xml("<msg type=\"str\">  a\tb  </msg>")),
        Ok(Value::Str("  a\tb  ".into()))
    );
    assert_eq!(
        xml_msg(&xml("<msg type=\"str\">\n\t \n</msg>")),
        Ok(Value::Str("\n\t \n".into()))
    );
    assert_eq!(
        xml_msg(&xml("<msg type=\"str\"></msg>")),
        Ok(Value::Str(String::new()))
    );
    // Whitespace inside a number is not "surrounding".
    assert!(xml_msg(&xml(r#"<msg type="int">4 2</msg>"#)).is_err());
}

#[test]
fn xml_scalar_text_strictness() {
    for bad in ["True", "1", "yes", ""] {
        assert!(
            matches!(
                xml_msg(&xml(&format!(r#"<msg type="bool">{bad}</msg>"#))),
                Err(DecodeError::Value(ValueError::BadScalar { ty: "bool", .. }))
            ),
            "bool {bad:?}"
        );
    }
    assert_eq!(
        xml_msg(&xml(r#"<msg type="int"> 9223372036854775808 </msg>"#)),
        Err(ValueError::IntOutOfRange("9223372036854775808".into()).into())
    );
    assert_eq!(
        xml_msg(&xml(r#"<msg type="int">-9223372036854775808</msg>"#)),
        Ok(Value::Int(i64::MIN))
    );
    // Not integers at all: a bad scalar, not "out of range".
    for bad in ["-", "+", "--5", "+-5", "1.0", "0x10", ""] {
        assert!(
            matches!(
                xml_msg(&xml(&format!(r#"<msg type="int">{bad}</msg>"#))),
                Err(DecodeError::Value(ValueError::BadScalar { ty: "int", .. }))
            ),
            "int {bad:?}"
        );
    }
    for bad in ["NaN", "inf", "-infinity", "1e400"] {
        assert_eq!(
            xml_msg(&xml(&format!(r#"<msg type="float">{bad}</msg>"#))),
            Err(ValueError::NonFiniteFloat.into()),
            "float {bad:?}"
        );
    }
    assert!(xml_msg(&xml(r#"<msg type="float">1.5x</msg>"#)).is_err());
    assert!(xml_msg(&xml(r#"<msg type="decimal">1</msg>"#)).is_err());
}

// §4: carriage returns

#[test]
fn xml_literal_cr_reads_as_newline_escaped_cr_as_cr() {
    assert_eq!(
        xml_msg(&xml("<msg>a\rb\r\nc\n</msg>")),
        Ok(Value::Str("a\nb\nc\n".into()))
    );
    assert_eq!(
        xml_msg(&xml("<msg>a&#13;b&#xD;&#13;&#10;</msg>")),
        Ok(Value::Str("a\rb\r\r\n".into()))
    );
    // So the writer escapes CR, in text and in attributes.
    let v = Value::Dict(vec![("k\r\t\n".into(), "x\r\ny\r".into())]);
    let text = encoded(Format::Xml, &Message::publish("/a", v.clone()));
    assert!(!text.contains('\r'), "{text:?}");
    assert!(
        text.contains(r#"<item key="k&#13;&#9;&#10;" type="str">x&#13;"#),
        "{text}"
    );
    assert_eq!(round_trip(Format::Xml, v.clone()), v);
    assert_eq!(round_trip(Format::Json, v.clone()), v);
}

#[test]
fn xml_cdata_and_predefined_entities() {
    assert_eq!(
        xml_msg(&xml(
            "<msg><![CDATA[<a & b>]]>&lt;&gt;&amp;&quot;&apos;</msg>"
        )),
        Ok(Value::Str("<a & b><>&\"'".into()))
    );
}

// §3/§4: unknown things are ignored

#[test]
fn xml_unknown_attributes_and_elements_ignored() {
    let payload = concat!(
        r#"<message seq="7" method="PUBLISH" xmlns:x="urn:x" x:y="z" topic="/a">"#,
        r#"<meta><deep a="b">t<x/></deep></meta>"#,
        r#"<msg unit="ms" type="dict">"#,
        r#"<item type="int" key="a" note="n">5</item>"#,
        r#"<item key="b" type="list"><item key="ignored" type="bool">true</item></item>"#,
        r#"</msg><later/></message>"#,
    );
    assert_eq!(
        Format::Xml.decode(payload.as_bytes()),
        Ok(Message::publish(
            "/a",
            Value::Dict(vec![
                ("a".into(), Value::Int(5)),
                ("b".into(), Value::List(vec![Value::Bool(true)])),
            ])
        ))
    );
}

#[test]
fn xml_structure_still_checked() {
    for bad in [
        xml(r#"<msg type="dict"><item type="int">1</item></msg>"#), // dict item without key
        xml(r#"<msg type="list">text</msg>"#),
        xml(r#"<msg type="int">1<item/></msg>"#),
        xml(r#"<msg type="list"><other/></msg>"#),
        xml(r#"<msg/><msg/>"#),
        xml("stray text"),
        xml("<msg>a</msg>") + "<message/>",
        r#"<msg type="int">1</msg>"#.to_owned(),
        xml("<msg>a</ms>"),
    ] {
        assert!(Format::Xml.decode(bad.as_bytes()).is_err(), "{bad}");
    }
}

#[test]
fn json_unknown_keys_ignored() {
    // Whatever valid JSON an unknown key holds is skipped, even what `msg`
    // could not carry: deep nesting, escapes XML cannot hold, huge numbers.
    let deep = format!("{}1{}", "[{\"k\":".repeat(50), "}]".repeat(50));
    let doc = format!(
        concat!(
            r#"{{"seq":123456789012345678901234567890,"#,
            r#""x":{{"a":["\b\f\u0000\ud800\uFFFE",1e999,true,null,{{}},[]]}},"#,
            r#""method":"PUBLISH","deep":{deep},"topic":"/a","msg":1,"z":-0.5e-3}}"#,
        ),
        deep = deep
    );
    assert_eq!(
        Format::Json.decode(doc.as_bytes()),
        Ok(Message::publish("/a", 1))
    );
    // ... but it must still be JSON.
    for bad in [
        r#"{"method":"LIST","x":[1,]}"#,
        r#"{"method":"LIST","x":{"a"}}"#,
        r#"{"method":"LIST","x":"\x"}"#,
        r#"{"method":"LIST","x":"\u12"}"#,
        r#"{"method":"LIST","x":01}"#,
        r#"{"method":"LIST","x":[}"#,
        r#"{"method":"LIST","x":{"a":1]}"#,
        r#"{"method":"LIST","x":tru}"#,
        "{\"method\":\"LIST\",\"x\":\"\t\"}",
        r#"{"method":"LIST","x":}"#,
        r#"{"method":"LIST","x":[1]"#,
    ] {
        assert!(
            matches!(
                Format::Json.decode(bad.as_bytes()),
                Err(DecodeError::Json { .. })
            ),
            "{bad}"
        );
    }
}

// §7: the more flag

#[test]
fn more_flag_in_both_formats() {
    let mut m = Message::new(Method::ListAck, "/", Value::List(vec!["/a".into()]));
    m.more = true;
    let json = encoded(Format::Json, &m);
    assert_eq!(
        json,
        r#"{"method":"LIST_ACK","topic":"/","msg":["/a"],"more":true}"#
    );
    let xml_text = encoded(Format::Xml, &m);
    assert!(
        xml_text.starts_with(r#"<message method="LIST_ACK" topic="/" more="true">"#),
        "{xml_text}"
    );
    for f in Format::ALL {
        let text = encoded(f, &m);
        assert_eq!(f.decode(text.as_bytes()), Ok(m.clone()));
        let e = f.decode_envelope(text.as_bytes()).unwrap();
        assert!(e.more);
    }
    m.more = false;
    assert!(!encoded(Format::Json, &m).contains("more"));
    assert!(!encoded(Format::Xml, &m).contains("more"));
    for (f, payload) in [
        (Format::Json, r#"{"method":"LIST_ACK","more":false}"#),
        (Format::Json, r#"{"method":"LIST_ACK","more":"true"}"#),
        (Format::Json, r#"{"method":"LIST_ACK"}"#),
        (Format::Xml, r#"<message method="LIST_ACK" more="false"/>"#),
        (Format::Xml, r#"<message method="LIST_ACK"/>"#),
    ] {
        assert!(!f.decode(payload.as_bytes()).unwrap().more, "{payload}");
    }
}

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

// §3: duplicate keys

#[test]
fn json_duplicate_msg_last_wins() {
    let payload = br#"{"method":"PUBLISH","msg":1,"topic":"/a","msg":[2, "x"]}"#;
    let e = Format::Json.decode_envelope(payload).unwrap();
    let Body::Json { ref text, .. } = e.msg else {
        panic!("JSON body")
    };
    assert_eq!(text, r#"[2, "x"]"#);
    let want = Value::List(vec![Value::Int(2), "x".into()]);
    assert_eq!(e.to_message().msg, want);
    let mut out = Vec::new();
    Format::Xml
        .encode_parts(e.method, "/a", &e.msg, false, &mut out)
        .unwrap();
    assert_eq!(
        Format::Xml.payload_len(e.method, "/a", &e.msg, false),
        Ok(out.len() - HEADER_LEN)
    );
    assert_eq!(Format::Xml.decode(&out[HEADER_LEN..]).unwrap().msg, want);
    assert_eq!(
        Format::Json
            .decode(br#"{"method":"PUBLISH","topic":"/a","topic":"/b"}"#)
            .unwrap()
            .topic,
        "/b"
    );
}

// DOCTYPE and entities

#[test]
fn xml_doctype_and_custom_entities_refused() {
    let laughs = concat!(
        r#"<?xml version="1.0"?><!DOCTYPE message ["#,
        r#"<!ENTITY a "aaaaaaaaaa">"#,
        r#"<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">"#,
        r#"<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">"#,
        r#"]><message method="PUBLISH" topic="/a"><msg>&c;</msg></message>"#,
    );
    assert!(Format::Xml.decode(laughs.as_bytes()).is_err());
    let doctype_only = r#"<!DOCTYPE message><message method="LIST"/>"#;
    assert!(Format::Xml.decode(doctype_only.as_bytes()).is_err());
    let late_doctype = r#"<message method="LIST"/><!DOCTYPE message>"#;
    assert!(Format::Xml.decode(late_doctype.as_bytes()).is_err());
    assert!(xml_msg(&xml("<msg>&c;</msg>")).is_err());
    assert!(xml_msg(&xml("<msg>&amp</msg>")).is_err());
}

#[test]
fn xml_declaration_comments_and_pis_allowed() {
    // Python's ElementTree writes a single-quoted declaration and a newline.
    let payload = concat!(
        "<?xml version='1.0' encoding='utf-8'?>\n<!-- c -->",
        r#"<message method="PUBLISH" topic="/a"><?pi x?>"#,
        r#"<msg type="int">1<!-- c --></msg></message>"#,
        "\n",
    );
    assert_eq!(
        Format::Xml.decode(payload.as_bytes()),
        Ok(Message::publish("/a", 1))
    );
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
                f.payload_len(m.method, &m.topic, &body, false),
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
        .encode_parts(e.method, "/a", &e.msg, false, &mut out)
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
fn topics_xml_cannot_carry_are_refused_in_and_out() {
    // An XML topic attribute holding a control character used to be
    // accepted, then the broker's JSON re-encoding of it did not decode.
    assert_eq!(
        Format::Xml.decode(br#"<message method="PUBLISH" topic="/a&#1;"/>"#),
        Err(forbidden(1))
    );
    assert_eq!(
        Format::Xml.decode(b"<message method=\"PUBLISH\" topic=\"/a\x01\"/>"),
        Err(forbidden(1))
    );
    assert_eq!(
        Format::Json.decode(br#"{"method":"PUBLISH","topic":"/a\u0001"}"#),
        Err(forbidden(1))
    );
    // Encoding refuses such a topic in both formats (JSON used to write it).
    for f in Format::ALL {
        let mut out = b"keep".to_vec();
        let r = f.encode(&Message::publish("/a\u{1}", 1), &mut out);
        assert_eq!(
            r,
            Err(EncodeError::Value(ValueError::ForbiddenChar(1))),
            "{f:?}"
        );
        assert_eq!(out, b"keep");
        let r = f.payload_len(Method::Error, "\u{FFFE}", &Body::NULL, false);
        assert_eq!(
            r,
            Err(EncodeError::Value(ValueError::ForbiddenChar(0xFFFE))),
            "{f:?}"
        );
    }
    // recover_topic only offers topics an ERROR can echo.
    assert_eq!(
        Format::Json.recover_topic(br#"{"method":"NOPE","topic":"/a\u0001"}"#),
        None
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
