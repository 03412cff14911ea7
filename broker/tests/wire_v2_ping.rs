//! Wire protocol v2 §16 (`PING`/`PONG`) and the ordering rule of v2's
//! general rules, against a real broker over TCP: `PONG` echoes the topic
//! (`/` when none) and `msg`, and comes after everything the connection's
//! earlier requests queued to it.
//!
//! Helpers are in `common/v2.rs`.

mod common;

use common::v2::{json, obj, recv, request};
use common::wire::send_str;
use common::{start_broker, Raw};
use protocol::{Format, Message, Method, Value};

#[test]
fn s16_ping_is_answered_pong_with_the_same_topic_and_msg() {
    let b = start_broker();
    let msgs = [
        Value::Null,
        Value::Int(-7),
        Value::Float(2.0),
        Value::from("text <&> \" '"),
        Value::Bool(false),
        json(r#"{"k": [1, {"n": null}], "e": {}}"#),
        Value::List(vec![]),
    ];
    for format in Format::ALL {
        let mut c = Raw::handshake(b.addr, format);
        for topic in ["/", "/p", "/a/b/c"] {
            for msg in &msgs {
                c.send(&request(Method::Ping, topic, msg.clone()));
                let m = recv(&mut c);
                assert_eq!(
                    m,
                    Message::new(Method::Pong, topic, msg.clone()),
                    "{format:?}"
                );
            }
        }
    }
}

/// A `PING` without a topic is answered on `/`.
#[test]
fn s16_ping_without_a_topic_is_answered_on_the_root() {
    let b = start_broker();
    let mut c = Raw::json(b.addr);
    send_str(&mut c, r#"{"method":"PING","msg":42}"#);
    assert_eq!(recv(&mut c), Message::new(Method::Pong, "/", 42));
    send_str(&mut c, r#"{"method":"PING"}"#);
    assert_eq!(recv(&mut c), Message::new(Method::Pong, "/", Value::Null));
    let mut x = Raw::xml(b.addr);
    send_str(
        &mut x,
        r#"<message method="PING"><msg type="int">1</msg></message>"#,
    );
    assert_eq!(recv(&mut x), Message::new(Method::Pong, "/", 1));
}

/// `PONG` comes after everything the earlier requests queued to the same
/// connection: its own delivery, `LAST_MSG` replays, `HISTORY` and `HELLO`
/// answers, `ERROR`s and announcements, all sent in one write.
#[test]
fn s16_pong_comes_after_everything_earlier_requests_queued() {
    let b = start_broker();
    for format in Format::ALL {
        let q = format!("/q{}", format.index());
        let (kept, new) = (format!("{q}/kept"), format!("{q}/new"));
        let mut p = Raw::json(b.addr);
        p.publish(&kept, "old");
        p.send(&request(Method::Ping, "/", Value::Null));
        assert_eq!(recv(&mut p).method, Method::Pong);
        let mut c = Raw::handshake(b.addr, format);
        let mut bytes = Vec::new();
        let requests = [
            request(Method::Subscribe, &q, Value::Null),
            Message::publish(&new, 1),
            request(Method::History, &kept, Value::Null),
            request(Method::Hello, "/", obj(&[])),
            Message::publish("/", 2),
            request(Method::Ping, "/end", Value::from("last")),
        ];
        for m in &requests {
            format.encode(m, &mut bytes).expect("encode");
        }
        c.send_bytes(&bytes);
        let mut got = Vec::new();
        loop {
            let m = recv(&mut c);
            let done = m.method == Method::Pong;
            got.push((m.method, m.topic));
            if done {
                break;
            }
        }
        let want = [
            (Method::LastMsg, kept.as_str()),
            // The first publish on `new`: an announcement, then the delivery.
            (Method::ListAck, "/"),
            (Method::Publish, new.as_str()),
            (Method::History, kept.as_str()),
            (Method::Hello, "/"),
            (Method::Error, "/"),
            (Method::Pong, "/end"),
        ];
        let want: Vec<(Method, String)> = want.iter().map(|&(m, t)| (m, t.to_owned())).collect();
        assert_eq!(got, want, "{format:?}");
    }
}

/// A subscriber's own publish reaches it before the `PONG` of a `PING` sent
/// right after, however many are pipelined.
#[test]
fn s16_own_publishes_arrive_before_the_pong() {
    let b = start_broker();
    let mut c = Raw::json(b.addr);
    c.subscribe("/self");
    let mut bytes = Vec::new();
    for i in 0..200 {
        Format::Json
            .encode(&Message::publish("/self", i), &mut bytes)
            .expect("encode");
        Format::Json
            .encode(&request(Method::Ping, "/self", Value::Int(i)), &mut bytes)
            .expect("encode");
    }
    c.send_bytes(&bytes);
    let mut seen = Vec::new();
    while seen.len() < 400 {
        let m = recv(&mut c);
        if m.method != Method::ListAck {
            seen.push((m.method, m.msg));
        }
    }
    for (i, pair) in seen.chunks(2).enumerate() {
        let i = Value::Int(i as i64);
        assert_eq!(
            pair,
            [(Method::Publish, i.clone()), (Method::Pong, i)],
            "publish then pong"
        );
    }
}
