//! JSON (spec §3): a strict RFC 8259 parser that streams values as events, and
//! writers for messages and values.
//!
//! The parser is hand-written rather than serde_json because the spec needs
//! things serde_json does not expose: an integer beyond 64 bits must be refused
//! (serde_json silently turns it into a float), characters XML cannot carry must
//! be refused, and a forwarded `msg` must stay borrowed JSON text.

use std::borrow::Cow;

use crate::error::{DecodeError, ValueError};
use crate::message::{Body, Envelope, Method};
use crate::scan;
use crate::value::{
    self, put_float, put_int, Builder, Container, Counter, Discard, Out, Scalar, Value, Visitor,
    MAX_DEPTH,
};

use super::xml::XmlWriter;

const PLAIN: u8 = 0;
const QUOTE: u8 = 1;
const BACKSLASH: u8 = 2;
const CONTROL: u8 = 3;
/// First byte of U+FFFE/U+FFFF (and of other, allowed, characters).
const EF: u8 = 4;

/// Byte classes inside a JSON string; everything but `PLAIN` leaves the fast loop.
static STRING_CLASS: [u8; 256] = {
    let mut t = [PLAIN; 256];
    let mut i = 0;
    while i < 0x20 {
        t[i] = CONTROL;
        i += 1;
    }
    t[b'"' as usize] = QUOTE;
    t[b'\\' as usize] = BACKSLASH;
    t[0xEF] = EF;
    t
};

struct Parser<'a> {
    src: &'a str,
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Parser<'a> {
    fn new(src: &'a str) -> Self {
        Parser {
            src,
            bytes: src.as_bytes(),
            pos: 0,
        }
    }

    fn err(&self, reason: &'static str) -> DecodeError {
        DecodeError::Json {
            offset: self.pos,
            reason,
        }
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.pos += 1;
        }
    }

    fn expect(&mut self, b: u8, reason: &'static str) -> Result<(), DecodeError> {
        if self.peek() == Some(b) {
            self.pos += 1;
            Ok(())
        } else {
            Err(self.err(reason))
        }
    }

    fn end(&mut self) -> Result<(), DecodeError> {
        self.ws();
        if self.pos == self.bytes.len() {
            Ok(())
        } else {
            Err(self.err("trailing characters"))
        }
    }

    /// Reads the members of an object whose `{` was consumed: `member` gets
    /// each key with the parser standing on the value, which it must consume.
    fn members(
        &mut self,
        mut member: impl FnMut(&mut Self, Cow<'a, str>) -> Result<(), DecodeError>,
    ) -> Result<(), DecodeError> {
        self.ws();
        if self.peek() == Some(b'}') {
            self.pos += 1;
            return Ok(());
        }
        loop {
            self.ws();
            self.expect(b'"', "expected a string key")?;
            let key = self.string()?;
            self.ws();
            self.expect(b':', "expected ':'")?;
            self.ws();
            member(self, key)?;
            if self.next_item(b'}')? {
                return Ok(());
            }
        }
    }

    /// After an item of a list or object: `true` past its closing `close`,
    /// `false` past a comma.
    fn next_item(&mut self, close: u8) -> Result<bool, DecodeError> {
        self.ws();
        match self.peek() {
            Some(b',') => {
                self.pos += 1;
                Ok(false)
            }
            Some(b) if b == close => {
                self.pos += 1;
                Ok(true)
            }
            _ if close == b'}' => Err(self.err("expected ',' or '}'")),
            _ => Err(self.err("expected ',' or ']'")),
        }
    }

    fn value<V: Visitor>(&mut self, v: &mut V, depth: usize) -> Result<(), DecodeError> {
        self.ws();
        match self.peek() {
            Some(b'{') => {
                if depth >= MAX_DEPTH {
                    return Err(ValueError::TooDeep.into());
                }
                self.pos += 1;
                v.begin(Container::Dict)?;
                self.members(|p, key| {
                    v.key(&key)?;
                    p.value(v, depth + 1)
                })?;
                v.end(Container::Dict)?;
            }
            Some(b'[') => {
                if depth >= MAX_DEPTH {
                    return Err(ValueError::TooDeep.into());
                }
                self.pos += 1;
                v.begin(Container::List)?;
                self.ws();
                if self.peek() == Some(b']') {
                    self.pos += 1;
                } else {
                    loop {
                        self.value(v, depth + 1)?;
                        if self.next_item(b']')? {
                            break;
                        }
                    }
                }
                v.end(Container::List)?;
            }
            Some(b'"') => {
                self.pos += 1;
                let s = self.string()?;
                v.scalar(Scalar::Str(&s))?;
            }
            Some(b't') => {
                self.literal(b"true")?;
                v.scalar(Scalar::Bool(true))?;
            }
            Some(b'f') => {
                self.literal(b"false")?;
                v.scalar(Scalar::Bool(false))?;
            }
            Some(b'n') => {
                self.literal(b"null")?;
                v.scalar(Scalar::Null)?;
            }
            Some(b'-' | b'0'..=b'9') => {
                let n = self.number()?;
                v.scalar(n)?;
            }
            Some(_) => return Err(self.err("expected a value")),
            None => return Err(self.err("unexpected end of input")),
        }
        Ok(())
    }

    fn literal(&mut self, word: &'static [u8]) -> Result<(), DecodeError> {
        if self.bytes[self.pos..].starts_with(word) {
            self.pos += word.len();
            Ok(())
        } else {
            Err(self.err("invalid literal"))
        }
    }

    fn digits(&mut self) -> usize {
        let start = self.pos;
        while let Some(b'0'..=b'9') = self.peek() {
            self.pos += 1;
        }
        self.pos - start
    }

    fn number(&mut self) -> Result<Scalar<'static>, DecodeError> {
        let start = self.pos;
        let float = self.scan_number()?;
        let text = &self.src[start..self.pos];
        if float {
            match text.parse::<f64>() {
                Ok(f) if f.is_finite() => Ok(Scalar::Float(f)),
                _ => Err(ValueError::NonFiniteFloat.into()),
            }
        } else {
            text.parse::<i64>()
                .map(Scalar::Int)
                .map_err(|_| ValueError::IntOutOfRange(text.to_owned()).into())
        }
    }

    /// Steps over an RFC 8259 number; answers whether it has a fraction or an
    /// exponent (a float).
    fn scan_number(&mut self) -> Result<bool, DecodeError> {
        if self.peek() == Some(b'-') {
            self.pos += 1;
        }
        match self.peek() {
            Some(b'0') => self.pos += 1,
            Some(b'1'..=b'9') => {
                self.digits();
            }
            _ => return Err(self.err("invalid number")),
        }
        let mut float = false;
        if self.peek() == Some(b'.') {
            self.pos += 1;
            if self.digits() == 0 {
                return Err(self.err("expected digits after '.'"));
            }
            float = true;
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.pos += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.pos += 1;
            }
            if self.digits() == 0 {
                return Err(self.err("expected exponent digits"));
            }
            float = true;
        }
        Ok(float)
    }

    /// Steps over one value of an ignored key, checking JSON syntax only.
    ///
    /// Spec §3: unknown keys are ignored, so what they hold need not be
    /// something both formats can carry (a `\b` escape, a 20-digit integer,
    /// deep nesting). Iterative, so deep nesting cannot exhaust the stack.
    fn skip_value(&mut self) -> Result<(), DecodeError> {
        // One entry per open container: `true` for an object.
        let mut open: Vec<bool> = Vec::new();
        loop {
            self.ws();
            match self.peek() {
                Some(b'{') => {
                    self.pos += 1;
                    self.ws();
                    if self.peek() == Some(b'}') {
                        self.pos += 1;
                    } else {
                        open.push(true);
                        self.skip_key()?;
                        continue;
                    }
                }
                Some(b'[') => {
                    self.pos += 1;
                    self.ws();
                    if self.peek() == Some(b']') {
                        self.pos += 1;
                    } else {
                        open.push(false);
                        continue;
                    }
                }
                Some(b'"') => {
                    self.pos += 1;
                    self.skip_string()?;
                }
                Some(b't') => self.literal(b"true")?,
                Some(b'f') => self.literal(b"false")?,
                Some(b'n') => self.literal(b"null")?,
                Some(b'-' | b'0'..=b'9') => {
                    self.scan_number()?;
                }
                Some(_) => return Err(self.err("expected a value")),
                None => return Err(self.err("unexpected end of input")),
            }
            // A value is complete: close containers until one wants another value.
            loop {
                let Some(&object) = open.last() else {
                    return Ok(());
                };
                self.ws();
                match self.peek() {
                    Some(b',') => {
                        self.pos += 1;
                        if object {
                            self.skip_key()?;
                        }
                        break;
                    }
                    Some(b'}') if object => {
                        self.pos += 1;
                        open.pop();
                    }
                    Some(b']') if !object => {
                        self.pos += 1;
                        open.pop();
                    }
                    _ if object => return Err(self.err("expected ',' or '}'")),
                    _ => return Err(self.err("expected ',' or ']'")),
                }
            }
        }
    }

    /// Steps over `"key" :` inside an ignored object.
    fn skip_key(&mut self) -> Result<(), DecodeError> {
        self.ws();
        self.expect(b'"', "expected a string key")?;
        self.skip_string()?;
        self.ws();
        self.expect(b':', "expected ':'")
    }

    /// Steps over a string whose opening quote was consumed, checking only
    /// JSON syntax (escapes well-formed, no raw control characters).
    fn skip_string(&mut self) -> Result<(), DecodeError> {
        loop {
            match self.peek() {
                None => return Err(self.err("unterminated string")),
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(());
                }
                Some(b'\\') => {
                    self.pos += 1;
                    match self.peek() {
                        Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => {
                            self.pos += 1
                        }
                        Some(b'u') => {
                            self.pos += 1;
                            self.hex4()?;
                        }
                        _ => return Err(self.err("invalid escape")),
                    }
                }
                Some(0..=0x1F) => return Err(self.err("control character in string")),
                Some(_) => self.pos += 1,
            }
        }
    }

    /// Moves past string bytes that need no attention: all but `"`, `\\`,
    /// control characters and 0xEF (which starts U+FFFE and U+FFFF).
    fn skip_plain(&mut self) {
        self.pos = scan::find(self.bytes, self.pos, |b| {
            (b == b'"') | (b == b'\\') | (b < 0x20) | (b == 0xEF)
        });
    }

    /// Reads a string whose opening quote was consumed; borrowed when it has no escapes.
    fn string(&mut self) -> Result<Cow<'a, str>, DecodeError> {
        let start = self.pos;
        loop {
            self.skip_plain();
            match self.peek().map(|b| STRING_CLASS[usize::from(b)]) {
                None => return Err(self.err("unterminated string")),
                Some(QUOTE) => {
                    let s = &self.src[start..self.pos];
                    self.pos += 1;
                    return Ok(Cow::Borrowed(s));
                }
                Some(BACKSLASH) => {
                    let mut owned = String::with_capacity(self.pos - start + 16);
                    owned.push_str(&self.src[start..self.pos]);
                    return self.escaped_string(owned).map(Cow::Owned);
                }
                Some(CONTROL) => return Err(self.err("control character in string")),
                _ => self.check_ef()?,
            }
        }
    }

    /// At a 0xEF byte: refuse U+FFFE and U+FFFF, which XML cannot carry, and
    /// step over the whole character.
    ///
    /// 0xEF always leads a 3-byte character in valid UTF-8, so `pos` stays on a
    /// character boundary (callers slice `src` there).
    fn check_ef(&mut self) -> Result<(), DecodeError> {
        if let [0xEF, 0xBF, b @ (0xBE | 0xBF), ..] = self.bytes[self.pos..] {
            // EF BF BE is U+FFFE, EF BF BF is U+FFFF.
            return Err(ValueError::ForbiddenChar(0xFFC0 | u32::from(b & 0x3F)).into());
        }
        self.pos += 3;
        Ok(())
    }

    fn escaped_string(&mut self, mut out: String) -> Result<String, DecodeError> {
        loop {
            let run = self.pos;
            self.skip_plain();
            out.push_str(&self.src[run..self.pos]);
            match self.peek().map(|b| STRING_CLASS[usize::from(b)]) {
                None => return Err(self.err("unterminated string")),
                Some(QUOTE) => {
                    self.pos += 1;
                    return Ok(out);
                }
                Some(BACKSLASH) => {
                    self.pos += 1;
                    let c = self.escape()?;
                    out.push(c);
                }
                Some(CONTROL) => return Err(self.err("control character in string")),
                _ => {
                    let at = self.pos;
                    self.check_ef()?;
                    out.push_str(&self.src[at..self.pos]);
                }
            }
        }
    }

    fn escape(&mut self) -> Result<char, DecodeError> {
        let b = self.peek().ok_or_else(|| self.err("unterminated escape"))?;
        self.pos += 1;
        let c = match b {
            b'"' => '"',
            b'\\' => '\\',
            b'/' => '/',
            b'n' => '\n',
            b'r' => '\r',
            b't' => '\t',
            b'b' => return Err(ValueError::ForbiddenChar(0x08).into()),
            b'f' => return Err(ValueError::ForbiddenChar(0x0C).into()),
            b'u' => {
                let hi = self.hex4()?;
                let code = match hi {
                    0xD800..=0xDBFF => {
                        if !self.bytes[self.pos..].starts_with(b"\\u") {
                            return Err(ValueError::LoneSurrogate(hi).into());
                        }
                        self.pos += 2;
                        let lo = self.hex4()?;
                        if !(0xDC00..=0xDFFF).contains(&lo) {
                            return Err(ValueError::LoneSurrogate(hi).into());
                        }
                        0x10000 + ((u32::from(hi) - 0xD800) << 10) + (u32::from(lo) - 0xDC00)
                    }
                    0xDC00..=0xDFFF => return Err(ValueError::LoneSurrogate(hi).into()),
                    _ => u32::from(hi),
                };
                match char::from_u32(code) {
                    Some(c) if value::xml_char(c) => c,
                    _ => return Err(ValueError::ForbiddenChar(code).into()),
                }
            }
            _ => {
                self.pos -= 1;
                return Err(self.err("invalid escape"));
            }
        };
        Ok(c)
    }

    fn hex4(&mut self) -> Result<u16, DecodeError> {
        let digits = self
            .bytes
            .get(self.pos..self.pos + 4)
            .and_then(|d| std::str::from_utf8(d).ok())
            .and_then(|d| {
                u16::from_str_radix(d, 16)
                    .ok()
                    .filter(|_| d.bytes().all(|b| b.is_ascii_hexdigit()))
            })
            .ok_or_else(|| self.err("invalid \\u escape"))?;
        self.pos += 4;
        Ok(digits)
    }
}

/// Payloads up to this size are not measured as XML while decoding: 16 times
/// this plus any envelope stays under the frame limit.
const MEASURE_XML_ABOVE: usize = 4096;

/// Decodes one JSON frame payload into a borrowed [`Envelope`].
///
/// The `msg` value is validated completely (syntax, integer range, finite
/// floats, depth, characters XML can carry) but kept as text, with the length of
/// its XML form measured on the way.
///
/// # Errors
/// A [`DecodeError`] saying what is wrong.
pub fn decode_envelope(payload: &[u8]) -> Result<Envelope<'_>, DecodeError> {
    let src = std::str::from_utf8(payload).map_err(|_| DecodeError::NotUtf8)?;
    let mut p = Parser::new(src);
    p.ws();
    if p.peek() != Some(b'{') {
        return Err(DecodeError::NotAnObject);
    }
    p.pos += 1;
    let mut method = None;
    let mut topic = None;
    let mut msg = None;
    let mut more = false;
    p.members(|p, key| {
        match &*key {
            "method" => {
                if p.peek() != Some(b'"') {
                    return Err(DecodeError::FieldType("method"));
                }
                p.pos += 1;
                method = Some(p.string()?);
            }
            "topic" => match p.peek() {
                Some(b'"') => {
                    p.pos += 1;
                    topic = Some(p.string()?);
                }
                Some(b'n') => {
                    p.literal(b"null")?;
                    topic = None;
                }
                _ => return Err(DecodeError::FieldType("topic")),
            },
            "msg" => {
                let start = p.pos;
                // A short payload's value fits a frame in XML whatever it
                // holds (Body::xml_len_bound), so only long ones are measured.
                let xml_len = if payload.len() > MEASURE_XML_ABOVE {
                    let mut xml = Counter::default();
                    p.value(&mut XmlWriter::new(&mut xml), 0)?;
                    Some(xml.0)
                } else {
                    p.value(&mut Discard, 0)?;
                    None
                };
                msg = Some(Body::Json {
                    text: Cow::Borrowed(&src[start..p.pos]),
                    xml_len,
                });
            }
            "more" => match p.peek() {
                Some(b't') => {
                    p.literal(b"true")?;
                    more = true;
                }
                Some(b'f') => {
                    p.literal(b"false")?;
                    more = false;
                }
                _ => p.skip_value()?,
            },
            _ => p.skip_value()?,
        }
        Ok(())
    })?;
    p.end()?;
    let name = method.ok_or(DecodeError::MissingMethod)?;
    let method =
        Method::from_name(&name).ok_or_else(|| DecodeError::UnknownMethod(name.into_owned()))?;
    Ok(Envelope {
        method,
        topic,
        msg: msg.unwrap_or(Body::NULL),
        more,
    })
}

/// Parses a JSON text holding one value.
///
/// # Errors
/// A [`DecodeError`] when the text is not one valid value.
pub fn parse_value(text: &str) -> Result<Value, DecodeError> {
    let mut p = Parser::new(text);
    let mut b = Builder::default();
    p.value(&mut b, 0)?;
    p.end()?;
    Ok(b.finish())
}

/// Re-encodes validated JSON value text through any visitor (XML writer, counter).
pub(crate) fn stream_value<V: Visitor>(text: &str, v: &mut V) -> Result<(), DecodeError> {
    let mut p = Parser::new(text);
    p.value(v, 0)?;
    p.end()
}

/// Best-effort read of the `topic` of a payload that failed to decode, for the
/// `ERROR` reply (spec §5: "the topic string of the request as received").
///
/// `None` as well when the topic holds characters XML cannot carry, so that
/// what it returns can always be encoded.
#[must_use]
pub fn recover_topic(payload: &[u8]) -> Option<String> {
    // Syntax only: a frame refused for its value (`1e999`, a lone surrogate)
    // is still well-formed JSON whose topic can be echoed.
    let src = std::str::from_utf8(payload).ok()?;
    let mut p = Parser::new(src);
    p.ws();
    p.expect(b'{', "expected an object").ok()?;
    let mut topic = None;
    p.members(|p, key| {
        if key == "topic" && p.peek() == Some(b'"') {
            p.pos += 1;
            topic = Some(p.string()?.into_owned());
            Ok(())
        } else {
            p.skip_value()
        }
    })
    .ok()?;
    p.end().ok()?;
    topic.filter(|t| value::check_text(t).is_ok())
}

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
