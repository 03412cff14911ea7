//! Unit tests of [`broker::core::Router`] without sockets, rule by rule of
//! the lab protocol: requests go through the lab door's real codec, and a
//! recording outbox keeps what the router hands out (see `router/harness.rs`).

#[path = "router/harness.rs"]
mod harness;

use std::collections::HashMap;

use broker::core::{ConnId, Form};
use broker::doors::lab::NO_TOPICS;
use harness::*;
use protocol::{Format, Message, Method, Value};

// ------------------------------------------------------------------- dedup

#[test]
fn overlapping_subscriptions_get_one_copy() {
    let mut h = Harness::new();
    let a = h.connect(1, Format::Json);
    let b = h.connect(2, Format::Xml);
    let p = h.connect(3, Format::Json);
    for t in ["/a", "/a/b", "/", "/a/b"] {
        h.subscribe(a, t);
    }
    h.subscribe(b, "/a/b");
    h.subscribe(b, "/a");
    h.clear();
    h.publish(p, "/a/b", 1);
    h.publish(p, "/a/b/c", 2);
    h.publish(p, "/a", 3);
    h.publish(p, "/a/b", 4);
    let want = vec![
        Message::publish("/a/b", 1),
        Message::publish("/a/b/c", 2),
        Message::publish("/a", 3),
        Message::publish("/a/b", 4),
    ];
    assert_eq!(h.take_non_lists(a), want);
    assert_eq!(h.take_non_lists(b), want);
    assert!(h.take(p).is_empty(), "publisher holds no subscription");
}

#[test]
fn publisher_subscribed_gets_its_own_message_once() {
    let mut h = Harness::new();
    let p = h.connect(0, Format::Xml);
    h.subscribe(p, "/me");
    h.subscribe(p, "/");
    h.clear();
    h.publish(p, "/me/x", "hi");
    assert_eq!(
        h.take(p),
        vec![list_ack(&["/me", "/me/x"]), Message::publish("/me/x", "hi")]
    );
}

// ----------------------------------------------------------- LAST_MSG replay

#[test]
fn last_msg_replay_is_sorted_bounded_and_latest() {
    let mut h = Harness::new();
    let p = h.connect(0, Format::Json);
    for (t, v) in [
        ("/a/b", 1),
        ("/a-b", 2),
        ("/a", 3),
        ("/a/c/d", 4),
        ("/ab", 5),
        ("/a/b", 6),
    ] {
        h.publish(p, t, v);
    }
    let j = h.connect(1, Format::Json);
    let x = h.connect(2, Format::Xml);
    h.clear();
    h.subscribe(j, "/a");
    assert_eq!(
        h.take(j),
        vec![
            last_msg("/a", 3),
            last_msg("/a/b", 6),
            last_msg("/a/c/d", 4)
        ]
    );
    h.subscribe(x, "/");
    assert_eq!(
        h.take(x),
        vec![
            last_msg("/a", 3),
            last_msg("/a-b", 2),
            last_msg("/a/b", 6),
            last_msg("/a/c/d", 4),
            last_msg("/ab", 5),
        ]
    );
    // Ancestors created along the way hold nothing: no LAST_MSG for /a/c.
    h.subscribe(j, "/a/c");
    assert_eq!(h.take(j), vec![last_msg("/a/c/d", 4)]);
    h.assert_silent();
}

#[test]
fn last_msg_comes_before_later_deliveries() {
    let mut h = Harness::new();
    let p = h.connect(0, Format::Json);
    let s = h.connect(1, Format::Xml);
    h.publish(p, "/k", 1);
    h.subscribe(s, "/k");
    h.publish(p, "/k", 2);
    assert_eq!(
        h.take(s),
        vec![last_msg("/k", 1), Message::publish("/k", 2)]
    );
}

// ----------------------------------------------------------- announcements

#[test]
fn topic_creation_pushes_one_list_ack_to_subscribed_clients() {
    let mut h = Harness::new();
    let watcher = h.connect(0, Format::Json);
    let xwatcher = h.connect(1, Format::Xml);
    let idle = h.connect(2, Format::Json);
    let p = h.connect(3, Format::Xml);
    h.subscribe(watcher, "/w");
    h.subscribe(xwatcher, "/");
    h.clear();
    // One request creating three topics: one LIST_ACK, before the delivery.
    h.publish(p, "/n/t/u", 1);
    let list = ["/n", "/n/t", "/n/t/u", "/w"];
    assert_eq!(h.take(watcher), vec![list_ack(&list)]);
    assert_eq!(
        h.take(xwatcher),
        vec![list_ack(&list), Message::publish("/n/t/u", 1)]
    );
    assert!(h.take(idle).is_empty());
    assert!(h.take(p).is_empty());
    // Existing topic: no announcement.
    h.publish(p, "/n/t", 2);
    assert!(h.take(watcher).is_empty());
    assert_eq!(h.take(xwatcher), vec![Message::publish("/n/t", 2)]);
    // A SUBSCRIBE that creates topics: the subscriber is included.
    h.subscribe(idle, "/s");
    let list = ["/n", "/n/t", "/n/t/u", "/s", "/w"];
    assert_eq!(h.take(idle), vec![list_ack(&list)]);
    assert_eq!(h.take(watcher), vec![list_ack(&list)]);
    assert_eq!(h.take(xwatcher), vec![list_ack(&list)]);
    assert!(h.take(p).is_empty());
    // Subscribing to existing topics or the root announces nothing.
    h.subscribe(p, "/s");
    h.subscribe(p, "/");
    assert_eq!(
        h.take(p),
        vec![last_msg("/n/t", 2), last_msg("/n/t/u", 1)],
        "only the replay"
    );
    h.assert_silent();
    // Now the publisher holds subscriptions: it is announced to as well.
    h.publish(p, "/q", 3);
    let got = h.take(p);
    assert_eq!(
        got[0],
        list_ack(&["/n", "/n/t", "/n/t/u", "/q", "/s", "/w"])
    );
    assert_eq!(got.len(), 2, "{got:?}");
}

#[test]
fn list_replies_follow_topic_creation() {
    // The first page is cached per format; creation must refresh it.
    let mut h = Harness::new();
    let j = h.connect(0, Format::Json);
    let x = h.connect(1, Format::Xml);
    h.req(j, &Message::list(None));
    assert_eq!(
        h.take(j),
        vec![Message::new(Method::ListNack, "/", NO_TOPICS)]
    );
    h.publish(j, "/b", 1);
    for c in [j, x] {
        h.req(c, &Message::list(None));
        assert_eq!(h.take(c), vec![list_ack(&["/b"])]);
    }
    h.subscribe(x, "/a/z");
    h.clear();
    for c in [j, x] {
        h.req(c, &Message::list(None));
        assert_eq!(h.take(c), vec![list_ack(&["/a", "/a/z", "/b"])]);
    }
    h.publish(x, "/c", 1);
    h.clear();
    for c in [x, j] {
        h.req(c, &Message::list(None));
        assert_eq!(h.take(c), vec![list_ack(&["/a", "/a/z", "/b", "/c"])]);
        h.req(c, &Message::list(Some("/a/z")));
        assert_eq!(h.take(c), vec![list_ack(&["/b", "/c"])]);
        h.req(c, &Message::list(Some("/c")));
        assert_eq!(h.take(c), vec![list_ack(&[])]);
    }
}

#[test]
fn list_pages_cover_all_topics_within_frame_limit() {
    let mut h = Harness::new();
    let p = h.connect(0, Format::Json);
    let mut topics: Vec<String> = (0..300)
        .map(|i| format!("/{i:03}/{}", "&\"<\\é".repeat(150)))
        .collect();
    for t in &topics {
        h.publish(p, t, 1);
    }
    topics.sort();
    let mut want: Vec<String> = topics
        .iter()
        .flat_map(|t| [t[..4].to_owned(), t.clone()])
        .collect();
    want.sort();
    for (id, format) in [(1, Format::Json), (2, Format::Xml)] {
        let c = h.connect(id, format);
        let mut all: Vec<String> = Vec::new();
        let mut cursor: Option<String> = None;
        let mut pages = 0;
        loop {
            h.req(c, &Message::list(cursor.as_deref()));
            let mut got = h.take(c);
            assert_eq!(got.len(), 1);
            let m = got.remove(0);
            assert_eq!(m.method, Method::ListAck);
            pages += 1;
            let Value::List(items) = m.msg else {
                panic!("list")
            };
            let page: Vec<String> = items
                .into_iter()
                .map(|v| match v {
                    Value::Str(s) => s,
                    other => panic!("{other:?}"),
                })
                .collect();
            cursor = page.last().cloned();
            all.extend(page);
            if !m.attrs.more {
                break;
            }
            assert!(pages < 50);
        }
        assert!(pages > 2, "{format:?}: {pages} pages");
        assert_eq!(all, want, "{format:?}");
    }
}

// ------------------------------------------------- encode once per format

#[test]
fn each_format_gets_one_encoding_shared_by_its_subscribers() {
    let mut h = Harness::new();
    let json: Vec<ConnId> = (0..3).map(|i| h.connect(i, Format::Json)).collect();
    let xml: Vec<ConnId> = (3..6).map(|i| h.connect(i, Format::Xml)).collect();
    for (i, &c) in json.iter().chain(&xml).enumerate() {
        h.subscribe(c, ["/", "/e", "/e/x"][i % 3]);
        if i % 2 == 0 {
            h.subscribe(c, "/e/x");
        }
    }
    let pj = h.connect(10, Format::Json);
    let px = h.connect(11, Format::Xml);
    let value = Value::Dict(vec![
        ("s".into(), "<&>\r\"".into()),
        ("f".into(), Value::Float(2.0)),
        (
            "l".into(),
            Value::List(vec![Value::Int(i64::MIN), Value::Null]),
        ),
    ]);
    for p in [pj, px] {
        h.clear();
        h.publish(p, "/e/x", value.clone());
        let mut calls: Vec<(Form, usize)> = h
            .out
            .delivered
            .iter()
            .map(|d| (d.form, d.to.len()))
            .collect();
        calls.sort();
        assert_eq!(
            calls,
            [(Form(0), 3), (Form(1), 3)],
            "one outbox call per form, with all its recipients"
        );
        let mut by_format: HashMap<Format, Vec<Vec<u8>>> = HashMap::new();
        for &c in json.iter().chain(&xml) {
            let frames = h.frames(c);
            assert_eq!(frames.len(), 1, "one copy each");
            by_format
                .entry(h.formats[&c])
                .or_default()
                .push(frames[0].clone());
        }
        for (format, frames) in &by_format {
            assert_eq!(frames.len(), 3);
            assert!(
                frames.windows(2).all(|w| w[0] == w[1]),
                "{format:?} subscribers got different bytes"
            );
            let m = stamps::unstamped(format.decode(&frames[0][5..]).unwrap());
            assert_eq!(m, Message::publish("/e/x", value.clone()), "{format:?}");
        }
        assert_ne!(by_format[&Format::Json][0], by_format[&Format::Xml][0]);
        assert_eq!(by_format[&Format::Json][0][5], b'{');
        assert_eq!(by_format[&Format::Xml][0][5], b'<');
    }
}

// ------------------------------------------------------------- disconnect

#[test]
fn disconnect_removes_every_subscription() {
    let mut h = Harness::new();
    let gone = h.connect(4, Format::Json);
    let stays = h.connect(5, Format::Json);
    let p = h.connect(6, Format::Json);
    for t in ["/a", "/b/c", "/"] {
        h.subscribe(gone, t);
    }
    h.subscribe(stays, "/a");
    h.disconnect(gone);
    h.clear();
    h.publish(p, "/a", 1);
    h.publish(p, "/b/c", 2);
    h.publish(p, "/new", 3);
    assert!(
        h.take(gone).is_empty(),
        "delivered to a disconnected client"
    );
    assert_eq!(
        h.take(stays),
        vec![
            Message::publish("/a", 1),
            list_ack(&["/a", "/b", "/b/c", "/new"])
        ]
    );
    // Requests from a disconnected (or never connected) id are ignored.
    h.publish(gone, "/a", 9);
    h.raw(ConnId(99), br#"{"method":"LIST","topic":"/"}"#);
    h.assert_silent();
    // The slot reused by a new connection inherits nothing.
    let again = h.connect(4, Format::Xml);
    h.publish(p, "/a", 4);
    h.publish(p, "/newer", 5);
    assert!(
        h.take(again).is_empty(),
        "new connection inherited subscriptions"
    );
    assert_eq!(h.take(stays).len(), 2);
    // Disconnecting twice is harmless.
    h.disconnect(again);
    h.disconnect(again);
    h.publish(p, "/a", 6);
    assert!(h.take(again).is_empty());
}

// ----------------------------------------------------------------- cancel

#[test]
fn cancel_removes_subscriptions_equal_or_under_only() {
    let mut h = Harness::new();
    let s = h.connect(0, Format::Json);
    let other = h.connect(1, Format::Xml);
    let p = h.connect(2, Format::Json);
    for t in ["/a", "/a/b", "/a/c/d", "/ab", "/x"] {
        h.subscribe(s, t);
    }
    h.subscribe(other, "/a/b");
    h.clear();
    // Cancelling below a subscription keeps it.
    h.cancel(s, "/a/b/z");
    h.cancel(s, "/zzz");
    h.assert_silent();
    h.publish(p, "/a/b", 1);
    assert_eq!(h.take(s), vec![Message::publish("/a/b", 1)]);
    h.clear();
    // Cancelling /a removes /a, /a/b, /a/c/d; /ab and /x stay.
    h.cancel(s, "//a/");
    h.assert_silent();
    for t in ["/a", "/a/b", "/a/c/d", "/ab", "/x"] {
        h.publish(p, t, t);
    }
    let got: Vec<String> = h.take(s).into_iter().map(|m| m.topic).collect();
    assert_eq!(got, ["/ab", "/x"]);
    assert_eq!(h.take(other), vec![Message::publish("/a/b", "/a/b")]);
    // Cancel via msg (the lab middleware's field) wins over topic.
    h.req(s, &Message::new(Method::CancelSub, "/ab", "/x"));
    h.publish(p, "/x", 1);
    h.publish(p, "/ab", 2);
    assert_eq!(h.take(s), vec![Message::publish("/ab", 2)]);
    // Cancelling the root removes the rest; no subscription left means no
    // announcements either.
    h.cancel(s, "/");
    h.publish(p, "/ab", 3);
    h.publish(p, "/brand/new", 4);
    assert!(h.take(s).is_empty());
}

#[test]
fn cancel_of_invalid_topic_is_an_error_in_the_clients_format() {
    let mut h = Harness::new();
    let j = h.connect(0, Format::Json);
    let x = h.connect(1, Format::Xml);
    for c in [j, x] {
        h.subscribe(c, "/keep");
        h.clear();
        for bad in ["nope", "/a b", "/a/#"] {
            h.cancel(c, bad);
            let got = h.take(c);
            assert_eq!(got.len(), 1, "{got:?}");
            assert_error(&got[0], bad);
        }
        // No topic at all (and no usable msg).
        h.req(c, &Message::new(Method::CancelSub, "", Value::Null));
        assert_error(&h.take(c)[0], "");
        // A valid topic with nothing under it: no reply at all.
        h.cancel(c, "/none");
        h.assert_silent();
    }
    let p = h.connect(2, Format::Json);
    h.publish(p, "/keep", 1);
    assert_eq!(h.take(j), vec![Message::publish("/keep", 1)]);
    assert_eq!(h.take(x), vec![Message::publish("/keep", 1)]);
}

// ---------------------------------------------------------- refused input

#[test]
fn refused_requests_change_nothing() {
    let mut h = Harness::new();
    let s = h.connect(0, Format::Xml);
    let j = h.connect(1, Format::Json);
    h.subscribe(s, "/");
    h.clear();
    let huge = "<".repeat(90_000);
    let cases: Vec<(Message, &str)> = vec![
        (Message::publish("/", 1), "/"),
        (Message::publish("//", 1), "//"),
        (Message::publish("no/slash", 1), "no/slash"),
        (Message::publish("/a b", 1), "/a b"),
        (Message::publish("/big", huge.as_str()), "/big"),
        (Message::subscribe("/x*"), "/x*"),
        (Message::new(Method::LastMsg, "/l", 1), "/l"),
        (Message::new(Method::ListAck, "/l", 1), "/l"),
        (Message::new(Method::ListNack, "/l", 1), "/l"),
        (Message::new(Method::Error, "/l", 1), "/l"),
    ];
    for (m, topic) in &cases {
        h.req(j, m);
        let got = h.take(j);
        assert_eq!(got.len(), 1, "{m:?}: {got:?}");
        assert_error(&got[0], topic);
    }
    for payload in [
        &b"{oops"[..],
        b"[]",
        b"\xff",
        br#"{"method":"publish","topic":"/p"}"#,
    ] {
        h.raw(j, payload);
        assert_eq!(h.take(j).len(), 1);
    }
    h.raw(j, br#"{"method":"PUBLISH","topic":"/v","msg":1e999}"#);
    assert_eq!(h.take(j)[0].method, Method::Error);
    h.raw(
        s,
        br#"<message method="PUBLISH" topic="/v"><msg type="bool">yes</msg></message>"#,
    );
    assert_error(&h.take(s)[0], "/v");
    assert_eq!(h.router.tree().len(), 0, "a refused request created topics");
    h.assert_silent();
    h.req(j, &Message::list(None));
    assert_eq!(
        h.take(j),
        vec![Message::new(Method::ListNack, "/", NO_TOPICS)]
    );
}

#[test]
fn tree_holds_topics_and_ancestors() {
    let mut h = Harness::new();
    let p = h.connect(0, Format::Json);
    h.publish(p, "//t//u//v", 1);
    h.subscribe(p, "/t/w");
    let tree = h.router.tree();
    assert_eq!(tree.len(), 4);
    assert_eq!(
        tree.topics_after(None).collect::<Vec<_>>(),
        ["/t", "/t/u", "/t/u/v", "/t/w"]
    );
    assert!(tree.get("/t/u/v").is_some());
    assert!(tree.get("//t//u//v").is_none());
}
