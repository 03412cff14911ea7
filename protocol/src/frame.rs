//! Framing (spec §1): a 5-byte ASCII length header, then that many payload bytes.
//!
//! [`decode`] works on a borrowed buffer and answers `Ok(None)` until a whole
//! frame is there, so the caller keeps its bytes and reads more; it rejects a bad
//! header as soon as the 5 header bytes are in, before any payload is buffered.
//! [`encode_with`] reserves the header, lets the caller write the payload in
//! place, and back-fills the length, so no intermediate buffer is needed.

use crate::error::FrameError;

/// Bytes of the ASCII length header that precedes every payload.
pub const HEADER_LEN: usize = 5;

/// Largest payload a 5-digit header can announce.
pub const MAX_PAYLOAD: usize = 99_999;

/// One frame borrowed from the front of a buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Frame<'a> {
    /// The payload bytes, header stripped.
    pub payload: &'a [u8],
    /// Bytes the whole frame occupied (header and payload): what to consume.
    pub len: usize,
}

/// Parses a 5-byte header into a payload length.
///
/// Leading and trailing ASCII spaces are ignored; what remains must be 1 to 5
/// decimal digits with a value from 1 to [`MAX_PAYLOAD`].
///
/// # Errors
/// [`FrameError::BadHeader`] for anything that is not such a number,
/// [`FrameError::ZeroLength`] for a length of 0.
pub fn parse_header(header: [u8; HEADER_LEN]) -> Result<usize, FrameError> {
    let start = header.iter().position(|&b| b != b' ');
    let end = header.iter().rposition(|&b| b != b' ');
    let (Some(start), Some(end)) = (start, end) else {
        return Err(FrameError::BadHeader(header));
    };
    let mut len = 0usize;
    for &b in &header[start..=end] {
        if !b.is_ascii_digit() {
            return Err(FrameError::BadHeader(header));
        }
        len = len * 10 + usize::from(b - b'0');
    }
    if len == 0 {
        return Err(FrameError::ZeroLength);
    }
    Ok(len)
}

/// Splits one frame off the front of `buf`.
///
/// Returns `Ok(None)` while `buf` holds only part of a frame: keep the bytes and
/// read more.
///
/// # Errors
/// A [`FrameError`] as soon as the first 5 bytes are not a valid header.
pub fn decode(buf: &[u8]) -> Result<Option<Frame<'_>>, FrameError> {
    let Some(header) = buf.first_chunk::<HEADER_LEN>() else {
        return Ok(None);
    };
    let len = parse_header(*header)?;
    Ok(buf.get(HEADER_LEN..HEADER_LEN + len).map(|payload| Frame {
        payload,
        len: HEADER_LEN + len,
    }))
}

/// Writes `len` as a right-aligned, space-padded 5-byte header (`'{:>5}'`).
///
/// `len` must be at most [`MAX_PAYLOAD`] (callers check the limit first): a
/// debug build asserts it; a release build keeps the last five digits.
#[must_use]
pub fn header(len: usize) -> [u8; HEADER_LEN] {
    debug_assert!(len <= MAX_PAYLOAD);
    let mut out = [b' '; HEADER_LEN];
    let mut n = len;
    for slot in out.iter_mut().rev() {
        *slot = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out
}

/// Appends one frame to `out`: a header placeholder, then whatever `write`
/// appends, then the header is back-filled with the payload length.
///
/// # Errors
/// [`FrameError::TooLarge`] or [`FrameError::ZeroLength`] when the payload does
/// not fit a frame; `out` is then left as it was. An error from `write` is
/// passed through the same way.
pub fn encode_with<E: From<FrameError>>(
    out: &mut Vec<u8>,
    write: impl FnOnce(&mut Vec<u8>) -> Result<(), E>,
) -> Result<(), E> {
    let start = out.len();
    out.extend_from_slice(&[b' '; HEADER_LEN]);
    let result = write(out).and_then(|()| {
        let len = out.len() - start - HEADER_LEN;
        match len {
            0 => Err(FrameError::ZeroLength.into()),
            l if l > MAX_PAYLOAD => Err(FrameError::TooLarge(l).into()),
            l => {
                out[start..start + HEADER_LEN].copy_from_slice(&header(l));
                Ok(())
            }
        }
    });
    if result.is_err() {
        out.truncate(start);
    }
    result
}

/// Appends `payload` to `out` as one frame.
///
/// # Errors
/// [`FrameError::TooLarge`] or [`FrameError::ZeroLength`]; `out` is unchanged.
pub fn encode(payload: &[u8], out: &mut Vec<u8>) -> Result<(), FrameError> {
    encode_with(out, |o| {
        o.extend_from_slice(payload);
        Ok::<(), FrameError>(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_forms() {
        assert_eq!(parse_header(*b"   42"), Ok(42));
        assert_eq!(parse_header(*b"00042"), Ok(42));
        assert_eq!(parse_header(*b"42   "), Ok(42));
        assert_eq!(parse_header(*b"99999"), Ok(99_999));
        assert_eq!(
            parse_header(*b" 4 2 "),
            Err(FrameError::BadHeader(*b" 4 2 "))
        );
        assert_eq!(
            parse_header(*b"\t  42"),
            Err(FrameError::BadHeader(*b"\t  42"))
        );
        assert_eq!(
            parse_header(*b"     "),
            Err(FrameError::BadHeader(*b"     "))
        );
        assert_eq!(
            parse_header(*b"   -1"),
            Err(FrameError::BadHeader(*b"   -1"))
        );
        assert_eq!(parse_header(*b"    0"), Err(FrameError::ZeroLength));
        assert_eq!(parse_header(*b"00000"), Err(FrameError::ZeroLength));
    }

    #[test]
    fn header_is_python_format() {
        assert_eq!(&header(42), b"   42");
        assert_eq!(&header(1), b"    1");
        assert_eq!(&header(99_999), b"99999");
    }

    #[test]
    fn decode_waits_for_whole_frame() {
        assert_eq!(decode(b""), Ok(None));
        assert_eq!(decode(b"   5"), Ok(None));
        assert_eq!(decode(b"    5abc"), Ok(None));
        let f = decode(b"    5abcdeXYZ").unwrap().unwrap();
        assert_eq!(f.payload, b"abcde");
        assert_eq!(f.len, 10);
    }

    #[test]
    fn bad_header_rejected_before_payload() {
        assert_eq!(decode(b"hello"), Err(FrameError::BadHeader(*b"hello")));
    }

    #[test]
    fn encode_limits_leave_buffer_untouched() {
        let mut out = b"keep".to_vec();
        assert_eq!(encode(&[], &mut out), Err(FrameError::ZeroLength));
        assert_eq!(
            encode(&vec![b'x'; MAX_PAYLOAD + 1], &mut out),
            Err(FrameError::TooLarge(MAX_PAYLOAD + 1))
        );
        assert_eq!(out, b"keep");
        encode(b"abc", &mut out).unwrap();
        assert_eq!(out, b"keep    3abc");
    }
}
