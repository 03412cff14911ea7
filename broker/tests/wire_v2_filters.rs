//! Content filters through real sockets (v2 §14): a `SUBSCRIBE` with
//! `{"filter": "<CEL>"}` receives only the messages its expression passes,
//! `LAST_MSG` replay and resume included; and the per-connection limit on
//! subscriptions.

mod common;

use common::v2::{delivery, json, obj, ping, ping_non_lists, request, resume, subscribe_with};
use common::wire::{next_error_on, reason};
use common::{start_broker, start_broker_with, Raw};
use protocol::{Format, Method, Value};

/// `{"filter": expr}`.
fn filter(expr: &str) -> Value {
    obj(&[("filter", Value::from(expr))])
}

/// A client of `format` subscribed to `topic` with the filter `expr`; what
/// its subscription replayed.
fn filtered(
    addr: std::net::SocketAddr,
    format: Format,
    topic: &str,
    expr: &str,
) -> (Raw, Vec<Value>) {
    let mut c = Raw::handshake(addr, format);
    subscribe_with(&mut c, topic, filter(expr));
    let replayed = values(&mut c);
    (c, replayed)
}

/// The values `c` received before a PING round trip.
fn values(c: &mut Raw) -> Vec<Value> {
    ping_non_lists(c).into_iter().map(|m| m.msg).collect()
}

/// Publishes each JSON text on `topic`, and waits until the broker handled them.
fn publish_all(p: &mut Raw, topic: &str, texts: &[&str]) {
    for t in texts {
        p.publish(topic, json(t));
    }
    ping(p);
}

const ORDERS: [&str; 5] = [
    r#"{"type": "order", "value": 150}"#,
    r#"{"type": "order", "value": 50}"#,
    r#"{"type": "quote", "value": 500}"#,
    r#"{"value": 900}"#,
    r#"{"type": "order", "value": 100.5}"#,
];

#[test]
fn s14_only_messages_the_expression_passes_arrive_in_both_formats() {
    let b = start_broker();
    let expr = r#"msg.type == "order" && msg.value > 100"#;
    let (mut j, _) = filtered(b.addr, Format::Json, "/shop", expr);
    let (mut x, _) = filtered(b.addr, Format::Xml, "/shop", expr);
    let mut all = common::wire::subscriber(b.addr, Format::Json, "/shop");
    let mut p = Raw::json(b.addr);
    publish_all(&mut p, "/shop/orders", &ORDERS);
    let want = vec![json(ORDERS[0]), json(ORDERS[4])];
    assert_eq!(values(&mut j), want, "an error (no type) counts as false");
    assert_eq!(values(&mut x), want);
    assert_eq!(values(&mut all).len(), 5, "unfiltered neighbours get all");
}

#[test]
fn s14_topic_and_seq_are_the_message_s() {
    let b = start_broker();
    let (mut c, _) = filtered(
        b.addr,
        Format::Json,
        "/*",
        r#"topic.endsWith("/b") && seq % 2 == 0"#,
    );
    let mut p = Raw::json(b.addr);
    for i in 1..=4 {
        p.publish("/a/b", i);
        p.publish("/a/c", i);
    }
    ping(&mut p);
    let got: Vec<(String, u64)> = ping_non_lists(&mut c)
        .iter()
        .map(|m| {
            let (_, topic, seq, _) = delivery(m);
            (topic.to_owned(), seq)
        })
        .collect();
    assert_eq!(got, [("/a/b".to_owned(), 2), ("/a/b".to_owned(), 4)]);
}

#[test]
fn s14_last_msg_replay_is_filtered_too() {
    let b = start_broker();
    let mut p = Raw::json(b.addr);
    p.publish("/r/a", json(r#"{"ok": true}"#));
    p.publish("/r/b", json(r#"{"ok": false}"#));
    p.publish("/r/c", 3);
    ping(&mut p);
    let (_, replayed) = filtered(b.addr, Format::Json, "/r", "msg.ok");
    assert_eq!(replayed, [json(r#"{"ok": true}"#)]);
    let (_, by_pattern) = filtered(b.addr, Format::Xml, "/r/*", "!msg.ok");
    assert_eq!(by_pattern, [json(r#"{"ok": false}"#)]);
}

#[test]
fn s14_a_resume_replays_what_passes_and_filtered_out_messages_are_no_gaps() {
    let b = start_broker();
    let (_, epoch) = common::v2::hello_client(b.addr, Format::Json, Value::Null);
    let mut p = Raw::json(b.addr);
    for i in 1..=6 {
        p.publish("/n", i);
    }
    ping(&mut p);
    let mut c = Raw::json(b.addr);
    let mut msg = resume(&epoch, &[("/n", 2)]);
    if let Value::Dict(keys) = &mut msg {
        keys.push(("filter".into(), Value::from("msg % 2 == 1")));
    }
    subscribe_with(&mut c, "/n", msg);
    let got = ping_non_lists(&mut c);
    assert!(
        got.iter().all(|m| m.method != Method::Gap),
        "no gaps: {got:?}"
    );
    let seqs: Vec<u64> = got.iter().map(|m| delivery(m).2).collect();
    assert_eq!(seqs, [3, 5], "the odd values after 2");
}

#[test]
fn s14_one_copy_per_connection_when_any_of_its_subscriptions_passes() {
    let b = start_broker();
    let mut c = Raw::json(b.addr);
    subscribe_with(&mut c, "/m", filter("msg > 10"));
    subscribe_with(&mut c, "/m/*", filter("msg < 5"));
    ping(&mut c);
    let mut p = Raw::json(b.addr);
    for v in [1, 7, 20] {
        p.publish("/m/x", v);
    }
    ping(&mut p);
    assert_eq!(values(&mut c), [Value::Int(1), Value::Int(20)]);
    c.subscribe("/m");
    ping(&mut c);
    p.publish("/m/x", 7);
    ping(&mut p);
    assert_eq!(
        values(&mut c).last(),
        Some(&Value::Int(7)),
        "subscribing again without a filter replaces it"
    );
}

#[test]
fn s14_a_group_member_is_chosen_among_those_whose_filter_passes() {
    let b = start_broker();
    let member = |expr: &str| {
        let mut c = Raw::json(b.addr);
        let msg = obj(&[("group", Value::from("g")), ("filter", Value::from(expr))]);
        subscribe_with(&mut c, "/jobs", msg);
        ping(&mut c);
        c
    };
    let mut small = member("msg < 100");
    let mut any = member("true");
    let mut p = Raw::json(b.addr);
    for v in [1, 500, 2, 600, 3, 700] {
        p.publish("/jobs", v);
    }
    ping(&mut p);
    let (s, a) = (values(&mut small), values(&mut any));
    assert!(
        s.iter().all(|v| matches!(v, Value::Int(i) if *i < 100)),
        "{s:?}"
    );
    assert_eq!(s.len() + a.len(), 6, "each once: {s:?} {a:?}");
    assert!(a.contains(&Value::Int(500)) && a.contains(&Value::Int(700)));
}

#[test]
fn s14_bad_filters_are_one_error_and_subscribe_nothing() {
    let b = start_broker();
    let mut c = Raw::json(b.addr);
    let too_long = format!("msg == \"{}\"", "a".repeat(4096));
    let cases: [(Value, &str); 6] = [
        (filter("msg.type =="), "does not compile"),
        (filter("nope > 1"), "undeclared reference"),
        (filter("msg.f()"), "undeclared function"),
        (filter(""), "does not compile"),
        (filter(&too_long), "over the limit of 4096"),
        (obj(&[("filter", Value::Int(1))]), "filter must be a string"),
    ];
    for (msg, why) in cases {
        c.send(&request(Method::Subscribe, "/f", msg));
        let e = next_error_on(&mut c, "/f");
        assert!(reason(&e).contains(why), "{why}: {e:?}");
    }
    let mut p = Raw::json(b.addr);
    p.publish("/f", 1);
    ping(&mut p);
    assert!(values(&mut c).is_empty(), "nothing was subscribed");
}

#[test]
fn a_connection_past_its_subscription_limit_gets_an_error() {
    let b = start_broker_with(broker::Config {
        max_subscriptions: 3,
        ..broker::Config::default()
    });
    let mut c = Raw::json(b.addr);
    for t in ["/l/a", "/l/b", "/l/*/x"] {
        c.subscribe(t);
    }
    c.subscribe("/l/b");
    ping(&mut c);
    c.subscribe("/l/c");
    let e = next_error_on(&mut c, "/l/c");
    assert!(reason(&e).contains("at most 3 subscriptions"), "{e:?}");
    c.send(&protocol::Message::cancel_sub("/l/a"));
    c.subscribe("/l/c");
    let mut p = Raw::json(b.addr);
    p.publish("/l/c", 1);
    ping(&mut p);
    assert_eq!(values(&mut c), [Value::Int(1)], "room again after a cancel");
}
