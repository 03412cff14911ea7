//! WebSocket framing (RFC 6455 §5) on the bytes read so far: one frame
//! from the front of the input at a time, fragments put together into
//! messages, control frames passed up as they come, and the server's own
//! frames written into an output buffer.
//!
//! Frame headers are parsed and written by `tungstenite`'s
//! [`FrameHeader`], which works on a cursor over a slice; the rules a server
//! must enforce on what it reads (client frames masked, control frames short
//! and whole, continuation only after a first fragment, text in UTF-8, the
//! message size limit) are here.

use std::io::Cursor;

use tungstenite::protocol::frame::coding::{CloseCode, Control, Data, OpCode};
use tungstenite::protocol::frame::FrameHeader;

/// A control frame's payload is at most this long (RFC 6455 §5.5).
const MAX_CONTROL: u64 = 125;

/// What a data message carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageKind {
    /// UTF-8 text.
    Text,
    /// Bytes.
    Binary,
}

/// What one frame from the client amounted to.
#[derive(Debug, PartialEq, Eq)]
pub enum Event {
    /// A fragment of a message, kept until its last one.
    Fragment,
    /// A whole message (all its fragments put together, unmasked).
    Message(MessageKind, Vec<u8>),
    /// A ping, with its payload (answered with a pong carrying it).
    Ping(Vec<u8>),
    /// A pong (nothing to do).
    Pong,
    /// A close frame, with its status code if it had one.
    Close(Option<u16>),
}

/// A frame the server must answer by closing, with the status code it sends.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("WebSocket close {code}: {reason}")]
pub struct Violation {
    /// The close status code (1002 protocol error, 1007 bad text, 1009 too
    /// big).
    pub code: u16,
    /// Why, for the close frame and the log.
    pub reason: String,
}

impl Violation {
    fn new(code: CloseCode, reason: impl Into<String>) -> Self {
        Violation {
            code: code.into(),
            reason: reason.into(),
        }
    }
}

/// The first fragments of a message whose last has not come yet.
#[derive(Debug)]
struct Partial {
    kind: MessageKind,
    bytes: Vec<u8>,
}

/// Reads client frames; see the module docs.
#[derive(Debug)]
pub struct Reader {
    /// Largest message, all fragments together, in bytes.
    max_message: usize,
    /// The message being put together, if its first fragment came.
    partial: Option<Partial>,
}

/// The front of the input: one whole frame, or how many more bytes it needs.
#[derive(Debug, PartialEq, Eq)]
pub enum Read {
    /// At least this many more bytes are needed (0: unknown).
    Incomplete(usize),
    /// The first `used` bytes were one frame.
    Frame {
        /// Bytes of the frame.
        used: usize,
        /// What it amounted to.
        event: Event,
    },
}

impl Reader {
    /// A reader refusing messages over `max_message` bytes.
    #[must_use]
    pub fn new(max_message: usize) -> Self {
        Reader {
            max_message,
            partial: None,
        }
    }

    /// Reads the frame at the front of `input`.
    ///
    /// # Errors
    /// A [`Violation`] when the frame breaks the protocol or the size limit;
    /// the connection must close with its code.
    pub fn read(&mut self, input: &[u8]) -> Result<Read, Violation> {
        let mut cursor = Cursor::new(input);
        let (header, len) = match FrameHeader::parse(&mut cursor) {
            Ok(Some(found)) => found,
            Ok(None) => return Ok(Read::Incomplete(0)),
            Err(e) => return Err(Violation::new(CloseCode::Protocol, e.to_string())),
        };
        let start = usize::try_from(cursor.position()).unwrap_or(usize::MAX);
        self.check(&header, len)?;
        // Fits in usize: check() bounded it by the message limit.
        let len = usize::try_from(len).unwrap_or(usize::MAX);
        let Some(payload) = input.get(start..start + len) else {
            return Ok(Read::Incomplete(start + len - input.len()));
        };
        let mut payload = payload.to_vec();
        if let Some(mask) = header.mask {
            unmask(&mut payload, mask);
        }
        let event = match header.opcode {
            OpCode::Control(Control::Ping) => Event::Ping(payload),
            OpCode::Control(Control::Pong) => Event::Pong,
            OpCode::Control(Control::Close) => Event::Close(close_code(&payload)?),
            OpCode::Data(data) => self.data(data, header.is_final, payload)?,
            OpCode::Control(Control::Reserved(_)) => return Err(reserved()),
        };
        Ok(Read::Frame {
            used: start + len,
            event,
        })
    }

    /// The rules a header must follow before its payload is even awaited.
    fn check(&self, header: &FrameHeader, len: u64) -> Result<(), Violation> {
        if header.rsv1 || header.rsv2 || header.rsv3 {
            return Err(Violation::new(
                CloseCode::Protocol,
                "reserved bits set without an extension",
            ));
        }
        if header.mask.is_none() {
            return Err(Violation::new(
                CloseCode::Protocol,
                "client frames must be masked",
            ));
        }
        match header.opcode {
            OpCode::Control(Control::Reserved(_)) | OpCode::Data(Data::Reserved(_)) => {
                Err(reserved())
            }
            OpCode::Control(_) if !header.is_final || len > MAX_CONTROL => Err(Violation::new(
                CloseCode::Protocol,
                "control frames must be whole and at most 125 bytes",
            )),
            OpCode::Control(_) => Ok(()),
            OpCode::Data(Data::Continue) if self.partial.is_none() => Err(Violation::new(
                CloseCode::Protocol,
                "continuation frame without a first fragment",
            )),
            OpCode::Data(Data::Text | Data::Binary) if self.partial.is_some() => {
                Err(Violation::new(
                    CloseCode::Protocol,
                    "new message before the last fragment of the previous one",
                ))
            }
            OpCode::Data(_) => {
                let held = self.partial.as_ref().map_or(0, |p| p.bytes.len());
                let total = (held as u64).saturating_add(len);
                if total > self.max_message as u64 {
                    Err(Violation::new(
                        CloseCode::Size,
                        format!(
                            "message of {total} bytes or more, over the limit of {}",
                            self.max_message
                        ),
                    ))
                } else {
                    Ok(())
                }
            }
        }
    }

    /// A data frame: a whole message, or a fragment kept.
    fn data(&mut self, data: Data, last: bool, payload: Vec<u8>) -> Result<Event, Violation> {
        let (kind, bytes) = match (data, self.partial.take()) {
            (Data::Continue, Some(mut p)) => {
                p.bytes.extend_from_slice(&payload);
                (p.kind, p.bytes)
            }
            (Data::Text, None) => (MessageKind::Text, payload),
            (Data::Binary, None) => (MessageKind::Binary, payload),
            // Refused by `check` before the payload was awaited.
            _ => {
                return Err(Violation::new(
                    CloseCode::Protocol,
                    "data frame out of sequence",
                ))
            }
        };
        if !last {
            self.partial = Some(Partial { kind, bytes });
            return Ok(Event::Fragment);
        }
        if kind == MessageKind::Text && std::str::from_utf8(&bytes).is_err() {
            return Err(Violation::new(
                CloseCode::Invalid,
                "text message is not UTF-8",
            ));
        }
        Ok(Event::Message(kind, bytes))
    }
}

/// The refusal of an opcode RFC 6455 reserves (tungstenite's header parser
/// refuses them first).
fn reserved() -> Violation {
    Violation::new(CloseCode::Protocol, "reserved opcode")
}

/// Undoes the client's masking (RFC 6455 §5.3): each byte XORed with the
/// key's byte at its position modulo 4.
fn unmask(payload: &mut [u8], mask: [u8; 4]) {
    for (i, b) in payload.iter_mut().enumerate() {
        *b ^= mask[i & 3];
    }
}

/// The status code of a close frame's payload, checked (RFC 6455 §5.5.1,
/// §7.4).
fn close_code(payload: &[u8]) -> Result<Option<u16>, Violation> {
    match payload {
        [] => Ok(None),
        [_] => Err(Violation::new(
            CloseCode::Protocol,
            "close frame with a one-byte payload",
        )),
        [hi, lo, reason @ ..] => {
            let code = u16::from_be_bytes([*hi, *lo]);
            if !CloseCode::from(code).is_allowed() {
                return Err(Violation::new(
                    CloseCode::Protocol,
                    format!("close code {code} may not be sent"),
                ));
            }
            if std::str::from_utf8(reason).is_err() {
                return Err(Violation::new(
                    CloseCode::Invalid,
                    "close reason is not UTF-8",
                ));
            }
            Ok(Some(code))
        }
    }
}

/// Appends one whole unmasked server frame of `opcode` carrying `payload`.
pub fn write_frame(out: &mut Vec<u8>, opcode: OpCode, payload: &[u8]) {
    let header = FrameHeader {
        opcode,
        ..FrameHeader::default()
    };
    // Writing into a Vec cannot fail.
    let _ = header.format(payload.len() as u64, out);
    out.extend_from_slice(payload);
}

/// Appends a close frame with `code` and a reason (cut to fit the 125
/// bytes of a control frame).
pub fn write_close(out: &mut Vec<u8>, code: u16, reason: &str) {
    let mut payload = code.to_be_bytes().to_vec();
    let mut end = reason.len().min(MAX_CONTROL as usize - 2);
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    payload.extend_from_slice(&reason.as_bytes()[..end]);
    write_frame(out, OpCode::Control(Control::Close), &payload);
}

/// Most bytes a server frame header takes: 2, then 8 for a 64-bit length.
const MAX_HEADER: usize = 10;

/// Appends a text frame whose payload `write` appends: room for the
/// longest header is left first, then the header is written for the
/// payload's length and the payload moved up against it, so the payload is
/// written once, in place.
pub fn write_text(out: &mut Vec<u8>, write: impl FnOnce(&mut Vec<u8>)) {
    let start = out.len();
    out.resize(start + MAX_HEADER, 0);
    write(out);
    let len = out.len() - start - MAX_HEADER;
    let header = FrameHeader {
        opcode: OpCode::Data(Data::Text),
        ..FrameHeader::default()
    };
    let mut head = [0; MAX_HEADER];
    let mut rest = &mut head[..];
    // MAX_HEADER bytes hold any unmasked header.
    let _ = header.format(len as u64, &mut rest);
    let gap = rest.len();
    let used = MAX_HEADER - gap;
    out[start + gap..start + MAX_HEADER].copy_from_slice(&head[..used]);
    out.drain(start..start + gap);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A client frame: masked with a fixed key.
    fn client(first: u8, payload: &[u8]) -> Vec<u8> {
        let mask = [1, 2, 3, 4];
        let mut f = vec![first];
        match payload.len() {
            n if n < 126 => f.push(0x80 | n as u8),
            n if n < 65536 => {
                f.push(0x80 | 126);
                f.extend_from_slice(&(n as u16).to_be_bytes());
            }
            n => {
                f.push(0x80 | 127);
                f.extend_from_slice(&(n as u64).to_be_bytes());
            }
        }
        f.extend_from_slice(&mask);
        f.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
        f
    }

    fn event(r: &mut Reader, bytes: &[u8]) -> Event {
        match r.read(bytes) {
            Ok(Read::Frame { used, event }) => {
                assert_eq!(used, bytes.len());
                event
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn every_split_of_a_frame_is_incomplete_until_its_end() {
        let f = client(0x81, &[b'x'; 300]);
        let mut r = Reader::new(1 << 20);
        for cut in 0..f.len() {
            assert!(
                matches!(r.read(&f[..cut]), Ok(Read::Incomplete(_))),
                "{cut}"
            );
        }
        assert_eq!(
            event(&mut r, &f),
            Event::Message(MessageKind::Text, vec![b'x'; 300])
        );
    }

    #[test]
    fn fragments_make_one_message_with_pings_between() {
        let mut r = Reader::new(1 << 20);
        assert_eq!(event(&mut r, &client(0x01, b"he")), Event::Fragment);
        assert_eq!(
            event(&mut r, &client(0x89, b"p")),
            Event::Ping(b"p".to_vec())
        );
        assert_eq!(event(&mut r, &client(0x00, b"ll")), Event::Fragment);
        assert_eq!(
            event(&mut r, &client(0x80, b"o")),
            Event::Message(MessageKind::Text, b"hello".to_vec())
        );
    }

    #[test]
    fn refusals_carry_their_close_codes() {
        let code = |bytes: &[u8], max| Reader::new(max).read(bytes).unwrap_err().code;
        assert_eq!(code(&client(0x81, &[b'x'; 200]), 100), 1009);
        assert_eq!(code(&client(0x81, &[0xff]), 100), 1007);
        assert_eq!(code(&client(0x80, b"x"), 100), 1002);
        assert_eq!(code(&client(0xC1, b"x"), 100), 1002);
        assert_eq!(code(&client(0x09, b"x"), 100), 1002);
        assert_eq!(code(&[0x81, 0x01, b'x'], 100), 1002);
        assert_eq!(code(&client(0x88, &[0x03]), 100), 1002);
        assert_eq!(code(&client(0x88, &999u16.to_be_bytes()), 100), 1002);
        // Too big is known from the header alone.
        let big = client(0x82, &[0; 70_000]);
        assert_eq!(code(&big[..14], 65_536), 1009);
    }

    #[test]
    fn server_text_frames_have_the_shortest_header() {
        for n in [0, 125, 126, 65_535, 65_536] {
            let mut out = b"before".to_vec();
            write_text(&mut out, |o| o.extend(std::iter::repeat_n(b'a', n)));
            let mut cursor = Cursor::new(&out[6..]);
            let (h, len) = FrameHeader::parse(&mut cursor).unwrap().unwrap();
            assert_eq!((h.opcode, len as usize), (OpCode::Data(Data::Text), n));
            assert_eq!(out.len() - 6 - cursor.position() as usize, n);
        }
    }
}
