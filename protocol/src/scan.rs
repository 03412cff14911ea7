//! Word-at-a-time byte scanning for the codecs' hot loops.
//!
//! Payload text is mostly bytes that need no attention (no quote, escape,
//! markup or control character). Testing eight of them per step with the
//! classic "has a zero byte" bit trick makes validating a JSON string and
//! escaping or measuring XML text several times faster than a byte loop.

const LO: u64 = 0x0101_0101_0101_0101;
const HI: u64 = 0x8080_8080_8080_8080;

/// Non-zero when some byte of `w` equals `b`.
///
/// Exact as an "any" test: a borrow can only flag a byte above a byte that
/// really matched.
#[inline]
#[must_use]
pub(crate) fn any_eq(w: u64, b: u8) -> u64 {
    let v = w ^ (LO * u64::from(b));
    v.wrapping_sub(LO) & !v & HI
}

/// Non-zero when some byte of `w` is below `n` (for `n <= 128`).
#[inline]
#[must_use]
pub(crate) fn any_below(w: u64, n: u8) -> u64 {
    w.wrapping_sub(LO * u64::from(n)) & !w & HI
}

/// Index of the first byte at or after `from` for which `special` holds, or
/// `bytes.len()`.
///
/// `word_may_hold` must return true for every 8-byte word (little-endian)
/// that holds such a byte; it may also return true for others.
#[inline]
pub(crate) fn find(
    bytes: &[u8],
    mut from: usize,
    word_may_hold: impl Fn(u64) -> bool,
    special: impl Fn(u8) -> bool,
) -> usize {
    while let Some(word) = bytes.get(from..).and_then(<[u8]>::first_chunk::<8>) {
        if word_may_hold(u64::from_le_bytes(*word)) {
            break;
        }
        from += 8;
    }
    while let Some(&b) = bytes.get(from) {
        if special(b) {
            break;
        }
        from += 1;
    }
    from
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn word_tests_are_exact_as_any() {
        let w = u64::from_le_bytes(*b"abc\"defg");
        assert_ne!(any_eq(w, b'"'), 0);
        assert_eq!(any_eq(w, b'\\'), 0);
        assert_eq!(any_below(w, 0x20), 0);
        assert_ne!(any_below(u64::from_le_bytes(*b"abcdefg\x1f"), 0x20), 0);
        assert_eq!(any_below(u64::from_le_bytes([0xFF; 8]), 0x20), 0);
        assert_ne!(
            any_eq(u64::from_le_bytes([0x01, 0, 0, 0, 0, 0, 0, 0x01]), 0),
            0
        );
    }

    #[test]
    fn find_matches_a_byte_loop() {
        let text = b"0123456789abcdef<ghijklmnopqrstuvwxyz&0123456789";
        for from in 0..text.len() {
            let want = (from..text.len())
                .find(|&i| matches!(text[i], b'<' | b'&'))
                .unwrap_or(text.len());
            let got = find(
                text,
                from,
                |w| any_eq(w, b'<') | any_eq(w, b'&') != 0,
                |b| matches!(b, b'<' | b'&'),
            );
            assert_eq!(got, want, "from {from}");
        }
    }
}
