//! Robustness through real sockets (spec §1, §2): frames split byte by byte
//! and batched, garbage headers and failed handshakes (one ERROR, then
//! close, without disturbing other clients) and the handshake deadline.

mod common;

use std::io::Write;
use std::net::TcpStream;
use std::thread;
use std::time::{Duration, Instant};

use broker::Config;
use common::wire::expect_one_error_then_close;
use common::{encode_frame, raw_frame, start_broker, start_broker_with, Raw};
use protocol::{Format, Message, Method, Value};

/// A linger long enough that a connection closed because its linger ran out
/// (rather than right after its ERROR was flushed) fails the test: brokers in
/// the tests that check closing use it.
const LONG_LINGER: Duration = Duration::from_secs(60);

/// A broker whose lingering connections outlive any test.
fn start_broker_long_linger(config: Config) -> common::TestBroker {
    start_broker_with(Config {
        linger: LONG_LINGER,
        ..config
    })
}

/// Writes `bytes` one at a time, flushing and pausing after each.
fn write_byte_by_byte(s: &mut TcpStream, bytes: &[u8]) {
    for b in bytes {
        s.write_all(std::slice::from_ref(b)).expect("write");
        s.flush().expect("flush");
        thread::sleep(Duration::from_micros(500));
    }
}

// ---------------------------------------------------------------------------
// Framing: partial and batched frames (spec §1 last bullet)
// ---------------------------------------------------------------------------

#[test]
fn handshake_and_publish_split_byte_by_byte() {
    let b = start_broker();
    for format in Format::ALL {
        let mut sub = Raw::json(b.addr);
        sub.subscribe("/bytes");
        sub.barrier();
        let topic = format!("/bytes/{format:?}");
        // Multi-byte UTF-8 characters: some splits fall inside a character.
        let value = Value::List(vec![
            Value::from("héllo € 😀 <&>"),
            Value::Int(-42),
            Value::Float(1.5),
        ]);
        let mut publisher = Raw::connect(b.addr);
        publisher.format = format;
        write_byte_by_byte(
            &mut publisher.stream,
            &raw_frame(format.handshake().as_bytes()),
        );
        write_byte_by_byte(
            &mut publisher.stream,
            &encode_frame(format, &Message::publish(topic.as_str(), value.clone())),
        );
        assert_eq!(
            sub.recv_skipping_lists(),
            Message::publish(topic.as_str(), value),
            "{format:?}"
        );
        // The publisher's own connection is fine too.
        let replies = publisher.barrier();
        assert!(
            replies.iter().all(|m| m.method != Method::Error),
            "{replies:?}"
        );
    }
}

#[test]
fn a_thousand_frames_in_one_write() {
    let b = start_broker();
    for (sub_format, pub_format) in [(Format::Json, Format::Xml), (Format::Xml, Format::Json)] {
        let topic = format!("/batch/{pub_format:?}");
        let mut sub = Raw::handshake(b.addr, sub_format);
        sub.subscribe(&topic);
        sub.barrier();
        // Handshake, 1000 publishes and a LIST, all in a single write.
        let mut bytes = raw_frame(pub_format.handshake().as_bytes());
        for i in 0..1000i64 {
            bytes.extend(encode_frame(
                pub_format,
                &Message::publish(topic.as_str(), i),
            ));
        }
        bytes.extend(encode_frame(pub_format, &Message::list(None)));
        let mut publisher = Raw::connect(b.addr);
        publisher.format = pub_format;
        publisher.send_bytes(&bytes);
        for i in 0..1000i64 {
            assert_eq!(
                sub.recv_skipping_lists(),
                Message::publish(topic.as_str(), i)
            );
        }
        let reply = publisher.recv();
        assert_eq!(reply.method, Method::ListAck, "{reply:?}");
    }
}

#[test]
fn three_frames_split_at_every_point() {
    let b = start_broker();
    let mut sub = Raw::json(b.addr);
    sub.subscribe("/split");
    sub.barrier();
    let mut publisher = Raw::json(b.addr);
    publisher.barrier();
    let messages = [
        Message::publish("/split/a", "x"),
        Message::publish(
            "/split/b",
            Value::List(vec![Value::Int(1), Value::from("two €")]),
        ),
        Message::publish(
            "/split",
            Value::Dict(vec![
                ("k".into(), Value::Null),
                ("f".into(), Value::Float(2.0)),
            ]),
        ),
    ];
    let bytes: Vec<u8> = messages
        .iter()
        .flat_map(|m| encode_frame(Format::Json, m))
        .collect();
    for split in 1..bytes.len() {
        publisher.send_bytes(&bytes[..split]);
        publisher.stream.flush().expect("flush");
        thread::sleep(Duration::from_millis(1));
        publisher.send_bytes(&bytes[split..]);
        for m in &messages {
            assert_eq!(&sub.recv_skipping_lists(), m, "split at byte {split}");
        }
    }
    // Every split point also as three writes around each header.
    let header_starts: Vec<usize> = {
        let mut starts = vec![0];
        for m in &messages[..2] {
            starts.push(starts.last().unwrap() + encode_frame(Format::Json, m).len());
        }
        starts
    };
    for &start in &header_starts {
        for cut in 1..5 {
            let (a, rest) = bytes.split_at(start + cut);
            let (mid, c) = rest.split_at(3.min(rest.len()));
            for part in [a, mid, c] {
                publisher.send_bytes(part);
                thread::sleep(Duration::from_millis(1));
            }
            for m in &messages {
                assert_eq!(&sub.recv_skipping_lists(), m, "header cut {start}+{cut}");
            }
        }
    }
    let replies = publisher.barrier();
    assert!(
        replies.iter().all(|m| m.method != Method::Error),
        "{replies:?}"
    );
}

// ---------------------------------------------------------------------------
// Garbage headers and failed handshakes: one ERROR, then close (spec §1, §2)
// ---------------------------------------------------------------------------

const GARBAGE_HEADERS: &[&[u8]] = &[
    b"hello",
    b"\x00\x00\x00\x00\x00",
    b"   -1",
    b"99a99",
    b"\t  42",
    b"42\t  ",
    b" \t42 ",
    b" 4 2 ",
    b"     ",
    b"    0",
    b"00000",
    b"  +42",
    b"  4.2",
    b"0x1F ",
    b"1e3  ",
    b"\xff\xff\xff\xff\xff",
    b"\xef\xbc\x94\xef\xbc", // a full-width digit, then half of another
    b"\n  42",
    b"42\r\n ",
];

#[test]
fn garbage_headers_get_one_error_then_close_without_disturbing_others() {
    let b = start_broker_long_linger(Config::default());
    let mut live_sub = Raw::json(b.addr);
    live_sub.subscribe("/live");
    live_sub.barrier();
    let mut live_pub = Raw::xml(b.addr);
    let mut n = 0i64;
    for &garbage in GARBAGE_HEADERS {
        for phase in [None, Some(Format::Json), Some(Format::Xml)] {
            let what = format!(
                "header {:?} after handshake {phase:?}",
                String::from_utf8_lossy(garbage)
            );
            // The bystander is mid-conversation while the bad client connects.
            live_pub.publish("/live", n);
            let mut bad = Raw::connect(b.addr);
            let mut bytes = Vec::new();
            if let Some(f) = phase {
                bytes.extend(raw_frame(f.handshake().as_bytes()));
                // A valid frame before the garbage is acted on.
                bytes.extend(encode_frame(
                    f,
                    &Message::publish("/live", format!("before {what}")),
                ));
            }
            bytes.extend_from_slice(garbage);
            // Whatever follows a bad header is ignored.
            bytes.extend_from_slice(b"   20{\"method\":\"LIST\"}  and more junk");
            bad.send_bytes(&bytes);
            let m = expect_one_error_then_close(&mut bad, phase.unwrap_or(Format::Json), &what);
            assert_eq!(m.topic, "", "{what}: {m:?}");
            assert_eq!(
                live_sub.recv_skipping_lists(),
                Message::publish("/live", n),
                "{what}"
            );
            if phase.is_some() {
                assert_eq!(
                    live_sub.recv_skipping_lists(),
                    Message::publish("/live", format!("before {what}")),
                );
            }
            n += 1;
        }
    }
    let replies = live_pub.barrier();
    assert!(
        replies.iter().all(|m| m.method != Method::Error),
        "{replies:?}"
    );
}

#[test]
fn failed_handshakes_get_one_json_error_then_close() {
    let b = start_broker_long_linger(Config::default());
    let mut live = Raw::json(b.addr);
    live.subscribe("/live");
    live.barrier();
    let big = vec![b'J'; 99_999];
    let cases: Vec<&[u8]> = vec![
        b"jsonqueue",
        b"JSONQueue ",
        b" XMLQueue",
        b"XML",
        b"JSON",
        b"{\"method\":\"LIST\"}",
        b"<message method=\"LIST\"/>",
        b"JSONQueue\x00",
        b"\xff",
        &big,
    ];
    for (i, first) in cases.into_iter().enumerate() {
        let what = format!(
            "handshake {:?}",
            String::from_utf8_lossy(&first[..first.len().min(20)])
        );
        let mut bad = Raw::connect(b.addr);
        let mut bytes = raw_frame(first);
        // A valid frame after the failed handshake is not acted on.
        bytes.extend(encode_frame(
            Format::Json,
            &Message::publish("/live", "must not be delivered"),
        ));
        bad.send_bytes(&bytes);
        let m = expect_one_error_then_close(&mut bad, Format::Json, &what);
        let reason = m.msg.as_str_lossy();
        assert!(
            reason.contains("JSONQueue") && reason.contains("XMLQueue"),
            "{what}: the ERROR should name the accepted mechanisms: {m:?}"
        );
        live.publish("/live", i as i64);
        assert_eq!(
            live.recv_skipping_lists(),
            Message::publish("/live", i as i64),
            "{what}"
        );
    }
}

trait StrLossy {
    fn as_str_lossy(&self) -> String;
}

impl StrLossy for Value {
    fn as_str_lossy(&self) -> String {
        match self {
            Value::Str(s) => s.clone(),
            other => format!("{other:?}"),
        }
    }
}

// ---------------------------------------------------------------------------
// Handshake deadline (spec §2)
// ---------------------------------------------------------------------------

#[test]
fn handshake_deadline_closes_silent_clients_only() {
    let timeout = Duration::from_millis(200);
    let b = start_broker_long_linger(Config {
        handshake_timeout: timeout,
        ..Config::default()
    });
    let mut good = Raw::json(b.addr);
    good.subscribe("/hs");
    good.barrier();
    let t0 = Instant::now();
    let mut silent = Raw::connect(b.addr);
    let mut partial = Raw::connect(b.addr);
    partial.send_bytes(b"    9JSON");
    let mut header_only = Raw::connect(b.addr);
    header_only.send_bytes(b"    9");
    let mut late_but_in_time = Raw::connect(b.addr);
    thread::sleep(Duration::from_millis(50));
    late_but_in_time.send_payload(b"XMLQueue");
    late_but_in_time.format = Format::Xml;
    for (c, what) in [
        (&mut silent, "silent client"),
        (&mut partial, "partial handshake"),
        (&mut header_only, "handshake header only"),
    ] {
        expect_one_error_then_close(c, Format::Json, what);
        let elapsed = t0.elapsed();
        assert!(
            elapsed >= timeout - Duration::from_millis(20),
            "{what} closed after {elapsed:?}, before the deadline"
        );
        assert!(
            elapsed < timeout + Duration::from_secs(3),
            "{what} closed only after {elapsed:?}"
        );
    }
    // Clients that did handshake are not subject to the deadline.
    thread::sleep(timeout);
    good.expect_silence(Duration::from_millis(100));
    late_but_in_time.subscribe("/hs");
    late_but_in_time.barrier();
    good.publish("/hs", "still here");
    assert_eq!(
        good.recv_skipping_lists(),
        Message::publish("/hs", "still here")
    );
    assert_eq!(
        late_but_in_time.recv_skipping_lists(),
        Message::publish("/hs", "still here")
    );
}
