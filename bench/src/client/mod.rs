//! What the three targets have in common: the [`Protocol`] each of them
//! implements, the receive loop ([`Conn`]) and the publisher and subscriber
//! workers built on them (`publisher`, `subscriber`).
//!
//! Plain threads and blocking sockets: a publisher builds many frames into
//! one buffer and writes it with one call; a subscriber reads 64 KiB at a
//! time and decodes every complete frame in its buffer. Sockets carry short
//! timeouts so that every loop can check its deadline.

mod publisher;
mod subscriber;

use std::io::{self, ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::AtomicU64;
use std::time::{Duration, Instant};

pub use self::publisher::{connect_publisher, publish, write_until, PubResult};
pub use self::subscriber::{open_confirmed, receive, subscribe, Receiver, SubResult};

/// Bytes asked for by every read.
const READ_SIZE: usize = 64 * 1024;
/// Socket timeout: how often blocked loops look at their deadlines.
const POLL: Duration = Duration::from_millis(100);

/// One thing decoded from a broker's byte stream.
#[derive(Debug)]
pub enum Item<'a> {
    /// A message on the benchmark topic; the slice starts at its text
    /// (`t=... s=...`).
    Delivery(&'a [u8]),
    /// A delivery that asks for an answer (request/reply mode): the topic or
    /// subject to answer on, and the exact message text, in the target's own
    /// escaping (to be copied into the answer as it is).
    Request {
        /// Where the answer goes.
        reply: &'a [u8],
        /// The request's message text.
        text: &'a [u8],
    },
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
pub trait Handler {
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

    /// A second handle on the socket, for a writer beside the receive loop.
    pub fn writer(&self) -> io::Result<TcpStream> {
        self.stream.try_clone()
    }

    /// Reads and decodes until the handler is satisfied or gives up. With
    /// `answer`, [`Item::Respond`] bytes are written back at once; without,
    /// they are dropped (for a connection another thread writes to).
    pub fn run(
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
