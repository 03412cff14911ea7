//! The Session stream: one broker session for everything, answers
//! carrying their request's id.

mod common;

use broker::proto::{self, answer::Result as Answered, session_event::Kind, session_request};
use broker::Config;
use common::grpc::{broker_with, client, int, publish, subscribe};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Code, Streaming};

fn request(id: u64, kind: session_request::Kind) -> proto::SessionRequest {
    proto::SessionRequest {
        id,
        kind: Some(kind),
    }
}

async fn next(events: &mut Streaming<proto::SessionEvent>) -> Kind {
    tokio::time::timeout(common::WAIT, events.message())
        .await
        .expect("in time")
        .expect("no error")
        .expect("open")
        .kind
        .expect("a kind")
}

/// The events up to request `id`'s `done`, that one excluded.
async fn until_done(events: &mut Streaming<proto::SessionEvent>, id: u64) -> Vec<Kind> {
    let mut seen = Vec::new();
    loop {
        match next(events).await {
            Kind::Answer(proto::Answer {
                id: answered,
                result: Some(Answered::Done(_)),
            }) if answered == id => return seen,
            other => seen.push(other),
        }
    }
}

#[tokio::test]
async fn requests_are_answered_in_order_with_their_ids() {
    let broker = broker_with(Config::default());
    let mut grpc = client(&broker).await;
    let (send, requests) = mpsc::channel(16);
    let mut events = grpc
        .session(ReceiverStream::new(requests))
        .await
        .expect("session")
        .into_inner();

    let hello = proto::Hello {
        name: "bob".into(),
        slow: proto::SlowPolicy::Drop as i32,
    };
    send.send(request(1, session_request::Kind::Hello(hello)))
        .await
        .unwrap();
    match until_done(&mut events, 1).await.as_slice() {
        [Kind::Answer(proto::Answer {
            id: 1,
            result: Some(Answered::Hello(h)),
        })] => {
            assert!(!h.epoch.is_empty() && h.history > 0, "{h:?}");
        }
        other => panic!("{other:?}"),
    }

    send.send(request(
        5,
        session_request::Kind::Subscribe(subscribe("/s")),
    ))
    .await
    .unwrap();
    assert!(until_done(&mut events, 5).await.is_empty());
    let acked = proto::PublishRequest {
        ack: true,
        ..publish("/s/x", int(3))
    };
    send.send(request(6, session_request::Kind::Publish(acked)))
        .await
        .unwrap();
    let answers = until_done(&mut events, 6).await;
    let mut puback = None;
    let mut delivery = None;
    for kind in answers {
        match kind {
            Kind::Answer(proto::Answer {
                id: 6,
                result: Some(Answered::Puback(a)),
            }) => puback = Some(a),
            Kind::Delivery(d) => delivery = Some(d),
            other => panic!("{other:?}"),
        }
    }
    let puback = puback.expect("a PUBACK");
    assert_eq!((puback.seq, puback.receivers), (1, 1));
    let delivery = delivery.expect("its own delivery");
    assert_eq!(
        (delivery.subscription, delivery.publisher.as_str()),
        (5, "bob")
    );

    // A fire-and-forget publish (id 0) gets nothing back but its delivery.
    send.send(request(
        0,
        session_request::Kind::Publish(publish("/s/x", int(4))),
    ))
    .await
    .unwrap();
    match next(&mut events).await {
        Kind::Delivery(d) => assert_eq!((d.seq, d.subscription), (2, 5)),
        other => panic!("{other:?}"),
    }

    let bad = proto::PublishRequest {
        ack: true,
        ..publish("no/leading/slash?", int(1))
    };
    send.send(request(7, session_request::Kind::Publish(bad)))
        .await
        .unwrap();
    match until_done(&mut events, 7).await.as_slice() {
        [Kind::Answer(proto::Answer {
            id: 7,
            result: Some(Answered::Error(e)),
        })] => {
            assert_eq!(Code::from_i32(e.code), Code::InvalidArgument, "{e:?}");
        }
        other => panic!("{other:?}"),
    }
    let root = proto::PublishRequest {
        ack: true,
        ..publish("/", int(1))
    };
    send.send(request(8, session_request::Kind::Publish(root)))
        .await
        .unwrap();
    match until_done(&mut events, 8).await.as_slice() {
        [Kind::Answer(proto::Answer {
            id: 8,
            result: Some(Answered::Error(e)),
        })] => {
            assert_eq!(Code::from_i32(e.code), Code::InvalidArgument, "{e:?}");
            assert!(e.message.contains("root"), "{e:?}");
        }
        other => panic!("{other:?}"),
    }

    let unsubscribe = proto::Unsubscribe { subscription: 5 };
    send.send(request(9, session_request::Kind::Unsubscribe(unsubscribe)))
        .await
        .unwrap();
    assert!(until_done(&mut events, 9).await.is_empty());
    let ack = grpc
        .publish(publish("/s/x", int(5)))
        .await
        .expect("published")
        .into_inner();
    assert_eq!(ack.receivers, 0, "unsubscribed");

    let who = proto::WhoRequest {
        topic: "/s/*".into(),
    };
    send.send(request(10, session_request::Kind::Who(who)))
        .await
        .unwrap();
    match until_done(&mut events, 10).await.as_slice() {
        [Kind::Answer(proto::Answer {
            id: 10,
            result: Some(Answered::Error(e)),
        })] => {
            assert_eq!(Code::from_i32(e.code), Code::InvalidArgument, "{e:?}");
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn a_session_keeps_its_subscriptions_after_the_client_stops_sending() {
    let broker = broker_with(Config::default());
    let mut grpc = client(&broker).await;
    let requests = vec![request(
        1,
        session_request::Kind::Subscribe(subscribe("/k")),
    )];
    let mut events = grpc
        .session(tokio_stream::iter(requests))
        .await
        .expect("session")
        .into_inner();
    assert!(until_done(&mut events, 1).await.is_empty());
    grpc.publish(publish("/k", int(1)))
        .await
        .expect("published");
    match next(&mut events).await {
        Kind::Delivery(d) => assert_eq!((d.topic.as_str(), d.subscription), ("/k", 1)),
        other => panic!("{other:?}"),
    }
}
