//! Wire protocol v2 §13 (resume and `GAP`) rule by rule, against a real
//! broker over TCP: what a resuming `SUBSCRIBE` replays in place of
//! `LAST_MSG`, and that the replay joins the live deliveries with no gap and
//! no duplicate.
//!
//! Helpers, and why no test sleeps, are in `common/v2.rs`.

mod common;

use std::sync::mpsc;
use std::thread;

use broker::Config;
use common::v2::{
    delivery, gap, hello_client, history, parse_gap, ping, ping_non_lists, recv_skipping_lists,
    resume, subscribe_with, Gap,
};
use common::{start_broker_with, Raw, TestBroker};
use protocol::{Format, Message, Method, Value};

/// A broker keeping 3 messages per topic, where `/r/a` was published 1..=6
/// (kept 4..=6), `/r/b` 1..=2 and `/r` 1, and the client that did it.
fn published() -> (TestBroker, Raw) {
    let b = start_broker_with(Config {
        history: 3,
        ..Config::default()
    });
    let mut p = Raw::json(b.addr);
    for i in 1..=6 {
        p.publish("/r/a", i);
    }
    for i in 1..=2 {
        p.publish("/r/b", i);
    }
    p.publish("/r", 1);
    p.publish("/other", 1);
    ping(&mut p);
    (b, p)
}

/// What a resuming client of `format` gets for `SUBSCRIBE topic` with
/// `resume(epoch or the broker's, seen)`: the replay, with the broker's
/// epoch.
fn resumed(
    addr: std::net::SocketAddr,
    format: Format,
    topic: &str,
    epoch: Option<&str>,
    seen: &[(&str, u64)],
) -> (Vec<Message>, String) {
    let (mut c, current) = hello_client(addr, format, Value::Null);
    subscribe_with(&mut c, topic, resume(epoch.unwrap_or(&current), seen));
    (ping_non_lists(&mut c), current)
}

/// A replayed `PUBLISH` as `(topic, seq, value)`; the value is the seq.
fn replayed(m: &Message) -> (String, u64) {
    let (method, topic, seq, msg) = delivery(m);
    assert_eq!(method, Method::Publish, "resume replays as PUBLISH: {m:?}");
    assert_eq!(*msg, Value::Int(seq as i64), "{m:?}");
    (topic.to_owned(), seq)
}

fn pairs(items: &[(&str, u64)]) -> Vec<(String, u64)> {
    items.iter().map(|&(t, s)| (t.to_owned(), s)).collect()
}

#[test]
fn s13_resume_up_to_date_in_the_same_epoch_replays_nothing() {
    let (b, _p) = published();
    for format in Format::ALL {
        let (got, _) = resumed(b.addr, format, "/r/a", None, &[("/r/a", 6)]);
        assert_eq!(got, vec![], "{format:?}: up to date");
        // A seq above the current one counts as up to date.
        let (got, _) = resumed(b.addr, format, "/r/a", None, &[("/r/a", 1_000)]);
        assert_eq!(got, vec![], "{format:?}: ahead");
    }
}

/// Behind in the same epoch, with `seq + 1` still kept: every kept message
/// after it, as `PUBLISH` with its own `seq` and `ts`, in order.
#[test]
fn s13_resume_behind_in_the_same_epoch_replays_the_missed_messages() {
    let (b, mut p) = published();
    let kept = history(&mut p, "/r/a", Value::Null);
    for format in Format::ALL {
        let (got, _) = resumed(b.addr, format, "/r/a", None, &[("/r/a", 4)]);
        let seqs: Vec<_> = got.iter().map(replayed).collect();
        assert_eq!(seqs, pairs(&[("/r/a", 5), ("/r/a", 6)]), "{format:?}");
        for (m, item) in got.iter().zip(&kept.items[1..]) {
            assert_eq!(m.attrs.ts, Some(item.ts), "{format:?}: the original ts");
        }
        // From the oldest kept: everything kept.
        let (got, _) = resumed(b.addr, format, "/r/a", None, &[("/r/a", 3)]);
        let seqs: Vec<_> = got.iter().map(replayed).collect();
        assert_eq!(seqs, pairs(&[("/r/a", 4), ("/r/a", 5), ("/r/a", 6)]));
        // From 0 with nothing lost: every message, no GAP.
        let (got, _) = resumed(b.addr, format, "/r/b", None, &[("/r/b", 0)]);
        let seqs: Vec<_> = got.iter().map(replayed).collect();
        assert_eq!(seqs, pairs(&[("/r/b", 1), ("/r/b", 2)]));
    }
}

/// History no longer holds `seq + 1`: a `GAP` (reason `history`) for exactly
/// the numbers lost, then the kept messages.
#[test]
fn s13_resume_past_history_gets_a_history_gap_then_the_kept_messages() {
    let (b, _p) = published();
    for format in Format::ALL {
        for (seen, lost_from) in [(1, 2), (0, 1), (2, 3)] {
            let (got, epoch) = resumed(b.addr, format, "/r/a", None, &[("/r/a", seen)]);
            assert_eq!(got.len(), 4, "{format:?} from {seen}: {got:?}");
            assert_eq!(
                parse_gap(&got[0]),
                gap("/r/a", lost_from, 3, "history", &epoch),
                "{format:?} from {seen}"
            );
            let seqs: Vec<_> = got[1..].iter().map(replayed).collect();
            assert_eq!(seqs, pairs(&[("/r/a", 4), ("/r/a", 5), ("/r/a", 6)]));
        }
    }
}

/// Another epoch: a `GAP` from = to = the client's seq + 1 (reason `epoch`,
/// carrying the broker's current epoch), then a `GAP` (reason `history`) for
/// the new numbering's start that is no longer kept (docs/protocol.md, section 10),
/// then every kept message.
#[test]
fn s13_resume_from_another_epoch_gets_an_epoch_gap_then_every_kept_message() {
    let (b, _p) = published();
    for format in Format::ALL {
        for seen in [41, 6, 0] {
            let (got, epoch) = resumed(
                b.addr,
                format,
                "/r/a",
                Some("another-epoch"),
                &[("/r/a", seen)],
            );
            assert_eq!(got.len(), 5, "{format:?} {seen}: {got:?}");
            assert_eq!(
                parse_gap(&got[0]),
                gap("/r/a", seen + 1, seen + 1, "epoch", &epoch),
                "{format:?} {seen}"
            );
            assert_eq!(
                parse_gap(&got[1]),
                gap("/r/a", 1, 3, "history", &epoch),
                "{format:?} {seen}"
            );
            let seqs: Vec<_> = got[2..].iter().map(replayed).collect();
            assert_eq!(seqs, pairs(&[("/r/a", 4), ("/r/a", 5), ("/r/a", 6)]));
        }
    }
}

/// Topics under the subscription that the resume does not list get
/// `LAST_MSG` as in v1; listed topics not under it, or that do not exist,
/// are ignored; everything comes in sorted topic order.
#[test]
fn s13_resume_replays_unlisted_topics_as_last_msg_in_sorted_order() {
    let (b, _p) = published();
    for format in Format::ALL {
        let (got, epoch) = resumed(
            b.addr,
            format,
            "/r",
            None,
            &[("/r/b", 1), ("/r/a", 1), ("/other", 0), ("/r/none", 0)],
        );
        let summary: Vec<(Method, String, u64)> = got
            .iter()
            .map(|m| match m.method {
                Method::Gap => {
                    let g = parse_gap(m);
                    assert_eq!(
                        (g.to, g.reason.as_str(), g.epoch.as_str()),
                        (3, "history", epoch.as_str())
                    );
                    (m.method, g.topic, g.from)
                }
                _ => (m.method, m.topic.clone(), m.attrs.seq.expect("seq")),
            })
            .collect();
        let want = [
            (Method::LastMsg, "/r", 1),
            (Method::Gap, "/r/a", 2),
            (Method::Publish, "/r/a", 4),
            (Method::Publish, "/r/a", 5),
            (Method::Publish, "/r/a", 6),
            (Method::Publish, "/r/b", 2),
        ];
        let want: Vec<_> = want.iter().map(|&(m, t, s)| (m, t.to_owned(), s)).collect();
        assert_eq!(summary, want, "{format:?}");
    }
}

/// A resume that lists no topic replays like a v1 `SUBSCRIBE`.
#[test]
fn s13_resume_listing_no_topic_replays_last_msg_for_all() {
    let (b, _p) = published();
    let (got, _) = resumed(b.addr, Format::Json, "/r", None, &[]);
    let summary: Vec<_> = got
        .iter()
        .map(|m| (m.method, m.topic.as_str(), m.attrs.seq))
        .collect();
    assert_eq!(
        summary,
        [
            (Method::LastMsg, "/r", Some(1)),
            (Method::LastMsg, "/r/a", Some(6)),
            (Method::LastMsg, "/r/b", Some(2)),
        ]
    );
}

/// A listed topic above the subscription (its parent) is not under it: it
/// is ignored, and the subscription's own topic, unlisted, gets `LAST_MSG`.
#[test]
fn s13_resume_ignores_a_listed_parent_of_the_subscription() {
    let (b, _p) = published();
    let (got, _) = resumed(b.addr, Format::Json, "/r/a", None, &[("/r", 0), ("/", 0)]);
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(
        (got[0].method, got[0].topic.as_str(), got[0].attrs.seq),
        (Method::LastMsg, "/r/a", Some(6))
    );
}

/// Messages that left history by age are lost for a resume too: a `GAP`
/// (reason `history`) up to the oldest unexpired message, then the rest.
#[test]
fn s13_resume_after_messages_expired_gets_a_history_gap() {
    const TTL: std::time::Duration = std::time::Duration::from_millis(500);
    let b = start_broker_with(Config {
        history_ttl: Some(TTL),
        ..Config::default()
    });
    let mut p = Raw::json(b.addr);
    for i in 1..=3 {
        p.publish("/t", i);
    }
    ping(&mut p);
    thread::sleep(TTL + std::time::Duration::from_millis(200));
    p.publish("/t", 4);
    ping(&mut p);
    let (got, epoch) = resumed(b.addr, Format::Json, "/t", None, &[("/t", 1)]);
    assert_eq!(got.len(), 2, "{got:?}");
    assert_eq!(parse_gap(&got[0]), gap("/t", 2, 3, "history", &epoch));
    assert_eq!(replayed(&got[1]), ("/t".to_owned(), 4));
}

/// A listed topic that exists but holds no message (created by a
/// `SUBSCRIBE`), resumed from another epoch: the client's numbering ended
/// all the same, so it gets the epoch `GAP` (and nothing is kept after it).
#[test]
fn s13_resume_from_another_epoch_on_a_topic_without_messages_gets_an_epoch_gap() {
    let (b, _p) = published();
    let _creator = common::wire::subscriber(b.addr, Format::Json, "/r/empty");
    let (got, epoch) = resumed(
        b.addr,
        Format::Json,
        "/r/empty",
        Some("old"),
        &[("/r/empty", 41)],
    );
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(parse_gap(&got[0]), gap("/r/empty", 42, 42, "epoch", &epoch));
}

/// Resume topics are normalized: `//r//a/` is `/r/a`.
#[test]
fn s13_resume_topics_are_normalized() {
    let (b, _p) = published();
    let (got, _) = resumed(b.addr, Format::Json, "/r/a", None, &[("//r//a/", 6)]);
    assert_eq!(got, vec![], "up to date under its normalized name");
    let (got, _) = resumed(b.addr, Format::Json, "/r/a", None, &[("//r//a/", 5)]);
    let seqs: Vec<_> = got.iter().map(replayed).collect();
    assert_eq!(seqs, pairs(&[("/r/a", 6)]));
}

/// A resuming subscription receives live deliveries afterwards like any
/// other, and its `GAP`s carry the epoch `HELLO` gave.
#[test]
fn s13_resume_then_live_deliveries_follow() {
    let (b, mut p) = published();
    let (mut c, epoch) = hello_client(b.addr, Format::Xml, Value::Null);
    subscribe_with(&mut c, "/r/b", resume(&epoch, &[("/r/b", 1)]));
    p.publish("/r/b", 3);
    ping(&mut p);
    let got: Vec<_> = ping_non_lists(&mut c).iter().map(replayed).collect();
    assert_eq!(got, pairs(&[("/r/b", 2), ("/r/b", 3)]));
}

/// The `GAP` frame has exactly `method`, `topic` and `msg` at the top.
#[test]
fn s13_gap_frame_has_no_other_top_level_key() {
    let (b, _p) = published();
    let (mut c, _) = hello_client(b.addr, Format::Json, Value::Null);
    subscribe_with(&mut c, "/r/a", resume("old", &[("/r/a", 2)]));
    let frame = c.recv_frame().expect("GAP");
    let text = std::str::from_utf8(&frame[5..]).expect("UTF-8");
    let top = common::v2::json(text);
    common::v2::assert_keys(&top, &["method", "msg", "topic"]);
    let g: Gap = parse_gap(&Format::Json.decode(text.as_bytes()).expect("decode"));
    assert_eq!((g.from, g.to, g.reason.as_str()), (3, 3, "epoch"));
}

/// Snapshot and registration are one step: with a publisher publishing
/// continuously on a topic, a client resuming at some seq sees one unbroken
/// run of numbers, replay then live, with no hole and no repeat.
#[test]
fn s13_no_gap_and_no_duplicate_between_a_resume_replay_and_live_deliveries() {
    const TOTAL: u64 = 30_000;
    const ROUNDS: usize = 4;
    let b = start_broker_with(Config {
        history: TOTAL as usize,
        ..Config::default()
    });
    let addr = b.addr;
    let (progress_tx, progress) = mpsc::channel();
    let publisher = thread::spawn(move || {
        let mut p = Raw::json(addr);
        let mut batch = Vec::new();
        for i in 1..=TOTAL {
            Format::Json
                .encode(&Message::publish("/c", i as i64), &mut batch)
                .expect("encode");
            if i % 500 == 0 {
                p.send_bytes(&batch);
                batch.clear();
                // Paced by round trips now and then, so subscribers arrive
                // while it is still publishing.
                if i % 5_000 == 0 {
                    ping(&mut p);
                    let _ = progress_tx.send(i);
                }
            }
        }
        ping(&mut p);
    });
    // Each resume reads in its own thread, so that the later ones start
    // while the publisher is still going too.
    let mut readers = Vec::new();
    for published in progress.iter().take(ROUNDS) {
        if published >= TOTAL {
            break;
        }
        readers.push(thread::spawn(move || {
            let (mut c, epoch) = hello_client(addr, Format::Json, Value::Null);
            let seen = published / 2;
            subscribe_with(&mut c, "/c", resume(&epoch, &[("/c", seen)]));
            let mut next = seen + 1;
            while next <= TOTAL {
                let m = recv_skipping_lists(&mut c);
                let (method, topic, seq, msg) = delivery(&m);
                assert_eq!((method, topic), (Method::Publish, "/c"), "{m:?}");
                assert_eq!(seq, next, "resumed at {seen}: a hole or a repeat");
                assert_eq!(*msg, Value::Int(seq as i64));
                next += 1;
            }
        }));
    }
    let resumes = readers.len();
    for r in readers {
        r.join().expect("a resumed reader");
    }
    publisher.join().expect("publisher");
    assert_eq!(resumes, ROUNDS, "resumes while publishing");
}
