//! Writing XML: escaped text and attributes, the `<message>` tag and the
//! [`XmlWriter`] visitor for typed values.

use crate::error::ValueError;
use crate::message::{Attrs, Links, Method};
use crate::scan;
use crate::value::{put_float, put_int, put_stamps, Container, Out, Scalar, Visitor};

/// Writes `s` escaped for XML text, or for a double-quoted attribute.
///
/// A carriage return is written `&#13;` (a literal one would read back as a
/// newline); in attributes tab and newline are escaped too, because attribute
/// value normalization would turn them into spaces.
pub(crate) fn put_escaped(out: &mut impl Out, s: &str, attr: bool) {
    let bytes = s.as_bytes();
    let mut run = 0;
    loop {
        let at = if attr {
            scan::find(bytes, run, |b| {
                text_special(b) | (b == b'"') | (b == b'\t') | (b == b'\n')
            })
        } else {
            scan::find(bytes, run, text_special)
        };
        out.put(&bytes[run..at]);
        let Some(&b) = bytes.get(at) else {
            return;
        };
        out.put(match b {
            b'&' => b"&amp;",
            b'<' => b"&lt;",
            b'>' => b"&gt;",
            b'\r' => b"&#13;",
            b'"' => b"&quot;",
            b'\t' => b"&#9;",
            _ => b"&#10;",
        });
        run = at + 1;
    }
}

/// Whether text byte `b` must be escaped: `&`, `<`, `>`, carriage return
/// (branch-free, for [`scan::find`]).
pub(super) fn text_special(b: u8) -> bool {
    (b == b'&') | (b == b'<') | (b == b'>') | (b == b'\r')
}

/// Writes the opening `<message ...>` tag.
pub(crate) fn put_open(
    out: &mut impl Out,
    method: Method,
    topic: &str,
    attrs: Attrs,
    links: Links<'_>,
) {
    out.put(b"<message method=\"");
    out.put(method.as_str().as_bytes());
    out.put(b"\" topic=\"");
    put_escaped(out, topic, true);
    put_stamps(out, attrs, b"\" seq=\"", b"\" ts=\"");
    if attrs.more {
        out.put(b"\" more=\"true");
    }
    if let Some(reply) = links.reply {
        out.put(b"\" reply=\"");
        put_escaped(out, reply, true);
    }
    if let Some(id) = links.id {
        out.put(b"\" id=\"");
        put_escaped(out, id, true);
    }
    if attrs.ack {
        out.put(b"\" ack=\"true");
    }
    out.put(b"\">");
}

/// Writes a value as a typed `msg` element, from events.
#[derive(Debug)]
pub(crate) struct XmlWriter<'o, O: Out> {
    out: &'o mut O,
    depth: usize,
    /// `key` already wrote `<item key=".."`; the value adds its type.
    keyed: bool,
}

impl<'o, O: Out> XmlWriter<'o, O> {
    pub(crate) fn new(out: &'o mut O) -> Self {
        XmlWriter {
            out,
            depth: 0,
            keyed: false,
        }
    }

    fn open(&mut self, ty: &[u8]) {
        if !self.keyed {
            self.out
                .put(if self.depth == 0 { b"<msg" } else { b"<item" });
        }
        self.keyed = false;
        self.out.put(b" type=\"");
        self.out.put(ty);
        self.out.put(b"\"");
    }

    fn close(&mut self) {
        self.out.put(if self.depth == 0 {
            b"</msg>"
        } else {
            b"</item>"
        });
    }
}

impl<O: Out> Visitor for XmlWriter<'_, O> {
    fn scalar(&mut self, s: Scalar<'_>) -> Result<(), ValueError> {
        match s {
            Scalar::Null => {
                self.open(b"null");
                self.out.put(b"/>");
                return Ok(());
            }
            Scalar::Bool(b) => {
                self.open(b"bool");
                self.out.put(if b { b">true" } else { b">false" });
            }
            Scalar::Int(i) => {
                self.open(b"int");
                self.out.put(b">");
                put_int(self.out, i);
            }
            Scalar::Float(f) => {
                self.open(b"float");
                self.out.put(b">");
                put_float(self.out, f);
            }
            Scalar::Str(s) => {
                self.open(b"str");
                self.out.put(b">");
                put_escaped(self.out, s, false);
            }
        }
        self.close();
        Ok(())
    }

    fn begin(&mut self, c: Container) -> Result<(), ValueError> {
        self.open(if c == Container::List {
            b"list"
        } else {
            b"dict"
        });
        self.out.put(b">");
        self.depth += 1;
        Ok(())
    }

    fn key(&mut self, k: &str) -> Result<(), ValueError> {
        self.out.put(b"<item key=\"");
        put_escaped(self.out, k, true);
        self.out.put(b"\"");
        self.keyed = true;
        Ok(())
    }

    fn end(&mut self, _: Container) -> Result<(), ValueError> {
        self.depth -= 1;
        self.close();
        Ok(())
    }
}
