//! `Queue` as a producer against a scripted broker (see `common`): the
//! handshake and `PUBLISH` frames byte for byte, values refused before
//! anything is sent (too large, not encodable), the largest value that still
//! fits, and a push that times out when the broker stops reading.

mod common;

use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::{publish, script};
use middleware::{Error, Format, Queue, Role, Value};

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
