//! One test per rule of `docs/protocol.md` §3, §4, §7 and §9 on
//! how documents read and write that the unit tests in `src/` do not already
//! pin down: XML types and null, whitespace in scalars, carriage returns,
//! CDATA and entities, unknown keys, attributes and elements, the `more` flag,
//! duplicate JSON keys, DOCTYPE and declarations.

mod common;

use protocol::{Attrs, Body, DecodeError, Format, Message, Method, Value, ValueError, HEADER_LEN};

use common::documents::{encoded, round_trip, xml, xml_msg};

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
        r#"<message rev="7" method="PUBLISH" xmlns:x="urn:x" x:y="z" topic="/a">"#,
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
    m.attrs.more = true;
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
        assert!(e.attrs.more);
    }
    m.attrs.more = false;
    assert!(!encoded(Format::Json, &m).contains("more"));
    assert!(!encoded(Format::Xml, &m).contains("more"));
    for (f, payload) in [
        (Format::Json, r#"{"method":"LIST_ACK","more":false}"#),
        (Format::Json, r#"{"method":"LIST_ACK","more":"true"}"#),
        (Format::Json, r#"{"method":"LIST_ACK"}"#),
        (Format::Xml, r#"<message method="LIST_ACK" more="false"/>"#),
        (Format::Xml, r#"<message method="LIST_ACK"/>"#),
    ] {
        assert!(
            !f.decode(payload.as_bytes()).unwrap().attrs.more,
            "{payload}"
        );
    }
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
        .encode_parts(e.method, "/a", &e.msg, Attrs::NONE, &mut out)
        .unwrap();
    assert_eq!(
        Format::Xml.payload_len(e.method, "/a", &e.msg, Attrs::NONE),
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
