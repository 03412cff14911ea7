//! Bounds of v2 parts 2 and 3 that one client must not get past, through
//! real sockets: a filter's evaluation, inbox topics under the topic limit,
//! presence frames to a watcher that stopped reading.

mod common;

use std::time::{Duration, Instant};

use common::v2::{obj, ping, subscribe_with};
use common::{start_broker, Raw};
use protocol::Value;

/// A content filter's evaluation is bounded (docs/protocol.md §11: 25,000
/// units, about 0.5 ms at worst), so one subscriber's filter cannot stall
/// the broker for everyone. But `==` charges only the top-level size of its
/// operands while comparing them to the bottom, and a value built by
/// doubling (`map(a, [a, a])`, halves shared) has 2^k leaves for a few
/// units: one publish keeps the reactor (every connection's) busy for seconds.
#[test]
fn s14_one_filter_evaluation_cannot_stall_the_broker() {
    let b = start_broker();
    let expr = format!("[[0]]{}.all(z, z == z)", ".map(a, [a, a])".repeat(22));
    let mut sub = Raw::json(b.addr);
    subscribe_with(
        &mut sub,
        "/t",
        obj(&[("filter", Value::from(expr.as_str()))]),
    );
    ping(&mut sub);
    let mut p = Raw::json(b.addr);
    ping(&mut p);
    let start = Instant::now();
    p.publish("/t", 1);
    ping(&mut p);
    let took = start.elapsed();
    assert!(
        took < Duration::from_millis(500),
        "one publish and a PING took {took:?}: the filter ran unbounded"
    );
}

/// `--max-topics` bounds the topics a request may create (docs/protocol.md
/// section 8's limits table: a `PUBLISH` or `SUBSCRIBE` that would create
/// more gets `ERROR`). Inbox topics are kept out of the topic list, and the
/// limit was counted on that list, so subscribing to inboxes created topics
/// past the bound without end.
#[test]
fn s15_inbox_topics_count_against_the_topic_limit() {
    let b = common::start_broker_with(broker::Config {
        max_topics: 4,
        ..broker::Config::default()
    });
    let mut c = Raw::json(b.addr);
    for i in 0..10 {
        c.subscribe(&format!("/_INBOX/{i}"));
    }
    let refused: Vec<String> = common::v2::ping_non_lists(&mut c)
        .into_iter()
        .filter(|m| m.method == protocol::Method::Error)
        .map(|m| m.topic)
        .collect();
    assert_eq!(
        refused,
        (3..10).map(|i| format!("/_INBOX/{i}")).collect::<Vec<_>>(),
        "/_INBOX and three inboxes fit"
    );
}

/// The resident set of this process (the broker runs in it), in bytes.
fn rss() -> usize {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    let kb: usize = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS");
    kb * 1024
}

/// `--max-pending-output` bounds what the broker holds for a client: under
/// the default policy a client past it is dropped, and under slow policy
/// `drop` its deliveries are dropped (told as gaps) and announcements are
/// skipped, "those are not answers" (reactor/outbox.rs). `PRESENCE` frames
/// are not answers either (other clients cause them), but they are queued
/// whatever is pending: a watcher that says `"slow": "drop"` and stops
/// reading makes the broker buffer every join and leave on its topic, for
/// ever.
#[test]
fn s16_presence_frames_to_a_watcher_that_stopped_reading_are_bounded() {
    let limit = 64 * 1024;
    let b = common::start_broker_with(broker::Config {
        max_pending_output: limit,
        ..broker::Config::default()
    });
    let mut watcher = Raw::json(b.addr);
    common::v2::hello(
        &mut watcher,
        obj(&[("name", "watcher".into()), ("slow", "drop".into())]),
    );
    subscribe_with(
        &mut watcher,
        "/room",
        obj(&[("presence", Value::Bool(true))]),
    );
    ping(&mut watcher);
    // From here on the watcher reads nothing.
    let mut churner = Raw::json(b.addr);
    common::v2::hello(&mut churner, obj(&[("name", "c".repeat(64).into())]));
    let before = rss();
    for _ in 0..100_000 {
        churner.subscribe("/room");
        churner.send(&protocol::Message::cancel_sub("/room"));
    }
    ping(&mut churner);
    let grown = rss().saturating_sub(before);
    assert!(
        grown < 16 << 20,
        "the broker's memory grew by {} MB for a watcher over its {} KB limit",
        grown >> 20,
        limit >> 10
    );
    drop(watcher);
}
