//! Receiving on a [`Queue`]: `pull`, `pull_timeout`, `list_topics` (whose
//! replies arrive among other events, which it keeps for `pull`), `close`,
//! and the frame reader under them.

use std::io::{BufRead, ErrorKind};
use std::net::Shutdown;
use std::time::{Duration, Instant};

use protocol::frame::{self, HEADER_LEN};
use protocol::{Message, Method};

use super::Queue;
use crate::error::{Error, Result};
use crate::event::{reason_text, topic_list, Event};

impl Queue {
    /// Asks the broker for every topic (`LIST`) and returns them sorted,
    /// following `LIST_ACK` paging (`"more": true`, then `LIST` after the last
    /// topic received) until the list is whole. `LIST_NACK` gives an empty list.
    ///
    /// Deliveries, errors and topic announcements that arrive meanwhile are
    /// kept, in order, for [`Queue::pull`]. The first `LIST_ACK`/`LIST_NACK`
    /// after the request is taken as its reply (an announcement pushed just
    /// before it carries the same list); on later pages, a `LIST_ACK` holding
    /// topics at or before the cursor is an announcement and is kept as an
    /// [`Event::Topics`].
    ///
    /// # Errors
    /// [`Error::Broker`] when the broker answers `ERROR` on topic `/`;
    /// [`Error::Protocol`] for a malformed `LIST_ACK`; [`Error::TimedOut`]
    /// past the [`Queue::set_timeout`] bound (a late reply then shows up in
    /// `pull` as [`Event::Topics`]); [`Error::Io`], [`Error::Frame`] or
    /// [`Error::Closed`] when the connection fails.
    pub fn list_topics(&mut self) -> Result<Vec<String>> {
        self.list_until(self.deadline())
    }

    /// [`Queue::list_topics`] bounded by `deadline`.
    pub(super) fn list_until(&mut self, deadline: Option<Instant>) -> Result<Vec<String>> {
        let mut topics = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            self.send(&Message::list(cursor.as_deref()))?;
            let (page, more) = loop {
                let Some(m) = self.next_message(deadline).transpose() else {
                    return Err(Error::TimedOut);
                };
                let m = match m {
                    Ok(m) => m,
                    Err(e @ Error::Decode(_)) => {
                        self.pending.push_back(Err(e));
                        continue;
                    }
                    Err(e) => return Err(e),
                };
                match m.method {
                    Method::ListAck => {
                        let more = m.attrs.more;
                        let page = topic_list(m.msg)?;
                        let announcement = cursor
                            .as_deref()
                            .is_some_and(|c| page.iter().any(|t| t.as_str() <= c));
                        if announcement {
                            self.pending.push_back(Ok(Event::Topics(page)));
                            continue;
                        }
                        break (page, more);
                    }
                    Method::ListNack => return Ok(topics),
                    Method::Error if m.topic == "/" => {
                        return Err(Error::Broker {
                            topic: m.topic,
                            reason: reason_text(m.msg),
                        })
                    }
                    _ => {
                        if let Some(event) = self.absorb(m) {
                            self.pending.push_back(event);
                        }
                    }
                }
            };
            let last = page.last().cloned();
            topics.extend(page);
            match last {
                Some(last) if more => cursor = Some(last),
                _ => return Ok(topics),
            }
        }
    }

    /// The next event: first those kept by [`Queue::list_topics`], then the
    /// next message from the broker, waiting for it (up to the
    /// [`Queue::set_timeout`] bound, if any).
    ///
    /// # Errors
    /// [`Error::TimedOut`] past the bound; [`Error::Decode`] or
    /// [`Error::Protocol`] for a frame that makes no sense (it is skipped, the
    /// connection stays usable); [`Error::Closed`], [`Error::Frame`] or
    /// [`Error::Io`] when the connection is gone.
    pub fn pull(&mut self) -> Result<Event> {
        let deadline = self.deadline();
        self.next_event(deadline)?.ok_or(Error::TimedOut)
    }

    /// Like [`Queue::pull`], waiting at most `timeout` (regardless of
    /// [`Queue::set_timeout`]): `Ok(None)` when nothing whole arrived in time.
    ///
    /// Bytes of a frame that arrived only in part are kept for the next call.
    /// A zero timeout looks at what has already arrived, without waiting.
    ///
    /// # Errors
    /// As [`Queue::pull`], without [`Error::TimedOut`].
    pub fn pull_timeout(&mut self, timeout: Duration) -> Result<Option<Event>> {
        let now = Instant::now();
        self.next_event(Some(
            now.checked_add(timeout)
                .unwrap_or(now + Duration::from_secs(86_400 * 365)),
        ))
    }

    /// Closes the connection politely: shuts down the sending side so the
    /// broker sees the end of the stream once it has read every request, then
    /// collects the events still coming (refusals of the last publishes, for
    /// instance) until the broker closes its side or `linger` passes.
    ///
    /// # Errors
    /// [`Error::Io`] or [`Error::Frame`] when the connection fails otherwise
    /// than by being closed.
    pub fn close(mut self, linger: Duration) -> Result<Vec<Event>> {
        // The end of the stream is wanted now, not a reason to reconnect.
        self.session.reconnect = None;
        let mut events = Vec::new();
        if !self.dead {
            // Already gone if this fails; what is left to read still counts.
            let _ = self.reader.get_ref().shutdown(Shutdown::Write);
        }
        let deadline = Instant::now() + linger;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.pull_timeout(left) {
                Ok(Some(event)) => events.push(event),
                Ok(None) | Err(Error::Closed | Error::ClosedBecause { .. }) => return Ok(events),
                Err(Error::Decode(_) | Error::Protocol(_)) => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// The next event for `pull`: kept ones first, then messages from the
    /// broker (skipping those that are no event); a lost connection is
    /// re-established here when reconnection is on.
    fn next_event(&mut self, deadline: Option<Instant>) -> Result<Option<Event>> {
        loop {
            if let Some(event) = self.pending.pop_front() {
                return event.map(Some);
            }
            match self.next_message(deadline) {
                Ok(Some(m)) => {
                    if let Some(event) = self.absorb(m) {
                        return event.map(Some);
                    }
                }
                Ok(None) => return Ok(None),
                Err(e) if e.is_fatal() => {
                    if !self.recover(e, deadline)? {
                        return Ok(None);
                    }
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// The next message from the socket; `None` when `deadline` passed.
    pub(super) fn next_message(&mut self, deadline: Option<Instant>) -> Result<Option<Message>> {
        let Some(payload) = self.read_frame(deadline)? else {
            return Ok(None);
        };
        let decoded = self.format.decode(&payload);
        self.parting = match &decoded {
            Ok(m) if m.method == Method::Error && m.topic.is_empty() => {
                Some(reason_text(m.msg.clone()))
            }
            _ => None,
        };
        Ok(Some(decoded?))
    }

    /// Reads one whole frame's payload; `None` when `deadline` passed first.
    ///
    /// Bytes go into `self.partial` and stay there across timeouts; the
    /// header is checked as soon as its 5 bytes are in.
    fn read_frame(&mut self, deadline: Option<Instant>) -> Result<Option<Vec<u8>>> {
        if self.dead {
            return Err(Error::Closed);
        }
        // Whether the socket was read (or polled) once in this call.
        let mut polled = false;
        loop {
            let need = match self.partial.first_chunk::<HEADER_LEN>() {
                None => HEADER_LEN,
                Some(header) => {
                    let len = match frame::parse_header(*header) {
                        Ok(len) => len,
                        Err(e) => {
                            self.kill();
                            return Err(Error::Frame(e));
                        }
                    };
                    if self.partial.len() == HEADER_LEN + len {
                        let payload = self.partial.split_off(HEADER_LEN);
                        self.partial.clear();
                        return Ok(Some(payload));
                    }
                    HEADER_LEN + len
                }
            };
            // Only an empty buffer means a read from the socket, which is
            // where the deadline applies.
            let mut poll = false;
            if self.reader.buffer().is_empty() {
                let wait = match deadline {
                    None => None,
                    Some(deadline) => {
                        let left = deadline.saturating_duration_since(Instant::now());
                        if left.is_zero() && polled {
                            return Ok(None);
                        }
                        // Past the deadline at the first read: look once
                        // without waiting (what a zero timeout asks for).
                        poll = left.is_zero();
                        Some(left).filter(|l| !l.is_zero())
                    }
                };
                polled = true;
                if poll {
                    self.reader.get_ref().set_nonblocking(true)?;
                } else if wait != self.socket_timeout {
                    self.reader.get_ref().set_read_timeout(wait)?;
                    self.socket_timeout = wait;
                }
            }
            let read = match self.reader.fill_buf() {
                Ok(chunk) => {
                    let take = chunk.len().min(need - self.partial.len());
                    self.partial.extend_from_slice(&chunk[..take]);
                    Ok(take)
                }
                Err(e) => Err(e),
            };
            if poll {
                self.reader.get_ref().set_nonblocking(false)?;
            }
            match read {
                Ok(0) => {
                    self.kill();
                    return Err(self.closed());
                }
                Ok(take) => self.reader.consume(take),
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                // The deadline check above decides whether this was the end.
                Err(e)
                    if deadline.is_some()
                        && matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
                Err(e) => return Err(self.io_error(e)),
            }
        }
    }
}
