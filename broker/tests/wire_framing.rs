//! Wire protocol §1-§2 (`docs/protocol.md`) rule by rule, against
//! a real broker over TCP: transport and framing (headers, frame limits,
//! split and batched frames, framing errors) and the handshake.
//!
//! Helpers, and why no test sleeps, are in `common/wire.rs`.

mod common;

use std::io::Write;
use std::thread;
use std::time::{Duration, Instant};

use broker::Config;
use common::wire::{
    assert_header, barrier, closed_after_one_frame, decode_error, expect_no_topics, expect_nothing,
    next_error_on, non_lists, reason, send_str, subscriber,
};
use common::{start_broker, start_broker_with, Raw};
use protocol::{Format, Message, Method, Value, MAX_PAYLOAD};

// ----------------------------------------------------- §1 transport, framing

#[test]
fn s1_broker_headers_are_python_right_aligned() {
    let b = start_broker();
    let mut j = Raw::json(b.addr);
    let mut x = Raw::xml(b.addr);
    j.subscribe("/h");
    x.subscribe("/h");
    barrier(&mut j);
    barrier(&mut x);
    let mut p = Raw::json(b.addr);
    // 2-, 3-, 4- and 5-digit lengths.
    let sizes = [0usize, 100, 5_000, 60_000];
    for n in sizes {
        p.publish("/h", "y".repeat(n));
    }
    barrier(&mut p);
    for c in [&mut j, &mut x] {
        let mut seen = Vec::new();
        while seen.len() < sizes.len() {
            let frame = c.recv_frame().expect("frame");
            assert_header(&frame);
            let m = c.format.decode(&frame[5..]).expect("decode");
            if m.method == Method::Publish {
                seen.push(frame.len() - 5);
            }
        }
        assert!(seen[0] < 100 && seen[3] >= 10_000, "{seen:?}");
    }
    // An ERROR (before the handshake) carries the same header form.
    let mut raw = Raw::connect(b.addr);
    raw.send_payload(b"nope");
    let frame = raw.recv_frame().expect("ERROR frame");
    assert_header(&frame);
}

#[test]
fn s1_zero_padded_left_aligned_and_centred_headers_are_accepted() {
    let b = start_broker();
    let mut sub = subscriber(b.addr, Format::Json, "/hdr");

    let mut c = Raw::connect(b.addr);
    c.format = Format::Json;
    c.send_bytes(b"00009JSONQueue");
    let headers: [fn(usize) -> String; 4] = [
        |n| format!("{n:05}"),
        |n| format!("{n:<5}"),
        |n| format!("{n:^5}"),
        |n| format!("{n:>5}"),
    ];
    for (i, header) in headers.iter().enumerate() {
        let payload = format!(r#"{{"method":"PUBLISH","topic":"/hdr","msg":{i}}}"#);
        let h = header(payload.len());
        assert_eq!(h.len(), 5);
        c.send_bytes(h.as_bytes());
        c.send_bytes(payload.as_bytes());
    }
    for i in 0..headers.len() {
        let m = sub.recv_skipping_lists();
        assert_eq!(m, Message::publish("/hdr", i as i64));
    }

    // The handshake itself with a left-aligned header, on an XML client.
    let mut x = Raw::connect(b.addr);
    x.format = Format::Xml;
    x.send_bytes(b"8    XMLQueue");
    x.publish("/hdr", "xml");
    assert_eq!(sub.recv_skipping_lists(), Message::publish("/hdr", "xml"));
    expect_nothing(&mut x);
}

#[test]
fn s1_largest_frame_99999_is_accepted() {
    let b = start_broker();
    let mut sub = subscriber(b.addr, Format::Json, "/big");
    let mut c = Raw::json(b.addr);
    let head = r#"{"method":"PUBLISH","topic":"/big","msg":1,"pad":""#;
    let tail = r#""}"#;
    let pad = "p".repeat(MAX_PAYLOAD - head.len() - tail.len());
    let payload = format!("{head}{pad}{tail}");
    assert_eq!(payload.len(), 99_999);
    c.send_bytes(b"99999");
    c.send_bytes(payload.as_bytes());
    assert_eq!(sub.recv_skipping_lists(), Message::publish("/big", 1));
    expect_nothing(&mut c);
}

#[test]
fn s1_bad_header_before_handshake_gets_one_json_error_then_close() {
    let b = start_broker();
    let bad: [&[u8]; 12] = [
        b"hello",
        b"    0",
        b"00000",
        b" 4 2 ",
        b"\t  42",
        b"42\t  ",
        b"   -1",
        b"   +9",
        b"     ",
        b"  4.2",
        b"0x2a ",
        b"\x00\x00\x00\x00\x09",
    ];
    for header in bad {
        let mut c = Raw::connect(b.addr);
        c.send_bytes(header);
        // A payload after it must not be taken as a frame.
        c.send_bytes(b"JSONQueue");
        let payload = closed_after_one_frame(&mut c);
        let m = decode_error(Format::Json, &payload);
        assert_eq!(m.topic, "", "header {header:?}: {m:?}");
    }
}

#[test]
fn s1_bad_header_after_handshake_error_in_clients_format_then_close() {
    let b = start_broker();
    let cases: [(&[u8], &[u8]); 4] = [
        (b"    0", b""),
        (b"abcde", b"{}"),
        (b"\t  42", &[b'x'; 42]),
        (b" 4 2 ", &[b'x'; 42]),
    ];
    for format in Format::ALL {
        for (header, rest) in cases {
            let mut c = Raw::handshake(b.addr, format);
            c.publish("/before", 1);
            c.send_bytes(header);
            c.send_bytes(rest);
            let payload = closed_after_one_frame(&mut c);
            let first = if format == Format::Json { b'{' } else { b'<' };
            assert_eq!(payload[0], first, "{}", String::from_utf8_lossy(&payload));
            let m = decode_error(format, &payload);
            assert_eq!(m.topic, "");
        }
    }
    // The PUBLISH sent before each framing error was handled.
    let mut sub = Raw::json(b.addr);
    sub.subscribe("/before");
    assert_eq!(sub.recv_skipping_lists().method, Method::LastMsg);
}

#[test]
fn s1_framing_error_affects_no_other_connection() {
    let b = start_broker();
    let mut sub = subscriber(b.addr, Format::Xml, "/ok");
    let mut p = Raw::json(b.addr);
    p.publish("/ok", 1);
    let mut bad = subscriber(b.addr, Format::Json, "/ok");
    bad.send_bytes(b"    0");
    bad.expect_closed();
    p.publish("/ok", 2);
    assert_eq!(
        non_lists(barrier(&mut p)),
        Vec::<Message>::new(),
        "publisher got something"
    );
    let got = non_lists(barrier(&mut sub));
    assert_eq!(
        got,
        vec![Message::publish("/ok", 1), Message::publish("/ok", 2)]
    );
}

#[test]
fn s1_frames_split_across_reads_and_many_in_one_read() {
    let b = start_broker();
    let mut sub = subscriber(b.addr, Format::Json, "/s");

    let mut bytes = common::raw_frame(b"JSONQueue");
    for i in 0..3i64 {
        bytes.extend(common::encode_frame(
            Format::Json,
            &Message::publish("/s", i),
        ));
    }
    let mut c = Raw::connect(b.addr);
    c.format = Format::Json;
    // Byte by byte, pausing inside a header and inside a payload so the
    // broker sees partial headers and partial payloads.
    let pauses = [3, 12, 17, 30, 60];
    for (i, byte) in bytes.iter().enumerate() {
        c.stream.write_all(&[*byte]).expect("write");
        if pauses.contains(&i) {
            thread::sleep(Duration::from_millis(3));
        }
    }
    // Then many frames in one write.
    let mut burst = Vec::new();
    for i in 3..200i64 {
        burst.extend(common::encode_frame(
            Format::Json,
            &Message::publish("/s", i),
        ));
    }
    c.send_bytes(&burst);
    for i in 0..200i64 {
        assert_eq!(sub.recv_skipping_lists(), Message::publish("/s", i));
    }
    expect_nothing(&mut c);
}

// ----------------------------------------------------------- §2 handshake

#[test]
fn s2_handshake_selects_the_clients_format() {
    let b = start_broker();
    let mut j = Raw::json(b.addr);
    j.send(&Message::list(None));
    let frame = j.recv_frame().expect("reply");
    assert_eq!(frame[5], b'{', "{}", String::from_utf8_lossy(&frame));
    assert_eq!(
        Format::Json.decode(&frame[5..]).unwrap().method,
        Method::ListNack
    );

    let mut x = Raw::xml(b.addr);
    x.send(&Message::list(None));
    let frame = x.recv_frame().expect("reply");
    let text = String::from_utf8(frame[5..].to_vec()).unwrap();
    assert!(text.starts_with('<') && text.contains("<message"), "{text}");
    assert_eq!(
        Format::Xml.decode(&frame[5..]).unwrap().method,
        Method::ListNack
    );

    // XML request with a declaration, JSON request with whitespace.
    send_str(
        &mut x,
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<message method=\"SUBSCRIBE\" topic=\"/hs\"/>",
    );
    send_str(
        &mut j,
        " { \"method\" : \"PUBLISH\" , \"topic\" : \"/hs\" , \"msg\" : 5 } ",
    );
    let got = non_lists(barrier(&mut j));
    assert!(got.is_empty(), "{got:?}");
    // Whichever arrived first, x is subscribed now or saw the LAST_MSG.
    let m = x.recv_skipping_lists();
    assert_eq!(m.msg, Value::Int(5));
    assert_eq!(m.topic, "/hs");
}

#[test]
fn s2_wrong_first_frame_gets_json_error_naming_mechanisms_then_close() {
    let b = start_broker();
    let wrong: [&[u8]; 10] = [
        b"jsonqueue",
        b"JSONQueue ",
        b" JSONQueue",
        b"JSONQUEUE",
        b"XMLqueue",
        b"xmlqueue",
        b"XMLQueue\n",
        b"JSONQueueXMLQueue",
        br#"{"method":"LIST","topic":"/"}"#,
        br#"<message method="LIST" topic="/"/>"#,
    ];
    for first in wrong {
        let mut c = Raw::connect(b.addr);
        c.send_payload(first);
        let payload = closed_after_one_frame(&mut c);
        let m = decode_error(Format::Json, &payload);
        let r = reason(&m);
        assert!(
            r.contains("JSONQueue") && r.contains("XMLQueue"),
            "reason for {:?} must name the mechanisms: {r:?}",
            String::from_utf8_lossy(first)
        );
    }
    // The broker still serves correct clients.
    let mut ok = Raw::json(b.addr);
    expect_nothing(&mut ok);
}

#[test]
fn s2_second_handshake_frame_is_a_bad_request_not_a_switch() {
    let b = start_broker();
    let mut j = Raw::json(b.addr);
    j.send_payload(b"XMLQueue");
    next_error_on(&mut j, "");
    // Still JSON, still open.
    expect_no_topics(&mut j);
}

#[test]
fn s2_handshake_deadline_closes_silent_and_partial_clients() {
    // A short linger keeps this test fast whatever the broker does after the
    // deadline; promptness is checked on its own below.
    let b = start_broker_with(Config {
        handshake_timeout: Duration::from_millis(200),
        linger: Duration::from_millis(100),
        ..Config::default()
    });
    let start = Instant::now();
    let mut silent = Raw::connect(b.addr);
    let mut partial = Raw::connect(b.addr);
    partial.send_bytes(b"    9JSON");
    let mut ok = Raw::json(b.addr);
    for c in [&mut silent, &mut partial] {
        let payload = closed_after_one_frame(c);
        decode_error(Format::Json, &payload);
        let waited = start.elapsed();
        assert!(
            waited >= Duration::from_millis(200),
            "closed after {waited:?}, before the 200 ms deadline"
        );
        assert!(waited < Duration::from_secs(5), "closed after {waited:?}");
    }
    // A client that did its handshake in time is not affected.
    assert!(start.elapsed() >= Duration::from_millis(200));
    expect_nothing(&mut ok);
}

#[test]
fn s2_handshake_deadline_error_names_mechanisms() {
    // "closed the same way" as a wrong first frame: one JSON ERROR naming
    // the accepted mechanisms.
    let b = start_broker_with(Config {
        handshake_timeout: Duration::from_millis(100),
        linger: Duration::from_millis(100),
        ..Config::default()
    });
    let mut silent = Raw::connect(b.addr);
    let payload = closed_after_one_frame(&mut silent);
    let m = decode_error(Format::Json, &payload);
    let r = reason(&m);
    assert!(
        r.contains("JSONQueue") && r.contains("XMLQueue"),
        "deadline ERROR must name the mechanisms: {r:?}"
    );
}

#[test]
fn s2_handshake_deadline_is_enforced_promptly() {
    // The ERROR and the close come at the deadline, not after the linger
    // time (which is only how long the broker waits for the peer's EOF).
    let b = start_broker_with(Config {
        handshake_timeout: Duration::from_millis(200),
        linger: Duration::from_millis(1500),
        ..Config::default()
    });
    let start = Instant::now();
    let mut silent = Raw::connect(b.addr);
    let payload = silent.recv_payload().expect("ERROR at the deadline");
    let waited = start.elapsed();
    decode_error(Format::Json, &payload);
    assert!(
        waited < Duration::from_millis(1000),
        "ERROR came {waited:?} after connecting, the deadline is 200 ms"
    );
    assert_eq!(silent.recv_payload(), None, "closed after the ERROR");
}
