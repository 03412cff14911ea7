//! The lab protocol's door: 5-byte length headers, a `JSONQueue`/`XMLQueue`
//! handshake, then one JSON or XML request per frame (docs/protocol.md).
//!
//! ```text
//! Handshake --"JSONQueue"/"XMLQueue"--> Ready(format)     (the session starts)
//! Handshake --anything else, or the deadline--> ERROR (JSON), close
//! Ready     --bad header / length 0--> ERROR in the client's format, close
//! Ready     --frame that decodes wrongly--> ERROR, stay Ready
//! ```
//!
//! - [`request`]: a frame's payload to a [`crate::core::Command`], with the
//!   checks that belong to this protocol (topic syntax, frame sizes); `PING`
//!   is answered there.
//! - [`options`]: the `msg` objects of v2 requests as typed options.
//! - [`encode`]: deliveries, notices and errors as frames.
//! - [`history`]: `HISTORY` answers, paged to the frame limit.
//! - [`puback`]: `PUBACK` frames, from the connection's last one.

mod encode;
mod history;
mod options;
mod puback;
mod request;

pub(crate) use options::check_name;
pub use options::MAX_HISTORY_LIMIT;

pub use encode::NO_TOPICS;

use protocol::{frame, Format, HEADER_LEN};

use super::{Action, Codec, Decoded, DoorError, Farewell, LAB_JSON, LAB_XML};
use crate::core::{Delivery, DeliveryRule, Notice, Profile};

/// Reason for closing a connection whose first frame is not a handshake; it
/// names the accepted mechanisms.
const HANDSHAKE_WRONG: &str = "handshake must be the frame JSONQueue or XMLQueue";
/// Reason for closing a connection that sent no handshake in time.
const HANDSHAKE_LATE: &str =
    "no handshake within the deadline: the first frame must be JSONQueue or XMLQueue";

/// The first frame named no serialization mechanism.
#[derive(Debug, thiserror::Error)]
#[error("{HANDSHAKE_WRONG}")]
struct HandshakeError;

/// Where a lab connection is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Waiting for the first frame.
    Handshake,
    /// Frames are decoded and encoded with this format.
    Ready(Format),
}

/// One lab connection's codec.
#[derive(Debug)]
pub struct LabCodec {
    phase: Phase,
    /// The connection's last `PUBACK`, the next one's template.
    puback: puback::Last,
}

impl Default for LabCodec {
    fn default() -> Self {
        LabCodec {
            phase: Phase::Handshake,
            puback: puback::Last::default(),
        }
    }
}

impl LabCodec {
    /// The format frames are encoded in: JSON until the handshake chose.
    fn format(&self) -> Format {
        match self.phase {
            Phase::Handshake => Format::Json,
            Phase::Ready(f) => f,
        }
    }
}

/// The session a handshake in `format` starts.
fn profile(format: Format) -> Profile {
    Profile {
        form: match format {
            Format::Json => LAB_JSON,
            Format::Xml => LAB_XML,
        },
        rule: DeliveryRule::OncePerConnection,
        announcements: true,
        replay: true,
    }
}

/// Bytes still missing from the incomplete frame at the front of `input`:
/// the rest of the header, then the rest of the payload.
fn missing(input: &[u8]) -> usize {
    match input.first_chunk::<HEADER_LEN>() {
        None => HEADER_LEN - input.len(),
        Some(header) => frame::parse_header(*header)
            .map_or(0, |len| (HEADER_LEN + len).saturating_sub(input.len())),
    }
}

impl Codec for LabCodec {
    fn decode<'a>(&mut self, input: &'a [u8], out: &mut Vec<u8>) -> Result<Decoded<'a>, DoorError> {
        let frame = match frame::decode(input) {
            Ok(Some(f)) => f,
            Ok(None) => return Ok(Decoded::Incomplete(missing(input))),
            Err(e) => {
                encode::error(self.format(), "", &e.to_string(), out);
                return Err(e.into());
            }
        };
        let action = match self.phase {
            Phase::Handshake => {
                let Some(format) = Format::from_handshake(frame.payload) else {
                    encode::error(Format::Json, "", HANDSHAKE_WRONG, out);
                    return Err(HandshakeError.into());
                };
                self.phase = Phase::Ready(format);
                Action::Start(profile(format))
            }
            Phase::Ready(format) => {
                request::decode(format, &input[HEADER_LEN..], frame.payload.len(), out)
            }
        };
        Ok(Decoded::Unit {
            used: frame.len,
            action,
        })
    }

    fn farewell(&mut self, why: Farewell, out: &mut Vec<u8>) {
        let reason = match why {
            Farewell::TooManyConnections { limit } => {
                format!("too many connections (limit {limit})")
            }
            Farewell::HandshakeTimeout => HANDSHAKE_LATE.to_owned(),
            Farewell::TooManyGaps { limit } => {
                format!("slow consumer: deliveries dropped on more than {limit} topics; closing")
            }
            Farewell::IdleTimeout { after } => {
                format!("idle timeout: nothing received for {after:?}; closing")
            }
            Farewell::Stale => "stale connection; closing".to_owned(),
        };
        encode::error(self.format(), "", &reason, out);
    }

    fn describe(&self) -> &'static str {
        match self.phase {
            Phase::Handshake => "the lab protocol (no handshake yet)",
            Phase::Ready(f) => f.handshake(),
        }
    }

    fn encode_delivery(&self, delivery: &Delivery<'_>, out: &mut Vec<u8>) -> Result<(), DoorError> {
        encode::delivery(self.format(), delivery, out).map_err(Into::into)
    }

    fn encode_notice(&mut self, notice: &Notice<'_>, out: &mut Vec<u8>) {
        match notice {
            Notice::PubAck(a) => self.puback.write(self.format(), a, out),
            _ => encode::notice(self.format(), notice, out),
        }
    }
}
