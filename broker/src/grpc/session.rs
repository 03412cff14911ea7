//! [`Session`]: the side thread's end of one broker session: requests
//! written to the local socket the reactor reads through the gRPC door
//! ([`crate::doors::grpc`]), events read back from it, each message
//! preceded by its length as a varint.

use std::io;
use std::net::SocketAddr;

use prost::Message;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::unix::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::UnixStream;
use tonic::Status;

use super::status;
use crate::proto::{self, answer::Result as Answered, session_event::Kind, session_request};
use crate::reactor::Handover;

/// Bytes asked of the socket per read.
const READ_CHUNK: usize = 64 * 1024;

/// Writes a session's requests.
#[derive(Debug)]
pub(super) struct Writer {
    socket: OwnedWriteHalf,
    buf: Vec<u8>,
}

impl Writer {
    /// Sends request `id`.
    ///
    /// # Errors
    /// When the session is gone.
    pub(super) async fn send(
        &mut self,
        id: u64,
        kind: session_request::Kind,
    ) -> Result<(), Status> {
        self.send_request(proto::SessionRequest {
            id,
            kind: Some(kind),
        })
        .await
    }

    /// Sends a request as the client wrote it.
    ///
    /// # Errors
    /// When the session is gone.
    pub(super) async fn send_request(
        &mut self,
        request: proto::SessionRequest,
    ) -> Result<(), Status> {
        self.send_all(std::iter::once(request)).await
    }

    /// Sends requests as the client wrote them, with one write: a stream's
    /// requests that arrived together cost the reactor one read.
    ///
    /// # Errors
    /// When the session is gone.
    pub(super) async fn send_all(
        &mut self,
        requests: impl IntoIterator<Item = proto::SessionRequest>,
    ) -> Result<(), Status> {
        self.buf.clear();
        for request in requests {
            request
                .encode_length_delimited(&mut self.buf)
                .map_err(|e| Status::internal(format!("cannot encode a request: {e}")))?;
        }
        self.socket
            .write_all(&self.buf)
            .await
            .map_err(|_| status::closed(None))
    }
}

/// Reads a session's events.
#[derive(Debug)]
pub(super) struct Reader {
    socket: OwnedReadHalf,
    buf: Vec<u8>,
    /// How much of `buf` was taken by events already returned.
    pos: usize,
    /// The broker's last words, an error answer with no request (the
    /// connection limit, say), when it said some before closing.
    farewell: Option<proto::Error>,
}

impl Reader {
    /// The next event; `Err` once the broker has closed the session (with
    /// its farewell's status when it said one). Cancel-safe: bytes read
    /// are kept until a whole event is there.
    ///
    /// # Errors
    /// When the session is closed.
    pub(super) async fn next(&mut self) -> Result<Kind, Status> {
        loop {
            if let Some(kind) = self.take()? {
                match kind {
                    Kind::Answer(proto::Answer {
                        id: 0,
                        result: Some(Answered::Error(e)),
                    }) => self.farewell = Some(e),
                    kind => return Ok(kind),
                }
                continue;
            }
            if self.pos > 0 {
                self.buf.drain(..self.pos);
                self.pos = 0;
            }
            self.buf.reserve(READ_CHUNK);
            match self.socket.read_buf(&mut self.buf).await {
                Ok(0) | Err(_) => return Err(status::closed(self.farewell.as_ref())),
                Ok(_) => {}
            }
        }
    }

    /// Whether nothing came since the last event and the broker has not
    /// closed the session: an idle session's only news is its end (an idle
    /// timeout, the broker stopping), with or without a farewell.
    fn still_open(&self) -> bool {
        let mut byte = [0u8];
        self.pos == self.buf.len()
            && matches!(self.socket.try_read(&mut byte), Err(e) if e.kind() == io::ErrorKind::WouldBlock)
    }

    /// The event at the front of what was read, if it is whole.
    fn take(&mut self) -> Result<Option<Kind>, Status> {
        let mut rest = &self.buf[self.pos..];
        let Ok(len) = prost::encoding::decode_varint(&mut rest) else {
            return Ok(None);
        };
        let header = self.buf.len() - self.pos - rest.len();
        let Some(body) = usize::try_from(len).ok().and_then(|l| rest.get(..l)) else {
            return Ok(None);
        };
        let event = proto::SessionEvent::decode(body)
            .map_err(|e| Status::internal(format!("undecodable event: {e}")))?;
        self.pos += header + body.len();
        Ok(event.kind)
    }
}

/// One broker session: its writer, its reader and its request numbers.
#[derive(Debug)]
pub(super) struct Session {
    pub(super) writer: Writer,
    pub(super) reader: Reader,
    next_id: u64,
}

/// What a finished request was answered, in order, and the other events
/// that came meanwhile (deliveries, gaps, presence).
#[derive(Debug, Default)]
pub(super) struct Outcome {
    /// The answers, `done` excluded.
    pub answers: Vec<Answered>,
    /// Everything else, in order.
    pub events: Vec<Kind>,
}

impl Outcome {
    /// The first error answer, as a status.
    pub(super) fn error(&self) -> Option<Status> {
        self.answers.iter().find_map(|a| match a {
            Answered::Error(e) => Some(status::of_error(e)),
            _ => None,
        })
    }
}

impl Session {
    /// Opens a session for the client at `peer`.
    ///
    /// # Errors
    /// `UNAVAILABLE` when the socket pair cannot be made or the broker has
    /// stopped.
    pub(super) fn open(handover: &Handover, peer: SocketAddr) -> Result<Session, Status> {
        let socket = handover
            .open(peer)
            .and_then(UnixStream::from_std)
            .map_err(|e: io::Error| Status::unavailable(format!("cannot open a session: {e}")))?;
        let (read, write) = socket.into_split();
        Ok(Session {
            writer: Writer {
                socket: write,
                buf: Vec::new(),
            },
            reader: Reader {
                socket: read,
                buf: Vec::new(),
                pos: 0,
                farewell: None,
            },
            next_id: 1,
        })
    }

    /// Whether an idle session can take a call: the broker has not closed
    /// it meanwhile.
    pub(super) fn still_open(&self) -> bool {
        self.reader.still_open()
    }

    /// A request number not used yet on this session.
    pub(super) fn next_id(&mut self) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        id
    }

    /// Sends a request and reads until it is done.
    ///
    /// # Errors
    /// When the session is closed.
    pub(super) async fn call(&mut self, kind: session_request::Kind) -> Result<Outcome, Status> {
        let id = self.next_id();
        self.writer.send(id, kind).await?;
        self.until_done(id).await
    }

    /// Reads until request `id` is done.
    ///
    /// # Errors
    /// When the session is closed.
    pub(super) async fn until_done(&mut self, id: u64) -> Result<Outcome, Status> {
        let mut outcome = Outcome::default();
        loop {
            match self.reader.next().await? {
                Kind::Answer(proto::Answer {
                    id: answered,
                    result: Some(Answered::Done(_)),
                }) if answered == id => return Ok(outcome),
                Kind::Answer(proto::Answer {
                    id: answered,
                    result: Some(result),
                }) if answered == id => outcome.answers.push(result),
                other => outcome.events.push(other),
            }
        }
    }
}
