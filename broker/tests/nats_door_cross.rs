//! The front-doors contract between the NATS door and lab clients, both
//! ways (front-doors spec: names, values, shared behaviour): one numbering
//! and one history per topic whatever the door, retention without replay for
//! NATS, requests answered across doors, and names that are not dotted paths.

mod common;

use common::nats::{broker, Nats};
use common::v2::{hello_client, ping_non_lists};
use protocol::{Format, Message, Method, Value};

#[test]
fn publishes_from_both_doors_share_one_numbering_and_history() {
    let (b, addr) = broker();
    let (mut v2, _) = hello_client(b.addr, Format::Json, Value::Null);
    v2.subscribe("/orders/eu");
    ping_non_lists(&mut v2);
    let mut lab = common::Raw::xml(b.addr);
    let mut nats = Nats::connect(addr);
    lab.publish("/orders/eu", 1);
    common::v2::ping(&mut lab);
    nats.send(b"PUB orders.eu 1\r\n2\r\n");
    nats.sync();
    lab.publish("/orders/eu", "three");
    common::v2::ping(&mut lab);
    let got = ping_non_lists(&mut v2);
    let seqs: Vec<_> = got.iter().map(|m| m.attrs.seq).collect();
    assert_eq!(seqs, [Some(1), Some(2), Some(3)], "{got:?}");
    assert_eq!(got[1].msg, Value::from("2"), "NATS bytes are a string");
    let page = common::v2::history(&mut v2, "/orders/eu", Value::Null);
    assert_eq!(page.seqs(), [1, 2, 3]);
    assert_eq!(page.items[1].msg, Value::from("2"));
}

#[test]
fn a_nats_publish_is_retained_for_lab_clients_but_nats_clients_get_no_replay() {
    let (b, addr) = broker();
    let mut p = Nats::connect(addr);
    p.send(b"PUB sensors.t1 4\r\n21.5\r\n");
    p.sync();
    let mut late = common::Raw::json(b.addr);
    late.subscribe("/sensors");
    let got = ping_non_lists(&mut late);
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(
        (got[0].method, got[0].topic.as_str(), &got[0].msg),
        (Method::LastMsg, "/sensors/t1", &Value::from("21.5"))
    );
    let mut nats = Nats::connect(addr);
    nats.send(b"SUB sensors.> 1\r\n");
    let got = nats.sync();
    assert!(got.is_empty(), "NATS has no replay: {got:?}");
}

#[test]
fn a_lab_request_is_answered_by_a_nats_responder() {
    let (b, addr) = broker();
    let mut responder = Nats::connect(addr);
    responder.send(b"SUB svc.time 3\r\n");
    responder.sync();
    let mut requester = common::Raw::json(b.addr);
    requester.subscribe("/_INBOX/lab/1");
    common::v2::ping(&mut requester);
    let mut request = Message::publish("/svc/time", common::v2::json(r#"{"tz": "UTC"}"#));
    request.reply = Some("/_INBOX/lab/1".to_owned());
    requester.send(&request);
    let (line, payload) = responder.msg();
    assert_eq!(line, "MSG svc.time 3 _INBOX.lab.1 12");
    assert_eq!(payload, br#"{"tz":"UTC"}"#.to_vec(), "a value's JSON text");
    responder.send(b"PUB _INBOX.lab.1 5\r\n12:00\r\n");
    responder.sync();
    let answer = ping_non_lists(&mut requester);
    assert_eq!(answer.len(), 1, "{answer:?}");
    assert_eq!(
        (answer[0].topic.as_str(), &answer[0].msg),
        ("/_INBOX/lab/1", &Value::from("12:00"))
    );
}

#[test]
fn names_that_are_not_dotted_paths_and_payloads_of_every_size_cross_intact() {
    let (b, addr) = broker();
    let mut lab = common::Raw::json(b.addr);
    lab.subscribe("/notifications:user:123");
    common::v2::ping(&mut lab);
    let mut sub = Nats::connect(addr);
    sub.send(b"SUB notifications:user:123 1\r\nSUB big 2\r\n");
    sub.sync();
    let mut p = Nats::connect(addr);
    p.send(b"PUB notifications:user:123 0\r\n\r\n");
    let mb = vec![0xA5u8; 1024 * 1024];
    p.send(format!("PUB big {}\r\n", mb.len()).as_bytes());
    p.send(&mb);
    p.send(b"\r\n");
    p.sync();
    assert_eq!(
        sub.msg(),
        ("MSG notifications:user:123 1 0".to_owned(), Vec::new()),
        "an empty payload stays empty"
    );
    assert_eq!(sub.msg().1, mb, "1 MiB of binary, byte for byte");
    let got = ping_non_lists(&mut lab);
    assert_eq!(
        (got[0].topic.as_str(), &got[0].msg),
        ("/notifications:user:123", &Value::from(""))
    );
    lab.publish("/notifications:user:123", Value::Bool(true));
    common::v2::ping(&mut lab);
    assert_eq!(sub.msg().1, b"true".to_vec());
}
