//! Error types, one enum per layer.
//!
//! The split the spec draws is in the types: a [`FrameError`] (or a failed
//! handshake) closes a connection, while a [`DecodeError`], [`TopicError`] or
//! [`ValueError`] becomes one `ERROR` reply and the connection stays open.

use thiserror::Error;

/// A frame header or length that breaks spec §1. Closes the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum FrameError {
    /// The 5 header bytes are not 1 to 5 decimal digits padded with spaces.
    #[error("invalid frame header {:?}: expected a 5-byte space-padded decimal length", String::from_utf8_lossy(.0))]
    BadHeader([u8; 5]),
    /// A header announcing an empty payload.
    #[error("invalid frame header: length 0")]
    ZeroLength,
    /// A payload longer than a 5-digit header can announce.
    #[error("frame payload of {0} bytes exceeds the limit of 99999")]
    TooLarge(usize),
}

/// A topic string that breaks spec §6.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum TopicError {
    /// No topic was given, or it was empty.
    #[error("missing topic")]
    Missing,
    /// The topic does not start with `/`.
    #[error("topic must start with '/'")]
    NoLeadingSlash,
    /// A segment holds whitespace, a control character or a pattern character.
    #[error("topic contains forbidden character {0:?}")]
    ForbiddenChar(char),
    /// More than [`crate::Topic::MAX_SEGMENTS`] segments.
    #[error("topic has {0} segments, more than the limit of 32")]
    TooManySegments(usize),
    /// More than [`crate::Topic::MAX_LEN`] bytes after normalization.
    #[error("topic is {0} bytes long, more than the limit of 1024")]
    TooLong(usize),
}

/// A value that one of the two formats cannot carry (spec §4).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ValueError {
    /// A character XML 1.0 forbids (most control characters, U+FFFE, U+FFFF).
    #[error("character U+{0:04X} cannot be carried in XML")]
    ForbiddenChar(u32),
    /// A lone UTF-16 surrogate in a JSON `\u` escape.
    #[error("lone surrogate \\u{0:04X} in string")]
    LoneSurrogate(u16),
    /// NaN or an infinity.
    #[error("non-finite float")]
    NonFiniteFloat,
    /// An integer outside the signed 64-bit range.
    #[error("integer {0} is outside the signed 64-bit range")]
    IntOutOfRange(String),
    /// More than [`crate::value::MAX_DEPTH`] nested lists and dicts.
    #[error("nesting deeper than 64 levels")]
    TooDeep,
    /// A body's JSON text did not parse when re-encoded. It is validated when
    /// decoded, so this means a `Body::Json` was built from unchecked text.
    #[error("body text is not valid JSON: {0}")]
    Unstreamable(String),
    /// XML `bool` text other than `true` or `false`, or a number that does not parse.
    #[error("invalid {ty} text {text:?}")]
    BadScalar {
        /// The XML `type` attribute.
        ty: &'static str,
        /// The text that did not parse.
        text: String,
    },
}

/// A payload that does not decode to a valid message (spec §3, §4, §6).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DecodeError {
    /// The payload is not UTF-8.
    #[error("payload is not valid UTF-8")]
    NotUtf8,
    /// JSON syntax error.
    #[error("invalid JSON at byte {offset}: {reason}")]
    Json {
        /// Byte offset into the payload.
        offset: usize,
        /// What was wrong there.
        reason: &'static str,
    },
    /// XML that is not well-formed or not shaped like spec §4.
    #[error("invalid XML: {0}")]
    Xml(String),
    /// The JSON payload is not an object.
    #[error("message must be a JSON object")]
    NotAnObject,
    /// A field has the wrong type (e.g. a numeric `topic`).
    #[error("field '{0}' has the wrong type")]
    FieldType(&'static str),
    /// No `method` field.
    #[error("missing method")]
    MissingMethod,
    /// A `method` that is not one of spec §5.
    #[error("unknown method {0:?}")]
    UnknownMethod(String),
    /// The `msg` value cannot be carried by both formats.
    #[error(transparent)]
    Value(#[from] ValueError),
}

/// Why a message could not be encoded into a frame.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum EncodeError {
    /// The value cannot be carried (checked before anything is written).
    #[error(transparent)]
    Value(#[from] ValueError),
    /// The encoded payload does not fit one frame.
    #[error(transparent)]
    Frame(#[from] FrameError),
}
