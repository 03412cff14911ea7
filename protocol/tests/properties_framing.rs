//! Property tests for the wire protocol (spec `docs/protocol.md`):
//! framing under arbitrary read splits, with every header form receivers must
//! accept.

mod common;

use proptest::prelude::*;
use proptest::sample::Index;
use protocol::{frame, Format, Message, Value, HEADER_LEN};

use common::strategies::{format, message};
use common::{payload, same_message};

/// Feeds `chunks` into a growing buffer as reads would, taking frames off the
/// front as soon as they are complete.
fn decode_incrementally<'a>(chunks: impl IntoIterator<Item = &'a [u8]>) -> Vec<Vec<u8>> {
    let mut buf = Vec::new();
    let mut got = Vec::new();
    for chunk in chunks {
        buf.extend_from_slice(chunk);
        while let Some(f) = frame::decode(&buf).expect("valid stream") {
            got.push(f.payload.to_vec());
            let n = f.len;
            buf.drain(..n);
        }
    }
    assert!(buf.is_empty(), "bytes left over: {buf:?}");
    got
}

/// Splits `bytes` at the given cut points (any order, duplicates allowed).
fn split_at_cuts(bytes: &[u8], cuts: &[Index]) -> Vec<Vec<u8>> {
    let mut at: Vec<usize> = cuts.iter().map(|i| i.index(bytes.len() + 1)).collect();
    at.push(0);
    at.push(bytes.len());
    at.sort_unstable();
    at.windows(2).map(|w| bytes[w[0]..w[1]].to_vec()).collect()
}

/// A header in one of the forms receivers must accept (spec §1).
fn header_in_style(len: usize, style: u8) -> Vec<u8> {
    let h = match style % 4 {
        0 => format!("{len:>5}"),
        1 => format!("{len:05}"),
        2 => format!("{len:<5}"),
        _ => format!("{len:^5}"),
    };
    assert_eq!(h.len(), HEADER_LEN);
    h.into_bytes()
}

// ---------------------------------------------------------------------------
// Framing
// ---------------------------------------------------------------------------

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Any split of a stream of encoded messages into reads decodes to the
    /// same messages as the whole stream at once.
    #[test]
    fn split_reads_yield_same_messages(
        msgs in prop::collection::vec((format(), message()), 1..6),
        cuts in prop::collection::vec(any::<Index>(), 0..16),
    ) {
        let mut stream = Vec::new();
        for (f, m) in &msgs {
            f.encode(m, &mut stream).unwrap();
        }
        let whole = decode_incrementally([stream.as_slice()]);
        let chunks = split_at_cuts(&stream, &cuts);
        let split = decode_incrementally(chunks.iter().map(Vec::as_slice));
        prop_assert_eq!(&split, &whole);
        prop_assert_eq!(whole.len(), msgs.len());
        for ((f, m), p) in msgs.iter().zip(&whole) {
            let back = f.decode(p).unwrap();
            prop_assert!(same_message(&back, m), "{:?} -> {:?}", m, back);
        }
    }

    /// Raw payloads with every accepted header form, split anywhere, come out
    /// byte for byte.
    #[test]
    fn split_reads_yield_same_payloads(
        frames in prop::collection::vec(
            (prop::collection::vec(any::<u8>(), 1..200), any::<u8>()),
            1..8,
        ),
        cuts in prop::collection::vec(any::<Index>(), 0..24),
    ) {
        let mut stream = Vec::new();
        for (p, style) in &frames {
            stream.extend_from_slice(&header_in_style(p.len(), *style));
            stream.extend_from_slice(p);
        }
        let chunks = split_at_cuts(&stream, &cuts);
        let got = decode_incrementally(chunks.iter().map(Vec::as_slice));
        let want: Vec<Vec<u8>> = frames.into_iter().map(|(p, _)| p).collect();
        prop_assert_eq!(got, want);
    }

    /// `frame::encode` output parses back to the same payload, with the
    /// Python `'{:>5}'` header.
    #[test]
    fn frame_encode_decode(p in prop::collection::vec(any::<u8>(), 1..300)) {
        let mut out = Vec::new();
        frame::encode(&p, &mut out).unwrap();
        let header = format!("{:>5}", p.len());
        prop_assert_eq!(&out[..HEADER_LEN], header.as_bytes());
        prop_assert_eq!(payload(&out), &p[..]);
    }
}

/// Exhaustively: every split of a small stream into up to three reads, and
/// byte-at-a-time reads.
#[test]
fn every_two_cut_split_of_a_small_stream() {
    let msgs = [
        (
            Format::Json,
            Message::publish("/a/b", Value::Str("x\r\ny".into())),
        ),
        (
            Format::Xml,
            Message::publish("/t", Value::List(vec![Value::Float(2.0), "<&>".into()])),
        ),
        (Format::Json, Message::list(Some("/a"))),
    ];
    let mut stream = Vec::new();
    for (f, m) in &msgs {
        f.encode(m, &mut stream).unwrap();
    }
    let whole = decode_incrementally([stream.as_slice()]);
    assert_eq!(whole.len(), msgs.len());
    for ((f, m), p) in msgs.iter().zip(&whole) {
        assert_eq!(&f.decode(p).unwrap(), m);
    }
    let n = stream.len();
    for i in 0..=n {
        for j in i..=n {
            let got = decode_incrementally([&stream[..i], &stream[i..j], &stream[j..]]);
            assert_eq!(got, whole, "cuts at {i}, {j}");
        }
    }
    assert_eq!(decode_incrementally(stream.chunks(1)), whole);
}
