//! Requests read from the front of a buffer, as redis-server reads them
//! (`processMultibulkBuffer`, `processInlineBuffer` and `sdssplitargs` in
//! its `networking.c` and `sds.c`).
//!
//! A request that starts with `*` is an array of bulk strings; anything
//! else is an inline command, a line split on blanks with `"..."` and
//! `'...'` quoting. [`parse`] answers [`Parsed::Incomplete`] until the whole
//! request is in the buffer, and checks each line as soon as it is whole,
//! so a bad length is refused as early as redis-server refuses it; the
//! arguments of an array are ranges of the buffer (no copy), those of an
//! inline command are unquoted into the caller's vectors.
//!
//! redis-server's quirks kept: a line is found as C's `strchr` finds it (a
//! NUL byte before the line end hides it), the two bytes after a bulk
//! string are skipped unread, `*0` and `*-1` and blank lines are requests
//! of no arguments (nothing is answered).

use std::ops::Range;

/// Longest inline command, and longest length line, without its end
/// (redis-server's `PROTO_INLINE_MAX_SIZE`).
pub const INLINE_MAX: usize = 64 * 1024;

/// Most arguments of one request (redis-server up to 6.2 refused more than
/// this; 7 takes up to `INT_MAX`, which this broker does not hold).
pub const MAX_ARGS: usize = 1024 * 1024;

/// Why input cannot be read as requests: redis-server answers
/// `-ERR Protocol error: <this text>` and closes the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ProtocolError {
    /// An inline line over [`INLINE_MAX`].
    #[error("too big inline request")]
    TooBigInline,
    /// An inline line whose quotes do not close, or close onto a non-blank.
    #[error("unbalanced quotes in request")]
    UnbalancedQuotes,
    /// A `*` line over [`INLINE_MAX`].
    #[error("too big mbulk count string")]
    TooBigMbulkCount,
    /// A `*` line that is no number, or too large a one.
    #[error("invalid multibulk length")]
    InvalidMultibulkLength,
    /// A `$` line over [`INLINE_MAX`].
    #[error("too big bulk count string")]
    TooBigBulkCount,
    /// An array item that is not a bulk string.
    #[error("expected '$', got '{}'", char::from(*.0))]
    ExpectedDollar(u8),
    /// A `$` line that is no number, negative, or over the bulk limit.
    #[error("invalid bulk length")]
    InvalidBulkLength,
}

/// What the front of the buffer holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Parsed {
    /// Not a whole request yet: at least this many more bytes (0 when
    /// unknown).
    Incomplete(usize),
    /// A whole request of `used` bytes; its arguments were stored.
    Request {
        /// Bytes consumed.
        used: usize,
        /// Whether it was an inline command (its arguments are in the
        /// inline vectors, not ranges of the buffer).
        inline: bool,
    },
}

/// Where a request's arguments were put.
#[derive(Debug, Default)]
pub struct ArgsBuf {
    /// An array's arguments, as ranges of the buffer.
    pub ranges: Vec<Range<usize>>,
    /// An inline command's arguments, unquoted.
    pub inline: Vec<Vec<u8>>,
}

/// Reads one request from the front of `buf` into `args` (cleared first);
/// bulk strings longer than `max_bulk` are refused.
///
/// # Errors
/// A [`ProtocolError`]: the connection is to be closed after saying it.
pub fn parse(buf: &[u8], max_bulk: usize, args: &mut ArgsBuf) -> Result<Parsed, ProtocolError> {
    args.ranges.clear();
    args.inline.clear();
    match buf.first() {
        None => Ok(Parsed::Incomplete(0)),
        Some(b'*') => multibulk(buf, max_bulk, &mut args.ranges),
        Some(_) => inline(buf, &mut args.inline),
    }
}

/// The position of the first `c` at or after `from`, as `strchr` finds it:
/// a NUL byte first means none.
fn strchr(buf: &[u8], from: usize, c: u8) -> Option<usize> {
    let rest = buf.get(from..)?;
    let at = rest.iter().position(|&b| b == c || b == 0)?;
    (rest[at] == c).then_some(from + at)
}

/// redis-server's `string2ll`: an optional `-`, then digits without a
/// leading zero (but `0` itself), fitting a signed 64-bit number.
pub fn string2ll(s: &[u8]) -> Option<i64> {
    if s.is_empty() || s.len() >= 21 {
        return None;
    }
    if s == b"0" {
        return Some(0);
    }
    let (negative, digits) = match s.strip_prefix(b"-") {
        Some(d) => (true, d),
        None => (false, s),
    };
    match digits.first() {
        Some(b'1'..=b'9') => {}
        _ => return None,
    }
    let mut v: u64 = 0;
    for &d in digits {
        if !d.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add(u64::from(d - b'0'))?;
    }
    if negative {
        if v > i64::MAX as u64 + 1 {
            return None;
        }
        Some((v as i64).wrapping_neg())
    } else {
        i64::try_from(v).ok()
    }
}

/// The number on the length line starting at `pos` (after its `*` or `$`),
/// and where the next line starts; `None` while the line is incomplete.
fn length_line(
    buf: &[u8],
    pos: usize,
    too_big: ProtocolError,
) -> Result<Option<(Option<i64>, usize)>, ProtocolError> {
    let Some(cr) = strchr(buf, pos, b'\r') else {
        if buf.len() - pos > INLINE_MAX {
            return Err(too_big);
        }
        return Ok(None);
    };
    // The byte after the `\r` must be there (it is not checked).
    if cr + 1 >= buf.len() {
        return Ok(None);
    }
    Ok(Some((string2ll(&buf[pos + 1..cr]), cr + 2)))
}

fn multibulk(
    buf: &[u8],
    max_bulk: usize,
    ranges: &mut Vec<Range<usize>>,
) -> Result<Parsed, ProtocolError> {
    let Some((count, mut pos)) = length_line(buf, 0, ProtocolError::TooBigMbulkCount)? else {
        return Ok(Parsed::Incomplete(0));
    };
    let count = match count {
        Some(n) if n <= 0 => {
            return Ok(Parsed::Request {
                used: pos,
                inline: false,
            })
        }
        Some(n) if n as u64 <= MAX_ARGS as u64 => n as usize,
        _ => return Err(ProtocolError::InvalidMultibulkLength),
    };
    for _ in 0..count {
        let Some((len, start)) = length_line(buf, pos, ProtocolError::TooBigBulkCount)? else {
            return Ok(Parsed::Incomplete(0));
        };
        if buf[pos] != b'$' {
            return Err(ProtocolError::ExpectedDollar(buf[pos]));
        }
        let len = match len {
            Some(n) if n >= 0 && n as u64 <= max_bulk as u64 => n as usize,
            _ => return Err(ProtocolError::InvalidBulkLength),
        };
        let end = start + len;
        if buf.len() < end + 2 {
            return Ok(Parsed::Incomplete(end + 2 - buf.len()));
        }
        ranges.push(start..end);
        pos = end + 2;
    }
    Ok(Parsed::Request {
        used: pos,
        inline: false,
    })
}

fn inline(buf: &[u8], args: &mut Vec<Vec<u8>>) -> Result<Parsed, ProtocolError> {
    let Some(nl) = strchr(buf, 0, b'\n') else {
        if buf.len() > INLINE_MAX {
            return Err(ProtocolError::TooBigInline);
        }
        return Ok(Parsed::Incomplete(0));
    };
    let line = &buf[..nl];
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    split_args(line, args)?;
    Ok(Parsed::Request {
        used: nl + 1,
        inline: true,
    })
}

/// C's `isspace`.
fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

fn hex(b: u8) -> Option<u8> {
    char::from(b)
        .to_digit(16)
        .and_then(|d| u8::try_from(d).ok())
}

/// `sdssplitargs`: the line's arguments, unquoted.
fn split_args(line: &[u8], args: &mut Vec<Vec<u8>>) -> Result<(), ProtocolError> {
    let at = |i: usize| line.get(i).copied().unwrap_or(0);
    let mut p = 0;
    loop {
        while p < line.len() && is_space(line[p]) {
            p += 1;
        }
        if p >= line.len() {
            return Ok(());
        }
        let mut current = Vec::new();
        let (mut inq, mut insq) = (false, false);
        loop {
            let c = at(p);
            if inq {
                if c == b'\\' && at(p + 1) == b'x' {
                    if let (Some(h), Some(l)) = (hex(at(p + 2)), hex(at(p + 3))) {
                        current.push(h * 16 + l);
                        p += 4;
                        continue;
                    }
                }
                if c == b'\\' && at(p + 1) != 0 {
                    p += 1;
                    current.push(match at(p) {
                        b'n' => b'\n',
                        b'r' => b'\r',
                        b't' => b'\t',
                        b'b' => 0x08,
                        b'a' => 0x07,
                        other => other,
                    });
                } else if c == b'"' {
                    if at(p + 1) != 0 && !is_space(at(p + 1)) {
                        return Err(ProtocolError::UnbalancedQuotes);
                    }
                    p += 1;
                    break;
                } else if c == 0 {
                    return Err(ProtocolError::UnbalancedQuotes);
                } else {
                    current.push(c);
                }
            } else if insq {
                if c == b'\\' && at(p + 1) == b'\'' {
                    p += 1;
                    current.push(b'\'');
                } else if c == b'\'' {
                    if at(p + 1) != 0 && !is_space(at(p + 1)) {
                        return Err(ProtocolError::UnbalancedQuotes);
                    }
                    p += 1;
                    break;
                } else if c == 0 {
                    return Err(ProtocolError::UnbalancedQuotes);
                } else {
                    current.push(c);
                }
            } else {
                match c {
                    b' ' | b'\n' | b'\r' | b'\t' | 0 => {
                        if c != 0 {
                            p += 1;
                        }
                        break;
                    }
                    b'"' => inq = true,
                    b'\'' => insq = true,
                    _ => current.push(c),
                }
            }
            p += 1;
        }
        args.push(current);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args_of(input: &[u8]) -> (Vec<Vec<u8>>, usize) {
        let mut a = ArgsBuf::default();
        match parse(input, 1024, &mut a).unwrap() {
            Parsed::Request { used, inline } => {
                let list = if inline {
                    a.inline.clone()
                } else {
                    a.ranges.iter().map(|r| input[r.clone()].to_vec()).collect()
                };
                (list, used)
            }
            Parsed::Incomplete(_) => panic!("incomplete: {input:?}"),
        }
    }

    fn err(input: &[u8]) -> ProtocolError {
        parse(input, 1024, &mut ArgsBuf::default()).unwrap_err()
    }

    #[test]
    fn arrays_of_bulk_strings() {
        let (a, used) = args_of(b"*3\r\n$7\r\nPUBLISH\r\n$1\r\na\r\n$0\r\n\r\nrest");
        assert_eq!(a, [b"PUBLISH".to_vec(), b"a".to_vec(), vec![]]);
        assert_eq!(used, 30);
        assert_eq!(args_of(b"*0\r\n").0.len(), 0);
        assert_eq!(args_of(b"*-1\r\n").0.len(), 0);
        let (a, _) = args_of(b"*1\r\n$4\r\nPINGxx");
        assert_eq!(a, [b"PING".to_vec()], "the two bytes after are not read");
    }

    #[test]
    fn every_cut_is_incomplete() {
        let whole = b"*2\r\n$4\r\nECHO\r\n$5\r\nhello\r\n";
        for cut in 0..whole.len() {
            let got = parse(&whole[..cut], 1024, &mut ArgsBuf::default()).unwrap();
            assert!(matches!(got, Parsed::Incomplete(_)), "cut at {cut}");
        }
        let inline = b"PING hi\r\n";
        for cut in 0..inline.len() {
            let got = parse(&inline[..cut], 1024, &mut ArgsBuf::default()).unwrap();
            assert!(matches!(got, Parsed::Incomplete(_)), "cut at {cut}");
        }
    }

    #[test]
    fn inline_commands_split_as_sdssplitargs() {
        assert_eq!(
            args_of(b"ping hello\r\n").0,
            [b"ping".to_vec(), b"hello".to_vec()]
        );
        assert_eq!(args_of(b"  \r\n").0.len(), 0);
        assert_eq!(args_of(b"PING\n").1, 5, "a bare newline");
        assert_eq!(
            args_of(b"echo \"a\\x41\\n\"\r\n").0,
            [b"echo".to_vec(), b"aA\n".to_vec()]
        );
        assert_eq!(args_of(b"echo 'it\\'s'\r\n").0[1], b"it's");
        assert_eq!(args_of(b"echo a\\x41\r\n").0[1], b"a\\x41");
        assert_eq!(args_of(b"echo \"\"\r\n").0[1], b"");
        assert_eq!(err(b"\"unbalanced\r\n"), ProtocolError::UnbalancedQuotes);
        assert_eq!(err(b"\"a\"b\r\n"), ProtocolError::UnbalancedQuotes);
    }

    #[test]
    fn what_redis_server_refuses() {
        assert_eq!(err(b"*x\r\n"), ProtocolError::InvalidMultibulkLength);
        assert_eq!(
            err(b"*3000000000\r\n"),
            ProtocolError::InvalidMultibulkLength
        );
        assert_eq!(err(b"*1\r\nx4\r\n"), ProtocolError::ExpectedDollar(b'x'));
        assert_eq!(err(b"*1\r\n$-1\r\n"), ProtocolError::InvalidBulkLength);
        assert_eq!(err(b"*1\r\n$abc\r\n"), ProtocolError::InvalidBulkLength);
        assert_eq!(err(b"*1\r\n$1025\r\n"), ProtocolError::InvalidBulkLength);
        assert_eq!(
            err(&vec![b'a'; INLINE_MAX + 1]),
            ProtocolError::TooBigInline
        );
        let mut long = b"*".to_vec();
        long.extend(vec![b'1'; INLINE_MAX + 1]);
        assert_eq!(err(&long), ProtocolError::TooBigMbulkCount);
        let mut long = b"*1\r\n$".to_vec();
        long.extend(vec![b'1'; INLINE_MAX + 1]);
        assert_eq!(err(&long), ProtocolError::TooBigBulkCount);
        assert_eq!(
            ProtocolError::ExpectedDollar(b'x').to_string(),
            "expected '$', got 'x'"
        );
    }

    #[test]
    fn numbers_as_string2ll_reads_them() {
        assert_eq!(string2ll(b"0"), Some(0));
        assert_eq!(string2ll(b"-5"), Some(-5));
        assert_eq!(string2ll(b"01"), None);
        assert_eq!(string2ll(b"+1"), None);
        assert_eq!(string2ll(b"-"), None);
        assert_eq!(string2ll(b"9223372036854775807"), Some(i64::MAX));
        assert_eq!(string2ll(b"9223372036854775808"), None);
        assert_eq!(string2ll(b"-9223372036854775808"), Some(i64::MIN));
        assert_eq!(string2ll(b"1 "), None);
    }
}
