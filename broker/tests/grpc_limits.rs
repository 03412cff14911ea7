//! Bad input and limits on the RPC side: each gets a gRPC status with a
//! clear message, never a crash, never a leaked subscription.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use broker::proto::{self, value::Kind};
use broker::Config;
use common::grpc::{
    broker_with, client, eventually, int, next_delivery, publish, subscribe, subscribed, text,
};
use common::Raw;
use tonic::Code;

#[tokio::test]
async fn bad_requests_get_invalid_argument_and_change_nothing() {
    let broker = broker_with(Config::default());
    let mut grpc = client(&broker).await;
    let nan = proto::Value {
        kind: Some(Kind::DoubleValue(f64::NAN)),
    };
    let bad_null = proto::Value {
        kind: Some(Kind::NullValue(3)),
    };
    let cases = [
        publish("relative/topic", int(1)),
        publish("/a/*", int(1)),
        publish("/a\u{1}b", int(1)),
        publish("/ok", nan),
        publish("/ok", bad_null),
        publish("/ok", text("bell \u{7}")),
        proto::PublishRequest {
            id: "x".repeat(129),
            ..publish("/ok", int(1))
        },
        proto::PublishRequest {
            reply: "/r/*".into(),
            ..publish("/ok", int(1))
        },
        publish("/", int(1)),
    ];
    for request in cases {
        let shown = format!("{request:?}");
        let status = grpc.publish(request).await.expect_err(&shown);
        assert_eq!(status.code(), Code::InvalidArgument, "{shown}: {status:?}");
        assert!(!status.message().is_empty());
    }
    let list = grpc
        .list(proto::ListRequest::default())
        .await
        .expect("list")
        .into_inner();
    assert!(
        list.topics.is_empty(),
        "nothing was created: {:?}",
        list.topics
    );

    let bad_subscribes = [
        proto::SubscribeRequest {
            slow: 9,
            ..subscribe("/s")
        },
        proto::SubscribeRequest {
            presence: true,
            ..subscribe("/s/*")
        },
        proto::SubscribeRequest {
            filter: "msg.x ==".into(),
            ..subscribe("/s")
        },
        proto::SubscribeRequest {
            group: "has space".into(),
            ..subscribe("/s")
        },
        proto::SubscribeRequest {
            name: "x".repeat(65),
            ..subscribe("/s")
        },
        subscribe("s"),
    ];
    for request in bad_subscribes {
        let shown = format!("{request:?}");
        let status = grpc.subscribe(request).await.expect_err(&shown);
        assert_eq!(status.code(), Code::InvalidArgument, "{shown}: {status:?}");
    }
    let status = grpc
        .history(proto::HistoryRequest {
            topic: "/a/*".into(),
            ..Default::default()
        })
        .await
        .expect_err("a pattern");
    assert_eq!(status.code(), Code::InvalidArgument);
    let mut named = tonic::Request::new(publish("/ok", int(1)));
    named
        .metadata_mut()
        .insert(broker::grpc::NAME_KEY, "two words".parse().unwrap());
    assert_eq!(
        grpc.publish(named).await.expect_err("a bad name").code(),
        Code::InvalidArgument
    );
    let ack = grpc
        .publish(publish("/ok", int(1)))
        .await
        .expect("still serving");
    assert_eq!(ack.into_inner().seq, 1);
}

#[tokio::test]
async fn oversized_messages_are_refused_with_resource_exhausted() {
    let broker = broker_with(Config {
        max_message: 64 * 1024,
        ..Config::default()
    });
    let mut grpc = client(&broker).await;
    let big = text(&"x".repeat(100 * 1024));
    let status = grpc
        .publish(publish("/big", big))
        .await
        .expect_err("too large");
    assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
    let huge = text(&"x".repeat(1024 * 1024));
    let status = grpc
        .publish(publish("/big", huge))
        .await
        .expect_err("over tonic's limit");
    assert!(
        matches!(status.code(), Code::ResourceExhausted | Code::OutOfRange),
        "{status:?}"
    );
    let ack = grpc
        .publish(publish("/big", int(1)))
        .await
        .expect("still serving");
    assert_eq!(ack.into_inner().seq, 1);
}

#[tokio::test]
async fn a_request_cut_by_its_deadline_leaves_no_inbox_behind() {
    let broker = broker_with(Config::default());
    let mut grpc = client(&broker).await;
    let (mut responder, _) = subscribed(&mut grpc, subscribe("/svc")).await;
    let mut call = tonic::Request::new(proto::RequestRequest {
        topic: "/svc".into(),
        value: Some(int(1)),
        timeout_ms: 10_000,
    });
    call.set_timeout(Duration::from_millis(300));
    let status = grpc.request(call).await.expect_err("past its deadline");
    assert!(
        matches!(status.code(), Code::DeadlineExceeded | Code::Cancelled),
        "{status:?}"
    );
    let asked = next_delivery(&mut responder).await;
    assert!(asked.reply.starts_with("/_INBOX/"), "{asked:?}");
    // The call's session closed with it, and its inbox subscription went
    // with the session: an answer now reaches nobody.
    eventually(|| {
        let mut grpc = grpc.clone();
        let reply = asked.reply.clone();
        async move {
            let ack = grpc
                .publish(publish(&reply, int(2)))
                .await
                .expect("published");
            ack.into_inner().receivers == 0
        }
    })
    .await;
}

#[tokio::test]
async fn a_stream_that_is_not_read_is_a_slow_consumer_and_others_go_on() {
    let broker = broker_with(Config {
        max_pending_output: 256 * 1024,
        ..Config::default()
    });
    let mut grpc = client(&broker).await;
    let (mut stuck, _) = subscribed(&mut grpc, subscribe("/flood")).await;
    let mut reader = client(&broker).await;
    let (mut reading, _) = subscribed(&mut reader, subscribe("/flood")).await;
    let reading_task = tokio::spawn(async move {
        let mut n = 0u64;
        while let Ok(Some(_)) = reading.message().await {
            n += 1;
            if n == 3_000 {
                return n;
            }
        }
        n
    });
    let mut lab = Raw::json(broker.addr);
    let payload = "y".repeat(2_000);
    tokio::task::spawn_blocking(move || {
        for _ in 0..3_000 {
            lab.publish("/flood", payload.as_str());
        }
        lab.sync();
    })
    .await
    .unwrap();
    assert_eq!(
        reading_task.await.unwrap(),
        3_000,
        "the reader got everything"
    );
    let ended = tokio::time::timeout(common::WAIT, async {
        loop {
            match stuck.message().await {
                Ok(Some(_)) => {}
                other => return other,
            }
        }
    })
    .await
    .expect("the stuck stream ends");
    let status = ended.expect_err("with a status");
    assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
}

#[tokio::test]
async fn sessions_past_the_connection_limit_are_refused() {
    let broker = broker_with(Config {
        max_connections: 2,
        nats: None,
        addr: SocketAddr::from(([127, 0, 0, 1], 0)),
        ..Config::default()
    });
    let mut grpc = client(&broker).await;
    let (_a, _) = subscribed(&mut grpc, subscribe("/a")).await;
    let (_b, _) = subscribed(&mut grpc, subscribe("/b")).await;
    let status = grpc
        .subscribe(subscribe("/c"))
        .await
        .expect_err("over the limit");
    assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
    assert!(status.message().contains("limit"), "{status:?}");
}

#[tokio::test]
async fn a_pooled_session_the_broker_closed_is_not_reused() {
    let broker = broker_with(Config {
        idle_timeout: Some(Duration::from_secs(1)),
        ..Config::default()
    });
    let mut grpc = client(&broker).await;
    let first = grpc
        .publish(publish("/idle", int(1)))
        .await
        .expect("published");
    assert_eq!(first.into_inner().seq, 1);
    // The unary session goes back to the pool, idles past the timeout and
    // is closed by the broker; the next call must not get that news.
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    let second = grpc
        .publish(publish("/idle", int(2)))
        .await
        .expect("a fresh session");
    assert_eq!(second.into_inner().seq, 2);
}
