//! The lab wire protocol (`docs/protocol.md`) as code, with no I/O.
//!
//! Both the broker and the `middleware` client library build and read frames
//! only through this crate, so they cannot drift apart.
//!
//! # Layout
//! - [`frame`]: the 5-byte length header; incremental decoding from a borrowed
//!   buffer, encoding with the header back-filled.
//! - [`topic`]: [`Topic`], validated and normalized; "is under" by segments.
//! - [`value`]: [`Value`], the model JSON and XML share losslessly.
//! - [`message`]: [`Method`], [`Message`] (owned) and [`Envelope`] (borrowed,
//!   for forwarding without building a value tree).
//! - [`format`]: [`Format`] (`JSONQueue`/`XMLQueue`) with the JSON and XML codecs.
//! - [`error`]: one error enum per layer.

pub mod error;
pub mod format;
pub mod frame;
pub mod message;
pub mod pattern;
mod scan;
pub mod topic;
pub mod value;

pub use error::{DecodeError, EncodeError, FrameError, TopicError, ValueError};
pub use format::Format;
pub use frame::{Frame, HEADER_LEN, MAX_PAYLOAD};
pub use message::{Attrs, Body, Envelope, Keys, Links, Message, Method};
pub use pattern::Pattern;
pub use topic::Topic;
pub use value::Value;
