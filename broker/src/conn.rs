//! One client connection: its socket, its buffers and where it is in its life.
//!
//! ```text
//! Handshake --"JSONQueue"/"XMLQueue"--> Ready(format)
//! Handshake --anything else, or deadline--> queue ERROR (JSON) --> Closing
//! Ready     --bad header / length 0--> queue ERROR --> Closing
//! Ready     --frame that decodes wrongly--> queue ERROR, stay Ready
//! Closing   --output flushed--> shutdown(write); read and discard until EOF or linger deadline
//! any       --EOF / I/O error / output over the limit (slow consumer)--> removed
//! ```
//!
//! Complete frames are parsed straight out of the reactor's shared read
//! buffer; only the tail of an incomplete frame is copied into `partial`, so an
//! idle connection holds no buffer at all.

use std::io::{self, Write};
use std::net::{Shutdown, SocketAddr};
use std::time::Instant;

use mio::net::TcpStream;
use protocol::Format;

/// Output beyond this is compacted away once written, and buffers larger than
/// this are released by [`Conn::release_idle_buffers`] once empty, so a burst
/// does not pin memory. They are not released as soon as they empty: a busy
/// connection would then map and fault in fresh pages on every burst (that
/// was a quarter of the broker's time with eight subscribers).
pub const KEEP_CAPACITY: usize = 64 * 1024;

/// Where a connection is in its life (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Waiting for the first frame.
    Handshake,
    /// Handshake done; frames are decoded with this format.
    Ready(Format),
    /// An error was sent; the connection closes once it is flushed.
    Closing,
}

/// A client connection.
#[derive(Debug)]
pub struct Conn {
    /// The socket, registered once for reading and writing.
    pub stream: TcpStream,
    /// The peer's address, for logs.
    pub peer: SocketAddr,
    /// Distinguishes this connection from a later one reusing its slab slot,
    /// for timers that outlive it.
    pub serial: u64,
    /// Where it is in its life.
    pub state: State,
    /// Bytes of an incomplete frame carried over to the next read.
    pub partial: Vec<u8>,
    out: Vec<u8>,
    /// Bytes of `out` already written to the socket.
    out_pos: usize,
    /// Queued in the reactor's flush list.
    pub dirty: bool,
    /// Dropped (slow consumer or I/O error) and waiting to be removed.
    pub doomed: bool,
    /// Output above the stall threshold: publishers feeding it wait.
    pub congested: bool,
    /// Made no write progress for the stall timeout: nobody waits for it.
    pub stuck: bool,
    /// Not read until the connections it fed drain (readiness events are
    /// ignored meanwhile; the reactor reads it again when it resumes it).
    pub stalled: bool,
    /// The last time the socket accepted output bytes.
    pub last_progress: Instant,
    /// When it last became congested.
    pub congested_since: Instant,
    /// Bytes of long replies still queued, which the slow-consumer limit
    /// comes on top of; written bytes use it up first.
    pub allowance: usize,
}

impl Conn {
    /// A new connection waiting for its handshake.
    #[must_use]
    pub fn new(stream: TcpStream, peer: SocketAddr, serial: u64) -> Self {
        Conn {
            stream,
            peer,
            serial,
            state: State::Handshake,
            partial: Vec::new(),
            out: Vec::new(),
            out_pos: 0,
            dirty: false,
            doomed: false,
            congested: false,
            stuck: false,
            stalled: false,
            last_progress: Instant::now(),
            congested_since: Instant::now(),
            allowance: 0,
        }
    }

    /// Whether frames from this connection are still acted on.
    #[must_use]
    pub fn is_open(&self) -> bool {
        !self.doomed && self.state != State::Closing
    }

    /// Appends a frame to the output; returns the bytes now pending.
    pub fn queue(&mut self, frame: &[u8]) -> usize {
        self.out.extend_from_slice(frame);
        self.pending_out()
    }

    /// Bytes queued and not yet accepted by the socket.
    #[must_use]
    pub fn pending_out(&self) -> usize {
        self.out.len() - self.out_pos
    }

    /// Drops all queued output (the connection is being discarded).
    pub fn discard_output(&mut self) {
        self.out = Vec::new();
        self.out_pos = 0;
    }

    /// Writes queued output until it is all written or the socket is full.
    ///
    /// Returns whether everything was written.
    ///
    /// # Errors
    /// The socket's error; the connection is then to be removed.
    pub fn flush(&mut self) -> io::Result<bool> {
        while self.out_pos < self.out.len() {
            match self.stream.write(&self.out[self.out_pos..]) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => {
                    self.out_pos += n;
                    self.allowance = self.allowance.saturating_sub(n);
                    self.last_progress = Instant::now();
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    if self.out_pos >= KEEP_CAPACITY {
                        self.out.drain(..self.out_pos);
                        self.out_pos = 0;
                    }
                    return Ok(false);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        self.out.clear();
        self.out_pos = 0;
        self.allowance = 0;
        Ok(true)
    }

    /// Whether an empty buffer larger than [`KEEP_CAPACITY`] is held.
    #[must_use]
    pub fn holds_big_buffers(&self) -> bool {
        self.out.capacity() > KEEP_CAPACITY || self.partial.capacity() > KEEP_CAPACITY
    }

    /// Frees buffers larger than [`KEEP_CAPACITY`] that are empty; returns
    /// whether a big buffer is still in use.
    pub fn release_idle_buffers(&mut self) -> bool {
        if self.pending_out() == 0 && self.out.capacity() > KEEP_CAPACITY {
            self.out = Vec::new();
            self.out_pos = 0;
        }
        if self.partial.is_empty() && self.partial.capacity() > KEEP_CAPACITY {
            self.partial = Vec::new();
        }
        self.holds_big_buffers()
    }

    /// Starts closing: no more frames are acted on; once the output is
    /// flushed the write side is shut so the peer sees the `ERROR`, then EOF.
    pub fn start_closing(&mut self) {
        self.state = State::Closing;
        self.partial = Vec::new();
    }

    /// Shuts the write side (after the output was flushed while closing).
    pub fn shutdown_write(&self) {
        let _ = self.stream.shutdown(Shutdown::Write);
    }
}
