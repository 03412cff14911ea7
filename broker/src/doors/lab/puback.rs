//! `PUBACK` frames (v2 §15). One may follow every publish, and one
//! connection's are alike: the same topic, the next `seq`, as many
//! receivers. So a connection keeps its last `PUBACK` frame and makes the
//! next one from it: most often a copy whose `seq` gets one added to its
//! last digit, otherwise by rewriting the two numbers in place. The general
//! encoder writes the frame when the topic or a number's count of digits
//! changes, or the ack has an id.

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
            if kept.format == format && same_text(&kept.topic, a.topic) {
                if kept.write_next(seq, receivers, out) {
                    return;
                }
                if kept.renumber(seq, receivers) {
                    out.extend_from_slice(&kept.frame);
                    return;
                }
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
    /// Appends the frame of the `seq` after the kept one, with as many
    /// `receivers` (the usual next `PUBACK`); `false`, with nothing
    /// appended, for any other or when the sum needs one more digit.
    ///
    /// The kept frame is copied first, then its digits are incremented and
    /// the changed ones written into the copy as well. A load that spans
    /// bytes stored just before by narrower or wider stores waits for them
    /// to retire: copying after incrementing stalled the copy's wide loads,
    /// and incrementing the copy stalled its byte loads. The frame's bytes
    /// were last stored at the previous `PUBACK`, long before.
    fn write_next(&mut self, seq: u64, receivers: u64, out: &mut Vec<u8>) -> bool {
        if receivers != self.receivers || Some(seq) != self.seq.checked_add(1) {
            return false;
        }
        let start = out.len();
        out.extend_from_slice(&self.frame);
        let copy = &mut out[start + self.seq_at.start..start + self.seq_at.end];
        if !increment_into(&mut self.frame[self.seq_at.clone()], copy) {
            out.truncate(start);
            return false;
        }
        self.seq = seq;
        true
    }

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
            if !overwrite(&mut self.frame[self.seq_at.clone()], seq) {
                return false;
            }
            self.seq = seq;
        }
        true
    }
}

/// Whether `a` and `b` are the same text. Up to 16 bytes (most topics) they
/// are compared in line, as two overlapping integers from each end: `==`
/// calls `memcmp`, which cost as many instructions as the rest of a
/// `PUBACK`'s checks.
fn same_text(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let n = a.len();
    match n {
        0 => true,
        1..=3 => a[0] == b[0] && a[n / 2] == b[n / 2] && a[n - 1] == b[n - 1],
        4..=7 => {
            a.first_chunk::<4>() == b.first_chunk::<4>()
                && a.last_chunk::<4>() == b.last_chunk::<4>()
        }
        8..=16 => {
            a.first_chunk::<8>() == b.first_chunk::<8>()
                && a.last_chunk::<8>() == b.last_chunk::<8>()
        }
        _ => a == b,
    }
}

/// Adds one to the decimal `digits`, and writes the digits that change
/// into `copy` too (which held the same digits), without reading `copy`;
/// `false`, with nothing written, if all were nines (the sum needs one more
/// digit).
fn increment_into(digits: &mut [u8], copy: &mut [u8]) -> bool {
    let Some(last) = digits.iter().rposition(|&d| d != b'9') else {
        return false;
    };
    let d = digits[last] + 1;
    digits[last] = d;
    copy[last] = d;
    for (d, c) in digits[last + 1..].iter_mut().zip(&mut copy[last + 1..]) {
        *d = b'0';
        *c = b'0';
    }
    true
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
    fn texts_are_the_same_as_equality_says() {
        let texts = [
            "",
            "a",
            "b",
            "ab",
            "ba",
            "abc",
            "abd",
            "aXc",
            "/beXch",
            "/bench/01X345678",
            "xbc",
            "/bench",
            "/bencH",
            "/bench/x",
            "/bench/y",
            "/bench/0123456",
            "/bench/0123457",
            "/0bench/123456",
            "/bench/012345678",
            "/bench/012345679",
            "/bench/012345678/a",
            "/bench/012345678/b",
            "é",
            "è",
        ];
        for a in texts {
            for b in texts {
                assert_eq!(same_text(a, b), a == b, "{a:?} {b:?}");
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
