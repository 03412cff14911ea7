//! The RPC side (`broker --grpc ADDR`): the API of `proto/broker.proto`
//! served by tonic on the side thread ([`crate::side`]). Every call is a
//! broker session through the gRPC door ([`crate::doors::grpc`]): the side
//! thread never touches broker state, it opens sessions on local sockets
//! handed to the reactor ([`crate::reactor::Handover`]) and speaks the
//! door's messages on them (docs/grpc.md).
//!
//! - [`session`]: the side thread's end of a session.
//! - [`pool`]: idle sessions for unary calls, by client name.
//! - [`unary`]: Publish, List, History, Who, Request.
//! - [`streams`]: Subscribe, CancelSub's registry, Session.
//! - [`status`]: statuses for the broker's refusals and closed sessions.

mod pool;
mod session;
mod status;
mod streams;
mod unary;

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use log::{error, warn};
use tonic::transport::Server;
use tonic::{Request, Response, Status, Streaming};

use self::pool::Pool;
pub use self::streams::Events;
use self::streams::Subscriptions;
pub use self::unary::NAME_KEY;
use crate::proto::{self, broker_server};
use crate::reactor::Handover;
use crate::side::admission::Bounded;
use crate::side::Service;

/// gRPC connections (HTTP/2, each carrying any number of calls) open at
/// once, at most; more wait in the kernel's accept queue. Each call's
/// session counts toward the broker's connection limit besides.
pub const MAX_CONNECTIONS: usize = 1024;

/// Bytes a gRPC message may take beyond the broker's largest message: the
/// request's other fields and the value's protobuf framing.
const MESSAGE_SLACK: usize = 64 * 1024;

/// The RPC side, bound and ready to run on the side thread.
#[derive(Debug)]
pub struct GrpcServer {
    /// Where it listens, as bound.
    pub addr: SocketAddr,
    listener: std::net::TcpListener,
    api: Api,
    max_message: usize,
}

impl GrpcServer {
    /// Binds `addr` (here, so a bad address fails the start); its calls
    /// open sessions through `handover`, and take messages up to
    /// `max_message` bytes.
    ///
    /// # Errors
    /// When `addr` cannot be bound.
    pub fn bind(
        addr: SocketAddr,
        handover: Handover,
        max_message: usize,
    ) -> io::Result<GrpcServer> {
        let listener = std::net::TcpListener::bind(addr)
            .map_err(|e| io::Error::new(e.kind(), format!("gRPC (--grpc) on {addr}: {e}")))?;
        listener.set_nonblocking(true)?;
        Ok(GrpcServer {
            addr: listener.local_addr()?,
            listener,
            api: Api {
                pool: Pool::new(handover),
                subscriptions: Arc::default(),
            },
            max_message,
        })
    }

    /// Its work on the side thread: serving until the runtime ends.
    #[must_use]
    pub fn service(self) -> Service {
        Box::new(move || Box::pin(serve(self)))
    }
}

/// Serves the API on the bound listener.
async fn serve(server: GrpcServer) {
    let listener = match tokio::net::TcpListener::from_std(server.listener) {
        Ok(l) => l,
        Err(e) => {
            error!("gRPC: {e}");
            return;
        }
    };
    let incoming = Bounded::new(listener, MAX_CONNECTIONS).incoming();
    let limit = server.max_message.saturating_add(MESSAGE_SLACK);
    let api = broker_server::BrokerServer::new(server.api)
        .max_decoding_message_size(limit)
        .max_encoding_message_size(limit.max(4 * 1024 * 1024));
    if let Err(e) = Server::builder()
        .add_service(api)
        .serve_with_incoming(incoming)
        .await
    {
        warn!("gRPC stopped: {e}");
    }
}

/// A fresh reply inbox: `/_INBOX/` then a number unique in this process
/// and the time, so that inboxes of a restarted broker differ too.
fn inbox() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!("/_INBOX/grpc{nanos:x}x{n:x}")
}

/// The service's handlers and what they share.
#[derive(Debug, Clone)]
struct Api {
    pool: Pool,
    subscriptions: Arc<Subscriptions>,
}

#[tonic::async_trait]
impl broker_server::Broker for Api {
    async fn publish(
        &self,
        request: Request<proto::PublishRequest>,
    ) -> Result<Response<proto::PubAck>, Status> {
        unary::publish(&self.pool, request).await.map(Response::new)
    }

    type SubscribeStream = Events<proto::Event>;

    async fn subscribe(
        &self,
        request: Request<proto::SubscribeRequest>,
    ) -> Result<Response<Self::SubscribeStream>, Status> {
        streams::subscribe(&self.pool, &self.subscriptions, request)
            .await
            .map(Response::new)
    }

    async fn cancel_sub(
        &self,
        request: Request<proto::CancelSubRequest>,
    ) -> Result<Response<proto::CancelSubReply>, Status> {
        let cancelled = self.subscriptions.cancel(request.into_inner().subscription);
        Ok(Response::new(proto::CancelSubReply { cancelled }))
    }

    async fn list(
        &self,
        request: Request<proto::ListRequest>,
    ) -> Result<Response<proto::TopicList>, Status> {
        unary::list(&self.pool, request).await.map(Response::new)
    }

    async fn history(
        &self,
        request: Request<proto::HistoryRequest>,
    ) -> Result<Response<proto::HistoryReply>, Status> {
        unary::history(&self.pool, request).await.map(Response::new)
    }

    async fn request(
        &self,
        request: Request<proto::RequestRequest>,
    ) -> Result<Response<proto::Delivery>, Status> {
        unary::request(&self.pool, request).await.map(Response::new)
    }

    async fn who(
        &self,
        request: Request<proto::WhoRequest>,
    ) -> Result<Response<proto::WhoReply>, Status> {
        unary::who(&self.pool, request).await.map(Response::new)
    }

    type SessionStream = Events<proto::SessionEvent>;

    async fn session(
        &self,
        request: Request<Streaming<proto::SessionRequest>>,
    ) -> Result<Response<Self::SessionStream>, Status> {
        streams::session(&self.pool, request)
            .await
            .map(Response::new)
    }
}
