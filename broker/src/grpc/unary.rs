//! The unary calls: each takes a pooled session ([`super::pool`]), sends
//! the lab request it stands for, and turns the answers into its reply or
//! status.

use std::net::SocketAddr;
use std::time::Duration;

use tonic::{Request, Status};

use super::pool::{Pool, Taken};
use super::session::Outcome;
use crate::proto::{self, answer::Result as Answered, session_event, session_request::Kind};

/// The metadata key naming the client of a unary call (presence and
/// deduplication: a publish id is remembered per name).
pub const NAME_KEY: &str = "broker-name";

/// How long a Request waits when its call does not say.
const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
/// The longest a Request waits.
const MAX_REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

/// Who is calling: the client's address and the name it gave, if any.
pub(super) fn caller<T>(request: &Request<T>) -> Result<(SocketAddr, Option<String>), Status> {
    let peer = request
        .remote_addr()
        .unwrap_or_else(|| SocketAddr::from(([0, 0, 0, 0], 0)));
    let name = match request.metadata().get(NAME_KEY) {
        None => None,
        Some(v) => Some(
            v.to_str()
                .map_err(|_| Status::invalid_argument(format!("{NAME_KEY} must be ASCII text")))?
                .to_owned(),
        ),
    };
    Ok((peer, name))
}

/// Runs one request on a pooled session and gives it back.
async fn once(
    pool: &Pool,
    peer: SocketAddr,
    name: Option<String>,
    kind: Kind,
) -> Result<Outcome, Status> {
    let mut taken = pool.take(name, peer).await?;
    let outcome = taken.session.call(kind).await?;
    pool.give_back(taken);
    Ok(outcome)
}

/// The one answer of a request, or its refusal.
fn single(outcome: Outcome, what: &str) -> Result<Answered, Status> {
    if let Some(refused) = outcome.error() {
        return Err(refused);
    }
    outcome
        .answers
        .into_iter()
        .next()
        .ok_or_else(|| Status::internal(format!("the broker did not answer {what}")))
}

/// `Publish`: always acknowledged.
pub(super) async fn publish(
    pool: &Pool,
    request: Request<proto::PublishRequest>,
) -> Result<proto::PubAck, Status> {
    let (peer, name) = caller(&request)?;
    let mut publish = request.into_inner();
    publish.ack = true;
    match single(
        once(pool, peer, name, Kind::Publish(publish)).await?,
        "a publish",
    )? {
        Answered::Puback(ack) => Ok(ack),
        other => Err(unexpected(&other)),
    }
}

/// `List`.
pub(super) async fn list(
    pool: &Pool,
    request: Request<proto::ListRequest>,
) -> Result<proto::TopicList, Status> {
    let (peer, name) = caller(&request)?;
    match single(
        once(pool, peer, name, Kind::List(request.into_inner())).await?,
        "a list",
    )? {
        Answered::Topics(list) => Ok(list),
        other => Err(unexpected(&other)),
    }
}

/// `History`.
pub(super) async fn history(
    pool: &Pool,
    request: Request<proto::HistoryRequest>,
) -> Result<proto::HistoryReply, Status> {
    let (peer, name) = caller(&request)?;
    match single(
        once(pool, peer, name, Kind::History(request.into_inner())).await?,
        "a history",
    )? {
        Answered::History(page) => Ok(page),
        other => Err(unexpected(&other)),
    }
}

/// `Who`.
pub(super) async fn who(
    pool: &Pool,
    request: Request<proto::WhoRequest>,
) -> Result<proto::WhoReply, Status> {
    let (peer, name) = caller(&request)?;
    match single(
        once(pool, peer, name, Kind::Who(request.into_inner())).await?,
        "a who",
    )? {
        Answered::Who(who) => Ok(who),
        other => Err(unexpected(&other)),
    }
}

/// `Request`: subscribes a fresh inbox, publishes with it as the reply
/// topic, waits for the first message on it, then unsubscribes. A call
/// cut short drops its session, and the inbox with it.
pub(super) async fn request(
    pool: &Pool,
    request: Request<proto::RequestRequest>,
) -> Result<proto::Delivery, Status> {
    let (peer, name) = caller(&request)?;
    let asked = request.into_inner();
    let timeout = match asked.timeout_ms {
        0 => DEFAULT_REQUEST_TIMEOUT,
        ms => Duration::from_millis(u64::from(ms)).min(MAX_REQUEST_TIMEOUT),
    };
    let mut taken = pool.take(name, peer).await?;
    let inbox = super::inbox();
    let subscription = taken.session.next_id();
    taken
        .session
        .writer
        .send(
            subscription,
            Kind::Subscribe(proto::SubscribeRequest {
                topic: inbox.clone(),
                ..Default::default()
            }),
        )
        .await?;
    let subscribed = taken.session.until_done(subscription).await?;
    if let Some(refused) = subscribed.error() {
        return Err(refused);
    }
    let publish = Kind::Publish(proto::PublishRequest {
        topic: asked.topic.clone(),
        value: asked.value,
        reply: inbox,
        ..Default::default()
    });
    let published = taken.session.call(publish).await?;
    if let Some(refused) = published.error() {
        return Err(refused);
    }
    if published
        .answers
        .iter()
        .any(|a| matches!(a, Answered::NoResponders(_)))
    {
        return Err(Status::unavailable(format!(
            "no responders: nobody subscribes to {}",
            asked.topic
        )));
    }
    let early = published
        .events
        .into_iter()
        .find_map(|e| reply_of(e, subscription));
    let reply = match early {
        Some(reply) => reply,
        None => tokio::time::timeout(timeout, wait_reply(&mut taken, subscription))
            .await
            .map_err(|_| {
                Status::deadline_exceeded(format!("no reply on {} within {timeout:?}", asked.topic))
            })??,
    };
    let cancel = Kind::Unsubscribe(proto::Unsubscribe { subscription });
    taken.session.call(cancel).await?;
    pool.give_back(taken);
    Ok(reply)
}

/// The delivery on the inbox subscription, if `event` is it.
fn reply_of(event: session_event::Kind, subscription: u64) -> Option<proto::Delivery> {
    match event {
        session_event::Kind::Delivery(d) if d.subscription == subscription => Some(d),
        _ => None,
    }
}

/// Reads until the first delivery on the inbox subscription.
async fn wait_reply(taken: &mut Taken, subscription: u64) -> Result<proto::Delivery, Status> {
    loop {
        if let Some(reply) = reply_of(taken.session.reader.next().await?, subscription) {
            return Ok(reply);
        }
    }
}

/// An answer of the wrong kind: a broken broker, not a client's fault.
fn unexpected(answer: &Answered) -> Status {
    Status::internal(format!("unexpected answer: {answer:?}"))
}
