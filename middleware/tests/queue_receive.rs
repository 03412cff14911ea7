//! `Queue` reading from a scripted broker (see `common`): deliveries told
//! apart from retained values, frames split or merged on the wire, `LIST`
//! paging, broker `ERROR`s as events, undecodable frames, the XML format,
//! and the read timeouts of `pull`, `pull_timeout` and `list_topics`.

mod common;

use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use common::{consumer, frame_bytes, hello, list_ack, live, publish, script};
use middleware::{Error, Event, Format, Queue, Role, Value};
use protocol::{Message, Method};

fn retained(topic: &str, value: impl Into<Value>) -> Event {
    Event::LastMsg {
        topic: topic.into(),
        value: value.into(),
        seq: None,
        ts: None,
        reply: None,
    }
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
fn undecodable_frames_are_skipped() {
    let s = script(|peer| {
        hello(peer);
        peer.send_raw(&frame_bytes(b"{not json"));
        peer.send_raw(&frame_bytes(br#"{"method":"SUBSCRIBE","topic":"/x"}"#));
        peer.send_raw(&frame_bytes(
            br#"{"method":"LIST_ACK","topic":"/","msg":"nope"}"#,
        ));
        // Unknown keys are ignored (a later version's); v2's seq is read.
        peer.send_raw(&frame_bytes(
            br#"{"seq":7,"later":1,"method":"PUBLISH","topic":"/telephony","msg":{"a":[]}}"#,
        ));
    });
    let mut q = consumer(&s.addr);
    assert!(matches!(q.pull(), Err(Error::Decode(_))));
    assert!(matches!(q.pull(), Err(Error::Protocol(_))));
    assert!(matches!(q.pull(), Err(Error::Protocol(_))));
    assert_eq!(
        q.pull().unwrap(),
        Event::Publish {
            topic: "/telephony".into(),
            value: Value::Dict(vec![("a".into(), Value::List(vec![]))]),
            seq: Some(7),
            ts: None,
            reply: None,
        }
    );
    s.finish();
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
