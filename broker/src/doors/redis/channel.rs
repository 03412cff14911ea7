//! Redis channels and the lab's topics (front-doors spec, "Names"): the
//! channel is the topic without its leading `/` (`a/b/c` is `/a/b/c`,
//! `notifications:user:123` is `/notifications:user:123`).
//!
//! A channel must be a valid topic already in normal form once the `/` is
//! put back, so that a message comes back on exactly the name it was
//! published or subscribed with: `a//b`, `a/` and the empty channel are
//! refused, as is anything a topic may not hold (blanks, `*`, `>`, `#`,
//! `+`, more than 32 segments, more than 1,024 bytes).

use std::borrow::Cow;

use protocol::Topic;

/// The topic of the channel `name`.
///
/// # Errors
/// The error reply's text (`ERR invalid channel ...`) when `name` is no
/// topic.
pub fn topic(name: &[u8]) -> Result<Topic<'static>, String> {
    let refuse = |why: &dyn std::fmt::Display| {
        Err(format!(
            "ERR invalid channel '{}': {why}",
            String::from_utf8_lossy(name)
        ))
    };
    let Ok(text) = std::str::from_utf8(name) else {
        return refuse(&"a channel is UTF-8 text here");
    };
    let mut path = String::with_capacity(name.len() + 1);
    path.push('/');
    path.push_str(text);
    match Topic::parse_cow(Cow::Owned(path)) {
        Ok((t, None)) if !t.is_root() => Ok(t),
        Ok(_) => refuse(&"empty segments (a channel is a topic without its leading '/')"),
        Err((_, e)) => refuse(&e),
    }
}

/// The channel name of the normalized topic `topic`.
#[must_use]
pub fn of_topic(topic: &str) -> &str {
    topic.strip_prefix('/').unwrap_or(topic)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channels_are_topics_without_the_slash() {
        assert_eq!(topic(b"a/b/c").unwrap().as_str(), "/a/b/c");
        assert_eq!(
            topic(b"notifications:user:123").unwrap().as_str(),
            "/notifications:user:123"
        );
        assert_eq!(
            topic(b"events:order.created").unwrap().as_str(),
            "/events:order.created"
        );
        assert_eq!(of_topic("/chat/general"), "chat/general");
        for bad in [&b""[..], b"a//b", b"a/", b"/a", b"a b", b"a*", b"\xff"] {
            let e = topic(bad).unwrap_err();
            assert!(e.starts_with("ERR invalid channel '"), "{e}");
        }
    }
}
