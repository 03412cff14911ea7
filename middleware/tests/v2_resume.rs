//! `Queue` reconnecting and resuming against the real broker (see `live`):
//! a connection cut while the broker stays up (same epoch: the missed
//! messages, no gap), a broker restart on the same port (a new epoch: an
//! epoch gap, then the new numbering), and giving up.

mod live;

use std::time::{Duration, Instant};

use live::{delivery, next, open, publish_all, LiveBroker, Proxy};
use middleware::{Error, Event, GapReason, Options, Reconnect, Role, Value};

/// Options that reconnect quickly, giving up after 10 s.
fn resuming() -> Options {
    Options {
        reconnect: Some(Reconnect {
            initial: Duration::from_millis(10),
            max: Duration::from_millis(200),
            attempts: None,
            give_up_after: Some(Duration::from_secs(10)),
        }),
        ..Options::default()
    }
}

#[test]
fn a_cut_connection_resumes_with_the_missed_messages_only() {
    let broker = LiveBroker::start();
    let proxy = Proxy::start(&broker.addr());
    let mut q = open(proxy.addr(), "/s", Role::Consumer, &resuming());
    let epoch = q.epoch().expect("resuming says HELLO").to_owned();
    q.ping().expect("subscribed");
    let mut producer = broker.producer("/s");
    // /s/quiet exists without messages: it must resume from 0.
    let mut quiet = broker.producer("/s/quiet");
    quiet.subscribe("/s/quiet").expect("create /s/quiet");
    quiet.ping().expect("created");
    publish_all(&mut producer, [1i64, 2]);
    assert_eq!(delivery(&mut q), ("/s".into(), Value::Int(1), 1));
    assert_eq!(delivery(&mut q), ("/s".into(), Value::Int(2), 2));

    proxy.cut();
    publish_all(&mut producer, [3i64, 4]);
    // Created while the consumer was away: both its messages, not the last.
    let mut fresh = broker.producer("/s/fresh");
    publish_all(&mut fresh, ["a", "b"]);
    let mut quiet = broker.producer("/s/quiet");
    publish_all(&mut quiet, ["q"]);

    let mut got = Vec::new();
    while got.len() < 5 {
        got.push(delivery(&mut q));
    }
    got.sort_by(|a, b| (&a.0, a.2).cmp(&(&b.0, b.2)));
    assert_eq!(
        got,
        [
            ("/s".to_owned(), Value::Int(3), 3),
            ("/s".to_owned(), Value::Int(4), 4),
            ("/s/fresh".to_owned(), Value::from("a"), 1),
            ("/s/fresh".to_owned(), Value::from("b"), 2),
            ("/s/quiet".to_owned(), Value::from("q"), 1),
        ]
    );
    assert_eq!(q.epoch(), Some(epoch.as_str()), "same broker, same epoch");
    publish_all(&mut producer, [5i64]);
    assert_eq!(delivery(&mut q), ("/s".into(), Value::Int(5), 5));
    q.ping().expect("ping");
    assert_eq!(q.pull_timeout(Duration::ZERO).unwrap(), None, "no repeat");
}

#[test]
fn a_broker_restart_is_an_epoch_gap_then_the_new_numbering() {
    // Back before the new broker has /e: the queue reports the gap.
    restart_case(true);
    // Back after /e got its messages: the broker reports the gap.
    restart_case(false);
}

fn restart_case(back_first: bool) {
    let mut broker = LiveBroker::start();
    let mut q = open(&broker.addr(), "/e", Role::Consumer, &resuming());
    let old_epoch = q.epoch().expect("epoch").to_owned();
    q.ping().expect("subscribed");
    let mut producer = broker.producer("/e");
    publish_all(&mut producer, [1i64, 2, 3]);
    for n in 1..=3 {
        assert_eq!(delivery(&mut q), ("/e".into(), Value::Int(n), n as u64));
    }
    drop(producer);
    broker.restart();
    let gap = Event::Gap {
        topic: "/e".into(),
        from: 4,
        to: 4,
        reason: GapReason::Epoch,
    };
    if back_first {
        // The queue finds the loss, reconnects and resubscribes here.
        assert_eq!(next(&mut q), gap);
    }
    let mut producer = broker.producer("/e");
    publish_all(&mut producer, ["x", "y"]);
    if !back_first {
        assert_eq!(next(&mut q), gap);
    }
    // The old numbering ended after 3; the new one starts at 1.
    assert_eq!(delivery(&mut q), ("/e".into(), Value::from("x"), 1));
    assert_eq!(delivery(&mut q), ("/e".into(), Value::from("y"), 2));
    let new_epoch = q.epoch().expect("epoch").to_owned();
    assert_ne!(new_epoch, old_epoch);
    publish_all(&mut producer, ["z"]);
    assert_eq!(delivery(&mut q), ("/e".into(), Value::from("z"), 3));
    q.ping().expect("ping");
    assert_eq!(
        q.pull_timeout(Duration::ZERO).unwrap(),
        None,
        "one gap only"
    );
}

#[test]
fn pull_timeout_keeps_its_bound_while_reconnecting_and_giving_up_is_an_error() {
    let mut broker = LiveBroker::start();
    let options = Options {
        reconnect: Some(Reconnect {
            initial: Duration::from_millis(300),
            max: Duration::from_millis(300),
            attempts: Some(2),
            give_up_after: None,
        }),
        ..Options::default()
    };
    let mut q = open(&broker.addr(), "/x", Role::Consumer, &options);
    q.ping().expect("subscribed");
    assert_eq!(q.pull().unwrap(), Event::Topics(vec!["/x".into()]));
    broker.stop();
    // The loss is found, and the first attempt is 300 ms away.
    let start = Instant::now();
    assert_eq!(q.pull_timeout(Duration::from_millis(50)).unwrap(), None);
    assert!(
        start.elapsed() < Duration::from_millis(250),
        "{:?}",
        start.elapsed()
    );
    assert!(!q.is_connected());
    match q.pull() {
        Err(Error::ReconnectFailed { attempts: 2, last }) => {
            assert!(matches!(*last, Error::Connect { .. }), "{last}");
        }
        other => panic!("expected to give up after 2 attempts: {other:?}"),
    }
    assert!(matches!(q.pull(), Err(Error::Closed)));
}

#[test]
fn a_filtered_subscription_keeps_its_filter_through_a_reconnection() {
    let broker = LiveBroker::start();
    let proxy = Proxy::start(&broker.addr());
    let options = Options {
        subscribe: false,
        ..resuming()
    };
    let mut q = open(proxy.addr(), "/f", Role::Consumer, &options);
    q.subscribe_with("/f", &middleware::SubscribeOptions::filter("msg > 10"))
        .expect("subscribe");
    q.ping().expect("subscribed");
    let mut producer = broker.producer("/f");
    publish_all(&mut producer, [5i64, 50]);
    assert_eq!(delivery(&mut q), ("/f".into(), Value::Int(50), 2));
    proxy.cut();
    publish_all(&mut producer, [6i64, 60, 7, 70]);
    assert_eq!(
        delivery(&mut q),
        ("/f".into(), Value::Int(60), 4),
        "resumed, filtered"
    );
    assert_eq!(delivery(&mut q), ("/f".into(), Value::Int(70), 6));
    publish_all(&mut producer, [8i64, 80]);
    assert_eq!(
        delivery(&mut q),
        ("/f".into(), Value::Int(80), 8),
        "live, filtered"
    );
}
