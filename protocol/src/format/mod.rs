//! The two serialization mechanisms (spec §2-§4), chosen per connection at the
//! handshake.

pub mod json;
pub mod xml;

use std::borrow::Cow;

use crate::error::{DecodeError, EncodeError, ValueError};
use crate::frame;
use crate::message::{Attrs, Body, Envelope, Links, Message, Method};
use crate::value::{Counter, Out, Scalar, Value, Visitor};

use self::json::JsonWriter;
use self::xml::XmlWriter;

/// A serialization mechanism.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// `JSONQueue`: one JSON object per frame.
    Json,
    /// `XMLQueue`: one XML document per frame.
    Xml,
}

impl Format {
    /// Both formats, in index order (see [`Format::index`]).
    pub const ALL: [Format; 2] = [Format::Json, Format::Xml];

    /// The mechanism a handshake payload names; exact match only.
    #[must_use]
    pub fn from_handshake(payload: &[u8]) -> Option<Format> {
        match payload {
            b"JSONQueue" => Some(Format::Json),
            b"XMLQueue" => Some(Format::Xml),
            _ => None,
        }
    }

    /// The handshake payload that selects this mechanism.
    #[must_use]
    pub fn handshake(self) -> &'static str {
        match self {
            Format::Json => "JSONQueue",
            Format::Xml => "XMLQueue",
        }
    }

    /// 0 for JSON, 1 for XML: an index for per-format arrays.
    #[must_use]
    pub fn index(self) -> usize {
        self as usize
    }

    /// Decodes a frame payload into a borrowed envelope.
    ///
    /// # Errors
    /// A [`DecodeError`] saying what is wrong; the connection stays usable.
    pub fn decode_envelope(self, payload: &[u8]) -> Result<Envelope<'_>, DecodeError> {
        self.decode_envelope_ahead(payload, payload.len())
    }

    /// Decodes the frame payload `input[..len]` into a borrowed envelope.
    /// What follows it in `input` (the next frames of the same read) is
    /// never decoded, but lets its UTF-8 check cover whole blocks, which
    /// is cheaper than a ragged end.
    ///
    /// # Errors
    /// A [`DecodeError`] saying what is wrong; the connection stays usable.
    pub fn decode_envelope_ahead(
        self,
        input: &[u8],
        len: usize,
    ) -> Result<Envelope<'_>, DecodeError> {
        match self {
            Format::Json => json::decode_envelope(input, len),
            Format::Xml => xml::decode_envelope(input, len),
        }
    }

    /// Decodes a frame payload into an owned [`Message`].
    ///
    /// # Errors
    /// A [`DecodeError`] saying what is wrong.
    pub fn decode(self, payload: &[u8]) -> Result<Message, DecodeError> {
        self.decode_envelope(payload).map(|e| e.to_message())
    }

    /// Best-effort `topic` of a payload that did not decode, for an `ERROR` reply.
    ///
    /// Only a topic this format can carry is returned, so an `ERROR` echoing
    /// it can always be encoded.
    #[must_use]
    pub fn recover_topic(self, payload: &[u8]) -> Option<String> {
        match self {
            Format::Json => json::recover_topic(payload),
            Format::Xml => xml::recover_topic(payload),
        }
    }

    /// Appends `m` to `out` as one whole frame.
    ///
    /// # Errors
    /// [`EncodeError::Value`] when `m.msg` or `m.topic` cannot be carried,
    /// [`EncodeError::Frame`] when it does not fit a frame; `out` is unchanged.
    pub fn encode(self, m: &Message, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        let body = Body::Value(Cow::Borrowed(&m.msg));
        self.encode_linked(m.method, &m.topic, &body, m.attrs, m.links(), out)
    }

    /// Appends one frame built from parts, the value given as a tree.
    ///
    /// # Errors
    /// As [`Format::encode`].
    pub fn encode_value(
        self,
        method: Method,
        topic: &str,
        msg: &Value,
        attrs: Attrs,
        out: &mut Vec<u8>,
    ) -> Result<(), EncodeError> {
        self.encode_parts(method, topic, &Body::Value(Cow::Borrowed(msg)), attrs, out)
    }

    /// Appends one frame whose value is a [`Body`]: JSON text is copied to JSON
    /// and streamed to XML without building a tree.
    ///
    /// # Errors
    /// As [`Format::encode`].
    pub fn encode_parts(
        self,
        method: Method,
        topic: &str,
        body: &Body<'_>,
        attrs: Attrs,
        out: &mut Vec<u8>,
    ) -> Result<(), EncodeError> {
        self.encode_linked(method, topic, body, attrs, Links::NONE, out)
    }

    /// [`Format::encode_parts`] with `id` and `reply` keys (v2 §15).
    ///
    /// # Errors
    /// As [`Format::encode`].
    pub fn encode_linked(
        self,
        method: Method,
        topic: &str,
        body: &Body<'_>,
        attrs: Attrs,
        links: Links<'_>,
        out: &mut Vec<u8>,
    ) -> Result<(), EncodeError> {
        frame::encode_with(out, |o| {
            self.put_envelope(o, method, topic, attrs, links, |o| self.put_msg(o, body))
                .map_err(EncodeError::from)
        })
    }

    /// The exact payload length [`Format::encode_parts`] would produce, without
    /// producing it (an XML frame of a JSON body uses the length measured at
    /// decode time, when there is one).
    ///
    /// # Errors
    /// [`EncodeError::Value`] when the value or the topic cannot be carried.
    pub fn payload_len(
        self,
        method: Method,
        topic: &str,
        body: &Body<'_>,
        attrs: Attrs,
    ) -> Result<usize, EncodeError> {
        self.linked_payload_len(method, topic, body, attrs, Links::NONE)
    }

    /// [`Format::payload_len`] with `id` and `reply` keys.
    ///
    /// # Errors
    /// As [`Format::payload_len`].
    pub fn linked_payload_len(
        self,
        method: Method,
        topic: &str,
        body: &Body<'_>,
        attrs: Attrs,
        links: Links<'_>,
    ) -> Result<usize, EncodeError> {
        match (self, body) {
            (
                Format::Xml,
                Body::Json {
                    xml_len: Some(n), ..
                },
            ) => self.envelope_len(method, topic, attrs, links, *n),
            _ => {
                let mut c = Counter::default();
                self.put_envelope(&mut c, method, topic, attrs, links, |o| {
                    self.put_msg(o, body)
                })?;
                Ok(c.0)
            }
        }
    }

    /// An upper bound of [`Format::payload_len`], exact except for an XML
    /// frame of a JSON body whose XML length was not measured
    /// ([`Body::xml_len_bound`]): enough to tell that a frame fits without
    /// measuring it.
    ///
    /// # Errors
    /// As [`Format::payload_len`].
    pub fn max_payload_len(
        self,
        method: Method,
        topic: &str,
        body: &Body<'_>,
        attrs: Attrs,
    ) -> Result<usize, EncodeError> {
        match (self, body.xml_len_bound()) {
            (Format::Xml, Some(bound)) => {
                self.envelope_len(method, topic, attrs, Links::NONE, bound)
            }
            _ => self.payload_len(method, topic, body, attrs),
        }
    }

    /// Bytes of a frame's payload whose value takes `msg_len` bytes.
    fn envelope_len(
        self,
        method: Method,
        topic: &str,
        attrs: Attrs,
        links: Links<'_>,
        msg_len: usize,
    ) -> Result<usize, EncodeError> {
        let mut c = Counter(msg_len);
        self.put_envelope(&mut c, method, topic, attrs, links, |_| Ok(()))?;
        Ok(c.0)
    }

    /// Writes the value of `body` in this format.
    fn put_msg<O: Out>(self, o: &mut O, body: &Body<'_>) -> Result<(), ValueError> {
        match (self, body) {
            (Format::Json, Body::Value(v)) => v.visit(&mut JsonWriter::new(o)),
            (Format::Xml, Body::Value(v)) => v.visit(&mut XmlWriter::new(o)),
            (Format::Json, Body::Json { text, .. }) => {
                o.put(text.as_bytes());
                Ok(())
            }
            (_, Body::Str { text, plain }) => self.put_text(o, text, *plain),
            // The text was validated when it was decoded, so streaming it
            // cannot fail; an error is still reported rather than ignored.
            (Format::Xml, Body::Json { text, .. }) => {
                json::stream_value(text, &mut XmlWriter::new(o)).map_err(|e| match e {
                    DecodeError::Value(v) => v,
                    other => ValueError::Unstreamable(other.to_string()),
                })
            }
        }
    }

    /// Writes a string value held as its characters ([`Body::Str`]).
    fn put_text<O: Out>(self, o: &mut O, text: &str, plain: bool) -> Result<(), ValueError> {
        match self {
            Format::Json if plain => {
                o.put(b"\"");
                o.put(text.as_bytes());
                o.put(b"\"");
                Ok(())
            }
            Format::Json => {
                json::put_str(o, text);
                Ok(())
            }
            // Checked for XML when it was built (Body::text).
            Format::Xml => XmlWriter::new(o).scalar(Scalar::Str(text)),
        }
    }

    /// Writes the envelope around the value that `msg` writes.
    fn put_envelope<O: Out>(
        self,
        o: &mut O,
        method: Method,
        topic: &str,
        attrs: Attrs,
        links: Links<'_>,
        msg: impl FnOnce(&mut O) -> Result<(), ValueError>,
    ) -> Result<(), ValueError> {
        match self {
            // JSON escapes any character, so a topic that no topic rule
            // allows (a control character) can still be echoed in an `ERROR`;
            // the JSON decoder reads it back.
            Format::Json => {
                o.put(b"{\"method\":\"");
                o.put(method.as_str().as_bytes());
                o.put(b"\",\"topic\":");
                json::put_str(o, topic);
                o.put(b",\"msg\":");
                msg(o)?;
                json::put_attrs(o, attrs, links);
                o.put(b"}");
            }
            Format::Xml => {
                crate::value::check_text(topic)?;
                for text in [links.id, links.reply].into_iter().flatten() {
                    crate::value::check_text(text)?;
                }
                xml::put_open(o, method, topic, attrs, links);
                msg(o)?;
                o.put(b"</message>");
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ValueError;

    fn frame_of(f: Format, m: &Message) -> String {
        let mut out = Vec::new();
        f.encode(m, &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn json_bytes() {
        let m = Message::publish("/telephony/orange", 27);
        assert_eq!(
            frame_of(Format::Json, &m),
            r#"   57{"method":"PUBLISH","topic":"/telephony/orange","msg":27}"#
        );
    }

    #[test]
    fn xml_bytes() {
        let m = Message::publish(
            "/t",
            Value::List(vec![Value::Int(1), "a<&\r".into(), Value::Null]),
        );
        let f = frame_of(Format::Xml, &m);
        assert_eq!(
            &f[5..],
            r#"<message method="PUBLISH" topic="/t"><msg type="list"><item type="int">1</item><item type="str">a&lt;&amp;&#13;</item><item type="null"/></msg></message>"#
        );
    }

    #[test]
    fn spec_example_xml_decodes() {
        let payload = br#"<?xml version="1.0" encoding="UTF-8"?>
<message method="PUBLISH" topic="/telephony/orange"><msg type="int"> 27 </msg></message>"#;
        let m = Format::Xml.decode(payload).unwrap();
        assert_eq!(m, Message::publish("/telephony/orange", 27));
    }

    #[test]
    fn xml_dict_and_text_kept_exactly() {
        let payload = br#"<message method="PUBLISH" topic="/a"><msg type="dict"><item key="k&quot;" type="str">  two  spaces&#13;&lt;x&gt;</item><item key="f" type="float">2.0</item><item key="e" type="list"/></msg></message>"#;
        let m = Format::Xml.decode(payload).unwrap();
        assert_eq!(
            m.msg,
            Value::Dict(vec![
                ("k\"".into(), "  two  spaces\r<x>".into()),
                ("f".into(), Value::Float(2.0)),
                ("e".into(), Value::List(vec![])),
            ])
        );
    }

    #[test]
    fn json_envelope_fields() {
        let e = Format::Json
            .decode_envelope(br#" {"x":[1,{"y":null}],"msg": {"a":[1.5,"\u00e9"]} ,"topic":"/a","method":"PUBLISH"} "#)
            .unwrap();
        assert_eq!(e.method, Method::Publish);
        assert_eq!(e.topic.as_deref(), Some("/a"));
        let Body::Json { ref text, xml_len } = e.msg else {
            panic!("json body")
        };
        assert_eq!(text, r#"{"a":[1.5,"\u00e9"]}"#);
        let mut xml = Vec::new();
        Format::Xml
            .encode_parts(Method::Publish, "/a", &e.msg, Attrs::NONE, &mut xml)
            .unwrap();
        assert_eq!(
            Format::Xml
                .payload_len(Method::Publish, "/a", &e.msg, Attrs::NONE)
                .unwrap(),
            xml.len() - 5
        );
        assert!(xml_len.is_none(), "short payloads are not measured");
        assert_eq!(Format::Xml.decode(&xml[5..]).unwrap().msg, e.msg.to_value());
    }

    #[test]
    fn refusals() {
        let cases: &[(&[u8], DecodeError)] = &[
            (
                br#"{"method":"PUBLISH","msg":9223372036854775808}"#,
                ValueError::IntOutOfRange("9223372036854775808".into()).into(),
            ),
            (
                br#"{"method":"PUBLISH","msg":1e999}"#,
                ValueError::NonFiniteFloat.into(),
            ),
            (
                br#"{"method":"PUBLISH","msg":"\u0001"}"#,
                ValueError::ForbiddenChar(1).into(),
            ),
            (
                br#"{"method":"PUBLISH","msg":"\ud800"}"#,
                ValueError::LoneSurrogate(0xD800).into(),
            ),
            (
                br#"{"method":"publish"}"#,
                DecodeError::UnknownMethod("publish".into()),
            ),
            (br#"{"topic":"/a"}"#, DecodeError::MissingMethod),
            (br#"[1]"#, DecodeError::NotAnObject),
            (b"\xff", DecodeError::NotUtf8),
        ];
        for (payload, want) in cases {
            assert_eq!(
                &Format::Json.decode_envelope(payload).unwrap_err(),
                want,
                "{}",
                String::from_utf8_lossy(payload)
            );
        }
        let xml_bool =
            br#"<message method="PUBLISH" topic="/a"><msg type="bool">yes</msg></message>"#;
        assert!(matches!(
            Format::Xml.decode(xml_bool),
            Err(DecodeError::Value(ValueError::BadScalar { .. }))
        ));
        let xml_ctrl = br#"<message method="PUBLISH" topic="/a"><msg>&#1;</msg></message>"#;
        assert_eq!(
            Format::Xml.decode(xml_ctrl),
            Err(ValueError::ForbiddenChar(1).into())
        );
    }

    #[test]
    fn depth_64_accepted_65_refused() {
        let ok = format!(
            r#"{{"method":"PUBLISH","msg":{}{}}}"#,
            "[".repeat(64),
            "]".repeat(64)
        );
        assert!(Format::Json.decode(ok.as_bytes()).is_ok());
        let bad = format!(
            r#"{{"method":"PUBLISH","msg":{}{}}}"#,
            "[".repeat(65),
            "]".repeat(65)
        );
        assert_eq!(
            Format::Json.decode(bad.as_bytes()),
            Err(ValueError::TooDeep.into())
        );
        let xml_bad = format!(
            r#"<message method="PUBLISH"><msg type="list">{}{}</msg></message>"#,
            r#"<item type="list">"#.repeat(64),
            "</item>".repeat(64)
        );
        assert_eq!(
            Format::Xml.decode(xml_bad.as_bytes()),
            Err(ValueError::TooDeep.into())
        );
    }

    #[test]
    fn recover_topic_for_errors() {
        assert_eq!(
            Format::Json
                .recover_topic(br#"{"method":"NOPE","topic":"/x"}"#)
                .as_deref(),
            Some("/x")
        );
        assert_eq!(
            Format::Xml
                .recover_topic(br#"<message method="NOPE" topic="/y"/>"#)
                .as_deref(),
            Some("/y")
        );
        assert_eq!(Format::Json.recover_topic(b"{garbage"), None);
    }
}
