//! `--target grpc`: the broker's gRPC API with its generated tonic client.
//! Each subscriber is a Subscribe stream on its own connection; each
//! publisher, on its own connection, makes unary Publish calls one after
//! another (each waits for its PubAck), or pipelines publishes without an
//! id on a Session stream and ends with one request whose `done` proves
//! the broker read them all (`--grpc-publish`). Messages are string values
//! holding the usual text, so the subscribers' checks and latencies are
//! those of the other targets.

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::time::Duration;

use broker::proto::broker_client::BrokerClient;
use broker::proto::{self, answer, event, session_event, session_request, value};
use futures::future::join_all;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::transport::Channel;

use crate::args::{Cli, GrpcPublish};
use crate::client::{End, Handler, Item, PubResult, Receiver, Shared, SubResult};
use crate::payload;

/// The benchmark topic.
const TOPIC: &str = "/bench";
/// How often a waiting subscriber looks at its deadlines.
const POLL: Duration = Duration::from_millis(100);
/// Session requests queued ahead of the stream.
const PIPELINE: usize = 1024;

/// A client on a connection of its own.
async fn connect(addr: SocketAddr) -> Result<BrokerClient<Channel>, String> {
    BrokerClient::connect(format!("http://{addr}"))
        .await
        .map_err(|e| format!("gRPC connect to {addr}: {e}"))
}

/// A string value.
fn text(bytes: &[u8]) -> proto::Value {
    proto::Value {
        kind: Some(value::Kind::StringValue(
            String::from_utf8_lossy(bytes).into_owned(),
        )),
    }
}

/// A subscriber's stream, subscribed (its `Subscribed` event read).
pub async fn subscribe(addr: SocketAddr) -> Result<tonic::Streaming<proto::Event>, String> {
    let mut client = connect(addr).await?;
    let request = proto::SubscribeRequest {
        topic: TOPIC.into(),
        ..Default::default()
    };
    let mut stream = client
        .subscribe(request)
        .await
        .map_err(|s| format!("Subscribe: {s}"))?
        .into_inner();
    match stream.message().await {
        Ok(Some(proto::Event {
            kind: Some(event::Kind::Subscribed(_)),
        })) => Ok(stream),
        other => Err(format!("Subscribe: expected Subscribed, got {other:?}")),
    }
}

/// Receives until every message arrived, the stream ends, or a deadline.
pub async fn receive(mut stream: tonic::Streaming<proto::Event>, shared: &Shared) -> SubResult {
    let mut receiver = Receiver::new(shared);
    let end = loop {
        if let Some(end) = receiver.check() {
            break end;
        }
        let next = match tokio::time::timeout(POLL, stream.message()).await {
            Err(_) => continue,
            Ok(next) => next,
        };
        let now = shared.clock.now_ns();
        match next {
            // The retained message of an earlier run, replayed.
            Ok(Some(proto::Event {
                kind: Some(event::Kind::Delivery(d)),
            })) if d.kind != proto::DeliveryKind::Live as i32 => {}
            Ok(Some(proto::Event {
                kind: Some(event::Kind::Delivery(d)),
            })) => {
                let Some(value::Kind::StringValue(s)) = d.value.and_then(|v| v.kind) else {
                    receiver.item(Item::Other, now);
                    continue;
                };
                if receiver.item(Item::Delivery(s.as_bytes()), now) {
                    break End::Done;
                }
            }
            Ok(Some(_)) => {}
            Ok(None) => break End::Eof,
            Err(status) => break End::Failed(status.to_string()),
        }
    };
    receiver.finish(end)
}

/// Publisher `k`'s messages: sequence numbers `k, k + P, ...` below N,
/// paced at `rate` per second if given.
pub async fn publish(
    addr: SocketAddr,
    k: u64,
    how: GrpcPublish,
    rate: Option<f64>,
    size: usize,
    shared: &Shared,
) -> PubResult {
    let mut result = PubResult::default();
    let outcome = match connect(addr).await {
        Ok(client) => match how {
            GrpcPublish::Unary => unary(client, k, rate, size, shared, &mut result).await,
            GrpcPublish::Stream => stream(client, k, rate, size, shared, &mut result).await,
        },
        Err(e) => Err(e),
    };
    if let Err(e) = outcome {
        result.failure = Some(e);
    }
    result
}

/// The texts publisher `k` sends, each stamped when asked for.
struct Texts<'a> {
    template: Vec<u8>,
    next: u64,
    sent: u64,
    rate: Option<f64>,
    shared: &'a Shared,
    started: tokio::time::Instant,
}

impl<'a> Texts<'a> {
    fn new(k: u64, rate: Option<f64>, size: usize, shared: &'a Shared) -> Self {
        Texts {
            template: payload::template(size),
            next: k,
            sent: 0,
            rate,
            shared,
            started: tokio::time::Instant::now(),
        }
    }

    /// The next text, once it is due; `None` after the last.
    async fn next(&mut self) -> Option<proto::Value> {
        if self.next >= self.shared.count {
            return None;
        }
        if let Some(rate) = self.rate {
            let due = self.started + Duration::from_secs_f64(self.sent as f64 / rate);
            tokio::time::sleep_until(due).await;
        }
        let now = payload::SendTime::new(self.shared.clock.now_ns());
        payload::stamp(&mut self.template, &now, self.next);
        self.next += self.shared.pubs;
        self.sent += 1;
        Some(text(&self.template))
    }
}

async fn unary(
    mut client: BrokerClient<Channel>,
    k: u64,
    rate: Option<f64>,
    size: usize,
    shared: &Shared,
    result: &mut PubResult,
) -> Result<(), String> {
    let mut texts = Texts::new(k, rate, size, shared);
    while let Some(value) = texts.next().await {
        result.first_ns.get_or_insert(shared.clock.now_ns());
        let request = proto::PublishRequest {
            topic: TOPIC.into(),
            value: Some(value),
            ..Default::default()
        };
        client
            .publish(request)
            .await
            .map_err(|s| format!("Publish: {s}"))?;
        result.sent += 1;
    }
    result.last_ns = shared.clock.now_ns();
    result.acked_ns = result.last_ns;
    Ok(())
}

async fn stream(
    mut client: BrokerClient<Channel>,
    k: u64,
    rate: Option<f64>,
    size: usize,
    shared: &Shared,
    result: &mut PubResult,
) -> Result<(), String> {
    let (requests, queue) = mpsc::channel(PIPELINE);
    let mut events = client
        .session(ReceiverStream::new(queue))
        .await
        .map_err(|s| format!("Session: {s}"))?
        .into_inner();
    let mut texts = Texts::new(k, rate, size, shared);
    let gone = || "the session ended".to_owned();
    while let Some(value) = texts.next().await {
        result.first_ns.get_or_insert(shared.clock.now_ns());
        let publish = proto::PublishRequest {
            topic: TOPIC.into(),
            value: Some(value),
            ..Default::default()
        };
        let request = proto::SessionRequest {
            id: 0,
            kind: Some(session_request::Kind::Publish(publish)),
        };
        requests.send(request).await.map_err(|_| gone())?;
        result.sent += 1;
    }
    result.last_ns = shared.clock.now_ns();
    let sync = proto::SessionRequest {
        id: 1,
        kind: Some(session_request::Kind::List(proto::ListRequest {
            after: "~".into(),
        })),
    };
    requests.send(sync).await.map_err(|_| gone())?;
    loop {
        match events.message().await {
            Ok(Some(proto::SessionEvent {
                kind:
                    Some(session_event::Kind::Answer(proto::Answer {
                        id: 1,
                        result: Some(answer::Result::Done(_)),
                    })),
            })) => break,
            Ok(Some(proto::SessionEvent {
                kind:
                    Some(session_event::Kind::Answer(proto::Answer {
                        result: Some(answer::Result::Error(e)),
                        ..
                    })),
            })) if result.broker_errors.len() < 10 => result.broker_errors.push(e.message),
            Ok(Some(_)) => {}
            Ok(None) => return Err(gone()),
            Err(s) => return Err(format!("Session: {s}")),
        }
    }
    result.acked_ns = shared.clock.now_ns();
    Ok(())
}

/// Runs the load: subscribers subscribed first, then the publishers;
/// returns what each did.
/// `start` is called once the subscriptions are up, as the measured
/// interval begins.
pub fn run_load<T>(
    cli: &Cli,
    addr: SocketAddr,
    shared: &Shared,
    start: impl FnOnce() -> Result<T, String>,
) -> Result<(Vec<PubResult>, Vec<SubResult>, T), String> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| format!("tokio runtime: {e}"))?;
    runtime.block_on(async {
        let mut streams = Vec::new();
        for _ in 0..cli.subs {
            streams.push(subscribe(addr).await?);
        }
        let started = start()?;
        let rate = cli.rate.map(|r| r / cli.pubs as f64);
        let subs = join_all(streams.into_iter().map(|s| receive(s, shared)));
        let pubs = async {
            let pubs = join_all(
                (0..cli.pubs).map(|k| publish(addr, k, cli.grpc_publish, rate, cli.size, shared)),
            )
            .await;
            shared
                .pubs_done_ns
                .store(shared.clock.now_ns().max(1), Ordering::Relaxed);
            pubs
        };
        let (pubs, subs) = tokio::join!(pubs, subs);
        Ok((pubs, subs, started))
    })
}
