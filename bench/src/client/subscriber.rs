//! The subscriber worker: subscribes and waits for the confirmation, then
//! receives deliveries, checking each message arrives once and in order and
//! measuring its latency.

use std::io::Write;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use super::{Clock, Conn, End, Handler, Item, Protocol, Shared};
use crate::payload;

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
    open_confirmed(addr, proto, &proto.subscribe_request(), clock)
        .map_err(|e| format!("subscription not confirmed: {e}"))
}

/// Opens a connection, sends `request` (which must end with something the
/// broker answers with an [`Item::Ack`]) and waits for that answer.
pub fn open_confirmed(
    addr: SocketAddr,
    proto: &dyn Protocol,
    request: &[u8],
    clock: &Clock,
) -> Result<Conn, String> {
    let mut conn = Conn::connect(addr).map_err(|e| format!("connect {addr}: {e}"))?;
    conn.stream
        .write_all(request)
        .map_err(|e| format!("sending {addr}: {e}"))?;
    let mut handler = AwaitAck {
        deadline: Instant::now() + Duration::from_secs(10),
    };
    match conn.run(proto, clock, &mut handler, true) {
        End::Done => Ok(conn),
        end => Err(format!("{end:?}")),
    }
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
pub struct Receiver<'a> {
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
    let mut receiver = Receiver::new(shared);
    let end = conn.run(proto, &shared.clock, &mut receiver, true);
    receiver.finish(end)
}

impl<'a> Receiver<'a> {
    /// A subscriber that has received nothing yet.
    pub fn new(shared: &'a Shared) -> Self {
        Receiver {
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
        }
    }

    /// What it received, having stopped for `end`.
    pub fn finish(mut self, end: End) -> SubResult {
        self.result.end = end;
        self.result
    }
}
