//! A tonic client of the broker's RPC side, and values to and from its
//! protobuf form.

use std::net::SocketAddr;
use std::time::Duration;

use broker::proto::broker_client::BrokerClient;
use broker::proto::{self, event, value::Kind};
use broker::Config;
use tonic::transport::Channel;
use tonic::Streaming;

use super::{start_broker_with, TestBroker, WAIT};

/// A broker with the gRPC side (and `config`'s doors) on loopback.
pub fn broker_with(config: Config) -> TestBroker {
    start_broker_with(Config {
        grpc: Some(SocketAddr::from(([127, 0, 0, 1], 0))),
        ..config
    })
}

/// A client connected to `broker`'s gRPC side.
pub async fn client(broker: &TestBroker) -> BrokerClient<Channel> {
    let addr = broker.grpc.expect("--grpc is on");
    BrokerClient::connect(format!("http://{addr}"))
        .await
        .expect("connect")
}

/// An integer value.
pub fn int(n: i64) -> proto::Value {
    proto::Value {
        kind: Some(Kind::IntValue(n)),
    }
}

/// A string value.
pub fn text(s: &str) -> proto::Value {
    proto::Value {
        kind: Some(Kind::StringValue(s.to_owned())),
    }
}

/// A publish request of `value` on `topic`.
pub fn publish(topic: &str, value: proto::Value) -> proto::PublishRequest {
    proto::PublishRequest {
        topic: topic.to_owned(),
        value: Some(value),
        ..Default::default()
    }
}

/// A plain subscribe request.
pub fn subscribe(topic: &str) -> proto::SubscribeRequest {
    proto::SubscribeRequest {
        topic: topic.to_owned(),
        ..Default::default()
    }
}

/// The next event of a stream, within [`WAIT`].
pub async fn next_event(stream: &mut Streaming<proto::Event>) -> event::Kind {
    tokio::time::timeout(WAIT, stream.message())
        .await
        .expect("an event in time")
        .expect("no error")
        .expect("the stream is open")
        .kind
        .expect("an event kind")
}

/// The next delivery of a stream (failing on anything else).
pub async fn next_delivery(stream: &mut Streaming<proto::Event>) -> proto::Delivery {
    match next_event(stream).await {
        event::Kind::Delivery(d) => d,
        other => panic!("expected a delivery, got {other:?}"),
    }
}

/// Subscribes and returns the stream after its `Subscribed` event, with
/// that event.
pub async fn subscribed(
    client: &mut BrokerClient<Channel>,
    request: proto::SubscribeRequest,
) -> (Streaming<proto::Event>, proto::Subscribed) {
    let mut stream = client
        .subscribe(request)
        .await
        .expect("subscribed")
        .into_inner();
    match next_event(&mut stream).await {
        event::Kind::Subscribed(s) => (stream, s),
        other => panic!("expected Subscribed first, got {other:?}"),
    }
}

/// Waits until `check` holds, polling.
pub async fn eventually<F, Fut>(mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + WAIT;
    while !check().await {
        assert!(tokio::time::Instant::now() < deadline, "never happened");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
