//! Wire protocol v2 §12 (history) rule by rule, against a real broker over
//! TCP: `HISTORY` answers and their paging, and what history keeps under its
//! three bounds (count, age, retained bytes).
//!
//! Helpers, and why no test sleeps (but for the age bound), are in
//! `common/v2.rs`.

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use broker::Config;
use common::v2::{
    assert_keys, history, json, obj, parse_history, ping, ping_non_lists, request, since_limit,
    HistoryAnswer,
};
use common::wire::{expect_no_topics, list_all_pages, next_error_on, subscriber};
use common::{start_broker, start_broker_with, Raw};
use protocol::{Format, Method, Value};

/// A client that published `values` on `topic`, once the broker took them.
fn publish_all(addr: std::net::SocketAddr, topic: &str, values: &[Value]) -> Raw {
    let mut p = Raw::json(addr);
    for v in values {
        p.publish(topic, v.clone());
    }
    let replies = ping(&mut p);
    assert!(
        replies.iter().all(|m| m.method != Method::Error),
        "{replies:?}"
    );
    p
}

fn ints(range: std::ops::RangeInclusive<i64>) -> Vec<Value> {
    range.map(Value::Int).collect()
}

/// `HISTORY` of `topic` (everything kept): its items' numbers.
fn kept(c: &mut Raw, topic: &str) -> Vec<u64> {
    let h = history(c, topic, Value::Null);
    assert!(!h.more, "{h:?}");
    h.seqs()
}

// ------------------------------------------------------------ answers

#[test]
fn s12_history_of_a_nonexistent_topic_is_seq_0_first_null_no_items() {
    let b = start_broker();
    for format in Format::ALL {
        let mut c = Raw::handshake(b.addr, format);
        let h = history(&mut c, "/no/such", Value::Null);
        let want = HistoryAnswer {
            topic: "/no/such".into(),
            seq: 0,
            first: None,
            items: vec![],
            more: false,
        };
        assert_eq!(h, want, "{format:?}");
        let h = history(&mut c, "/no/such", since_limit(Some(3), Some(2)));
        assert_eq!(h, want, "{format:?} with since and limit");
        // Asking creates nothing.
        expect_no_topics(&mut c);
    }
}

/// A topic that exists but holds no message (created by `SUBSCRIBE`, or an
/// ancestor of a published topic) answers like one that does not exist.
#[test]
fn s12_history_of_a_topic_without_messages_is_empty() {
    let b = start_broker();
    let _s = subscriber(b.addr, Format::Json, "/sub/only");
    let mut c = publish_all(b.addr, "/anc/leaf", &[1.into()]);
    for topic in ["/sub/only", "/sub", "/anc"] {
        let h = history(&mut c, topic, Value::Null);
        assert_eq!(
            (h.topic.as_str(), h.seq, h.first, h.items.len()),
            (topic, 0, None, 0)
        );
    }
}

/// Items are the kept messages oldest first, each exactly `{seq, ts, msg}`
/// with the `ts` its delivery had and its value unchanged; the answer is on
/// the normalized topic, and its frame has no key that does not apply.
#[test]
fn s12_history_items_are_the_kept_messages_oldest_first() {
    let b = start_broker();
    let mut live = subscriber(b.addr, Format::Json, "/h");
    let values = [
        Value::Int(7),
        Value::from("text <&>"),
        json(r#"{"k": [1, 2.5, null, true]}"#),
        Value::Null,
        Value::List(vec![]),
    ];
    publish_all(b.addr, "/h", &values);
    let delivered = ping_non_lists(&mut live);
    assert_eq!(delivered.len(), values.len());
    for format in Format::ALL {
        let mut c = Raw::handshake(b.addr, format);
        let h = history(&mut c, "//h//", Value::Null);
        assert_eq!((h.topic.as_str(), h.seq, h.first), ("/h", 5, Some(1)));
        assert!(!h.more);
        assert_eq!(h.items.len(), values.len(), "{format:?}");
        for (item, d) in h.items.iter().zip(&delivered) {
            assert_eq!(Some(item.seq), d.attrs.seq, "{format:?}");
            assert_eq!(Some(item.ts), d.attrs.ts, "{format:?}");
            assert_eq!(item.msg, d.msg, "{format:?}");
        }
    }
    let mut c = Raw::json(b.addr);
    c.send(&request(Method::History, "/h", Value::Null));
    let frame = c.recv_frame().expect("HISTORY");
    let top = json(std::str::from_utf8(&frame[5..]).expect("UTF-8"));
    assert_keys(&top, &["method", "msg", "topic"]);
}

/// `since` keeps the messages numbered above it; `limit` then keeps only
/// the newest `n` of those (the spec's example: kept 1..5, since 1, limit
/// 3: items 3, 4, 5). `seq` and `first` do not depend on either.
#[test]
fn s12_since_and_limit_select_the_newest_n_after_since() {
    let b = start_broker();
    let mut c = publish_all(b.addr, "/s", &ints(1..=5));
    let cases: [(Value, &[u64]); 13] = [
        (Value::Null, &[1, 2, 3, 4, 5]),
        (obj(&[]), &[1, 2, 3, 4, 5]),
        (since_limit(Some(1), Some(3)), &[3, 4, 5]),
        (since_limit(Some(0), None), &[1, 2, 3, 4, 5]),
        (since_limit(Some(1), None), &[2, 3, 4, 5]),
        (since_limit(Some(3), None), &[4, 5]),
        (since_limit(Some(5), None), &[]),
        (since_limit(Some(99), None), &[]),
        (since_limit(None, Some(1)), &[5]),
        (since_limit(None, Some(3)), &[3, 4, 5]),
        (since_limit(None, Some(1_000_000)), &[1, 2, 3, 4, 5]),
        (since_limit(Some(4), Some(3)), &[5]),
        (
            json(r#"{"since": 2, "limit": 2, "other": "ignored"}"#),
            &[4, 5],
        ),
    ];
    for format in Format::ALL {
        let mut x = Raw::handshake(b.addr, format);
        for (msg, want) in &cases {
            let h = history(&mut x, "/s", msg.clone());
            assert_eq!(h.seqs(), *want, "{format:?} {msg:?}");
            assert_eq!((h.seq, h.first, h.more), (5, Some(1), false), "{msg:?}");
            for item in &h.items {
                assert_eq!(item.msg, Value::Int(item.seq as i64));
            }
        }
    }
    drop(c.barrier());
}

/// Reads every page of `HISTORY topic` from `since` (with `limit`, if
/// given), asking again with `since` = the last seq got while `more` is
/// set; checks each page's raw frame carries `more` exactly when it should.
/// Returns the pages.
fn all_pages(c: &mut Raw, topic: &str, limit: Option<u64>) -> Vec<HistoryAnswer> {
    let mut pages = Vec::new();
    let mut since = 0;
    loop {
        c.send(&request(
            Method::History,
            topic,
            since_limit(Some(since), limit),
        ));
        let frame = c.recv_frame().expect("HISTORY page");
        let text = String::from_utf8(frame[5..].to_vec()).expect("UTF-8");
        let m = c.format.decode(text.as_bytes()).expect("decode");
        let page = parse_history(&m);
        let flagged = match c.format {
            Format::Json => text.contains(r#""more":true"#),
            Format::Xml => text.contains(r#"more="true""#),
        };
        assert_eq!(flagged, page.more, "{:?} page: more key", c.format);
        if !page.more {
            assert!(
                !text.contains("more"),
                "no more key when all fit: {text:.200}"
            );
            pages.push(page);
            return pages;
        }
        assert!(!page.items.is_empty(), "a page with more holds no item");
        since = *page.seqs().last().expect("items");
        pages.push(page);
        assert!(pages.len() < 100, "paging does not end");
    }
}

/// When the items do not fit one frame, the answer holds the oldest that fit
/// and `more`; asking again with `since` = the last seq got gets the rest:
/// every item once, in order, in both formats.
#[test]
fn s12_history_pages_with_more_when_items_do_not_fit_one_frame() {
    const COUNT: u64 = 100;
    let b = start_broker();
    // About 350 KB of JSON: several frames in either format.
    let values: Vec<Value> = (1..=COUNT)
        .map(|i| Value::from(format!("{i} {}", "p".repeat(3_500))))
        .collect();
    publish_all(b.addr, "/page", &values);
    for format in Format::ALL {
        let mut c = Raw::handshake(b.addr, format);
        let pages = all_pages(&mut c, "/page", None);
        assert!(pages.len() >= 4, "{format:?}: only {} pages", pages.len());
        let mut seen = Vec::new();
        for p in &pages {
            assert_eq!(
                (p.topic.as_str(), p.seq, p.first),
                ("/page", COUNT, Some(1))
            );
            for item in &p.items {
                assert_eq!(item.msg, values[item.seq as usize - 1], "{format:?}");
            }
            seen.extend(p.seqs());
        }
        assert_eq!(
            seen,
            (1..=COUNT).collect::<Vec<_>>(),
            "{format:?}: every item once, in order"
        );
        // With a limit the pages start at the newest `limit`.
        let pages = all_pages(&mut c, "/page", Some(60));
        assert!(pages.len() >= 2, "{format:?}: limit 60 in one page");
        let seen: Vec<u64> = pages.iter().flat_map(HistoryAnswer::seqs).collect();
        assert_eq!(
            seen,
            (41..=COUNT).collect::<Vec<_>>(),
            "{format:?} limit 60"
        );
    }
}

/// A page holds as many of the oldest items as fit: the next item would not
/// have fit (the two pages' sizes together pass the frame limit).
#[test]
fn s12_history_pages_are_full() {
    let b = start_broker();
    let values: Vec<Value> = (0..60).map(|i| Value::from(format!("{i:>3500}"))).collect();
    publish_all(b.addr, "/full", &values);
    for format in Format::ALL {
        let mut c = Raw::handshake(b.addr, format);
        c.send(&request(Method::History, "/full", Value::Null));
        let frame = c.recv_frame().expect("page");
        let m = c.format.decode(&frame[5..]).expect("decode");
        let page = parse_history(&m);
        assert!(page.more);
        // One more item adds about 3,600 bytes: the page is within that of
        // the limit, else another item would have fit.
        assert!(
            frame.len() - 5 > protocol::MAX_PAYLOAD - 3_700,
            "{format:?}: a page of {} bytes with more",
            frame.len() - 5
        );
    }
}

// ------------------------------------------------------------ bounds

/// `history: N` keeps the last N messages of every topic; the oldest leave.
#[test]
fn s12_history_keeps_the_last_n_of_each_topic() {
    let b = start_broker_with(Config {
        history: 3,
        ..Config::default()
    });
    let mut c = publish_all(b.addr, "/a", &ints(1..=5));
    publish_all(b.addr, "/b", &ints(1..=2));
    let h = history(&mut c, "/a", Value::Null);
    assert_eq!((h.seq, h.first, h.seqs()), (5, Some(3), vec![3, 4, 5]));
    assert_eq!(kept(&mut c, "/b"), [1, 2]);
    c.publish("/a", 6);
    ping(&mut c);
    assert_eq!(kept(&mut c, "/a"), [4, 5, 6]);
}

/// `history: 1` is v1's retention: only the retained message is kept.
#[test]
fn s12_history_1_keeps_only_the_retained_message() {
    let b = start_broker_with(Config {
        history: 1,
        ..Config::default()
    });
    let mut c = publish_all(b.addr, "/a", &ints(1..=5));
    let h = history(&mut c, "/a", Value::Null);
    assert_eq!((h.seq, h.first, h.seqs()), (5, Some(5), vec![5]));
    c.subscribe("/a");
    let replay = ping_non_lists(&mut c);
    assert_eq!(replay.len(), 1);
    assert_eq!(
        (replay[0].method, replay[0].attrs.seq),
        (Method::LastMsg, Some(5))
    );
}

/// With an age bound, expired messages leave history, but each topic keeps
/// its newest (the retained message), and the topic stays.
#[test]
fn s12_history_ttl_expires_messages_but_never_a_topics_newest() {
    // Long enough for the checks before the wait to run on a loaded machine.
    const TTL: Duration = Duration::from_secs(1);
    let b = start_broker_with(Config {
        history_ttl: Some(TTL),
        ..Config::default()
    });
    let mut c = publish_all(b.addr, "/t", &ints(1..=3));
    publish_all(b.addr, "/u", &ints(1..=2));
    assert_eq!(kept(&mut c, "/t"), [1, 2, 3], "nothing expired yet");
    std::thread::sleep(TTL + Duration::from_millis(300));
    c.publish("/u", 3);
    ping(&mut c);
    let t = history(&mut c, "/t", Value::Null);
    assert_eq!((t.seq, t.first, t.seqs()), (3, Some(3), vec![3]), "/t");
    let u = history(&mut c, "/u", Value::Null);
    assert_eq!((u.seq, u.first, u.seqs()), (3, Some(3), vec![3]), "/u");
    c.publish("/u", 4);
    ping(&mut c);
    assert_eq!(kept(&mut c, "/u"), [3, 4], "fresh messages stay");
    // The retained message is still replayed, and the topic is listed.
    c.subscribe("/t");
    let replay = ping_non_lists(&mut c);
    assert_eq!(replay.len(), 1, "{replay:?}");
    assert_eq!(
        (replay[0].method, replay[0].attrs.seq),
        (Method::LastMsg, Some(3))
    );
    let (topics, _) = list_all_pages(&mut c);
    assert_eq!(topics, ["/t", "/u"]);
}

/// A value of `n` bytes of JSON text: a string of `n - 2` characters.
fn sized(n: usize, fill: char) -> Value {
    Value::from(fill.to_string().repeat(n - 2))
}

/// At the retained-bytes bound the oldest history entries of all topics go
/// first, in the order they were accepted, but never a topic's newest.
#[test]
fn s12_retained_bytes_bound_removes_the_oldest_of_all_topics_never_a_newest() {
    let b = start_broker_with(Config {
        max_retained_bytes: 100,
        ..Config::default()
    });
    let mut p = Raw::json(b.addr);
    // Ten messages of 10 bytes: exactly the bound. /c's is the oldest of all.
    p.publish("/c", sized(10, 'c'));
    for i in 0..9 {
        p.publish(if i % 2 == 0 { "/a" } else { "/b" }, sized(10, 'x'));
    }
    ping(&mut p);
    assert_eq!(kept(&mut p, "/a"), [1, 2, 3, 4, 5]);
    assert_eq!(kept(&mut p, "/b"), [1, 2, 3, 4]);
    assert_eq!(kept(&mut p, "/c"), [1]);
    // One more: /c's message is the oldest but its topic's newest; /a #1
    // is the oldest that may leave.
    p.publish("/b", sized(10, 'x'));
    ping(&mut p);
    assert_eq!(kept(&mut p, "/a"), [2, 3, 4, 5]);
    assert_eq!(kept(&mut p, "/b"), [1, 2, 3, 4, 5]);
    assert_eq!(kept(&mut p, "/c"), [1]);
    p.publish("/a", sized(10, 'x'));
    ping(&mut p);
    assert_eq!(kept(&mut p, "/a"), [2, 3, 4, 5, 6]);
    assert_eq!(kept(&mut p, "/b"), [2, 3, 4, 5]);
    // A bigger message makes more leave, oldest first.
    p.publish("/c", sized(30, 'c'));
    ping(&mut p);
    // /c #1 is superseded: now the oldest that may leave, then /a #2, /b #2.
    assert_eq!(kept(&mut p, "/a"), [3, 4, 5, 6]);
    assert_eq!(kept(&mut p, "/b"), [3, 4, 5]);
    assert_eq!(kept(&mut p, "/c"), [2]);
}

/// A publish that cannot fit even once every older entry has gone (the
/// topics' newest messages with it would pass the bound) is refused with an
/// `ERROR` on its topic, and has no effect: no topic, no number, no
/// delivery, and history as it was.
#[test]
fn s12_a_publish_that_cannot_fit_the_retained_bytes_bound_is_refused() {
    let b = start_broker_with(Config {
        max_retained_bytes: 100,
        ..Config::default()
    });
    let mut watcher = subscriber(b.addr, Format::Json, "/");
    let mut p = Raw::json(b.addr);
    for t in ["/a", "/b", "/a", "/b", "/c"] {
        p.publish(t, sized(10, 'x'));
    }
    ping(&mut p);
    assert_eq!(ping_non_lists(&mut watcher).len(), 5);
    // Newest: 30 bytes; 30 + 71 > 100.
    p.publish("/d", sized(71, 'd'));
    next_error_on(&mut p, "/d");
    // Replacing /a's newest (10) by 81 bytes: 20 + 81 > 100.
    p.publish("/a", sized(81, 'a'));
    next_error_on(&mut p, "/a");
    assert!(ping(&mut p).is_empty());
    assert!(
        ping_non_lists(&mut watcher).is_empty(),
        "a refused publish was delivered"
    );
    let (topics, _) = list_all_pages(&mut p);
    assert_eq!(
        topics,
        ["/a", "/b", "/c"],
        "a refused publish created a topic"
    );
    assert_eq!(kept(&mut p, "/a"), [1, 2], "history changed");
    assert_eq!(kept(&mut p, "/b"), [1, 2]);
    assert_eq!(history(&mut p, "/d", Value::Null).seq, 0);
    // What fits exactly is accepted, every older entry making room, and the
    // refusals took no number.
    p.publish("/a", sized(80, 'a'));
    assert!(ping(&mut p).is_empty());
    let got = ping_non_lists(&mut watcher);
    assert_eq!(got.len(), 1);
    assert_eq!((got[0].topic.as_str(), got[0].attrs.seq), ("/a", Some(3)));
    assert_eq!(kept(&mut p, "/a"), [3]);
    assert_eq!(kept(&mut p, "/b"), [2]);
    assert_eq!(kept(&mut p, "/c"), [1]);
    let mut all: BTreeSet<String> = BTreeSet::new();
    for t in ["/a", "/b", "/c"] {
        all.insert(history(&mut p, t, Value::Null).topic);
    }
    assert_eq!(all.len(), 3);
}

// ------------------------------------------------------------ sizes

/// Payload bytes of `m` in `format`, whether or not it fits a frame.
fn encoded_len(format: Format, m: &protocol::Message) -> usize {
    let body = protocol::Body::Value(std::borrow::Cow::Borrowed(&m.msg));
    format
        .payload_len(m.method, &m.topic, &body, m.attrs)
        .expect("encodable")
}

/// The largest of the frames a message of `len` characters on `topic` may
/// travel in, in either format: its delivery with the widest `seq` and `ts`,
/// and a `HISTORY` answer holding it alone (its numbers as wide as a JSON
/// integer gets, 19 digits: the broker may count the 20 of `u64::MAX`, hence
/// the margins below).
fn widest_frames(topic: &str, len: usize) -> (usize, usize) {
    let value = Value::from("v".repeat(len));
    let mut delivery = protocol::Message::new(Method::LastMsg, topic, value.clone());
    delivery.attrs = protocol::Attrs::stamped(u64::MAX, u64::MAX);
    let n = Value::Int(i64::MAX);
    let item = obj(&[("seq", n.clone()), ("ts", n.clone()), ("msg", value)]);
    let page = obj(&[
        ("seq", n.clone()),
        ("first", n),
        ("items", Value::List(vec![item])),
    ]);
    let mut answer = protocol::Message::new(Method::History, topic, page);
    answer.attrs = protocol::Attrs::more(true);
    let widest = |m| Format::ALL.iter().map(|&f| encoded_len(f, m)).max();
    (
        widest(&delivery).expect("formats"),
        widest(&answer).expect("formats"),
    )
}

/// Messages larger than a few KB are published, delivered and kept like
/// any other, as long as every frame they may travel in fits.
#[test]
fn s12_large_messages_that_fit_every_frame_are_accepted() {
    let b = start_broker();
    let mut sub = subscriber(b.addr, Format::Xml, "/big");
    for (i, len) in [5_000, 20_000, 60_000].into_iter().enumerate() {
        let value = Value::from("L".repeat(len));
        for format in Format::ALL {
            let mut p = Raw::handshake(b.addr, format);
            p.publish("/big", value.clone());
            let replies = ping(&mut p);
            assert!(replies.is_empty(), "{format:?} {len}: {replies:?}");
        }
        let got = ping_non_lists(&mut sub);
        assert_eq!(got.len(), 2, "{len}");
        assert!(got.iter().all(|m| m.msg == value));
        // Kept: the first of the two comes back (alone if they do not fit
        // one frame together).
        let h = history(&mut sub, "/big", since_limit(Some(2 * i as u64), None));
        assert_eq!(h.seqs().first(), Some(&(2 * i as u64 + 1)), "{len}");
        assert_eq!(h.items[0].msg, value, "{len}");
    }
}

/// A publish is accepted only if a `HISTORY` answer holding it alone fits a
/// frame in both formats (as well as its delivery): one whose delivery fits
/// but whose answer would not is refused with `ERROR` and has no effect.
#[test]
fn s12_a_publish_must_fit_a_one_item_history_answer() {
    const MARGIN: usize = 64;
    let max = protocol::MAX_PAYLOAD;
    // The longest value whose one-item answer fits with a margin, and one
    // whose delivery fits with a margin but whose answer does not.
    let (_, answer_overhead) = widest_frames("/big", 0);
    let fits = max - MARGIN - answer_overhead;
    assert_eq!(
        widest_frames("/big", fits).1,
        max - MARGIN,
        "linear in the length"
    );
    let too_big = fits + 2 * MARGIN + 16;
    let (delivery, answer) = widest_frames("/big", too_big);
    assert!(delivery + MARGIN <= max && answer > max + MARGIN, "sizes");
    let b = start_broker();
    for format in Format::ALL {
        let mut p = Raw::handshake(b.addr, format);
        p.publish("/big", "v".repeat(too_big));
        next_error_on(&mut p, "/big");
        assert!(ping(&mut p).is_empty(), "{format:?}: one ERROR");
        assert_eq!(history(&mut p, "/big", Value::Null).seq, 0, "{format:?}");
    }
    let mut p = Raw::json(b.addr);
    p.publish("/big", "v".repeat(fits));
    let replies = ping(&mut p);
    assert!(replies.is_empty(), "{replies:?}");
    for format in Format::ALL {
        let mut c = Raw::handshake(b.addr, format);
        let h = history(&mut c, "/big", Value::Null);
        assert_eq!((h.seqs(), h.more), (vec![1], false), "{format:?}");
    }
}
