//! The event loop: one thread, one `mio::Poll`, all state owned here.
//!
//! Sockets are registered once for reading and writing (edge-triggered), read
//! until `WouldBlock` (or a fairness budget, after which the connection goes on
//! a backlog because no new edge will come), and written once per loop turn
//! per connection that received output, whatever the number of frames.
//!
//! A loop turn: poll; accept, read and write as the events say (reading
//! hands each connection's input to its door's codec and the commands to the
//! router); read the backlog; run the timers; remove the dead connections
//! (telling the router, whose notices join this turn's output); flush.
//!
//! - [`listener`]: listening sockets, one per door, and admission.
//! - [`connection`]: one client's socket, buffers, codec and state.
//! - [`ingest`]: reading, decoding and dispatching a connection's input.
//! - [`outbox`]: the router's outbox over the connections.
//! - [`flow`]: back-pressure and slow consumers.
//! - [`drops`]: slow policy "drop": deliveries dropped, then told as gaps.
//! - [`housekeeping`]: once a second, expired history and publish ids, away
//!   clients (presence) and idle connections.
//! - [`output`], [`timers`]: a connection's output buffer; deadlines.
//! - [`durable`]: with a data directory, each turn's records to the store's
//!   writer, and the turn's output held until they are durable.
//! - [`inspect`]: answers to the monitoring side's queries, at the end of a
//!   turn (see [`crate::monitor`]).
//! - [`sides`], [`local`], [`stream`]: starting the side thread's services;
//!   sessions it hands over (gRPC) on local sockets; a connection's socket,
//!   TCP or local.

mod connection;
mod drops;
mod durable;
mod flow;
mod housekeeping;
mod ingest;
mod inspect;
mod listener;
mod local;
mod outbox;
mod output;
mod sides;
mod stream;
mod timers;

pub use local::Handover;

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use log::{debug, info, warn};
use mio::{Events, Poll, Token, Waker};
use slab::Slab;

use self::connection::{Admission, Connection, Life, Schedule};
use self::flow::FlowControl;
use self::ingest::Drain;
use self::listener::Listener;
use self::outbox::ConnOutbox;
use self::timers::TimerQueue;
use crate::core::{Command, ConnId, Router, RouterConfig};
use crate::doors::Door;
use crate::monitor::{self, EventLog, Inbox, Traffic};
use crate::side::SideThread;
use crate::Config;

const WAKER: Token = Token(0);
/// Listener tokens follow the waker's.
const FIRST_LISTENER: usize = 1;
/// Most listeners (doors) one broker opens.
const MAX_LISTENERS: usize = 15;
/// Connection tokens are slab keys shifted past the fixed tokens.
const FIRST_CONN: usize = FIRST_LISTENER + MAX_LISTENERS;
/// How often buffers left big by a burst are freed once idle.
const BUFFER_SWEEP: Duration = Duration::from_secs(1);
/// How often history past its age bound is removed (reads skip it before).
const HOUSEKEEPING: Duration = Duration::from_secs(1);

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
    listeners: Vec<Listener>,
    handle: BrokerHandle,
    config: Config,
    conns: Slab<Connection>,
    router: Router,
    flow: FlowControl,
    schedule: Schedule,
    next_serial: u64,
    /// Connections accepted over the limit only to be refused, still lingering.
    refusals: usize,
    /// The one read buffer all connections share.
    read_buf: Vec<u8>,
    /// Where a delivery is encoded once before it is copied to its recipients.
    scratch: Vec<u8>,
    /// Deliveries queued, to count each receiver once.
    deliveries: u64,
    handshakes: TimerQueue,
    /// Closing connections' deadlines.
    lingering: TimerQueue,
    /// When to retry accepting after `accept` failed.
    accept_retry: Option<Instant>,
    /// When to free idle big buffers, while some connection holds one.
    buffer_sweep: Option<Instant>,
    /// When to look for expired history and publish ids, and for idle
    /// connections (`housekeeping`).
    housekeeping: Instant,
    /// The durable store, with `--data-dir`.
    durable: Option<durable::Durable>,
    /// The monitoring side's queries, when `--http` is on.
    inbox: Option<Inbox>,
    /// The waker said queries are pending (or some were left for the next
    /// turn).
    queries_due: bool,
    /// Where the monitoring side (`--http`) and the RPC side (`--grpc`)
    /// listen, when on.
    side_addrs: sides::SideAddrs,
    /// Sessions the RPC side hands over, when `--grpc` is on.
    arrivals: Option<local::Arrivals>,
    /// The side thread, when either side is on: held only to be stopped
    /// and joined when the broker is dropped.
    _side: Option<SideThread>,
    /// Recent slow-consumer and drop events.
    events: EventLog,
    /// Per door, the traffic of its connections that have closed.
    closed_traffic: Vec<(Door, Traffic)>,
    /// When the broker started: for the uptime, and in milliseconds since
    /// the Unix epoch.
    started: (Instant, u64),
}

impl Broker {
    /// Binds a listening socket for every door the configuration opens.
    ///
    /// # Errors
    /// When an address cannot be bound or the poller cannot be created.
    pub fn bind(config: Config) -> io::Result<Broker> {
        let poll = Poll::new()?;
        let doors = config.doors();
        if doors.len() > MAX_LISTENERS {
            return Err(io::Error::other(format!(
                "{} listeners configured, at most {MAX_LISTENERS} supported",
                doors.len()
            )));
        }
        let mut listeners = Vec::with_capacity(doors.len());
        for (i, (door, addr)) in doors.into_iter().enumerate() {
            listeners.push(Listener::bind(
                poll.registry(),
                Token(FIRST_LISTENER + i),
                door,
                addr,
            )?);
        }
        let waker = Arc::new(Waker::new(poll.registry(), WAKER)?);
        let sides::Sides {
            addrs: side_addrs,
            inbox,
            arrivals,
            thread: side,
        } = sides::start(&config, &waker)?;
        let mut broker = Broker {
            poll,
            listeners,
            handle: BrokerHandle {
                waker,
                stop: Arc::new(AtomicBool::new(false)),
            },
            router: Router::new(RouterConfig {
                max_topics: config.max_topics,
                max_retained: config.max_retained_bytes,
                history: config.history,
                history_ttl: config
                    .history_ttl
                    .map(|t| u64::try_from(t.as_millis()).unwrap_or(u64::MAX)),
                epoch: fresh_epoch(),
                max_output: config.max_pending_output,
                max_subscriptions: config.max_subscriptions,
                dedup_window_ms: millis(config.dedup_window),
                dedup_max: config.dedup_max,
                away_ms: config.away.map(millis),
                max_key_bytes: config.max_key_bytes,
            }),
            housekeeping: Instant::now() + HOUSEKEEPING,
            flow: FlowControl::new(config.max_pending_output),
            config,
            conns: Slab::new(),
            schedule: Schedule::default(),
            next_serial: 0,
            refusals: 0,
            read_buf: vec![0; ingest::READ_BUF],
            scratch: Vec::new(),
            deliveries: 0,
            handshakes: TimerQueue::default(),
            lingering: TimerQueue::default(),
            accept_retry: None,
            buffer_sweep: None,
            inbox,
            queries_due: false,
            side_addrs,
            arrivals,
            _side: side,
            events: EventLog::default(),
            closed_traffic: Vec::new(),
            started: (Instant::now(), monitor::traffic::now_ms()),
            durable: None,
        };
        if let Some(store) = broker.config.store.clone() {
            broker.open_store(&store).map_err(io::Error::other)?;
        }
        Ok(broker)
    }

    /// The address of the first door (the lab protocol's) as bound, useful
    /// with port 0.
    ///
    /// # Errors
    /// As the OS reports.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listeners
            .first()
            .ok_or_else(|| io::Error::other("no listener"))?
            .local_addr()
    }

    /// Every door's address as bound.
    ///
    /// # Errors
    /// As the OS reports.
    pub fn addresses(&self) -> io::Result<Vec<(Door, SocketAddr)>> {
        self.listeners
            .iter()
            .map(|l| Ok((l.door, l.local_addr()?)))
            .collect()
    }

    /// Where the monitoring side (`--http`) listens, when it is on.
    #[must_use]
    pub fn http_addr(&self) -> Option<SocketAddr> {
        self.side_addrs.http
    }

    /// Where the RPC side (`--grpc`) listens, when it is on.
    #[must_use]
    pub fn grpc_addr(&self) -> Option<SocketAddr> {
        self.side_addrs.grpc
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
        for (door, addr) in self.addresses()? {
            info!("{} door listening on {addr}", door.name());
        }
        if let Some(addr) = self.http_addr() {
            info!("http monitoring listening on {addr}");
        }
        if let Some(addr) = self.grpc_addr() {
            info!("grpc listening on {addr}");
        }
        info!("numbering epoch {}", self.router.epoch());
        let mut events = Events::with_capacity(1024);
        loop {
            let timeout = self.poll_timeout();
            if let Err(e) = self.poll.poll(&mut events, timeout) {
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(e);
            }
            self.router.tick();
            for event in &events {
                match event.token() {
                    WAKER => {
                        if self.handle.stop.load(Ordering::SeqCst) {
                            info!("shutting down ({} connections open)", self.conns.len());
                            self.close_store();
                            return Ok(());
                        }
                        self.store_progress();
                        self.queries_due |= self.inbox.as_ref().is_some_and(Inbox::take_pending);
                        self.accept_local();
                    }
                    Token(t) if t < FIRST_CONN => self.accept(t - FIRST_LISTENER),
                    Token(t) => {
                        let id = ConnId(t - FIRST_CONN);
                        if event.is_writable() {
                            self.on_writable(id);
                        }
                        if event.is_read_closed() || event.is_error() || event.is_priority() {
                            self.read(id, Drain::Empty);
                        } else if event.is_readable() {
                            self.read(id, Drain::Short);
                        }
                    }
                }
            }
            self.run_backlog();
            // Timers may queue a farewell, so they run before the flush.
            self.check_timers();
            self.reap();
            self.flush_dirty();
            self.answer_queries();
        }
    }

    /// An outbox over the connections, for the router.
    #[inline]
    fn outbox(&mut self) -> (&mut Router, ConnOutbox<'_>) {
        (
            &mut self.router,
            ConnOutbox {
                conns: &mut self.conns,
                flow: &mut self.flow,
                schedule: &mut self.schedule,
                scratch: &mut self.scratch,
                deliveries: &mut self.deliveries,
                events: &mut self.events,
                stall: false,
            },
        )
    }

    fn on_writable(&mut self, id: ConnId) {
        let Some(conn) = self.conns.get(id.0) else {
            return;
        };
        if conn.is_dead() || conn.output.pending() == 0 {
            return;
        }
        if !self.may_write_now() {
            // Flushed at the end of the turn, once its records are sent.
            if let Some(conn) = self.conns.get_mut(id.0) {
                self.schedule.mark_dirty(id, conn);
            }
            return;
        }
        self.flush(id);
        self.flow
            .resume(&mut self.conns, &mut self.schedule.backlog);
    }

    /// Schedules the sweep of idle big buffers if `id` holds one.
    fn watch_buffers(&mut self, id: ConnId) {
        let big = self
            .conns
            .get(id.0)
            .is_some_and(Connection::holds_big_buffers);
        if big && self.buffer_sweep.is_none() {
            self.buffer_sweep = Some(Instant::now() + BUFFER_SWEEP);
        }
    }

    fn flush(&mut self, id: ConnId) {
        self.watch_buffers(id);
        let Some(conn) = self.conns.get_mut(id.0) else {
            return;
        };
        let mut result = conn.output.flush(&mut conn.stream);
        if result.is_ok() {
            let limit = self.config.max_pending_output;
            if drops::settle(id, conn, limit, self.router.epoch()) {
                result = conn.output.flush(&mut conn.stream);
            }
        }
        match result {
            Ok(done) => {
                if done && conn.life() == Life::Closing {
                    conn.shutdown_write();
                }
                self.flow.flushed(conn);
            }
            Err(e) => {
                debug!("conn {} write error: {e}", id.0);
                self.schedule.doom(id, conn);
            }
        }
    }

    fn run_backlog(&mut self) {
        for id in std::mem::take(&mut self.schedule.backlog) {
            self.read(id, Drain::Empty);
        }
    }

    fn flush_dirty(&mut self) {
        let batch = self.store_turn();
        while let Some(id) = self.schedule.dirty.pop() {
            if let Some(conn) = self.conns.get_mut(id.0) {
                Schedule::clean(conn);
                if !conn.is_dead() {
                    self.end_subscriptions(id);
                    self.hold_output(id, batch);
                    self.flush(id);
                }
            }
        }
        self.flow
            .resume(&mut self.conns, &mut self.schedule.backlog);
    }

    /// Cancels in the router the subscriptions of `id` that its codec ended
    /// by itself (what that makes the router say to others is flushed in
    /// this turn: they are marked dirty).
    fn end_subscriptions(&mut self, id: ConnId) {
        while let Some(tag) = self.conns.get_mut(id.0).and_then(|c| c.codec.take_ended()) {
            let (router, mut outbox) = self.outbox();
            router.handle(id, Command::Unsubscribe(tag), &mut outbox);
        }
    }

    /// Removes the dead connections, telling the router; what that makes it
    /// send others is flushed in this turn.
    fn reap(&mut self) {
        while let Some(id) = self.schedule.closing.pop() {
            let Some(conn) = self.conns.get(id.0) else {
                continue;
            };
            let deadline = Instant::now() + self.config.linger;
            self.lingering.push(deadline, id, conn.serial);
            let (router, mut outbox) = self.outbox();
            router.disconnect(id, &mut outbox);
        }
        while let Some(id) = self.schedule.dead.pop() {
            let Some(mut conn) = self.conns.try_remove(id.0) else {
                continue;
            };
            let _ = self.poll.registry().deregister(&mut conn.stream);
            self.flow.forget(id);
            if conn.admission == Admission::Refused {
                self.refusals -= 1;
            }
            self.fold_traffic(&conn);
            let (router, mut outbox) = self.outbox();
            router.disconnect(id, &mut outbox);
            info!("conn {} ({}) closed", id.0, conn.peer);
        }
    }
}

/// A duration in whole milliseconds (saturating).
fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// A new epoch name for this start: without a durable store, numbering
/// restarts at each start, so the name must differ from every earlier
/// start's. The start time in nanoseconds and the process id make it so on
/// one machine.
fn fresh_epoch() -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!("{:x}-{:x}", nanos, std::process::id())
}
