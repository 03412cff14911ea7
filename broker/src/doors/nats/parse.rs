//! The NATS client protocol's operations, read from the front of a buffer.
//!
//! A control line ends at `\n` (a `\r` before it is dropped); its operation
//! name is case-insensitive and its arguments are separated by spaces or
//! tabs, as nats-server reads them. `PUB` and `HPUB` are followed by their
//! payload and a `\r\n`. [`parse`] answers `Ok(None)` until the whole
//! operation is in the buffer (as mini-redis's frame parser does), so the
//! codec parses each byte at most twice whatever the read sizes.

/// Longest control line, as nats-server's default `max_control_line`.
pub const MAX_CONTROL_LINE: usize = 4096;

/// One operation a client sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op<'a> {
    /// `CONNECT {json}`.
    Connect(&'a [u8]),
    /// `PUB subject [reply] len` and its payload, or `HPUB subject [reply]
    /// hlen len` with `headers` the first `hlen` bytes.
    Pub {
        /// Where to publish, as sent: the codec checks it (a publisher
        /// mostly repeats one subject, which then needs no check).
        subject: &'a [u8],
        /// Where answers go.
        reply: Option<&'a str>,
        /// The header block of an `HPUB` (`NATS/1.0\r\n...\r\n\r\n`).
        headers: Option<&'a [u8]>,
        /// The message.
        payload: &'a [u8],
    },
    /// `SUB subject [queue] sid`.
    Sub {
        /// What to match.
        subject: &'a str,
        /// The queue group.
        queue: Option<&'a str>,
        /// The client's name for the subscription.
        sid: &'a str,
    },
    /// `UNSUB sid [max]`.
    Unsub {
        /// Which subscription.
        sid: &'a str,
        /// Deliveries after which it ends (none: at once).
        max: Option<u64>,
    },
    /// `PING`.
    Ping,
    /// `PONG`.
    Pong,
}

/// Why input cannot be read as operations; each is answered with
/// nats-server's `-ERR` text and the connection closes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// An operation name nats-server does not know, or bad arguments.
    #[error("Unknown Protocol Operation")]
    UnknownOperation,
    /// A control line longer than [`MAX_CONTROL_LINE`].
    #[error("Maximum Control Line Exceeded")]
    ControlLineTooLong,
    /// A payload larger than the connection's `max_payload`.
    #[error("Maximum Payload Violation")]
    PayloadTooLarge,
}

/// The operation at the front of `buf` and its length in bytes, `None` while
/// it is incomplete.
///
/// # Errors
/// A [`ParseError`] when the front of `buf` cannot be an operation.
pub fn parse(buf: &[u8], max_payload: usize) -> Result<Option<(Op<'_>, usize)>, ParseError> {
    // memchr: a byte loop cost more than the rest of a `PUB`'s parse.
    let Some(eol) = memchr::memchr(b'\n', &buf[..buf.len().min(MAX_CONTROL_LINE + 1)]) else {
        if buf.len() > MAX_CONTROL_LINE {
            return Err(ParseError::ControlLineTooLong);
        }
        return Ok(None);
    };
    if eol > MAX_CONTROL_LINE {
        return Err(ParseError::ControlLineTooLong);
    }
    let line = &buf[..eol];
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let after = eol + 1;
    let (name, rest) = split_name(line);
    let bad = ParseError::UnknownOperation;
    let is = |op: &[u8]| name.eq_ignore_ascii_case(op);
    let op = if is(b"PUB") || is(b"HPUB") {
        return publish(buf, rest, name.len() == 4, after, max_payload);
    } else if is(b"PING") && rest.is_empty() {
        Op::Ping
    } else if is(b"PONG") && rest.is_empty() {
        Op::Pong
    } else if is(b"CONNECT") {
        Op::Connect(rest)
    } else if is(b"SUB") {
        let (args, n) = words(rest)?;
        match args[..n] {
            [subject, sid] => Op::Sub {
                subject: text(subject)?,
                queue: None,
                sid: text(sid)?,
            },
            [subject, queue, sid] => Op::Sub {
                subject: text(subject)?,
                queue: Some(text(queue)?),
                sid: text(sid)?,
            },
            _ => return Err(bad),
        }
    } else if is(b"UNSUB") {
        let (args, n) = words(rest)?;
        match args[..n] {
            [sid] => Op::Unsub {
                sid: text(sid)?,
                max: None,
            },
            [sid, max] => Op::Unsub {
                sid: text(sid)?,
                max: Some(text(max)?.parse().map_err(|_| bad)?),
            },
            _ => return Err(bad),
        }
    } else {
        return Err(bad);
    };
    Ok(Some((op, after)))
}

/// `PUB`/`HPUB` (`headed`) with arguments `rest`, its payload starting at
/// `after` in `buf`.
#[inline]
fn publish<'a>(
    buf: &'a [u8],
    rest: &'a [u8],
    headed: bool,
    after: usize,
    max_payload: usize,
) -> Result<Option<(Op<'a>, usize)>, ParseError> {
    let bad = ParseError::UnknownOperation;
    let (args, n) = words(rest)?;
    let lens = if headed { 2 } else { 1 };
    if n < 1 + lens || n > 2 + lens {
        return Err(bad);
    }
    let subject = args[0];
    // Refused here, as any argument that is no text, so the codec's check
    // of a subject it has not seen before cannot fail on that; an ASCII
    // test is cheaper than a UTF-8 one.
    if !subject.is_ascii() {
        text(subject)?;
    }
    let reply = if n == 2 + lens {
        Some(text(args[1])?)
    } else {
        None
    };
    let total = size(args[n - 1]).ok_or(bad)?;
    let hlen = if headed {
        size(args[n - 2]).ok_or(bad)?
    } else {
        0
    };
    if hlen > total {
        return Err(bad);
    }
    if total > max_payload {
        return Err(ParseError::PayloadTooLarge);
    }
    let end = after + total;
    let Some(tail) = buf.get(end..end + 2) else {
        return Ok(None);
    };
    if tail != b"\r\n" {
        return Err(bad);
    }
    let body = &buf[after..end];
    let op = Op::Pub {
        subject,
        reply,
        headers: headed.then(|| &body[..hlen]),
        payload: &body[hlen..],
    };
    Ok(Some((op, end + 2)))
}

/// A size argument: decimal digits only, as nats-server reads them (no
/// sign, no spaces), without overflow.
fn size(digits: &[u8]) -> Option<usize> {
    if digits.is_empty() {
        return None;
    }
    digits.iter().try_fold(0usize, |n, &b| {
        let digit = b.checked_sub(b'0').filter(|d| *d < 10)?;
        n.checked_mul(10)?.checked_add(usize::from(digit))
    })
}

/// The operation name and the rest of the line after the blanks that follow
/// it.
fn split_name(line: &[u8]) -> (&[u8], &[u8]) {
    let end = line
        .iter()
        .position(|&b| b == b' ' || b == b'\t')
        .unwrap_or(line.len());
    let rest = &line[end..];
    let start = rest
        .iter()
        .position(|&b| b != b' ' && b != b'\t')
        .unwrap_or(rest.len());
    (&line[..end], &rest[start..])
}

/// The blank-separated arguments (at most four), and how many there are.
fn words(rest: &[u8]) -> Result<([&[u8]; 4], usize), ParseError> {
    let mut args: [&[u8]; 4] = [b""; 4];
    let mut n = 0;
    // Split on bytes: a `str` split with a character set costs several
    // times more, and this runs once per publish.
    for word in rest.split(|&b| b == b' ' || b == b'\t') {
        if !word.is_empty() {
            *args.get_mut(n).ok_or(ParseError::UnknownOperation)? = word;
            n += 1;
        }
    }
    Ok((args, n))
}

/// An argument as UTF-8 text.
fn text(word: &[u8]) -> Result<&str, ParseError> {
    std::str::from_utf8(word).map_err(|_| ParseError::UnknownOperation)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(input: &[u8]) -> Op<'_> {
        let (op, used) = parse(input, 1024).unwrap().expect("whole");
        assert_eq!(used, input.len(), "{op:?}");
        op
    }

    #[test]
    fn operations_as_clients_send_them() {
        assert_eq!(one(b"PING\r\n"), Op::Ping);
        assert_eq!(one(b"pong\n"), Op::Pong, "any case, a bare newline");
        assert_eq!(
            one(b"CONNECT {\"verbose\":false}\r\n"),
            Op::Connect(b"{\"verbose\":false}")
        );
        assert_eq!(
            one(b"SUB time.*.east  workers\t7\r\n"),
            Op::Sub {
                subject: "time.*.east",
                queue: Some("workers"),
                sid: "7"
            }
        );
        assert_eq!(
            one(b"UNSUB 7 3\r\n"),
            Op::Unsub {
                sid: "7",
                max: Some(3)
            }
        );
        assert_eq!(
            one(b"PUB a.b _INBOX.x 5\r\nhello\r\n"),
            Op::Pub {
                subject: b"a.b",
                reply: Some("_INBOX.x"),
                headers: None,
                payload: b"hello"
            }
        );
        assert_eq!(
            one(b"HPUB a 12 14\r\nNATS/1.0\r\n\r\nhi\r\n"),
            Op::Pub {
                subject: b"a",
                reply: None,
                headers: Some(b"NATS/1.0\r\n\r\n"),
                payload: b"hi"
            }
        );
        assert_eq!(
            one(b"PUB empty 0\r\n\r\n"),
            Op::Pub {
                subject: b"empty",
                reply: None,
                headers: None,
                payload: b""
            }
        );
    }

    #[test]
    fn incomplete_until_the_payload_and_its_crlf_are_in() {
        let whole = b"PUB a 5\r\nhello\r\n";
        for cut in 0..whole.len() {
            assert_eq!(parse(&whole[..cut], 1024), Ok(None), "cut at {cut}");
        }
        let two = b"PING\r\nPUB a 1\r\nx\r\n";
        let (op, used) = parse(two, 1024).unwrap().unwrap();
        assert_eq!((op, used), (Op::Ping, 6));
    }

    #[test]
    fn what_nats_server_refuses() {
        let bad = |input: &[u8]| parse(input, 8).unwrap_err();
        assert_eq!(bad(b"HELLO\r\n"), ParseError::UnknownOperation);
        assert_eq!(bad(b"PUB a\r\n"), ParseError::UnknownOperation);
        assert_eq!(bad(b"PUB a b c 1\r\n"), ParseError::UnknownOperation);
        assert_eq!(bad(b"PUB a x\r\n"), ParseError::UnknownOperation);
        assert_eq!(
            bad(b"PUB a 2\r\nabcd\r\n"),
            ParseError::UnknownOperation,
            "no CRLF after 2 bytes"
        );
        assert_eq!(bad(b"HPUB a 5 2\r\n"), ParseError::UnknownOperation);
        assert_eq!(bad(b"PUB a 9\r\n"), ParseError::PayloadTooLarge);
        assert_eq!(bad(b"SUB a\r\n"), ParseError::UnknownOperation);
        assert_eq!(bad(b"UNSUB 1 x\r\n"), ParseError::UnknownOperation);
        assert_eq!(bad(b"PING x\r\n"), ParseError::UnknownOperation);
        let long = vec![b'A'; MAX_CONTROL_LINE + 1];
        assert_eq!(bad(&long), ParseError::ControlLineTooLong);
        for size in ["+1", "-1", "1a", "99999999999999999999999"] {
            let line = format!("PUB a {size}\r\n");
            assert_eq!(bad(line.as_bytes()), ParseError::UnknownOperation, "{size}");
        }
    }
}
