//! The message text every publisher sends, whatever the target:
//! `t=<send time ns> s=<sequence number> xxxx...`.
//!
//! Both numbers are zero-padded to a fixed width, so every message of a run
//! has the same length and a publisher builds its frames by copying one
//! template and overwriting the digits in place.

/// Digits of the send time (nanoseconds since the run's common clock base);
/// 20 digits hold any `u64`.
const T_DIGITS: usize = 20;
/// Digits of the sequence number; the CLI caps `--count` to fit.
const S_DIGITS: usize = 12;
/// Offset of the send-time digits (after `t=`).
const T_AT: usize = 2;
/// Offset of the sequence digits (after `<t> s=`).
const S_AT: usize = T_AT + T_DIGITS + 3;
/// Length of the shortest text: both fields and no padding.
pub const MIN_LEN: usize = S_AT + S_DIGITS;
/// Largest sequence number the text can carry.
pub const MAX_SEQ: u64 = 10u64.pow(S_DIGITS as u32) - 1;

/// Builds a text of `len` bytes (at least [`MIN_LEN`]) with both fields zero
/// and `x` padding after them.
pub fn template(len: usize) -> Vec<u8> {
    let mut text = Vec::with_capacity(len.max(MIN_LEN));
    text.extend_from_slice(b"t=");
    text.resize(T_AT + T_DIGITS, b'0');
    text.extend_from_slice(b" s=");
    text.resize(MIN_LEN, b'0');
    if len > MIN_LEN {
        text.push(b' ');
        text.resize(len, b'x');
    }
    text
}

/// The send-time field of a batch, formatted once and copied into every
/// message of the batch.
#[derive(Debug, Clone, Copy)]
pub struct SendTime([u8; T_DIGITS]);

impl SendTime {
    /// Formats `ns` for [`stamp`].
    pub fn new(ns: u64) -> Self {
        let mut digits = [0; T_DIGITS];
        write_digits(&mut digits, ns);
        Self(digits)
    }
}

/// Writes the send time and the sequence number into `text`, a copy of a
/// [`template`]. `seq` must not exceed [`MAX_SEQ`].
pub fn stamp(text: &mut [u8], time: &SendTime, seq: u64) {
    text[T_AT..T_AT + T_DIGITS].copy_from_slice(&time.0);
    write_digits(&mut text[S_AT..MIN_LEN], seq);
}

/// Writes `value` as zero-padded decimal filling `out`.
fn write_digits(out: &mut [u8], mut value: u64) {
    for digit in out.iter_mut().rev() {
        *digit = b'0' + (value % 10) as u8;
        value /= 10;
    }
}

/// Reads `(send time ns, sequence number)` from the start of a received
/// text; `None` when the text does not start with the two fields.
pub fn parse(text: &[u8]) -> Option<(u64, u64)> {
    let (t, rest) = number(text.strip_prefix(b"t=")?)?;
    let (seq, _) = number(rest.strip_prefix(b" s=")?)?;
    Some((t, seq))
}

/// Parses the decimal digits at the start of `bytes`; returns the value and
/// what follows the digits.
fn number(bytes: &[u8]) -> Option<(u64, &[u8])> {
    let len = bytes.iter().take_while(|b| b.is_ascii_digit()).count();
    if len == 0 {
        return None;
    }
    let mut value: u64 = 0;
    for &b in &bytes[..len] {
        value = value.checked_mul(10)?.checked_add(u64::from(b - b'0'))?;
    }
    Some((value, &bytes[len..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn template_has_requested_length() {
        assert_eq!(template(0).len(), MIN_LEN);
        assert_eq!(template(MIN_LEN).len(), MIN_LEN);
        assert_eq!(template(MIN_LEN + 1).len(), MIN_LEN + 1);
        assert_eq!(template(1000).len(), 1000);
    }

    #[test]
    fn stamp_then_parse_round_trips() {
        let mut text = template(100);
        stamp(&mut text, &SendTime::new(u64::MAX), MAX_SEQ);
        assert_eq!(parse(&text), Some((u64::MAX, MAX_SEQ)));
        stamp(&mut text, &SendTime::new(1_234_567), 42);
        assert_eq!(parse(&text), Some((1_234_567, 42)));
        assert!(text[MIN_LEN..].starts_with(b" xxxx") && text.ends_with(b"xxxx"));
    }

    #[test]
    fn parse_accepts_unpadded_and_rejects_garbage() {
        assert_eq!(parse(b"t=5 s=7"), Some((5, 7)));
        assert_eq!(parse(b"t=5 s=7 xx"), Some((5, 7)));
        assert_eq!(parse(b"t= s=7"), None);
        assert_eq!(parse(b"x=5 s=7"), None);
        assert_eq!(parse(b"t=99999999999999999999 s=1"), None);
        assert_eq!(parse(b""), None);
    }
}
