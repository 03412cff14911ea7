//! Wire protocol §5 (`docs/protocol.md`) rule by rule, against
//! a real broker over TCP: the methods, what clients may send, and the topic
//! an `ERROR` echoes.
//!
//! Helpers, and why no test sleeps, are in `common/wire.rs`.

mod common;

use common::wire::{
    barrier, expect_no_topics, expect_nothing, next_error, next_error_on, non_lists, send_str,
    subscriber, xml_req,
};
use common::{start_broker, Raw};
use protocol::{Format, Message, Method};

// ------------------------------------------------------------ §5 methods

#[test]
fn s5_broker_only_methods_from_clients_are_errors() {
    let b = start_broker();
    let mut sub = subscriber(b.addr, Format::Json, "/");
    for format in Format::ALL {
        let mut c = Raw::handshake(b.addr, format);
        for method in [
            Method::LastMsg,
            Method::ListAck,
            Method::ListNack,
            Method::Error,
        ] {
            c.send(&Message::new(method, "//bo//x", 1));
            next_error_on(&mut c, "//bo//x");
        }
        expect_no_topics(&mut c);
    }
    expect_nothing(&mut sub);
}

#[test]
fn s5_unknown_method_error_echoes_topic_and_keeps_connection() {
    let b = start_broker();
    let mut j = Raw::json(b.addr);
    send_str(&mut j, r#"{"method":"DELETE","topic":"//x y"}"#);
    next_error_on(&mut j, "//x y");
    let mut x = Raw::xml(b.addr);
    send_str(&mut x, r#"<message method="subscribe" topic="//y"/>"#);
    next_error_on(&mut x, "//y");
    send_str(&mut x, r#"<message topic="/z"/>"#);
    next_error_on(&mut x, "/z");
    for c in [&mut j, &mut x] {
        c.publish("/still", 1);
        expect_nothing(c);
    }
}

#[test]
fn s5_publisher_receives_its_own_message_when_subscribed() {
    let b = start_broker();
    for format in Format::ALL {
        let mut c = Raw::handshake(b.addr, format);
        let topic = format!("/self{format:?}/t");
        c.subscribe(&format!("/self{format:?}"));
        c.publish(&topic, "mine");
        let got = non_lists(barrier(&mut c));
        assert_eq!(got, vec![Message::publish(topic, "mine")], "{format:?}");
    }
    // Not subscribed: nothing comes back.
    let mut c = Raw::json(b.addr);
    c.publish("/self/none", 1);
    expect_nothing(&mut c);
}

#[test]
fn s5_delivery_carries_the_published_topic_not_the_subscription() {
    let b = start_broker();
    let mut sub = subscriber(b.addr, Format::Xml, "/t");
    let mut p = Raw::json(b.addr);
    p.publish("/t/x/y", 1);
    p.publish("/t", 2);
    barrier(&mut p);
    assert_eq!(
        non_lists(barrier(&mut sub)),
        vec![Message::publish("/t/x/y", 1), Message::publish("/t", 2)]
    );
}

#[test]
fn s5_error_topic_echoes_request_as_received() {
    let b = start_broker();
    for format in Format::ALL {
        let mut c = Raw::handshake(b.addr, format);
        for topic in ["//", "/", "no/slash", "/a//b c", "//x*//"] {
            c.publish(topic, 1);
            next_error_on(&mut c, topic);
        }
        for topic in ["sub", "/s#", "//s s//"] {
            c.subscribe(topic);
            next_error_on(&mut c, topic);
        }
        c.send(&Message::cancel_sub("bad//"));
        next_error_on(&mut c, "bad//");
    }
    // A control character in a JSON topic is echoed as received, escaped.
    let mut j = Raw::json(b.addr);
    send_str(&mut j, r#"{"method":"PUBLISH","topic":"/a\tb","msg":1}"#);
    next_error_on(&mut j, "/a\tb");
    // XML: the attribute's value as read (entities resolved).
    let mut x = Raw::xml(b.addr);
    send_str(&mut x, &xml_req("SUBSCRIBE", "/a&#9;&amp;b", ""));
    next_error_on(&mut x, "/a\t&b");
}

#[test]
fn s5_undecodable_frame_error_topic_is_empty() {
    let b = start_broker();
    let mut j = Raw::json(b.addr);
    let json_bad: [&[u8]; 8] = [
        b"{garbage",
        b"[1,2]",
        b"\"PUBLISH\"",
        b"\xff\xfe{}",
        br#"{"method":"PUBLISH","topic":"/a","msg":1} x"#,
        br#"{"method":"PUBLISH","topic":"/a","msg":1"#,
        br#"{"method":"PUBLISH" "topic":"/a"}"#,
        b"null",
    ];
    for bad in json_bad {
        j.send_payload(bad);
        let m = next_error(&mut j);
        assert_eq!(m.topic, "", "{:?}", String::from_utf8_lossy(bad));
    }
    let mut x = Raw::xml(b.addr);
    let xml_bad: [&[u8]; 5] = [
        b"<message",
        b"not xml at all",
        b"\xff<message/>",
        b"<message method=\"PUBLISH\" topic=\"/a\"><msg type=\"int\">1</msg>",
        b"{\"method\":\"LIST\"}",
    ];
    for bad in xml_bad {
        x.send_payload(bad);
        let m = next_error(&mut x);
        assert_eq!(m.topic, "", "{:?}", String::from_utf8_lossy(bad));
    }
    for c in [&mut j, &mut x] {
        expect_no_topics(c);
    }
}
