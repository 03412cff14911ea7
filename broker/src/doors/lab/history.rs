//! `HISTORY` answers as lab frames, paged to the frame limit (v2 §12).
//!
//! The answer's `msg` is written as JSON text around the kept messages'
//! own JSON text, so a page is never built as a value tree; the protocol
//! crate streams it into XML for XML clients as it does any JSON value.

use std::borrow::Cow;
use std::fmt::Write;
use std::sync::OnceLock;

use log::debug;
use protocol::{Attrs, Body, EncodeError, Format, Method, MAX_PAYLOAD};

use super::encode;
use crate::core::{Entry, Gap, GapReason, HistoryPage, Notice};

/// One item of a page: what the answer says of a kept message.
#[derive(Debug, Clone, Copy)]
pub(super) struct Item<'a> {
    pub seq: u64,
    pub ts: u64,
    /// The message's validated JSON text.
    pub text: &'a str,
}

impl<'a> From<&'a Entry> for Item<'a> {
    fn from(e: &'a Entry) -> Self {
        let text = match e.body() {
            Body::Json {
                text: Cow::Borrowed(t),
                ..
            } => t,
            // Entries always hold borrowed JSON text.
            _ => "null",
        };
        Item {
            seq: e.seq,
            ts: e.ts,
            text,
        }
    }
}

/// The JSON text of a page's `msg`: `{"seq":..,"first":..,"items":[..]}`.
fn page_text<'a>(seq: u64, first: Option<u64>, items: impl Iterator<Item = Item<'a>>) -> String {
    let mut s = String::with_capacity(64);
    let _ = write!(s, "{{\"seq\":{seq},\"first\":");
    match first {
        Some(f) => {
            let _ = write!(s, "{f}");
        }
        None => s.push_str("null"),
    }
    s.push_str(",\"items\":[");
    for (i, item) in items.enumerate() {
        if i > 0 {
            s.push(',');
        }
        let _ = write!(s, "{{\"seq\":{},\"ts\":{},\"msg\":", item.seq, item.ts);
        s.push_str(item.text);
        s.push('}');
    }
    s.push_str("]}");
    s
}

/// Payload bytes of a `HISTORY` frame on `topic` whose `msg` is `text`.
fn frame_len(format: Format, topic: &str, text: &str, more: bool) -> Result<usize, EncodeError> {
    let body = Body::Json {
        text: Cow::Borrowed(text),
        xml_len: None,
    };
    format.payload_len(Method::History, topic, &body, Attrs::more(more))
}

/// Payload bytes of the largest `HISTORY` frame that holds only `item`
/// (every number at its widest), in `format`: a published message must fit
/// it, so that any kept message can be sent back.
pub(super) fn single_item_len(
    format: Format,
    topic: &str,
    text: &str,
) -> Result<usize, EncodeError> {
    // Numbers travel as 64-bit signed integers.
    let widest = i64::MAX.unsigned_abs();
    let item = Item {
        seq: widest,
        ts: widest,
        text,
    };
    let page = page_text(widest, Some(widest), std::iter::once(item));
    frame_len(format, topic, &page, true)
}

/// Bytes a one-item `HISTORY` answer may take beyond the value's `LAST_MSG`
/// frame (widest `seq` and `ts`), in `format`, whatever the value and the
/// topic: measured once on `null`, plus one. The topic is written once in
/// each, escaped alike. The value is the same text in both frames in JSON;
/// in XML it is an `<item key="msg" ...>` element instead of `<msg ...>`, 12
/// bytes longer (11 when self-closing, as `null` is). So a large message is
/// sized from its delivery, not measured again.
pub(super) fn extra_over_delivery(format: Format) -> usize {
    static EXTRA: OnceLock<[usize; 2]> = OnceLock::new();
    EXTRA.get_or_init(|| Format::ALL.map(|f| measure_extra(f, "/").unwrap_or(MAX_PAYLOAD)))
        [format.index()]
}

/// [`extra_over_delivery`] measured on `topic`.
fn measure_extra(format: Format, topic: &str) -> Result<usize, EncodeError> {
    let widest = Attrs::stamped(u64::MAX, u64::MAX);
    let delivery = format.payload_len(Method::LastMsg, topic, &Body::NULL, widest)?;
    Ok(single_item_len(format, topic, "null")?.saturating_sub(delivery) + 1)
}

/// Appends the `HISTORY` answer: the oldest items that fit one frame, with
/// `more` when some did not. An item too large for any frame (a NATS
/// message of 1 MiB, say) is left out and reported by a `GAP` with reason
/// `size`, sent before the page (front-doors spec, "Sizes").
pub(super) fn page(format: Format, page: &HistoryPage<'_>, out: &mut Vec<u8>) {
    let items: Vec<Item<'_>> = page.items.iter().map(|e| Item::from(*e)).collect();
    let cut = fitting(format, page, &items);
    for &(from, to) in &cut.too_large {
        let gap = Gap {
            topic: page.topic,
            from,
            to,
            reason: GapReason::Size,
            epoch: page.epoch,
        };
        encode::notice(format, &Notice::Gap(gap), out);
    }
    let text = page_text(page.seq, page.first, cut.fit.iter().copied());
    let body = Body::Json {
        text: Cow::Owned(text),
        xml_len: None,
    };
    let attrs = Attrs::more(cut.more);
    if let Err(e) = format.encode_parts(Method::History, page.topic, &body, attrs, out) {
        debug!("HISTORY on {} not encoded: {e}", page.topic);
    }
}

/// What of a page's items one frame carries.
#[derive(Debug, Default)]
struct Cut<'a> {
    /// The items in the frame, oldest first.
    fit: Vec<Item<'a>>,
    /// Runs of numbers `(from, to)` left out because each is too large for
    /// a frame by itself.
    too_large: Vec<(u64, u64)>,
    /// Items that would fit remain after the frame is full.
    more: bool,
}

/// Which of `items`, from the oldest, fit one frame. Each item is measured
/// alone, then twice over, so the cost is linear: the difference is what one
/// more item adds (with its separator), whatever the format.
fn fitting<'a>(format: Format, page: &HistoryPage<'_>, items: &[Item<'a>]) -> Cut<'a> {
    let len = |items: &[Item<'_>]| {
        let text = page_text(page.seq, page.first, items.iter().copied());
        frame_len(format, page.topic, &text, true).unwrap_or(usize::MAX)
    };
    let empty = len(&[]);
    let mut total = empty;
    let mut cut = Cut::default();
    for item in items {
        let alone = len(std::slice::from_ref(item));
        if alone > MAX_PAYLOAD {
            match cut.too_large.last_mut() {
                Some((_, to)) if *to + 1 == item.seq => *to = item.seq,
                _ => cut.too_large.push((item.seq, item.seq)),
            }
            continue;
        }
        let added = if cut.fit.is_empty() {
            alone.saturating_sub(empty)
        } else {
            len(&[*item, *item]).saturating_sub(alone)
        };
        total = total.saturating_add(added);
        if total > MAX_PAYLOAD {
            cut.more = true;
            break;
        }
        cut.fit.push(*item);
    }
    cut
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_text_is_the_spec_shape() {
        let items = [
            Item {
                seq: 3,
                ts: 10,
                text: "\"a\"",
            },
            Item {
                seq: 4,
                ts: 11,
                text: "[1]",
            },
        ];
        assert_eq!(
            page_text(4, Some(3), items.into_iter()),
            r#"{"seq":4,"first":3,"items":[{"seq":3,"ts":10,"msg":"a"},{"seq":4,"ts":11,"msg":[1]}]}"#
        );
        assert_eq!(
            page_text(0, None, std::iter::empty()),
            r#"{"seq":0,"first":null,"items":[]}"#
        );
    }

    #[test]
    fn a_one_item_answer_is_bounded_by_the_delivery_plus_the_extra() {
        let widest = Attrs::stamped(u64::MAX, u64::MAX);
        let values = [
            "null",
            "1",
            "\"\"",
            "\"x<&\"",
            "[]",
            "{}",
            "[1,[2,{\"k\":null}]]",
            "2.5",
        ];
        for format in Format::ALL {
            for topic in ["/t", "/a&b/<c>", "/\"q\"/é"] {
                let extra = extra_over_delivery(format);
                assert_eq!(measure_extra(format, topic).unwrap(), extra, "{topic}");
                for text in values {
                    let body = Body::Json {
                        text: Cow::Borrowed(text),
                        xml_len: None,
                    };
                    let delivery = format
                        .payload_len(Method::LastMsg, topic, &body, widest)
                        .unwrap();
                    let page = single_item_len(format, topic, text).unwrap();
                    assert!(page <= delivery + extra, "{format:?} {topic} {text}");
                    assert!(
                        page + 1 >= delivery + extra,
                        "{format:?} {topic} {text}: tight"
                    );
                }
            }
        }
    }

    #[test]
    fn measured_pages_match_written_ones() {
        let texts = ["1", "\"x<&y\"", "{\"k\":[1,2.5,null,true]}", "[]"];
        let items: Vec<Item<'_>> = texts
            .iter()
            .enumerate()
            .map(|(i, t)| Item {
                seq: i as u64 + 3,
                ts: 1_733_500_000_000,
                text: t,
            })
            .collect();
        for format in Format::ALL {
            let mut total =
                frame_len(format, "/t", &page_text(9, Some(3), [].into_iter()), true).unwrap();
            for (i, item) in items.iter().enumerate() {
                let one = page_text(9, Some(3), std::iter::once(*item));
                let alone = frame_len(format, "/t", &one, true).unwrap();
                total += if i == 0 {
                    alone - total
                } else {
                    let two = page_text(9, Some(3), [*item, *item].into_iter());
                    frame_len(format, "/t", &two, true).unwrap() - alone
                };
                let upto = page_text(9, Some(3), items[..=i].iter().copied());
                assert_eq!(
                    total,
                    frame_len(format, "/t", &upto, true).unwrap(),
                    "{format:?} {i}"
                );
            }
        }
    }
}
