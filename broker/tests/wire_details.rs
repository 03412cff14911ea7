//! Wire protocol §9 (`docs/protocol.md`) rule by rule, against
//! a real broker over TCP: refused publishes create nothing, XML scalar
//! whitespace and unknown attributes, nesting depth, `LIST` cursors.
//!
//! Helpers, and why no test sleeps, are in `common/wire.rs`.

mod common;

use common::wire::{
    barrier, expect_no_topics, expect_nothing, next_error, next_error_on, non_lists, send_str,
    strs, subscriber, xml_req,
};
use common::{start_broker, Raw};
use protocol::{Format, Message, Method, Value};

// ------------------------------------------------------------ §9 details

#[test]
fn s9_refused_publish_creates_no_topic() {
    let b = start_broker();
    let mut watcher = subscriber(b.addr, Format::Json, "/");
    let mut c = Raw::json(b.addr);
    send_str(
        &mut c,
        r#"{"method":"PUBLISH","topic":"/nope/deep","msg":1e999}"#,
    );
    next_error(&mut c);
    let mut x = Raw::xml(b.addr);
    send_str(
        &mut x,
        &xml_req("PUBLISH", "/nope/x", r#"<msg type="bool">yes</msg>"#),
    );
    next_error_on(&mut x, "/nope/x");
    c.publish("/nope/big", "<".repeat(90_000));
    next_error_on(&mut c, "/nope/big");
    expect_nothing(&mut watcher);
    expect_no_topics(&mut c);
}

#[test]
fn s9_xml_scalar_whitespace_ignored_but_str_kept() {
    let b = start_broker();
    let mut j = subscriber(b.addr, Format::Json, "/w");
    let mut x = Raw::xml(b.addr);
    let cases: Vec<(&str, Value)> = vec![
        ("<msg type=\"int\"> 42 </msg>", Value::Int(42)),
        ("<msg type=\"int\">\n\t-7\r\n</msg>", Value::Int(-7)),
        ("<msg type=\"float\">\n 1.5\t</msg>", Value::Float(1.5)),
        ("<msg type=\"float\"> 3 </msg>", Value::Float(3.0)),
        ("<msg type=\"bool\"> true\n</msg>", Value::Bool(true)),
        ("<msg type=\"bool\">\tfalse </msg>", Value::Bool(false)),
        ("<msg type=\"str\">  two  spaces  </msg>", "  two  spaces  ".into()),
        ("<msg type=\"str\">\n x \n</msg>", "\n x \n".into()),
        ("<msg type=\"str\">\t</msg>", "\t".into()),
        ("<msg> </msg>", " ".into()),
        (
            "<msg type=\"list\">\n  <item type=\"int\"> 1 </item>\n  <item type=\"str\"> a </item>\n</msg>",
            Value::List(vec![Value::Int(1), " a ".into()]),
        ),
    ];
    for (inner, _) in &cases {
        send_str(&mut x, &xml_req("PUBLISH", "/w", inner));
    }
    let got = barrier(&mut x);
    assert!(got.is_empty(), "{got:?}");
    for (inner, want) in &cases {
        assert_eq!(&j.recv_skipping_lists().msg, want, "{inner}");
    }
}

#[test]
fn s9_xml_unknown_attributes_ignored() {
    let b = start_broker();
    let mut j = subscriber(b.addr, Format::Json, "/attr");
    let mut x = Raw::xml(b.addr);
    send_str(
        &mut x,
        r#"<message seq="5" method="PUBLISH" x="y" topic="/attr"><msg unit="s" type="int">1</msg></message>"#,
    );
    send_str(
        &mut x,
        r#"<message method="PUBLISH" topic="/attr" more="maybe"><msg type="int" key="ignored">2</msg></message>"#,
    );
    barrier(&mut x);
    assert_eq!(
        non_lists(barrier(&mut j)),
        vec![Message::publish("/attr", 1), Message::publish("/attr", 2)]
    );
}

#[test]
fn s9_nesting_64_accepted_65_refused_in_both_formats() {
    let b = start_broker();
    let mut subs = [Raw::json(b.addr), Raw::xml(b.addr)];
    for s in &mut subs {
        s.subscribe("/deep");
        barrier(s);
    }
    let mut j = Raw::json(b.addr);
    let mut x = Raw::xml(b.addr);
    for depth in [64, 65] {
        let ok = depth == 64;
        let json = format!(
            r#"{{"method":"PUBLISH","topic":"/deep","msg":{}1{}}}"#,
            "[".repeat(depth),
            "]".repeat(depth)
        );
        send_str(&mut j, &json);
        let xml = format!(
            r#"<msg type="list">{}<item type="int">1</item>{}</msg>"#,
            r#"<item type="list">"#.repeat(depth - 1),
            "</item>".repeat(depth - 1)
        );
        send_str(&mut x, &xml_req("PUBLISH", "/deep", &xml));
        for c in [&mut j, &mut x] {
            if ok {
                assert!(barrier(c).is_empty());
            } else {
                next_error_on(c, "/deep");
            }
        }
    }
    let mut want = Value::Int(1);
    for _ in 0..64 {
        want = Value::List(vec![want]);
    }
    for s in &mut subs {
        let got = non_lists(barrier(s));
        assert_eq!(got.len(), 2, "{:?}", s.format);
        for m in got {
            assert_eq!(m.msg, want);
        }
    }
}

#[test]
fn s9_list_with_bad_cursor_type_is_an_error_or_answered() {
    // `LIST` takes null or a topic in msg; other values must not crash the
    // connection: one reply (ERROR or a list), connection still usable.
    let b = start_broker();
    let mut c = Raw::json(b.addr);
    c.publish("/l", 1);
    for msg in ["5", "[]", "{}", "true"] {
        send_str(
            &mut c,
            &format!(r#"{{"method":"LIST","topic":"/","msg":{msg}}}"#),
        );
        let m = c.recv();
        assert!(
            matches!(m.method, Method::Error | Method::ListAck),
            "{msg}: {m:?}"
        );
    }
    c.send(&Message::list(None));
    assert_eq!(c.recv().msg, strs(&["/l"]));
}
