//! Block-at-a-time byte scanning for the codecs' hot loops.
//!
//! Payload text is mostly bytes that need no attention (no quote, escape,
//! markup or control character). Testing a whole block with a branch-free
//! OR over its bytes lets the compiler use vector compares, which makes
//! validating a JSON string and escaping or measuring XML text many times
//! faster than a byte loop with an early exit.

/// Bytes tested at once; two SSE2 registers.
const BLOCK: usize = 32;

/// Index of the first byte at or after `from` for which `special` holds, or
/// `bytes.len()`.
///
/// `special` should be branch-free (comparisons joined with `|`, not `||`)
/// so that the block test vectorizes.
#[inline]
pub(crate) fn find(bytes: &[u8], mut from: usize, special: impl Fn(u8) -> bool) -> usize {
    while let Some(block) = bytes.get(from..).and_then(<[u8]>::first_chunk::<BLOCK>) {
        // No early exit inside the block: this is what vectorizes. (An OR of
        // `u8`s compiles to clean vector compares; a fold over `bool` did not,
        // and was five times slower for the XML byte set.)
        let mut any = 0u8;
        for &b in block {
            any |= u8::from(special(b));
        }
        if any != 0 {
            break;
        }
        from += BLOCK;
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
}
