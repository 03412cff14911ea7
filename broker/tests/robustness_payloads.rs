//! Robustness through real sockets (spec §6, §9): undecodable JSON and XML
//! payloads, deep nesting included, get an ERROR and leave the connection
//! usable.

mod common;

use common::wire::assert_each_refused_connection_usable;
use common::{start_broker, Raw};
use protocol::{Format, Method};

// ---------------------------------------------------------------------------
// Undecodable payloads: ERROR, the connection stays usable (spec §6, §9)
// ---------------------------------------------------------------------------

fn nested(open: &str, close: &str, depth: usize) -> String {
    let mut s = open.repeat(depth);
    s.push_str(&close.repeat(depth));
    s
}

#[test]
fn invalid_json_gets_error_and_connection_stays_usable() {
    let mut cases: Vec<(String, Vec<u8>, bool)> = Vec::new();
    let mut add = |what: &str, payload: Vec<u8>, no_topic: bool| {
        cases.push((what.to_owned(), payload, no_topic));
    };
    add("{\"method\":", b"{\"method\":".to_vec(), true);
    add(
        "truncated object",
        br#"{"method": "PUBLISH", "topic": "/a", "msg": 1"#.to_vec(),
        false,
    );
    add(
        "truncated string",
        br#"{"method": "PUBLISH", "topic": "/a", "msg": "abc"#.to_vec(),
        false,
    );
    add("lone {", b"{".to_vec(), true);
    add("lone }", b"}".to_vec(), true);
    add("null", b"null".to_vec(), true);
    add("array", b"[1,2]".to_vec(), true);
    add("string", b"\"PUBLISH\"".to_vec(), true);
    add("number", b"42".to_vec(), true);
    add("spaces", b"     ".to_vec(), true);
    add("not JSON", b"hello world".to_vec(), true);
    add("NUL bytes", vec![0; 32], true);
    add("raw non-UTF-8", b"\xff\xfe\xfd".to_vec(), true);
    add(
        "non-UTF-8 in msg",
        b"{\"method\":\"PUBLISH\",\"topic\":\"/a\",\"msg\":\"\xff\xfe\"}".to_vec(),
        false,
    );
    add(
        "overlong UTF-8",
        b"{\"method\":\"PUBLISH\",\"topic\":\"/a\",\"msg\":\"\xc0\xaf\"}".to_vec(),
        false,
    );
    add(
        "encoded surrogate",
        b"{\"method\":\"PUBLISH\",\"topic\":\"/a\",\"msg\":\"\xed\xa0\x80\"}".to_vec(),
        false,
    );
    add(
        "lone surrogate escape",
        br#"{"method":"PUBLISH","topic":"/a","msg":"\ud800"}"#.to_vec(),
        false,
    );
    add(
        "control character",
        br#"{"method":"PUBLISH","topic":"/a","msg":"\u0001"}"#.to_vec(),
        false,
    );
    add(
        "raw control character in string",
        b"{\"method\":\"PUBLISH\",\"topic\":\"/a\",\"msg\":\"a\x01b\"}".to_vec(),
        false,
    );
    add(
        "bad escape",
        br#"{"method":"PUBLISH","topic":"/a","msg":"\q"}"#.to_vec(),
        false,
    );
    add(
        "integer over i64",
        br#"{"method":"PUBLISH","topic":"/a","msg":9223372036854775808}"#.to_vec(),
        false,
    );
    add(
        "huge integer",
        format!(
            r#"{{"method":"PUBLISH","topic":"/a","msg":{}}}"#,
            "9".repeat(5000)
        )
        .into_bytes(),
        false,
    );
    add(
        "infinite float",
        br#"{"method":"PUBLISH","topic":"/a","msg":1e999}"#.to_vec(),
        false,
    );
    add(
        "NaN",
        br#"{"method":"PUBLISH","topic":"/a","msg":NaN}"#.to_vec(),
        false,
    );
    add(
        "trailing garbage",
        br#"{"method":"PUBLISH","topic":"/a","msg":1} x"#.to_vec(),
        false,
    );
    add(
        "two objects",
        br#"{"method":"PUBLISH","topic":"/a","msg":1}{"method":"PUBLISH","topic":"/a","msg":2}"#
            .to_vec(),
        false,
    );
    add(
        "trailing comma",
        br#"{"method":"PUBLISH","topic":"/a","msg":1,}"#.to_vec(),
        false,
    );
    add("no method", br#"{"topic":"/a","msg":1}"#.to_vec(), false);
    add(
        "method not a string",
        br#"{"method":1,"topic":"/a"}"#.to_vec(),
        false,
    );
    add(
        "lower-case method",
        br#"{"method":"publish","topic":"/a","msg":1}"#.to_vec(),
        false,
    );
    add(
        "unknown method",
        br#"{"method":"DELETE","topic":"/a"}"#.to_vec(),
        false,
    );
    add(
        "broker-only method",
        br#"{"method":"LAST_MSG","topic":"/a","msg":1}"#.to_vec(),
        false,
    );
    add(
        "LIST with a non-string cursor",
        br#"{"method":"LIST","topic":"/","msg":[1]}"#.to_vec(),
        false,
    );
    // Deep nesting: must be refused without recursing 10,000 levels.
    add("10,000 unclosed [", "[".repeat(10_000).into_bytes(), true);
    add(
        "10,000 nested lists as the payload",
        nested("[", "]", 10_000).into_bytes(),
        true,
    );
    add(
        "10,000 nested lists in msg",
        format!(
            r#"{{"method":"PUBLISH","topic":"/a","msg":{}}}"#,
            nested("[", "]", 10_000)
        )
        .into_bytes(),
        false,
    );
    add(
        "10,000 nested dicts in msg",
        format!(
            r#"{{"method":"PUBLISH","topic":"/a","msg":{}1{}}}"#,
            r#"{"k":"#.repeat(10_000),
            "}".repeat(10_000)
        )
        .into_bytes(),
        false,
    );
    add(
        "65 nested lists (spec §9 limit)",
        format!(
            r#"{{"method":"PUBLISH","topic":"/a","msg":{}}}"#,
            nested("[", "]", 65)
        )
        .into_bytes(),
        false,
    );
    add("99999 bytes of garbage", vec![b'#'; 99_999], true);
    add(
        "value too large for a frame",
        format!(
            r#"{{"method":"PUBLISH","topic":"/a","msg":"{}"}}"#,
            "<".repeat(40_000)
        )
        .into_bytes(),
        false,
    );
    assert_each_refused_connection_usable(Format::Json, &cases);
}

/// Deep nesting where the spec does not say whether it is refused (inside
/// keys and elements the broker ignores): either an ERROR or acceptance, but
/// no crash, and the connection stays usable.
#[test]
fn deep_nesting_in_ignored_parts_does_not_crash() {
    let b = start_broker();
    let json: Vec<Vec<u8>> = vec![
        format!(
            r#"{{"method":"PUBLISH","topic":"/ign","x":{},"msg":1}}"#,
            nested("[", "]", 10_000)
        )
        .into_bytes(),
        format!(
            r#"{{"method":"PUBLISH","topic":"/ign","x":{}1{},"msg":1}}"#,
            r#"{"a":"#.repeat(10_000),
            "}".repeat(10_000)
        )
        .into_bytes(),
    ];
    let xml: Vec<Vec<u8>> = vec![
        format!(
            r#"<message method="PUBLISH" topic="/ign">{}<msg type="int">1</msg></message>"#,
            nested("<x>", "</x>", 10_000)
        )
        .into_bytes(),
        format!(
            r#"<message method="PUBLISH" topic="/ign"><msg type="int">1</msg>{}</message>"#,
            nested("<x>", "</x>", 10_000)
        )
        .into_bytes(),
    ];
    for (format, cases) in [(Format::Json, json), (Format::Xml, xml)] {
        let mut c = Raw::handshake(b.addr, format);
        for payload in cases {
            c.send_payload(&payload);
            let replies = c.barrier();
            assert!(
                replies.is_empty() || (replies.len() == 1 && replies[0].method == Method::Error),
                "{format:?}: {replies:?}"
            );
            c.publish("/ign/ok", 2);
            let replies = c.barrier();
            assert!(replies.is_empty(), "{format:?}: {replies:?}");
        }
    }
}

#[test]
fn json_nesting_limit_is_64() {
    let b = start_broker();
    let mut c = Raw::json(b.addr);
    c.subscribe("/deep");
    c.barrier();
    let payload = format!(
        r#"{{"method":"PUBLISH","topic":"/deep","msg":{}}}"#,
        nested("[", "]", 64)
    );
    c.send_payload(payload.as_bytes());
    let m = c.recv();
    assert_eq!(
        m.method,
        Method::Publish,
        "64 levels must be accepted: {m:?}"
    );
    let mut xml = Raw::xml(b.addr);
    xml.subscribe("/deep");
    let m = xml.recv_skipping_lists();
    assert_eq!(m.method, Method::LastMsg, "{m:?}");
}

#[test]
fn invalid_xml_gets_error_and_connection_stays_usable() {
    let mut cases: Vec<(String, Vec<u8>, bool)> = Vec::new();
    let mut add = |what: &str, payload: Vec<u8>, no_topic: bool| {
        cases.push((what.to_owned(), payload, no_topic));
    };
    let head = r#"<message method="PUBLISH" topic="/a">"#;
    add(
        "unclosed message",
        format!(r#"{head}<msg type="int">1</msg>"#).into_bytes(),
        false,
    );
    add(
        "unclosed msg",
        format!(r#"{head}<msg type="int">1"#).into_bytes(),
        false,
    );
    add("open tag only", b"<message".to_vec(), true);
    add(
        "attribute unterminated",
        br#"<message method="PUBLISH"#.to_vec(),
        true,
    );
    add(
        "mismatched end tags",
        format!(r#"{head}<msg type="int">1</message></msg>"#).into_bytes(),
        false,
    );
    add(
        "misspelt end tag",
        format!(r#"{head}<msg type="int">1</msg></massage>"#).into_bytes(),
        false,
    );
    add(
        "stray end tag",
        format!(r#"{head}<msg type="int">1</msg></item></message>"#).into_bytes(),
        false,
    );
    add("not XML", b"hello world".to_vec(), true);
    add(
        "JSON to an XML client",
        br#"{"method":"PUBLISH","topic":"/a","msg":1}"#.to_vec(),
        true,
    );
    add("wrong root", br#"<msg type="int">1</msg>"#.to_vec(), true);
    add(
        "two roots",
        format!(r#"{head}</message>{head}</message>"#).into_bytes(),
        false,
    );
    add(
        "non-UTF-8",
        format!("{head}<msg>\u{0}</msg></message>")
            .into_bytes()
            .into_iter()
            .map(|b| if b == 0 { 0xff } else { b })
            .collect(),
        false,
    );
    add(
        "bad int",
        format!(r#"{head}<msg type="int">abc</msg></message>"#).into_bytes(),
        false,
    );
    add(
        "int over i64",
        format!(r#"{head}<msg type="int">9223372036854775808</msg></message>"#).into_bytes(),
        false,
    );
    add(
        "bad bool",
        format!(r#"{head}<msg type="bool">yes</msg></message>"#).into_bytes(),
        false,
    );
    add(
        "infinite float",
        format!(r#"{head}<msg type="float">inf</msg></message>"#).into_bytes(),
        false,
    );
    add(
        "unknown type",
        format!(r#"{head}<msg type="blob">x</msg></message>"#).into_bytes(),
        false,
    );
    add(
        "forbidden character reference",
        format!(r#"{head}<msg>&#0;</msg></message>"#).into_bytes(),
        false,
    );
    add(
        "out of range character reference",
        format!(r#"{head}<msg>&#x110000;</msg></message>"#).into_bytes(),
        false,
    );
    add(
        "unknown entity",
        format!(r#"{head}<msg>&nope;</msg></message>"#).into_bytes(),
        false,
    );
    add(
        "lower-case method",
        br#"<message method="publish" topic="/a"><msg>x</msg></message>"#.to_vec(),
        false,
    );
    add(
        "no method",
        br#"<message topic="/a"><msg>x</msg></message>"#.to_vec(),
        false,
    );
    add(
        "duplicate attribute",
        br#"<message method="PUBLISH" method="LIST" topic="/a"/>"#.to_vec(),
        false,
    );
    add(
        "two msg elements",
        format!(r#"{head}<msg>1</msg><msg>2</msg></message>"#).into_bytes(),
        false,
    );
    add(
        "text in a list",
        format!(r#"{head}<msg type="list">oops</msg></message>"#).into_bytes(),
        false,
    );
    let bomb = concat!(
        r#"<?xml version="1.0"?><!DOCTYPE message ["#,
        r#"<!ENTITY lol "lol">"#,
        r#"<!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">"#,
        r#"<!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">"#,
        r#"<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">"#,
        r#"<!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">"#,
        r#"<!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">"#,
        r#"<!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">"#,
        r#"<!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">"#,
        r#"<!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">"#,
        r#"<!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">"#,
        r#"]><message method="PUBLISH" topic="/a"><msg>&lol9;</msg></message>"#
    );
    add("billion laughs", bomb.as_bytes().to_vec(), false);
    add(
        "entity bomb in an attribute",
        br#"<!DOCTYPE m [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]><message method="PUBLISH" topic="/a&b;"><msg>1</msg></message>"#
            .to_vec(),
        false,
    );
    add(
        "external entity",
        br#"<!DOCTYPE message [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><message method="PUBLISH" topic="/a"><msg>&xxe;</msg></message>"#
            .to_vec(),
        false,
    );
    add(
        "DOCTYPE inside msg",
        format!(r#"{head}<msg><!DOCTYPE x></msg></message>"#).into_bytes(),
        false,
    );
    add(
        "10,000 nested unknown elements as the root",
        nested("<a>", "</a>", 10_000).into_bytes(),
        true,
    );
    add(
        "10,000 unclosed <a>",
        "<a>".repeat(10_000).into_bytes(),
        true,
    );
    add(
        "3,900 nested list items",
        format!(
            r#"{head}<msg type="list">{}</msg></message>"#,
            nested(r#"<item type="list">"#, "</item>", 3_900)
        )
        .into_bytes(),
        false,
    );
    add(
        "5,000 unclosed list items",
        format!(
            r#"{head}<msg type="list">{}"#,
            r#"<item type="list">"#.repeat(5_000)
        )
        .into_bytes(),
        false,
    );
    add(
        "10,000 nested elements in an unknown element",
        format!(r#"{head}<x>{}"#, "<x>".repeat(10_000)).into_bytes(),
        false,
    );
    add(
        "10,000 nested elements inside a str msg",
        format!(
            r#"{head}<msg>{}</msg></message>"#,
            nested("<i>", "</i>", 10_000)
        )
        .into_bytes(),
        false,
    );
    add(
        "65 nested lists (spec §9 limit)",
        format!(
            r#"{head}<msg type="list">{}</msg></message>"#,
            nested(r#"<item type="list">"#, "</item>", 64)
        )
        .into_bytes(),
        false,
    );
    assert_each_refused_connection_usable(Format::Xml, &cases);
}
