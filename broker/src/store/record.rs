//! The record format: what one accepted publish (or publish id) looks like
//! on disk, and reading it back.
//!
//! ```text
//! len: u32 LE    bytes of kind + fields
//! crc: u32 LE    CRC-32 (IEEE) of kind + fields
//! kind: u8       1 message, 2 publish id, 3 clean close
//! fields         strings as u32 LE length + UTF-8 bytes, numbers as u64 LE
//! ```
//!
//! The length comes first so a reader knows where a record ends before
//! checking it; the checksum covers everything after it, so a torn write
//! (the file ends inside a record) and a damaged one (the bytes are there
//! but wrong) are told apart, and neither is ever taken for a record.

/// Bytes before a record's kind: its length and checksum.
pub const RECORD_HEAD: usize = 8;
/// A record longer than this is damage, not a record: no message is that
/// large (frames are far smaller), and a garbage length must not make the
/// reader allocate gigabytes.
pub const MAX_RECORD: usize = 64 * 1024 * 1024;

const MESSAGE: u8 = 1;
const PUBLISH_ID: u8 = 2;
const CLOSE: u8 = 3;

/// One record, borrowed from the bytes it was read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Record<'a> {
    /// An accepted message: its topic, number, acceptance time and value.
    Message {
        /// The normalized topic.
        topic: &'a str,
        /// Its number on the topic.
        seq: u64,
        /// When it was accepted, in milliseconds since the Unix epoch.
        ts: u64,
        /// Its value as JSON text.
        value: &'a str,
    },
    /// A publish id in the deduplication window, with its first answer.
    PublishId {
        /// The name of the client that used it.
        publisher: &'a str,
        /// The topic it was used on.
        topic: &'a str,
        /// The id.
        id: &'a str,
        /// The number the first publish got.
        seq: u64,
        /// The connections the first publish was queued for.
        receivers: u64,
        /// When it was first used (the window counts from there).
        ts: u64,
    },
    /// The broker stopped cleanly: nothing written before it was lost.
    Close,
}

/// What is at the front of some bytes of a segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Read<'a> {
    /// A whole, checked record and how many bytes it took.
    Record(Record<'a>, usize),
    /// Nothing: the bytes end here.
    End,
    /// The bytes end inside a record: a write that did not complete.
    Torn,
    /// A record whose checksum or contents are wrong.
    Corrupt,
}

/// Records encoded back to back: what one loop turn hands the writer.
#[derive(Debug, Default)]
pub struct Batch {
    bytes: Vec<u8>,
    records: usize,
}

impl Batch {
    /// The encoded records, their checksums not yet filled in ([`checksum`]).
    #[must_use]
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// How many records it holds.
    #[must_use]
    pub fn len(&self) -> usize {
        self.records
    }

    /// Whether it holds none.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.records == 0
    }

    /// Takes the records out, leaving it empty with room for as many
    /// bytes: the next loop turn's records are likely as many, and are then
    /// encoded without the buffer growing (and being copied) step by step.
    #[must_use]
    pub fn take(&mut self) -> Batch {
        let room = Vec::with_capacity(self.bytes.len());
        Batch {
            bytes: std::mem::replace(&mut self.bytes, room),
            records: std::mem::take(&mut self.records),
        }
    }

    /// Gives back the encoded bytes, checksums not yet filled in.
    #[must_use]
    pub fn into_bytes(self) -> Vec<u8> {
        self.bytes
    }

    /// Appends `record`.
    pub fn push(&mut self, record: &Record<'_>) {
        let start = self.bytes.len();
        self.bytes.extend_from_slice(&[0; RECORD_HEAD]);
        match *record {
            Record::Message {
                topic,
                seq,
                ts,
                value,
            } => {
                self.bytes.push(MESSAGE);
                self.text(topic);
                self.number(seq);
                self.number(ts);
                self.text(value);
            }
            Record::PublishId {
                publisher,
                topic,
                id,
                seq,
                receivers,
                ts,
            } => {
                self.bytes.push(PUBLISH_ID);
                self.text(publisher);
                self.text(topic);
                self.text(id);
                self.number(seq);
                self.number(receivers);
                self.number(ts);
            }
            Record::Close => self.bytes.push(CLOSE),
        }
        let len = self.bytes.len() - start - RECORD_HEAD;
        let len = u32::try_from(len).unwrap_or(u32::MAX).to_le_bytes();
        self.bytes[start..start + 4].copy_from_slice(&len);
        self.records += 1;
    }

    /// The encoded records with their checksums ([`checksum`]).
    #[must_use]
    pub fn checked(mut self) -> Vec<u8> {
        checksum(&mut self.bytes);
        self.bytes
    }

    fn text(&mut self, s: &str) {
        let len = u32::try_from(s.len()).unwrap_or(u32::MAX);
        self.bytes.extend_from_slice(&len.to_le_bytes());
        self.bytes.extend_from_slice(s.as_bytes());
    }

    fn number(&mut self, n: u64) {
        self.bytes.extend_from_slice(&n.to_le_bytes());
    }
}

/// Fills in the checksum of every record in `bytes` (records as
/// [`Batch::push`] encodes them, which leaves the checksum for this step).
/// The writer thread does it just before writing, so the reactor's thread
/// does not spend its time on it.
pub fn checksum(bytes: &mut [u8]) {
    let mut at = 0;
    while let Some(head) = bytes.get(at..at + RECORD_HEAD) {
        let len = u32::from_le_bytes([head[0], head[1], head[2], head[3]]) as usize;
        let Some(body) = bytes.get(at + RECORD_HEAD..at + RECORD_HEAD + len) else {
            return;
        };
        let crc = crc32fast::hash(body).to_le_bytes();
        bytes[at + 4..at + 8].copy_from_slice(&crc);
        at += RECORD_HEAD + len;
    }
}

/// Reads the record at the front of `bytes`.
#[must_use]
pub fn read(bytes: &[u8]) -> Read<'_> {
    if bytes.is_empty() {
        return Read::End;
    }
    let Some(head) = bytes.get(..RECORD_HEAD) else {
        return Read::Torn;
    };
    let len = u32::from_le_bytes([head[0], head[1], head[2], head[3]]) as usize;
    let crc = u32::from_le_bytes([head[4], head[5], head[6], head[7]]);
    if len == 0 || len > MAX_RECORD {
        return Read::Corrupt;
    }
    let Some(body) = bytes.get(RECORD_HEAD..RECORD_HEAD + len) else {
        return Read::Torn;
    };
    if crc32fast::hash(body) != crc {
        return Read::Corrupt;
    }
    match parse(body) {
        Some(record) => Read::Record(record, RECORD_HEAD + len),
        None => Read::Corrupt,
    }
}

/// The fields of a record whose checksum holds.
fn parse(body: &[u8]) -> Option<Record<'_>> {
    let (&kind, rest) = body.split_first()?;
    let mut f = Fields(rest);
    let record = match kind {
        MESSAGE => Record::Message {
            topic: f.text()?,
            seq: f.number()?,
            ts: f.number()?,
            value: f.text()?,
        },
        PUBLISH_ID => Record::PublishId {
            publisher: f.text()?,
            topic: f.text()?,
            id: f.text()?,
            seq: f.number()?,
            receivers: f.number()?,
            ts: f.number()?,
        },
        CLOSE => Record::Close,
        _ => return None,
    };
    f.0.is_empty().then_some(record)
}

/// A cursor over a record's fields.
struct Fields<'a>(&'a [u8]);

impl<'a> Fields<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let (head, rest) = self.0.split_at_checked(n)?;
        self.0 = rest;
        Some(head)
    }

    fn number(&mut self) -> Option<u64> {
        Some(u64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }

    fn text(&mut self) -> Option<&'a str> {
        let len = u32::from_le_bytes(self.take(4)?.try_into().ok()?) as usize;
        std::str::from_utf8(self.take(len)?).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> [Record<'static>; 3] {
        [
            Record::Message {
                topic: "/a/b",
                seq: 7,
                ts: 1_733_500_000_000,
                value: r#"{"x":[1,"é"]}"#,
            },
            Record::PublishId {
                publisher: "alice",
                topic: "/a/b",
                id: "m-1",
                seq: 7,
                receivers: 3,
                ts: 1_733_500_000_000,
            },
            Record::Close,
        ]
    }

    #[test]
    fn records_read_back_as_written() {
        let mut batch = Batch::default();
        for r in sample() {
            batch.push(&r);
        }
        assert_eq!(batch.len(), 3);
        assert_eq!(read(batch.bytes()), Read::Corrupt, "no checksum yet");
        let bytes = batch.checked();
        let mut at = &bytes[..];
        for want in sample() {
            let Read::Record(got, used) = read(at) else {
                panic!("a record");
            };
            assert_eq!(got, want);
            at = &at[used..];
        }
        assert_eq!(read(at), Read::End);
    }

    #[test]
    fn every_cut_is_torn_and_every_flipped_bit_is_caught() {
        let mut batch = Batch::default();
        batch.push(&sample()[0]);
        let whole = &batch.checked()[..];
        for cut in 1..whole.len() {
            assert_eq!(read(&whole[..cut]), Read::Torn, "cut at {cut}");
        }
        for i in 4..whole.len() {
            for bit in 0..8 {
                let mut bad = whole.to_vec();
                bad[i] ^= 1 << bit;
                assert_eq!(read(&bad), Read::Corrupt, "byte {i} bit {bit}");
            }
        }
    }

    #[test]
    fn a_garbage_length_is_damage_not_an_allocation() {
        let mut bad = vec![0xff; 16];
        assert_eq!(read(&bad), Read::Corrupt);
        bad[..4].copy_from_slice(&0u32.to_le_bytes());
        assert_eq!(read(&bad), Read::Corrupt);
    }
}
