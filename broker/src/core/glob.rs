//! Redis's glob patterns (`PSUBSCRIBE`, `PUBSUB CHANNELS`), matched exactly
//! as redis-server's `stringmatchlen` (`src/util.c`) matches them, case
//! sensitive: `*` any run of bytes (`/` and `:` included), `?` one byte,
//! `[abc]`, `[^abc]`, `[a-z]` (ends in either order) one byte of a class,
//! `\x` the byte `x`.
//!
//! The port keeps redis-server's quirks, since a client must not tell the
//! two apart: a byte read past the end of the pattern is the NUL that ends
//! an sds string (an unclosed `[` ends at the pattern's end, a trailing `\`
//! is itself), range ends compare as C's signed `char` on x86-64 (a range
//! with a byte over 0x7F in it is ordered as redis-server orders it there),
//! nesting is cut at 1,000 levels, and a failed `*` stops the search as
//! redis-server's `skipLongerMatches` does, so no pattern costs more than
//! a polynomial number of steps.

use std::borrow::Cow;

/// A Redis glob pattern, valid as any bytes are (kept as UTF-8 text here:
/// channels are topics, which are text).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Glob<'a>(Cow<'a, str>);

/// The bytes that make a pattern more than a literal.
fn special(b: u8) -> bool {
    matches!(b, b'*' | b'?' | b'[' | b'\\')
}

impl<'a> Glob<'a> {
    /// The pattern `text`.
    #[must_use]
    pub fn new(text: impl Into<Cow<'a, str>>) -> Self {
        Glob(text.into())
    }

    /// The pattern as sent.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The same pattern, owning its text.
    #[must_use]
    pub fn into_owned(self) -> Glob<'static> {
        Glob(Cow::Owned(self.0.into_owned()))
    }

    /// The whole `/`-separated segments the pattern starts with literally
    /// (`a/b` for `a/b/c*`, `news` for `news`, empty for `*x`): every
    /// channel it matches lies under them, so the filter trie can hold the
    /// pattern there and try it only for topics below.
    #[must_use]
    pub fn literal_prefix(&self) -> &str {
        let bytes = self.0.as_bytes();
        match bytes.iter().position(|&b| special(b)) {
            None => &self.0,
            Some(at) => match bytes[..at].iter().rposition(|&b| b == b'/') {
                Some(slash) => &self.0[..slash],
                None => "",
            },
        }
    }

    /// Whether the channel `name` matches, as redis-server decides.
    #[must_use]
    pub fn matches(&self, name: &[u8]) -> bool {
        let mut skip_longer = false;
        match_impl(self.0.as_bytes(), name, &mut skip_longer, 0)
    }
}

/// The pattern byte at `i`, or the NUL past its end, as a C string reads it.
#[inline]
fn at(p: &[u8], i: usize) -> u8 {
    p.get(i).copied().unwrap_or(0)
}

/// A byte as x86-64's signed `char`, widened to `int`.
#[inline]
fn signed(b: u8) -> i32 {
    i32::from(b as i8)
}

/// `stringmatchlen_impl` with `nocase` 0; `p` and `s` are the rest of the
/// pattern and of the string.
fn match_impl(mut p: &[u8], mut s: &[u8], skip_longer: &mut bool, nesting: u32) -> bool {
    if nesting > 1000 {
        return false;
    }
    while !p.is_empty() && !s.is_empty() {
        match p[0] {
            b'*' => {
                while !p.is_empty() && at(p, 1) == b'*' {
                    p = &p[1..];
                }
                if p.len() == 1 {
                    return true;
                }
                while !s.is_empty() {
                    if match_impl(&p[1..], s, skip_longer, nesting + 1) {
                        return true;
                    }
                    if *skip_longer {
                        return false;
                    }
                    s = &s[1..];
                }
                *skip_longer = true;
                return false;
            }
            b'?' => s = &s[1..],
            b'[' => {
                // `i` walks the class; `p[i]` past the end reads as NUL.
                let mut i = 1;
                let not = at(p, i) == b'^';
                if not {
                    i += 1;
                }
                let mut matched = false;
                loop {
                    let left = p.len().saturating_sub(i);
                    if at(p, i) == b'\\' && left >= 2 {
                        i += 1;
                        if at(p, i) == s[0] {
                            matched = true;
                        }
                    } else if at(p, i) == b']' {
                        break;
                    } else if left == 0 {
                        i -= 1;
                        break;
                    } else if left >= 3 && at(p, i + 1) == b'-' {
                        let (mut start, mut end) = (signed(at(p, i)), signed(at(p, i + 2)));
                        if start > end {
                            std::mem::swap(&mut start, &mut end);
                        }
                        let c = signed(s[0]);
                        i += 2;
                        if c >= start && c <= end {
                            matched = true;
                        }
                    } else if at(p, i) == s[0] {
                        matched = true;
                    }
                    i += 1;
                }
                if not {
                    matched = !matched;
                }
                if !matched {
                    return false;
                }
                s = &s[1..];
                // `p` moves to the class's last byte; the step below passes it.
                p = &p[i.min(p.len())..];
            }
            _ => {
                if p[0] == b'\\' && p.len() >= 2 {
                    p = &p[1..];
                }
                if p[0] != s[0] {
                    return false;
                }
                s = &s[1..];
            }
        }
        p = p.get(1..).unwrap_or_default();
        if s.is_empty() {
            while at(p, 0) == b'*' {
                p = &p[1..];
            }
            break;
        }
    }
    p.is_empty() && s.is_empty()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(pattern: &str, name: &str) -> bool {
        Glob::new(pattern).matches(name.as_bytes())
    }

    #[test]
    fn the_chapters_patterns() {
        assert!(m("notifications:*", "notifications:users"));
        assert!(m("events:user:*", "events:user:123"));
        assert!(m("logs:*:error", "logs:app:error"));
        assert!(!m("logs:*:error", "logs:app:warn"));
        assert!(m("events:*", "events:order.created"));
        assert!(m("*", "a/b/c"), "* crosses / and :");
        assert!(m("notif*", "notifications:orders"));
        assert!(!m("notif*", "alerts"));
    }

    #[test]
    fn question_marks_classes_ranges_and_escapes() {
        assert!(m("h?llo", "hello"));
        assert!(!m("h?llo", "hllo"));
        assert!(m("h[ae]llo", "hallo"));
        assert!(!m("h[ae]llo", "hillo"));
        assert!(m("h[^e]llo", "hallo"));
        assert!(!m("h[^e]llo", "hello"));
        assert!(m("h[a-b]llo", "hbllo"));
        assert!(m("h[b-a]llo", "hallo"), "ends in either order");
        assert!(m("a\\*b", "a*b"));
        assert!(!m("a\\*b", "axb"));
        assert!(m("[\\]]", "]"));
        assert!(m("a\\", "a\\"), "a trailing backslash is itself");
        assert!(m("[abc", "a"), "an unclosed class ends with the pattern");
        assert!(!m("[abc", "ab"));
        assert!(m("a*", "a"), "* matches nothing");
        assert!(m("a**", "a"));
        assert!(!m("", "a"));
        assert!(!m("a", ""));
        assert!(
            !m("*", ""),
            "an empty name matches nothing, as in redis-server"
        );
    }

    #[test]
    fn abusive_patterns_stay_cheap() {
        let name = "a".repeat(50);
        let pattern = format!("{}b", "a*".repeat(30));
        assert!(!m(&pattern, &name));
    }

    #[test]
    fn literal_prefixes_are_whole_segments() {
        let prefix = |p: &str| Glob::new(p).literal_prefix().to_owned();
        assert_eq!(prefix("a/b/c*"), "a/b");
        assert_eq!(prefix("news"), "news");
        assert_eq!(prefix("a/b?"), "a");
        assert_eq!(prefix("*"), "");
        assert_eq!(prefix("notifications:*"), "");
        assert_eq!(prefix("x/\\*"), "x");
    }
}
