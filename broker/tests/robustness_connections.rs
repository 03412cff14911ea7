//! Robustness through real sockets: a thousand concurrent connections, the
//! connection limit, and abrupt disconnects that leave others unaffected and
//! are cleaned up.

mod common;

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

use broker::Config;
use common::wire::expect_one_error_then_close;
use common::{
    encode_frame, raw_frame, read_raw_until_end, split_broker_frames, start_broker,
    start_broker_with, Ending, Raw,
};
use protocol::{Format, Message, Method, Value};

/// Connects, handshakes and completes a LIST round trip, retrying while the
/// broker refuses (connection limit not yet freed); panics after `within`.
#[track_caller]
fn connect_accepted(addr: SocketAddr, format: Format, within: Duration) -> Raw {
    let deadline = Instant::now() + within;
    loop {
        let mut c = Raw::connect(addr);
        c.format = format;
        // The broker may refuse and close at once: write errors are expected.
        let mut hello = raw_frame(format.handshake().as_bytes());
        hello.extend(encode_frame(format, &Message::list(None)));
        let _ = c.stream.write_all(&hello);
        // Read until the LIST reply, a refusal (ERROR) or the end.
        let mut got = Vec::new();
        let accepted = loop {
            let (bytes, ending) = read_once(&mut c.stream, Duration::from_millis(300));
            got.extend_from_slice(&bytes);
            let (frames, _) = split_broker_frames(&got).expect("well-formed frames");
            let methods: Vec<Method> = frames
                .iter()
                .filter_map(|f| {
                    format
                        .decode(f)
                        .or_else(|_| Format::Json.decode(f))
                        .ok()
                        .map(|m| m.method)
                })
                .collect();
            if methods.contains(&Method::Error) || ending != Ending::TimedOut {
                break false;
            }
            if methods
                .iter()
                .any(|m| matches!(m, Method::ListAck | Method::ListNack))
            {
                break true;
            }
            if bytes.is_empty() {
                // Silence: neither accepted nor refused yet; keep waiting.
                assert!(Instant::now() < deadline, "no answer from the broker");
            }
        };
        if accepted {
            c.stream
                .set_read_timeout(Some(common::WAIT))
                .expect("timeout");
            return c;
        }
        assert!(
            Instant::now() < deadline,
            "the broker kept refusing new connections for {within:?}: were closed connections not cleaned up?"
        );
        thread::sleep(Duration::from_millis(20));
    }
}

/// One read of whatever is there (waiting up to `wait`): the bytes, and
/// `TimedOut` when the connection is still open.
fn read_once(stream: &mut TcpStream, wait: Duration) -> (Vec<u8>, Ending) {
    stream.set_read_timeout(Some(wait)).expect("timeout");
    let mut chunk = vec![0u8; 64 * 1024];
    loop {
        return match stream.read(&mut chunk) {
            Ok(0) => (Vec::new(), Ending::Eof),
            Ok(n) => (chunk[..n].to_vec(), Ending::TimedOut),
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                (Vec::new(), Ending::TimedOut)
            }
            Err(_) => (Vec::new(), Ending::Reset),
        };
    }
}

// ---------------------------------------------------------------------------
// Many connections and the connection limit
// ---------------------------------------------------------------------------

#[test]
fn a_thousand_concurrent_connections() {
    const N: usize = 1000;
    let b = start_broker();
    let mut clients: Vec<Raw> = (0..N)
        .map(|i| {
            let format = if i % 2 == 0 {
                Format::Json
            } else {
                Format::Xml
            };
            let mut c = Raw::handshake(b.addr, format);
            c.subscribe("/many");
            c.send(&Message::list(None));
            c
        })
        .collect();
    // Every subscription is in place once each LIST is answered.
    for (i, c) in clients.iter_mut().enumerate() {
        let got = c.recv();
        assert_eq!(got.method, Method::ListAck, "client {i}: {got:?}");
    }
    let mut publisher = Raw::json(b.addr);
    publisher.publish("/many/x", "to all");
    for (i, c) in clients.iter_mut().enumerate() {
        assert_eq!(
            c.recv_skipping_lists(),
            Message::publish("/many/x", "to all"),
            "client {i}"
        );
    }
    drop(clients);
    // The broker still works, and forgot every one of them.
    let mut sub = Raw::xml(b.addr);
    sub.subscribe("/many");
    let m = sub.recv_skipping_lists();
    assert_eq!(m, Message::new(Method::LastMsg, "/many/x", "to all"));
    publisher.publish("/many/y", 2);
    assert_eq!(sub.recv_skipping_lists(), Message::publish("/many/y", 2));
    let replies = publisher.barrier();
    assert!(
        replies.iter().all(|m| m.method != Method::Error),
        "{replies:?}"
    );
}

#[test]
fn connection_limit_refuses_the_sixth_then_accepts_after_a_close() {
    let b = start_broker_with(Config {
        max_connections: 5,
        ..Config::default()
    });
    let mut five: Vec<Raw> = (0..5)
        .map(|i| {
            let mut c = Raw::json(b.addr);
            c.subscribe("/limit");
            let replies = c.barrier();
            assert!(
                replies.iter().all(|m| m.method != Method::Error),
                "client {i}: {replies:?}"
            );
            c
        })
        .collect();
    let mut sixth = Raw::connect(b.addr);
    let m = expect_one_error_then_close(&mut sixth, Format::Json, "sixth connection");
    assert_eq!(m.topic, "");
    // The first five still work.
    five[0].publish("/limit", 1);
    for c in &mut five {
        assert_eq!(c.recv_skipping_lists(), Message::publish("/limit", 1));
    }
    // Still full: a seventh is refused even if it sends a handshake first;
    // refusals linger like any closing connection, so its ERROR is not lost
    // to a reset.
    let mut seventh = Raw::connect(b.addr);
    let _ = seventh.stream.write_all(&raw_frame(b"JSONQueue"));
    let (bytes, ending) = read_raw_until_end(&mut seventh.stream, Duration::from_secs(10));
    assert_ne!(
        ending,
        Ending::TimedOut,
        "the seventh connection was not closed"
    );
    assert_eq!(ending, Ending::Eof, "a clean close, not a reset");
    let (frames, _) = split_broker_frames(&bytes).expect("well-formed frames");
    assert_eq!(frames.len(), 1, "{frames:?}");
    let m = common::wire::decode_error(Format::Json, &frames[0]);
    assert_eq!(m.msg, Value::from("too many connections (limit 5)"));
    // After one closes, a new one is accepted and works.
    drop(five.remove(2));
    let mut new = connect_accepted(b.addr, Format::Xml, Duration::from_secs(5));
    new.subscribe("/limit");
    new.barrier();
    five[0].publish("/limit", 2);
    assert_eq!(new.recv_skipping_lists(), Message::publish("/limit", 2));
    for c in &mut five {
        assert_eq!(c.recv_skipping_lists(), Message::publish("/limit", 2));
    }
}

// ---------------------------------------------------------------------------
// Abrupt disconnects
// ---------------------------------------------------------------------------

#[test]
fn abrupt_disconnects_do_not_affect_others_and_are_cleaned_up() {
    const LIMIT: usize = 8;
    let b = start_broker_with(Config {
        max_connections: LIMIT,
        ..Config::default()
    });
    let mut keeper = Raw::json(b.addr);
    keeper.subscribe("/abrupt");
    keeper.barrier();
    let mut publisher = Raw::xml(b.addr);
    publisher.barrier();
    let mut n = 0i64;
    let mut check = |publisher: &mut Raw, keeper: &mut Raw, what: &str| {
        publisher.publish("/abrupt", n);
        let replies = publisher.barrier();
        assert!(
            replies.iter().all(|m| m.method != Method::Error),
            "{what}: {replies:?}"
        );
        assert_eq!(
            keeper.recv_skipping_lists(),
            Message::publish("/abrupt", n),
            "{what}"
        );
        n += 1;
    };
    // Twice as many abrupt clients as there are free slots: each one's slot
    // must be freed for the next to get in.
    for round in 0..LIMIT {
        // 1. Subscribes, then drops its socket in the middle of a frame.
        let mut c = connect_accepted(b.addr, Format::Json, Duration::from_secs(5));
        c.subscribe("/abrupt");
        c.barrier();
        let frame = encode_frame(Format::Json, &Message::publish("/abrupt", "never"));
        c.send_bytes(&frame[..frame.len() / 2]);
        drop(c);
        check(&mut publisher, &mut keeper, "subscriber dropped mid-frame");

        // 2. Sends half a header, no handshake, and closes.
        let mut c = Raw::connect(b.addr);
        c.send_bytes(b"  1");
        drop(c);
        // 3. Sends half a handshake and closes.
        let mut c = Raw::connect(b.addr);
        c.send_bytes(b"    9JSON");
        drop(c);
        check(&mut publisher, &mut keeper, "half a header / handshake");

        // 4. Subscribes and lets output pile up unread, then closes: the
        //    unread data turns the close into a reset.
        let mut c = connect_accepted(b.addr, Format::Xml, Duration::from_secs(5));
        c.subscribe("/abrupt");
        c.barrier();
        for i in 0..200 {
            publisher.publish("/abrupt/unread", format!("{round}-{i}-{}", "z".repeat(500)));
        }
        publisher.barrier();
        for _ in 0..200 {
            keeper.recv_skipping_lists();
        }
        drop(c);
        check(
            &mut publisher,
            &mut keeper,
            "subscriber reset with unread output",
        );
    }
    // Every slot is free again: LIMIT - 2 new clients get in. They reuse the
    // dropped clients' slots; none of them subscribed, so none may receive
    // anything (a leftover subscription would deliver to the new owner).
    let mut fresh: Vec<Raw> = (0..LIMIT - 2)
        .map(|_| connect_accepted(b.addr, Format::Json, Duration::from_secs(5)))
        .collect();
    check(&mut publisher, &mut keeper, "after reconnecting");
    publisher.publish("/abrupt/unread", "last");
    publisher.barrier();
    for c in &mut fresh {
        c.expect_silence(Duration::from_millis(100));
    }
}

/// A client that sends its last requests and its FIN together (a publish
/// then `shutdown(Write)`, as a one-shot producer does) has every request
/// acted on and its connection closed by the broker: the end of its input
/// is seen however the data and the FIN arrive, in one read or two.
#[test]
fn a_publish_followed_at_once_by_a_half_close_is_delivered_and_the_connection_closed() {
    let b = start_broker();
    let mut keeper = Raw::json(b.addr);
    keeper.subscribe("/oneshot");
    keeper.barrier();
    for round in 0..100i64 {
        let mut c = Raw::connect(b.addr);
        let mut bytes = raw_frame(Format::Json.handshake().as_bytes());
        // Sizes that fit one read and sizes that straddle two.
        let text = "y".repeat(usize::try_from(round).unwrap() * 997);
        bytes.extend(encode_frame(
            Format::Json,
            &Message::publish("/oneshot", text.clone()),
        ));
        bytes.extend(encode_frame(
            Format::Json,
            &Message::publish("/oneshot", round),
        ));
        c.stream.write_all(&bytes).expect("write");
        c.stream
            .shutdown(std::net::Shutdown::Write)
            .expect("half close");
        let (_, ending) = read_raw_until_end(&mut c.stream, Duration::from_secs(5));
        assert_eq!(ending, Ending::Eof, "round {round}: the broker closes");
        assert_eq!(
            keeper.recv_skipping_lists(),
            Message::publish("/oneshot", text),
            "round {round}"
        );
        assert_eq!(
            keeper.recv_skipping_lists(),
            Message::publish("/oneshot", round),
            "round {round}"
        );
    }
}

/// TCP urgent data (`MSG_OOB`) between two requests: a read stops at the
/// urgent mark with bytes still queued behind it, and no new edge comes for
/// them. The request after the mark must be acted on all the same.
#[test]
fn requests_after_tcp_urgent_data_are_acted_on() {
    let b = start_broker();
    let mut keeper = Raw::json(b.addr);
    keeper.subscribe("/urgent");
    keeper.barrier();
    for round in 0..20i64 {
        let mut c = Raw::json(b.addr);
        c.barrier();
        let before = encode_frame(Format::Json, &Message::publish("/urgent", round * 2));
        let after = encode_frame(Format::Json, &Message::publish("/urgent", round * 2 + 1));
        c.stream.write_all(&before).expect("write");
        socket2::SockRef::from(&c.stream)
            .send_out_of_band(b"!")
            .expect("urgent byte");
        c.stream.write_all(&after).expect("write");
        for n in [round * 2, round * 2 + 1] {
            assert_eq!(
                keeper.recv_skipping_lists(),
                Message::publish("/urgent", n),
                "round {round}"
            );
        }
    }
}
