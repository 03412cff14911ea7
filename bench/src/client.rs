//! What the three targets have in common: the [`Protocol`] each of them
//! implements, the receive loop ([`Conn`]) and the publisher and subscriber
//! workers built on them.
//!
//! Plain threads and blocking sockets: a publisher builds many frames into
//! one buffer and writes it with one call; a subscriber reads 64 KiB at a
//! time and decodes every complete frame in its buffer. Sockets carry short
//! timeouts so that every loop can check its deadline.

use std::io::{self, ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use crate::payload::{self, SendTime};

/// Bytes asked for by every read.
const READ_SIZE: usize = 64 * 1024;
/// Bytes a publisher gathers before each write (at least one frame).
const BATCH_BYTES: usize = 64 * 1024;
/// Socket timeout: how often blocked loops look at their deadlines.
const POLL: Duration = Duration::from_millis(100);

/// One thing decoded from a broker's byte stream.
#[derive(Debug)]
pub enum Item<'a> {
    /// A message on the benchmark topic; the slice starts at its text
    /// (`t=... s=...`).
    Delivery(&'a [u8]),
    /// The reply that confirms a request: the answer to LIST (lab), PONG
    /// (NATS), the subscribe confirmation or an integer reply to PUBLISH
    /// (Redis).
    Ack,
    /// Something to answer at once (a NATS `PING`): the bytes to send back.
    Respond(&'static [u8]),
    /// An error report from the broker, as received.
    Error(&'a [u8]),
    /// Anything else (greetings, retained messages, topic announcements).
    Other,
}

/// How the benchmark talks to one kind of broker.
pub trait Protocol: Sync {
    /// Bytes that open a subscriber connection, subscribe to the benchmark
    /// topic and ask for one [`Item::Ack`] proving the subscription is active.
    fn subscribe_request(&self) -> Vec<u8>;
    /// Bytes that open a publisher connection (may be empty).
    fn publisher_hello(&self) -> Vec<u8>;
    /// Bytes a publisher sends after its last message so that the broker's
    /// answer proves all of them were read (may be empty).
    fn sync_request(&self) -> Vec<u8>;
    /// How many [`Item::Ack`]s a publisher of `messages` messages waits for.
    fn expected_acks(&self, messages: u64) -> u64;
    /// One complete publish frame whose message text is `size` bytes or makes
    /// the frame's payload about `size` bytes (target-specific), with the text
    /// built by [`payload::template`]; returns the frame and the offset of
    /// the text in it.
    fn publish_template(&self, size: usize) -> Result<(Vec<u8>, usize), String>;
    /// Decodes the first item of `buf`: `Ok(None)` when more bytes are needed,
    /// else the bytes consumed and the item.
    fn decode<'a>(&self, buf: &'a [u8]) -> Result<Option<(usize, Item<'a>)>, String>;
}

/// Returns the position of `needle` in `haystack`.
pub fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// The run's common clock: every timestamp is nanoseconds since `base`.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    base: Instant,
}

impl Clock {
    /// Starts the clock now.
    pub fn new() -> Self {
        Self {
            base: Instant::now(),
        }
    }

    /// Nanoseconds since the clock started.
    pub fn now_ns(&self) -> u64 {
        self.base.elapsed().as_nanos() as u64
    }
}

/// Why a receive loop ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum End {
    /// The handler had everything it waited for.
    Done,
    /// The broker closed the connection.
    Eof,
    /// The deadline passed.
    TimedOut,
    /// Nothing arrived for the idle limit after the publishers had finished.
    Idle,
    /// Stopped from outside (the publisher's writer failed).
    Stopped,
    /// A socket or protocol error.
    Failed(String),
}

/// What a receive loop does with the items it decodes.
trait Handler {
    /// Handles one item received at `now_ns`; `true` ends the loop.
    fn item(&mut self, item: Item<'_>, now_ns: u64) -> bool;
    /// Called after each read attempt; `Some` ends the loop.
    fn check(&mut self) -> Option<End>;
}

/// A connection to the broker with its receive buffer.
#[derive(Debug)]
pub struct Conn {
    stream: TcpStream,
    buf: Vec<u8>,
    /// Start of the bytes not decoded yet.
    start: usize,
    /// End of the bytes received.
    end: usize,
}

impl Conn {
    /// Connects to `addr` with short socket timeouts and Nagle off.
    pub fn connect(addr: SocketAddr) -> io::Result<Self> {
        let stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
        stream.set_nodelay(true)?;
        stream.set_read_timeout(Some(POLL))?;
        stream.set_write_timeout(Some(POLL))?;
        Ok(Self {
            stream,
            buf: vec![0; 2 * READ_SIZE],
            start: 0,
            end: 0,
        })
    }

    /// Reads once, appending to the buffer; `Ok(0)` at end of stream.
    fn fill(&mut self) -> io::Result<usize> {
        if self.start > 0 {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        if self.buf.len() - self.end < READ_SIZE {
            self.buf.resize(self.end + READ_SIZE, 0);
        }
        let n = self.stream.read(&mut self.buf[self.end..])?;
        self.end += n;
        Ok(n)
    }

    /// Reads and decodes until the handler is satisfied or gives up. With
    /// `answer`, [`Item::Respond`] bytes are written back at once; without,
    /// they are dropped (for a connection another thread writes to).
    fn run(
        &mut self,
        proto: &dyn Protocol,
        clock: &Clock,
        handler: &mut impl Handler,
        answer: bool,
    ) -> End {
        let mut now_ns = clock.now_ns();
        loop {
            loop {
                let (used, item) = match proto.decode(&self.buf[self.start..self.end]) {
                    Ok(Some(decoded)) => decoded,
                    Ok(None) => break,
                    Err(e) => return End::Failed(format!("bad data from broker: {e}")),
                };
                self.start += used;
                if let Item::Respond(bytes) = item {
                    if answer {
                        if let Err(e) = self.stream.write_all(bytes) {
                            return End::Failed(e.to_string());
                        }
                    }
                } else if handler.item(item, now_ns) {
                    return End::Done;
                }
            }
            if let Some(end) = handler.check() {
                return end;
            }
            match self.fill() {
                Ok(0) => return End::Eof,
                Ok(_) => now_ns = clock.now_ns(),
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return End::Failed(e.to_string()),
            }
        }
    }
}

/// Waits for one [`Item::Ack`] before a deadline.
struct AwaitAck {
    deadline: Instant,
}

impl Handler for AwaitAck {
    fn item(&mut self, item: Item<'_>, _now_ns: u64) -> bool {
        matches!(item, Item::Ack)
    }

    fn check(&mut self) -> Option<End> {
        (Instant::now() >= self.deadline).then_some(End::TimedOut)
    }
}

/// Opens a subscriber connection and waits until the broker confirms the
/// subscription.
pub fn subscribe(addr: SocketAddr, proto: &dyn Protocol, clock: &Clock) -> Result<Conn, String> {
    let mut conn = Conn::connect(addr).map_err(|e| format!("connect {addr}: {e}"))?;
    conn.stream
        .write_all(&proto.subscribe_request())
        .map_err(|e| format!("subscribe: {e}"))?;
    let mut handler = AwaitAck {
        deadline: Instant::now() + Duration::from_secs(10),
    };
    match conn.run(proto, clock, &mut handler, true) {
        End::Done => Ok(conn),
        end => Err(format!("subscription not confirmed: {end:?}")),
    }
}

/// State shared by all workers of a run.
#[derive(Debug)]
pub struct Shared {
    /// The common clock.
    pub clock: Clock,
    /// Messages published in total (N).
    pub count: u64,
    /// Number of publishers (P): publisher `k` sends sequence numbers
    /// `k, k + P, k + 2P, ...` below N.
    pub pubs: u64,
    /// Every loop gives up at this instant.
    pub deadline: Instant,
    /// Subscribers stop after this long without a delivery once the
    /// publishers are done.
    pub idle: Duration,
    /// Clock time at which the last publisher finished, 0 while publishing.
    pub pubs_done_ns: AtomicU64,
}

/// What one publisher did.
#[derive(Debug, Default)]
pub struct PubResult {
    /// Messages written.
    pub sent: u64,
    /// Clock time of the first write.
    pub first_ns: Option<u64>,
    /// Clock time just after the last write.
    pub last_ns: u64,
    /// Error reports received from the broker.
    pub broker_errors: Vec<String>,
    /// Why the publisher did not finish cleanly, if it did not.
    pub failure: Option<String>,
}

/// Connects a publisher (sends its greeting; nothing is confirmed yet).
pub fn connect_publisher(addr: SocketAddr, proto: &dyn Protocol) -> Result<Conn, String> {
    let mut conn = Conn::connect(addr).map_err(|e| format!("connect {addr}: {e}"))?;
    conn.stream
        .write_all(&proto.publisher_hello())
        .map_err(|e| format!("publisher hello: {e}"))?;
    Ok(conn)
}

/// Counts a publisher's acks (and broker errors) on its own thread, so that
/// replies never back up while the publisher writes.
struct AckCounter<'a> {
    expected: u64,
    acks: u64,
    errors: Vec<String>,
    deadline: Instant,
    abort: &'a AtomicBool,
}

impl Handler for AckCounter<'_> {
    fn item(&mut self, item: Item<'_>, _now_ns: u64) -> bool {
        match item {
            Item::Ack => self.acks += 1,
            Item::Error(e) if self.errors.len() < 10 => {
                self.errors.push(String::from_utf8_lossy(e).into_owned());
            }
            _ => {}
        }
        self.acks >= self.expected
    }

    fn check(&mut self) -> Option<End> {
        if self.acks >= self.expected {
            Some(End::Done)
        } else if self.abort.load(Ordering::Relaxed) {
            Some(End::Stopped)
        } else if Instant::now() >= self.deadline {
            Some(End::TimedOut)
        } else {
            None
        }
    }
}

/// Publishes publisher `index`'s share of the messages: as fast as the
/// socket takes them, or paced at `rate` messages per second.
///
/// Each batch is stamped with the time it is built, just before its write.
/// A reader thread drains the broker's replies meanwhile; the publisher ends
/// after its sync request is answered. It does not answer NATS `PING`s (two
/// writers on one socket would interleave), which is fine for runs shorter
/// than the server's ping interval times its allowed missed pongs (minutes by
/// default).
pub fn publish(
    mut conn: Conn,
    index: u64,
    rate: Option<f64>,
    template: &[u8],
    text_at: usize,
    proto: &dyn Protocol,
    shared: &Shared,
) -> PubResult {
    let mine = (shared.count + shared.pubs - 1 - index) / shared.pubs;
    let mut writer = match conn.stream.try_clone() {
        Ok(writer) => writer,
        Err(e) => {
            return PubResult {
                failure: Some(e.to_string()),
                ..PubResult::default()
            };
        }
    };
    let abort = AtomicBool::new(false);
    thread::scope(|s| {
        let reader = s.spawn(|| {
            let mut counter = AckCounter {
                expected: proto.expected_acks(mine),
                acks: 0,
                errors: Vec::new(),
                deadline: shared.deadline,
                abort: &abort,
            };
            let end = conn.run(proto, &shared.clock, &mut counter, false);
            (end, counter.errors)
        });
        let mut result = write_messages(&mut writer, mine, index, rate, template, text_at, shared);
        let sync = proto.sync_request();
        if result.failure.is_none() && !sync.is_empty() {
            if let Err(e) = write_until(&mut writer, &sync, shared.deadline) {
                result.failure = Some(format!("sync request: {e}"));
            }
        }
        if result.failure.is_some() {
            abort.store(true, Ordering::Relaxed);
        }
        match reader.join() {
            Ok((end, errors)) => {
                result.broker_errors = errors;
                if end != End::Done && result.failure.is_none() {
                    result.failure = Some(format!("waiting for the broker's replies: {end:?}"));
                }
            }
            Err(_) => result.failure = Some("reply reader panicked".into()),
        }
        result
    })
}

/// The writing half of [`publish`].
fn write_messages(
    writer: &mut TcpStream,
    mine: u64,
    index: u64,
    rate: Option<f64>,
    template: &[u8],
    text_at: usize,
    shared: &Shared,
) -> PubResult {
    let mut result = PubResult::default();
    let per_batch = (BATCH_BYTES / template.len()).max(1) as u64;
    let mut batch = Vec::with_capacity(per_batch as usize * template.len());
    let start = Instant::now();
    while result.sent < mine {
        if Instant::now() >= shared.deadline {
            result.failure = Some("deadline passed while publishing".into());
            break;
        }
        let mut n = per_batch.min(mine - result.sent);
        if let Some(rate) = rate {
            let due = ((start.elapsed().as_secs_f64() * rate) as u64 + 1).min(mine);
            if due <= result.sent {
                let next = start + Duration::from_secs_f64(result.sent as f64 / rate);
                thread::sleep(next.saturating_duration_since(Instant::now()));
                continue;
            }
            n = n.min(due - result.sent);
        }
        let now_ns = shared.clock.now_ns();
        let time = SendTime::new(now_ns);
        batch.clear();
        for j in result.sent..result.sent + n {
            let at = batch.len() + text_at;
            batch.extend_from_slice(template);
            payload::stamp(&mut batch[at..], &time, index + j * shared.pubs);
        }
        if let Err(e) = write_until(writer, &batch, shared.deadline) {
            result.failure = Some(format!("publishing: {e}"));
            break;
        }
        result.first_ns.get_or_insert(now_ns);
        result.sent += n;
        result.last_ns = shared.clock.now_ns();
    }
    result
}

/// Writes all of `buf`, giving up at `deadline`.
fn write_until(writer: &mut TcpStream, mut buf: &[u8], deadline: Instant) -> io::Result<()> {
    while !buf.is_empty() {
        match writer.write(buf) {
            Ok(0) => return Err(ErrorKind::WriteZero.into()),
            Ok(n) => buf = &buf[n..],
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                if Instant::now() >= deadline {
                    return Err(io::Error::new(ErrorKind::TimedOut, "deadline passed"));
                }
            }
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// What one subscriber received.
#[derive(Debug)]
pub struct SubResult {
    /// Distinct messages of this run received.
    pub unique: u64,
    /// Messages received more than once (extra copies).
    pub duplicates: u64,
    /// Messages that arrived after a later one from the same publisher.
    pub out_of_order: u64,
    /// Deliveries whose text could not be read or whose sequence number is
    /// not of this run.
    pub invalid: u64,
    /// Clock time of the last delivery.
    pub last_ns: u64,
    /// One-way latency of every distinct message, in nanoseconds.
    pub latencies: Vec<u64>,
    /// Error reports received from the broker.
    pub broker_errors: Vec<String>,
    /// Why the subscriber stopped.
    pub end: End,
}

/// The receiving state of one subscriber.
struct Receiver<'a> {
    shared: &'a Shared,
    result: SubResult,
    /// Bit per sequence number already received.
    seen: Vec<u64>,
    /// Per publisher, 1 + the last sequence number received (0: none yet).
    next_after: Vec<u64>,
}

impl Handler for Receiver<'_> {
    fn item(&mut self, item: Item<'_>, now_ns: u64) -> bool {
        let r = &mut self.result;
        match item {
            Item::Delivery(text) => {
                r.last_ns = now_ns;
                let Some((sent_ns, seq)) =
                    payload::parse(text).filter(|&(_, s)| s < self.shared.count)
                else {
                    r.invalid += 1;
                    return false;
                };
                let (word, bit) = ((seq / 64) as usize, 1u64 << (seq % 64));
                if self.seen[word] & bit != 0 {
                    r.duplicates += 1;
                    return false;
                }
                self.seen[word] |= bit;
                r.unique += 1;
                r.latencies.push(now_ns.saturating_sub(sent_ns));
                let last = &mut self.next_after[(seq % self.shared.pubs) as usize];
                if seq < *last {
                    r.out_of_order += 1;
                } else {
                    *last = seq + 1;
                }
                r.unique == self.shared.count
            }
            Item::Error(e) => {
                if r.broker_errors.len() < 10 {
                    r.broker_errors
                        .push(String::from_utf8_lossy(e).into_owned());
                }
                false
            }
            _ => false,
        }
    }

    fn check(&mut self) -> Option<End> {
        let now = Instant::now();
        if now >= self.shared.deadline {
            return Some(End::TimedOut);
        }
        let done_ns = self.shared.pubs_done_ns.load(Ordering::Relaxed);
        let quiet_since = done_ns.max(self.result.last_ns);
        let idle_ns = self.shared.idle.as_nanos() as u64;
        (done_ns > 0 && self.shared.clock.now_ns().saturating_sub(quiet_since) > idle_ns)
            .then_some(End::Idle)
    }
}

/// Receives deliveries on a confirmed subscription until all N messages
/// arrived, the broker closes, the deadline passes or the subscription has
/// been idle too long after the publishers finished.
pub fn receive(mut conn: Conn, proto: &dyn Protocol, shared: &Shared) -> SubResult {
    let mut receiver = Receiver {
        shared,
        result: SubResult {
            unique: 0,
            duplicates: 0,
            out_of_order: 0,
            invalid: 0,
            last_ns: 0,
            latencies: Vec::with_capacity(shared.count.min(1 << 22) as usize),
            broker_errors: Vec::new(),
            end: End::Done,
        },
        seen: vec![0; shared.count.div_ceil(64) as usize],
        next_after: vec![0; shared.pubs as usize],
    };
    let end = conn.run(proto, &shared.clock, &mut receiver, true);
    receiver.result.end = end;
    receiver.result
}
