//! `Queue::publish_confirmed` against the real broker (see `live`):
//! `PUBACK`s with their receivers, refusals, and exactly-once publishing:
//! a message whose acknowledgement was lost is sent again under the same
//! id, on the same connection after a silence or on a new one after a cut,
//! and the broker keeps it once.

mod live;

use std::thread;
use std::time::{Duration, Instant};

use live::{delivery, open, LiveBroker, Proxy, TIMEOUT};
use middleware::{
    Confirm, Error, Event, Format, Hello, Options, PubAck, Queue, Reconnect, Role,
    SubscribeOptions, Value,
};

/// A v2 consumer of `topic` whose subscription is in place.
fn subscriber(addr: &str, topic: &str, format: Format) -> Queue {
    let options = Options {
        format,
        hello: Some(Hello::default()),
        ..Options::default()
    };
    let mut q = open(addr, topic, Role::Consumer, &options);
    q.ping().expect("subscribed");
    q
}

/// Nothing more arrives on `q` within a short while.
#[track_caller]
fn quiet(q: &mut Queue) {
    q.ping().expect("ping");
    match q.pull_timeout(Duration::from_millis(200)) {
        Ok(None) => {}
        other => panic!("expected nothing more, got {other:?}"),
    }
}

#[test]
fn pubacks_count_receivers_and_number_messages() {
    let broker = LiveBroker::start();
    let mut producer = broker.producer("/c/a");
    // Nobody yet: accepted, numbered, queued for no one.
    let ack = producer.publish_confirmed(1i64).expect("confirm");
    assert_eq!((ack.topic.as_str(), ack.seq, ack.receivers), ("/c/a", 1, 0));
    assert!(!ack.duplicate);
    let id = ack.id.clone().expect("an id is always sent");
    // The queue took a name for itself, and said HELLO with it.
    let name = producer.name().expect("named").to_owned();
    assert!(name.starts_with("client-"), "{name}");
    assert!(producer.epoch().is_some());

    let mut json = subscriber(&broker.addr(), "/c", Format::Json);
    let mut xml = subscriber(&broker.addr(), "/c/a", Format::Xml);
    // Their retained message first.
    for q in [&mut json, &mut xml] {
        assert!(matches!(q.pull(), Ok(Event::LastMsg { seq: Some(1), .. })));
    }
    let ack = producer.publish_confirmed("two").expect("confirm");
    assert_eq!((ack.seq, ack.receivers, ack.duplicate), (2, 2, false));
    assert_ne!(
        ack.id.as_deref(),
        Some(id.as_str()),
        "a fresh id per message"
    );
    for q in [&mut json, &mut xml] {
        assert_eq!(delivery(q), ("/c/a".into(), Value::from("two"), 2));
    }
    // A filter that refuses the message: that subscriber does not count.
    json.subscribe_with("/c", &SubscribeOptions::filter("msg != 3"))
        .expect("filter");
    json.ping().expect("filtered");
    let ack = producer.publish_confirmed(3i64).expect("confirm");
    assert_eq!((ack.seq, ack.receivers), (3, 1));
    assert_eq!(delivery(&mut xml), ("/c/a".into(), Value::Int(3), 3));
    quiet(&mut json);
}

#[test]
fn an_id_used_again_is_a_duplicate_not_a_second_message() {
    let broker = LiveBroker::start();
    let mut sub = subscriber(&broker.addr(), "/d", Format::Json);
    let options = Options {
        hello: Some(Hello {
            name: Some("payments".into()),
            slow: None,
        }),
        ..Options::default()
    };
    let mut producer = open(&broker.addr(), "/d", Role::Producer, &options);
    let first = producer
        .publish_confirmed_as(100i64, "order-17")
        .expect("confirm");
    assert_eq!(
        first,
        PubAck {
            topic: "/d".into(),
            seq: 1,
            receivers: 1,
            id: Some("order-17".into()),
            duplicate: false,
        }
    );
    assert_eq!(producer.name(), Some("payments"), "its own name is kept");
    // Same id, same topic: repeated acknowledgement, nothing delivered.
    let again = producer.publish_confirmed_as(999i64, "order-17").unwrap();
    assert_eq!((again.seq, again.receivers, again.duplicate), (1, 1, true));
    // Another client with the same name shares the window (a restarted
    // process retrying).
    let mut twin = open(&broker.addr(), "/d", Role::Producer, &options);
    let twin_ack = twin.publish_confirmed_as(100i64, "order-17").unwrap();
    assert!(twin_ack.duplicate && twin_ack.seq == 1, "{twin_ack:?}");
    // A new id is a new message.
    let next = producer.publish_confirmed_as(101i64, "order-18").unwrap();
    assert_eq!((next.seq, next.duplicate), (2, false));
    assert_eq!(delivery(&mut sub), ("/d".into(), Value::Int(100), 1));
    assert_eq!(delivery(&mut sub), ("/d".into(), Value::Int(101), 2));
    quiet(&mut sub);

    assert!(matches!(
        producer.publish_confirmed_as(1i64, ""),
        Err(Error::InvalidId { .. })
    ));
    let long = "x".repeat(129);
    assert!(matches!(
        producer.publish_confirmed_as(1i64, &long),
        Err(Error::InvalidId { .. })
    ));
    let ack = producer
        .publish_confirmed_as(1i64, &"y".repeat(128))
        .expect("128 bytes is allowed");
    assert_eq!(ack.seq, 3);
}

#[test]
fn a_refused_publish_is_an_error_not_an_ack() {
    // Kept messages bounded to 20 bytes of JSON: a longer one is refused.
    let broker = LiveBroker::start_with(|c| c.max_retained_bytes = 20);
    let mut producer = broker.producer("/r");
    producer.publish_confirmed(1i64).expect("a small one fits");
    let long = "x".repeat(30);
    // A plain publish refused before: its ERROR is no answer to this call.
    producer.push(long.as_str()).expect("push");
    match producer.publish_confirmed(long.as_str()) {
        Err(Error::Broker { topic, reason }) => {
            assert_eq!(topic, "/r");
            assert!(!reason.is_empty());
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    // The earlier refusal is kept for pull, once.
    assert!(matches!(producer.pull(), Ok(Event::Error { .. })));
    let ack = producer.publish_confirmed(2i64).expect("fits again");
    assert_eq!(ack.seq, 2, "refused publishes take no number");
    assert!(matches!(
        producer.pull_timeout(Duration::from_millis(100)),
        Ok(None)
    ));
    // Nothing client-side is sent at all.
    let mut root = broker.producer("/");
    assert!(matches!(
        root.publish_confirmed(1i64),
        Err(Error::PublishToRoot)
    ));
}

#[test]
fn a_lost_puback_is_retried_on_the_same_connection_and_kept_once() {
    let broker = LiveBroker::start();
    let proxy = Proxy::start(&broker.addr());
    let mut sub = subscriber(&broker.addr(), "/x", Format::Json);
    let mut producer = open(proxy.addr(), "/x", Role::Producer, &Options::default());
    producer.set_confirm(Confirm {
        retry: Duration::from_millis(100),
        give_up_after: TIMEOUT,
    });
    // Named and v2 before the answers go missing.
    let warm = producer.publish_confirmed(0i64).expect("confirm");
    assert_eq!(delivery(&mut sub), ("/x".into(), Value::Int(0), 1));

    proxy.mute();
    let unmute = {
        let proxy = proxy.clone();
        thread::spawn(move || {
            thread::sleep(Duration::from_millis(350));
            proxy.unmute();
        })
    };
    let start = Instant::now();
    let ack = producer
        .publish_confirmed(1i64)
        .expect("confirmed in the end");
    unmute.join().expect("unmute");
    assert!(start.elapsed() >= Duration::from_millis(300));
    assert!(ack.duplicate, "the first copy was accepted: {ack:?}");
    assert_eq!((ack.seq, ack.receivers), (2, 1));
    assert_ne!(ack.id, warm.id);
    // Delivered once, whatever the number of copies sent.
    assert_eq!(delivery(&mut sub), ("/x".into(), Value::Int(1), 2));
    quiet(&mut sub);
}

#[test]
fn a_cut_connection_is_retried_on_the_next_one_and_kept_once() {
    let broker = LiveBroker::start();
    let proxy = Proxy::start(&broker.addr());
    let mut sub = subscriber(&broker.addr(), "/y", Format::Json);
    let options = Options {
        reconnect: Some(Reconnect {
            initial: Duration::from_millis(10),
            max: Duration::from_millis(100),
            attempts: None,
            give_up_after: Some(TIMEOUT),
        }),
        ..Options::default()
    };
    let mut producer = open(proxy.addr(), "/y", Role::Producer, &options);
    // No retry on the same connection: only the reconnection sends again.
    producer.set_confirm(Confirm {
        retry: TIMEOUT,
        give_up_after: TIMEOUT * 2,
    });
    producer.publish_confirmed("a").expect("confirm");
    assert_eq!(delivery(&mut sub), ("/y".into(), Value::from("a"), 1));
    let name = producer.name().expect("named").to_owned();

    proxy.mute();
    let cut = {
        let proxy = proxy.clone();
        thread::spawn(move || {
            thread::sleep(Duration::from_millis(300));
            proxy.unmute();
            proxy.cut();
        })
    };
    let start = Instant::now();
    let ack = producer
        .publish_confirmed("b")
        .expect("confirmed after reconnecting");
    cut.join().expect("cut");
    assert!(start.elapsed() < TIMEOUT, "not the same-connection retry");
    assert!(ack.duplicate, "{ack:?}");
    assert_eq!((ack.seq, ack.receivers), (2, 1));
    assert_eq!(producer.name(), Some(name.as_str()), "same identity");
    assert_eq!(delivery(&mut sub), ("/y".into(), Value::from("b"), 2));
    quiet(&mut sub);
    // And the next message goes as usual on the new connection.
    let ack = producer.publish_confirmed("c").expect("confirm");
    assert_eq!((ack.seq, ack.duplicate), (3, false));
}

#[test]
fn without_an_answer_it_gives_up_with_the_id() {
    let broker = LiveBroker::start();
    let proxy = Proxy::start(&broker.addr());
    let mut producer = open(proxy.addr(), "/z", Role::Producer, &Options::default());
    producer.publish_confirmed(0i64).expect("named first");
    producer.set_confirm(Confirm {
        retry: Duration::from_millis(50),
        give_up_after: Duration::from_millis(400),
    });
    proxy.mute();
    let start = Instant::now();
    let err = producer.publish_confirmed(1i64).expect_err("no answer");
    let waited = start.elapsed();
    let Error::Unconfirmed {
        topic,
        id,
        attempts,
    } = err
    else {
        panic!("{err:?}");
    };
    assert_eq!(topic, "/z");
    assert!((2..=5).contains(&attempts), "{attempts} attempts");
    assert!(
        waited >= Duration::from_millis(400) && waited < Duration::from_secs(3),
        "{waited:?}"
    );
    // Once the answers come through again, the same id is a duplicate: the
    // message was kept once.
    proxy.unmute();
    producer.set_confirm(Confirm::default());
    let ack = producer.publish_confirmed_as(1i64, &id).expect("confirm");
    assert!(ack.duplicate && ack.seq == 2, "{ack:?}");
}
