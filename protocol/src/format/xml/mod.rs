//! XML (spec §4): `<message method=".." topic=".."><msg type="..">..</msg></message>`.
//!
//! Reading uses quick-xml and streams the typed `msg`/`item` elements as value
//! events (`read`), after a fast path for the documents this crate writes for
//! scalar values (`canonical`); writing is done by hand (an [`XmlWriter`]
//! visitor, in `write`) because the output is a fixed shape and must also be
//! measurable without being written.

mod canonical;
mod read;
mod write;

use crate::error::DecodeError;
use crate::message::Envelope;

use self::canonical::decode_canonical;
use self::read::decode_general;

pub use self::read::recover_topic;
pub(crate) use self::write::{put_open, XmlWriter};

/// Decodes one XML frame payload, the first `len` bytes of `input`, into an
/// [`Envelope`] (its value is a tree; the bytes after the payload are only
/// looked at, see [`crate::scan::utf8_prefix`]).
///
/// # Errors
/// A [`DecodeError`] saying what is wrong.
pub fn decode_envelope(input: &[u8], len: usize) -> Result<Envelope<'static>, DecodeError> {
    let src = crate::scan::utf8_prefix(input, len).ok_or(DecodeError::NotUtf8)?;
    match decode_canonical(src) {
        Some(envelope) => Ok(envelope),
        None => decode_general(src),
    }
}
