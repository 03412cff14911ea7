//! Block-at-a-time byte scanning for the codecs' hot loops.
//!
//! Payload text is mostly bytes that need no attention (no quote, escape,
//! markup or control character). Testing a whole block with a branch-free
//! OR over its bytes lets the compiler use vector compares, which makes
//! validating a JSON string and escaping or measuring XML text many times
//! faster than a byte loop with an early exit.

/// Bytes tested at once by [`find`].
const BLOCK: usize = 64;
/// Bytes in one vector register (SSE2), [`find`]'s accumulator.
const LANES: usize = 16;

/// Index of the first byte at or after `from` for which `special` holds, or
/// `bytes.len()`.
///
/// `special` should be branch-free (comparisons joined with `|`, not `||`)
/// so that the block test vectorizes.
#[inline]
pub(crate) fn find(bytes: &[u8], mut from: usize, special: impl Fn(u8) -> bool) -> usize {
    // Each block's results are ORed lane by lane into one register's worth
    // of bytes, which is tested once: the compiler then emits plain vector
    // compares and ORs, with one mask test per 64 bytes. (An OR of every
    // byte's result into a single `u8`, tested every 32 bytes, compiled to
    // a mask extraction per 16 bytes and was half as fast for the JSON
    // text test; a fold over `bool` was five times slower still.)
    while let Some(block) = bytes.get(from..).and_then(<[u8]>::first_chunk::<BLOCK>) {
        if any_special::<BLOCK>(block, &special) {
            break;
        }
        from += BLOCK;
    }
    while let Some(block) = bytes.get(from..).and_then(<[u8]>::first_chunk::<LANES>) {
        if any_special::<LANES>(block, &special) {
            break;
        }
        from += LANES;
    }
    while let Some(&b) = bytes.get(from) {
        if special(b) {
            break;
        }
        from += 1;
    }
    from
}

/// Whether `special` holds for a byte of `block` (`N` a multiple of
/// [`LANES`]), with no early exit.
#[inline(always)]
fn any_special<const N: usize>(block: &[u8; N], special: &impl Fn(u8) -> bool) -> bool {
    // Indexed, not iterated with `enumerate` and `i % LANES`: that form did
    // not vectorize at all (ten times slower).
    let mut acc = [0u8; LANES];
    for j in 0..N / LANES {
        for i in 0..LANES {
            acc[i] |= u8::from(special(block[j * LANES + i])).wrapping_neg();
        }
    }
    u128::from_ne_bytes(acc) != 0
}

/// simdutf8's block: it validates whole ones fastest.
const UTF8_BLOCK: usize = 64;

/// The first `len` bytes of `input` as text, when they are UTF-8. The bytes
/// after them (the next frames of a read) may be looked at, never returned.
///
/// simdutf8 copies a ragged last block into a padded one and validates that
/// with its full algorithm: about 110 instructions (callgrind) that a frame
/// of 139 bytes pays and one of 128 does not. When the input reaches the
/// end of the block holding byte `len`, whole blocks are validated instead;
/// if they are UTF-8 and `len` is a character boundary, the prefix is too.
/// Otherwise (invalid bytes after the prefix, or too few) the prefix alone
/// is validated.
#[inline]
pub(crate) fn utf8_prefix(input: &[u8], len: usize) -> Option<&str> {
    let ragged = len % UTF8_BLOCK;
    if ragged != 0 {
        let blocks = input.get(..len - ragged + UTF8_BLOCK);
        if let Some(text) = blocks.and_then(|b| simdutf8::basic::from_utf8(b).ok()) {
            return text.get(..len);
        }
    }
    simdutf8::basic::from_utf8(input.get(..len)?).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn find_matches_a_byte_loop() {
        let mut text = b"0123456789abcdef0123456789abcdef0123456789abcdef".repeat(3);
        text[40] = b'<';
        text[97] = b'&';
        for from in 0..text.len() {
            let want = (from..text.len())
                .find(|&i| matches!(text[i], b'<' | b'&'))
                .unwrap_or(text.len());
            let got = find(&text, from, |b| (b == b'<') | (b == b'&'));
            assert_eq!(got, want, "from {from}");
        }
    }

    #[test]
    fn a_prefix_is_text_exactly_when_it_alone_is_utf8() {
        let tails: [&[u8]; 5] = [
            b"",
            b"ascii after",
            "é…".as_bytes(),
            b"\xff\xfe",
            b"\x80\x80",
        ];
        let mut payloads: Vec<Vec<u8>> = vec![
            b"{}".to_vec(),
            "é".repeat(40).into_bytes(),
            b"\xc3".to_vec(),
            b"ok \xe2\x82".to_vec(),
            b"\xff".to_vec(),
        ];
        for len in [1, 63, 64, 65, 127, 128, 139, 200] {
            payloads.push("x".repeat(len).into_bytes());
            let mut cut = "x".repeat(len - 1).into_bytes();
            cut.push(0xc3);
            payloads.push(cut);
        }
        for payload in &payloads {
            for tail in tails {
                let input = [&payload[..], tail].concat();
                let expected = std::str::from_utf8(payload).ok();
                assert_eq!(
                    utf8_prefix(&input, payload.len()),
                    expected,
                    "{payload:?} then {tail:?}"
                );
            }
        }
        assert_eq!(utf8_prefix(b"ab", 3), None);
    }
}
