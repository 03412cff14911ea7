//! Helpers for the wire-protocol tests (`wire_*.rs`): round trips, what the
//! broker must (not) have sent, and builders for requests and values; and the
//! two refusal checks the robustness tests (`robustness_*.rs`) share.
//!
//! Tests never sleep to let the broker catch up: a [`barrier`] round trip
//! proves it handled everything a connection sent before, and since the broker
//! handles each request completely before the next (spec §8), a barrier on a
//! publisher followed by one on a subscriber shows every delivery.

use std::time::{Duration, Instant};

use protocol::{Format, Message, Method, Value, MAX_PAYLOAD};

use super::{read_raw_until_end, split_broker_frames, start_broker, Ending, Raw};

/// A valid topic after which no topic used in these tests sorts: `LIST` with
/// it as cursor answers an empty `LIST_ACK`, which no announcement can be.
pub const END: &str = "/\u{10FFFF}";

/// Round trip: returns everything the broker sent `c` before the reply to a
/// `LIST` after [`END`] (announcements included, unlike `Raw::sync`).
#[track_caller]
pub fn barrier(c: &mut Raw) -> Vec<Message> {
    c.send(&Message::list(Some(END)));
    let mut before = Vec::new();
    loop {
        let m = c.recv();
        let reply = match m.method {
            Method::ListNack => true,
            Method::ListAck => m.msg == Value::List(vec![]) && !m.attrs.more,
            _ => false,
        };
        if reply {
            return before;
        }
        before.push(m);
    }
}

/// Asserts the broker sent `c` nothing (up to a round trip).
#[track_caller]
pub fn expect_nothing(c: &mut Raw) {
    let got = barrier(c);
    assert!(got.is_empty(), "expected nothing, got {got:?}");
}

/// A client subscribed to `topic`, once the broker has registered it.
#[track_caller]
pub fn subscriber(addr: std::net::SocketAddr, format: Format, topic: &str) -> Raw {
    let mut c = Raw::handshake(addr, format);
    c.subscribe(topic);
    barrier(&mut c);
    c
}

/// Asserts that the broker holds no topic at all: a refused request created
/// none (LIST answers LIST_NACK).
#[track_caller]
pub fn expect_no_topics(c: &mut Raw) {
    c.send(&Message::list(None));
    let m = c.recv();
    assert_eq!(m.method, Method::ListNack, "{:?} client: {m:?}", c.format);
}

/// The messages that are not `LIST_ACK` announcements.
pub fn non_lists(msgs: Vec<Message>) -> Vec<Message> {
    msgs.into_iter()
        .filter(|m| m.method != Method::ListAck)
        .collect()
}

/// The next message must be an `ERROR` (nothing skipped); returns it.
#[track_caller]
pub fn next_error(c: &mut Raw) -> Message {
    let m = c.recv();
    assert_eq!(m.method, Method::Error, "expected ERROR, got {m:?}");
    match &m.msg {
        Value::Str(s) => assert!(!s.is_empty(), "ERROR reason is empty"),
        other => panic!("ERROR msg must be a human-readable string, got {other:?}"),
    }
    m
}

/// The next message must be an `ERROR` echoing `topic`.
#[track_caller]
pub fn next_error_on(c: &mut Raw, topic: &str) -> Message {
    let m = next_error(c);
    assert_eq!(m.topic, topic, "ERROR topic for {topic:?}: {m:?}");
    m
}

/// The reason text of an `ERROR`.
pub fn reason(m: &Message) -> &str {
    match &m.msg {
        Value::Str(s) => s,
        _ => "",
    }
}

/// Sends `payload` (a string) as one frame.
#[track_caller]
pub fn send_str(c: &mut Raw, payload: &str) {
    c.send_payload(payload.as_bytes());
}

/// An XML request document.
pub fn xml_req(method: &str, topic: &str, inner: &str) -> String {
    format!(r#"<message method="{method}" topic="{topic}">{inner}</message>"#)
}

/// The next frame that is not a `LIST_ACK`, as text and decoded.
#[track_caller]
pub fn recv_non_list(c: &mut Raw) -> (String, Message) {
    loop {
        let frame = c.recv_frame().expect("frame");
        assert_header(&frame);
        let text = String::from_utf8(frame[5..].to_vec()).expect("UTF-8 payload");
        let m = super::stamps::unstamped(c.format.decode(text.as_bytes()).expect("decode"));
        if m.method != Method::ListAck {
            return (text, m);
        }
    }
}

/// Asserts `frame` carries the exact `'{:>5}'` header of its payload length.
#[track_caller]
pub fn assert_header(frame: &[u8]) {
    let len = frame.len() - 5;
    assert!((1..=MAX_PAYLOAD).contains(&len), "payload length {len}");
    assert_eq!(
        &frame[..5],
        format!("{len:>5}").as_bytes(),
        "header {:?} for a {len}-byte payload",
        String::from_utf8_lossy(&frame[..5])
    );
}

/// Reads the connection to its end: the one payload sent before close.
#[track_caller]
pub fn closed_after_one_frame(c: &mut Raw) -> Vec<u8> {
    let mut frames = c.expect_closed();
    assert_eq!(
        frames.len(),
        1,
        "expected exactly one frame then close, got {:?}",
        frames
            .iter()
            .map(|f| String::from_utf8_lossy(f).into_owned())
            .collect::<Vec<_>>()
    );
    frames.remove(0)
}

/// Decodes `payload` as an `ERROR` in `format` and checks its shape.
#[track_caller]
pub fn decode_error(format: Format, payload: &[u8]) -> Message {
    let m = format.decode(payload).unwrap_or_else(|e| {
        panic!(
            "not a {format:?} frame: {e}: {:?}",
            String::from_utf8_lossy(payload)
        )
    });
    assert_eq!(m.method, Method::Error, "{m:?}");
    assert!(!reason(&m).is_empty(), "{m:?}");
    m
}

/// Collects every topic through `LIST` paging (spec §7), checking each page.
#[track_caller]
pub fn list_all_pages(c: &mut Raw) -> (Vec<String>, usize) {
    let mut all = Vec::new();
    let mut pages = 0;
    let mut cursor: Option<String> = None;
    loop {
        c.send(&Message::list(cursor.as_deref()));
        let frame = c.recv_frame().expect("LIST reply");
        assert_header(&frame);
        let m = c.format.decode(&frame[5..]).expect("decode LIST_ACK");
        assert_eq!(m.method, Method::ListAck, "{m:?}");
        assert_eq!(m.topic, "/");
        pages += 1;
        let Value::List(items) = m.msg else {
            panic!("LIST_ACK msg must be a list")
        };
        let page: Vec<String> = items
            .into_iter()
            .map(|v| match v {
                Value::Str(s) => s,
                other => panic!("topic list holds {other:?}"),
            })
            .collect();
        if !m.attrs.more {
            all.extend(page);
            return (all, pages);
        }
        assert!(!page.is_empty(), "a page with more=true holds no topic");
        cursor = page.last().cloned();
        all.extend(page);
        assert!(pages < 100, "paging does not end");
    }
}

/// A list of strings.
pub fn strs(items: &[&str]) -> Value {
    Value::List(items.iter().map(|s| Value::from(*s)).collect())
}

/// `7` inside `depth` nested lists.
pub fn nested_list(depth: usize) -> Value {
    let mut v = Value::Int(7);
    for _ in 0..depth {
        v = Value::List(vec![v]);
    }
    v
}

/// `7` inside `depth` nested dicts, each with the one key `k`.
pub fn nested_dict(depth: usize) -> Value {
    let mut v = Value::Int(7);
    for _ in 0..depth {
        v = Value::Dict(vec![("k".into(), v)]);
    }
    v
}

// ---- Refusals, shared by the robustness tests ----

/// Reads everything until the broker closes `c` and asserts it sent exactly
/// one well-formed `ERROR` frame, encoded in `format`, and then closed
/// cleanly (EOF within a few seconds: the write side is shut once the ERROR
/// is flushed, spec §1). Returns the ERROR.
#[track_caller]
pub fn expect_one_error_then_close(c: &mut Raw, format: Format, what: &str) -> Message {
    let (bytes, ending) = read_raw_until_end(&mut c.stream, Duration::from_secs(5));
    assert_eq!(
        ending,
        Ending::Eof,
        "{what}: expected the broker to close the connection with EOF after its ERROR; got {:?}",
        String::from_utf8_lossy(&bytes)
    );
    let (frames, tail) = split_broker_frames(&bytes).unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(tail.is_empty(), "{what}: EOF inside a frame: {tail:?}");
    assert_eq!(
        frames.len(),
        1,
        "{what}: expected exactly one frame (the ERROR), got {:?}",
        frames
            .iter()
            .map(|f| String::from_utf8_lossy(f).into_owned())
            .collect::<Vec<_>>()
    );
    let m = format.decode(&frames[0]).unwrap_or_else(|e| {
        panic!(
            "{what}: the ERROR is not valid {format:?}: {e}: {:?}",
            String::from_utf8_lossy(&frames[0])
        )
    });
    assert_eq!(m.method, Method::Error, "{what}: {m:?}");
    m
}

/// Sends each payload in `cases` on a client of `format` subscribed to `/ok`,
/// expects exactly one ERROR for each (with topic `""` where the case says
/// so), then proves the connection usable with a PUBLISH it receives back. An
/// observer subscribed to `/` must see only those `/ok` messages, and no bad
/// frame may create a topic.
#[track_caller]
pub fn assert_each_refused_connection_usable(format: Format, cases: &[(String, Vec<u8>, bool)]) {
    let b = start_broker();
    let mut observer = Raw::json(b.addr);
    observer.subscribe("/");
    observer.barrier();
    let mut c = Raw::handshake(b.addr, format);
    c.subscribe("/ok");
    c.barrier();
    for (i, (what, payload, no_topic)) in cases.iter().enumerate() {
        let started = Instant::now();
        c.send_payload(payload);
        let m = c.recv();
        assert_eq!(
            m.method,
            Method::Error,
            "{format:?} {what}: expected ERROR, got {m:?}"
        );
        if *no_topic {
            assert_eq!(m.topic, "", "{format:?} {what}: {m:?}");
        }
        c.publish("/ok", i as i64);
        assert_eq!(
            c.recv(),
            Message::publish("/ok", i as i64),
            "{format:?} {what}: connection not usable after the ERROR"
        );
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{format:?} {what}: took {:?}",
            started.elapsed()
        );
    }
    for i in 0..cases.len() {
        assert_eq!(
            observer.recv_skipping_lists(),
            Message::publish("/ok", i as i64),
            "observer"
        );
    }
    let extra = observer.barrier();
    assert!(
        extra.is_empty(),
        "observer got unexpected messages: {extra:?}"
    );
    observer.send(&Message::list(None));
    assert_eq!(
        observer.recv().msg,
        Value::List(vec![Value::from("/ok")]),
        "a refused frame created a topic"
    );
}
