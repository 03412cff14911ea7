//! The publisher worker: writes its share of the messages in batches, paced
//! or not, while a reader thread counts the broker's acks.

use std::io::{self, ErrorKind, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use super::{Conn, End, Handler, Item, Protocol, Shared};
use crate::payload::{self, SendTime};

/// Bytes a publisher gathers before each write (at least one frame).
const BATCH_BYTES: usize = 64 * 1024;

/// What one publisher did.
#[derive(Debug, Default)]
pub struct PubResult {
    /// Messages written.
    pub sent: u64,
    /// Clock time of the first write.
    pub first_ns: Option<u64>,
    /// Clock time just after the last write.
    pub last_ns: u64,
    /// Clock time of the last acknowledgement (with `--ack`).
    pub acked_ns: u64,
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
    /// When the last ack arrived.
    last_ns: u64,
}

impl Handler for AckCounter<'_> {
    fn item(&mut self, item: Item<'_>, now_ns: u64) -> bool {
        match item {
            Item::Ack => {
                self.acks += 1;
                self.last_ns = now_ns;
            }
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
                last_ns: 0,
            };
            let end = conn.run(proto, &shared.clock, &mut counter, false);
            (end, counter.errors, counter.last_ns)
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
            Ok((end, errors, acked_ns)) => {
                result.broker_errors = errors;
                result.acked_ns = acked_ns;
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
pub fn write_until(writer: &mut TcpStream, mut buf: &[u8], deadline: Instant) -> io::Result<()> {
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
