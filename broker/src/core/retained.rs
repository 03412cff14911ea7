//! [`Retained`]: the last message of a topic, kept for the `LAST_MSG` replay.

use std::borrow::Cow;

use protocol::Body;

/// The last message published on a topic, as the JSON text of its value
/// (both lab formats decode to JSON text, so forwarding and replay take the
/// same path).
#[derive(Debug, Clone, PartialEq)]
pub struct Retained {
    /// The validated JSON text; its buffer is reused by the next publish.
    text: String,
    /// Bytes of the XML `msg` element for this value, when measured.
    xml_len: Option<usize>,
}

impl Retained {
    /// The retained value as a [`Body`] to encode.
    #[must_use]
    pub fn body(&self) -> Body<'_> {
        Body::Json {
            text: Cow::Borrowed(&self.text),
            xml_len: self.xml_len,
        }
    }

    /// Bytes of JSON text kept.
    #[must_use]
    pub fn bytes(&self) -> usize {
        self.text.len()
    }

    /// Stores `body` in `slot`, reusing its buffer; returns the bytes now kept.
    #[inline]
    pub(super) fn store(slot: &mut Option<Retained>, body: &Body<'_>) -> usize {
        let retained = slot.get_or_insert_with(|| Retained {
            text: String::new(),
            xml_len: None,
        });
        retained.text.clear();
        match body {
            Body::Json { text, xml_len } => {
                retained.text.push_str(text);
                retained.xml_len = *xml_len;
            }
            // Only clients build value trees; the router was handed one that
            // passed the door's checks, so its JSON form is valid.
            Body::Value(v) => {
                retained.text = v.to_string();
                retained.xml_len = None;
            }
        }
        retained.text.len()
    }
}
