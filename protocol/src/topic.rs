//! Topics (spec §6): `/` or `/seg1/seg2/...`, validated and normalized.
//!
//! [`Topic`] can only be built through [`Topic::parse`], so a value of the type
//! is always valid and normalized. [`normalize`] does the same check without
//! allocating when the input is already in normal form: the broker's hot path.

use std::borrow::Cow;
use std::fmt;

use crate::error::TopicError;

/// A valid, normalized topic such as `/telephony/orange`, or `/` for the root.
///
/// It borrows the text it was parsed from when that text is already in normal
/// form (what nearly every request carries), so a broker can validate the
/// topic of every request without allocating.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Topic<'a>(Cow<'a, str>);

impl<'a> Topic<'a> {
    /// Most segments a topic may have.
    pub const MAX_SEGMENTS: usize = 32;
    /// Most bytes a normalized topic may have.
    pub const MAX_LEN: usize = 1024;

    /// The root topic, `/`.
    #[must_use]
    pub fn root() -> Topic<'static> {
        Topic(Cow::Borrowed("/"))
    }

    /// Validates and normalizes a topic string (`/a//b/` becomes `/a/b`),
    /// borrowing it when it is already normal.
    ///
    /// # Errors
    /// A [`TopicError`] naming the first rule the string breaks.
    pub fn parse(s: &'a str) -> Result<Self, TopicError> {
        normalize(s).map(Topic)
    }

    /// Like [`Topic::parse`], for text that may be owned: text already in
    /// normal form becomes the topic without a copy. When normalizing had to
    /// rewrite it (`//a/` is `/a`), the original text comes back beside the
    /// topic; with an error, it comes back instead.
    ///
    /// # Errors
    /// A [`TopicError`] naming the first rule the text breaks, with the text.
    #[allow(clippy::type_complexity)]
    pub fn parse_cow(
        text: Cow<'a, str>,
    ) -> Result<(Self, Option<Cow<'a, str>>), (Cow<'a, str>, TopicError)> {
        // Normalizing only ever removes bytes, so an equal length means the
        // text was already normal (`//` normalizes to a static `/`, which is
        // borrowed but not the text).
        let rewritten = match normalize(&text) {
            Ok(n) if n.len() == text.len() => None,
            Ok(n) => Some(n.into_owned()),
            Err(e) => return Err((text, e)),
        };
        Ok(match rewritten {
            None => (Topic(text), None),
            Some(n) => (Topic(Cow::Owned(n)), Some(text)),
        })
    }

    /// The same topic, owning its text.
    #[must_use]
    pub fn into_owned(self) -> Topic<'static> {
        Topic(Cow::Owned(self.0.into_owned()))
    }

    /// The wire form.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The wire form, as held.
    #[must_use]
    pub fn into_cow(self) -> Cow<'a, str> {
        self.0
    }

    /// Whether this is the root, `/`.
    #[must_use]
    pub fn is_root(&self) -> bool {
        &*self.0 == "/"
    }

    /// The segments, root first excluded: `/a/b` yields `a`, `b`; `/` yields nothing.
    pub fn segments(&self) -> impl Iterator<Item = &str> {
        segments(&self.0)
    }

    /// Whether `self` equals `ancestor` or lies under it, by whole segments:
    /// `/msg/x` is under `/msg`, `/msgs` is not.
    #[must_use]
    pub fn is_under(&self, ancestor: &Topic<'_>) -> bool {
        is_under(&self.0, &ancestor.0)
    }
}

impl fmt::Display for Topic<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for Topic<'_> {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

/// The segments of a normalized topic string.
pub fn segments(normalized: &str) -> impl Iterator<Item = &str> + Clone {
    normalized.split('/').filter(|s| !s.is_empty())
}

/// Segment-wise "equal or under" on normalized topic strings.
#[must_use]
pub fn is_under(topic: &str, ancestor: &str) -> bool {
    if ancestor == "/" {
        return true;
    }
    match topic.strip_prefix(ancestor) {
        Some(rest) => rest.is_empty() || rest.starts_with('/'),
        None => false,
    }
}

fn forbidden(c: char) -> bool {
    // Whitespace and control characters would break the lab's line-oriented
    // output; the four pattern characters are reserved for wildcards; U+FFFE and
    // U+FFFF cannot appear in an XML document.
    c.is_whitespace()
        || c.is_control()
        || matches!(c, '*' | '>' | '#' | '+' | '\u{FFFE}' | '\u{FFFF}')
}

/// Validates `s` and returns its normal form, borrowed when `s` is already normal.
///
/// # Errors
/// A [`TopicError`] naming the first rule `s` breaks.
pub fn normalize(s: &str) -> Result<Cow<'_, str>, TopicError> {
    if is_normal_ascii(s) {
        return Ok(Cow::Borrowed(s));
    }
    normalize_general(s)
}

/// Whether `s` is a valid topic already in normal form and all ASCII, in one
/// pass over its bytes: what nearly every request carries. Anything else goes
/// through [`normalize_general`], which this agrees with.
fn is_normal_ascii(s: &str) -> bool {
    let bytes = s.as_bytes();
    if bytes.len() > Topic::MAX_LEN || bytes.first() != Some(&b'/') {
        return false;
    }
    if bytes.len() == 1 {
        return true;
    }
    let mut segments = 0;
    let mut after_slash = false;
    for &b in bytes {
        match b {
            b'/' if after_slash => return false,
            b'/' => after_slash = true,
            b'*' | b'>' | b'#' | b'+' => return false,
            0x21..=0x7E => {
                segments += usize::from(after_slash);
                after_slash = false;
            }
            _ => return false,
        }
    }
    !after_slash && segments <= Topic::MAX_SEGMENTS
}

fn normalize_general(s: &str) -> Result<Cow<'_, str>, TopicError> {
    if s.is_empty() {
        return Err(TopicError::Missing);
    }
    if !s.starts_with('/') {
        return Err(TopicError::NoLeadingSlash);
    }
    if let Some(c) = s.chars().find(|&c| forbidden(c)) {
        return Err(TopicError::ForbiddenChar(c));
    }
    let count = segments(s).count();
    if count > Topic::MAX_SEGMENTS {
        return Err(TopicError::TooManySegments(count));
    }
    let already_normal = s == "/" || (!s.ends_with('/') && !s.contains("//"));
    let normal: Cow<'_, str> = if already_normal {
        Cow::Borrowed(s)
    } else if count == 0 {
        Cow::Borrowed("/")
    } else {
        let mut out = String::with_capacity(s.len());
        for seg in segments(s) {
            out.push('/');
            out.push_str(seg);
        }
        Cow::Owned(out)
    };
    if normal.len() > Topic::MAX_LEN {
        return Err(TopicError::TooLong(normal.len()));
    }
    Ok(normal)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn norm(s: &str) -> Result<String, TopicError> {
        normalize(s).map(Cow::into_owned)
    }

    #[test]
    fn normalizes() {
        assert_eq!(norm("/a//b/").unwrap(), "/a/b");
        assert_eq!(norm("//").unwrap(), "/");
        assert_eq!(norm("/").unwrap(), "/");
        assert_eq!(norm("//n//a//").unwrap(), "/n/a");
        assert!(matches!(
            normalize("/telephony/orange"),
            Ok(Cow::Borrowed(_))
        ));
    }

    #[test]
    fn rejects() {
        assert_eq!(norm(""), Err(TopicError::Missing));
        assert_eq!(norm("a/b"), Err(TopicError::NoLeadingSlash));
        assert_eq!(norm("/a b"), Err(TopicError::ForbiddenChar(' ')));
        assert_eq!(norm("/a/*"), Err(TopicError::ForbiddenChar('*')));
        assert_eq!(norm("/a\u{1}"), Err(TopicError::ForbiddenChar('\u{1}')));
        let deep = "/a".repeat(33);
        assert_eq!(norm(&deep), Err(TopicError::TooManySegments(33)));
        assert!(norm(&"/a".repeat(32)).is_ok());
        let long = format!("/{}", "x".repeat(1024));
        assert_eq!(norm(&long), Err(TopicError::TooLong(1025)));
        assert!(norm(&format!("/{}", "x".repeat(1023))).is_ok());
    }

    proptest::proptest! {
        /// The one-pass ASCII check agrees with the general path.
        #[test]
        fn fast_path_agrees(s in "[/a-z*+# \t\u{7f}é]{0,12}|(/[a-z]{1,2}){30,34}") {
            if is_normal_ascii(&s) {
                proptest::prop_assert_eq!(normalize_general(&s), Ok(Cow::Borrowed(s.as_str())));
            } else if s.is_ascii() {
                proptest::prop_assert!(!matches!(normalize_general(&s), Ok(Cow::Borrowed(t)) if t == s));
            }
        }
    }

    #[test]
    fn under_is_segment_wise() {
        assert!(is_under("/msg/x", "/msg"));
        assert!(is_under("/msg", "/msg"));
        assert!(!is_under("/msgs", "/msg"));
        assert!(is_under("/anything", "/"));
        assert!(!is_under("/a", "/a/b"));
        let t = Topic::parse("/a/b").unwrap();
        assert_eq!(t.segments().collect::<Vec<_>>(), ["a", "b"]);
        assert!(Topic::root().segments().next().is_none());
    }

    #[test]
    fn topics_borrow_normal_text_and_keep_owned_buffers() {
        let text = "/a/b";
        assert!(
            matches!(Topic::parse(text).unwrap().0, Cow::Borrowed(t) if t.as_ptr() == text.as_ptr())
        );
        let owned = String::from("/a/b");
        let ptr = owned.as_ptr();
        let (t, sent) = Topic::parse_cow(Cow::Owned(owned)).unwrap();
        assert!(
            matches!(&t.0, Cow::Owned(o) if o.as_ptr() == ptr),
            "no copy"
        );
        assert_eq!(sent, None);
        for text in ["//a//b/", "/a/b/"] {
            let (t, sent) = Topic::parse_cow(Cow::Owned(text.into())).unwrap();
            assert_eq!((t.as_str(), sent.as_deref()), ("/a/b", Some(text)));
            let (t, sent) = Topic::parse_cow(Cow::Borrowed(text)).unwrap();
            assert_eq!((t.as_str(), sent.as_deref()), ("/a/b", Some(text)));
        }
        for text in ["//", "///"] {
            let (t, sent) = Topic::parse_cow(Cow::Owned(text.into())).unwrap();
            assert_eq!((t.as_str(), sent.as_deref()), ("/", Some(text)));
        }
        assert_eq!(
            Topic::parse_cow(Cow::Owned("a".into())),
            Err((Cow::Owned("a".into()), TopicError::NoLeadingSlash))
        );
        assert_eq!(Topic::parse("/x").unwrap().into_owned().as_str(), "/x");
    }
}
