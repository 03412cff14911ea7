//! The life of a `Queue` connection against a scripted broker (see
//! `common`): topic checks and refused connects, subscribing and cancelling,
//! the broker closing the connection (cleanly, mid-frame, while listing,
//! right after an `ERROR`), a bad frame header, and `close` collecting the
//! broker's late errors.

mod common;

use std::net::TcpListener;
use std::time::Duration;

use common::{consumer, hello, live, publish, script};
use middleware::{Error, Event, Format, Queue, Role};
use protocol::{Message, Method};

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
