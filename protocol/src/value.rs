//! The value model shared by JSON and XML (spec §4), and the event interface
//! the codecs stream values through.
//!
//! Every decoder emits [`Visitor`] events and every encoder consumes them, so a
//! JSON text can be re-encoded as XML (or measured) without building a tree,
//! and a [`Value`] tree is just one more producer of the same events.

use crate::error::ValueError;
use crate::message::Attrs;

/// Most nested lists and dicts a value may have (spec §9: 64 accepted, 65 refused).
pub const MAX_DEPTH: usize = 64;

/// A message value: what `msg` carries, losslessly in both formats.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Value {
    /// JSON `null`, XML `type="null"` or no `msg` element.
    #[default]
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// A signed 64-bit integer.
    Int(i64),
    /// A finite float; stays a float through both formats.
    Float(f64),
    /// A string of characters XML 1.0 allows.
    Str(String),
    /// An ordered list.
    List(Vec<Value>),
    /// An object, as its entries in order (duplicate keys are carried as they are).
    Dict(Vec<(String, Value)>),
}

impl Value {
    /// Checks that both formats can carry this value.
    ///
    /// # Errors
    /// The first [`ValueError`] found.
    pub fn validate(&self) -> Result<(), ValueError> {
        self.visit(&mut Discard)
    }

    /// Streams this value as events into `v`, validating as it goes.
    pub(crate) fn visit<V: Visitor>(&self, v: &mut V) -> Result<(), ValueError> {
        self.visit_at(v, 0)
    }

    fn visit_at<V: Visitor>(&self, v: &mut V, depth: usize) -> Result<(), ValueError> {
        match self {
            Value::Null => v.scalar(Scalar::Null),
            Value::Bool(b) => v.scalar(Scalar::Bool(*b)),
            Value::Int(i) => v.scalar(Scalar::Int(*i)),
            Value::Float(f) if f.is_finite() => v.scalar(Scalar::Float(*f)),
            Value::Float(_) => Err(ValueError::NonFiniteFloat),
            Value::Str(s) => {
                check_text(s)?;
                v.scalar(Scalar::Str(s))
            }
            Value::List(items) => {
                if depth >= MAX_DEPTH {
                    return Err(ValueError::TooDeep);
                }
                v.begin(Container::List)?;
                for item in items {
                    item.visit_at(v, depth + 1)?;
                }
                v.end(Container::List)
            }
            Value::Dict(entries) => {
                if depth >= MAX_DEPTH {
                    return Err(ValueError::TooDeep);
                }
                v.begin(Container::Dict)?;
                for (key, item) in entries {
                    check_text(key)?;
                    v.key(key)?;
                    item.visit_at(v, depth + 1)?;
                }
                v.end(Container::Dict)
            }
        }
    }
}

/// The compact JSON text of the value (`27`, `"hi"`, `[1,2.0,null]`), as the
/// broker would send it; a value no format can carry shows as
/// `<invalid value: reason>`.
impl std::fmt::Display for Value {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut out = Vec::new();
        match self.visit(&mut crate::format::json::JsonWriter::new(&mut out)) {
            Ok(()) => f.write_str(&String::from_utf8_lossy(&out)),
            Err(e) => write!(f, "<invalid value: {e}>"),
        }
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::Str(s.to_owned())
    }
}

impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::Str(s)
    }
}

impl From<i64> for Value {
    fn from(i: i64) -> Self {
        Value::Int(i)
    }
}

impl From<f64> for Value {
    fn from(f: f64) -> Self {
        Value::Float(f)
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Self {
        Value::Bool(b)
    }
}

/// Whether XML 1.0 allows `c` in a document (the `Char` production).
#[must_use]
pub fn xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

/// Checks that every character of `s` can be carried in XML.
///
/// # Errors
/// [`ValueError::ForbiddenChar`] for the first one that cannot.
pub fn check_text(s: &str) -> Result<(), ValueError> {
    // Fast path: printable ASCII and valid multi-byte sequences other than
    // U+FFFE/U+FFFF (which start with 0xEF 0xBF 0xBE/0xBF) need no per-char work.
    let bytes = s.as_bytes();
    let suspicious =
        |b: u8| ((b < 0x20) & (b != b'\t') & (b != b'\n') & (b != b'\r')) | (b == 0xEF);
    if crate::scan::find(bytes, 0, suspicious) == bytes.len() {
        return Ok(());
    }
    match s.chars().find(|&c| !xml_char(c)) {
        Some(c) => Err(ValueError::ForbiddenChar(u32::from(c))),
        None => Ok(()),
    }
}

/// A leaf value as the codecs pass it around, borrowing its text.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Scalar<'a> {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(&'a str),
}

/// The two kinds of container.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Container {
    List,
    Dict,
}

/// Receives a value as a stream of events.
///
/// Producers guarantee well-formed streams: `key` comes exactly before each
/// dict entry's value, `begin`/`end` nest, text is valid for XML, floats are
/// finite and depth is within [`MAX_DEPTH`].
pub(crate) trait Visitor {
    fn scalar(&mut self, s: Scalar<'_>) -> Result<(), ValueError>;
    fn begin(&mut self, c: Container) -> Result<(), ValueError>;
    fn key(&mut self, k: &str) -> Result<(), ValueError>;
    fn end(&mut self, c: Container) -> Result<(), ValueError>;
}

/// A visitor that drops everything: validation and skipping.
#[derive(Debug)]
pub(crate) struct Discard;

impl Visitor for Discard {
    fn scalar(&mut self, _: Scalar<'_>) -> Result<(), ValueError> {
        Ok(())
    }
    fn begin(&mut self, _: Container) -> Result<(), ValueError> {
        Ok(())
    }
    fn key(&mut self, _: &str) -> Result<(), ValueError> {
        Ok(())
    }
    fn end(&mut self, _: Container) -> Result<(), ValueError> {
        Ok(())
    }
}

/// Builds a [`Value`] tree from events.
#[derive(Debug, Default)]
pub(crate) struct Builder {
    stack: Vec<(Value, Option<String>)>,
    key: Option<String>,
    done: Option<Value>,
}

impl Builder {
    pub(crate) fn finish(self) -> Value {
        self.done.unwrap_or_default()
    }

    fn attach(&mut self, v: Value) {
        match self.stack.last_mut() {
            Some((Value::List(items), _)) => items.push(v),
            Some((Value::Dict(entries), _)) => {
                entries.push((self.key.take().unwrap_or_default(), v))
            }
            _ => self.done = Some(v),
        }
    }
}

impl Visitor for Builder {
    fn scalar(&mut self, s: Scalar<'_>) -> Result<(), ValueError> {
        let v = match s {
            Scalar::Null => Value::Null,
            Scalar::Bool(b) => Value::Bool(b),
            Scalar::Int(i) => Value::Int(i),
            Scalar::Float(f) => Value::Float(f),
            Scalar::Str(s) => Value::Str(s.to_owned()),
        };
        self.attach(v);
        Ok(())
    }
    fn begin(&mut self, c: Container) -> Result<(), ValueError> {
        let v = match c {
            Container::List => Value::List(Vec::new()),
            Container::Dict => Value::Dict(Vec::new()),
        };
        self.stack.push((v, self.key.take()));
        Ok(())
    }
    fn key(&mut self, k: &str) -> Result<(), ValueError> {
        self.key = Some(k.to_owned());
        Ok(())
    }
    fn end(&mut self, _: Container) -> Result<(), ValueError> {
        if let Some((v, key)) = self.stack.pop() {
            self.key = key;
            self.attach(v);
        }
        Ok(())
    }
}

/// Where encoders write: a byte buffer, or a counter that only measures.
pub(crate) trait Out {
    fn put(&mut self, bytes: &[u8]);
}

impl Out for Vec<u8> {
    #[inline]
    fn put(&mut self, bytes: &[u8]) {
        self.extend_from_slice(bytes);
    }
}

/// Counts the bytes an encoding would take, without writing them.
#[derive(Debug, Default)]
pub(crate) struct Counter(pub(crate) usize);

impl Out for Counter {
    #[inline]
    fn put(&mut self, bytes: &[u8]) {
        self.0 += bytes.len();
    }
}

/// Writes the decimal form of `i` (itoa, no allocation).
pub(crate) fn put_int(out: &mut impl Out, i: i64) {
    if i < 0 {
        out.put(b"-");
    }
    put_uint(out, i.unsigned_abs());
}

/// Two ASCII digits for each number below 100: `DIGIT_PAIRS[2 * n..2 * n + 2]`.
const DIGIT_PAIRS: &[u8; 200] = b"\
    0001020304050607080910111213141516171819\
    2021222324252627282930313233343536373839\
    4041424344454647484950515253545556575859\
    6061626364656667686970717273747576777879\
    8081828384858687888990919293949596979899";

/// Writes the decimal form of `n` (itoa, no allocation).
pub(crate) fn put_uint(out: &mut impl Out, n: u64) {
    out.put(Digits::of(n).as_bytes());
}

/// Appends the decimal form of `n`, two digits per division (for doors
/// that write frames from templates).
pub fn push_uint(out: &mut Vec<u8>, n: u64) {
    out.extend_from_slice(Digits::of(n).as_bytes());
}

/// Writes the `seq` and `ts` of `attrs` that are present, each as its key
/// (`,"seq":` in JSON, `" seq="` in XML) then its digits, in one copy.
pub(crate) fn put_stamps(out: &mut impl Out, attrs: Attrs, seq_key: &[u8], ts_key: &[u8]) {
    let mut buf = [0u8; 64];
    let mut len = 0;
    let mut push = |bytes: &[u8]| {
        buf[len..len + bytes.len()].copy_from_slice(bytes);
        len += bytes.len();
    };
    if let Some(seq) = attrs.seq {
        push(&seq_key[..seq_key.len().min(12)]);
        push(Digits::of(seq).as_bytes());
    }
    if let Some(ts) = attrs.ts {
        push(&ts_key[..ts_key.len().min(12)]);
        push(Digits::of_ts(ts).as_bytes());
    }
    out.put(&buf[..len]);
}

/// The decimal text of a `u64`, on the stack (for doors that write frames
/// from templates and must know their length first).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Digits {
    buf: [u8; 20],
    start: u8,
}

impl Digits {
    /// The digits of `n`, two per division: every delivery carries a `seq`
    /// and a 13-digit `ts`.
    #[must_use]
    #[inline]
    pub fn of(mut n: u64) -> Digits {
        let mut buf = [0u8; 20];
        let mut pos = buf.len();
        while n >= 100 {
            let pair = (n % 100) as usize * 2;
            n /= 100;
            pos -= 2;
            buf[pos..pos + 2].copy_from_slice(&DIGIT_PAIRS[pair..pair + 2]);
        }
        if n >= 10 {
            let pair = n as usize * 2;
            pos -= 2;
            buf[pos..pos + 2].copy_from_slice(&DIGIT_PAIRS[pair..pair + 2]);
        } else {
            pos -= 1;
            buf[pos] = b'0' + n as u8;
        }
        Digits {
            buf,
            start: pos as u8,
        }
    }

    /// The digits of a message time: the same for every message accepted in
    /// one turn of the broker's loop, and on every delivery of each, so the
    /// last one written is kept (per thread) rather than written again.
    pub(crate) fn of_ts(ts: u64) -> Digits {
        thread_local! {
            static LAST: std::cell::Cell<(u64, Digits)> =
                const { std::cell::Cell::new((0, Digits { buf: [b'0'; 20], start: 19 })) };
        }
        LAST.with(|last| {
            let (n, mut digits) = last.get();
            if n == ts {
                return digits;
            }
            if ts >= 100 && ts / 100 == n / 100 {
                // Within the same hundred milliseconds only the last two
                // digits differ.
                let pair = (ts % 100) as usize * 2;
                digits.buf[18..].copy_from_slice(&DIGIT_PAIRS[pair..pair + 2]);
            } else {
                digits = Digits::of(ts);
            }
            last.set((ts, digits));
            digits
        })
    }

    /// The text.
    #[must_use]
    #[inline]
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf[usize::from(self.start)..]
    }
}

/// Writes a finite float so that it reads back as a float (`2.0`, not `2`).
pub(crate) fn put_float(out: &mut impl Out, f: f64) {
    use std::fmt::Write;
    struct Stack {
        buf: [u8; 40],
        len: usize,
    }
    impl Write for Stack {
        fn write_str(&mut self, s: &str) -> std::fmt::Result {
            let end = self.len + s.len();
            let dst = self.buf.get_mut(self.len..end).ok_or(std::fmt::Error)?;
            dst.copy_from_slice(s.as_bytes());
            self.len = end;
            Ok(())
        }
    }
    let mut s = Stack {
        buf: [0; 40],
        len: 0,
    };
    // `{:?}` is the shortest text that reads back to the same f64 and always
    // marks a float (`2.0`, `1e300`); it never exceeds 40 bytes for finite f64.
    if write!(s, "{f:?}").is_ok() {
        out.put(&s.buf[..s.len]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cached_ts_digits_follow_every_change() {
        let mut ts = 1_733_500_000_000u64;
        for step in [0, 1, 1, 37, 61, 1, 100, 99, 1, 12_345, 0, 1_000_000] {
            ts += step;
            assert_eq!(Digits::of_ts(ts).as_bytes(), ts.to_string().as_bytes());
        }
        for ts in [5, 99, 100, 1_733_500_000_099, 1_733_500_000_100, 7] {
            assert_eq!(Digits::of_ts(ts).as_bytes(), ts.to_string().as_bytes());
        }
    }

    #[test]
    fn uint_text_matches_display_at_every_digit_boundary() {
        let mut cases = vec![0, 1, 9, 10, 11, 99, 100, 101, 999, u64::MAX, u64::MAX - 1];
        for k in 1..20 {
            let p = 10u64.pow(k);
            cases.extend([p - 1, p, p + 1, p.saturating_mul(5) - 7]);
        }
        for n in cases {
            let mut v = Vec::new();
            put_uint(&mut v, n);
            assert_eq!(String::from_utf8(v).unwrap(), n.to_string());
        }
        let mut v = Vec::new();
        put_int(&mut v, i64::MIN);
        assert_eq!(String::from_utf8(v).unwrap(), i64::MIN.to_string());
    }

    #[test]
    fn int_and_float_text() {
        let mut v = Vec::new();
        put_int(&mut v, i64::MIN);
        v.push(b' ');
        put_int(&mut v, 0);
        v.push(b' ');
        put_float(&mut v, 2.0);
        v.push(b' ');
        put_float(&mut v, -1.5e-300);
        assert_eq!(
            String::from_utf8(v).unwrap(),
            "-9223372036854775808 0 2.0 -1.5e-300"
        );
    }

    #[test]
    fn text_check() {
        assert!(check_text("plain \t\n\r é 漢 🎉").is_ok());
        assert_eq!(check_text("a\u{1}"), Err(ValueError::ForbiddenChar(1)));
        assert_eq!(
            check_text("\u{FFFE}"),
            Err(ValueError::ForbiddenChar(0xFFFE))
        );
        assert!(check_text("\u{FFFD}").is_ok());
    }

    #[test]
    fn depth_limit() {
        let mut v = Value::Int(1);
        for _ in 0..MAX_DEPTH {
            v = Value::List(vec![v]);
        }
        assert!(v.validate().is_ok());
        v = Value::Dict(vec![("k".into(), v)]);
        assert_eq!(v.validate(), Err(ValueError::TooDeep));
    }
}
