//! Topics (spec §6): `/` or `/seg1/seg2/...`, validated and normalized.
//!
//! [`Topic`] can only be built through [`Topic::parse`], so a value of the type
//! is always valid and normalized. [`normalize`] does the same check without
//! allocating when the input is already in normal form: the broker's hot path.

use std::borrow::Cow;
use std::fmt;

use crate::error::TopicError;

/// A valid, normalized topic such as `/telephony/orange`, or `/` for the root.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Topic(Box<str>);

impl Topic {
    /// Most segments a topic may have.
    pub const MAX_SEGMENTS: usize = 32;
    /// Most bytes a normalized topic may have.
    pub const MAX_LEN: usize = 1024;

    /// The root topic, `/`.
    #[must_use]
    pub fn root() -> Self {
        Topic("/".into())
    }

    /// Validates and normalizes a topic string (`/a//b/` becomes `/a/b`).
    ///
    /// # Errors
    /// A [`TopicError`] naming the first rule the string breaks.
    pub fn parse(s: &str) -> Result<Self, TopicError> {
        normalize(s).map(|t| Topic(t.into()))
    }

    /// The wire form.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
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
    pub fn is_under(&self, ancestor: &Topic) -> bool {
        is_under(&self.0, &ancestor.0)
    }
}

impl fmt::Display for Topic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for Topic {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

/// The segments of a normalized topic string.
pub fn segments(normalized: &str) -> impl Iterator<Item = &str> {
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
}
