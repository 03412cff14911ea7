//! Wire protocol v2 §17 (errors) rule by rule, against a real broker over
//! TCP: every malformed v2 request (`HELLO`, `HISTORY`, a resuming
//! `SUBSCRIBE`) gets exactly one `ERROR` with the request's topic, changes
//! nothing, and leaves the connection open; and the v1 fix for topics with
//! control characters.
//!
//! Helpers, and why no test sleeps, are in `common/v2.rs`.

mod common;

use common::v2::{hello_client, json, obj, ping, ping_non_lists, request, resume};
use common::wire::{expect_no_topics, next_error_on, send_str, subscriber};
use common::{start_broker, Raw};
use protocol::{Format, Message, Method, Value};

/// Sends `m` and asserts the answer is exactly one `ERROR` echoing
/// `m.topic`, after which the connection still answers a round trip.
#[track_caller]
fn refused_alone(c: &mut Raw, m: &Message) {
    c.send(m);
    next_error_on(c, &m.topic);
    let after = ping(c);
    assert!(
        after.is_empty(),
        "{:?} {m:?}: more than one ERROR: {after:?}",
        c.format
    );
}

fn since(v: Value) -> Value {
    obj(&[("since", v)])
}

fn limit(v: Value) -> Value {
    obj(&[("limit", v)])
}

/// `HISTORY` `msg`s with a key of the wrong type or out of range.
fn bad_history_options() -> Vec<Value> {
    vec![
        since("x".into()),
        since(Value::Int(-1)),
        since(Value::Float(1.5)),
        since(Value::Bool(true)),
        since(Value::List(vec![])),
        limit(Value::Int(0)),
        limit(Value::Int(-1)),
        limit(Value::Int(1_000_000_000_000)),
        limit(Value::Int(1_000_001)),
        limit(Value::Float(1.5)),
        limit("3".into()),
        obj(&[("since", Value::Int(1)), ("limit", Value::Int(0))]),
        Value::Int(5),
        Value::from("since"),
        Value::List(vec![Value::Int(1)]),
    ]
}

#[test]
fn s17_history_with_bad_since_or_limit_gets_one_error_and_creates_nothing() {
    let b = start_broker();
    for format in Format::ALL {
        let mut c = Raw::handshake(b.addr, format);
        for msg in bad_history_options() {
            refused_alone(&mut c, &request(Method::History, "/h", msg));
        }
        expect_no_topics(&mut c);
    }
}

/// `HISTORY` takes an exact topic: a pattern, a reserved character or an
/// invalid topic is an `ERROR` echoing the topic as received.
#[test]
fn s17_history_on_a_pattern_or_invalid_topic_is_an_error() {
    let b = start_broker();
    let mut p = Raw::json(b.addr);
    p.publish("/a/b", 1);
    ping(&mut p);
    for format in Format::ALL {
        let mut c = Raw::handshake(b.addr, format);
        for topic in [
            "/a/*", "//a//*", "/*", "/a/>", "/a/#", "/a/+", "nope", "/a b", "",
        ] {
            refused_alone(&mut c, &request(Method::History, topic, Value::Null));
        }
    }
}

/// `HELLO` `msg`s that must be refused: unknown policy, bad names (empty,
/// 65 bytes, whitespace), wrong key types, a `msg` that is not an object.
fn bad_hellos() -> Vec<Value> {
    vec![
        obj(&[("slow", "fast".into())]),
        obj(&[("slow", "DROP".into())]),
        obj(&[("slow", Value::Int(1))]),
        obj(&[("name", "".into())]),
        obj(&[("name", "n".repeat(65).into())]),
        obj(&[("name", "é".repeat(33).into())]),
        obj(&[("name", "a b".into())]),
        obj(&[("name", "a\tb".into())]),
        obj(&[("name", "a\u{2003}b".into())]),
        obj(&[("name", Value::Int(5))]),
        obj(&[("version", "2".into())]),
        obj(&[("version", Value::Float(2.5))]),
        // A good key does not save a bad one.
        obj(&[("slow", "drop".into()), ("name", "".into())]),
        Value::from("hello"),
        Value::List(vec![]),
        Value::Int(2),
    ]
}

#[test]
fn s17_bad_hello_gets_one_error_on_the_requests_topic() {
    let b = start_broker();
    for format in Format::ALL {
        let mut c = Raw::handshake(b.addr, format);
        for msg in bad_hellos() {
            for topic in ["/hh", ""] {
                refused_alone(&mut c, &request(Method::Hello, topic, msg.clone()));
            }
        }
        expect_no_topics(&mut c);
    }
}

/// A name with a control character, which only JSON can carry.
#[test]
fn s17_hello_name_with_a_control_character_is_refused() {
    let b = start_broker();
    let mut c = Raw::json(b.addr);
    send_str(
        &mut c,
        r#"{"method":"HELLO","topic":"/","msg":{"name":"a\u0001b"}}"#,
    );
    next_error_on(&mut c, "/");
    assert!(ping(&mut c).is_empty());
}

/// `SUBSCRIBE` `msg`s with a malformed `resume`.
fn bad_resumes(epoch: &str) -> Vec<Value> {
    let e = Value::from(epoch);
    let with = |topics: Value| obj(&[("resume", obj(&[("epoch", e.clone()), ("topics", topics)]))]);
    vec![
        obj(&[("resume", Value::Int(5))]),
        obj(&[("resume", "x".into())]),
        obj(&[("resume", Value::List(vec![]))]),
        obj(&[("resume", Value::Null)]),
        obj(&[("resume", obj(&[]))]),
        obj(&[("resume", obj(&[("epoch", e.clone())]))]),
        obj(&[("resume", obj(&[("topics", obj(&[]))]))]),
        obj(&[(
            "resume",
            obj(&[("epoch", Value::Int(5)), ("topics", obj(&[]))]),
        )]),
        with(Value::List(vec![])),
        with("x".into()),
        with(json(r#"{"nope": 1}"#)),
        with(json(r#"{"/s/*": 1}"#)),
        with(json(r#"{"/s/a b": 1}"#)),
        with(json(r#"{"/s": 1, "/s/>": 1}"#)),
        with(json(r#"{"/s": -1}"#)),
        with(json(r#"{"/s": "1"}"#)),
        with(json(r#"{"/s": 1.5}"#)),
        with(json(r#"{"/s": null}"#)),
    ]
}

/// A refused `SUBSCRIBE` subscribes nothing, creates no topic and replays
/// nothing.
#[test]
fn s17_subscribe_with_a_bad_resume_gets_one_error_and_subscribes_nothing() {
    let b = start_broker();
    for format in Format::ALL {
        let (mut c, epoch) = hello_client(b.addr, format, Value::Null);
        for msg in bad_resumes(&epoch) {
            refused_alone(&mut c, &request(Method::Subscribe, "/s", msg));
        }
        expect_no_topics(&mut c);
    }
    // With messages on the topic: no replay, and no live delivery later.
    let mut p = Raw::json(b.addr);
    p.publish("/s", 1);
    ping(&mut p);
    let (mut c, epoch) = hello_client(b.addr, Format::Json, Value::Null);
    for msg in bad_resumes(&epoch) {
        refused_alone(&mut c, &request(Method::Subscribe, "/s", msg));
    }
    p.publish("/s", 2);
    ping(&mut p);
    assert!(
        ping_non_lists(&mut c).is_empty(),
        "a refused SUBSCRIBE subscribed"
    );
}

/// An invalid topic is refused before its options are used, still one
/// `ERROR` echoing the topic.
#[test]
fn s17_resume_on_an_invalid_subscription_topic_is_one_error() {
    let b = start_broker();
    let (mut c, epoch) = hello_client(b.addr, Format::Json, Value::Null);
    for topic in ["nope", "/a b", "/a*"] {
        let msg = resume(&epoch, &[("/a", 1)]);
        refused_alone(&mut c, &request(Method::Subscribe, topic, msg));
    }
    expect_no_topics(&mut c);
}

/// A `SUBSCRIBE` `msg` that is not an object is v1's (ignored), and unknown
/// keys of an object are ignored: these subscribe as usual.
#[test]
fn s17_subscribe_with_a_non_object_msg_or_unknown_keys_is_a_plain_subscribe() {
    let b = start_broker();
    let mut p = Raw::json(b.addr);
    p.publish("/p", 1);
    ping(&mut p);
    let msgs = [
        Value::Int(5),
        Value::from("resume"),
        Value::List(vec![Value::Int(1)]),
        obj(&[]),
        obj(&[("unknown", Value::Int(1))]),
    ];
    for format in Format::ALL {
        for msg in &msgs {
            let mut c = Raw::handshake(b.addr, format);
            c.send(&request(Method::Subscribe, "/p", msg.clone()));
            let got = ping_non_lists(&mut c);
            assert_eq!(got.len(), 1, "{format:?} {msg:?}: {got:?}");
            assert_eq!(
                (got[0].method, got[0].attrs.seq),
                (Method::LastMsg, Some(1))
            );
        }
    }
}

/// A failed request leaves the connection fully usable: after every kind of
/// refusal, it still subscribes, publishes and receives, and an observer
/// saw nothing of the refused requests.
#[test]
fn s17_refusals_leave_the_connection_usable_and_others_untouched() {
    let b = start_broker();
    let mut observer = subscriber(b.addr, Format::Xml, "/");
    let (mut c, epoch) = hello_client(b.addr, Format::Json, Value::Null);
    let mut requests: Vec<Message> = Vec::new();
    requests.extend(
        bad_history_options()
            .into_iter()
            .map(|m| request(Method::History, "/o", m)),
    );
    requests.extend(
        bad_hellos()
            .into_iter()
            .map(|m| request(Method::Hello, "/o", m)),
    );
    requests.extend(
        bad_resumes(&epoch)
            .into_iter()
            .map(|m| request(Method::Subscribe, "/o", m)),
    );
    // All at once: one ERROR each, in order.
    let mut bytes = Vec::new();
    for m in &requests {
        Format::Json.encode(m, &mut bytes).expect("encode");
    }
    c.send_bytes(&bytes);
    for _ in &requests {
        next_error_on(&mut c, "/o");
    }
    assert!(ping(&mut c).is_empty());
    assert!(
        ping_non_lists(&mut observer).is_empty(),
        "the observer saw something"
    );
    c.subscribe("/o");
    c.publish("/o", "fine");
    let got = ping_non_lists(&mut c);
    assert_eq!(got.len(), 1);
    assert_eq!(
        (got[0].method, &got[0].msg),
        (Method::Publish, &Value::from("fine"))
    );
}

// ------------------------------------------------------- the v1 fix

/// A JSON request whose topic holds a control character (the JSON escape
/// `\u0001`) gets an `ERROR` echoing the topic as received, not `""`.
#[test]
fn s17_a_topic_with_a_control_character_is_echoed_in_the_error() {
    let b = start_broker();
    let mut c = Raw::json(b.addr);
    for method in ["PUBLISH", "SUBSCRIBE", "HISTORY", "CANCEL_SUB"] {
        send_str(
            &mut c,
            &format!(r#"{{"method":"{method}","topic":"/a\u0001","msg":1}}"#),
        );
        let m = next_error_on(&mut c, "/a\u{1}");
        assert_eq!(m.method, Method::Error, "{method}");
        assert!(ping(&mut c).is_empty(), "{method}: one ERROR");
    }
    expect_no_topics(&mut c);
}
