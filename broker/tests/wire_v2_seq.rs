//! Wire protocol v2 §11 (sequence numbers and time) rule by rule, against a
//! real broker over TCP: `seq` per topic from 1 without holes, `ts` from the
//! wall clock, both on every delivery and `LAST_MSG`, in both formats.
//!
//! Helpers, and why no test sleeps, are in `common/v2.rs`.

mod common;

use common::v2::{delivery, now_ms, ping, ping_non_lists, recv_skipping_lists};
use common::wire::{next_error_on, send_str, subscriber, xml_req};
use common::{start_broker, Raw};
use protocol::{Format, Message, Method, Value};

/// `(topic, seq)` of each delivery, in order.
fn numbers(msgs: &[Message]) -> Vec<(String, u64)> {
    msgs.iter()
        .map(|m| {
            assert_eq!(m.method, Method::Publish, "{m:?}");
            (m.topic.clone(), m.attrs.seq.expect("seq"))
        })
        .collect()
}

fn pairs(items: &[(&str, u64)]) -> Vec<(String, u64)> {
    items.iter().map(|&(t, s)| (t.to_owned(), s)).collect()
}

#[test]
fn s11_seq_starts_at_1_and_adds_1_per_publish_on_each_topic() {
    let b = start_broker();
    for format in Format::ALL {
        let mut sub = subscriber(b.addr, format, "/");
        let mut p = Raw::handshake(b.addr, format);
        let root = if format == Format::Json { "/j" } else { "/x" };
        let (a, c, d) = (
            format!("{root}/a"),
            format!("{root}/a/c"),
            format!("{root}/d"),
        );
        // A parent and its child, and a sibling, are counted apart.
        for t in [&a, &a, &c, &a, &d, &c, &c, &a] {
            p.publish(t, 0);
        }
        ping(&mut p);
        let got = numbers(&ping_non_lists(&mut sub));
        let want = [
            (&a, 1),
            (&a, 2),
            (&c, 1),
            (&a, 3),
            (&d, 1),
            (&c, 2),
            (&c, 3),
            (&a, 4),
        ];
        let want: Vec<(String, u64)> = want.iter().map(|(t, s)| ((*t).clone(), *s)).collect();
        assert_eq!(got, want, "{format:?}");
    }
}

/// Publishers in both formats share a topic's numbering, and a normalized
/// topic is the same topic.
#[test]
fn s11_one_counter_per_topic_whoever_publishes_and_however_spelled() {
    let b = start_broker();
    let mut sub = subscriber(b.addr, Format::Xml, "/n");
    let mut j = Raw::json(b.addr);
    let mut x = Raw::xml(b.addr);
    j.publish("/n/t", 1);
    ping(&mut j);
    x.publish("//n//t/", 2);
    ping(&mut x);
    j.publish("/n/t", 3);
    ping(&mut j);
    let got = numbers(&ping_non_lists(&mut sub));
    assert_eq!(got, pairs(&[("/n/t", 1), ("/n/t", 2), ("/n/t", 3)]));
}

/// A refused publish takes no number: no hole follows it.
#[test]
fn s11_refused_publishes_take_no_number() {
    let b = start_broker();
    let mut sub = subscriber(b.addr, Format::Json, "/r");
    let mut p = Raw::json(b.addr);
    p.publish("/r", 1);
    send_str(&mut p, r#"{"method":"PUBLISH","topic":"/r","msg":1e999}"#);
    next_error_on(&mut p, "/r");
    let mut x = Raw::xml(b.addr);
    send_str(
        &mut x,
        &xml_req("PUBLISH", "/r", r#"<msg type="int">x</msg>"#),
    );
    next_error_on(&mut x, "/r");
    p.publish("/r", 2);
    ping(&mut p);
    let got = numbers(&ping_non_lists(&mut sub));
    assert_eq!(got, pairs(&[("/r", 1), ("/r", 2)]));
}

/// `ts` is the broker's wall clock in milliseconds since the Unix epoch when
/// it accepted the message: between the client's clock before sending and
/// after receiving (a little slack for clock granularity), and never going
/// back on a topic.
#[test]
fn s11_ts_is_the_wall_clock_in_milliseconds() {
    const SLACK: u64 = 50;
    let b = start_broker();
    for format in Format::ALL {
        let mut c = subscriber(b.addr, format, "/t");
        let mut last = 0;
        for i in 0..20 {
            let before = now_ms();
            c.publish("/t", i);
            let m = recv_skipping_lists(&mut c);
            let after = now_ms();
            let ts = m.attrs.ts.expect("ts");
            assert!(
                before.saturating_sub(SLACK) <= ts && ts <= after + SLACK,
                "{format:?}: ts {ts} not within [{before}, {after}]"
            );
            assert!(ts >= last, "ts went back: {last} then {ts}");
            last = ts;
            if i % 5 == 4 {
                std::thread::sleep(std::time::Duration::from_millis(3));
            }
        }
    }
}

/// `LAST_MSG` carries the retained message's own `seq` and `ts`, as its
/// live delivery had them.
#[test]
fn s11_last_msg_carries_the_seq_and_ts_of_the_retained_message() {
    let b = start_broker();
    let mut live = subscriber(b.addr, Format::Json, "/l");
    let mut p = Raw::json(b.addr);
    for i in 1..=3 {
        p.publish("/l/a", i);
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    p.publish("/l/b", "b");
    ping(&mut p);
    let delivered = ping_non_lists(&mut live);
    assert_eq!(delivered.len(), 4);
    for format in Format::ALL {
        let mut late = Raw::handshake(b.addr, format);
        late.subscribe("/l");
        let replay = ping_non_lists(&mut late);
        assert_eq!(replay.len(), 2, "{format:?}: {replay:?}");
        for (m, original) in replay.iter().zip([&delivered[2], &delivered[3]]) {
            assert_eq!(m.method, Method::LastMsg, "{m:?}");
            assert_eq!(
                (m.topic.as_str(), m.attrs.seq, m.attrs.ts, &m.msg),
                (
                    original.topic.as_str(),
                    original.attrs.seq,
                    original.attrs.ts,
                    &original.msg
                ),
                "{format:?}"
            );
        }
        assert_eq!(replay[0].attrs.seq, Some(3));
    }
}

/// A client that never said `HELLO` (v1) gets `seq` and `ts` too, as XML
/// attributes of `message` or JSON keys after `msg`.
#[test]
fn s11_v1_clients_get_seq_and_ts_in_both_formats() {
    let b = start_broker();
    let mut p = Raw::json(b.addr);
    p.publish("/v", 1);
    p.publish("/v", 2);
    ping(&mut p);
    for format in Format::ALL {
        let mut c = Raw::handshake(b.addr, format);
        c.subscribe("/v");
        let frame = c.recv_frame().expect("LAST_MSG");
        let text = String::from_utf8(frame[5..].to_vec()).expect("UTF-8");
        match format {
            Format::Json => assert!(text.contains(r#""seq":2"#), "{text}"),
            Format::Xml => assert!(text.contains(r#" seq="2""#), "{text}"),
        }
        let m = format.decode(text.as_bytes()).expect("decode");
        assert_eq!(
            (m.method, m.attrs.seq),
            (Method::LastMsg, Some(2)),
            "{format:?}"
        );
        assert!(m.attrs.ts.is_some());
    }
}

/// Everything a subscriber receives is in one total order shared by all
/// subscribers: two subscribers of `/` see the same sequence of (topic,
/// seq) from concurrent publishers.
#[test]
fn s11_all_subscribers_see_one_total_order() {
    const EACH: i64 = 300;
    let b = start_broker();
    let mut subs = [
        subscriber(b.addr, Format::Json, "/"),
        subscriber(b.addr, Format::Xml, "/"),
    ];
    let addr = b.addr;
    let publishers: Vec<_> = ["/o/a", "/o/b", "/o/a/c"]
        .into_iter()
        .map(|topic| {
            std::thread::spawn(move || {
                let mut p = Raw::json(addr);
                for i in 0..EACH {
                    p.publish(topic, i);
                }
                ping(&mut p);
            })
        })
        .collect();
    for t in publishers {
        t.join().expect("publisher");
    }
    let [json_sub, xml_sub] = &mut subs;
    let a: Vec<_> = ping_non_lists(json_sub);
    let b: Vec<_> = ping_non_lists(xml_sub);
    assert_eq!(a.len(), 3 * EACH as usize);
    let key = |m: &Message| {
        let (method, topic, seq, msg) = delivery(m);
        (method, topic.to_owned(), seq, msg.clone(), m.attrs.ts)
    };
    let (a, b): (Vec<_>, Vec<_>) = (a.iter().map(key).collect(), b.iter().map(key).collect());
    assert_eq!(a, b, "the two subscribers disagree on the order");
    // And on each topic, seq is the publish order: message i is #i+1.
    for (_, _, seq, msg, _) in &a {
        assert_eq!(*msg, Value::Int(*seq as i64 - 1));
    }
}
