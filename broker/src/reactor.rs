//! The event loop: one thread, one `mio::Poll`, all state owned here.
//!
//! Sockets are registered once for reading and writing (edge-triggered), read
//! until `WouldBlock` (or a fairness budget, after which the connection goes on
//! a backlog because no new edge will come), and written once per loop turn
//! per connection that received output, whatever the number of frames.

use std::collections::VecDeque;
use std::io::{self, Read};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use log::{debug, info, warn};
use mio::net::TcpListener;
use mio::{Events, Interest, Poll, Token, Waker};
use protocol::{frame, Format, Message, Method, HEADER_LEN};
use slab::Slab;
use socket2::{Domain, Protocol, Socket, Type};

use crate::conn::{Conn, State};
use crate::outbox::ConnOutbox;
use crate::router::Router;
use crate::{Config, ConnId};

const LISTENER: Token = Token(0);
const WAKER: Token = Token(1);
/// Connection tokens are slab keys shifted past the two fixed tokens.
const FIRST_CONN: usize = 2;
/// Size of the one read buffer all connections share.
const READ_BUF: usize = 64 * 1024;
/// How long a publisher may wait for a congested subscriber that makes no
/// progress before that subscriber is deemed stuck and ignored for stalling.
const STALL_TIMEOUT: Duration = Duration::from_millis(250);
/// How long a subscriber may stay congested, progress or not, before it is
/// deemed stuck: one that reads a little now and then must not hold its
/// publishers to its pace. A stuck subscriber stays so until it catches up,
/// and is dropped if its output reaches the limit first.
const STALL_MAX: Duration = Duration::from_secs(1);
/// Reasons for closing a connection that has not completed its handshake;
/// both name the accepted mechanisms (spec §2).
const HANDSHAKE_WRONG: &str = "handshake must be the frame JSONQueue or XMLQueue";
const HANDSHAKE_LATE: &str =
    "no handshake within the deadline: the first frame must be JSONQueue or XMLQueue";
/// How often buffers left big by a burst are freed once idle.
const BUFFER_SWEEP: Duration = Duration::from_secs(1);
/// Retry delay after `accept` fails (e.g. out of file descriptors).
const ACCEPT_RETRY: Duration = Duration::from_millis(100);

/// Pending connections the kernel queues before `accept`: a burst of
/// thousands of clients otherwise overflows the default 128, and the
/// overflowing ones retry their SYN only after a second or more.
const LISTEN_BACKLOG: i32 = 4096;

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

/// Stops a running broker from another thread.
#[derive(Debug, Clone)]
pub struct BrokerHandle {
    waker: Arc<Waker>,
    stop: Arc<AtomicBool>,
}

impl BrokerHandle {
    /// Asks the broker to stop; `Broker::run` returns soon after.
    pub fn shutdown(&self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Err(e) = self.waker.wake() {
            warn!("could not wake the broker to stop it: {e}");
        }
    }
}

/// A bound, not yet running broker.
#[derive(Debug)]
pub struct Broker {
    poll: Poll,
    listener: TcpListener,
    handle: BrokerHandle,
    config: Config,
    conns: Slab<Conn>,
    router: Router,
    next_serial: u64,
    read_buf: Vec<u8>,
    dirty: Vec<ConnId>,
    dead: Vec<ConnId>,
    backlog: Vec<ConnId>,
    congested: Vec<ConnId>,
    stalled: Vec<ConnId>,
    /// Handshake deadlines in accept order, which is deadline order.
    handshakes: VecDeque<(Instant, ConnId, u64)>,
    /// Closing connections' deadlines, in deadline order.
    lingering: VecDeque<(Instant, ConnId, u64)>,
    accept_retry: Option<Instant>,
    /// When to free idle big buffers, while some connection holds one.
    buffer_sweep: Option<Instant>,
}

impl Broker {
    /// Binds the listening socket.
    ///
    /// # Errors
    /// When the address cannot be bound or the poller cannot be created.
    pub fn bind(config: Config) -> io::Result<Broker> {
        let poll = Poll::new()?;
        let mut listener = listen(config.addr)?;
        poll.registry()
            .register(&mut listener, LISTENER, Interest::READABLE)?;
        let waker = Arc::new(Waker::new(poll.registry(), WAKER)?);
        let router = Router::with_limits(config.max_topics, config.max_retained_bytes);
        Ok(Broker {
            poll,
            listener,
            handle: BrokerHandle {
                waker,
                stop: Arc::new(AtomicBool::new(false)),
            },
            config,
            conns: Slab::new(),
            router,
            next_serial: 0,
            read_buf: vec![0; READ_BUF],
            dirty: Vec::new(),
            dead: Vec::new(),
            backlog: Vec::new(),
            congested: Vec::new(),
            stalled: Vec::new(),
            handshakes: VecDeque::new(),
            lingering: VecDeque::new(),
            accept_retry: None,
            buffer_sweep: None,
        })
    }

    /// The address actually bound (useful with port 0).
    ///
    /// # Errors
    /// As the OS reports.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// A handle that stops the broker.
    #[must_use]
    pub fn handle(&self) -> BrokerHandle {
        self.handle.clone()
    }

    /// Runs the event loop until [`BrokerHandle::shutdown`].
    ///
    /// # Errors
    /// Only if polling itself fails; client errors never end the loop.
    pub fn run(mut self) -> io::Result<()> {
        info!("listening on {}", self.local_addr()?);
        let mut events = Events::with_capacity(1024);
        loop {
            let timeout = self.poll_timeout();
            if let Err(e) = self.poll.poll(&mut events, timeout) {
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(e);
            }
            for event in &events {
                match event.token() {
                    LISTENER => self.accept(),
                    WAKER => {
                        if self.handle.stop.load(Ordering::SeqCst) {
                            info!("shutting down ({} connections open)", self.conns.len());
                            return Ok(());
                        }
                    }
                    Token(t) => {
                        let id = ConnId(t - FIRST_CONN);
                        if event.is_writable() {
                            self.on_writable(id);
                        }
                        if event.is_readable() || event.is_read_closed() || event.is_error() {
                            self.read(id);
                        }
                    }
                }
            }
            self.run_backlog();
            // Timers may queue an ERROR, so they run before the flush.
            self.check_timers();
            self.flush_dirty();
            self.reap();
        }
    }

    fn poll_timeout(&self) -> Option<Duration> {
        if !self.backlog.is_empty() {
            return Some(Duration::ZERO);
        }
        let now = Instant::now();
        let mut next: Option<Instant> = None;
        let deadlines = [
            self.handshakes.front().map(|d| d.0),
            self.lingering.front().map(|d| d.0),
            self.accept_retry,
            self.buffer_sweep,
            (!self.congested.is_empty()).then(|| now + STALL_TIMEOUT / 5),
        ];
        for d in deadlines.into_iter().flatten() {
            next = Some(next.map_or(d, |n| n.min(d)));
        }
        next.map(|d| d.saturating_duration_since(now))
    }

    fn accept(&mut self) {
        loop {
            match self.listener.accept() {
                Ok((stream, peer)) => self.admit(stream, peer),
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

    fn admit(&mut self, mut stream: mio::net::TcpStream, peer: SocketAddr) {
        if self.conns.len() >= self.config.max_connections {
            warn!(
                "refused {peer}: {} connections already open (limit)",
                self.conns.len()
            );
            let mut frame = Vec::new();
            let reason = format!(
                "too many connections (limit {})",
                self.config.max_connections
            );
            if Format::Json
                .encode(&Message::new(Method::Error, "", reason), &mut frame)
                .is_ok()
            {
                let _ = io::Write::write(&mut stream, &frame);
            }
            let _ = stream.shutdown(std::net::Shutdown::Both);
            return;
        }
        let _ = stream.set_nodelay(true);
        let entry = self.conns.vacant_entry();
        let id = ConnId(entry.key());
        if let Err(e) = self.poll.registry().register(
            &mut stream,
            Token(id.0 + FIRST_CONN),
            Interest::READABLE | Interest::WRITABLE,
        ) {
            warn!("could not register {peer}: {e}");
            return;
        }
        self.next_serial += 1;
        entry.insert(Conn::new(stream, peer, self.next_serial));
        self.handshakes.push_back((
            Instant::now() + self.config.handshake_timeout,
            id,
            self.next_serial,
        ));
        info!("conn {} accepted from {peer}", id.0);
    }

    fn on_writable(&mut self, id: ConnId) {
        let Some(conn) = self.conns.get_mut(id.0) else {
            return;
        };
        if conn.doomed || conn.pending_out() == 0 {
            return;
        }
        self.flush(id);
        self.resume_stalled();
    }

    /// Reads from `id` until `WouldBlock`, EOF, the read budget or a stall.
    fn read(&mut self, id: ConnId) {
        // Frames kept back by a stall come before anything new on the socket.
        let held = self
            .conns
            .get(id.0)
            .is_some_and(|c| c.is_open() && !c.stalled && !c.partial.is_empty());
        if held && self.ingest(id, &[]) {
            self.stall(id);
            return;
        }
        let mut buf = std::mem::take(&mut self.read_buf);
        let mut budget = self.config.read_budget;
        while let Some(conn) = self.conns.get_mut(id.0) {
            if conn.doomed || conn.stalled {
                break;
            }
            if budget == 0 {
                self.backlog.push(id);
                break;
            }
            match conn.stream.read(&mut buf) {
                Ok(0) => {
                    debug!("conn {} closed by peer", id.0);
                    self.dead.push(id);
                    conn.doomed = true;
                    break;
                }
                Ok(n) => {
                    budget = budget.saturating_sub(n);
                    if conn.state == State::Closing {
                        continue;
                    }
                    if self.ingest(id, &buf[..n]) {
                        self.stall(id);
                        break;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    debug!("conn {} read error: {e}", id.0);
                    conn.doomed = true;
                    self.dead.push(id);
                    break;
                }
            }
        }
        self.read_buf = buf;
    }

    /// Stops reading `id` until the connections it congested drain.
    fn stall(&mut self, id: ConnId) {
        if let Some(conn) = self.conns.get_mut(id.0) {
            conn.stalled = true;
            self.stalled.push(id);
        }
    }

    /// Acts on the complete frames in `data`, after completing any frame
    /// carried over from an earlier read, and keeps what it did not act on:
    /// an incomplete tail, or everything after a frame that congested a
    /// recipient. Returns whether to stall the sender.
    ///
    /// Only the bytes the carried-over frame still needs are copied; the rest
    /// is parsed in place, so large frames straddling reads are not copied twice.
    fn ingest(&mut self, id: ConnId, mut data: &[u8]) -> bool {
        let Some(conn) = self.conns.get_mut(id.0) else {
            return false;
        };
        let mut partial = std::mem::take(&mut conn.partial);
        if !partial.is_empty() {
            // At most two rounds: the rest of the header, then the rest of the payload.
            loop {
                let missing = match partial.first_chunk::<HEADER_LEN>() {
                    None => HEADER_LEN - partial.len(),
                    Some(header) => frame::parse_header(*header)
                        .map_or(0, |len| (HEADER_LEN + len).saturating_sub(partial.len())),
                };
                if missing == 0 || data.is_empty() {
                    break;
                }
                let (head, rest) = data.split_at(missing.min(data.len()));
                partial.extend_from_slice(head);
                data = rest;
            }
            if let Ok(None) = frame::decode(&partial) {
                self.keep_partial(id, partial);
                return false;
            }
            // A complete frame (or a bad header, which `process` reports).
            // After a stall the carried-over bytes may hold several frames.
            let (used, stall) = self.process(id, &partial);
            partial.drain(..used);
            if !self.conns.get(id.0).is_some_and(Conn::is_open) {
                return stall;
            }
            if !partial.is_empty() {
                partial.extend_from_slice(data);
                self.keep_partial(id, partial);
                return stall;
            }
        }
        let (used, stall) = self.process(id, data);
        partial.extend_from_slice(&data[used..]);
        self.keep_partial(id, partial);
        stall
    }

    /// Stores the incomplete tail of a read.
    fn keep_partial(&mut self, id: ConnId, partial: Vec<u8>) {
        if let Some(conn) = self.conns.get_mut(id.0).filter(|c| c.is_open()) {
            conn.partial = partial;
            if self.buffer_sweep.is_none() && conn.holds_big_buffers() {
                self.buffer_sweep = Some(Instant::now() + BUFFER_SWEEP);
            }
        }
    }

    /// Handles the whole frames at the front of `data`, up to the first that
    /// congests a recipient; returns the bytes used and whether it stopped
    /// for congestion.
    fn process(&mut self, id: ConnId, data: &[u8]) -> (usize, bool) {
        let mut pos = 0;
        let mut stall = false;
        while let Some(rest) = data.get(pos..) {
            match frame::decode(rest) {
                Ok(Some(f)) => {
                    pos += f.len;
                    // Stop right after a frame that congested a recipient: one
                    // request can queue a lot (a topic list to every
                    // subscriber), so waiting for the end of the read could
                    // overshoot the slow-consumer limit for a reader that keeps up.
                    stall = self.on_frame(id, f.payload);
                    if stall || !self.conns.get(id.0).is_some_and(Conn::is_open) {
                        break;
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    self.fail(id, &e.to_string());
                    break;
                }
            }
        }
        (pos, stall)
    }

    fn on_frame(&mut self, id: ConnId, payload: &[u8]) -> bool {
        let Some(conn) = self.conns.get_mut(id.0) else {
            return false;
        };
        match conn.state {
            State::Handshake => {
                if let Some(format) = Format::from_handshake(payload) {
                    conn.state = State::Ready(format);
                    self.router.connect(id, format);
                    info!(
                        "conn {} ({}) speaks {}",
                        id.0,
                        conn.peer,
                        format.handshake()
                    );
                } else {
                    self.fail(id, HANDSHAKE_WRONG);
                }
                false
            }
            State::Ready(_) => {
                let mut outbox = ConnOutbox {
                    conns: &mut self.conns,
                    dirty: &mut self.dirty,
                    dead: &mut self.dead,
                    congested: &mut self.congested,
                    max_pending: self.config.max_pending_output,
                    stall_threshold: self.config.max_pending_output / 8,
                    stall: false,
                };
                self.router.handle(id, payload, &mut outbox);
                outbox.stall
            }
            State::Closing => false,
        }
    }

    /// Sends one `ERROR` for a framing or handshake error and starts closing.
    fn fail(&mut self, id: ConnId, reason: &str) {
        let Some(conn) = self.conns.get_mut(id.0) else {
            return;
        };
        warn!("conn {} ({}): {reason}; closing", id.0, conn.peer);
        let format = match conn.state {
            State::Ready(f) => f,
            State::Handshake | State::Closing => Format::Json,
        };
        let mut frame = Vec::new();
        if format
            .encode(&Message::new(Method::Error, "", reason), &mut frame)
            .is_ok()
        {
            conn.queue(&frame);
        }
        conn.start_closing();
        self.router.disconnect(id);
        self.lingering
            .push_back((Instant::now() + self.config.linger, id, conn.serial));
        if !conn.dirty {
            conn.dirty = true;
            self.dirty.push(id);
        }
    }

    fn flush(&mut self, id: ConnId) {
        let Some(conn) = self.conns.get_mut(id.0) else {
            return;
        };
        if self.buffer_sweep.is_none() && conn.holds_big_buffers() {
            self.buffer_sweep = Some(Instant::now() + BUFFER_SWEEP);
        }
        match conn.flush() {
            Ok(done) => {
                if done && conn.state == State::Closing {
                    conn.shutdown_write();
                }
                // Caught up: publishers wait for it again if it falls behind.
                if conn.pending_out() <= self.config.max_pending_output / 16 {
                    conn.congested = false;
                    conn.stuck = false;
                }
            }
            Err(e) => {
                debug!("conn {} write error: {e}", id.0);
                conn.doomed = true;
                self.dead.push(id);
            }
        }
    }

    fn run_backlog(&mut self) {
        for id in std::mem::take(&mut self.backlog) {
            self.read(id);
        }
    }

    fn flush_dirty(&mut self) {
        while let Some(id) = self.dirty.pop() {
            if let Some(conn) = self.conns.get_mut(id.0) {
                conn.dirty = false;
                if !conn.doomed {
                    self.flush(id);
                }
            }
        }
        self.resume_stalled();
    }

    fn check_timers(&mut self) {
        let now = Instant::now();
        while let Some(&(deadline, id, serial)) = self.handshakes.front() {
            if deadline > now {
                break;
            }
            self.handshakes.pop_front();
            let waiting = self
                .conns
                .get(id.0)
                .is_some_and(|c| c.serial == serial && c.state == State::Handshake);
            if waiting {
                self.fail(id, HANDSHAKE_LATE);
            }
        }
        while let Some(&(deadline, id, serial)) = self.lingering.front() {
            if deadline > now {
                break;
            }
            self.lingering.pop_front();
            if let Some(conn) = self
                .conns
                .get_mut(id.0)
                .filter(|c| c.serial == serial && !c.doomed)
            {
                conn.doomed = true;
                self.dead.push(id);
            }
        }
        if self.buffer_sweep.is_some_and(|t| t <= now) {
            let mut held = false;
            for (_, conn) in &mut self.conns {
                held |= conn.release_idle_buffers();
            }
            self.buffer_sweep = held.then(|| now + BUFFER_SWEEP);
        }
        if self.accept_retry.is_some_and(|t| t <= now) {
            self.accept_retry = None;
            self.accept();
        }
        let conns = &mut self.conns;
        self.congested.retain(|id| {
            let Some(conn) = conns.get_mut(id.0) else {
                return false;
            };
            let idle = now.duration_since(conn.last_progress) > STALL_TIMEOUT;
            let long = now.duration_since(conn.congested_since) > STALL_MAX;
            if conn.congested && !conn.doomed && (idle || long) {
                warn!(
                    "conn {} ({}) reads too slowly; publishers no longer wait for it",
                    id.0, conn.peer
                );
                conn.stuck = true;
                conn.congested = false;
            }
            conn.congested && !conn.doomed
        });
        self.resume_stalled();
    }

    /// Puts stalled publishers back to work once no connection is congested.
    ///
    /// Called after every flush as well as from the timers: a flush that
    /// drains a congested connection must resume its publishers at once, or
    /// they wait for the next poll timeout.
    fn resume_stalled(&mut self) {
        let conns = &self.conns;
        self.congested
            .retain(|id| conns.get(id.0).is_some_and(|c| c.congested && !c.doomed));
        if !self.congested.is_empty() {
            return;
        }
        for id in self.stalled.drain(..) {
            if let Some(conn) = self.conns.get_mut(id.0) {
                conn.stalled = false;
                self.backlog.push(id);
            }
        }
    }

    fn reap(&mut self) {
        for id in std::mem::take(&mut self.dead) {
            if let Some(mut conn) = self.conns.try_remove(id.0) {
                let _ = self.poll.registry().deregister(&mut conn.stream);
                self.router.disconnect(id);
                info!("conn {} ({}) closed", id.0, conn.peer);
            }
        }
    }
}
