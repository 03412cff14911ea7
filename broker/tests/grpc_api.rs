//! The RPC side (`--grpc`) with a real tonic client: every call, and a
//! Subscribe stream receiving lab, NATS and gRPC publishes on one tree.

mod common;

use std::collections::HashMap;
use std::net::SocketAddr;

use broker::doors::Door;
use broker::proto::{self, event, value::Kind};
use broker::Config;
use common::grpc::{
    broker_with, client, eventually, int, next_delivery, next_event, publish, subscribe,
    subscribed, text,
};
use common::nats::Nats;
use common::Raw;
use protocol::Value;
use tonic::Code;

fn with_nats() -> Config {
    Config {
        nats: Some(SocketAddr::from(([127, 0, 0, 1], 0))),
        ..Config::default()
    }
}

#[tokio::test]
async fn a_subscribe_stream_receives_lab_nats_and_grpc_publishes_in_order() {
    let broker = broker_with(with_nats());
    let mut grpc = client(&broker).await;
    let (mut stream, first) = subscribed(&mut grpc, subscribe("/telephony")).await;
    assert!(first.subscription > 0 && !first.epoch.is_empty());

    let mut lab = Raw::json(broker.addr);
    lab.publish("/telephony/orange", 17);
    let mut nats = Nats::connect(broker.door(Door::Nats));
    nats.send(b"PUB telephony.unite 5\r\nhello\r\n");
    nats.sync();
    let ack = grpc
        .publish(publish("/telephony/moldcell", int(10_500)))
        .await
        .expect("published")
        .into_inner();
    assert_eq!(
        (ack.topic.as_str(), ack.seq, ack.receivers),
        ("/telephony/moldcell", 1, 1)
    );

    let mut got = Vec::new();
    for _ in 0..3 {
        let d = next_delivery(&mut stream).await;
        assert_eq!(d.subscription, first.subscription);
        assert_eq!(d.kind, proto::DeliveryKind::Live as i32);
        assert_eq!(d.seq, 1);
        assert!(d.ts > 0);
        got.push((d.topic, d.value.expect("a value").kind.expect("a kind")));
    }
    assert_eq!(
        got,
        vec![
            ("/telephony/orange".to_owned(), Kind::IntValue(17)),
            (
                "/telephony/unite".to_owned(),
                Kind::StringValue("hello".into())
            ),
            ("/telephony/moldcell".to_owned(), Kind::IntValue(10_500)),
        ]
    );
}

#[tokio::test]
async fn values_cross_doors_losslessly() {
    let broker = broker_with(Config::default());
    let mut grpc = client(&broker).await;
    let mut lab = Raw::json(broker.addr);
    lab.subscribe("/v");
    lab.sync();
    let (mut stream, _) = subscribed(&mut grpc, subscribe("/v")).await;
    let entry = |key: &str, value| proto::ValueEntry {
        key: key.to_owned(),
        value: Some(value),
    };
    let map = proto::Value {
        kind: Some(Kind::MapValue(proto::ValueMap {
            entries: vec![
                entry("max", int(i64::MAX)),
                entry(
                    "two",
                    proto::Value {
                        kind: Some(Kind::DoubleValue(2.0)),
                    },
                ),
                entry(
                    "none",
                    proto::Value {
                        kind: Some(Kind::NullValue(0)),
                    },
                ),
                entry(
                    "list",
                    proto::Value {
                        kind: Some(Kind::ListValue(proto::ValueList {
                            items: vec![
                                text("é"),
                                proto::Value {
                                    kind: Some(Kind::BoolValue(true)),
                                },
                            ],
                        })),
                    },
                ),
                entry("max", int(-1)),
            ],
        })),
    };
    grpc.publish(publish("/v", map.clone()))
        .await
        .expect("published");
    let d = next_delivery(&mut stream).await;
    assert_eq!(
        d.value.as_ref(),
        Some(&map),
        "the same value back over gRPC"
    );
    let m = lab.recv_skipping_lists();
    assert_eq!(
        m.msg,
        Value::Dict(vec![
            ("max".into(), Value::Int(i64::MAX)),
            ("two".into(), Value::Float(2.0)),
            ("none".into(), Value::Null),
            (
                "list".into(),
                Value::List(vec![Value::Str("é".into()), Value::Bool(true)])
            ),
            ("max".into(), Value::Int(-1)),
        ])
    );
}

#[tokio::test]
async fn subscribe_replays_the_newest_then_resumes_from_a_position() {
    let broker = broker_with(Config::default());
    let mut grpc = client(&broker).await;
    for n in 1..=5 {
        grpc.publish(publish("/r/a", int(n)))
            .await
            .expect("published");
    }
    let (mut stream, first) = subscribed(&mut grpc, subscribe("/r")).await;
    let retained = next_delivery(&mut stream).await;
    assert_eq!(
        (retained.seq, retained.kind),
        (5, proto::DeliveryKind::Retained as i32)
    );
    assert_eq!(retained.subscription, first.subscription);

    let resume = proto::SubscribeRequest {
        resume: Some(proto::Resume {
            epoch: first.epoch.clone(),
            seen: HashMap::from([("/r/a".to_owned(), 2)]),
        }),
        ..subscribe("/r")
    };
    let (mut resumed, _) = subscribed(&mut grpc, resume).await;
    for seq in 3..=5 {
        let d = next_delivery(&mut resumed).await;
        assert_eq!((d.seq, d.kind), (seq, proto::DeliveryKind::Resumed as i32));
    }
    let other_epoch = proto::SubscribeRequest {
        resume: Some(proto::Resume {
            epoch: "elsewhere".into(),
            seen: HashMap::from([("/r/a".to_owned(), 9)]),
        }),
        ..subscribe("/r")
    };
    let (mut gapped, _) = subscribed(&mut grpc, other_epoch).await;
    match next_event(&mut gapped).await {
        event::Kind::Gap(g) => {
            assert_eq!(
                (g.first, g.last, g.reason),
                (10, 10, proto::GapReason::Epoch as i32)
            );
            assert_eq!(g.epoch, first.epoch);
        }
        other => panic!("expected a gap, got {other:?}"),
    }
}

#[tokio::test]
async fn list_history_and_who_answer_as_the_lab_protocol_does() {
    let broker = broker_with(Config::default());
    let mut grpc = client(&broker).await;
    for n in 1..=5 {
        grpc.publish(publish("/h/x", int(n)))
            .await
            .expect("published");
    }
    grpc.publish(publish("/h/y", int(0)))
        .await
        .expect("published");
    let list = grpc
        .list(proto::ListRequest::default())
        .await
        .expect("list")
        .into_inner();
    assert_eq!(list.topics, ["/h", "/h/x", "/h/y"]);
    assert!(!list.more);
    let after = proto::ListRequest {
        after: "/h/x".into(),
    };
    assert_eq!(
        grpc.list(after).await.expect("list").into_inner().topics,
        ["/h/y"]
    );

    let asked = proto::HistoryRequest {
        topic: "/h/x".into(),
        since: 1,
        limit: 3,
    };
    let page = grpc.history(asked).await.expect("history").into_inner();
    assert_eq!((page.seq, page.first), (5, 1));
    let seqs: Vec<u64> = page.items.iter().map(|i| i.seq).collect();
    assert_eq!(seqs, [3, 4, 5]);
    assert_eq!(page.items[2].value, Some(int(5)));
    let none = proto::HistoryRequest {
        topic: "/nothing".into(),
        ..Default::default()
    };
    let empty = grpc.history(none).await.expect("history").into_inner();
    assert_eq!((empty.seq, empty.first, empty.items.len()), (0, 0, 0));

    let watching = proto::SubscribeRequest {
        name: "alice".into(),
        presence: true,
        ..subscribe("/room")
    };
    let (mut alice, _) = subscribed(&mut grpc, watching).await;
    match next_event(&mut alice).await {
        event::Kind::Presence(p) => {
            assert_eq!(
                (p.name.as_str(), p.action),
                ("alice", proto::PresenceAction::Join as i32)
            );
        }
        other => panic!("expected her own join, got {other:?}"),
    }
    let who = grpc
        .who(proto::WhoRequest {
            topic: "/room".into(),
        })
        .await
        .expect("who")
        .into_inner();
    let names: Vec<&str> = who.present.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["alice"]);
    drop(alice);
    eventually(|| {
        let mut grpc = grpc.clone();
        async move {
            let who = grpc
                .who(proto::WhoRequest {
                    topic: "/room".into(),
                })
                .await;
            who.expect("who").into_inner().present.is_empty()
        }
    })
    .await;
}

#[tokio::test]
async fn cancel_sub_ends_the_stream_and_its_subscription() {
    let broker = broker_with(Config::default());
    let mut grpc = client(&broker).await;
    let (mut stream, first) = subscribed(&mut grpc, subscribe("/c")).await;
    let ack = grpc
        .publish(publish("/c", int(1)))
        .await
        .expect("published")
        .into_inner();
    assert_eq!(ack.receivers, 1);
    next_delivery(&mut stream).await;
    let cancel = proto::CancelSubRequest {
        subscription: first.subscription,
    };
    assert!(
        grpc.cancel_sub(cancel)
            .await
            .expect("cancel")
            .into_inner()
            .cancelled
    );
    let end = tokio::time::timeout(common::WAIT, stream.message())
        .await
        .expect("ends in time");
    assert!(
        matches!(end, Ok(None)),
        "the stream completes with OK: {end:?}"
    );
    let again = proto::CancelSubRequest {
        subscription: first.subscription,
    };
    assert!(
        !grpc
            .cancel_sub(again)
            .await
            .expect("cancel")
            .into_inner()
            .cancelled
    );
    eventually(|| {
        let mut grpc = grpc.clone();
        async move {
            let ack = grpc
                .publish(publish("/c", int(2)))
                .await
                .expect("published");
            ack.into_inner().receivers == 0
        }
    })
    .await;
}

#[tokio::test]
async fn a_dropped_stream_leaves_no_subscription() {
    let broker = broker_with(Config::default());
    let mut grpc = client(&broker).await;
    let (stream, _) = subscribed(&mut grpc, subscribe("/d")).await;
    let ack = grpc
        .publish(publish("/d", int(1)))
        .await
        .expect("published")
        .into_inner();
    assert_eq!(ack.receivers, 1);
    drop(stream);
    eventually(|| {
        let mut grpc = grpc.clone();
        async move {
            let ack = grpc
                .publish(publish("/d", int(2)))
                .await
                .expect("published");
            ack.into_inner().receivers == 0
        }
    })
    .await;
}

#[tokio::test]
async fn request_gets_the_first_reply_or_says_why_not() {
    let broker = broker_with(with_nats());
    let mut grpc = client(&broker).await;
    let mut responder = Nats::connect(broker.door(Door::Nats));
    responder.send(b"SUB svc.echo 1\r\n");
    responder.sync();
    let asking = tokio::spawn({
        let mut grpc = grpc.clone();
        async move {
            let request = proto::RequestRequest {
                topic: "/svc/echo".into(),
                value: Some(text("ping")),
                timeout_ms: 5_000,
            };
            grpc.request(request).await
        }
    });
    let (line, payload) = tokio::task::spawn_blocking(move || {
        let line = responder.line();
        let mut payload = Vec::new();
        let len: usize = line.rsplit(' ').next().unwrap().parse().unwrap();
        payload.resize(len + 2, 0);
        std::io::Read::read_exact(&mut responder.reader, &mut payload).unwrap();
        let reply = line.split(' ').nth(3).unwrap().to_owned();
        responder.send(format!("PUB {reply} 4\r\npong\r\n").as_bytes());
        responder.sync();
        (line, payload)
    })
    .await
    .unwrap();
    assert!(line.starts_with("MSG svc.echo 1 _INBOX."), "{line}");
    assert_eq!(&payload[..4], b"ping");
    let reply = asking.await.unwrap().expect("a reply").into_inner();
    assert_eq!(reply.value, Some(text("pong")));
    assert!(reply.topic.starts_with("/_INBOX/"), "{}", reply.topic);

    let nobody = proto::RequestRequest {
        topic: "/svc/none".into(),
        value: Some(int(1)),
        timeout_ms: 5_000,
    };
    let status = grpc.request(nobody).await.expect_err("no responders");
    assert_eq!(status.code(), Code::Unavailable, "{status:?}");

    let mut silent = Nats::connect(broker.door(Door::Nats));
    silent.send(b"SUB svc.slow 1\r\n");
    silent.sync();
    let slow = proto::RequestRequest {
        topic: "/svc/slow".into(),
        value: Some(int(1)),
        timeout_ms: 200,
    };
    let status = grpc.request(slow).await.expect_err("times out");
    assert_eq!(status.code(), Code::DeadlineExceeded, "{status:?}");
}

#[tokio::test]
async fn a_named_publisher_retrying_an_id_is_delivered_once() {
    let broker = broker_with(Config::default());
    let mut grpc = client(&broker).await;
    let (mut stream, _) = subscribed(&mut grpc, subscribe("/once")).await;
    let named = |value| {
        let mut request = tonic::Request::new(proto::PublishRequest {
            id: "order-1".into(),
            ..publish("/once", value)
        });
        request
            .metadata_mut()
            .insert(broker::grpc::NAME_KEY, "shop".parse().unwrap());
        request
    };
    let first = grpc
        .publish(named(int(1)))
        .await
        .expect("published")
        .into_inner();
    let retry = grpc
        .publish(named(int(1)))
        .await
        .expect("published")
        .into_inner();
    assert!(!first.duplicate && retry.duplicate, "{first:?} {retry:?}");
    assert_eq!((first.seq, retry.seq), (1, 1));
    assert_eq!(next_delivery(&mut stream).await.seq, 1);
    grpc.publish(publish("/once", int(2)))
        .await
        .expect("published");
    assert_eq!(
        next_delivery(&mut stream).await.seq,
        2,
        "no second copy of 1"
    );
}
