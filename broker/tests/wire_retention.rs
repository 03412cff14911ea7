//! Wire protocol §7 (`docs/protocol.md`) rule by rule, against
//! a real broker over TCP: retained messages replayed on subscribe, topic
//! announcements, `LIST` paging, and the delivery size limit.
//!
//! Helpers, and why no test sleeps, are in `common/wire.rs`.

mod common;

use std::sync::mpsc;
use std::thread;

use common::wire::{
    assert_header, barrier, expect_no_topics, expect_nothing, list_all_pages, next_error,
    next_error_on, non_lists, reason, strs, subscriber,
};
use common::{start_broker, Raw};
use protocol::{Format, Message, Method, Value, MAX_PAYLOAD};

// ------------------------------------------------ §7 retention, announcements

#[test]
fn s7_subscribe_replays_retained_messages_sorted() {
    let b = start_broker();
    let mut p = Raw::json(b.addr);
    for (t, v) in [
        ("/r/b", 1),
        ("/r-x", 2),
        ("/r/a/c", 3),
        ("/r", 4),
        ("/rs", 5),
        ("/r/a", 6),
        ("/r/b", 7),
    ] {
        p.publish(t, v);
    }
    let _empty = subscriber(b.addr, Format::Json, "/r/empty/topic");
    barrier(&mut p);
    for format in Format::ALL {
        let mut sub = Raw::handshake(b.addr, format);
        sub.subscribe("/r");
        let got = non_lists(barrier(&mut sub));
        let want: Vec<Message> = [("/r", 4), ("/r/a", 6), ("/r/a/c", 3), ("/r/b", 7)]
            .iter()
            .map(|&(t, v)| Message::new(Method::LastMsg, t, v))
            .collect();
        assert_eq!(got, want, "{format:?}");
        // Then new deliveries (the same value, so the retained set is unchanged).
        p.publish("/r/a", 6);
        assert_eq!(sub.recv_skipping_lists(), Message::publish("/r/a", 6));
    }
    let mut all = Raw::xml(b.addr);
    all.subscribe("/");
    let topics: Vec<String> = non_lists(barrier(&mut all))
        .into_iter()
        .map(|m| {
            assert_eq!(m.method, Method::LastMsg);
            m.topic
        })
        .collect();
    assert_eq!(topics, ["/r", "/r-x", "/r/a", "/r/a/c", "/r/b", "/rs"]);
    // A subscription to a leaf gets just its own.
    let mut leaf = Raw::json(b.addr);
    leaf.subscribe("/r/a/c");
    assert_eq!(
        non_lists(barrier(&mut leaf)),
        vec![Message::new(Method::LastMsg, "/r/a/c", 3)]
    );
}

#[test]
fn s7_snapshot_and_registration_are_atomic() {
    const N: i64 = 3000;
    const BATCH: i64 = 150;
    let b = start_broker();
    let addr = b.addr;
    let (tx, rx) = mpsc::channel();
    let publisher = thread::spawn(move || {
        let mut p = Raw::json(addr);
        let mut k = 0;
        while k < N {
            let mut burst = Vec::new();
            for i in k..(k + BATCH).min(N) {
                burst.extend(common::encode_frame(
                    Format::Json,
                    &Message::publish("/seq/k", i),
                ));
            }
            p.send_bytes(&burst);
            k += BATCH;
            let _ = tx.send(k);
        }
        barrier(&mut p);
    });
    let mut subs = Vec::new();
    while let Ok(k) = rx.recv() {
        if k % (2 * BATCH) == 0 || k == BATCH {
            let format = Format::ALL[subs.len() % 2];
            let mut s = Raw::handshake(addr, format);
            s.subscribe(if subs.len() % 3 == 0 {
                "/seq"
            } else {
                "/seq/k"
            });
            subs.push(s);
        }
    }
    publisher.join().expect("publisher");
    let mut mid_stream = 0;
    for s in &mut subs {
        let mut next: Option<i64> = None;
        loop {
            let m = s.recv_skipping_lists();
            let Value::Int(k) = m.msg else {
                panic!("{m:?}")
            };
            match (next, m.method) {
                (None, Method::LastMsg) => {
                    if k < N - 1 {
                        mid_stream += 1;
                    }
                }
                (None, Method::Publish) => assert_eq!(k, 0, "first delivery without LAST_MSG"),
                (Some(want), Method::Publish) => {
                    assert_eq!(k, want, "gap or duplicate after LAST_MSG/delivery")
                }
                (_, other) => panic!("unexpected {other:?}"),
            }
            next = Some(k + 1);
            if k == N - 1 {
                break;
            }
        }
        expect_nothing(s);
    }
    assert!(subs.len() >= 5);
    // Not a proof of the race, but the test is only meaningful when some
    // subscriptions landed mid-stream; report if none did.
    if mid_stream == 0 {
        eprintln!("note: no subscription landed mid-stream this run");
    }
}

#[test]
fn s7_topic_creation_announced_once_to_subscribed_clients_only() {
    let b = start_broker();
    let mut a = Raw::json(b.addr); // subscribed to an unrelated topic
    a.subscribe("/x");
    let mut r = Raw::xml(b.addr); // subscribed to the root
    r.subscribe("/");
    let mut idle = Raw::json(b.addr); // no subscription
    let mut creator = Raw::xml(b.addr); // publisher with no subscription
    for c in [&mut a, &mut r] {
        barrier(c);
    }
    // One request creating three topics: one LIST_ACK each.
    creator.publish("/new/t/u", 1);
    creator.publish("/x", "marker");
    assert_eq!(
        barrier(&mut creator),
        vec![],
        "creator holds no subscription"
    );
    let list = strs(&["/new", "/new/t", "/new/t/u", "/x"]);
    let got_a = barrier(&mut a);
    assert_eq!(
        got_a,
        vec![
            Message::new(Method::ListAck, "/", list.clone()),
            Message::publish("/x", "marker"),
        ]
    );
    let got_r = barrier(&mut r);
    assert_eq!(
        got_r,
        vec![
            Message::new(Method::ListAck, "/", list.clone()),
            Message::publish("/new/t/u", 1),
            Message::publish("/x", "marker"),
        ]
    );
    expect_nothing(&mut idle);
    // Publishing on existing topics announces nothing.
    creator.publish("/new/t", 2);
    barrier(&mut creator);
    assert_eq!(barrier(&mut a), vec![]);
    assert_eq!(barrier(&mut r), vec![Message::publish("/new/t", 2)]);
    // The creator is included once it holds a subscription.
    creator.subscribe("/x");
    assert_eq!(
        barrier(&mut creator),
        vec![Message::new(Method::LastMsg, "/x", "marker")]
    );
    creator.publish("/new2", 3);
    let got = barrier(&mut creator);
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0].method, Method::ListAck);
    assert_eq!(
        got[0].msg,
        strs(&["/new", "/new/t", "/new/t/u", "/new2", "/x"])
    );
    assert_eq!(barrier(&mut a).len(), 1);
    expect_nothing(&mut idle);
    // A refused PUBLISH announces nothing.
    creator.publish("/bad topic", 1);
    next_error(&mut creator);
    assert_eq!(barrier(&mut a), vec![]);
}

#[test]
fn s7_subscribe_creating_topics_announces_to_the_subscriber_too() {
    let b = start_broker();
    let mut watcher = subscriber(b.addr, Format::Json, "/w");
    let mut idle = Raw::xml(b.addr);
    let mut s = Raw::xml(b.addr);
    s.subscribe("/s/t");
    let got = barrier(&mut s);
    assert_eq!(
        got,
        vec![Message::new(
            Method::ListAck,
            "/",
            strs(&["/s", "/s/t", "/w"])
        )]
    );
    assert_eq!(
        barrier(&mut watcher),
        vec![Message::new(
            Method::ListAck,
            "/",
            strs(&["/s", "/s/t", "/w"])
        )]
    );
    expect_nothing(&mut idle);
    // Subscribing to an existing topic (or the root) announces nothing.
    s.subscribe("/s");
    s.subscribe("/");
    idle.subscribe("/w");
    expect_nothing(&mut s);
    expect_nothing(&mut idle);
    expect_nothing(&mut watcher);
}

#[test]
fn s7_list_nack_only_when_no_topics() {
    let b = start_broker();
    for format in Format::ALL {
        let mut c = Raw::handshake(b.addr, format);
        c.send(&Message::list(None));
        let frame = c.recv_frame().expect("reply");
        assert_header(&frame);
        let m = format.decode(&frame[5..]).unwrap();
        assert_eq!(
            m,
            Message::new(Method::ListNack, "/", "No topics created yet."),
            "{format:?}"
        );
        // A cursor changes nothing when there are no topics.
        c.send(&Message::list(Some("/a")));
        assert_eq!(c.recv().method, Method::ListNack);
    }
    // Subscribing to the root creates no topic.
    let mut c = Raw::json(b.addr);
    c.subscribe("/");
    expect_no_topics(&mut c);
    // Any topic: LIST_ACK from then on, and an empty page past the end.
    c.subscribe("/only");
    let got = barrier(&mut c);
    assert_eq!(got.len(), 1, "announcement: {got:?}");
    c.send(&Message::list(None));
    assert_eq!(c.recv().msg, strs(&["/only"]));
    for cursor in ["/only", "/p", "/only/x"] {
        c.send(&Message::list(Some(cursor)));
        let m = c.recv();
        assert_eq!(m.method, Method::ListAck, "{cursor}");
        assert_eq!(m.msg, Value::List(vec![]), "{cursor}");
        assert!(!m.attrs.more);
    }
    c.send(&Message::list(Some("/a")));
    assert_eq!(c.recv().msg, strs(&["/only"]));
}

fn long_topics(n: usize) -> Vec<String> {
    // Characters that need escaping in JSON (`"`, `\`) and XML (`&`, `<`) so
    // that page sizes depend on the escaped length.
    (0..n)
        .map(|i| {
            let filler = match i % 3 {
                0 => "x".repeat(880),
                1 => "&<\"\\".repeat(220),
                _ => "é".repeat(440),
            };
            format!("/{i:03}{filler}")
        })
        .collect()
}

#[test]
fn s7_list_pages_fit_frames_and_cover_every_topic_once() {
    let b = start_broker();
    let topics = long_topics(200);
    let mut p = Raw::json(b.addr);
    for t in &topics {
        p.publish(t, 1);
    }
    barrier(&mut p);
    let mut want = topics.clone();
    want.sort();
    for format in Format::ALL {
        let mut c = Raw::handshake(b.addr, format);
        c.send(&Message::list(None));
        let first = c.recv_frame().expect("first page");
        assert_header(&first);
        let m = format.decode(&first[5..]).unwrap();
        assert!(m.attrs.more, "{format:?}: first page lacks more=true");
        if format == Format::Xml {
            let text = String::from_utf8_lossy(&first[5..]);
            assert!(text.contains(r#"more="true""#), "{format:?}");
        }
        // The page holds the first topics that fit: it is nearly full.
        let longest_item = 5 * 1000 + 30;
        assert!(
            first.len() - 5 > MAX_PAYLOAD - longest_item,
            "{format:?} first page is only {} bytes",
            first.len() - 5
        );
        let (all, pages) = list_all_pages(&mut c);
        assert!(pages >= 3, "{format:?}: {pages} pages");
        assert_eq!(all, want, "{format:?}: pages do not cover the topics once");
    }
}

#[test]
fn s7_announcement_of_a_long_list_is_its_first_page() {
    let b = start_broker();
    let mut p = Raw::json(b.addr);
    for t in long_topics(130) {
        p.publish(&t, 1);
    }
    barrier(&mut p);
    for format in Format::ALL {
        let mut s = Raw::handshake(b.addr, format);
        s.subscribe(&format!("/zz/{format:?}"));
        let frame = s.recv_frame().expect("announcement");
        assert_header(&frame);
        let m = format.decode(&frame[5..]).unwrap();
        assert_eq!(m.method, Method::ListAck);
        assert!(m.attrs.more, "{format:?}");
        let Value::List(items) = &m.msg else { panic!() };
        assert!(items.len() > 50, "{format:?}: {} items", items.len());
        assert_eq!(items[0], Value::from(format!("/000{}", "x".repeat(880))));
    }
}

#[test]
fn s7_oversized_publish_is_refused_delivered_to_none_retained_nowhere() {
    let b = start_broker();
    let mut j = subscriber(b.addr, Format::Json, "/");
    let mut x = subscriber(b.addr, Format::Xml, "/");
    let mut p = Raw::json(b.addr);
    p.publish("/big/old", "small");
    barrier(&mut p);
    barrier(&mut j);
    barrier(&mut x);
    // 90,000 '<': ~90 KB in JSON, ~360 KB in XML.
    let huge = "<".repeat(90_000);
    for topic in ["/big/old", "/big/new"] {
        p.publish(topic, huge.as_str());
        let m = next_error_on(&mut p, topic);
        assert!(!reason(&m).is_empty());
    }
    barrier(&mut p);
    expect_nothing(&mut j);
    expect_nothing(&mut x);
    // Nothing retained, no topic created.
    let mut late = Raw::json(b.addr);
    late.subscribe("/big");
    let got = non_lists(barrier(&mut late));
    assert_eq!(
        got,
        vec![Message::new(Method::LastMsg, "/big/old", "small")]
    );
    late.send(&Message::list(None));
    assert_eq!(late.recv().msg, strs(&["/big", "/big/old"]));
}

#[test]
fn s7_delivery_size_limit_boundary() {
    // A message is accepted when every frame it may travel in fits, in both
    // formats: its deliveries (with seq and ts) and a HISTORY answer holding
    // it alone (docs/protocol.md). '&' takes 5 bytes in XML, so XML bounds.
    let b = start_broker();
    let mut p = Raw::json(b.addr);
    let topic = "/bbbbb";
    let accepted = |p: &mut Raw, n: usize| {
        p.publish(topic, "&".repeat(n));
        non_lists(barrier(p)).is_empty()
    };
    let (mut lo, mut hi) = (19_000, 20_000);
    assert!(accepted(&mut p, lo) && !accepted(&mut p, hi));
    while hi - lo > 1 {
        let mid = (lo + hi) / 2;
        if accepted(&mut p, mid) {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    let mut x = subscriber(b.addr, Format::Xml, "/");
    assert!(accepted(&mut p, lo), "the largest accepted message");
    // Its delivery and its HISTORY answer each fit one frame, with at most a
    // few hundred bytes to spare (the widest numbers are assumed).
    let delivery = loop {
        let f = x.recv_frame().expect("delivery");
        let m = Format::Xml.decode(&f[5..]).unwrap();
        if m.method == Method::Publish && m.msg == Value::from("&".repeat(lo)) {
            break f;
        }
    };
    assert!(delivery.len() - 5 <= MAX_PAYLOAD);
    assert!(delivery.len() - 5 > MAX_PAYLOAD - 500, "{}", delivery.len());
    let mut h = Raw::xml(b.addr);
    h.send(&Message::new(
        Method::History,
        topic,
        Value::Dict(vec![("limit".into(), Value::Int(1))]),
    ));
    let f = h.recv_frame().expect("HISTORY");
    assert!(f.len() - 5 <= MAX_PAYLOAD);
    let page = Format::Xml.decode(&f[5..]).unwrap();
    assert_eq!(page.method, Method::History);
    assert!(!page.attrs.more, "the one item fits");
    let mut late = Raw::xml(b.addr);
    late.subscribe(topic);
    let m = late.recv_skipping_lists();
    assert_eq!(m, Message::new(Method::LastMsg, topic, "&".repeat(lo)));
    // One more '&' is refused, and delivered to no one.
    expect_nothing(&mut x);
    p.publish(topic, "&".repeat(lo + 1));
    let e = next_error_on(&mut p, topic);
    assert!(reason(&e).contains("frame limit"), "{e:?}");
    expect_nothing(&mut x);
}
