//! `PUBACK` frames (v2 §15). One may follow every publish, and one
//! connection's are alike: the same topic, the next `seq`, as many
//! receivers. So a connection keeps its last `PUBACK` frame and makes the
//! next one by rewriting the two numbers in place (the `seq` most often by
//! adding one to its last digit); the general encoder writes the frame when
//! the topic or a number's count of digits changes, or the ack has an id.

use std::borrow::Cow;
use std::ops::Range;

use log::debug;
use protocol::value::Digits;
use protocol::{Attrs, Body, Format, Method};

use crate::core::delivery::PubAck;

/// What the general encoder writes between the `seq` and `receivers`
/// digits, and after the latter, in each format (checked when a frame is
/// kept).
fn tail(format: Format) -> (&'static [u8], &'static [u8]) {
    match format {
        Format::Json => (b",\"receivers\":", b"}}"),
        Format::Xml => (
            b"</item><item key=\"receivers\" type=\"int\">",
            b"</item></msg></message>",
        ),
    }
}

/// A connection's last `PUBACK` without id, if it had one.
#[derive(Debug, Default)]
pub(super) struct Last {
    kept: Option<Kept>,
}

/// A `PUBACK` frame and where its numbers are.
#[derive(Debug)]
struct Kept {
    format: Format,
    /// Its topic (a `String` so that a new topic reuses the room).
    topic: String,
    /// The whole frame, header included.
    frame: Vec<u8>,
    seq: u64,
    receivers: u64,
    /// Where `seq`'s digits are in `frame`.
    seq_at: Range<usize>,
    /// Where `receivers`' digits are in `frame`.
    receivers_at: Range<usize>,
}

impl Last {
    /// Appends the `PUBACK` `a` in `format`.
    pub(super) fn write(&mut self, format: Format, a: &PubAck<'_>, out: &mut Vec<u8>) {
        if a.id.is_some() || a.duplicate {
            return general(format, a, out);
        }
        let (seq, receivers) = (clamp(a.seq), clamp(a.receivers));
        if let Some(kept) = &mut self.kept {
            if kept.format == format && kept.topic == a.topic && kept.renumber(seq, receivers) {
                out.extend_from_slice(&kept.frame);
                return;
            }
        }
        let start = out.len();
        general(format, a, out);
        self.keep(format, a.topic, seq, receivers, &out[start..]);
    }

    /// Keeps `frame`, the general encoder's `PUBACK` on `topic`; nothing if
    /// it does not end as [`tail`] says (a topic too long for a frame, so
    /// none was written).
    fn keep(&mut self, format: Format, topic: &str, seq: u64, receivers: u64, frame: &[u8]) {
        let (mid, end) = tail(format);
        let (seq_digits, receivers_digits) = (Digits::of(seq), Digits::of(receivers));
        let (seq_digits, receivers_digits) = (seq_digits.as_bytes(), receivers_digits.as_bytes());
        let tail_len = seq_digits.len() + mid.len() + receivers_digits.len() + end.len();
        let Some(seq_start) = frame.len().checked_sub(tail_len) else {
            self.kept = None;
            return;
        };
        let receivers_start = seq_start + seq_digits.len() + mid.len();
        let receivers_end = receivers_start + receivers_digits.len();
        let fits = frame[seq_start..].starts_with(seq_digits)
            && frame[seq_start + seq_digits.len()..].starts_with(mid)
            && frame[receivers_start..].starts_with(receivers_digits)
            && &frame[receivers_end..] == end;
        if !fits {
            self.kept = None;
            return;
        }
        let kept = self.kept.get_or_insert_with(|| Kept {
            format,
            topic: String::new(),
            frame: Vec::new(),
            seq,
            receivers,
            seq_at: 0..0,
            receivers_at: 0..0,
        });
        kept.format = format;
        kept.topic.clear();
        kept.topic.push_str(topic);
        kept.frame.clear();
        kept.frame.extend_from_slice(frame);
        kept.seq = seq;
        kept.receivers = receivers;
        kept.seq_at = seq_start..seq_start + seq_digits.len();
        kept.receivers_at = receivers_start..receivers_end;
    }
}

impl Kept {
    /// Writes `seq` and `receivers` into the frame; `false` if one has
    /// another count of digits (the frame is then to be rewritten whole).
    fn renumber(&mut self, seq: u64, receivers: u64) -> bool {
        if receivers != self.receivers {
            if !overwrite(&mut self.frame[self.receivers_at.clone()], receivers) {
                return false;
            }
            self.receivers = receivers;
        }
        if seq != self.seq {
            let digits = &mut self.frame[self.seq_at.clone()];
            let done = if seq == self.seq + 1 {
                increment(digits)
            } else {
                overwrite(digits, seq)
            };
            if !done {
                return false;
            }
            self.seq = seq;
        }
        true
    }
}

/// Adds one to the decimal `digits`; `false` if all were nines (the sum
/// needs one more digit; `digits` are then zeros).
fn increment(digits: &mut [u8]) -> bool {
    for d in digits.iter_mut().rev() {
        if *d == b'9' {
            *d = b'0';
        } else {
            *d += 1;
            return true;
        }
    }
    false
}

/// Writes the digits of `n` over `digits`; `false` if it has another count
/// of them (nothing is written).
fn overwrite(digits: &mut [u8], n: u64) -> bool {
    let new = Digits::of(n);
    let new = new.as_bytes();
    if new.len() != digits.len() {
        return false;
    }
    digits.copy_from_slice(new);
    true
}

/// Appends a `PUBACK` by the general encoder: its `msg` as JSON text, which
/// XML streams.
pub(super) fn general(format: Format, a: &PubAck<'_>, out: &mut Vec<u8>) {
    let mut text = Vec::with_capacity(48 + a.id.map_or(0, str::len));
    text.extend_from_slice(b"{\"seq\":");
    protocol::value::push_uint(&mut text, clamp(a.seq));
    text.extend_from_slice(b",\"receivers\":");
    protocol::value::push_uint(&mut text, clamp(a.receivers));
    if let Some(id) = a.id {
        text.extend_from_slice(b",\"id\":");
        text.extend_from_slice(protocol::format::json::quote(id).as_bytes());
    }
    if a.duplicate {
        text.extend_from_slice(b",\"duplicate\":true");
    }
    text.push(b'}');
    let Ok(text) = String::from_utf8(text) else {
        return;
    };
    let body = Body::Json {
        text: Cow::Owned(text),
        xml_len: None,
    };
    if let Err(e) = format.encode_parts(Method::PubAck, a.topic, &body, Attrs::NONE, out) {
        debug!("PUBACK on {} not encoded: {e}", a.topic);
    }
}

/// A count as a protocol integer (64-bit signed): larger ones are written
/// as the largest.
fn clamp(n: u64) -> u64 {
    n.min(i64::MAX as u64)
}

#[cfg(test)]
mod tests {
    use protocol::{Value, MAX_PAYLOAD};

    use super::*;

    /// The general encoder's frame for a `PUBACK` without id, from a value.
    fn from_value(format: Format, topic: &str, seq: u64, receivers: u64) -> Vec<u8> {
        let int = |n: u64| Value::Int(i64::try_from(n).unwrap_or(i64::MAX));
        let msg = Value::Dict(vec![
            ("seq".into(), int(seq)),
            ("receivers".into(), int(receivers)),
        ]);
        let mut out = Vec::new();
        format
            .encode_value(Method::PubAck, topic, &msg, Attrs::NONE, &mut out)
            .unwrap();
        out
    }

    fn ack(topic: &str, seq: u64, receivers: u64) -> PubAck<'_> {
        PubAck {
            topic,
            seq,
            receivers,
            id: None,
            duplicate: false,
        }
    }

    #[test]
    fn a_renumbered_frame_is_what_the_general_encoder_writes() {
        let escaped = "/q\"<&>\\/é";
        for format in Format::ALL {
            let mut last = Last::default();
            // The next seq, carries, jumps, new digit counts, other
            // receivers, other topics (escaped as the general encoder does).
            for (topic, seq, receivers) in [
                ("/a", 1, 0),
                ("/a", 2, 0),
                ("/a", 9, 0),
                ("/a", 10, 0),
                ("/a", 11, 3),
                ("/a", 19, 3),
                ("/a", 20, 3),
                ("/a", 99, 3),
                ("/a", 100, 12),
                ("/a", 101, 7),
                ("/a", 102, 11),
                ("/a", 998, 11),
                ("/a", 999, 11),
                ("/a", 1000, 11),
                ("/bench/x-y_z", 123_456_789, 42),
                ("/bench/x-y_z", 123_456_790, 42),
                ("/bench/x-y_z", u64::MAX, 7),
                ("/bench/x-y_z", u64::MAX, 7),
                (escaped, 5, 1),
                (escaped, 6, 1),
                ("/a", 7, 0),
                ("/a", 8, 0),
            ] {
                let mut fast = b"before".to_vec();
                last.write(format, &ack(topic, seq, receivers), &mut fast);
                let mut slow = b"before".to_vec();
                slow.extend(from_value(format, topic, seq, receivers));
                assert_eq!(
                    String::from_utf8(fast),
                    String::from_utf8(slow),
                    "{format:?} {topic} {seq} {receivers}"
                );
                // Every one of them is kept: the next is renumbered.
                assert!(last.kept.as_ref().is_some_and(|k| k.topic == topic));
            }
        }
    }

    #[test]
    fn a_topic_no_frame_can_hold_writes_nothing() {
        let long = format!("/{}", "x".repeat(MAX_PAYLOAD));
        for format in Format::ALL {
            let mut last = Last::default();
            last.write(format, &ack("/a", 1, 1), &mut Vec::new());
            let mut out = Vec::new();
            last.write(format, &ack(&long, 2, 1), &mut out);
            assert!(out.is_empty());
            assert!(last.kept.is_none());
            last.write(format, &ack("/a", 3, 1), &mut out);
            assert_eq!(out, from_value(format, "/a", 3, 1));
        }
    }

    #[test]
    fn ids_and_repeats_are_written_by_the_general_encoder() {
        for format in Format::ALL {
            let mut last = Last::default();
            last.write(format, &ack("/a", 2, 2), &mut Vec::new());
            let with_id = PubAck {
                id: Some("m-\"1\"<"),
                duplicate: true,
                ..ack("/a", 3, 2)
            };
            let mut fast = Vec::new();
            last.write(format, &with_id, &mut fast);
            let mut slow = Vec::new();
            general(format, &with_id, &mut slow);
            assert_eq!(fast, slow);
            let decoded = format.decode(&fast[protocol::HEADER_LEN..]).unwrap();
            assert_eq!(decoded.method, Method::PubAck);
            // The kept frame is still the last one without id.
            let mut out = Vec::new();
            last.write(format, &ack("/a", 4, 2), &mut out);
            assert_eq!(out, from_value(format, "/a", 4, 2));
        }
    }
}
