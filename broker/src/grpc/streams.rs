//! The streaming calls: `Subscribe` (a session of its own, ended by the
//! client, by `CancelSub`, or by the broker when the stream falls behind)
//! and `Session` (a session of its own, the client's requests forwarded as
//! they come, every event passed back).

use std::collections::{HashMap, VecDeque};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use futures::{Stream, StreamExt};
use tokio::sync::oneshot;
use tokio::task::AbortHandle;
use tonic::{Request, Status, Streaming};

use super::pool::Pool;
use super::session::{Reader, Session};
use super::unary::caller;
use crate::proto::{self, answer::Result as Answered, event, session_event::Kind};

/// Most requests of a Session stream forwarded with one write.
const REQUESTS_PER_WRITE: usize = 256;

/// A server stream of the API.
pub type Events<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send>>;

/// The open Subscribe streams, by subscription number, for `CancelSub`.
#[derive(Debug, Default)]
pub(super) struct Subscriptions {
    next: AtomicU64,
    open: Mutex<HashMap<u64, oneshot::Sender<()>>>,
}

impl Subscriptions {
    /// Ends the stream numbered `n`; whether one was open.
    pub(super) fn cancel(&self, n: u64) -> bool {
        let found = self
            .open
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&n);
        found.is_some_and(|stop| stop.send(()).is_ok())
    }
}

/// Takes a stream off the open list when the stream goes.
#[derive(Debug)]
struct Registration {
    n: u64,
    subscriptions: Arc<Subscriptions>,
}

impl Drop for Registration {
    fn drop(&mut self) {
        self.subscriptions
            .open
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&self.n);
    }
}

/// What a Subscribe stream carries of a session event, if anything.
fn subscribe_event(kind: Kind) -> Option<proto::Event> {
    let kind = match kind {
        Kind::Delivery(d) => event::Kind::Delivery(d),
        Kind::Gap(g) => event::Kind::Gap(g),
        Kind::Presence(p) => event::Kind::Presence(p),
        Kind::Answer(_) => return None,
    };
    Some(proto::Event { kind: Some(kind) })
}

/// A Subscribe stream's state.
struct Subscribing {
    reader: Reader,
    /// Kept so the session stays open; never written after the subscribe.
    _session_writer: super::session::Writer,
    queued: VecDeque<proto::Event>,
    stop: oneshot::Receiver<()>,
    _registration: Registration,
    ended: bool,
}

/// `Subscribe`: says the name and policy, subscribes, and streams.
pub(super) async fn subscribe(
    pool: &Pool,
    subscriptions: &Arc<Subscriptions>,
    request: Request<proto::SubscribeRequest>,
) -> Result<Events<proto::Event>, Status> {
    let (peer, _) = caller(&request)?;
    let mut asked = request.into_inner();
    let mut session = Session::open(pool.handover(), peer)?;
    let hello = proto::Hello {
        name: std::mem::take(&mut asked.name),
        slow: std::mem::take(&mut asked.slow),
    };
    let said = session
        .call(proto::session_request::Kind::Hello(hello))
        .await?;
    if let Some(refused) = said.error() {
        return Err(refused);
    }
    let epoch = said
        .answers
        .iter()
        .find_map(|a| match a {
            Answered::Hello(h) => Some(h.epoch.clone()),
            _ => None,
        })
        .unwrap_or_default();
    let n = subscriptions.next.fetch_add(1, Ordering::Relaxed) + 1;
    let subscribe = proto::session_request::Kind::Subscribe(asked);
    session.writer.send(n, subscribe).await?;
    let replay = session.until_done(n).await?;
    if let Some(refused) = replay.error() {
        return Err(refused);
    }
    let (stop_tx, stop) = oneshot::channel();
    subscriptions
        .open
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .insert(n, stop_tx);
    let mut queued = VecDeque::with_capacity(replay.events.len() + 1);
    queued.push_back(proto::Event {
        kind: Some(event::Kind::Subscribed(proto::Subscribed {
            subscription: n,
            epoch,
        })),
    });
    queued.extend(replay.events.into_iter().filter_map(subscribe_event));
    let state = Subscribing {
        reader: session.reader,
        _session_writer: session.writer,
        queued,
        stop,
        _registration: Registration {
            n,
            subscriptions: Arc::clone(subscriptions),
        },
        ended: false,
    };
    Ok(Box::pin(futures::stream::unfold(state, next_event)))
}

/// The next item of a Subscribe stream; `None` once cancelled or after the
/// status that ends it.
async fn next_event(mut s: Subscribing) -> Option<(Result<proto::Event, Status>, Subscribing)> {
    if let Some(event) = s.queued.pop_front() {
        return Some((Ok(event), s));
    }
    if s.ended {
        return None;
    }
    loop {
        tokio::select! {
            _ = &mut s.stop => return None,
            next = s.reader.next() => match next {
                Ok(kind) => {
                    if let Some(event) = subscribe_event(kind) {
                        return Some((Ok(event), s));
                    }
                }
                Err(status) => {
                    s.ended = true;
                    return Some((Err(status), s));
                }
            },
        }
    }
}

/// Aborts the task forwarding a Session's requests when its stream goes.
struct Forwarder(AbortHandle);

impl Drop for Forwarder {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// `Session`: a session of its own; requests are forwarded as they come,
/// and every event is passed back, until the client cancels the call or
/// the broker closes the session. A client that stops sending keeps its
/// session (and its subscriptions) until it cancels.
pub(super) async fn session(
    pool: &Pool,
    request: Request<Streaming<proto::SessionRequest>>,
) -> Result<Events<proto::SessionEvent>, Status> {
    let (peer, _) = caller(&request)?;
    let inbound = request.into_inner();
    let Session {
        mut writer, reader, ..
    } = Session::open(pool.handover(), peer)?;
    let forward = tokio::spawn(async move {
        let mut batches = inbound.ready_chunks(REQUESTS_PER_WRITE);
        'forwarding: while let Some(batch) = batches.next().await {
            let mut requests = Vec::with_capacity(batch.len());
            for request in batch {
                match request {
                    Ok(request) => requests.push(request),
                    Err(_) => break 'forwarding,
                }
            }
            if writer.send_all(requests).await.is_err() {
                return;
            }
        }
        // Closing the writer would end the session before its answers
        // are read: hold it until the call goes.
        std::future::pending::<()>().await;
        drop(writer);
    });
    let state = (reader, Forwarder(forward.abort_handle()), false);
    Ok(Box::pin(futures::stream::unfold(
        state,
        |(mut reader, forwarder, ended)| async move {
            if ended {
                return None;
            }
            match reader.next().await {
                Ok(kind) => Some((
                    Ok(proto::SessionEvent { kind: Some(kind) }),
                    (reader, forwarder, false),
                )),
                Err(status) => Some((Err(status), (reader, forwarder, true))),
            }
        },
    )))
}
