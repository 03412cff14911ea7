//! The NATS door with a real Rust NATS client (async-nats): publish and
//! subscribe with wildcards, queue groups, request/reply answered by a lab
//! responder, no responders, and headers.

mod common;

use std::time::Duration;

use broker::doors::Door;
use common::start_broker_with;
use futures::StreamExt;
use protocol::Format;

fn broker() -> common::TestBroker {
    start_broker_with(broker::Config {
        nats: Some("127.0.0.1:0".parse().unwrap()),
        ..broker::Config::default()
    })
}

/// The next message of `s`, within 5 s.
async fn next(s: &mut async_nats::Subscriber) -> async_nats::Message {
    tokio::time::timeout(Duration::from_secs(5), s.next())
        .await
        .expect("a message")
        .expect("open")
}

async fn client(b: &common::TestBroker) -> async_nats::Client {
    async_nats::connect(b.door(Door::Nats).to_string())
        .await
        .expect("async-nats connects")
}

#[tokio::test(flavor = "current_thread")]
async fn publish_subscribe_wildcards_and_queue_groups() {
    let b = broker();
    let nc = client(&b).await;
    let mut star = nc.subscribe("time.*.east").await.unwrap();
    let mut gt = nc.subscribe("time.us.>").await.unwrap();
    let mut w0 = nc.queue_subscribe("jobs", "w".into()).await.unwrap();
    let mut w1 = nc.queue_subscribe("jobs", "w".into()).await.unwrap();
    nc.flush().await.unwrap();
    let p = client(&b).await;
    p.publish("time.us.east", "a".into()).await.unwrap();
    p.publish("time.us.east.atlanta", "b".into()).await.unwrap();
    for i in 0..10 {
        p.publish("jobs", i.to_string().into()).await.unwrap();
    }
    p.flush().await.unwrap();
    assert_eq!(next(&mut star).await.payload.as_ref(), b"a");
    assert_eq!(next(&mut gt).await.subject.as_str(), "time.us.east");
    assert_eq!(next(&mut gt).await.subject.as_str(), "time.us.east.atlanta");
    let mut shares = [0; 2];
    for _ in 0..10 {
        tokio::select! {
            Some(_) = w0.next() => shares[0] += 1,
            Some(_) = w1.next() => shares[1] += 1,
        }
    }
    assert_eq!(shares, [5, 5], "each job to one worker, in turn");
}

#[tokio::test(flavor = "current_thread")]
async fn requests_answered_by_a_lab_responder_and_no_responders() {
    let b = broker();
    let responder = std::thread::spawn({
        let addr = b.addr;
        move || {
            let mut lab = common::wire::subscriber(addr, Format::Json, "/svc/upper");
            let got = loop {
                let m = lab.recv_skipping_lists();
                if m.method == protocol::Method::Publish {
                    break m;
                }
            };
            let text = match &got.msg {
                protocol::Value::Str(s) => s.to_uppercase(),
                other => panic!("{other:?}"),
            };
            lab.publish(got.reply.as_deref().expect("reply"), text);
            common::v2::ping(&mut lab);
        }
    });
    let nc = client(&b).await;
    // The lab responder's subscription may still be on its way.
    let mut answer = None;
    for _ in 0..50 {
        match nc.request("svc.upper", "hello".into()).await {
            Ok(m) => {
                answer = Some(m);
                break;
            }
            Err(e) if e.kind() == async_nats::RequestErrorKind::NoResponders => {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Err(e) => panic!("{e}"),
        }
    }
    assert_eq!(answer.expect("answered").payload.as_ref(), b"HELLO");
    responder.join().unwrap();
    let err = nc.request("nobody.home", "?".into()).await.unwrap_err();
    assert_eq!(err.kind(), async_nats::RequestErrorKind::NoResponders);
}

#[tokio::test(flavor = "current_thread")]
async fn headers_arrive_as_sent() {
    let b = broker();
    let nc = client(&b).await;
    let mut sub = nc.subscribe("h").await.unwrap();
    nc.flush().await.unwrap();
    let mut headers = async_nats::HeaderMap::new();
    headers.insert("Trace", "7");
    nc.publish_with_headers("h", headers, "body".into())
        .await
        .unwrap();
    let m = next(&mut sub).await;
    assert_eq!(m.payload.as_ref(), b"body");
    let h = m.headers.expect("headers");
    assert_eq!(h.get("Trace").map(|v| v.as_str()), Some("7"));
}
