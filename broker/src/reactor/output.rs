//! [`Output`]: bytes queued for one connection and not yet taken by its socket.

use std::collections::VecDeque;
use std::io::{self, Write};
use std::time::Instant;

/// Output beyond this is compacted away once written, and buffers larger
/// than this are released by [`Output::release_if_idle`] once empty, so a
/// burst does not pin memory. They are not released as soon as they empty:
/// a busy connection would then map and fault in fresh pages on every burst
/// (that was a quarter of the broker's time with eight subscribers).
pub(super) const KEEP_CAPACITY: usize = 64 * 1024;

/// The written front of a buffer is dropped once it is this many times the
/// bytes still queued behind it, so that moving those bytes down costs at
/// most a fraction of what was written.
const COMPACT_RATIO: usize = 4;

/// A written front this large is dropped whatever is queued behind it, so a
/// buffer grows at most this much beyond what is queued.
const COMPACT_AT_MOST: usize = 4 * 1024 * 1024;

/// A connection's output buffer.
#[derive(Debug)]
pub(super) struct Output {
    buf: Vec<u8>,
    /// Bytes of `buf` already written to the socket.
    pos: usize,
    /// Bytes of long replies still queued, which the slow-consumer limit
    /// comes on top of; written bytes use it up first.
    allowance: usize,
    /// The last time the socket accepted bytes.
    last_progress: Instant,
    /// With a durable store: bytes of `buf` past this wait for their
    /// store batch to be durable (`None`: nothing waits).
    limit: Option<usize>,
    /// The batches the held bytes wait for: `(batch, end)`, bytes up to
    /// `end` are released once `batch` is durable. Ascending in both.
    marks: VecDeque<(u64, usize)>,
    /// Bytes written to the socket over the connection's life (monitoring).
    sent: u64,
}

impl Output {
    pub(super) fn new() -> Self {
        Output {
            buf: Vec::new(),
            pos: 0,
            allowance: 0,
            last_progress: Instant::now(),
            limit: None,
            marks: VecDeque::new(),
            sent: 0,
        }
    }

    /// Holds everything queued so far, until store batch `batch` is
    /// durable (what this loop turn queued may tell of its messages).
    /// Answers whether nothing was held before (no batch awaited).
    pub(super) fn hold(&mut self, batch: u64) -> bool {
        let first = self.marks.is_empty();
        self.limit.get_or_insert(self.pos);
        let end = self.buf.len();
        match self.marks.back_mut() {
            Some((b, e)) if *b == batch => *e = end,
            _ => self.marks.push_back((batch, end)),
        }
        first
    }

    /// What this loop turn queued waits behind what is already held, and
    /// goes with it; with nothing held, everything may be written.
    pub(super) fn seal(&mut self) {
        match self.marks.back_mut() {
            Some((_, e)) => *e = self.buf.len(),
            None => self.limit = None,
        }
    }

    /// Releases the bytes held for batches up to `durable`; answers whether
    /// some are still held. Bytes queued in this loop turn stay behind the
    /// limit until the turn ends ([`Output::seal`], [`Output::hold`]).
    pub(super) fn release(&mut self, durable: u64) -> bool {
        while let Some(&(batch, end)) = self.marks.front() {
            if batch > durable {
                break;
            }
            self.limit = Some(end);
            self.marks.pop_front();
        }
        !self.marks.is_empty()
    }

    /// Whether everything that may be written was, and the rest waits for
    /// the store: the client is not the one holding things up.
    pub(super) fn waits_for_store(&self) -> bool {
        self.limit
            .is_some_and(|limit| self.pos >= limit && limit < self.buf.len())
    }

    /// Forgets the first `n` bytes of the buffer (written): held offsets
    /// move with the bytes.
    fn shift(&mut self, n: usize) {
        if let Some(limit) = &mut self.limit {
            *limit -= n;
        }
        for (_, end) in &mut self.marks {
            *end -= n;
        }
    }

    /// Bytes written to the socket over the connection's life.
    pub(super) fn sent(&self) -> u64 {
        self.sent
    }

    /// The buffer to append frames to.
    pub(super) fn buffer(&mut self) -> &mut Vec<u8> {
        &mut self.buf
    }

    /// Bytes queued and not yet accepted by the socket.
    pub(super) fn pending(&self) -> usize {
        self.buf.len() - self.pos
    }

    /// Bytes the client is expected to take, which flow control weighs:
    /// what is queued, less what is held for the store (that wait is the
    /// broker's, and the store's backlog has its own bound). What this loop
    /// turn queued counts: it is offered at the end of the turn.
    pub(super) fn owed(&self) -> usize {
        let held = match (self.limit, self.marks.back()) {
            (Some(limit), Some(&(_, end))) => end - limit,
            _ => 0,
        };
        self.pending() - held
    }

    /// Bytes the slow-consumer limit is raised by, for long replies queued.
    pub(super) fn allowance(&self) -> usize {
        self.allowance
    }

    /// Raises the allowance by `n` bytes of a long reply just queued.
    pub(super) fn allow(&mut self, n: usize) {
        self.allowance += n;
    }

    /// When the socket last accepted bytes.
    pub(super) fn last_progress(&self) -> Instant {
        self.last_progress
    }

    /// Drops everything queued (the connection is being discarded).
    pub(super) fn discard(&mut self) {
        self.buf = Vec::new();
        self.pos = 0;
        self.limit = None;
        self.marks.clear();
    }

    /// Writes queued bytes until all are written or `sink` would block.
    /// Returns whether everything was written.
    ///
    /// # Errors
    /// The socket's error; the connection is then to be removed.
    pub(super) fn flush(&mut self, sink: &mut impl Write) -> io::Result<bool> {
        let end = self.limit.unwrap_or(self.buf.len());
        while self.pos < end {
            match sink.write(&self.buf[self.pos..end]) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => {
                    self.pos += n;
                    self.sent += n as u64;
                    self.allowance = self.allowance.saturating_sub(n);
                    self.last_progress = Instant::now();
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.compact();
                    return Ok(false);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        if self.pos < self.buf.len() {
            // Held for the store: the client took all it was offered, which
            // counts as progress (the wait is the broker's, not the client's).
            self.last_progress = Instant::now();
            self.compact();
            return Ok(false);
        }
        self.shift(self.pos);
        self.buf.clear();
        self.pos = 0;
        self.allowance = 0;
        Ok(true)
    }

    /// Drops the written front of a big buffer, moving the rest down, once
    /// the written bytes outweigh the rest [`COMPACT_RATIO`] times (or pass
    /// [`COMPACT_AT_MOST`]): moving the rest after every partial write
    /// copied a whole held store batch, or a slow consumer's megabytes, for
    /// each turn's worth written.
    fn compact(&mut self) {
        let due = (COMPACT_RATIO * self.pending()).clamp(KEEP_CAPACITY, COMPACT_AT_MOST);
        if self.pos >= due {
            self.buf.drain(..self.pos);
            self.shift(self.pos);
            self.pos = 0;
        }
    }

    /// Whether the buffer holds more than [`KEEP_CAPACITY`].
    pub(super) fn is_big(&self) -> bool {
        self.buf.capacity() > KEEP_CAPACITY
    }

    /// Frees a big buffer that is empty.
    pub(super) fn release_if_idle(&mut self) {
        if self.pending() == 0 && self.is_big() {
            self.buf = Vec::new();
            self.pos = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A socket that takes `per_call` bytes, then would block.
    struct Trickle {
        got: Vec<u8>,
        per_call: usize,
        open: bool,
    }

    impl Write for Trickle {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            if !std::mem::replace(&mut self.open, false) {
                return Err(io::ErrorKind::WouldBlock.into());
            }
            let n = buf.len().min(self.per_call);
            self.got.extend_from_slice(&buf[..n]);
            Ok(n)
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_slow_socket_gets_every_byte_in_order_and_the_buffer_stays_bounded() {
        let mut out = Output::new();
        let mut sink = Trickle {
            got: Vec::new(),
            per_call: 100_000,
            open: true,
        };
        let mut sent = Vec::new();
        for turn in 0..400u32 {
            // 120 KB queued per turn, 100 KB taken: about 8 MB end up queued.
            let frame: Vec<u8> = (0..120_000u32).map(|i| (i * 7 + turn) as u8).collect();
            out.buffer().extend_from_slice(&frame);
            sent.extend_from_slice(&frame);
            sink.open = true;
            assert!(!out.flush(&mut sink).unwrap());
            assert!(
                out.buf.len() <= out.pending() + COMPACT_AT_MOST + frame.len(),
                "turn {turn}: {} bytes buffered for {} queued",
                out.buf.len(),
                out.pending()
            );
        }
        sink.per_call = usize::MAX;
        sink.open = true;
        assert!(out.flush(&mut sink).unwrap());
        assert!(sink.got == sent, "every byte, in order");
    }

    #[test]
    fn held_bytes_are_not_owed_by_the_client_and_new_ones_are() {
        let mut out = Output::new();
        out.buffer().extend_from_slice(&[b'a'; 100]);
        assert_eq!(out.owed(), 100);
        // The turn ends with a batch in flight: its 100 bytes wait for it.
        out.hold(1);
        assert_eq!((out.pending(), out.owed()), (100, 0));
        // The next turn's bytes are owed until they are held in turn.
        out.buffer().extend_from_slice(&[b'b'; 30]);
        assert_eq!((out.pending(), out.owed()), (130, 30));
        out.hold(2);
        assert_eq!(out.owed(), 0);
        // Batch 1 is durable: its bytes are offered, so owed again.
        assert!(out.release(1));
        assert_eq!((out.pending(), out.owed()), (130, 100));
        let mut sink = Vec::new();
        assert!(!out.flush(&mut sink).unwrap());
        assert_eq!((sink.len(), out.pending(), out.owed()), (100, 30, 0));
        assert!(!out.release(2));
        assert!(out.flush(&mut sink).unwrap());
        assert_eq!((sink.len(), out.pending(), out.owed()), (130, 0, 0));
    }
}
