//! NATS subjects and the lab's topics (`docs/protocol.md`, NATS door): the
//! tokens of `a.b.c` are the segments of `/a/b/c`.
//!
//! A subject is refused unless every token is a valid lab segment; `*` is
//! one whole token, `>` the whole last token (subscriptions only). A topic
//! whose segments hold a `.` has no faithful subject: it is written with the
//! dots as they are, so a NATS client sees more tokens than the lab has
//! segments (documented).

use std::borrow::Cow;

use protocol::{Pattern, Topic};

use crate::core::command::NatsFilter;

/// Why a subject is refused, with nats-server's texts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SubjectError {
    /// Empty tokens, a token that is no lab segment, `>` not last.
    #[error("Invalid Subject")]
    Invalid,
    /// A wildcard where a publish names one subject.
    #[error("Invalid Publish Subject")]
    Wildcard,
}

/// The topic a `PUB` subject names.
///
/// # Errors
/// [`SubjectError`] for an invalid subject or one with wildcards.
pub fn topic(subject: &str) -> Result<Topic<'static>, SubjectError> {
    if subject.split('.').any(|t| t == "*" || t == ">") {
        return Err(SubjectError::Wildcard);
    }
    let path = lab_path(subject)?;
    match Topic::parse(&path) {
        Ok(t) if !t.is_root() => Ok(t.into_owned()),
        _ => Err(SubjectError::Invalid),
    }
}

/// The filter a `SUB` subject stands for.
///
/// # Errors
/// [`SubjectError::Invalid`] for an invalid subject.
pub fn filter(subject: &str) -> Result<NatsFilter<'static>, SubjectError> {
    let (path, deeper) = match subject.strip_suffix('>') {
        Some("") => ("", true),
        Some(rest) => match rest.strip_suffix('.') {
            Some(path) => (path, true),
            None => return Err(SubjectError::Invalid),
        },
        None => (subject, false),
    };
    let lab = if path.is_empty() {
        "/".to_owned()
    } else {
        lab_path(path)?
    };
    let pattern = Pattern::parse(&lab).map_err(|_| SubjectError::Invalid)?;
    if pattern.as_str() == "/" && !deeper {
        return Err(SubjectError::Invalid);
    }
    Ok(NatsFilter::new(pattern.into_owned(), deeper))
}

/// `/a/b/c` for `a.b.c`, refusing empty tokens and anything no lab segment
/// may hold (the topic rules then check the rest).
fn lab_path(subject: &str) -> Result<String, SubjectError> {
    let mut path = String::with_capacity(subject.len() + 1);
    for token in subject.split('.') {
        let bad = |c: char| c == '/' || c == '>' || c.is_whitespace() || c.is_control();
        if token.is_empty() || token.contains(bad) || (token.contains('*') && token != "*") {
            return Err(SubjectError::Invalid);
        }
        path.push('/');
        path.push_str(token);
    }
    Ok(path)
}

/// The subject NATS clients see for the normalized topic `topic`.
#[must_use]
pub fn of_topic(topic: &str) -> Cow<'_, str> {
    let rest = topic.strip_prefix('/').unwrap_or(topic);
    if rest.contains('/') {
        Cow::Owned(rest.replace('/', "."))
    } else {
        Cow::Borrowed(rest)
    }
}

/// Whether the NATS subscription subject `sub` matches the subject `subject`.
#[must_use]
pub fn matches(sub: &str, subject: &str) -> bool {
    let mut tokens = subject.split('.');
    for want in sub.split('.') {
        match (want, tokens.next()) {
            (">", Some(_)) => return true,
            ("*", Some(_)) => {}
            (w, Some(t)) if w == t => {}
            _ => return false,
        }
    }
    tokens.next().is_none()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subjects_map_to_topics_token_by_segment() {
        assert_eq!(topic("time.us.east").unwrap().as_str(), "/time/us/east");
        assert_eq!(topic("_INBOX.abc").unwrap().as_str(), "/_INBOX/abc");
        assert_eq!(
            topic("notifications:user:123").unwrap().as_str(),
            "/notifications:user:123"
        );
        assert_eq!(of_topic("/chat/general"), "chat.general");
        assert_eq!(of_topic("/a"), "a");
        for bad in ["", ".", "a..b", ".a", "a.", "a/b", "a b", "a.b\t"] {
            assert_eq!(topic(bad), Err(SubjectError::Invalid), "{bad:?}");
        }
        assert_eq!(topic("a.*"), Err(SubjectError::Wildcard));
        assert_eq!(topic(">"), Err(SubjectError::Wildcard));
    }

    #[test]
    fn subscription_subjects_become_nats_filters() {
        let f = filter("time.*.east").unwrap();
        assert_eq!((f.path(), f.deeper()), ("/time/*/east", false));
        let f = filter("time.us.>").unwrap();
        assert_eq!((f.path(), f.deeper()), ("/time/us", true));
        let f = filter(">").unwrap();
        assert_eq!((f.path(), f.deeper()), ("/", true));
        for bad in ["", "a.>.b", "a>", "a.b*", "a..b", "x.>>"] {
            assert_eq!(filter(bad), Err(SubjectError::Invalid), "{bad:?}");
        }
    }

    #[test]
    fn subscription_subjects_match_as_nats_says() {
        assert!(matches("_INBOX.x.*", "_INBOX.x.7"));
        assert!(matches("a.>", "a.b.c"));
        assert!(!matches("a.>", "a"));
        assert!(!matches("a.*", "a.b.c"));
        assert!(matches("a.b", "a.b"));
        assert!(!matches("a.b", "a.b.c"));
    }
}
