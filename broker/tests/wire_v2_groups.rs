//! Queue groups through real sockets (v2 §15, the queue group paragraph):
//! subscriptions with the same group name and topic text share the messages,
//! one member each, in turn, beside every subscriber outside the group.

mod common;

use common::v2::{obj, ping, ping_non_lists, request, resume, subscribe_with};
use common::wire::{next_error_on, subscriber};
use common::{start_broker, Raw};
use protocol::{Format, Method, Value};

/// `{"group": name}`.
fn group(name: &str) -> Value {
    obj(&[("group", Value::from(name))])
}

/// A JSON client in group `name` of `topic`, its subscription in place.
fn member(addr: std::net::SocketAddr, topic: &str, name: &str) -> Raw {
    let mut c = Raw::json(addr);
    subscribe_with(&mut c, topic, group(name));
    ping(&mut c);
    c
}

/// The integer values `c` received before a PING round trip.
fn values(c: &mut Raw) -> Vec<i64> {
    ping_non_lists(c)
        .into_iter()
        .map(|m| {
            assert_eq!(m.method, Method::Publish, "{m:?}");
            match m.msg {
                Value::Int(i) => i,
                other => panic!("{other:?}"),
            }
        })
        .collect()
}

/// Publishes 0..n on `topic` and waits until the broker handled them.
fn publish_all(p: &mut Raw, topic: &str, n: i64) {
    for i in 0..n {
        p.publish(topic, i);
    }
    ping(p);
}

#[test]
fn s15_each_message_goes_to_one_member_in_turn_and_to_everyone_outside() {
    let b = start_broker();
    let mut members: Vec<Raw> = (0..3).map(|_| member(b.addr, "/jobs", "w")).collect();
    let mut outside = subscriber(b.addr, Format::Json, "/jobs");
    let mut p = Raw::json(b.addr);
    publish_all(&mut p, "/jobs", 30);
    let mut all: Vec<i64> = Vec::new();
    for m in &mut members {
        let got = values(m);
        assert_eq!(got.len(), 10, "an even share: {got:?}");
        assert!(got.windows(2).all(|w| w[0] < w[1]), "in order: {got:?}");
        all.extend(got);
    }
    all.sort_unstable();
    assert_eq!(all, (0..30).collect::<Vec<_>>(), "each exactly once");
    assert_eq!(values(&mut outside), (0..30).collect::<Vec<_>>());
}

#[test]
fn s15_a_member_that_leaves_hands_its_share_to_the_others_at_once() {
    let b = start_broker();
    let mut a = member(b.addr, "/q", "g");
    let mut c = member(b.addr, "/q", "g");
    let mut p = Raw::json(b.addr);
    publish_all(&mut p, "/q", 4);
    assert_eq!(values(&mut a).len() + values(&mut c).len(), 4);
    c.send(&protocol::Message::cancel_sub("/q"));
    ping(&mut c);
    publish_all(&mut p, "/q", 6);
    assert_eq!(values(&mut a), (0..6).collect::<Vec<_>>());
    assert!(values(&mut c).is_empty());
    drop(a);
    let mut d = member(b.addr, "/q", "g");
    publish_all(&mut p, "/q", 3);
    assert_eq!(
        values(&mut d),
        [0, 1, 2],
        "a disconnected member's share too"
    );
}

#[test]
fn s15_groups_are_per_name_and_topic_text() {
    let b = start_broker();
    let mut g1 = member(b.addr, "/t", "one");
    let mut g2 = member(b.addr, "/t", "two");
    let mut sub_topic = member(b.addr, "/t/x", "one");
    let mut p = Raw::json(b.addr);
    publish_all(&mut p, "/t/x", 2);
    assert_eq!(values(&mut g1), [0, 1], "the only member of one/'/t'");
    assert_eq!(values(&mut g2), [0, 1], "the only member of two/'/t'");
    assert_eq!(
        values(&mut sub_topic),
        [0, 1],
        "one/'/t/x' is another group"
    );
}

#[test]
fn s15_a_member_gets_no_replay_and_one_copy_per_connection() {
    let b = start_broker();
    let mut p = Raw::json(b.addr);
    publish_all(&mut p, "/r", 1);
    let mut c = Raw::json(b.addr);
    subscribe_with(&mut c, "/r", group("g"));
    assert!(
        ping_non_lists(&mut c).is_empty(),
        "no LAST_MSG for a member"
    );
    c.subscribe("/r");
    assert_eq!(ping_non_lists(&mut c).len(), 1, "a plain subscribe replays");
    publish_all(&mut p, "/r", 3);
    assert_eq!(values(&mut c), [0, 1, 2], "one copy, grouped and plain");
}

#[test]
fn s15_subscribing_again_replaces_the_options() {
    let b = start_broker();
    let mut a = member(b.addr, "/s", "g");
    let mut c = member(b.addr, "/s", "g");
    subscribe_with(&mut c, "/s", Value::Null);
    ping(&mut c);
    let mut p = Raw::json(b.addr);
    publish_all(&mut p, "/s", 4);
    assert_eq!(values(&mut c), [0, 1, 2, 3], "no longer in the group");
    assert_eq!(values(&mut a), [0, 1, 2, 3], "now the group's only member");
}

#[test]
fn s17_bad_group_options_are_one_error_and_subscribe_nothing() {
    let b = start_broker();
    let mut c = Raw::json(b.addr);
    let mut resuming_member = resume("e", &[("/b", 1)]);
    if let Value::Dict(keys) = &mut resuming_member {
        keys.push(("group".into(), Value::from("g")));
    }
    let bad = [
        group(""),
        group("a b"),
        group(&"x".repeat(65)),
        obj(&[("group", Value::Int(1))]),
        resuming_member,
    ];
    for msg in bad {
        c.send(&request(Method::Subscribe, "/b", msg));
        next_error_on(&mut c, "/b");
    }
    let mut p = Raw::json(b.addr);
    publish_all(&mut p, "/b", 1);
    assert!(values(&mut c).is_empty(), "nothing was subscribed");
}
