//! Subscription patterns (v2 §14): a topic whose segments may also be `*`,
//! which matches exactly one segment, with v1's subtree rule on top
//! (`/time/*/east` receives `/time/us/east` and `/time/us/east/atlanta`).
//!
//! A [`Pattern`] is built only through [`Pattern::parse`], so it is always
//! valid and normalized like a [`Topic`]; a pattern without `*` is a topic.
//! `>`, `#` and `+` stay reserved, and `*` inside a segment (`/a*`) is
//! refused.

use std::borrow::Cow;
use std::fmt;

use crate::error::TopicError;
use crate::topic::{is_under, segments, Topic};

/// The segment that matches any one segment.
pub const ANY: &str = "*";

/// A valid, normalized subscription pattern such as `/time/*/east`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Pattern<'a>(Cow<'a, str>);

impl<'a> Pattern<'a> {
    /// Validates and normalizes a pattern: a topic (section 6 of v1) whose
    /// segments may also be exactly `*`.
    ///
    /// # Errors
    /// A [`TopicError`] naming the first rule the text breaks (a `*` inside a
    /// segment is a forbidden character, as in any topic).
    pub fn parse(s: &'a str) -> Result<Self, TopicError> {
        Self::parse_cow(Cow::Borrowed(s)).map_err(|(_, e)| e)
    }

    /// Like [`Pattern::parse`], for text that may be owned; with an error,
    /// the text comes back beside it.
    ///
    /// # Errors
    /// As [`Pattern::parse`].
    pub fn parse_cow(text: Cow<'a, str>) -> Result<Self, (Cow<'a, str>, TopicError)> {
        if !text.contains('*') {
            return match Topic::parse_cow(text) {
                Ok((topic, _)) => Ok(Pattern(topic.into_cow())),
                Err(e) => Err(e),
            };
        }
        // Each `*` segment stands in for a plain one while the topic rules
        // are checked, then the normal form is rebuilt around the `*`s.
        let stand_in: String = text
            .split('/')
            .map(|seg| if seg == ANY { "_" } else { seg })
            .collect::<Vec<_>>()
            .join("/");
        if let Err(e) = Topic::parse(&stand_in) {
            return Err((text, e));
        }
        let mut normal = String::with_capacity(text.len());
        for seg in segments(&text) {
            normal.push('/');
            normal.push_str(seg);
        }
        Ok(Pattern(Cow::Owned(normal)))
    }

    /// The same pattern, owning its text.
    #[must_use]
    pub fn into_owned(self) -> Pattern<'static> {
        Pattern(Cow::Owned(self.0.into_owned()))
    }

    /// The wire form.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The segments, `*` included.
    pub fn segments(&self) -> impl Iterator<Item = &str> {
        segments(&self.0)
    }

    /// Whether a segment is `*`.
    #[must_use]
    pub fn has_wildcard(&self) -> bool {
        self.segments().any(|s| s == ANY)
    }

    /// The longest topic every match lies under: the segments before the
    /// first `*` (`/time` for `/time/*/east`, `/` for `/*`).
    #[must_use]
    pub fn fixed_prefix(&self) -> &str {
        match self.0.find("/*") {
            Some(0) => "/",
            Some(at) => &self.0[..at],
            None => &self.0,
        }
    }

    /// Whether the normalized topic `topic` matches: segment by segment,
    /// `*` matching any one, and anything under a match matching too.
    #[must_use]
    pub fn matches(&self, topic: &str) -> bool {
        let mut topic_segs = segments(topic);
        self.segments()
            .all(|p| topic_segs.next().is_some_and(|t| p == ANY || p == t))
    }

    /// Whether this pattern's text equals `scope` or lies under it segment
    /// by segment, `*` compared as text (what `CANCEL_SUB` removes).
    #[must_use]
    pub fn is_under(&self, scope: &Pattern<'_>) -> bool {
        is_under(&self.0, &scope.0)
    }
}

impl<'a> From<Topic<'a>> for Pattern<'a> {
    fn from(topic: Topic<'a>) -> Self {
        Pattern(topic.into_cow())
    }
}

impl fmt::Display for Pattern<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<String, TopicError> {
        Pattern::parse(s).map(|p| p.as_str().to_owned())
    }

    #[test]
    fn star_segments_are_allowed_and_normalized() {
        assert_eq!(parse("/time/*/east").as_deref(), Ok("/time/*/east"));
        assert_eq!(parse("//time//*/").as_deref(), Ok("/time/*"));
        assert_eq!(parse("/*").as_deref(), Ok("/*"));
        assert_eq!(parse("/a/b").as_deref(), Ok("/a/b"));
        assert_eq!(parse("/").as_deref(), Ok("/"));
    }

    #[test]
    fn other_wildcards_and_partial_stars_are_refused() {
        for bad in ["/a*", "/*a", "/a/**", "/a/>", "/a/#", "/a/+", "/a b"] {
            assert!(parse(bad).is_err(), "{bad}");
        }
        assert_eq!(parse("*"), Err(TopicError::NoLeadingSlash));
        let long = format!("/{}", ["*"; 33].join("/"));
        assert_eq!(parse(&long), Err(TopicError::TooManySegments(33)));
    }

    #[test]
    fn matching_is_by_segment_with_the_subtree_rule() {
        let p = Pattern::parse("/time/*/east").unwrap();
        assert!(p.matches("/time/us/east"));
        assert!(p.matches("/time/us/east/atlanta"));
        assert!(!p.matches("/time/us/west"));
        assert!(!p.matches("/time/east"));
        assert!(!p.matches("/time"));
        let under_a = Pattern::parse("/a/*").unwrap();
        assert!(under_a.matches("/a/b") && under_a.matches("/a/b/c"));
        assert!(!under_a.matches("/a"));
        assert!(Pattern::parse("/*").unwrap().matches("/x"));
        assert!(!Pattern::parse("/*").unwrap().matches("/"));
    }

    #[test]
    fn the_fixed_prefix_bounds_every_match() {
        let prefix = |s: &str| Pattern::parse(s).unwrap().fixed_prefix().to_owned();
        assert_eq!(prefix("/time/*/east"), "/time");
        assert_eq!(prefix("/*/x"), "/");
        assert_eq!(prefix("/a/b"), "/a/b");
    }

    #[test]
    fn cancel_scopes_compare_stars_as_text() {
        let sub = Pattern::parse("/time/*/east").unwrap();
        assert!(sub.is_under(&Pattern::parse("/time").unwrap()));
        assert!(sub.is_under(&Pattern::parse("/time/*").unwrap()));
        assert!(!sub.is_under(&Pattern::parse("/time/us").unwrap()));
    }
}
