//! [`History`]: a topic's sequence counter and its last messages.
//!
//! Entries only ever leave from the front (the oldest first) and join at the
//! back with the next number, so the kept numbers are always one unbroken
//! range `first..=seq`: finding an entry by number is an index, not a
//! search. The newest entry is v1's retained message; nothing removes it
//! but a newer one.
//!
//! The entries sit in a ring over a `Vec` sized to the history bound: once
//! full, a new message overwrites the oldest entry in place, reusing its
//! text buffer, so a steady stream of publishes moves no entry and
//! allocates nothing.

use std::borrow::Cow;

use protocol::Body;

/// One kept message.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// Its number on its topic.
    pub seq: u64,
    /// When the broker accepted it, in milliseconds since the Unix epoch.
    pub ts: u64,
    /// The validated JSON text of its value; the buffer is reused when the
    /// entry leaves a full ring.
    text: String,
    /// Bytes of the value's XML `msg` element, when measured (a frame's
    /// worth at most, so 32 bits: an entry is 48 bytes, not 56).
    xml_len: Option<u32>,
}

impl Entry {
    /// The value as a [`Body`] to encode.
    #[must_use]
    pub fn body(&self) -> Body<'_> {
        Body::Json {
            text: Cow::Borrowed(&self.text),
            xml_len: self.xml_len.map(|n| n as usize),
        }
    }

    /// The value's JSON text.
    #[must_use]
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Bytes of JSON text kept: what the retained-bytes bound counts.
    #[must_use]
    pub fn bytes(&self) -> usize {
        self.text.len()
    }

    /// Fills the entry from `body`, reusing its buffer.
    fn fill(&mut self, seq: u64, ts: u64, body: &Body<'_>) {
        self.seq = seq;
        self.ts = ts;
        self.text.clear();
        match body {
            Body::Json { text, xml_len } => {
                self.text.push_str(text);
                self.xml_len = xml_len.and_then(|n| u32::try_from(n).ok());
            }
            // Only clients build value trees; the router was handed one that
            // passed the door's checks, so its JSON form is valid.
            Body::Value(v) => {
                self.text = v.to_string();
                self.xml_len = None;
            }
            Body::Str { .. } => {
                body.push_json(&mut self.text);
                self.xml_len = None;
            }
        }
    }
}

/// A topic's numbering and kept messages; see the module docs.
#[derive(Debug, Default)]
pub struct History {
    /// The number of the last accepted message (0 before the first).
    seq: u64,
    /// The ring: the kept entries are `slots[head..]` then `slots[..head]`,
    /// `len` of them from `head`, oldest first; other slots keep only a
    /// spare buffer.
    slots: Vec<Entry>,
    head: usize,
    len: usize,
}

/// What [`History::push`] changed, in bytes of JSON text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Pushed {
    /// The new message's number.
    pub seq: u64,
    /// Bytes of the entry that left a full ring, if one did.
    pub dropped: Option<usize>,
    /// Bytes of the entry that was the newest before (0 if none).
    pub superseded: usize,
}

impl History {
    /// The number of the last accepted message; 0 before the first.
    #[must_use]
    pub fn seq(&self) -> u64 {
        self.seq
    }

    /// The slot of the `k`th kept entry, oldest first.
    #[inline]
    fn slot(&self, k: usize) -> usize {
        let at = self.head + k;
        if at >= self.slots.len() {
            at - self.slots.len()
        } else {
            at
        }
    }

    /// The oldest kept number, if any is kept.
    #[must_use]
    pub fn first(&self) -> Option<u64> {
        (self.len > 0).then(|| self.slots[self.head].seq)
    }

    /// The newest message: v1's retained message.
    #[must_use]
    pub fn newest(&self) -> Option<&Entry> {
        (self.len > 0).then(|| &self.slots[self.slot(self.len - 1)])
    }

    /// How many messages are kept.
    #[must_use]
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether nothing is kept.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The kept message numbered `seq`, if it is kept.
    #[must_use]
    pub fn get(&self, seq: u64) -> Option<&Entry> {
        let first = self.first()?;
        let k = usize::try_from(seq.checked_sub(first)?).ok()?;
        (k < self.len).then(|| &self.slots[self.slot(k)])
    }

    /// Kept messages numbered above `after`, oldest first.
    pub fn after(&self, after: u64) -> impl Iterator<Item = &Entry> {
        let skip = self.first().map_or(0, |first| {
            usize::try_from(after.saturating_add(1).saturating_sub(first)).unwrap_or(usize::MAX)
        });
        (skip.min(self.len)..self.len).map(|k| &self.slots[self.slot(k)])
    }

    /// Numbers the next message `seq + 1` without keeping it (a reply
    /// inbox's messages).
    pub(super) fn advance(&mut self) -> u64 {
        self.seq += 1;
        self.seq
    }

    /// Numbers the next message `seq + 1` and keeps it as the newest, the
    /// oldest leaving first when `cap` are kept already.
    #[inline]
    pub(super) fn push(&mut self, body: &Body<'_>, ts: u64, cap: usize) -> Pushed {
        self.seq += 1;
        let superseded = self.newest().map_or(0, Entry::bytes);
        let mut dropped = None;
        if self.len >= cap.max(1) {
            // Full: the oldest entry becomes the newest, in place.
            let oldest = self.head;
            dropped = Some(self.slots[oldest].bytes());
            self.slots[oldest].fill(self.seq, ts, body);
            self.head = self.slot(1);
        } else if self.len < self.slots.len() {
            let at = self.slot(self.len);
            self.slots[at].fill(self.seq, ts, body);
            self.len += 1;
        } else {
            // Growing: the new entry goes after the newest, which is just
            // before the oldest when the ring has wrapped.
            let mut e = empty_entry();
            e.fill(self.seq, ts, body);
            if self.slots.len() == self.slots.capacity() {
                // Doubling, but never past the bound: a full ring holds
                // exactly `cap` slots.
                let want = (self.slots.len() * 2).clamp(1, cap.max(1));
                self.slots.reserve_exact(want - self.slots.len());
            }
            if self.head == 0 {
                self.slots.push(e);
            } else {
                self.slots.insert(self.head, e);
                self.head += 1;
            }
            self.len += 1;
        }
        Pushed {
            seq: self.seq,
            dropped,
            superseded,
        }
    }

    /// Empties the ring and numbers the next message `seq + 1`: the store's
    /// log said the numbering goes on from there (recovery after a cut).
    /// Returns the bytes and count of the entries that left, and the bytes
    /// of the newest among them.
    pub(super) fn restart_after(&mut self, seq: u64) -> (usize, usize, usize) {
        let newest = self.newest().map_or(0, Entry::bytes);
        let bytes = self.after(0).map(Entry::bytes).sum();
        let count = self.len;
        self.slots.clear();
        self.head = 0;
        self.len = 0;
        self.seq = seq;
        (bytes, count, newest)
    }

    /// Removes the oldest entry if it is numbered `seq` and is not the
    /// newest; returns its bytes. Its buffer is freed: it leaves to make
    /// room.
    pub(super) fn remove_oldest(&mut self, seq: u64) -> Option<usize> {
        if self.len < 2 || self.first() != Some(seq) {
            return None;
        }
        let oldest = &mut self.slots[self.head];
        let bytes = oldest.bytes();
        oldest.text = String::new();
        self.head = self.slot(1);
        self.len -= 1;
        Some(bytes)
    }
}

fn empty_entry() -> Entry {
    Entry {
        seq: 0,
        ts: 0,
        text: String::new(),
        xml_len: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(text: &str) -> Body<'_> {
        Body::Json {
            text: Cow::Borrowed(text),
            xml_len: None,
        }
    }

    fn seqs<'a>(it: impl Iterator<Item = &'a Entry>) -> Vec<u64> {
        it.map(|e| e.seq).collect()
    }

    #[test]
    fn numbers_run_without_holes_and_the_ring_keeps_the_newest() {
        let mut h = History::default();
        assert_eq!((h.seq(), h.first()), (0, None));
        for i in 1..=5 {
            let p = h.push(&body(&i.to_string()), 100 + i, 3);
            assert_eq!(p.seq, i);
        }
        assert_eq!((h.seq(), h.first(), h.len()), (5, Some(3), 3));
        assert_eq!(seqs(h.after(0)), [3, 4, 5]);
        assert_eq!(seqs(h.after(3)), [4, 5]);
        assert!(h.after(5).next().is_none());
        assert!(h.after(u64::MAX).next().is_none());
        assert_eq!(h.get(4).map(|e| e.ts), Some(104));
        assert!(h.get(2).is_none() && h.get(6).is_none());
        assert_eq!(h.newest().map(Entry::body), Some(body("5")));
    }

    #[test]
    fn push_reports_bytes_that_left() {
        let mut h = History::default();
        assert_eq!(h.push(&body("aa"), 1, 2).superseded, 0);
        let p = h.push(&body("bbb"), 2, 2);
        assert_eq!((p.dropped, p.superseded), (None, 2));
        let p = h.push(&body("c"), 3, 2);
        assert_eq!((p.dropped, p.superseded), (Some(2), 3));
    }

    #[test]
    fn a_full_ring_holds_exactly_its_bound() {
        let mut h = History::default();
        for i in 1..=100 {
            h.push(&body("1"), i, 100);
        }
        assert_eq!(h.slots.capacity(), 100);
        assert_eq!(std::mem::size_of::<Entry>(), 48);
    }

    #[test]
    fn the_ring_grows_after_removals_in_order() {
        let mut h = History::default();
        for i in 1..=4 {
            h.push(&body("1"), i, 6);
        }
        assert_eq!(h.remove_oldest(1), Some(1));
        assert_eq!(h.remove_oldest(2), Some(1));
        for i in 5..=10 {
            h.push(&body("1"), i, 6);
        }
        assert_eq!(seqs(h.after(0)), [5, 6, 7, 8, 9, 10]);
        assert_eq!(h.get(7).map(|e| e.ts), Some(7));
        h.push(&body("1"), 11, 6);
        assert_eq!(seqs(h.after(0)), [6, 7, 8, 9, 10, 11]);
        assert_eq!(seqs(h.after(9)), [10, 11]);
        assert_eq!(h.newest().map(|e| e.seq), Some(11));
    }

    #[test]
    fn the_newest_entry_is_never_removed_as_oldest() {
        let mut h = History::default();
        h.push(&body("1"), 1, 10);
        assert_eq!(h.remove_oldest(1), None);
        h.push(&body("22"), 2, 10);
        assert_eq!(h.remove_oldest(2), None, "not the oldest");
        assert_eq!(h.remove_oldest(1), Some(1));
        assert_eq!(h.remove_oldest(2), None, "now the only one");
        assert_eq!((h.first(), h.seq()), (Some(2), 2));
    }
}
