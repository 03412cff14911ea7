//! Wire protocol v2 §14, the pattern part, rule by rule against a real
//! broker over TCP, in both formats: `*` as a whole segment matches exactly
//! one segment (the v1 subtree rule still applies), a pattern `SUBSCRIBE`
//! replays `LAST_MSG` for every matching retained topic in byte order and
//! creates no topic, one copy per connection across patterns and plain
//! subscriptions, `CANCEL_SUB` comparing `*` as text, and the refusals
//! (`*` inside a segment, `>`, `#`, `+`, `*` in `PUBLISH` or `HISTORY`).
//!
//! Helpers, and why no test sleeps, are in `common/v2.rs` and
//! `common/wire.rs`.

mod common;

use common::v2::{ping, ping_non_lists, request};
use common::wire::{expect_no_topics, expect_nothing, next_error_on, strs, subscriber};
use common::{start_broker, Raw};
use protocol::{Format, Message, Method, Value};

/// A client of `format` subscribed to each of `topics`, once the broker has
/// registered them (the round trip's replies, replays included, are dropped).
#[track_caller]
fn subscribed(addr: std::net::SocketAddr, format: Format, topics: &[&str]) -> Raw {
    let mut c = Raw::handshake(addr, format);
    for t in topics {
        c.subscribe(t);
    }
    ping(&mut c);
    c
}

/// Publishes `(topic, value)` pairs from `p`, then a round trip so the broker
/// has handled them all (and refused none).
#[track_caller]
fn publish_all(p: &mut Raw, items: &[(&str, i64)]) {
    for &(t, v) in items {
        p.publish(t, v);
    }
    let replies = ping_non_lists(p);
    assert!(replies.is_empty(), "publisher got {replies:?}");
}

/// The topics of the deliveries `c` has been sent (up to a round trip),
/// announcements skipped; everything else must be a `PUBLISH`.
#[track_caller]
fn delivered_topics(c: &mut Raw) -> Vec<String> {
    ping_non_lists(c)
        .into_iter()
        .map(|m| {
            assert_eq!(m.method, Method::Publish, "{:?} client: {m:?}", c.format);
            m.topic
        })
        .collect()
}

/// The `LAST_MSG`s `c` has been sent (up to a round trip), as
/// `(topic, value)`, announcements skipped; anything else fails.
#[track_caller]
fn replayed(c: &mut Raw) -> Vec<(String, Value)> {
    ping_non_lists(c)
        .into_iter()
        .map(|m| {
            assert_eq!(m.method, Method::LastMsg, "{:?} client: {m:?}", c.format);
            (m.topic, m.msg)
        })
        .collect()
}

fn pairs(items: &[(&str, i64)]) -> Vec<(String, Value)> {
    items
        .iter()
        .map(|&(t, v)| (t.to_owned(), Value::Int(v)))
        .collect()
}

/// Sends `m` and asserts the answer is exactly one `ERROR` echoing
/// `m.topic` as received, after which the connection answers a round trip
/// with nothing else.
#[track_caller]
fn refused_alone(c: &mut Raw, m: &Message) {
    c.send(m);
    next_error_on(c, &m.topic);
    let after = ping(c);
    assert!(
        after.is_empty(),
        "{:?} {m:?}: more than one ERROR, or something else: {after:?}",
        c.format
    );
}

/// The topics `LIST` shows (all of them fit one page here).
#[track_caller]
fn list(c: &mut Raw) -> Value {
    c.send(&Message::list(None));
    let m = c.recv();
    match m.method {
        Method::ListAck => {
            assert!(!m.attrs.more, "{m:?}");
            m.msg
        }
        Method::ListNack => Value::List(vec![]),
        _ => panic!("expected the LIST reply, got {m:?}"),
    }
}

// ------------------------------------------------------------ matching

/// `/time/*/east`: `*` is exactly one segment, and everything under a match
/// is received too.
#[test]
fn s14_star_matches_exactly_one_segment_and_its_subtree() {
    let b = start_broker();
    for format in Format::ALL {
        let mut sub = subscribed(b.addr, format, &["/time/*/east"]);
        let mut p = Raw::json(b.addr);
        let cases: &[(&str, bool)] = &[
            ("/time/us/east", true),
            ("/time/east", false),
            ("/time/us/west", false),
            ("/time/us/east/atlanta", true),
            ("/time/us/east/atlanta/5", true),
            ("/time/us/eastern", false),
            ("/time/us/x/east", false),
            ("/times/us/east", false),
            ("/other/us/east", false),
            ("/time", false),
            ("/time/us", false),
            ("/time/é/east", true),
            ("/time/eu/east", true),
            ("/east", false),
        ];
        for (i, &(t, _)) in cases.iter().enumerate() {
            p.publish(t, i as i64);
        }
        ping(&mut p);
        let got: Vec<Message> = ping_non_lists(&mut sub)
            .into_iter()
            .map(common::stamps::unstamped)
            .collect();
        let want: Vec<Message> = cases
            .iter()
            .enumerate()
            .filter(|(_, &(_, yes))| yes)
            .map(|(i, &(t, _))| Message::publish(t, i as i64))
            .collect();
        assert_eq!(got, want, "{format:?}");
    }
}

/// `/a/*` receives everything strictly under `/a`, not `/a` itself; `/*/*`
/// everything two segments deep or more.
#[test]
fn s14_trailing_star_receives_everything_strictly_under() {
    let b = start_broker();
    let mut under_a = subscribed(b.addr, Format::Json, &["/a/*"]);
    let mut deep = subscribed(b.addr, Format::Xml, &["/*/*"]);
    let mut p = Raw::xml(b.addr);
    let topics = [
        "/a", "/a/b", "/ab", "/a/b/c", "/ab/c", "/b/a", "/a-b/c", "/b", "/a/é",
    ];
    for t in topics {
        p.publish(t, 1);
    }
    ping(&mut p);
    assert_eq!(
        delivered_topics(&mut under_a),
        ["/a/b", "/a/b/c", "/a/é"],
        "/a/*"
    );
    assert_eq!(
        delivered_topics(&mut deep),
        ["/a/b", "/a/b/c", "/ab/c", "/b/a", "/a-b/c", "/a/é"],
        "/*/*"
    );
}

/// `/*` matches every top-level topic and its subtree: everything but the
/// root, which holds no messages, so the same as `/`.
#[test]
fn s14_star_alone_receives_everything() {
    let b = start_broker();
    let mut star_j = subscribed(b.addr, Format::Json, &["/*"]);
    let mut star_x = subscribed(b.addr, Format::Xml, &["/*"]);
    let mut root = subscribed(b.addr, Format::Json, &["/"]);
    let mut p = Raw::json(b.addr);
    let deep = "/s".repeat(32);
    let topics = ["/a", "/b/c/d", "/é/x", "/a", &deep, "/z"];
    for t in topics {
        p.publish(t, 1);
    }
    // Publishing to the root stays an error, delivered to no one.
    p.publish("/", 2);
    next_error_on(&mut p, "/");
    ping(&mut p);
    for c in [&mut star_j, &mut star_x, &mut root] {
        assert_eq!(delivered_topics(c), topics, "{:?}", c.format);
    }
    // A late `/*` replays what a late `/` replays.
    let mut late_star = Raw::xml(b.addr);
    late_star.subscribe("/*");
    let mut late_root = Raw::xml(b.addr);
    late_root.subscribe("/");
    let want = replayed(&mut late_root);
    assert_eq!(want.len(), 5, "{want:?}");
    assert_eq!(replayed(&mut late_star), want);
}

/// A pattern subscription also receives topics created after it: it does
/// not hang on topics that existed when it was made.
#[test]
fn s14_pattern_receives_topics_created_after_it() {
    let b = start_broker();
    for format in Format::ALL {
        let t = if format == Format::Json { "/j" } else { "/x" };
        let mut sub = subscribed(b.addr, format, &[&format!("{t}/*/east")]);
        let mut p = Raw::handshake(b.addr, format);
        let (hit, child, miss) = (
            format!("{t}/us/east"),
            format!("{t}/eu/east/paris"),
            format!("{t}/us/west"),
        );
        publish_all(&mut p, &[(&hit, 1), (&miss, 2), (&child, 3)]);
        assert_eq!(delivered_topics(&mut sub), [hit, child], "{format:?}");
    }
}

/// Empty segments are dropped from a pattern as from any topic:
/// `//t//*//c/` is `/t/*/c`, for SUBSCRIBE and CANCEL_SUB.
#[test]
fn s14_patterns_are_normalized_like_topics() {
    let b = start_broker();
    let mut sub = subscribed(b.addr, Format::Json, &["//t//*//c/"]);
    let mut p = Raw::json(b.addr);
    publish_all(&mut p, &[("/t/x/c", 1), ("/t/c", 2), ("/t/x/y/c", 3)]);
    assert_eq!(delivered_topics(&mut sub), ["/t/x/c"]);
    sub.send(&Message::cancel_sub("/t/*/c//"));
    assert!(ping_non_lists(&mut sub).is_empty());
    publish_all(&mut p, &[("/t/x/c", 4)]);
    expect_nothing(&mut sub);
}

// ------------------------------------------------------------ replay

/// A pattern SUBSCRIBE replays `LAST_MSG` for every retained topic it
/// matches (subtrees included), in byte order of the whole topic (`-` sorts
/// before `/`), skipping topics without a message; then live deliveries
/// follow with the next numbers.
#[test]
fn s14_pattern_subscribe_replays_matching_retained_topics_in_byte_order() {
    let b = start_broker();
    let mut p = Raw::json(b.addr);
    publish_all(
        &mut p,
        &[
            ("/r/b/x", 1),
            ("/r/a/x/y", 2),
            ("/r/a-b/x", 3),
            ("/r/a/y", 4),
            ("/r/x", 5),
            ("/r/B/x", 6),
            ("/r/a/x", 7),
            ("/rs/a/x", 8),
            ("/r/b/x", 9),
            ("/q/a/x", 10),
        ],
    );
    // A topic that exists without a message is not replayed.
    let _empty = subscriber(b.addr, Format::Json, "/r/c/x");
    for format in Format::ALL {
        let mut sub = Raw::handshake(b.addr, format);
        sub.subscribe("/r/*/x");
        let got = ping_non_lists(&mut sub);
        let replay: Vec<(String, Value, u64)> = got
            .iter()
            .map(|m| {
                assert_eq!(m.method, Method::LastMsg, "{format:?}: {m:?}");
                (m.topic.clone(), m.msg.clone(), m.attrs.seq.expect("seq"))
            })
            .collect();
        // The XML client comes after the JSON one's live publish below.
        let (v, s) = if format == Format::Json {
            (9, 2)
        } else {
            (11, 3)
        };
        let want: Vec<(String, Value, u64)> = [
            ("/r/B/x", 6, 1),
            ("/r/a-b/x", 3, 1),
            ("/r/a/x", 7, 1),
            ("/r/a/x/y", 2, 1),
            ("/r/b/x", v, s),
        ]
        .iter()
        .map(|&(t, v, s)| (t.to_owned(), Value::Int(v), s))
        .collect();
        assert_eq!(replay, want, "{format:?}");
        // Live deliveries follow, numbered on.
        p.publish("/r/b/x", 11);
        let m = common::v2::recv_skipping_lists(&mut sub);
        assert_eq!(
            (m.method, m.topic.as_str(), &m.msg),
            (Method::Publish, "/r/b/x", &Value::Int(11)),
            "{format:?}"
        );
        let seq = m.attrs.seq.expect("seq");
        assert_eq!(seq, if format == Format::Json { 3 } else { 4 });
    }
    // `/*/a/*`: several stars, in both positions.
    let mut c = Raw::json(b.addr);
    c.subscribe("/*/a/*");
    assert_eq!(
        replayed(&mut c),
        pairs(&[
            ("/q/a/x", 10),
            ("/r/a/x", 7),
            ("/r/a/x/y", 2),
            ("/r/a/y", 4),
            ("/rs/a/x", 8)
        ])
    );
    // A pattern matching no retained topic replays nothing.
    c.subscribe("/r/*/nothing");
    c.subscribe("/nothing/*");
    assert!(ping_non_lists(&mut c).is_empty());
}

/// A pattern SUBSCRIBE creates no topic (not even the pattern's prefix) and
/// so triggers no `LIST_ACK` announcement, to anyone.
#[test]
fn s14_pattern_subscribe_creates_no_topic_and_announces_nothing() {
    let b = start_broker();
    // On an empty broker: still no topic at all.
    let mut first = Raw::json(b.addr);
    first.subscribe("/q/*");
    first.subscribe("/*/q");
    assert!(ping(&mut first).is_empty(), "nothing to replay or announce");
    expect_no_topics(&mut first);
    // With some topics and subscribers around.
    let mut watcher = subscribed(b.addr, Format::Xml, &["/"]);
    let mut plain = subscribed(b.addr, Format::Json, &["/w"]);
    let mut p = Raw::json(b.addr);
    publish_all(&mut p, &[("/w/a/z", 1)]);
    ping(&mut watcher);
    ping(&mut plain);
    ping(&mut first);
    let before = list(&mut p);
    assert_eq!(before, strs(&["/w", "/w/a", "/w/a/z"]));
    for format in Format::ALL {
        let mut c = Raw::handshake(b.addr, format);
        for t in ["/w/*/y", "/new/*", "/*/new/x", "/w/a/*/deeper", "/*/*/*/*"] {
            c.subscribe(t);
        }
        // The one retained topic, `/w/a/z`, matches none of them (the last
        // needs four segments), so nothing at all may come.
        let got = ping(&mut c);
        assert!(got.is_empty(), "{format:?}: {got:?}");
        assert_eq!(
            list(&mut c),
            before,
            "{format:?}: a pattern created a topic"
        );
    }
    for c in [&mut watcher, &mut plain, &mut first] {
        let got = ping(c);
        assert!(got.is_empty(), "{:?}: {got:?}", c.format);
    }
    // A plain SUBSCRIBE still creates topics and announces them (v1), to
    // pattern subscribers as to anyone holding a subscription.
    let mut creator = Raw::json(b.addr);
    creator.subscribe("/w/b");
    ping(&mut creator);
    let got = ping(&mut first);
    assert_eq!(
        got,
        vec![Message::new(
            Method::ListAck,
            "/",
            strs(&["/w", "/w/a", "/w/a/z", "/w/b"])
        )]
    );
}

/// One copy per connection across patterns and plain subscriptions:
/// `/a`, `/*/b` and `/a/*` all match `/a/b`, which arrives once.
#[test]
fn s14_one_copy_per_connection_across_patterns_and_plain() {
    let b = start_broker();
    let mut three = Vec::new();
    let mut all = Vec::new();
    for format in Format::ALL {
        three.push(subscribed(b.addr, format, &["/a", "/*/b", "/a/*"]));
        all.push(subscribed(
            b.addr,
            format,
            &["/a/*", "/", "/*/b", "/a/*", "/a/b", "/*", "/a", "/*/*/c"],
        ));
    }
    let mut p = Raw::xml(b.addr);
    publish_all(
        &mut p,
        &[
            ("/a/b", 1),
            ("/a/b/c", 2),
            ("/a", 3),
            ("/x/b", 4),
            ("/x/c", 5),
        ],
    );
    for c in &mut three {
        assert_eq!(
            delivered_topics(c),
            ["/a/b", "/a/b/c", "/a", "/x/b"],
            "{:?}",
            c.format
        );
    }
    for c in &mut all {
        assert_eq!(
            delivered_topics(c),
            ["/a/b", "/a/b/c", "/a", "/x/b", "/x/c"],
            "{:?}",
            c.format
        );
    }
}

/// The v1 rule for `LAST_MSG` stays as it is: each SUBSCRIBE replays its
/// own matches, even those an earlier subscription of the connection
/// already covers (and a repeated SUBSCRIBE replays again); live deliveries
/// still come once.
#[test]
fn s14_each_subscribe_replays_its_own_matches_even_when_overlapping() {
    let b = start_broker();
    let mut p = Raw::json(b.addr);
    publish_all(&mut p, &[("/a/b", 1), ("/x/b", 2), ("/a", 3), ("/a/c", 4)]);
    for format in Format::ALL {
        let mut c = Raw::handshake(b.addr, format);
        c.subscribe("/a");
        assert_eq!(
            replayed(&mut c),
            pairs(&[("/a", 3), ("/a/b", 1), ("/a/c", 4)]),
            "{format:?} /a"
        );
        c.subscribe("/*/b");
        assert_eq!(
            replayed(&mut c),
            pairs(&[("/a/b", 1), ("/x/b", 2)]),
            "{format:?} /*/b"
        );
        c.subscribe("/a/*");
        assert_eq!(
            replayed(&mut c),
            pairs(&[("/a/b", 1), ("/a/c", 4)]),
            "{format:?} /a/*"
        );
        c.subscribe("/*/b");
        assert_eq!(
            replayed(&mut c),
            pairs(&[("/a/b", 1), ("/x/b", 2)]),
            "{format:?} /*/b again"
        );
        // (the same value again: the retained set stays as it was)
        publish_all(&mut p, &[("/a/b", 1)]);
        assert_eq!(delivered_topics(&mut c), ["/a/b"], "{format:?}");
    }
}

// ------------------------------------------------------------ CANCEL_SUB

/// `CANCEL_SUB /time` removes `/time/*/east` (it lies under `/time`);
/// `CANCEL_SUB /time/us` does not (`*` is compared as text).
#[test]
fn s14_cancel_removes_patterns_under_the_topic_by_text() {
    let b = start_broker();
    let mut p = Raw::json(b.addr);
    for format in Format::ALL {
        let mut c = subscribed(b.addr, format, &["/time/*/east"]);
        c.send(&Message::cancel_sub("/time/us"));
        c.send(&Message::cancel_sub("/time/us/east"));
        assert!(ping(&mut c).is_empty(), "{format:?}");
        publish_all(&mut p, &[("/time/us/east", 1)]);
        assert_eq!(delivered_topics(&mut c), ["/time/us/east"], "{format:?}");
        c.send(&Message::cancel_sub("/time"));
        assert!(ping(&mut c).is_empty(), "{format:?}");
        publish_all(&mut p, &[("/time/us/east", 2), ("/time/eu/east/x", 3)]);
        expect_nothing(&mut c);
    }
}

/// `CANCEL_SUB /time/*` removes `/time/*` and `/time/*/east`, and keeps
/// `/time/us/west` (`us` is not `*` as text) and `/*/us` (`*` is not `time`).
#[test]
fn s14_cancel_of_a_pattern_removes_the_patterns_under_it() {
    let b = start_broker();
    let mut p = Raw::json(b.addr);
    for format in Format::ALL {
        let mut c = subscribed(
            b.addr,
            format,
            &["/time/*/east", "/time/*", "/time/us/west", "/*/us"],
        );
        c.send(&Message::cancel_sub("/time/*"));
        assert!(ping(&mut c).is_empty(), "{format:?}");
        publish_all(
            &mut p,
            &[
                ("/time/eu/east", 1),
                ("/time/x", 2),
                ("/time/us/west", 3),
                ("/zone/us", 4),
                ("/time/us", 5),
                ("/time/eu/west", 6),
            ],
        );
        assert_eq!(
            delivered_topics(&mut c),
            ["/time/us/west", "/zone/us", "/time/us"],
            "{format:?}"
        );
    }
}

/// Cancelling a topic under a held pattern keeps the pattern, as v1 keeps
/// an ancestor: a client holding `/time/*` that cancels `/time/us` still
/// receives `/time/us/x`. And cancelling `/` removes patterns too.
#[test]
fn s14_cancel_below_a_pattern_keeps_it_and_cancel_root_removes_it() {
    let b = start_broker();
    let mut p = Raw::xml(b.addr);
    let mut c = subscribed(b.addr, Format::Xml, &["/time/*", "/*/x"]);
    c.send(&Message::cancel_sub("/time/us"));
    c.send(&Message::cancel_sub("/time/us/*"));
    assert!(ping(&mut c).is_empty());
    publish_all(&mut p, &[("/time/us/x", 1), ("/a/x", 2)]);
    assert_eq!(delivered_topics(&mut c), ["/time/us/x", "/a/x"]);
    c.send(&Message::cancel_sub("/"));
    assert!(ping(&mut c).is_empty());
    publish_all(&mut p, &[("/time/us/x", 3), ("/a/x", 4)]);
    expect_nothing(&mut c);
}

/// The topic to cancel may travel in `msg` (the lab middleware's way): a
/// pattern there counts, and the `topic` field is then ignored.
#[test]
fn s14_cancel_pattern_given_in_msg() {
    let b = start_broker();
    let mut p = Raw::json(b.addr);
    for format in Format::ALL {
        let mut c = subscribed(b.addr, format, &["/time/*/east", "/time/us/west"]);
        c.send(&request(Method::CancelSub, "/time", Value::from("/time/*")));
        assert!(ping(&mut c).is_empty(), "{format:?}");
        publish_all(&mut p, &[("/time/us/east", 1), ("/time/us/west", 2)]);
        assert_eq!(delivered_topics(&mut c), ["/time/us/west"], "{format:?}");
    }
}

/// Cancelling a pattern the client does not hold, nor anything under it,
/// does nothing and gets no reply; another client's equal subscription
/// stays.
#[test]
fn s14_cancel_of_a_pattern_not_held_does_nothing() {
    let b = start_broker();
    let mut p = Raw::json(b.addr);
    for format in Format::ALL {
        let mut c = subscribed(b.addr, format, &["/time/*/east"]);
        let mut other = subscribed(b.addr, Format::Json, &["/time/*/west", "/time/*/east"]);
        for t in [
            "/time/*/west",
            "/time/*/east/atlanta",
            "/*/east",
            "/*/*/east",
            "/time/us/east",
            "/time/*/*",
            "/*/time",
            "/other/*",
        ] {
            c.send(&Message::cancel_sub(t));
        }
        assert!(ping(&mut c).is_empty(), "{format:?}: a reply to a cancel");
        publish_all(&mut p, &[("/time/us/east", 1), ("/time/us/west", 2)]);
        assert_eq!(delivered_topics(&mut c), ["/time/us/east"], "{format:?}");
        assert_eq!(
            delivered_topics(&mut other),
            ["/time/us/east", "/time/us/west"],
            "{format:?}"
        );
        // Cancelling exactly what it holds removes it, for it alone.
        c.send(&Message::cancel_sub("/time/*/east"));
        assert!(ping(&mut c).is_empty(), "{format:?}");
        publish_all(&mut p, &[("/time/us/east", 3)]);
        expect_nothing(&mut c);
        assert_eq!(
            delivered_topics(&mut other),
            ["/time/us/east"],
            "{format:?}"
        );
    }
}

// ------------------------------------------------------------ bad input

/// `*` must be a whole segment: inside one it is refused with one `ERROR`
/// echoing the topic, and nothing is subscribed (or cancelled).
#[test]
fn s14_star_inside_a_segment_is_refused() {
    let b = start_broker();
    let bad = [
        "/a*b",
        "/*a",
        "/a*",
        "/**",
        "/a/**",
        "/a/b*/c",
        "/*/x*",
        "/time/*east",
        "//a*//",
    ];
    let mut subs = Vec::new();
    for format in Format::ALL {
        let mut c = Raw::handshake(b.addr, format);
        for t in bad {
            refused_alone(&mut c, &Message::subscribe(t));
            refused_alone(&mut c, &Message::cancel_sub(t));
        }
        expect_no_topics(&mut c);
        subs.push(c);
    }
    let mut p = Raw::json(b.addr);
    publish_all(
        &mut p,
        &[
            ("/ab", 1),
            ("/a/b", 2),
            ("/xa", 3),
            ("/a", 4),
            ("/a/b/c", 5),
            ("/x/xy", 6),
            ("/time/us/east", 7),
            ("/time/east", 8),
        ],
    );
    for c in &mut subs {
        expect_nothing(c);
    }
}

/// `>`, `#` and `+` stay reserved, alone or in a segment, with or without
/// a `*` elsewhere: SUBSCRIBE and CANCEL_SUB get one `ERROR` each.
#[test]
fn s14_reserved_characters_are_refused_anywhere() {
    let b = start_broker();
    let bad = [
        "/>", "/a/>", "/a>", "/*/>", "/>/*", "/#", "/a/#/b", "/a#", "/*/#", "/+", "/+/b", "/a/+",
        "/a+b", "/*/+", "/a/*/b+",
    ];
    let mut subs = Vec::new();
    for format in Format::ALL {
        let mut c = Raw::handshake(b.addr, format);
        for t in bad {
            refused_alone(&mut c, &Message::subscribe(t));
            refused_alone(&mut c, &Message::cancel_sub(t));
        }
        expect_no_topics(&mut c);
        subs.push(c);
    }
    let mut p = Raw::xml(b.addr);
    publish_all(
        &mut p,
        &[("/a", 1), ("/a/b", 2), ("/x/b", 3), ("/a/x/b", 4)],
    );
    for c in &mut subs {
        expect_nothing(c);
    }
}

/// `PUBLISH` and `HISTORY` take exact topics: `*` anywhere is an `ERROR`
/// echoing the request's topic as received; nothing is published, stored,
/// delivered or created.
#[test]
fn s14_publish_and_history_with_star_are_refused() {
    let b = start_broker();
    let mut root = subscribed(b.addr, Format::Json, &["/"]);
    let mut star = subscribed(b.addr, Format::Xml, &["/*", "/a/*"]);
    let bad = [
        "/a/*", "/*", "/*/b", "//*//", "/a/*/c", "/a*", "/*a", "/a/b*",
    ];
    for format in Format::ALL {
        let mut c = Raw::handshake(b.addr, format);
        for t in bad {
            refused_alone(&mut c, &Message::publish(t, 1));
            refused_alone(&mut c, &request(Method::History, t, Value::Null));
        }
        expect_no_topics(&mut c);
    }
    expect_nothing(&mut root);
    expect_nothing(&mut star);
    // Nothing was retained either: a late subscriber gets no LAST_MSG.
    let mut late = Raw::json(b.addr);
    late.subscribe("/");
    assert!(ping(&mut late).is_empty());
}

// ------------------------------------------------------------ seq, ts, others

/// A pattern subscription's deliveries and replays carry `seq` and `ts`
/// like any other: the same numbers and times a plain subscriber sees.
#[test]
fn s14_pattern_deliveries_carry_seq_and_ts_like_any_delivery() {
    let b = start_broker();
    let mut plain = subscribed(b.addr, Format::Json, &["/s"]);
    let mut pattern_x = subscribed(b.addr, Format::Xml, &["/s/*/b"]);
    let mut pattern_j = subscribed(b.addr, Format::Json, &["/*"]);
    let mut p = Raw::json(b.addr);
    publish_all(
        &mut p,
        &[("/s/a/b", 1), ("/s/a/b", 2), ("/s/c/b", 3), ("/s/a/b", 4)],
    );
    let want = ping_non_lists(&mut plain);
    let numbers: Vec<(&str, u64)> = want
        .iter()
        .map(|m| (m.topic.as_str(), m.attrs.seq.expect("seq")))
        .collect();
    assert_eq!(
        numbers,
        [("/s/a/b", 1), ("/s/a/b", 2), ("/s/c/b", 1), ("/s/a/b", 3)]
    );
    // Whole messages, seq and ts included, are equal.
    assert_eq!(ping_non_lists(&mut pattern_x), want, "XML /s/*/b");
    assert_eq!(ping_non_lists(&mut pattern_j), want, "JSON /*");
    // A late pattern subscriber's LAST_MSG carries the retained message's
    // own seq and ts.
    for format in Format::ALL {
        let mut late = Raw::handshake(b.addr, format);
        late.subscribe("/s/*/b");
        let replay = ping_non_lists(&mut late);
        // Sorted: /s/a/b (its last, #3) before /s/c/b (#1).
        let want_replay: Vec<Message> = [&want[3], &want[2]]
            .into_iter()
            .map(|m| Message {
                method: Method::LastMsg,
                ..m.clone()
            })
            .collect();
        assert_eq!(replay, want_replay, "{format:?}");
    }
}

/// Patterns change nothing for other clients: a plain subscriber gets what
/// it subscribed to, a client without subscriptions gets nothing, and one
/// client's refused or cancelled patterns leave the others' alone.
#[test]
fn s14_other_clients_are_unaffected_by_patterns() {
    let b = start_broker();
    let mut plain = subscribed(b.addr, Format::Xml, &["/a/b"]);
    let mut unrelated = subscribed(b.addr, Format::Json, &["/c"]);
    let mut idle = Raw::json(b.addr);
    let mut pat = subscribed(b.addr, Format::Json, &["/*/b", "/a/*"]);
    let mut p = Raw::json(b.addr);
    publish_all(&mut p, &[("/a/b", 1), ("/x/b", 2), ("/a/c", 3)]);
    assert_eq!(delivered_topics(&mut plain), ["/a/b"]);
    assert_eq!(delivered_topics(&mut unrelated), Vec::<String>::new());
    assert_eq!(delivered_topics(&mut pat), ["/a/b", "/x/b", "/a/c"]);
    expect_nothing(&mut idle);
    // A refused pattern and a cancelled one, on the pattern client.
    refused_alone(&mut pat, &Message::subscribe("/a*"));
    pat.send(&Message::cancel_sub("/*"));
    assert!(ping(&mut pat).is_empty());
    publish_all(&mut p, &[("/a/b", 4), ("/c/d", 5)]);
    assert_eq!(delivered_topics(&mut plain), ["/a/b"]);
    assert_eq!(delivered_topics(&mut unrelated), ["/c/d"]);
    assert_eq!(delivered_topics(&mut pat), ["/a/b"], "/a/* remains");
    expect_nothing(&mut idle);
    let mut list_client = Raw::xml(b.addr);
    assert_eq!(
        list(&mut list_client),
        strs(&["/a", "/a/b", "/a/c", "/c", "/c/d", "/x", "/x/b"])
    );
}
