//! Wire protocol §6 (`docs/protocol.md`) rule by rule, against
//! a real broker over TCP: topic normalization, validation, listing, matching
//! by segments, cancelling, and the topic and retained-data limits.
//!
//! Helpers, and why no test sleeps, are in `common/wire.rs`.

mod common;

use broker::Config;
use common::wire::{
    barrier, expect_no_topics, expect_nothing, list_all_pages, next_error, next_error_on,
    non_lists, reason, send_str, strs, subscriber,
};
use common::{start_broker, start_broker_with, Raw};
use protocol::{Format, Message, Method, Value};

// ------------------------------------------------------------ §6 topics

#[test]
fn s6_topics_are_normalized_everywhere() {
    let b = start_broker();
    let mut j = Raw::json(b.addr);
    let mut x = Raw::xml(b.addr);
    j.subscribe("//n//");
    x.subscribe("/n/");
    barrier(&mut j);
    barrier(&mut x);
    let mut p = Raw::json(b.addr);
    p.publish("//n//a//", 1);
    barrier(&mut p);
    for c in [&mut j, &mut x] {
        let got = barrier(c);
        let publishes: Vec<_> = got.iter().filter(|m| m.method == Method::Publish).collect();
        assert_eq!(publishes, [&Message::publish("/n/a", 1)], "{:?}", c.format);
        for m in got.iter().filter(|m| m.method == Method::ListAck) {
            assert_eq!(m.msg, strs(&["/n", "/n/a"]));
        }
    }
    let mut late = Raw::xml(b.addr);
    late.subscribe("///n");
    let m = late.recv_skipping_lists();
    assert_eq!(m.method, Method::LastMsg);
    assert_eq!(m.topic, "/n/a");
    late.send(&Message::list(None));
    assert_eq!(late.recv().msg, strs(&["/n", "/n/a"]));
    // `//` is the root: subscribing to it gets everything.
    let mut root = Raw::json(b.addr);
    root.subscribe("//");
    assert_eq!(root.recv_skipping_lists().topic, "/n/a");
    p.publish("/other", 2);
    assert_eq!(root.recv_skipping_lists(), Message::publish("/other", 2));
}

#[test]
fn s6_bad_topics_are_refused_with_error() {
    let b = start_broker();
    let mut bad: Vec<String> = [
        "",
        "a",
        "a/b",
        "n/",
        " /a",
        "/a b",
        "/a\tb",
        "/a\nb",
        "/a\rb",
        "/a\u{7f}",
        "/a*",
        "/*a/b",
        "/a>",
        "/>",
        "/#",
        "/a/#",
        "/a+",
        "/+/b",
        "/a\u{3000}b",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    bad.push("/a".repeat(33));
    bad.push(format!("/{}", "x".repeat(1024)));
    bad.push(format!("/{}/{}", "x".repeat(600), "y".repeat(423)));
    let mut sub = subscriber(b.addr, Format::Json, "/");
    let mut c = Raw::json(b.addr);
    for t in &bad {
        c.publish(t, 1);
        next_error_on(&mut c, t);
        c.subscribe(t);
        next_error_on(&mut c, t);
        // (the topic field only: a msg string with a control character
        // could not even be encoded)
        c.send(&Message::new(Method::CancelSub, t.clone(), Value::Null));
        next_error_on(&mut c, t);
    }
    // A control character XML cannot carry: refused too (it cannot be
    // echoed in every format, so the ERROR topic may be "").
    for method in ["PUBLISH", "SUBSCRIBE", "CANCEL_SUB"] {
        send_str(
            &mut c,
            &format!(r#"{{"method":"{method}","topic":"/a\u0001","msg":1}}"#),
        );
        next_error(&mut c);
    }
    expect_nothing(&mut sub);
    expect_no_topics(&mut c);
}

#[test]
fn s6_topic_limits_count_after_normalization() {
    let b = start_broker();
    let mut c = Raw::json(b.addr);
    let ok = [
        "/a".repeat(32),
        format!("/{}", "x".repeat(1023)),
        // 33 raw segments, 32 after dropping an empty one
        format!("{}/", "/s".repeat(32)).replacen("/s", "//s", 1),
        // 1026 raw bytes, 1024 normalized
        format!("//{}/", "y".repeat(1023)),
    ];
    for t in &ok {
        c.publish(t, 1);
    }
    let got = barrier(&mut c);
    assert!(got.is_empty(), "{got:?}");
    c.send(&Message::list(None));
    let Value::List(list) = c.recv().msg else {
        panic!("list")
    };
    assert!(list.contains(&Value::from(format!("/{}", "y".repeat(1023)))));
    assert!(list.contains(&Value::from("/s".repeat(32))));
}

#[test]
fn s6_list_is_every_topic_but_root_in_byte_order() {
    let b = start_broker();
    let mut c = Raw::json(b.addr);
    for t in ["/a/b", "/z", "/é", "/a-b", "/B", "/a0", "/a", "/a/b/c"] {
        c.publish(t, 1);
    }
    c.send(&Message::list(None));
    let m = c.recv();
    assert_eq!(m.method, Method::ListAck);
    assert_eq!(m.topic, "/");
    assert!(!m.attrs.more);
    assert_eq!(
        m.msg,
        strs(&["/B", "/a", "/a-b", "/a/b", "/a/b/c", "/a0", "/z", "/é"])
    );
    // Same in XML.
    let mut x = Raw::xml(b.addr);
    x.send(&Message::list(None));
    assert_eq!(x.recv().msg, m.msg);
    // Paging: strictly after the cursor.
    c.send(&Message::list(Some("/a-b")));
    assert_eq!(c.recv().msg, strs(&["/a/b", "/a/b/c", "/a0", "/z", "/é"]));
}

#[test]
fn s6_matching_is_by_whole_segments() {
    let b = start_broker();
    let mut sub = subscriber(b.addr, Format::Json, "/msg");
    let mut p = Raw::xml(b.addr);
    for t in [
        "/msgs", "/msg/x", "/ms", "/msg", "/msg-x", "/msg/x/y", "/m/msg",
    ] {
        p.publish(t, t);
    }
    barrier(&mut p);
    let got: Vec<String> = non_lists(barrier(&mut sub))
        .into_iter()
        .map(|m| m.topic)
        .collect();
    assert_eq!(got, ["/msg/x", "/msg", "/msg/x/y"]);
}

#[test]
fn s6_root_subscriber_gets_everything() {
    let b = start_broker();
    let mut root = subscriber(b.addr, Format::Xml, "/");
    let mut p = Raw::json(b.addr);
    let topics = ["/a", "/b/c/d", "/é/x", &"/s".repeat(32)];
    for t in topics {
        p.publish(t, 1);
    }
    barrier(&mut p);
    let got: Vec<String> = non_lists(barrier(&mut root))
        .into_iter()
        .map(|m| m.topic)
        .collect();
    assert_eq!(got, topics);
}

#[test]
fn s6_overlapping_subscriptions_deliver_once() {
    let b = start_broker();
    let mut sub = Raw::json(b.addr);
    for t in ["/a", "/a/b", "/", "/a/b", "//a"] {
        sub.subscribe(t);
    }
    let mut xsub = Raw::xml(b.addr);
    xsub.subscribe("/a/b");
    xsub.subscribe("/a");
    barrier(&mut sub);
    barrier(&mut xsub);
    let mut p = Raw::json(b.addr);
    p.publish("/a/b", 1);
    p.publish("/a/b/c", 2);
    p.publish("/a", 3);
    barrier(&mut p);
    let want = vec![
        Message::publish("/a/b", 1),
        Message::publish("/a/b/c", 2),
        Message::publish("/a", 3),
    ];
    assert_eq!(non_lists(barrier(&mut sub)), want);
    assert_eq!(non_lists(barrier(&mut xsub)), want);
}

/// Topics are never removed, so the broker bounds how many it holds: past
/// the limit, a request that would create one gets an ERROR and has no
/// effect, while existing topics keep working.
#[test]
fn topic_limit_refuses_new_topics_and_keeps_existing_ones() {
    let b = start_broker_with(Config {
        max_topics: 3,
        ..Config::default()
    });
    let mut c = Raw::json(b.addr);
    c.publish("/a/b", 1);
    c.publish("/c", 2);
    assert!(non_lists(barrier(&mut c)).is_empty(), "three topics fit");
    c.publish("/d", 3);
    let e = next_error_on(&mut c, "/d");
    assert!(reason(&e).contains("topic limit"), "{e:?}");
    c.subscribe("/a/x");
    next_error_on(&mut c, "/a/x");
    let mut sub = Raw::xml(b.addr);
    sub.subscribe("/a");
    assert_eq!(sub.recv_skipping_lists().method, Method::LastMsg);
    c.publish("/a/b", 4);
    assert_eq!(sub.recv_skipping_lists(), Message::publish("/a/b", 4));
    let (topics, _) = list_all_pages(&mut c);
    assert_eq!(topics, ["/a", "/a/b", "/c"]);
}

/// Retained data is bounded in bytes: a publish that would pass the limit
/// gets an ERROR and has no effect (no topic, nothing retained), and one that
/// replaces a longer retained value fits again.
#[test]
fn retained_data_limit_refuses_publishes_past_it() {
    let b = start_broker_with(Config {
        max_retained_bytes: 100,
        ..Config::default()
    });
    let mut c = Raw::json(b.addr);
    let forty = |ch: &str| ch.repeat(40); // 42 bytes of JSON text
    c.publish("/a", forty("x"));
    c.publish("/b", forty("y"));
    assert!(non_lists(barrier(&mut c)).is_empty(), "84 bytes fit");
    c.publish("/c", forty("z"));
    let e = next_error_on(&mut c, "/c");
    assert!(reason(&e).contains("retained data limit"), "{e:?}");
    let (topics, _) = list_all_pages(&mut c);
    assert_eq!(topics, ["/a", "/b"], "the refused publish created no topic");
    c.publish("/a", "short");
    c.publish("/c", forty("z"));
    assert!(
        non_lists(barrier(&mut c)).is_empty(),
        "7 + 42 + 42 bytes fit"
    );
    let mut sub = Raw::json(b.addr);
    sub.subscribe("/");
    let replay: Vec<_> = (0..3).map(|_| sub.recv_skipping_lists().msg).collect();
    assert_eq!(
        replay,
        [
            Value::from("short"),
            Value::from(forty("y")),
            Value::from(forty("z"))
        ]
    );
}

#[test]
fn s6_publishing_to_root_is_an_error() {
    let b = start_broker();
    let mut root = subscriber(b.addr, Format::Json, "/");
    let mut p = Raw::xml(b.addr);
    for t in ["/", "//", "///"] {
        p.publish(t, 1);
        next_error_on(&mut p, t);
    }
    expect_nothing(&mut root);
    // Nothing retained at the root: a new root subscriber gets no LAST_MSG.
    let mut late = Raw::json(b.addr);
    late.subscribe("/");
    expect_nothing(&mut late);
}

#[test]
fn s6_cancel_keeps_ancestor_subscriptions() {
    let b = start_broker();
    let mut sub = Raw::json(b.addr);
    sub.subscribe("/a");
    sub.send(&Message::cancel_sub("/a/b"));
    barrier(&mut sub);
    let mut p = Raw::json(b.addr);
    p.publish("/a/b", 1);
    barrier(&mut p);
    assert_eq!(
        non_lists(barrier(&mut sub)),
        vec![Message::publish("/a/b", 1)]
    );
}

#[test]
fn s6_cancel_removes_subscriptions_equal_or_under_only() {
    let b = start_broker();
    let mut sub = Raw::xml(b.addr);
    for t in ["/a/b", "/a/c/d", "/a", "/ab", "/x"] {
        sub.subscribe(t);
    }
    let mut other = subscriber(b.addr, Format::Json, "/a/b");
    sub.send(&Message::cancel_sub("//a//"));
    assert!(non_lists(barrier(&mut sub)).is_empty());
    let mut p = Raw::json(b.addr);
    for t in ["/a", "/a/b", "/a/c/d", "/ab", "/x"] {
        p.publish(t, 1);
    }
    barrier(&mut p);
    let got: Vec<String> = non_lists(barrier(&mut sub))
        .into_iter()
        .map(|m| m.topic)
        .collect();
    assert_eq!(got, ["/ab", "/x"]);
    // Another client's subscription under the cancelled topic stays.
    let got: Vec<String> = non_lists(barrier(&mut other))
        .into_iter()
        .map(|m| m.topic)
        .collect();
    assert_eq!(got, ["/a/b"]);
    // Cancelling the root removes everything; subscribing again works.
    sub.send(&Message::cancel_sub("/"));
    barrier(&mut sub);
    p.publish("/x", 2);
    barrier(&mut p);
    expect_nothing(&mut sub);
    sub.subscribe("/x");
    assert_eq!(sub.recv_skipping_lists().method, Method::LastMsg);
    p.publish("/x", 3);
    assert_eq!(sub.recv_skipping_lists(), Message::publish("/x", 3));
}

#[test]
fn s6_cancel_invalid_topic_is_error_unknown_topic_is_silent() {
    let b = start_broker();
    let mut c = subscriber(b.addr, Format::Json, "/keep");
    // (`/a/*` is a valid pattern to cancel since v2: wire_v2_patterns.rs.)
    for t in ["nope", "/a b", "/a*"] {
        c.send(&Message::cancel_sub(t));
        next_error_on(&mut c, t);
    }
    // The topic to cancel is in msg; the ERROR still echoes the topic field.
    c.send(&Message::new(Method::CancelSub, "/keep", "bad topic"));
    next_error_on(&mut c, "/keep");
    // Valid topics with no subscription under them: no reply at all.
    for t in ["/other", "/never/created", "/kee", "/keep/deeper"] {
        c.send(&Message::cancel_sub(t));
    }
    assert_eq!(barrier(&mut c), Vec::<Message>::new());
    // /keep is still subscribed.
    let mut p = Raw::json(b.addr);
    p.publish("/keep", 1);
    assert_eq!(c.recv_skipping_lists(), Message::publish("/keep", 1));
}
