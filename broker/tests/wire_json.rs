//! Wire protocol §3 (`docs/protocol.md`) rule by rule, against
//! a real broker over TCP: JSON requests (unknown keys, absent `msg`, exact
//! methods, required topics, the `CANCEL_SUB` topic).
//!
//! Helpers, and why no test sleeps, are in `common/wire.rs`.

mod common;

use common::wire::{
    barrier, expect_no_topics, next_error, next_error_on, non_lists, send_str, subscriber, xml_req,
};
use common::{start_broker, Raw};
use protocol::{Format, Message, Method, Value};

// ------------------------------------------------------------ §3 JSON

#[test]
fn s3_unknown_keys_ignored_in_any_order() {
    let b = start_broker();
    let mut sub = subscriber(b.addr, Format::Xml, "/u");
    let mut p = Raw::json(b.addr);
    send_str(
        &mut p,
        r#"{"seq":5,"msg":{"a":[1,"x"]},"extra":{"deep":[null,{"x":true}]},"topic":"/u","method":"PUBLISH","more":false,"ts":1.5}"#,
    );
    send_str(
        &mut p,
        r#"{"method":"SUBSCRIBE","topic":"/u2","msg":"ignored","id":"abc"}"#,
    );
    let got = barrier(&mut p);
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0].method, Method::ListAck, "SUBSCRIBE /u2 announcement");
    let m = sub.recv_skipping_lists();
    assert_eq!(
        m,
        Message::publish(
            "/u",
            Value::Dict(vec![(
                "a".into(),
                Value::List(vec![Value::Int(1), "x".into()])
            )])
        )
    );
}

#[test]
fn s3_absent_msg_is_null() {
    let b = start_broker();
    let mut j = Raw::json(b.addr);
    let mut x = Raw::xml(b.addr);
    j.subscribe("/n");
    x.subscribe("/n");
    barrier(&mut j);
    barrier(&mut x);
    let mut p = Raw::json(b.addr);
    send_str(&mut p, r#"{"method":"PUBLISH","topic":"/n"}"#);
    let mut px = Raw::xml(b.addr);
    send_str(&mut px, &xml_req("PUBLISH", "/n", ""));
    send_str(&mut px, r#"<message method="PUBLISH" topic="/n"/>"#);
    barrier(&mut p);
    barrier(&mut px);
    for c in [&mut j, &mut x] {
        let got = non_lists(barrier(c));
        assert_eq!(got.len(), 3, "{got:?}");
        for m in got {
            assert_eq!(m, Message::publish("/n", Value::Null));
        }
    }
}

#[test]
fn s3_method_must_be_exact_upper_case_and_present() {
    let b = start_broker();
    let mut c = Raw::json(b.addr);
    for bad in [
        r#"{"method":"publish","topic":"/m","msg":1}"#,
        r#"{"method":"Publish","topic":"/m","msg":1}"#,
        r#"{"method":"PUBLISH ","topic":"/m","msg":1}"#,
        r#"{"method":"NOPE","topic":"/m"}"#,
        r#"{"topic":"/m","msg":1}"#,
        r#"{"method":null,"topic":"/m"}"#,
        r#"{"method":7,"topic":"/m"}"#,
    ] {
        send_str(&mut c, bad);
        next_error(&mut c);
    }
    // Nothing was published.
    expect_no_topics(&mut c);
}

#[test]
fn s3_topic_required_for_publish_subscribe_cancel() {
    let b = start_broker();
    for format in Format::ALL {
        let mut c = Raw::handshake(b.addr, format);
        let reqs: Vec<String> = match format {
            Format::Json => vec![
                r#"{"method":"PUBLISH","msg":1}"#.into(),
                r#"{"method":"SUBSCRIBE"}"#.into(),
                r#"{"method":"CANCEL_SUB"}"#.into(),
                r#"{"method":"PUBLISH","topic":null,"msg":1}"#.into(),
                r#"{"method":"PUBLISH","topic":"","msg":1}"#.into(),
            ],
            Format::Xml => vec![
                r#"<message method="PUBLISH"><msg type="int">1</msg></message>"#.into(),
                r#"<message method="SUBSCRIBE"/>"#.into(),
                r#"<message method="CANCEL_SUB"/>"#.into(),
                r#"<message method="PUBLISH" topic=""><msg type="int">1</msg></message>"#.into(),
            ],
        };
        for r in reqs {
            send_str(&mut c, &r);
            next_error_on(&mut c, "");
        }
        expect_no_topics(&mut c);
    }
}

#[test]
fn s3_cancel_sub_topic_taken_from_msg_when_nonempty_string() {
    let b = start_broker();
    for format in Format::ALL {
        let mut sub = Raw::handshake(b.addr, format);
        for t in ["/a", "/b", "/c", "/d", "/e"] {
            sub.subscribe(t);
        }
        barrier(&mut sub);
        let reqs: [String; 4] = match format {
            Format::Json => [
                // msg wins over topic: cancels /b, keeps /a
                r#"{"method":"CANCEL_SUB","topic":"/a","msg":"/b"}"#.into(),
                // empty msg: topic is used
                r#"{"method":"CANCEL_SUB","topic":"/c","msg":""}"#.into(),
                // non-string msg: topic is used
                r#"{"method":"CANCEL_SUB","topic":"/d","msg":7}"#.into(),
                // only msg
                r#"{"method":"CANCEL_SUB","msg":"/e"}"#.into(),
            ],
            Format::Xml => [
                xml_req("CANCEL_SUB", "/a", "<msg>/b</msg>"),
                xml_req("CANCEL_SUB", "/c", r#"<msg type="str"></msg>"#),
                xml_req("CANCEL_SUB", "/d", r#"<msg type="int">7</msg>"#),
                r#"<message method="CANCEL_SUB"><msg type="str">/e</msg></message>"#.into(),
            ],
        };
        for r in &reqs {
            send_str(&mut sub, r);
        }
        assert!(non_lists(barrier(&mut sub)).is_empty());
        let mut p = Raw::json(b.addr);
        for t in ["/a", "/b", "/c", "/d", "/e"] {
            p.publish(t, format!("{format:?}"));
        }
        barrier(&mut p);
        let got = non_lists(barrier(&mut sub));
        assert_eq!(
            got,
            vec![Message::publish("/a", format!("{format:?}"))],
            "{format:?}"
        );
    }
}
