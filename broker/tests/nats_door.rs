//! The NATS door through real sockets, speaking the NATS client protocol by
//! hand: INFO, CONNECT, SUB/UNSUB, PUB, PING/PONG, MSG, -ERR, and messages
//! crossing between NATS and lab clients on one topic tree.

mod common;

use std::io::Read;
use std::time::Duration;

use common::nats::{broker, Nats};
use common::v2::ping;
use common::{start_broker_with, Raw};
use protocol::{Format, Method, Value};

#[test]
fn nats_clients_publish_and_subscribe_with_nats_semantics() {
    let (_b, addr) = broker();
    let mut sub = Nats::connect(addr);
    sub.send(b"CONNECT {\"verbose\":false,\"pedantic\":false}\r\nSUB time.us.east 1\r\nSUB time.*.east 2\r\nSUB time.us.> 3\r\n");
    assert!(sub.sync().is_empty());
    let mut p = Nats::connect(addr);
    p.send(
        b"PUB time.us.east 2\r\nhi\r\nPUB time.us.east.atlanta 3\r\nyes\r\nPUB time.us 2\r\nno\r\n",
    );
    p.sync();
    let mut got: Vec<(String, Vec<u8>)> = (0..4).map(|_| sub.msg()).collect();
    got.sort();
    assert_eq!(
        got,
        [
            ("MSG time.us.east 1 2".to_owned(), b"hi".to_vec()),
            ("MSG time.us.east 2 2".to_owned(), b"hi".to_vec()),
            ("MSG time.us.east 3 2".to_owned(), b"hi".to_vec()),
            ("MSG time.us.east.atlanta 3 3".to_owned(), b"yes".to_vec()),
        ],
        "one copy per matching subscription; no subtree rule"
    );
    assert!(sub.sync().is_empty(), "nothing for time.us");
    sub.send(b"UNSUB 1\r\nUNSUB 2\r\n");
    sub.sync();
    p.send(b"PUB time.us.east 3\r\nbye\r\n");
    p.sync();
    assert_eq!(sub.msg().0, "MSG time.us.east 3 3");
}

#[test]
fn bytes_stay_bytes_between_nats_clients_and_cross_to_lab_clients_as_values() {
    let (b, addr) = broker();
    let mut nats = Nats::connect(addr);
    nats.send(b"SUB chat.> 9\r\n");
    nats.sync();
    let mut lab = Raw::json(b.addr);
    lab.subscribe("/chat");
    ping(&mut lab);
    let binary = b"\x00\xffbin";
    let mut p = Nats::connect(addr);
    p.send(b"PUB chat.general 5\r\nhello\r\n");
    p.send(format!("PUB chat.raw {}\r\n", binary.len()).as_bytes());
    p.send(binary);
    p.send(b"\r\n");
    p.sync();
    assert_eq!(
        nats.msg(),
        ("MSG chat.general 9 5".to_owned(), b"hello".to_vec())
    );
    assert_eq!(nats.msg().1, binary.to_vec(), "exactly the bytes sent");
    let got = common::v2::ping_non_lists(&mut lab);
    assert_eq!(got[0].msg, Value::from("hello"));
    assert_eq!(got[0].topic, "/chat/general");
    assert_eq!(got[1].msg, common::v2::json(r#"{"$bytes": "AP9iaW4="}"#));
    lab.publish("/chat/general", common::v2::json(r#"{"n": 1}"#));
    lab.publish("/chat/general", "text");
    ping(&mut lab);
    assert_eq!(nats.msg().1, br#"{"n":1}"#.to_vec(), "a value's JSON text");
    assert_eq!(nats.msg().1, b"text".to_vec(), "a string's bytes");
}

#[test]
fn a_nats_request_is_answered_by_a_lab_responder() {
    let (b, addr) = broker();
    let mut responder = common::wire::subscriber(b.addr, Format::Xml, "/svc/echo");
    let mut req = Nats::connect(addr);
    req.send(b"SUB _INBOX.r1.* 1\r\nPUB svc.echo _INBOX.r1.7 4\r\nping\r\n");
    req.sync();
    let got = common::v2::ping_non_lists(&mut responder);
    assert_eq!(got[0].method, Method::Publish);
    assert_eq!(got[0].reply.as_deref(), Some("/_INBOX/r1/7"));
    responder.publish("/_INBOX/r1/7", "pong");
    ping(&mut responder);
    assert_eq!(
        req.msg(),
        ("MSG _INBOX.r1.7 1 4".to_owned(), b"pong".to_vec())
    );
}

#[test]
fn no_responders_is_a_503_status_for_clients_that_asked() {
    let (_b, addr) = broker();
    let mut req = Nats::connect(addr);
    req.send(b"CONNECT {\"headers\":true,\"no_responders\":true}\r\nSUB _INBOX.x.* 4\r\nPUB nobody.home _INBOX.x.1 0\r\n\r\n");
    let header = req.line();
    assert_eq!(header, "HMSG _INBOX.x.1 4 16 16");
    assert_eq!(req.line(), "NATS/1.0 503");
    let mut quiet = Nats::connect(addr);
    quiet.send(b"SUB _INBOX.y.* 4\r\nPUB nobody.home _INBOX.y.1 0\r\n\r\n");
    assert!(
        quiet.sync().is_empty(),
        "not without headers and no_responders"
    );
}

#[test]
fn bad_input_gets_nats_server_s_errors() {
    let (_b, addr) = broker();
    let mut c = Nats::connect(addr);
    c.send(b"CONNECT {\"verbose\":true}\r\n");
    assert_eq!(c.line(), "+OK");
    c.send(b"SUB a..b 1\r\n");
    assert_eq!(c.line(), "-ERR 'Invalid Subject'");
    c.send(b"PUB a.* 1\r\nx\r\n");
    assert_eq!(c.line(), "-ERR 'Invalid Publish Subject'");
    c.send(b"PING\r\n");
    assert_eq!(c.line(), "PONG", "still open");
    c.send(b"BOGUS\r\n");
    assert_eq!(c.line(), "-ERR 'Unknown Protocol Operation'");
    let mut rest = String::new();
    assert_eq!(
        c.reader.read_to_string(&mut rest).unwrap_or(0),
        0,
        "closed: {rest}"
    );
    let mut big = Nats::connect(addr);
    big.send(format!("PUB a {}\r\n", 2 * 1024 * 1024).as_bytes());
    assert_eq!(big.line(), "-ERR 'Maximum Payload Violation'");
    let mut long = Nats::connect(addr);
    long.send(format!("SUB {} 1", "a".repeat(5000)).as_bytes());
    assert_eq!(long.line(), "-ERR 'Maximum Control Line Exceeded'");
    let mut garbage = Nats::connect(addr);
    garbage.send(b"\x00\xff\xfe garbage\r\n");
    assert_eq!(garbage.line(), "-ERR 'Unknown Protocol Operation'");
    let mut survivor = Nats::connect(addr);
    assert!(survivor.sync().is_empty(), "the broker serves others still");
}

#[test]
fn echo_off_keeps_a_client_s_own_messages_from_it() {
    let (_b, addr) = broker();
    let mut loud = Nats::connect(addr);
    loud.send(b"SUB room 1\r\n");
    loud.sync();
    let mut quiet = Nats::connect(addr);
    quiet.send(b"CONNECT {\"echo\":false}\r\nSUB room 1\r\nSUB room.> 2\r\nPUB room 4\r\nmine\r\n");
    assert!(quiet.sync().is_empty(), "not its own message");
    assert_eq!(loud.msg(), ("MSG room 1 4".to_owned(), b"mine".to_vec()));
    loud.send(b"PUB room 5\r\nloud!\r\n");
    assert_eq!(loud.msg().1, b"loud!".to_vec(), "echo is on by default");
    assert_eq!(quiet.msg(), ("MSG room 1 5".to_owned(), b"loud!".to_vec()));
}

#[test]
fn a_message_too_large_for_lab_frames_is_a_size_gap_for_lab_clients_that_said_hello_live_replayed_and_in_history(
) {
    let (b, addr) = broker();
    let (mut v2, _) = common::v2::hello_client(b.addr, Format::Json, Value::Null);
    v2.subscribe("/big");
    ping(&mut v2);
    let mut v1 = common::wire::subscriber(b.addr, Format::Xml, "/big");
    let mut nats = Nats::connect(addr);
    nats.send(b"SUB big 1\r\n");
    nats.sync();
    let large = vec![b'x'; 150_000];
    let mut p = Nats::connect(addr);
    p.send(format!("PUB big {}\r\n", large.len()).as_bytes());
    p.send(&large);
    p.send(b"\r\nPUB big 5\r\nsmall\r\n");
    p.sync();
    assert_eq!(nats.msg().1, large, "NATS carries it whole");
    assert_eq!(nats.msg().1, b"small".to_vec());
    let got = common::v2::ping_non_lists(&mut v2);
    assert_eq!(got[0].method, Method::Gap, "{got:?}");
    assert_eq!(common::v2::parse_gap(&got[0]).reason, "size");
    assert_eq!(
        (got[1].method, got[1].attrs.seq),
        (Method::Publish, Some(2))
    );
    let old = common::v2::ping_non_lists(&mut v1);
    assert_eq!(old.len(), 1, "a v1 client gets the next one only: {old:?}");
    // HISTORY leaves it out of the page, with a GAP before the page.
    v2.send(&common::v2::request(Method::History, "/big", Value::Null));
    let answer = common::v2::ping_non_lists(&mut v2);
    assert_eq!(answer.len(), 2, "{answer:?}");
    let gap = common::v2::parse_gap(&answer[0]);
    assert_eq!((gap.from, gap.to, gap.reason.as_str()), (1, 1, "size"));
    let page = common::v2::parse_history(&answer[1]);
    assert_eq!(
        (page.seqs(), page.first, page.more),
        (vec![2], Some(1), false)
    );
    // A replayed message too large for the client is a gap too.
    p.send(format!("PUB huge {}\r\n", large.len()).as_bytes());
    p.send(&large);
    p.send(b"\r\n");
    p.sync();
    let (mut late, _) = common::v2::hello_client(b.addr, Format::Json, Value::Null);
    late.subscribe("/huge");
    let replay = common::v2::ping_non_lists(&mut late);
    assert_eq!(replay.len(), 1, "{replay:?}");
    let gap = common::v2::parse_gap(&replay[0]);
    assert_eq!(
        (gap.topic.as_str(), gap.from, gap.reason.as_str()),
        ("/huge", 1, "size")
    );
}

#[test]
fn headers_reach_nats_clients_that_read_them() {
    let (b, addr) = broker();
    let mut with = Nats::connect(addr);
    with.send(b"CONNECT {\"headers\":true}\r\nSUB h 1\r\n");
    with.sync();
    let mut without = Nats::connect(addr);
    without.send(b"SUB h 2\r\n");
    without.sync();
    let mut lab = common::wire::subscriber(b.addr, Format::Json, "/h");
    let headers = b"NATS/1.0\r\nTrace: 7\r\n\r\n";
    let mut p = Nats::connect(addr);
    p.send(
        format!(
            "HPUB h _INBOX.r {} {}\r\n",
            headers.len(),
            headers.len() + 2
        )
        .as_bytes(),
    );
    p.send(headers);
    p.send(b"hi\r\n");
    p.sync();
    let (line, got_headers, payload) = with.hmsg();
    assert_eq!(
        line,
        format!("HMSG h 1 _INBOX.r {} {}", headers.len(), headers.len() + 2)
    );
    assert_eq!((got_headers, payload), (headers.to_vec(), b"hi".to_vec()));
    assert_eq!(
        without.msg(),
        ("MSG h 2 _INBOX.r 2".to_owned(), b"hi".to_vec())
    );
    let m = &common::v2::ping_non_lists(&mut lab)[0];
    assert_eq!(
        (m.msg.clone(), m.reply.as_deref()),
        (Value::from("hi"), Some("/_INBOX/r"))
    );
}

#[test]
fn a_client_that_does_not_answer_pings_is_closed_as_stale() {
    let b = start_broker_with(broker::Config {
        nats: Some("127.0.0.1:0".parse().unwrap()),
        nats_ping_interval: Duration::from_millis(200),
        ..broker::Config::default()
    });
    let addr = b.door(broker::doors::Door::Nats);
    let mut silent = Nats::connect(addr);
    let mut alive = Nats::connect(addr);
    let mut lines = Vec::new();
    loop {
        let l = silent.line();
        if l.is_empty() {
            break;
        }
        lines.push(l);
        // The live client answers every PING it gets.
        alive.send(b"PONG\r\n");
    }
    assert_eq!(
        lines,
        ["PING", "PING", "-ERR 'Stale Connection'"],
        "two PINGs unanswered, then closed"
    );
    let mut answered = 0;
    while answered < 3 {
        let l = alive.line();
        assert_eq!(l, "PING", "still open");
        alive.send(b"PONG\r\n");
        answered += 1;
    }
}

#[test]
fn unsub_with_max_ends_the_subscription_after_max_messages_and_it_stops_counting() {
    let (b, addr) = broker();
    let mut sub = Nats::connect(addr);
    sub.send(b"SUB job 7\r\nUNSUB 7 2\r\n");
    sub.sync();
    let mut p = common::Raw::json(b.addr);
    let receivers = |p: &mut common::Raw, n: i64| {
        let mut m = protocol::Message::publish("/job", n);
        m.attrs.ack = true;
        p.send(&m);
        let ack = ping(p)
            .into_iter()
            .find(|m| m.method == Method::PubAck)
            .expect("a PUBACK");
        common::v2::uint(common::v2::get(&ack.msg, "receivers"))
    };
    assert_eq!(receivers(&mut p, 1), 1);
    assert_eq!(receivers(&mut p, 2), 1);
    assert_eq!(
        receivers(&mut p, 3),
        0,
        "the subscription ended with its second message"
    );
    assert_eq!(sub.msg(), ("MSG job 7 1".to_owned(), b"1".to_vec()));
    assert_eq!(sub.msg(), ("MSG job 7 1".to_owned(), b"2".to_vec()));
    assert!(sub.sync().is_empty(), "nothing after max");
    // The sid is free again, and a new subscription under it counts.
    sub.send(b"SUB job 7\r\n");
    sub.sync();
    assert_eq!(receivers(&mut p, 4), 1);
}

#[test]
fn a_nats_client_that_never_reads_is_dropped_and_holds_no_one_back() {
    let b = common::start_broker_with(broker::Config {
        nats: Some("127.0.0.1:0".parse().unwrap()),
        max_pending_output: 1 << 20,
        ..broker::Config::default()
    });
    let addr = b.door(broker::doors::Door::Nats);
    let mut stuck = Nats::connect(addr);
    stuck.send(b"SUB flood 1\r\n");
    stuck.sync();
    // The fast one reads on its own thread as the flood goes.
    let mut fast = Nats::connect(addr);
    fast.send(b"SUB flood 1\r\n");
    fast.sync();
    const COUNT: usize = 8_000;
    let payload = vec![b'z'; 1000];
    let reader = std::thread::spawn(move || {
        for i in 0..COUNT {
            let (_, got) = fast.msg();
            assert_eq!(got.len(), 1000, "message {i}");
        }
        fast.sync()
    });
    let mut p = Nats::connect(addr);
    let mut batch = Vec::new();
    for _ in 0..COUNT {
        batch.extend_from_slice(b"PUB flood 1000\r\n");
        batch.extend_from_slice(&payload);
        batch.extend_from_slice(b"\r\n");
    }
    p.send(&batch);
    p.sync();
    assert!(
        reader
            .join()
            .expect("the fast reader got every message")
            .is_empty(),
        "nothing more"
    );
    // 8 MB went to a client that read none of it: the broker closed it
    // (the read ends), rather than queueing on.
    let mut rest = Vec::new();
    let end = stuck.reader.read_to_end(&mut rest);
    assert!(
        end.is_ok(),
        "closed by the broker, not still open: {end:?} after {} bytes",
        rest.len()
    );
}
