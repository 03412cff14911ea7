//! Wire protocol v2 §10 (`HELLO`) rule by rule, against a real broker over
//! TCP: the answer's exact shape, the epoch and connection ids, optional
//! keys, a second `HELLO` changing the slow policy, and a bad `HELLO`
//! changing nothing.
//!
//! Helpers, and why no test sleeps, are in `common/v2.rs`.

mod common;

use broker::Config;
use common::v2::{
    account_for_every_seq, assert_keys, expect_dropped_as_slow, flood, get, hello, hello_client,
    json, obj, ping, request, string, uint, FLOOD_COUNT, FLOOD_SIZE,
};
use common::wire::{expect_no_topics, next_error_on};
use common::{start_broker, start_broker_with, Raw};
use protocol::{Format, Method, Value, MAX_PAYLOAD};

/// A broker whose output limit is small enough for floods to overflow.
fn small_output_broker() -> common::TestBroker {
    start_broker_with(Config {
        max_pending_output: 64 * 1024,
        ..Config::default()
    })
}

/// Subscribes `sub` to `/f`, then floods `/f` past its output limit.
fn subscribe_then_flood(b: &common::TestBroker, sub: &mut Raw) {
    sub.subscribe("/f");
    ping(sub);
    flood(b.addr, "/f", FLOOD_COUNT, FLOOD_SIZE);
}

#[test]
fn s10_hello_answer_has_exactly_the_spec_keys() {
    let b = start_broker_with(Config {
        history: 7,
        max_pending_output: 300_000,
        ..Config::default()
    });
    for format in Format::ALL {
        let mut c = Raw::handshake(b.addr, format);
        let answer = hello(&mut c, obj(&[("version", 2.into())]));
        assert_keys(&answer, &["epoch", "id", "limits", "server", "version"]);
        assert_eq!(get(&answer, "version"), &Value::Int(2), "{format:?}");
        let server = string(get(&answer, "server"));
        let (program, version) = server
            .split_once(' ')
            .unwrap_or_else(|| panic!("server is \"<program> <version>\": {server:?}"));
        assert!(!program.is_empty() && !version.is_empty(), "{server:?}");
        assert!(!string(get(&answer, "epoch")).is_empty(), "empty epoch");
        uint(get(&answer, "id"));
        let limits = get(&answer, "limits");
        assert_keys(limits, &["frame", "history", "max_output"]);
        assert_eq!(uint(get(limits, "frame")), MAX_PAYLOAD as u64);
        assert_eq!(uint(get(limits, "history")), 7, "limits.history = config");
        assert_eq!(uint(get(limits, "max_output")), 300_000);
    }
}

/// The answer's JSON frame has exactly `method`, `topic` and `msg`: no key
/// that does not apply (`seq`, `ts`, `more`), and none as `null`.
#[test]
fn s10_hello_answer_frame_has_no_other_top_level_key() {
    let b = start_broker();
    let mut c = Raw::json(b.addr);
    c.send(&request(Method::Hello, "/", Value::Null));
    let frame = c.recv_frame().expect("HELLO answer");
    let text = std::str::from_utf8(&frame[5..]).expect("UTF-8");
    let top = json(text);
    assert_keys(&top, &["method", "msg", "topic"]);
    assert!(
        !text.contains("null"),
        "a key that does not apply is absent: {text}"
    );
}

#[test]
fn s10_epoch_is_stable_within_a_run_and_new_at_each_start() {
    let first = start_broker();
    let (mut a, epoch) = hello_client(first.addr, Format::Json, Value::Null);
    let (_, epoch_xml) = hello_client(first.addr, Format::Xml, Value::Null);
    assert_eq!(epoch_xml, epoch, "one epoch for every client of a run");
    let again = hello(&mut a, obj(&[("name", "alice".into())]));
    assert_eq!(string(get(&again, "epoch")), epoch, "second HELLO");
    drop(first);
    let second = start_broker();
    let (_, epoch2) = hello_client(second.addr, Format::Json, Value::Null);
    assert_ne!(epoch2, epoch, "a broker without a durable store: new epoch");
}

#[test]
fn s10_each_connection_has_its_own_id_kept_across_hellos() {
    let b = start_broker();
    let mut clients: Vec<Raw> = (0..4).map(|_| Raw::json(b.addr)).collect();
    let ids: Vec<u64> = clients
        .iter_mut()
        .map(|c| uint(get(&hello(c, Value::Null), "id")))
        .collect();
    let mut distinct = ids.clone();
    distinct.sort_unstable();
    distinct.dedup();
    assert_eq!(
        distinct.len(),
        ids.len(),
        "ids of open connections: {ids:?}"
    );
    let again = hello(&mut clients[2], obj(&[("slow", "drop".into())]));
    assert_eq!(uint(get(&again, "id")), ids[2], "same connection, same id");
}

/// Every key is optional, unknown keys are ignored, any integer `version`
/// is answered with 2, and the request's topic is ignored (the answer is on
/// `/`, and no topic is created).
#[test]
fn s10_hello_keys_are_optional_and_its_topic_is_ignored() {
    let b = start_broker();
    let long_name = "n".repeat(64);
    let cases = [
        ("/", Value::Null),
        ("", Value::Null),
        ("/some/topic", obj(&[])),
        ("not a topic", obj(&[("version", 1.into())])),
        ("/", obj(&[("version", 99.into())])),
        ("/", obj(&[("whatever", Value::List(vec![1.into()]))])),
        ("/", obj(&[("name", long_name.as_str().into())])),
        ("/", obj(&[("name", "élodie-42".into())])),
        ("/", obj(&[("name", "é".repeat(32).into())])),
        (
            "/",
            json(r#"{"version": 2, "name": "alice", "slow": "disconnect"}"#),
        ),
        ("/", obj(&[("slow", "drop".into())])),
    ];
    for format in Format::ALL {
        let mut c = Raw::handshake(b.addr, format);
        for (topic, msg) in &cases {
            c.send(&request(Method::Hello, topic, msg.clone()));
            let m = c.recv();
            assert_eq!(
                (m.method, m.topic.as_str()),
                (Method::Hello, "/"),
                "{format:?} HELLO {topic:?} {msg:?}: {m:?}"
            );
            assert_eq!(get(&m.msg, "version"), &Value::Int(2));
        }
        expect_no_topics(&mut c);
    }
}

/// A bad `HELLO` gets one `ERROR` (on the request's topic), no `HELLO`
/// answer, and the connection stays open.
#[test]
fn s10_bad_hello_gets_exactly_one_error() {
    let b = start_broker();
    let cases = [
        obj(&[("slow", "fast".into())]),
        obj(&[("name", "".into())]),
        obj(&[("name", "a b".into())]),
        obj(&[("version", "2".into())]),
        Value::from("hello"),
    ];
    for format in Format::ALL {
        let mut c = Raw::handshake(b.addr, format);
        for msg in &cases {
            c.send(&request(Method::Hello, "/h", msg.clone()));
            next_error_on(&mut c, "/h");
            assert!(
                ping(&mut c).is_empty(),
                "{format:?} {msg:?}: one ERROR only"
            );
        }
    }
}

/// A connection that said `{"slow": "drop"}` and then sent a bad `HELLO`
/// (a good `slow` next to a bad `name`) keeps the drop policy.
#[test]
fn s10_bad_hello_changes_nothing_drop_policy_stays() {
    let b = small_output_broker();
    let (mut sub, epoch) = hello_client(b.addr, Format::Json, obj(&[("slow", "drop".into())]));
    sub.send(&request(
        Method::Hello,
        "/",
        json(r#"{"slow": "disconnect", "name": ""}"#),
    ));
    next_error_on(&mut sub, "/");
    subscribe_then_flood(&b, &mut sub);
    let gaps = account_for_every_seq(&mut sub, "/f", FLOOD_COUNT as u64, &epoch);
    assert!(
        !gaps.is_empty(),
        "the flood never overflowed the subscriber"
    );
}

/// A connection with the default policy that sent a bad `HELLO` asking for
/// `"drop"` (with a bad name) is still disconnected when slow.
#[test]
fn s10_bad_hello_changes_nothing_disconnect_policy_stays() {
    let b = small_output_broker();
    let mut sub = Raw::json(b.addr);
    sub.send(&request(
        Method::Hello,
        "/",
        json(r#"{"slow": "drop", "name": "a b"}"#),
    ));
    next_error_on(&mut sub, "/");
    subscribe_then_flood(&b, &mut sub);
    expect_dropped_as_slow(&mut sub);
}

#[test]
fn s10_second_hello_switches_disconnect_to_drop() {
    let b = small_output_broker();
    let (mut sub, epoch) = hello_client(b.addr, Format::Json, obj(&[("name", "bob".into())]));
    hello(&mut sub, obj(&[("slow", "drop".into())]));
    subscribe_then_flood(&b, &mut sub);
    let gaps = account_for_every_seq(&mut sub, "/f", FLOOD_COUNT as u64, &epoch);
    assert!(
        !gaps.is_empty(),
        "the flood never overflowed the subscriber"
    );
}

#[test]
fn s10_second_hello_switches_drop_to_disconnect() {
    let b = small_output_broker();
    let (mut sub, _) = hello_client(b.addr, Format::Json, obj(&[("slow", "drop".into())]));
    hello(&mut sub, obj(&[("slow", "disconnect".into())]));
    subscribe_then_flood(&b, &mut sub);
    expect_dropped_as_slow(&mut sub);
}

/// A second `HELLO` without `slow` keeps the policy the first one set.
#[test]
fn s10_second_hello_without_slow_keeps_the_policy() {
    let b = small_output_broker();
    let (mut sub, epoch) = hello_client(b.addr, Format::Json, obj(&[("slow", "drop".into())]));
    hello(&mut sub, obj(&[("name", "renamed".into())]));
    subscribe_then_flood(&b, &mut sub);
    let gaps = account_for_every_seq(&mut sub, "/f", FLOOD_COUNT as u64, &epoch);
    assert!(
        !gaps.is_empty(),
        "the flood never overflowed the subscriber"
    );
}
