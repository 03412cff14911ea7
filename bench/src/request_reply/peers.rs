//! The two ends of a round trip, as receive-loop handlers: the
//! [`Requester`] (sends requests, times answers) and the [`Responder`]
//! (answers every request). Each writes from inside its own receive loop,
//! once per read, on a second handle of its socket.

use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use super::wire::Exchange;
use crate::client::{write_until, Clock, End, Handler, Item};
use crate::payload::{self, SendTime};

/// Broker error reports kept per connection.
const MAX_ERRORS: usize = 10;

/// What one requester did.
#[derive(Debug)]
pub struct ReqResult {
    /// Requests written.
    pub sent: u64,
    /// Distinct answers received.
    pub answers: u64,
    /// Answers that were not one of this requester's requests (unreadable,
    /// another requester's, or a second copy).
    pub invalid: u64,
    /// Clock time of the first request.
    pub first_ns: Option<u64>,
    /// Clock time of the last answer.
    pub last_ns: u64,
    /// Round-trip time of every answer, in nanoseconds.
    pub latencies: Vec<u64>,
    /// Error reports received from the broker.
    pub broker_errors: Vec<String>,
    /// Why the requester stopped.
    pub end: End,
    /// Why writing failed, if it did.
    pub failure: Option<String>,
}

/// How a requester numbers its requests: requester `index` of `pubs` sends
/// sequence numbers `index, index + pubs, ...` below `count`, `mine` of them.
#[derive(Debug, Clone, Copy)]
pub struct Share {
    /// This requester's number.
    pub index: u64,
    /// Number of requesters.
    pub pubs: u64,
    /// Round trips of the run, all requesters together.
    pub count: u64,
    /// This requester's requests.
    pub mine: u64,
    /// Requests kept outstanding.
    pub window: u64,
}

/// One requester: keeps its window of requests outstanding, each stamped
/// with its send time, and times every answer.
#[derive(Debug)]
pub struct Requester {
    share: Share,
    template: Vec<u8>,
    text_at: usize,
    writer: TcpStream,
    batch: Vec<u8>,
    /// Bit per sequence number of this run already answered.
    seen: Vec<u64>,
    clock: Clock,
    deadline: Instant,
    /// What it did so far.
    pub result: ReqResult,
}

impl Requester {
    /// A requester writing on `writer` copies of `template` (a request whose
    /// text starts at `text_at`), on the run's `clock`.
    pub fn new(
        share: Share,
        (template, text_at): (Vec<u8>, usize),
        writer: TcpStream,
        clock: Clock,
        deadline: Instant,
    ) -> Self {
        Self {
            share,
            template,
            text_at,
            writer,
            batch: Vec::new(),
            seen: vec![0; share.count.div_ceil(64) as usize],
            clock,
            deadline,
            result: ReqResult {
                sent: 0,
                answers: 0,
                invalid: 0,
                first_ns: None,
                last_ns: 0,
                latencies: Vec::with_capacity(share.mine.min(1 << 22) as usize),
                broker_errors: Vec::new(),
                end: End::Done,
                failure: None,
            },
        }
    }

    /// Size of one request on the wire.
    pub fn frame_bytes(&self) -> usize {
        self.template.len()
    }

    /// Writes as many requests as the window allows, stamped now.
    fn send(&mut self) -> Result<(), String> {
        let r = &self.result;
        let n = (self.share.window - (r.sent - r.answers)).min(self.share.mine - r.sent);
        if n == 0 {
            return Ok(());
        }
        let now_ns = self.clock.now_ns();
        let time = SendTime::new(now_ns);
        self.batch.clear();
        for j in r.sent..r.sent + n {
            let at = self.batch.len() + self.text_at;
            self.batch.extend_from_slice(&self.template);
            let seq = self.share.index + j * self.share.pubs;
            payload::stamp(&mut self.batch[at..], &time, seq);
        }
        write_until(&mut self.writer, &self.batch, self.deadline)
            .map_err(|e| format!("sending requests: {e}"))?;
        self.result.first_ns.get_or_insert(now_ns);
        self.result.sent += n;
        Ok(())
    }
}

impl Handler for Requester {
    fn item(&mut self, item: Item<'_>, now_ns: u64) -> bool {
        let r = &mut self.result;
        match item {
            Item::Delivery(text) => {
                let share = &self.share;
                let Some((sent_ns, seq)) = payload::parse(text)
                    .filter(|&(_, s)| s < share.count && s % share.pubs == share.index)
                else {
                    r.invalid += 1;
                    return false;
                };
                let (word, bit) = ((seq / 64) as usize, 1u64 << (seq % 64));
                if self.seen[word] & bit != 0 {
                    r.invalid += 1;
                    return false;
                }
                self.seen[word] |= bit;
                r.answers += 1;
                r.last_ns = now_ns;
                r.latencies.push(now_ns.saturating_sub(sent_ns));
                r.answers == share.mine
            }
            Item::Error(e) if r.broker_errors.len() < MAX_ERRORS => {
                r.broker_errors
                    .push(String::from_utf8_lossy(e).into_owned());
                false
            }
            _ => false,
        }
    }

    fn check(&mut self) -> Option<End> {
        if Instant::now() >= self.deadline {
            return Some(End::TimedOut);
        }
        if let Err(e) = self.send() {
            self.result.failure = Some(e.clone());
            return Some(End::Failed(e));
        }
        None
    }
}

/// The responder: answers every request of a read, then writes the answers
/// at once.
pub struct Responder<'a> {
    /// The target's protocol.
    pub proto: &'a dyn Exchange,
    /// Second handle on the responder's socket.
    pub writer: TcpStream,
    /// Answers not written yet.
    pub out: Vec<u8>,
    /// Requests answered.
    pub answered: u64,
    /// Deliveries that were not requests (no reply topic).
    pub strays: u64,
    /// Error reports received from the broker.
    pub errors: Vec<String>,
    /// Set when the requesters are done.
    pub stop: &'a AtomicBool,
    /// The run's deadline.
    pub deadline: Instant,
}

impl std::fmt::Debug for Responder<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Responder")
            .field("answered", &self.answered)
            .field("strays", &self.strays)
            .finish_non_exhaustive()
    }
}

impl Handler for Responder<'_> {
    fn item(&mut self, item: Item<'_>, _now_ns: u64) -> bool {
        match item {
            Item::Request { reply, text } => {
                self.proto.answer(&mut self.out, reply, text);
                self.answered += 1;
            }
            Item::Delivery(_) => self.strays += 1,
            Item::Error(e) if self.errors.len() < MAX_ERRORS => {
                self.errors.push(String::from_utf8_lossy(e).into_owned());
            }
            _ => {}
        }
        false
    }

    fn check(&mut self) -> Option<End> {
        if !self.out.is_empty() {
            if let Err(e) = write_until(&mut self.writer, &self.out, self.deadline) {
                return Some(End::Failed(format!("sending answers: {e}")));
            }
            self.out.clear();
        }
        if self.stop.load(Ordering::Relaxed) {
            Some(End::Stopped)
        } else if Instant::now() >= self.deadline {
            Some(End::TimedOut)
        } else {
            None
        }
    }
}
