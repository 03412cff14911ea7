//! `Queue` against the real broker (see `live`), protocol v2: numbered
//! deliveries, `HELLO`, `PING`, `HISTORY` with paging, and gaps when a
//! subscription resumes after messages the broker no longer keeps.

mod live;

use live::{delivery, next, open, publish_all, LiveBroker, TIMEOUT};
use middleware::{Error, Event, Format, GapReason, Hello, Options, Queue, Role, Slow, Value};

/// Options asking for v2 with default `HELLO` options.
fn v2() -> Options {
    Options {
        hello: Some(Hello::default()),
        ..Options::default()
    }
}

#[test]
fn deliveries_carry_seq_and_ts_in_both_formats() {
    let broker = LiveBroker::start();
    let mut consumers: Vec<Queue> = Format::ALL
        .into_iter()
        .map(|format| {
            let options = Options {
                format,
                ..Options::default()
            };
            let mut q = open(&broker.addr(), "/n", Role::Consumer, &options);
            // Subscribed once the broker answered a later request.
            q.ping().expect("ping");
            q
        })
        .collect();
    let mut producer = broker.producer("/n/a");
    publish_all(&mut producer, [10i64, 11, 12]);
    for q in &mut consumers {
        let mut last_ts = 0;
        for (want_seq, want) in [(1, 10i64), (2, 11), (3, 12)] {
            match next(q) {
                Event::Publish {
                    topic,
                    value,
                    seq,
                    ts: Some(ts),
                    reply: None,
                } => {
                    assert_eq!((topic.as_str(), value), ("/n/a", Value::Int(want)));
                    assert_eq!(seq, Some(want_seq), "{:?}", q.format());
                    assert!(ts >= last_ts && ts > 1_600_000_000_000, "ts {ts}");
                    last_ts = ts;
                }
                other => panic!("{:?}: {other:?}", q.format()),
            }
        }
    }
    // A later subscriber's retained message has its number too.
    let mut late = open(&broker.addr(), "/n", Role::Consumer, &Options::default());
    match next(&mut late) {
        Event::LastMsg {
            topic,
            value,
            seq: Some(3),
            ts: Some(_),
            ..
        } => assert_eq!((topic.as_str(), value), ("/n/a", Value::Int(12))),
        other => panic!("{other:?}"),
    }
}

#[test]
fn hello_tells_the_epoch_and_limits() {
    let broker = LiveBroker::start_with(|c| c.history = 7);
    let mut plain = open(&broker.addr(), "/h", Role::Producer, &Options::default());
    assert_eq!(plain.epoch(), None, "v1 until asked");
    let welcome = plain
        .hello(Hello {
            name: Some("alice".into()),
            slow: Some(Slow::Drop),
        })
        .expect("hello");
    assert_eq!(welcome.version, 2);
    assert!(welcome.server.starts_with("broker"), "{welcome:?}");
    assert_eq!(welcome.limits.history, Some(7));
    assert_eq!(welcome.limits.frame, Some(99_999));
    assert_eq!(plain.epoch(), Some(welcome.epoch.as_str()));
    let other = open(&broker.addr(), "/h", Role::Producer, &v2());
    assert_eq!(
        other.epoch(),
        Some(welcome.epoch.as_str()),
        "one broker, one epoch"
    );
    // A bad name is refused and the connection stays usable.
    let refused = plain.hello(Hello {
        name: Some("two words".into()),
        slow: None,
    });
    assert!(matches!(refused, Err(Error::Broker { .. })), "{refused:?}");
    plain.ping().expect("still usable");
}

#[test]
fn ping_returns_once_earlier_requests_are_handled() {
    let broker = LiveBroker::start();
    let mut producer = broker.producer("/p");
    for i in 0..200i64 {
        producer.push(i).expect("push");
    }
    producer.ping().expect("ping");
    // Another connection sees the last publish already retained.
    let mut late = open(&broker.addr(), "/p", Role::Consumer, &Options::default());
    match next(&mut late) {
        Event::LastMsg { value, seq, .. } => {
            assert_eq!((value, seq), (Value::Int(199), Some(200)));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn history_follows_paging_and_honours_since_and_limit() {
    let broker = LiveBroker::start();
    let mut producer = broker.producer("/big");
    // 100 messages of 3000 bytes: about 300 kB, three frames at least.
    let body = |i: i64| Value::from(format!("{i:04}{}", "x".repeat(2996)));
    publish_all(&mut producer, (1..=100).map(body));
    let mut q = open(&broker.addr(), "/", Role::Producer, &v2());
    let h = q.history("/big", 0, None).expect("history");
    assert_eq!((h.topic.as_str(), h.seq, h.first), ("/big", 100, Some(1)));
    let seqs: Vec<u64> = h.items.iter().map(|i| i.seq).collect();
    assert_eq!(seqs, (1..=100).collect::<Vec<_>>());
    for item in &h.items {
        assert_eq!(item.value, body(i64::try_from(item.seq).unwrap()));
    }
    assert_eq!(q.last_seq("/big"), Some(100), "history counts as seen");

    let newest = q.history("/big", 0, Some(40)).expect("history with limit");
    let seqs: Vec<u64> = newest.items.iter().map(|i| i.seq).collect();
    assert_eq!(seqs, (61..=100).collect::<Vec<_>>());
    let after = q.history("/big", 95, None).expect("history since");
    let seqs: Vec<u64> = after.items.iter().map(|i| i.seq).collect();
    assert_eq!(seqs, [96, 97, 98, 99, 100]);

    let none = q
        .history("/nothing/here", 0, None)
        .expect("history of no topic");
    assert_eq!((none.seq, none.first, none.items.len()), (0, None, 0));
}

#[test]
fn history_then_subscribe_loses_and_repeats_nothing() {
    let broker = LiveBroker::start();
    let mut producer = broker.producer("/r");
    publish_all(&mut producer, 1..=5i64);
    let options = Options {
        subscribe: false,
        ..v2()
    };
    let mut q = open(&broker.addr(), "/r", Role::Consumer, &options);
    let h = q.history("/r", 0, Some(3)).expect("history");
    let seqs: Vec<u64> = h.items.iter().map(|i| i.seq).collect();
    assert_eq!(seqs, [3, 4, 5]);
    // Published between the history and the subscription.
    publish_all(&mut producer, [6i64]);
    q.subscribe("/r").expect("subscribe");
    q.ping().expect("subscribed");
    publish_all(&mut producer, [7i64]);
    assert_eq!(delivery(&mut q), ("/r".into(), Value::Int(6), 6));
    assert_eq!(delivery(&mut q), ("/r".into(), Value::Int(7), 7));
    assert!(q.pull_timeout(std::time::Duration::ZERO).unwrap().is_none());
}

#[test]
fn a_subscription_resumed_past_the_kept_messages_gets_a_gap_first() {
    let broker = LiveBroker::start_with(|c| c.history = 3);
    let mut producer = broker.producer("/g");
    let mut q = open(&broker.addr(), "/g", Role::Consumer, &v2());
    q.ping().expect("subscribed");
    publish_all(&mut producer, [1i64]);
    assert_eq!(delivery(&mut q), ("/g".into(), Value::Int(1), 1));
    q.cancel_sub("/g").expect("cancel");
    q.ping().expect("cancelled");
    publish_all(&mut producer, 2..=10i64);
    q.subscribe("/g").expect("subscribe again");
    assert_eq!(
        next(&mut q),
        Event::Gap {
            topic: "/g".into(),
            from: 2,
            to: 7,
            reason: GapReason::History,
        }
    );
    for n in 8..=10 {
        assert_eq!(delivery(&mut q), ("/g".into(), Value::Int(n), n as u64));
    }
    assert_eq!(q.last_seq("/g"), Some(10));
    q.set_timeout(Some(TIMEOUT));
    q.ping().expect("ping");
    assert!(q.pull_timeout(std::time::Duration::ZERO).unwrap().is_none());
}

#[test]
fn a_slow_reader_with_the_drop_policy_can_account_for_every_number() {
    let broker = LiveBroker::start_with(|c| c.max_pending_output = 64 * 1024);
    let options = Options {
        hello: Some(Hello {
            name: None,
            slow: Some(Slow::Drop),
        }),
        ..Options::default()
    };
    let mut q = open(&broker.addr(), "/slow", Role::Consumer, &options);
    q.ping().expect("subscribed");
    // About 8 MB while the consumer reads nothing: more than the socket
    // buffers and the broker's 64 kB of pending output can hold.
    let total = 4000;
    let mut producer = broker.producer("/slow");
    publish_all(&mut producer, (0..total).map(|_| "y".repeat(2000)));
    let (mut next_seq, mut gaps) = (1, 0);
    while next_seq <= total {
        match next(&mut q) {
            Event::Publish { seq: Some(s), .. } => {
                assert_eq!(s, next_seq, "deliveries in order, none repeated");
                next_seq += 1;
            }
            Event::Gap {
                from, to, reason, ..
            } => {
                assert_eq!((from, reason), (next_seq, GapReason::Slow));
                assert!(to >= from);
                next_seq = to + 1;
                gaps += 1;
            }
            other => panic!("{other:?} at {next_seq}"),
        }
    }
    assert!(gaps > 0, "nothing was dropped");
    assert_eq!(next_seq, total + 1);
}
