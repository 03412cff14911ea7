//! Request/reply through real sockets (v2 §15): `reply` passed to
//! deliveries, `NO_RESPONDERS` when a request reaches nobody, and `/_INBOX`
//! topics that are never kept, listed or announced and go with their last
//! subscriber.

mod common;

use common::v2::{get, history, ping, ping_non_lists, uint};
use common::wire::{list_all_pages, next_error_on, subscriber};
use common::{start_broker, Raw};
use protocol::{Format, Message, Method, Value};

/// `PUBLISH topic value` asking for answers on `reply`.
fn asking(topic: &str, value: impl Into<Value>, reply: &str, ack: bool) -> Message {
    let mut m = Message::publish(topic, value);
    m.reply = Some(reply.to_owned());
    m.attrs.ack = ack;
    m
}

#[test]
fn s15_a_request_reaches_a_responder_with_its_reply_topic_and_the_answer_comes_back() {
    let b = start_broker();
    for format in Format::ALL {
        let mut responder = subscriber(b.addr, format, "/svc/time");
        let mut client = subscriber(b.addr, Format::Json, "/_INBOX/c1");
        client.send(&asking("/svc/time", "now?", "//_INBOX/c1/", false));
        ping(&mut client);
        let got = ping_non_lists(&mut responder);
        let [request] = &got[..] else {
            panic!("{format:?}: {got:?}")
        };
        assert_eq!(request.reply.as_deref(), Some("/_INBOX/c1"), "normalized");
        responder.publish("/_INBOX/c1", "12:00");
        ping(&mut responder);
        let answers = ping_non_lists(&mut client);
        assert_eq!(answers.len(), 1, "{answers:?}");
        assert_eq!(answers[0].msg, Value::from("12:00"));
        assert_eq!(answers[0].reply, None);
        drop(responder);
    }
}

#[test]
fn s15_no_responders_comes_after_the_puback_and_names_the_request_topic() {
    let b = start_broker();
    let mut client = Raw::xml(b.addr);
    client.send(&asking("/svc/none", 1, "/_INBOX/x", true));
    let got = ping_non_lists(&mut client);
    let methods: Vec<Method> = got.iter().map(|m| m.method).collect();
    assert_eq!(methods, [Method::PubAck, Method::NoResponders], "{got:?}");
    assert_eq!(uint(get(&got[0].msg, "receivers")), 0);
    assert_eq!(got[1].topic, "/_INBOX/x");
    assert_eq!(got[1].msg, Value::from("/svc/none"));
    let _someone = subscriber(b.addr, Format::Json, "/svc");
    client.send(&asking("/svc/none", 2, "/_INBOX/x", false));
    assert!(
        ping_non_lists(&mut client).is_empty(),
        "received once: no NO_RESPONDERS"
    );
}

#[test]
fn s15_inboxes_are_never_kept_listed_or_announced() {
    let b = start_broker();
    let mut watcher = subscriber(b.addr, Format::Json, "/w");
    let mut inbox = subscriber(b.addr, Format::Json, "/_INBOX/abc");
    let mut p = Raw::json(b.addr);
    p.publish("/_INBOX/abc", 1);
    p.publish("/_INBOX/abc", 2);
    ping(&mut p);
    let seqs: Vec<Option<u64>> = ping_non_lists(&mut inbox)
        .iter()
        .map(|m| m.attrs.seq)
        .collect();
    assert_eq!(seqs, [Some(1), Some(2)], "numbered while it lives");
    assert!(
        ping(&mut watcher)
            .iter()
            .all(|m| m.method != Method::ListAck),
        "no announcement"
    );
    let (topics, _) = list_all_pages(&mut p);
    assert_eq!(topics, ["/w"], "not listed");
    assert!(
        history(&mut p, "/_INBOX/abc", Value::Null).items.is_empty(),
        "not kept"
    );
    // Gone with its last subscriber: a new one starts from 1.
    inbox.send(&Message::cancel_sub("/_INBOX/abc"));
    ping(&mut inbox);
    let mut again = subscriber(b.addr, Format::Json, "/_INBOX/abc");
    p.publish("/_INBOX/abc", 3);
    ping(&mut p);
    let m = &ping_non_lists(&mut again)[0];
    assert_eq!((m.attrs.seq, &m.msg), (Some(1), &Value::Int(3)));
}

#[test]
fn s15_publishing_to_an_inbox_nobody_holds_leaves_nothing_behind() {
    let b = start_broker();
    let mut p = Raw::json(b.addr);
    for i in 0..50 {
        p.publish(&format!("/_INBOX/gone{i}"), i);
    }
    ping(&mut p);
    let mut probe = subscriber(b.addr, Format::Json, "/_INBOX/gone7");
    p.publish("/_INBOX/gone7", "x");
    ping(&mut p);
    let m = &ping_non_lists(&mut probe)[0];
    assert_eq!(m.attrs.seq, Some(1), "the earlier one was forgotten");
    probe.send(&Message::new(Method::History, "/_INBOX/*", Value::Null));
    next_error_on(&mut probe, "/_INBOX/*");
}

#[test]
fn s15_a_thousand_concurrent_requests_over_ten_connections_each_get_their_own_answer() {
    let b = start_broker();
    let mut responder = subscriber(b.addr, Format::Json, "/svc/echo");
    let mut clients: Vec<Raw> = (0..10)
        .map(|i| {
            subscriber(
                b.addr,
                if i % 2 == 0 {
                    Format::Json
                } else {
                    Format::Xml
                },
                &format!("/_INBOX/c{i}"),
            )
        })
        .collect();
    // Every client sends its 100 requests before anyone answers.
    for (i, c) in clients.iter_mut().enumerate() {
        for n in 0..100 {
            c.send(&asking(
                "/svc/echo",
                format!("c{i}-{n}"),
                &format!("/_INBOX/c{i}"),
                false,
            ));
        }
        ping(c);
    }
    let requests = ping_non_lists(&mut responder);
    assert_eq!(requests.len(), 1000);
    for r in &requests {
        let reply = r.reply.as_deref().expect("a reply topic");
        responder.publish(reply, r.msg.clone());
    }
    ping(&mut responder);
    for (i, c) in clients.iter_mut().enumerate() {
        let answers: Vec<Value> = ping_non_lists(c).into_iter().map(|m| m.msg).collect();
        let want: Vec<Value> = (0..100).map(|n| Value::from(format!("c{i}-{n}"))).collect();
        assert_eq!(answers, want, "client {i}: its own answers, in order");
    }
}
