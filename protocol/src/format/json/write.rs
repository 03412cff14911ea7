//! Writing JSON: string literals and the [`JsonWriter`] visitor.

use crate::error::ValueError;
use crate::message::{Attrs, Links};
use crate::scan;
use crate::value::{put_float, put_int, put_stamps, Container, Out, Scalar, Visitor};

/// Writes `s` as a JSON string literal.
pub(crate) fn put_str(out: &mut impl Out, s: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.put(b"\"");
    let bytes = s.as_bytes();
    let mut run = 0;
    loop {
        let at = scan::find(bytes, run, |b| (b == b'"') | (b == b'\\') | (b < 0x20));
        out.put(&bytes[run..at]);
        let Some(&b) = bytes.get(at) else {
            break;
        };
        match b {
            b'"' => out.put(b"\\\""),
            b'\\' => out.put(b"\\\\"),
            b'\n' => out.put(b"\\n"),
            b'\r' => out.put(b"\\r"),
            b'\t' => out.put(b"\\t"),
            _ => out.put(&[
                b'\\',
                b'u',
                b'0',
                b'0',
                HEX[usize::from(b >> 4)],
                HEX[usize::from(b & 15)],
            ]),
        }
        run = at + 1;
    }
    out.put(b"\"");
}

/// Writes the keys of `attrs` and `links` that apply, each after a comma.
pub(crate) fn put_attrs(out: &mut impl Out, attrs: Attrs, links: Links<'_>) {
    put_stamps(out, attrs, b",\"seq\":", b",\"ts\":");
    if attrs.more {
        out.put(b",\"more\":true");
    }
    if let Some(reply) = links.reply {
        out.put(b",\"reply\":");
        put_str(out, reply);
    }
    if let Some(id) = links.id {
        out.put(b",\"id\":");
        put_str(out, id);
    }
    if attrs.ack {
        out.put(b",\"ack\":true");
    }
}

/// Writes a value as JSON, from events.
#[derive(Debug)]
pub(crate) struct JsonWriter<'o, O: Out> {
    out: &'o mut O,
    need_comma: bool,
}

impl<'o, O: Out> JsonWriter<'o, O> {
    pub(crate) fn new(out: &'o mut O) -> Self {
        JsonWriter {
            out,
            need_comma: false,
        }
    }

    fn comma(&mut self) {
        if self.need_comma {
            self.out.put(b",");
        }
    }
}

impl<O: Out> Visitor for JsonWriter<'_, O> {
    fn scalar(&mut self, s: Scalar<'_>) -> Result<(), ValueError> {
        self.comma();
        match s {
            Scalar::Null => self.out.put(b"null"),
            Scalar::Bool(true) => self.out.put(b"true"),
            Scalar::Bool(false) => self.out.put(b"false"),
            Scalar::Int(i) => put_int(self.out, i),
            Scalar::Float(f) => put_float(self.out, f),
            Scalar::Str(s) => put_str(self.out, s),
        }
        self.need_comma = true;
        Ok(())
    }

    fn begin(&mut self, c: Container) -> Result<(), ValueError> {
        self.comma();
        self.out.put(if c == Container::List { b"[" } else { b"{" });
        self.need_comma = false;
        Ok(())
    }

    fn key(&mut self, k: &str) -> Result<(), ValueError> {
        self.comma();
        put_str(self.out, k);
        self.out.put(b":");
        self.need_comma = false;
        Ok(())
    }

    fn end(&mut self, c: Container) -> Result<(), ValueError> {
        self.out.put(if c == Container::List { b"]" } else { b"}" });
        self.need_comma = true;
        Ok(())
    }
}
