//! Listening sockets, one per door, and the admission of new connections.

use std::io;
use std::net::{Shutdown, SocketAddr};
use std::time::{Duration, Instant};

use log::{info, warn};
use mio::net::TcpListener;
use mio::{Interest, Registry, Token};
use socket2::{Domain, Protocol, Socket, Type};

use super::connection::{Admission, Connection};
use super::stream::Stream;
use super::{Broker, FIRST_CONN};
use crate::core::ConnId;
use crate::doors::{Door, Farewell};

/// Pending connections the kernel queues before `accept`: a burst of
/// thousands of clients otherwise overflows the default 128, and the
/// overflowing ones retry their SYN only after a second or more.
const LISTEN_BACKLOG: i32 = 4096;

/// Connections refused at the connection limit that may linger at once
/// (their `ERROR` flushed, their input drained until they close, so that a
/// client that writes first still reads why). Past this, a refusal is closed
/// at once, and its reason may be lost to a reset.
const MAX_REFUSALS: usize = 64;

/// Retry delay after `accept` fails (e.g. out of file descriptors).
const ACCEPT_RETRY: Duration = Duration::from_millis(100);

/// A listening socket and the door its connections come through.
#[derive(Debug)]
pub(super) struct Listener {
    socket: TcpListener,
    /// The protocol spoken on it.
    pub(super) door: Door,
}

impl Listener {
    /// Binds `addr` with [`LISTEN_BACKLOG`] and registers it as `token`.
    pub(super) fn bind(
        registry: &Registry,
        token: Token,
        door: Door,
        addr: SocketAddr,
    ) -> io::Result<Listener> {
        let mut socket = listen(addr)?;
        registry.register(&mut socket, token, Interest::READABLE)?;
        Ok(Listener { socket, door })
    }

    /// The address as bound.
    pub(super) fn local_addr(&self) -> io::Result<SocketAddr> {
        self.socket.local_addr()
    }
}

/// A non-blocking listening socket with [`LISTEN_BACKLOG`] (the kernel caps
/// it at `net.core.somaxconn`); neither std nor mio lets the backlog be set.
fn listen(addr: SocketAddr) -> io::Result<TcpListener> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    // A restarted broker can bind while old connections sit in TIME_WAIT.
    socket.set_reuse_address(true)?;
    socket.bind(&addr.into())?;
    socket.listen(LISTEN_BACKLOG)?;
    socket.set_nonblocking(true)?;
    Ok(TcpListener::from_std(socket.into()))
}

impl Broker {
    /// Accepts every connection waiting on listener `index`.
    pub(super) fn accept(&mut self, index: usize) {
        loop {
            let Some(listener) = self.listeners.get(index) else {
                return;
            };
            let door = listener.door;
            match listener.socket.accept() {
                Ok((stream, peer)) => {
                    let _ = stream.set_nodelay(true);
                    self.admit(Stream::Tcp(stream), peer, door);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    // Edge-triggered: the queued connections will not signal
                    // again, so retry on a timer.
                    warn!("accept failed: {e}; retrying in {ACCEPT_RETRY:?}");
                    self.accept_retry = Some(Instant::now() + ACCEPT_RETRY);
                    return;
                }
            }
        }
    }

    /// Takes `stream`, accepted through `door`, as a connection (or
    /// refuses it at the connection limit, in the door's words).
    pub(super) fn admit(&mut self, mut stream: Stream, peer: SocketAddr, door: Door) {
        let codec = door.codec(&self.config);
        let open = self.conns.len() - self.refusals;
        let full = open >= self.config.max_connections;
        if full && self.refusals >= MAX_REFUSALS {
            warn!("refused {peer}: {open} connections already open (limit), and {MAX_REFUSALS} refusals lingering");
            let mut farewell = Vec::new();
            let mut codec = codec;
            codec.farewell(
                Farewell::TooManyConnections {
                    limit: self.config.max_connections,
                },
                &mut farewell,
            );
            let _ = io::Write::write(&mut stream, &farewell);
            let _ = stream.shutdown(Shutdown::Both);
            return;
        }
        let id = ConnId(self.conns.vacant_key());
        if let Err(e) = self.poll.registry().register(
            &mut stream,
            Token(id.0 + FIRST_CONN),
            // PRIORITY: a read stops at TCP urgent data with bytes queued
            // behind it, and only this flag says so (see `ingest::Drain`).
            Interest::READABLE | Interest::WRITABLE | Interest::PRIORITY,
        ) {
            warn!("could not register {peer}: {e}");
            return;
        }
        self.next_serial += 1;
        let farewell = Farewell::TooManyConnections {
            limit: self.config.max_connections,
        };
        let admission = if full {
            Admission::Refused
        } else {
            Admission::Counted
        };
        let conn = self.conns.vacant_entry().insert(Connection::new(
            stream,
            peer,
            self.next_serial,
            door,
            codec,
            admission,
            self.config.max_pending_output,
        ));
        if full {
            warn!("refused {peer}: {open} connections already open (limit)");
            conn.codec.farewell(farewell, conn.output.buffer());
            self.refusals += 1;
            self.start_closing(id);
            return;
        }
        let started = conn.codec.greet(conn.output.buffer());
        if conn.output.pending() > 0 {
            self.schedule.mark_dirty(id, conn);
        }
        info!("conn {} accepted from {peer} ({} door)", id.0, door.name());
        match started {
            // A door without a handshake: the session starts now.
            Some(profile) => {
                conn.open();
                self.router.connect(id, profile);
            }
            None => self.handshakes.push(
                Instant::now() + self.config.handshake_timeout,
                id,
                self.next_serial,
            ),
        }
    }
}
