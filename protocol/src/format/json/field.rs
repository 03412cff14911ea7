//! Object keys read as one packed word ([`word`]), for the envelope's
//! keys: they are a few plain ASCII letters, so the closing quote of up to
//! seven of them is found with a few word operations (SWAR) where a loop
//! took several instructions a byte, and a key is matched against the
//! known ones one compare each, where a match on strings called `memcmp`
//! for each candidate of its length.

use super::parse::Parser;
use crate::error::DecodeError;

/// The word of every key longer than seven bytes (no shorter key has it:
/// its top byte is not a length).
pub(super) const LONG: u64 = u64::MAX;

/// `key` packed: its bytes in the low bytes, little-endian, and its length
/// in the top byte, so that distinct keys of up to seven bytes have
/// distinct words; [`LONG`] for longer ones.
pub(super) const fn word(key: &[u8]) -> u64 {
    if key.len() > 7 {
        return LONG;
    }
    let mut w = (key.len() as u64) << 56;
    let mut i = 0;
    while i < key.len() {
        w |= (key[i] as u64) << (8 * i);
        i += 1;
    }
    w
}

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGHS: u64 = 0x8080_8080_8080_8080;

/// The high bit of each byte of `w` equal to `b`. Exact up to the lowest
/// marked byte; above it a byte may be marked wrongly (the borrow of the
/// subtraction), so only a prefix below a true mark can be trusted.
fn equal_to(w: u64, b: u8) -> u64 {
    let x = w ^ (ONES * u64::from(b));
    x.wrapping_sub(ONES) & !x & HIGHS
}

/// The high bit of each byte of `w` below `n` (at most 128), exact as
/// [`equal_to`] is.
fn below(w: u64, n: u8) -> u64 {
    w.wrapping_sub(ONES * u64::from(n)) & !w & HIGHS
}

impl Parser<'_> {
    /// Reads an object key whose opening quote was consumed, as its
    /// [`word`]. A key of up to seven plain ASCII bytes (no escape, no
    /// control character) is read from one 8-byte load; any other is read
    /// as any string, with all its checks.
    pub(super) fn key_word(&mut self) -> Result<u64, DecodeError> {
        if let Some(&chunk) = self
            .bytes()
            .get(self.pos..)
            .and_then(|b| b.first_chunk::<8>())
        {
            let w = u64::from_le_bytes(chunk);
            let quotes = equal_to(w, b'"');
            if quotes != 0 {
                // The first quote is exactly placed, and so is any mark
                // below it: a wrong mark has a true one below it.
                let len = (quotes.trailing_zeros() / 8) as usize;
                let before = (1u64 << (8 * len)) - 1;
                let odd = equal_to(w, b'\\') | below(w, 0x20) | (w & HIGHS);
                if odd & before == 0 {
                    self.pos += len + 1;
                    return Ok((w & before) | ((len as u64) << 56));
                }
            }
        }
        let key = self.key()?;
        Ok(word(key.as_bytes()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The word of the key at the front of `text` (after its opening
    /// quote), and where the parser stands after it.
    fn read(text: &str) -> Result<(u64, usize), DecodeError> {
        let mut p = Parser::new(text);
        let w = p.key_word()?;
        Ok((w, p.pos))
    }

    #[test]
    fn a_key_read_in_one_word_or_as_a_string_gives_the_same_word() {
        // Each key, followed by enough bytes for the one-word read or not.
        let keys = [
            "",
            "a",
            "ack",
            "msg",
            "method",
            "reply17",
            "headers8",
            "é",
            "a\\\"b",
            "a\\u0063k",
            "\u{7f}x",
            "tab\\t",
        ];
        for key in keys {
            let unescaped = key
                .replace("\\\"", "\"")
                .replace("\\u0063", "c")
                .replace("\\t", "\t");
            for tail in ["", ":", ":true,\"msg\":1}"] {
                let text = format!("{key}\"{tail}");
                let (w, pos) = read(&text).unwrap_or_else(|e| panic!("{text:?}: {e}"));
                assert_eq!(w, word(unescaped.as_bytes()), "{text:?}");
                assert_eq!(pos, key.len() + 1, "{text:?}");
            }
        }
    }

    #[test]
    fn words_tell_keys_apart_and_refuse_what_strings_refuse() {
        assert_ne!(word(b"ack"), word(b"ack\0"));
        assert_ne!(word(b""), word(b"\0"));
        assert_eq!(word(b"headers!"), LONG);
        for bad in ["a\u{1}\":1}", "ab\u{1f}c\":1,\"x\":2}", "\u{1}\"", "abc"] {
            assert!(read(bad).is_err(), "{bad:?}");
        }
        // A control character after the quote is not the key's.
        assert_eq!(read("ab\"\u{1}xxxxxx").unwrap(), (word(b"ab"), 3));
    }
}
