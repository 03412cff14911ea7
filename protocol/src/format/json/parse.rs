//! The JSON [`Parser`]: a cursor over one text that reads a value as
//! [`Visitor`] events, with the checks the spec adds to RFC 8259 (integers in
//! 64 bits, finite floats, depth, characters XML can carry).

use std::borrow::Cow;

use crate::error::{DecodeError, ValueError};
use crate::scan;
use crate::value::{self, Container, Scalar, Visitor, MAX_DEPTH};

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

/// Which characters a string's escapes may stand for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Chars {
    /// Those XML 1.0 can carry: every value's strings.
    XmlOnly,
    /// Any character.
    Any,
}

/// A cursor over one JSON text.
pub(super) struct Parser<'a> {
    src: &'a str,
    bytes: &'a [u8],
    pub(super) pos: usize,
}

/// Bytes of a string looked at one by one before block scanning.
const SHORT: usize = 8;

/// Bytes of a key [`Parser::key`] looks at for its end before it reads
/// the key as any string.
const KEY_SHORT: usize = 16;

impl<'a> Parser<'a> {
    pub(super) fn new(src: &'a str) -> Self {
        Parser {
            src,
            bytes: src.as_bytes(),
            pos: 0,
        }
    }

    /// The whole text's bytes.
    pub(super) fn bytes(&self) -> &'a [u8] {
        self.bytes
    }

    pub(super) fn err(&self, reason: &'static str) -> DecodeError {
        DecodeError::Json {
            offset: self.pos,
            reason,
        }
    }

    pub(super) fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    pub(super) fn ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.pos += 1;
        }
    }

    pub(super) fn expect(&mut self, b: u8, reason: &'static str) -> Result<(), DecodeError> {
        if self.peek() == Some(b) {
            self.pos += 1;
            Ok(())
        } else {
            Err(self.err(reason))
        }
    }

    pub(super) fn end(&mut self) -> Result<(), DecodeError> {
        self.ws();
        if self.pos == self.bytes.len() {
            Ok(())
        } else {
            Err(self.err("trailing characters"))
        }
    }

    /// Reads the members of an object whose `{` was consumed: `member` gets
    /// each key with the parser standing on the value, which it must consume.
    pub(super) fn members(
        &mut self,
        member: impl FnMut(&mut Self, Cow<'a, str>) -> Result<(), DecodeError>,
    ) -> Result<(), DecodeError> {
        self.members_by(Self::key, member)
    }

    /// As [`Parser::members`], each key as its packed word
    /// (`field::word`): for objects whose keys are matched against known
    /// short ones.
    pub(super) fn fields(
        &mut self,
        member: impl FnMut(&mut Self, u64) -> Result<(), DecodeError>,
    ) -> Result<(), DecodeError> {
        self.members_by(Self::key_word, member)
    }

    fn members_by<K>(
        &mut self,
        read_key: impl Fn(&mut Self) -> Result<K, DecodeError>,
        mut member: impl FnMut(&mut Self, K) -> Result<(), DecodeError>,
    ) -> Result<(), DecodeError> {
        self.ws();
        if self.peek() == Some(b'}') {
            self.pos += 1;
            return Ok(());
        }
        loop {
            self.ws();
            self.expect(b'"', "expected a string key")?;
            let key = read_key(self)?;
            // Most texts have no space around the colon.
            if self.peek() == Some(b':') {
                self.pos += 1;
            } else {
                self.ws();
                self.expect(b':', "expected ':'")?;
            }
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

    pub(super) fn value<V: Visitor>(&mut self, v: &mut V, depth: usize) -> Result<(), DecodeError> {
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

    /// Steps over `word` (`true`, `false`, `null`), an array of known
    /// length compared as one or two integers (a slice's `starts_with`
    /// called `memcmp` even when inlined): `"ack": true` may come with every
    /// publish.
    #[inline(always)]
    pub(super) fn literal<const N: usize>(&mut self, word: &[u8; N]) -> Result<(), DecodeError> {
        if self.skip_exact(word) {
            Ok(())
        } else {
            Err(self.err("invalid literal"))
        }
    }

    /// Steps over `text` if the input goes on with it, compared as
    /// [`Parser::literal`] compares.
    #[inline(always)]
    pub(super) fn skip_exact<const N: usize>(&mut self, text: &[u8; N]) -> bool {
        let found = self.bytes[self.pos..].first_chunk::<N>() == Some(text);
        if found {
            self.pos += N;
        }
        found
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
    pub(super) fn scan_number(&mut self) -> Result<bool, DecodeError> {
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

    /// Moves past string bytes that need no attention: all but `"`, `\\`,
    /// control characters and 0xEF (which starts U+FFFE and U+FFFF).
    fn skip_plain(&mut self) {
        let special = |b: u8| (b == b'"') | (b == b'\\') | (b < 0x20) | (b == 0xEF);
        // Keys and most short values end within a few bytes: look at those
        // one by one before testing whole blocks.
        for _ in 0..SHORT {
            match self.bytes.get(self.pos) {
                Some(&b) if !special(b) => self.pos += 1,
                _ => return,
            }
        }
        self.pos = scan::find(self.bytes, self.pos, special);
    }

    /// Reads an object key whose opening quote was consumed. Keys are most
    /// often a few plain ASCII letters: those are found by a short loop
    /// that looks for the closing quote, where [`Parser::string`] pays for
    /// escapes, control characters and U+FFFE on every key.
    pub(super) fn key(&mut self) -> Result<Cow<'a, str>, DecodeError> {
        let start = self.pos;
        for (i, &b) in self.bytes[start..].iter().take(KEY_SHORT).enumerate() {
            match b {
                b'"' => {
                    self.pos = start + i + 1;
                    // All bytes before it are ASCII: `start + i` is a
                    // character boundary.
                    return Ok(Cow::Borrowed(&self.src[start..start + i]));
                }
                b'\\' | 0..0x20 | 0x80.. => break,
                _ => {}
            }
        }
        self.string()
    }

    /// Reads a string whose opening quote was consumed; borrowed when it has no escapes.
    pub(super) fn string(&mut self) -> Result<Cow<'a, str>, DecodeError> {
        self.string_of(Chars::XmlOnly)
    }

    /// As [`Parser::string`], but an escape may stand for any character
    /// (`\u0001`): for text that rules other than XML's judge, a topic.
    pub(super) fn any_string(&mut self) -> Result<Cow<'a, str>, DecodeError> {
        self.string_of(Chars::Any)
    }

    /// An integer from 0 to `u64::MAX`, or `None` after skipping a value of
    /// any other kind.
    pub(super) fn uint_or_skip(&mut self) -> Result<Option<u64>, DecodeError> {
        let start = self.pos;
        if let Some(b'0'..=b'9') = self.peek() {
            if !self.scan_number()? {
                return Ok(self.src[start..self.pos].parse().ok());
            }
            return Ok(None);
        }
        self.skip_value()?;
        Ok(None)
    }

    #[inline]
    fn string_of(&mut self, chars: Chars) -> Result<Cow<'a, str>, DecodeError> {
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
                    return self.escaped_string(owned, chars).map(Cow::Owned);
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

    fn escaped_string(&mut self, mut out: String, chars: Chars) -> Result<String, DecodeError> {
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
                    let c = self.escape(chars)?;
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

    fn escape(&mut self, chars: Chars) -> Result<char, DecodeError> {
        let b = self.peek().ok_or_else(|| self.err("unterminated escape"))?;
        self.pos += 1;
        let c = match b {
            b'"' => '"',
            b'\\' => '\\',
            b'/' => '/',
            b'n' => '\n',
            b'r' => '\r',
            b't' => '\t',
            b'b' if chars == Chars::Any => '\u{8}',
            b'f' if chars == Chars::Any => '\u{c}',
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
                    Some(c) if chars == Chars::Any || value::xml_char(c) => c,
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

    pub(super) fn hex4(&mut self) -> Result<u16, DecodeError> {
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
