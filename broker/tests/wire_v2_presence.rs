//! Presence and liveness through real sockets (v2 §16): `PRESENCE` joins and
//! leaves of named clients on exact topics (clean and abrupt), away and
//! back, `WHO`, and the idle timeout.

mod common;

use std::time::Duration;

use common::v2::{
    get, hello_client, obj, ping, ping_non_lists, request, string, subscribe_with, uint,
};
use common::wire::{next_error_on, reason};
use common::{start_broker, start_broker_with, Raw};
use protocol::{Format, Message, Method, Value};

/// A client named `name`, in `format`, and its connection id.
fn named(addr: std::net::SocketAddr, format: Format, name: &str) -> (Raw, u64) {
    let mut c = Raw::handshake(addr, format);
    let answer = common::v2::hello(&mut c, obj(&[("name", name.into())]));
    (c, uint(get(&answer, "id")))
}

/// `{"presence": true}`.
fn watching() -> Value {
    obj(&[("presence", Value::Bool(true))])
}

/// The presence events `c` received before a PING round trip, as
/// `(name, action)`, checking their topic and keys.
#[track_caller]
fn events(c: &mut Raw, topic: &str) -> Vec<(String, String)> {
    ping_non_lists(c)
        .into_iter()
        .filter(|m| m.method == Method::Presence)
        .map(|m| {
            assert_eq!(m.topic, topic, "{m:?}");
            common::v2::assert_keys(&m.msg, &["name", "id", "action", "ts"]);
            (
                string(get(&m.msg, "name")).to_owned(),
                string(get(&m.msg, "action")).to_owned(),
            )
        })
        .collect()
}

fn pair(name: &str, action: &str) -> (String, String) {
    (name.to_owned(), action.to_owned())
}

#[test]
fn s16_joins_and_leaves_reach_watchers_own_join_after_the_replay() {
    let b = start_broker();
    let mut p = Raw::json(b.addr);
    p.publish("/room", "hello");
    ping(&mut p);
    let (mut alice, _) = named(b.addr, Format::Json, "alice");
    subscribe_with(&mut alice, "/room", watching());
    let got = ping_non_lists(&mut alice);
    let methods: Vec<Method> = got.iter().map(|m| m.method).collect();
    assert_eq!(methods, [Method::LastMsg, Method::Presence], "{got:?}");
    let (mut bob, _) = named(b.addr, Format::Xml, "bob");
    bob.subscribe("/room");
    bob.subscribe("/room");
    ping(&mut bob);
    assert_eq!(
        events(&mut alice, "/room"),
        [pair("bob", "join")],
        "one join"
    );
    assert!(
        events(&mut bob, "/room").is_empty(),
        "bob did not ask for presence"
    );
    let mut anonymous = Raw::json(b.addr);
    anonymous.subscribe("/room");
    anonymous.subscribe("/room/sub");
    ping(&mut anonymous);
    let (mut carol, _) = named(b.addr, Format::Json, "carol");
    carol.subscribe("/room/sub");
    carol.subscribe("/*");
    ping(&mut carol);
    assert!(
        events(&mut alice, "/room").is_empty(),
        "unnamed, other topics, patterns: no join"
    );
    bob.send(&Message::cancel_sub("/room"));
    ping(&mut bob);
    assert_eq!(events(&mut alice, "/room"), [pair("bob", "leave")]);
    let (mut dave, _) = named(b.addr, Format::Json, "dave");
    dave.subscribe("/room");
    ping(&mut dave);
    drop(dave);
    let mut seen = Vec::new();
    for _ in 0..50 {
        seen.extend(events(&mut alice, "/room"));
        if seen.len() >= 2 {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(
        seen,
        [pair("dave", "join"), pair("dave", "leave")],
        "an abrupt disconnect leaves"
    );
}

#[test]
fn s16_who_lists_members_sorted_by_name_then_id() {
    let b = start_broker();
    let (mut zed, zed_id) = named(b.addr, Format::Json, "zed");
    let (mut amy1, id1) = named(b.addr, Format::Json, "amy");
    let (mut amy2, id2) = named(b.addr, Format::Xml, "amy");
    for c in [&mut zed, &mut amy2, &mut amy1] {
        c.subscribe("/chat");
        ping(c);
    }
    let mut asker = Raw::xml(b.addr);
    asker.send(&request(Method::Who, "//chat", Value::Null));
    let answer = ping_non_lists(&mut asker).remove(0);
    assert_eq!(
        (answer.method, answer.topic.as_str()),
        (Method::Who, "/chat")
    );
    let Value::List(items) = &answer.msg else {
        panic!("{answer:?}")
    };
    let listed: Vec<(String, u64, String)> = items
        .iter()
        .map(|i| {
            common::v2::assert_keys(i, &["name", "id", "state", "since"]);
            (
                string(get(i, "name")).to_owned(),
                uint(get(i, "id")),
                string(get(i, "state")).to_owned(),
            )
        })
        .collect();
    let (lo, hi) = (id1.min(id2), id1.max(id2));
    assert_eq!(
        listed,
        [
            ("amy".to_owned(), lo, "online".to_owned()),
            ("amy".to_owned(), hi, "online".to_owned()),
            ("zed".to_owned(), zed_id, "online".to_owned())
        ]
    );
    asker.send(&request(Method::Who, "/nobody", Value::Null));
    assert_eq!(ping_non_lists(&mut asker)[0].msg, Value::List(vec![]));
}

#[test]
fn s16_away_after_the_delay_back_at_the_next_frame() {
    let b = start_broker_with(broker::Config {
        away: Some(Duration::from_millis(500)),
        ..broker::Config::default()
    });
    let (mut watcher, _) = named(b.addr, Format::Json, "w");
    subscribe_with(&mut watcher, "/office", watching());
    let (mut sleepy, _) = named(b.addr, Format::Json, "sleepy");
    sleepy.subscribe("/office");
    ping(&mut sleepy);
    let mut seen = events(&mut watcher, "/office");
    for _ in 0..100 {
        if seen.iter().any(|(n, a)| n == "sleepy" && a == "away") {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
        seen.extend(events(&mut watcher, "/office"));
    }
    assert!(seen.contains(&pair("sleepy", "away")), "{seen:?}");
    let mut who = Raw::json(b.addr);
    who.send(&request(Method::Who, "/office", Value::Null));
    let list = ping_non_lists(&mut who).remove(0).msg;
    let Value::List(items) = list else { panic!() };
    let sleepy_state = items
        .iter()
        .find(|i| get(i, "name") == &Value::from("sleepy"))
        .map(|i| get(i, "state").clone());
    assert_eq!(sleepy_state, Some(Value::from("away")));
    ping(&mut sleepy);
    assert!(events(&mut watcher, "/office").contains(&pair("sleepy", "back")));
}

#[test]
fn s16_a_rename_is_a_leave_and_a_join() {
    let b = start_broker();
    let (mut watcher, _) = named(b.addr, Format::Json, "w");
    subscribe_with(&mut watcher, "/r", watching());
    let mut c = Raw::json(b.addr);
    c.subscribe("/r");
    ping(&mut c);
    assert!(
        events(&mut watcher, "/r").iter().all(|(n, _)| n == "w"),
        "unnamed: nothing"
    );
    common::v2::hello(&mut c, obj(&[("name", "first".into())]));
    assert_eq!(
        events(&mut watcher, "/r"),
        [pair("first", "join")],
        "named: it joins"
    );
    common::v2::hello(&mut c, obj(&[("name", "second".into())]));
    assert_eq!(
        events(&mut watcher, "/r"),
        [pair("first", "leave"), pair("second", "join")]
    );
}

#[test]
fn s16_presence_and_who_on_a_pattern_are_errors() {
    let b = start_broker();
    let mut c = Raw::json(b.addr);
    subscribe_with(&mut c, "/a/*", watching());
    let e = next_error_on(&mut c, "/a/*");
    assert!(reason(&e).contains("exact topic"), "{e:?}");
    subscribe_with(&mut c, "/a", obj(&[("presence", Value::from("yes"))]));
    next_error_on(&mut c, "/a");
    c.send(&request(Method::Who, "/a/*", Value::Null));
    next_error_on(&mut c, "/a/*");
}

#[test]
fn s16_the_idle_timeout_closes_a_silent_connection_with_an_error_first() {
    let b = start_broker_with(broker::Config {
        idle_timeout: Some(Duration::from_millis(300)),
        ..broker::Config::default()
    });
    let (mut talker, _) = hello_client(b.addr, Format::Json, Value::Null);
    let mut silent = Raw::json(b.addr);
    for _ in 0..8 {
        std::thread::sleep(Duration::from_millis(150));
        ping(&mut talker);
    }
    let frames = silent.expect_closed();
    let last = frames.last().expect("an ERROR before the close");
    let e = common::wire::decode_error(Format::Json, last);
    assert!(reason(&e).contains("idle timeout"), "{e:?}");
    ping(&mut talker);
}

#[test]
fn s16_a_reset_connection_leaves() {
    let b = start_broker();
    let (mut watcher, _) = named(b.addr, Format::Json, "w");
    subscribe_with(&mut watcher, "/lobby", watching());
    let (mut gone, _) = named(b.addr, Format::Xml, "gone");
    gone.subscribe("/lobby");
    ping(&mut gone);
    assert!(events(&mut watcher, "/lobby").contains(&pair("gone", "join")));
    gone.reset();
    let mut seen = Vec::new();
    for _ in 0..100 {
        seen.extend(events(&mut watcher, "/lobby"));
        if !seen.is_empty() {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(seen, [pair("gone", "leave")]);
}
