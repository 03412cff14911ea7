//! RESP2 and RESP3 replies, written straight into a connection's output.
//!
//! The two versions differ only where RESP3 has its own types: a null is
//! `$-1` or `_`, a map is a flat array or `%`, a pushed message (pub/sub) is
//! an array or `>`.

use protocol::value::push_uint;

/// Writes replies for one protocol version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Resp {
    /// RESP3 (after `HELLO 3`).
    pub v3: bool,
}

impl Resp {
    /// `+text`.
    pub fn simple(self, out: &mut Vec<u8>, text: &str) {
        out.push(b'+');
        out.extend_from_slice(text.as_bytes());
        out.extend_from_slice(b"\r\n");
    }

    /// `-text` (the text starts with its prefix, `ERR ...`); line ends in it
    /// become spaces, as redis-server makes them.
    pub fn error(self, out: &mut Vec<u8>, text: &str) {
        self.error_bytes(out, text.as_bytes());
    }

    /// [`Resp::error`] for a text that quotes a client's bytes.
    pub fn error_bytes(self, out: &mut Vec<u8>, text: &[u8]) {
        out.push(b'-');
        let start = out.len();
        out.extend_from_slice(text);
        for b in &mut out[start..] {
            if *b == b'\r' || *b == b'\n' {
                *b = b' ';
            }
        }
        out.extend_from_slice(b"\r\n");
    }

    /// `:n`.
    pub fn int(self, out: &mut Vec<u8>, n: i64) {
        out.push(b':');
        if n < 0 {
            out.push(b'-');
        }
        push_uint(out, n.unsigned_abs());
        out.extend_from_slice(b"\r\n");
    }

    /// `$len` and the bytes.
    pub fn bulk(self, out: &mut Vec<u8>, bytes: &[u8]) {
        out.push(b'$');
        push_uint(out, bytes.len() as u64);
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(bytes);
        out.extend_from_slice(b"\r\n");
    }

    /// A null: `$-1` or `_`.
    pub fn null(self, out: &mut Vec<u8>) {
        out.extend_from_slice(if self.v3 { b"_\r\n" } else { b"$-1\r\n" });
    }

    /// `*n`, an array of `n` items to follow.
    pub fn array(self, out: &mut Vec<u8>, n: usize) {
        header(out, b'*', n);
    }

    /// A map of `n` pairs: `%n`, or an array of `2n` items.
    pub fn map(self, out: &mut Vec<u8>, n: usize) {
        if self.v3 {
            header(out, b'%', n);
        } else {
            header(out, b'*', 2 * n);
        }
    }

    /// A pushed message of `n` items: `>n`, or an array.
    pub fn push(self, out: &mut Vec<u8>, n: usize) {
        header(out, if self.v3 { b'>' } else { b'*' }, n);
    }
}

fn header(out: &mut Vec<u8>, kind: u8, n: usize) {
    out.push(kind);
    push_uint(out, n as u64);
    out.extend_from_slice(b"\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_versions() {
        let (v2, v3) = (Resp { v3: false }, Resp { v3: true });
        let mut out = Vec::new();
        v2.null(&mut out);
        v3.null(&mut out);
        v2.push(&mut out, 3);
        v3.push(&mut out, 3);
        v2.map(&mut out, 7);
        v3.map(&mut out, 7);
        v2.int(&mut out, -2);
        v2.error(&mut out, "ERR a\r\nb");
        v2.bulk(&mut out, b"");
        assert_eq!(
            out,
            b"$-1\r\n_\r\n*3\r\n>3\r\n*14\r\n%7\r\n:-2\r\n-ERR a  b\r\n$0\r\n\r\n"
        );
    }
}
