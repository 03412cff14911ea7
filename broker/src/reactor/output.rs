//! [`Output`]: bytes queued for one connection and not yet taken by its socket.

use std::io::{self, Write};
use std::time::Instant;

/// Output beyond this is compacted away once written, and buffers larger
/// than this are released by [`Output::release_if_idle`] once empty, so a
/// burst does not pin memory. They are not released as soon as they empty:
/// a busy connection would then map and fault in fresh pages on every burst
/// (that was a quarter of the broker's time with eight subscribers).
pub(super) const KEEP_CAPACITY: usize = 64 * 1024;

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
            sent: 0,
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
    }

    /// Writes queued bytes until all are written or `sink` would block.
    /// Returns whether everything was written.
    ///
    /// # Errors
    /// The socket's error; the connection is then to be removed.
    pub(super) fn flush(&mut self, sink: &mut impl Write) -> io::Result<bool> {
        while self.pos < self.buf.len() {
            match sink.write(&self.buf[self.pos..]) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => {
                    self.pos += n;
                    self.sent += n as u64;
                    self.allowance = self.allowance.saturating_sub(n);
                    self.last_progress = Instant::now();
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    if self.pos >= KEEP_CAPACITY {
                        self.buf.drain(..self.pos);
                        self.pos = 0;
                    }
                    return Ok(false);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        self.buf.clear();
        self.pos = 0;
        self.allowance = 0;
        Ok(true)
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
