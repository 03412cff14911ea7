//! Wire protocol v2 §13, slow policy `"drop"`, against a real broker over
//! TCP: a subscriber that stalls loses deliveries instead of its connection,
//! is told which as `GAP`s, and can account for every number; answers to its
//! own requests are never dropped.
//!
//! The broker's output limit is small (64 KiB) and floods are far larger
//! than the kernel's socket buffers, so a subscriber that stops reading
//! really falls behind. Helpers are in `common/v2.rs`.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use broker::Config;
use common::v2::{
    account_for_every_seq, drop_subscriber, flood, hello_client, parse_gap, parse_history, ping,
    recv, request, resume, since_limit, subscribe_with, FLOOD_COUNT, FLOOD_SIZE,
};
use common::{start_broker_with, Raw, TestBroker};
use protocol::{Format, Message, Method, Value};

fn small_output_broker() -> TestBroker {
    start_broker_with(Config {
        max_pending_output: 64 * 1024,
        ..Config::default()
    })
}

/// The broker's epoch, from a new client's `HELLO`.
fn epoch(b: &TestBroker) -> String {
    hello_client(b.addr, Format::Json, Value::Null).1
}

/// A drop-policy subscriber that stops reading while a publisher sends far
/// more than fits, then reads everything: the deliveries and the `GAP`s
/// (reason `"slow"`) together cover every number exactly once, in order;
/// it was not disconnected, and it receives live deliveries again.
#[test]
fn s13_a_drop_policy_subscriber_that_stalls_then_reads_sees_every_seq_exactly_once() {
    for format in Format::ALL {
        let b = small_output_broker();
        let epoch = epoch(&b);
        let mut sub = drop_subscriber(b.addr, format, "/s");
        // The publisher's round trip after the flood proves the broker
        // handled every publish while the subscriber was not reading.
        let mut p = flood(b.addr, "/s", FLOOD_COUNT, FLOOD_SIZE);
        let gaps = account_for_every_seq(&mut sub, "/s", FLOOD_COUNT as u64, &epoch);
        assert!(!gaps.is_empty(), "{format:?}: the flood never overflowed");
        let lost: u64 = gaps.iter().map(|g| g.to - g.from + 1).sum();
        assert!(lost < FLOOD_COUNT as u64, "{format:?}: nothing delivered");
        // Delivering again.
        p.publish("/s", "after");
        ping(&mut p);
        let m = recv(&mut sub);
        assert_eq!(
            (m.method, m.attrs.seq, &m.msg),
            (
                Method::Publish,
                Some(FLOOD_COUNT as u64 + 1),
                &Value::from("after")
            ),
            "{format:?}"
        );
    }
}

/// Drops are remembered per topic: one `GAP` per topic with drops, each
/// topic's numbers all accounted for.
#[test]
fn s13_drop_policy_owes_one_gap_range_per_topic() {
    const EACH: u64 = FLOOD_COUNT as u64 / 2;
    let b = small_output_broker();
    let epoch = epoch(&b);
    let mut sub = drop_subscriber(b.addr, Format::Json, "/m");
    let mut p = Raw::json(b.addr);
    p.stream
        .set_write_timeout(Some(common::WAIT))
        .expect("timeout");
    let body = "y".repeat(FLOOD_SIZE);
    let mut batch = Vec::new();
    for i in 0..EACH {
        for t in ["/m/b", "/m/a"] {
            let m = Message::publish(t, format!("{i} {body}"));
            Format::Json.encode(&m, &mut batch).expect("encode");
        }
        if batch.len() > 256 * 1024 {
            p.send_bytes(&batch);
            batch.clear();
        }
    }
    p.send_bytes(&batch);
    ping(&mut p);
    let mut next: BTreeMap<String, u64> = [("/m/a".into(), 1), ("/m/b".into(), 1)].into();
    let mut gaps = 0;
    while next.values().any(|&n| n <= EACH) {
        let m = recv(&mut sub);
        match m.method {
            Method::ListAck => {}
            Method::Publish => {
                let n = next.get_mut(&m.topic).expect("a flooded topic");
                assert_eq!(m.attrs.seq, Some(*n), "{}: hole or repeat", m.topic);
                *n += 1;
            }
            Method::Gap => {
                let g = parse_gap(&m);
                assert_eq!(
                    (g.reason.as_str(), g.epoch.as_str()),
                    ("slow", epoch.as_str())
                );
                let n = next.get_mut(&g.topic).expect("a flooded topic");
                assert_eq!(g.from, *n, "{g:?}");
                assert!(g.to <= EACH, "{g:?}");
                *n = g.to + 1;
                gaps += 1;
            }
            _ => panic!("unexpected {m:?}"),
        }
    }
    assert!(gaps >= 2, "no drop on one of the topics");
    assert!(ping(&mut sub).is_empty(), "more after every number");
}

/// Answers to the subscriber's own requests are never dropped, even while
/// its deliveries are: `PONG`, `HISTORY`, `LAST_MSG` and resume replays and
/// `LIST_ACK` all arrive, and the deliveries around them still account for every
/// number.
#[test]
fn s13_answers_to_own_requests_are_never_dropped() {
    let b = small_output_broker();
    let epoch = epoch(&b);
    let mut p = Raw::json(b.addr);
    p.publish("/kept", "retained");
    p.publish("/resumed", "missed");
    ping(&mut p);
    let mut sub = drop_subscriber(b.addr, Format::Json, "/s");
    flood(b.addr, "/s", FLOOD_COUNT, FLOOD_SIZE);
    // Still not reading: ask for things, then more deliveries come.
    sub.send(&request(Method::Ping, "/q", Value::from("own ping")));
    sub.send(&request(
        Method::History,
        "/s",
        since_limit(Some(0), Some(2)),
    ));
    sub.subscribe("/kept");
    subscribe_with(&mut sub, "/resumed", resume(&epoch, &[("/resumed", 0)]));
    sub.send(&Message::list(None));
    flood(b.addr, "/s", FLOOD_COUNT, FLOOD_SIZE);
    let total = 2 * FLOOD_COUNT as u64;
    let (mut next, mut gaps) = (1, 0);
    let mut answers = Vec::new();
    while next <= total || answers.len() < 5 {
        let m = recv(&mut sub);
        match m.method {
            Method::Publish if m.topic == "/s" => {
                assert_eq!(m.attrs.seq, Some(next), "hole or repeat");
                next += 1;
            }
            Method::Gap => {
                let g = parse_gap(&m);
                assert_eq!((g.topic.as_str(), g.reason.as_str()), ("/s", "slow"));
                assert_eq!((g.from, g.epoch.as_str()), (next, epoch.as_str()));
                next = g.to + 1;
                gaps += 1;
            }
            Method::Pong => {
                assert_eq!((m.topic.as_str(), &m.msg), ("/q", &Value::from("own ping")));
                answers.push("PONG");
            }
            Method::History => {
                let h = parse_history(&m);
                assert_eq!(
                    (h.topic.as_str(), h.seq, h.items.len()),
                    ("/s", FLOOD_COUNT as u64, 2)
                );
                answers.push("HISTORY");
            }
            Method::LastMsg => {
                assert_eq!(
                    (m.topic.as_str(), &m.msg),
                    ("/kept", &Value::from("retained"))
                );
                answers.push("LAST_MSG");
            }
            Method::Publish if m.topic == "/resumed" => {
                assert_eq!((m.attrs.seq, &m.msg), (Some(1), &Value::from("missed")));
                answers.push("resumed PUBLISH");
            }
            Method::ListAck if m.msg == common::wire::strs(&["/kept", "/resumed", "/s"]) => {
                answers.push("LIST_ACK");
            }
            Method::ListAck => {}
            _ => panic!("unexpected {m:?}"),
        }
        assert!(next <= total + 1, "past the last number");
    }
    assert_eq!(
        answers,
        ["PONG", "HISTORY", "LAST_MSG", "resumed PUBLISH", "LIST_ACK"]
    );
    assert!(gaps > 0, "the flood never overflowed the subscriber");
    assert!(ping(&mut sub).is_empty());
}

/// A drop-policy subscriber that keeps up loses nothing: no `GAP` at all.
#[test]
fn s13_a_drop_policy_subscriber_that_keeps_up_gets_everything() {
    const COUNT: usize = 2_000;
    let b = small_output_broker();
    let epoch = epoch(&b);
    let mut sub = drop_subscriber(b.addr, Format::Json, "/k");
    let addr = b.addr;
    let publisher = std::thread::spawn(move || {
        let mut p = Raw::json(addr);
        for i in 0..COUNT {
            p.publish("/k", format!("{i} {}", "z".repeat(100)));
            if i % 100 == 99 {
                // Paced: the subscriber's output never nears the limit.
                ping(&mut p);
            }
        }
        ping(&mut p);
    });
    let gaps = account_for_every_seq(&mut sub, "/k", COUNT as u64, &epoch);
    publisher.join().expect("publisher");
    assert_eq!(gaps, vec![], "a subscriber that keeps up loses nothing");
}

/// Publishes one message on each of `count` new topics `{prefix}/{i}`.
fn publish_on_many_topics(p: &mut Raw, prefix: &str, count: usize) {
    let mut batch = Vec::new();
    for i in 0..count {
        let m = Message::publish(format!("{prefix}/{i}"), 0);
        Format::Json.encode(&m, &mut batch).expect("encode");
    }
    p.send_bytes(&batch);
    ping(p);
}

/// The output limit of the gap-count tests, and their flood: a stalled
/// reader's socket buffers on loopback take a few MB (`tcp_wmem`'s maximum,
/// 4 MB by default) and grow while they do, so with a 64 KiB limit the
/// subscriber catches up now and then (and is sent its gaps). With half the
/// limit larger than the kernel ever takes, once the subscriber is over the
/// limit it stays behind until it reads: every later delivery is dropped and
/// owed in one run of gaps.
const BIG_LIMIT: usize = 12 * 1024 * 1024;
/// See [`BIG_LIMIT`]: 20 MB, over the limit and the kernel's buffers.
const SATURATING_COUNT: usize = 10_000;

/// A broker with a drop-policy subscriber of `topic` that fell behind for
/// good on `{topic}/flood`, and the publisher that did it.
fn saturated(topic: &str) -> (TestBroker, Raw, Raw) {
    let b = start_broker_with(Config {
        max_pending_output: BIG_LIMIT,
        ..Config::default()
    });
    let sub = drop_subscriber(b.addr, Format::Json, topic);
    let flood_topic = format!("{topic}/flood");
    let p = flood(b.addr, &flood_topic, SATURATING_COUNT, FLOOD_SIZE);
    (b, sub, p)
}

/// A connection owed gaps on 10,000 topics (the most allowed) stays open
/// and, once it reads, gets one `GAP` per topic: every number of every topic
/// is accounted for.
#[test]
fn s13_a_connection_owed_gaps_on_10000_topics_stays_open() {
    const TOPICS: usize = 10_000;
    let (b, mut sub, mut p) = saturated("/x");
    let epoch = epoch(&b);
    publish_on_many_topics(&mut p, "/x/t", TOPICS - 1);
    // Per topic, the next number to account for; topics done leave.
    let mut next: BTreeMap<String, u64> = BTreeMap::new();
    next.insert("/x/flood".into(), 1);
    for i in 0..TOPICS - 1 {
        next.insert(format!("/x/t/{i}"), 1);
    }
    let last_of = |topic: &str| {
        if topic == "/x/flood" {
            SATURATING_COUNT as u64
        } else {
            1
        }
    };
    let mut gap_topics = 0;
    while !next.is_empty() {
        let m = recv(&mut sub);
        let (topic, upto) = match m.method {
            Method::ListAck => continue,
            Method::Publish => {
                let n = next.get(&m.topic).expect("a topic with numbers owed");
                assert_eq!(m.attrs.seq, Some(*n), "{}", m.topic);
                (m.topic, *n)
            }
            Method::Gap => {
                let g = parse_gap(&m);
                assert_eq!(
                    (g.reason.as_str(), g.epoch.as_str()),
                    ("slow", epoch.as_str())
                );
                let n = next.get(&g.topic).expect("a topic with numbers owed");
                assert_eq!(g.from, *n, "{g:?}");
                gap_topics += usize::from(g.topic != "/x/flood");
                (g.topic, g.to)
            }
            _ => panic!("unexpected {m:?}"),
        };
        if upto >= last_of(&topic) {
            next.remove(&topic);
        } else {
            next.insert(topic, upto + 1);
        }
    }
    assert_eq!(gap_topics, TOPICS - 1, "every new topic was owed a GAP");
    assert!(ping(&mut sub).is_empty());
}

/// A connection owed gaps on more than 10,000 topics is closed with an
/// `ERROR` first: what it receives is whole frames, the last one that
/// `ERROR`, then the end of the connection.
#[test]
fn s13_a_connection_owed_gaps_on_more_than_10000_topics_is_closed_with_an_error() {
    const TOPICS: usize = 10_000;
    let (_b, mut sub, mut p) = saturated("/z");
    publish_on_many_topics(&mut p, "/z/t", TOPICS);
    let (bytes, ending) = common::read_raw_until_end(&mut sub.stream, Duration::from_secs(5));
    assert_ne!(
        ending,
        common::Ending::TimedOut,
        "owed gaps on 10,001 topics: still open"
    );
    let (frames, tail) = common::split_broker_frames(&bytes)
        .unwrap_or_else(|e| panic!("the stream before the close is not whole frames: {e}"));
    assert!(tail.is_empty(), "EOF inside a frame");
    let methods: Vec<Method> = frames
        .iter()
        .map(|f| Format::Json.decode(f).expect("decodable").method)
        .collect();
    assert_eq!(
        methods.last(),
        Some(&Method::Error),
        "the last frame before the close"
    );
    assert!(
        !methods.contains(&Method::Gap),
        "GAPs sent to the connection closed for owing too many"
    );
}
