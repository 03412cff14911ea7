//! `Queue` against a scripted broker over real sockets (see `common`).

mod common;

use std::net::TcpListener;
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use common::{frame_bytes, list_ack, script, Peer};
use middleware::{Error, Event, Format, Queue, Role, Value};
use protocol::{Message, Method};

/// Frames a JSON consumer on `/telephony` sends on connect.
const JSON_HELLO: &[u8] =
    b"    9JSONQueue   54{\"method\":\"SUBSCRIBE\",\"topic\":\"/telephony\",\"msg\":null}";

fn publish(topic: &str, value: impl Into<Value>) -> Message {
    Message::publish(topic, value)
}

fn live(topic: &str, value: impl Into<Value>) -> Event {
    Event::Publish {
        topic: topic.into(),
        value: value.into(),
    }
}

fn retained(topic: &str, value: impl Into<Value>) -> Event {
    Event::LastMsg {
        topic: topic.into(),
        value: value.into(),
    }
}

/// A JSON consumer on `/telephony` connected to `script`.
#[track_caller]
fn consumer(addr: &str) -> Queue {
    Queue::connect(addr, "/telephony", Role::Consumer, Format::Json).expect("connect")
}

#[track_caller]
fn hello(peer: &mut Peer) {
    peer.expect_bytes(JSON_HELLO);
}

#[test]
fn producer_handshake_and_push_bytes() {
    let s = script(|peer| {
        peer.expect_bytes(b"    9JSONQueue");
        peer.expect_bytes(
            b"   57{\"method\":\"PUBLISH\",\"topic\":\"/telephony/orange\",\"msg\":27}",
        );
        peer.expect_eof();
    });
    let mut q = Queue::connect(&s.addr, "/telephony/orange", Role::Producer, Format::Json).unwrap();
    assert_eq!(q.topic(), "/telephony/orange");
    assert_eq!(q.role(), Role::Producer);
    assert_eq!(q.format(), Format::Json);
    q.push(27i64).unwrap();
    drop(q);
    s.finish();
}

#[test]
fn producer_values_on_one_connection() {
    let s = script(|peer| {
        peer.expect_handshake(Format::Json);
        peer.expect_payload(r#"{"method":"PUBLISH","topic":"/msg","msg":"Bonjour \"à\" vous\n"}"#);
        peer.expect_payload(r#"{"method":"PUBLISH","topic":"/msg","msg":[1.5,null,{"k":true}]}"#);
        peer.expect_eof();
    });
    let mut q = Queue::connect(&s.addr, "//msg/", Role::Producer, Format::Json).unwrap();
    assert_eq!(q.topic(), "/msg");
    q.push("Bonjour \"à\" vous\n").unwrap();
    q.push(Value::List(vec![
        Value::Float(1.5),
        Value::Null,
        Value::Dict(vec![("k".into(), Value::Bool(true))]),
    ]))
    .unwrap();
    drop(q);
    s.finish();
}

#[test]
fn consumer_subscribes_on_connect_and_cancels() {
    let s = script(|peer| {
        hello(peer);
        peer.expect_payload(r#"{"method":"SUBSCRIBE","topic":"/extra/topic","msg":null}"#);
        peer.expect_payload(r#"{"method":"CANCEL_SUB","topic":"/telephony","msg":"/telephony"}"#);
        peer.expect_eof();
    });
    let mut q = consumer(&s.addr);
    q.subscribe("/extra//topic/").unwrap();
    q.cancel_sub("/telephony").unwrap();
    assert!(matches!(q.subscribe("no-slash"), Err(Error::Topic { .. })));
    drop(q);
    s.finish();
}

#[test]
fn root_consumer_sends_normalized_root() {
    // The lab's consumer builds `/{type}`, so `--type /` gives `//`.
    let s = script(|peer| {
        peer.expect_bytes(
            b"    9JSONQueue   45{\"method\":\"SUBSCRIBE\",\"topic\":\"/\",\"msg\":null}",
        );
        peer.expect_eof();
    });
    let mut q = Queue::connect(&s.addr, "//", Role::Consumer, Format::Json).unwrap();
    assert_eq!(q.topic(), "/");
    assert!(matches!(q.push(1i64), Err(Error::PublishToRoot)));
    drop(q);
    s.finish();
}

#[test]
fn last_msg_and_publish_are_told_apart() {
    let s = script(|peer| {
        hello(peer);
        peer.send(&Message::new(Method::LastMsg, "/telephony/orange", 12i64));
        peer.send(&publish("/telephony/orange", 13i64));
        peer.send(&publish("/telephony/unite", Value::Float(2.0)));
    });
    let mut q = consumer(&s.addr);
    assert_eq!(q.pull().unwrap(), retained("/telephony/orange", 12i64));
    assert_eq!(q.pull().unwrap(), live("/telephony/orange", 13i64));
    assert_eq!(
        q.pull().unwrap(),
        live("/telephony/unite", Value::Float(2.0))
    );
    s.finish();
}

#[test]
fn frames_arriving_one_byte_at_a_time() {
    let s = script(|peer| {
        hello(peer);
        peer.send_message_slowly(&publish("/telephony/orange", 1i64));
        peer.send_message_slowly(&Message::new(Method::LastMsg, "/telephony/unite", "é漢🎉"));
        // Two frames in one write, then one split after its header.
        let mut two = common::encoded(Format::Json, &publish("/telephony/a", 2i64));
        two.extend(common::encoded(
            Format::Json,
            &publish("/telephony/b", 3i64),
        ));
        peer.send_raw(&two);
        let split = common::encoded(Format::Json, &publish("/telephony/c", 4i64));
        peer.send_raw(&split[..5]);
        thread::sleep(Duration::from_millis(20));
        peer.send_raw(&split[5..]);
    });
    let mut q = consumer(&s.addr);
    assert_eq!(q.pull().unwrap(), live("/telephony/orange", 1i64));
    assert_eq!(q.pull().unwrap(), retained("/telephony/unite", "é漢🎉"));
    assert_eq!(q.pull().unwrap(), live("/telephony/a", 2i64));
    assert_eq!(q.pull().unwrap(), live("/telephony/b", 3i64));
    assert_eq!(q.pull().unwrap(), live("/telephony/c", 4i64));
    s.finish();
}

#[test]
fn list_topics_follows_three_pages() {
    let s = script(|peer| {
        hello(peer);
        peer.expect_payload(r#"{"method":"LIST","topic":"/","msg":null}"#);
        // A delivery and an ERROR arriving while the client waits are kept.
        peer.send(&publish("/telephony/orange", 5i64));
        peer.send(&list_ack(&["/a", "/a/b"], true));
        peer.expect_payload(r#"{"method":"LIST","topic":"/","msg":"/a/b"}"#);
        peer.send(&Message::new(Method::Error, "/x", "bad"));
        peer.send(&list_ack(&["/b", "/c"], true));
        peer.expect_payload(r#"{"method":"LIST","topic":"/","msg":"/c"}"#);
        // An announcement pushed meanwhile starts from the beginning: it is
        // not the reply to a LIST with a cursor.
        peer.send(&list_ack(&["/a", "/a/b", "/b", "/c", "/d", "/new"], false));
        peer.send(&list_ack(&["/d", "/new"], false));
        peer.send(&publish("/telephony/orange", 6i64));
    });
    let mut q = consumer(&s.addr);
    assert_eq!(
        q.list_topics().unwrap(),
        ["/a", "/a/b", "/b", "/c", "/d", "/new"]
    );
    assert_eq!(q.pull().unwrap(), live("/telephony/orange", 5i64));
    assert_eq!(
        q.pull().unwrap(),
        Event::Error {
            topic: "/x".into(),
            reason: "bad".into()
        }
    );
    assert_eq!(
        q.pull().unwrap(),
        Event::Topics(
            vec!["/a", "/a/b", "/b", "/c", "/d", "/new"]
                .into_iter()
                .map(String::from)
                .collect()
        )
    );
    assert_eq!(q.pull().unwrap(), live("/telephony/orange", 6i64));
    s.finish();
}

#[test]
fn list_topics_two_pages_second_empty_and_single_page() {
    let s = script(|peer| {
        hello(peer);
        peer.expect_payload(r#"{"method":"LIST","topic":"/","msg":null}"#);
        peer.send(&list_ack(&["/telephony"], true));
        peer.expect_payload(r#"{"method":"LIST","topic":"/","msg":"/telephony"}"#);
        // Spec §9: nothing after the cursor answers an empty LIST_ACK.
        peer.send(&list_ack(&[], false));
        peer.expect_payload(r#"{"method":"LIST","topic":"/","msg":null}"#);
        peer.send(&list_ack(&["/telephony", "/telephony/orange"], false));
    });
    let mut q = consumer(&s.addr);
    assert_eq!(q.list_topics().unwrap(), ["/telephony"]);
    assert_eq!(
        q.list_topics().unwrap(),
        ["/telephony", "/telephony/orange"]
    );
    s.finish();
}

#[test]
fn list_nack_is_an_empty_list() {
    let s = script(|peer| {
        hello(peer);
        peer.expect_payload(r#"{"method":"LIST","topic":"/","msg":null}"#);
        peer.send(&Message::new(
            Method::ListNack,
            "/",
            "No topics created yet.",
        ));
        // Unsolicited, later: an announcement, and a stray LIST_NACK.
        peer.send(&list_ack(&["/telephony"], false));
        peer.send(&Message::new(
            Method::ListNack,
            "/",
            "No topics created yet.",
        ));
    });
    let mut q = consumer(&s.addr);
    assert_eq!(q.list_topics().unwrap(), Vec::<String>::new());
    assert_eq!(q.pull().unwrap(), Event::Topics(vec!["/telephony".into()]));
    assert_eq!(q.pull().unwrap(), Event::Topics(vec![]));
    s.finish();
}

#[test]
fn list_refused_by_the_broker() {
    let s = script(|peer| {
        hello(peer);
        peer.expect_payload(r#"{"method":"LIST","topic":"/","msg":null}"#);
        peer.send(&Message::new(Method::Error, "/", "no listing today"));
    });
    let mut q = consumer(&s.addr);
    match q.list_topics() {
        Err(Error::Broker { topic, reason }) => {
            assert_eq!(topic, "/");
            assert_eq!(reason, "no listing today");
        }
        other => panic!("expected a broker error, got {other:?}"),
    }
    s.finish();
}

#[test]
fn broker_errors_are_events() {
    let s = script(|peer| {
        hello(peer);
        peer.send(&Message::new(Method::Error, "", "cannot decode frame"));
        peer.send(&Message::new(Method::Error, "/telephony", Value::Int(7)));
        peer.send(&publish("/telephony", 1i64));
    });
    let mut q = consumer(&s.addr);
    assert_eq!(
        q.pull().unwrap(),
        Event::Error {
            topic: String::new(),
            reason: "cannot decode frame".into()
        }
    );
    assert_eq!(
        q.pull().unwrap(),
        Event::Error {
            topic: "/telephony".into(),
            reason: "7".into()
        }
    );
    assert_eq!(q.pull().unwrap(), live("/telephony", 1i64));
    s.finish();
}

#[test]
fn too_large_or_bad_values_are_refused_before_sending() {
    let s = script(|peer| {
        peer.expect_handshake(Format::Json);
        // Nothing of the refused values: the next bytes are the small push.
        peer.expect_payload(r#"{"method":"PUBLISH","topic":"/big","msg":"ok"}"#);
        peer.expect_silence(Duration::from_millis(50));
    });
    let mut q = Queue::connect(&s.addr, "/big", Role::Producer, Format::Json).unwrap();
    match q.push("x".repeat(100_000)) {
        Err(Error::TooLarge { len }) => assert!(len > 100_000, "{len}"),
        other => panic!("expected TooLarge, got {other:?}"),
    }
    // Fits in JSON (~60 kB) but not as XML, where '<' becomes "&lt;".
    assert!(matches!(
        q.push("<".repeat(60_000)),
        Err(Error::TooLarge { .. })
    ));
    assert!(matches!(
        q.push(Value::Float(f64::NAN)),
        Err(Error::Value(_))
    ));
    assert!(matches!(q.push("bell \u{7}"), Err(Error::Value(_))));
    let mut deep = Value::Int(1);
    for _ in 0..65 {
        deep = Value::List(vec![deep]);
    }
    assert!(matches!(q.push(deep), Err(Error::Value(_))));
    q.push("ok").unwrap();
    s.finish();
}

#[test]
fn largest_value_that_fits_is_sent() {
    // PUBLISH /big "xxx…": the XML frame is the larger one, and the broker
    // bounds it by its LAST_MSG replay, one byte longer than PUBLISH.
    let xml_overhead =
        r#"<message method="LAST_MSG" topic="/big"><msg type="str"></msg></message>"#.len();
    let n = 99_999 - xml_overhead;
    let s = script(move |peer| {
        peer.expect_handshake(Format::Json);
        peer.expect(&publish("/big", "x".repeat(n)));
    });
    let mut q = Queue::connect(&s.addr, "/big", Role::Producer, Format::Json).unwrap();
    q.push("x".repeat(n)).unwrap();
    assert!(matches!(
        q.push("x".repeat(n + 1)),
        Err(Error::TooLarge { len: 100_000 })
    ));
    s.finish();
}

#[test]
fn xml_handshake_and_frames() {
    let s = script(|peer| {
        peer.expect_bytes(b"    8XMLQueue");
        peer.expect_payload(
            r#"<message method="SUBSCRIBE" topic="/telephony"><msg type="null"/></message>"#,
        );
        peer.expect_payload(r#"<message method="LIST" topic="/"><msg type="null"/></message>"#);
        peer.send_raw(&frame_bytes(
            br#"<message method="LIST_ACK" topic="/" more="true"><msg type="list"><item type="str">/telephony</item></msg></message>"#,
        ));
        peer.expect_payload(
            r#"<message method="LIST" topic="/"><msg type="str">/telephony</msg></message>"#,
        );
        peer.send_raw(&frame_bytes(
            br#"<message method="LIST_ACK" topic="/"><msg type="list"><item>/telephony/orange</item></msg></message>"#,
        ));
        peer.send_raw(&frame_bytes(
            br#"<?xml version="1.0" encoding="UTF-8"?>
<message method="PUBLISH" topic="/telephony/orange"><msg type="int">27</msg></message>"#,
        ));
        peer.send_raw(&frame_bytes(
            br#"<message method="LAST_MSG" topic="/telephony/unite" extra="ignored"><msg type="dict"><item key="a&amp;b" type="float">2.0</item></msg></message>"#,
        ));
        peer.expect_payload(
            r#"<message method="PUBLISH" topic="/telephony"><msg type="str">a&lt;b&amp;c&#13;</msg></message>"#,
        );
        peer.expect_payload(r#"<message method="CANCEL_SUB" topic="/telephony"><msg type="str">/telephony</msg></message>"#);
        peer.expect_eof();
    });
    let mut q = Queue::connect(&s.addr, "/telephony", Role::Consumer, Format::Xml).unwrap();
    assert_eq!(
        q.list_topics().unwrap(),
        ["/telephony", "/telephony/orange"]
    );
    assert_eq!(q.pull().unwrap(), live("/telephony/orange", 27i64));
    assert_eq!(
        q.pull().unwrap(),
        retained(
            "/telephony/unite",
            Value::Dict(vec![("a&b".into(), Value::Float(2.0))])
        )
    );
    q.push("a<b&c\r").unwrap();
    q.cancel_sub("/telephony").unwrap();
    drop(q);
    s.finish();
}

#[test]
fn pull_timeout_keeps_partial_frames() {
    let (go_tx, go_rx) = mpsc::channel::<()>();
    let s = script(move |peer| {
        hello(peer);
        let frame = common::encoded(Format::Json, &publish("/telephony/orange", 42i64));
        go_rx.recv().unwrap();
        // Part of the header only.
        peer.send_raw(&frame[..3]);
        go_rx.recv().unwrap();
        // The rest of the header and part of the payload.
        peer.send_raw(&frame[3..20]);
        go_rx.recv().unwrap();
        peer.send_slowly(&frame[20..]);
    });
    let mut q = consumer(&s.addr);

    let start = Instant::now();
    assert_eq!(q.pull_timeout(Duration::from_millis(50)).unwrap(), None);
    let waited = start.elapsed();
    assert!(waited >= Duration::from_millis(50), "{waited:?}");
    assert!(waited < Duration::from_secs(2), "{waited:?}");
    assert_eq!(q.pull_timeout(Duration::ZERO).unwrap(), None);

    go_tx.send(()).unwrap();
    assert_eq!(q.pull_timeout(Duration::from_millis(50)).unwrap(), None);
    go_tx.send(()).unwrap();
    assert_eq!(q.pull_timeout(Duration::from_millis(50)).unwrap(), None);
    go_tx.send(()).unwrap();
    // The frame comes in byte by byte; the bytes kept so far complete it.
    let mut got = None;
    let deadline = Instant::now() + Duration::from_secs(5);
    while got.is_none() && Instant::now() < deadline {
        got = q.pull_timeout(Duration::from_millis(5)).unwrap();
    }
    assert_eq!(got, Some(live("/telephony/orange", 42i64)));
    s.finish();
}

#[test]
fn set_timeout_bounds_pull_and_list_topics() {
    let (done_tx, done_rx) = mpsc::channel::<()>();
    let s = script(move |peer| {
        hello(peer);
        peer.expect_payload(r#"{"method":"LIST","topic":"/","msg":null}"#);
        done_rx.recv().unwrap();
        // The late reply to the LIST, then a delivery.
        peer.send(&list_ack(&["/telephony"], false));
        peer.send(&publish("/telephony", 1i64));
    });
    let mut q = consumer(&s.addr);
    q.set_timeout(Some(Duration::from_millis(30)));
    assert_eq!(q.timeout(), Some(Duration::from_millis(30)));
    assert!(matches!(q.pull(), Err(Error::TimedOut)));
    assert!(matches!(q.list_topics(), Err(Error::TimedOut)));
    done_tx.send(()).unwrap();
    q.set_timeout(None);
    assert_eq!(q.pull().unwrap(), Event::Topics(vec!["/telephony".into()]));
    assert_eq!(q.pull().unwrap(), live("/telephony", 1i64));
    s.finish();
}

#[test]
fn broker_closing_the_connection() {
    let s = script(|peer| {
        hello(peer);
        peer.send(&publish("/telephony", 1i64));
    });
    let mut q = consumer(&s.addr);
    s.finish();
    assert_eq!(q.pull().unwrap(), live("/telephony", 1i64));
    assert!(matches!(q.pull(), Err(Error::Closed)));
    assert!(matches!(
        q.pull_timeout(Duration::from_millis(10)),
        Err(Error::Closed)
    ));
    assert!(matches!(q.list_topics(), Err(Error::Closed)));
    let e = q.cancel_sub("/telephony").unwrap_err();
    assert!(matches!(e, Error::Closed));
    assert!(e.is_fatal());
    assert_eq!(e.to_string(), "broker closed the connection");
}

#[test]
fn broker_closing_in_the_middle_of_a_frame() {
    let s = script(|peer| {
        hello(peer);
        let frame = common::encoded(Format::Json, &publish("/telephony", 1i64));
        peer.send_raw(&frame[..10]);
    });
    let mut q = consumer(&s.addr);
    s.finish();
    assert!(matches!(q.pull(), Err(Error::Closed)));
}

#[test]
fn broker_closing_while_listing() {
    let s = script(|peer| {
        hello(peer);
        peer.expect_payload(r#"{"method":"LIST","topic":"/","msg":null}"#);
    });
    let mut q = consumer(&s.addr);
    let r = q.list_topics();
    s.finish();
    assert!(matches!(r, Err(Error::Closed)), "{r:?}");
}

#[test]
fn a_close_right_after_an_error_about_no_topic_carries_its_reason() {
    let s = script(|peer| {
        hello(peer);
        peer.expect_payload(r#"{"method":"LIST","topic":"/","msg":null}"#);
        peer.send(&Message::new(
            Method::Error,
            "",
            "too many connections (limit 1)",
        ));
    });
    let mut q = consumer(&s.addr);
    let e = q.list_topics().unwrap_err();
    s.finish();
    assert!(e.is_fatal());
    assert_eq!(
        e.to_string(),
        "broker closed the connection: too many connections (limit 1)"
    );
    assert!(
        matches!(q.pull(), Ok(Event::Error { .. })),
        "the ERROR is still an event"
    );
    assert!(
        matches!(q.pull(), Err(Error::Closed)),
        "later calls: Closed"
    );
}

#[test]
fn an_error_that_is_not_the_last_frame_is_not_a_reason_to_close() {
    let s = script(|peer| {
        hello(peer);
        peer.send(&Message::new(Method::Error, "", "invalid JSON at byte 1"));
        peer.send(&publish("/telephony", 1i64));
    });
    let mut q = consumer(&s.addr);
    s.finish();
    assert!(matches!(q.pull(), Ok(Event::Error { .. })));
    assert_eq!(q.pull().unwrap(), live("/telephony", 1i64));
    assert!(matches!(q.pull(), Err(Error::Closed)));
}

#[test]
fn bad_header_from_the_broker_drops_the_connection() {
    let s = script(|peer| {
        hello(peer);
        peer.send_raw(b" 4 2 {}");
    });
    let mut q = consumer(&s.addr);
    assert!(matches!(
        q.pull(),
        Err(Error::Frame(protocol::FrameError::BadHeader(_)))
    ));
    assert!(matches!(q.pull(), Err(Error::Closed)));
    s.finish();
}

#[test]
fn undecodable_frames_are_skipped() {
    let s = script(|peer| {
        hello(peer);
        peer.send_raw(&frame_bytes(b"{not json"));
        peer.send_raw(&frame_bytes(br#"{"method":"SUBSCRIBE","topic":"/x"}"#));
        peer.send_raw(&frame_bytes(
            br#"{"method":"LIST_ACK","topic":"/","msg":"nope"}"#,
        ));
        // Unknown keys are ignored (a later version's sequence number).
        peer.send_raw(&frame_bytes(
            br#"{"seq":7,"method":"PUBLISH","topic":"/telephony","msg":{"a":[]}}"#,
        ));
    });
    let mut q = consumer(&s.addr);
    assert!(matches!(q.pull(), Err(Error::Decode(_))));
    assert!(matches!(q.pull(), Err(Error::Protocol(_))));
    assert!(matches!(q.pull(), Err(Error::Protocol(_))));
    assert_eq!(
        q.pull().unwrap(),
        live(
            "/telephony",
            Value::Dict(vec![("a".into(), Value::List(vec![]))])
        )
    );
    s.finish();
}

#[test]
fn close_collects_late_errors() {
    let s = script(|peer| {
        peer.expect_handshake(Format::Json);
        peer.expect_payload(r#"{"method":"PUBLISH","topic":"/a","msg":1}"#);
        peer.expect_eof();
        peer.send(&Message::new(Method::Error, "/a", "refused"));
    });
    let mut q = Queue::connect(&s.addr, "/a", Role::Producer, Format::Json).unwrap();
    q.push(1i64).unwrap();
    let events = q.close(Duration::from_secs(5)).unwrap();
    assert_eq!(
        events,
        [Event::Error {
            topic: "/a".into(),
            reason: "refused".into()
        }]
    );
    s.finish();
}

#[test]
fn connection_refused_and_invalid_topic() {
    let addr = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().to_string()
    };
    let e = Queue::connect(&addr, "/a", Role::Consumer, Format::Json).unwrap_err();
    assert!(
        matches!(&e, Error::Connect { source, .. } if source.kind() == std::io::ErrorKind::ConnectionRefused)
    );
    assert!(e.is_fatal());
    let text = e.to_string();
    assert!(
        text.starts_with(&format!("cannot connect to broker at {addr}: ")),
        "{text}"
    );
    // The topic is checked before connecting.
    for bad in ["", "a/b", "/a b", "/a/*"] {
        let e = Queue::connect(&addr, bad, Role::Consumer, Format::Json).unwrap_err();
        assert!(matches!(e, Error::Topic { .. }), "{bad:?}: {e:?}");
    }
}

#[test]
fn zero_timeout_polls_the_socket_once() {
    let (sent_tx, sent_rx) = mpsc::channel::<()>();
    let (more_tx, more_rx) = mpsc::channel::<()>();
    let s = script(move |peer| {
        hello(peer);
        peer.send(&publish("/telephony", 1i64));
        peer.send(&publish("/telephony", 2i64));
        sent_tx.send(()).unwrap();
        more_rx.recv().unwrap();
        peer.send_slowly(&common::encoded(Format::Json, &publish("/telephony", 3i64)));
    });
    let mut q = consumer(&s.addr);
    sent_rx.recv().unwrap();
    thread::sleep(Duration::from_millis(20));
    let start = Instant::now();
    assert_eq!(
        q.pull_timeout(Duration::ZERO).unwrap(),
        Some(live("/telephony", 1i64))
    );
    assert_eq!(
        q.pull_timeout(Duration::ZERO).unwrap(),
        Some(live("/telephony", 2i64))
    );
    assert_eq!(q.pull_timeout(Duration::ZERO).unwrap(), None);
    assert!(start.elapsed() < Duration::from_millis(500));
    // Blocking reads still work after the non-blocking polls.
    more_tx.send(()).unwrap();
    assert_eq!(q.pull().unwrap(), live("/telephony", 3i64));
    s.finish();
    assert!(matches!(q.pull(), Err(Error::Closed)));
}

#[test]
fn a_broker_that_stops_reading_fails_push_with_write_timed_out() {
    let (done_tx, done_rx) = mpsc::channel::<()>();
    let s = script(move |peer| {
        peer.expect_handshake(Format::Json);
        // Hold the connection without reading until the client is done.
        let _ = done_rx.recv_timeout(Duration::from_secs(20));
    });
    let mut q = Queue::connect(&s.addr, "/big", Role::Producer, Format::Json).unwrap();
    q.set_timeout(Some(Duration::from_millis(200)));
    let value = "x".repeat(90_000);
    let start = Instant::now();
    let err = loop {
        // The kernel's socket buffers take a few MB before a write blocks.
        if let Err(e) = q.push(value.as_str()) {
            break e;
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "push never blocked"
        );
    };
    assert!(matches!(err, Error::WriteTimedOut), "{err:?}");
    assert!(err.is_fatal());
    assert!(matches!(q.push(1i64), Err(Error::Closed)));
    done_tx.send(()).unwrap();
    s.finish();
}
