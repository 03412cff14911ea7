//! Sessions the side thread opens (gRPC, [`crate::grpc`]): each is one end
//! of a local socket pair, handed to the reactor through a channel and the
//! reactor's [`Waker`], then a connection like any other, through the gRPC
//! door. A socket rather than a channel carries the session's bytes, so
//! that a gRPC stream that is not read fills that socket and becomes a slow
//! consumer under the same rules as a TCP client's: flow control, the
//! output limit and the slow policies apply unchanged.

use std::io;
use std::net::SocketAddr;
use std::os::unix::net::UnixStream;
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::Arc;

use mio::Waker;

use super::stream::Stream;
use super::Broker;
use crate::doors::Door;

/// A session's socket on its way to the reactor.
#[derive(Debug)]
struct Arrival {
    /// The reactor's end, non-blocking.
    socket: UnixStream,
    /// The remote client it serves, for logs and monitoring.
    peer: SocketAddr,
}

/// The side thread's end: hands sessions' sockets to the reactor.
#[derive(Debug, Clone)]
pub struct Handover {
    sender: Sender<Arrival>,
    waker: Arc<Waker>,
}

impl Handover {
    /// Opens a session for the client at `peer` through `door`'s codec:
    /// returns the side thread's end of its socket pair (non-blocking).
    ///
    /// # Errors
    /// When the pair cannot be made (out of file descriptors) or the
    /// reactor is gone.
    pub fn open(&self, peer: SocketAddr) -> io::Result<UnixStream> {
        let (ours, theirs) = UnixStream::pair()?;
        ours.set_nonblocking(true)?;
        theirs.set_nonblocking(true)?;
        self.sender
            .send(Arrival {
                socket: theirs,
                peer,
            })
            .map_err(|_| io::Error::new(io::ErrorKind::NotConnected, "the broker has stopped"))?;
        self.waker.wake()?;
        Ok(ours)
    }
}

/// The reactor's end of the handover.
#[derive(Debug)]
pub(super) struct Arrivals(Receiver<Arrival>);

/// A connected handover and arrivals, waking `waker`.
pub(super) fn channel(waker: Arc<Waker>) -> (Handover, Arrivals) {
    let (sender, receiver) = mpsc::channel();
    (Handover { sender, waker }, Arrivals(receiver))
}

impl Broker {
    /// Admits every session handed over since the last wake.
    pub(super) fn accept_local(&mut self) {
        let Some(arrivals) = &self.arrivals else {
            return;
        };
        let mut sessions = Vec::new();
        while let Ok(arrival) = arrivals.0.try_recv() {
            sessions.push(arrival);
        }
        for Arrival { socket, peer } in sessions {
            let stream = mio::net::UnixStream::from_std(socket);
            self.admit(Stream::Local(stream), peer, Door::Grpc);
        }
    }
}
