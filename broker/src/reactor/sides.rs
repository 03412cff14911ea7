//! Starting the side thread ([`crate::side`]) with the services the
//! configuration turns on, and the reactor's ends of their channels: the
//! monitoring side's queries (`--http`) and the sessions the RPC side
//! hands over (`--grpc`).

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use mio::Waker;

use super::local::{self, Arrivals};
use crate::grpc::GrpcServer;
use crate::http::HttpServer;
use crate::monitor::{self, Inbox};
use crate::side::SideThread;
use crate::Config;

/// Where the side thread's services listen.
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct SideAddrs {
    /// The monitoring side, with `--http`.
    pub http: Option<SocketAddr>,
    /// The RPC side, with `--grpc`.
    pub grpc: Option<SocketAddr>,
}

/// The side thread and the reactor's ends of its channels.
#[derive(Debug)]
pub(super) struct Sides {
    pub addrs: SideAddrs,
    /// The monitoring side's queries.
    pub inbox: Option<Inbox>,
    /// The RPC side's sessions.
    pub arrivals: Option<Arrivals>,
    /// The thread, when any service is on.
    pub thread: Option<SideThread>,
}

/// Binds every side service `config` turns on (so a bad address fails the
/// start) and starts the side thread if there is any; each wakes the
/// reactor through `waker`.
pub(super) fn start(config: &Config, waker: &Arc<Waker>) -> io::Result<Sides> {
    let mut services = Vec::new();
    let mut addrs = SideAddrs::default();
    let inbox = match config.http {
        Some(addr) => {
            let (asker, inbox) = monitor::query::channel(Arc::clone(waker));
            let http = HttpServer::bind(addr, asker)?;
            addrs.http = Some(http.addr);
            services.push(http.service());
            Some(inbox)
        }
        None => None,
    };
    let arrivals = match config.grpc {
        Some(addr) => {
            let (handover, arrivals) = local::channel(Arc::clone(waker));
            let grpc = GrpcServer::bind(addr, handover, config.max_message)?;
            addrs.grpc = Some(grpc.addr);
            services.push(grpc.service());
            Some(arrivals)
        }
        None => None,
    };
    let thread = if services.is_empty() {
        None
    } else {
        Some(SideThread::start(services)?)
    };
    Ok(Sides {
        addrs,
        inbox,
        arrivals,
        thread,
    })
}
