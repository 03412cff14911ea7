//! Rooms and topics: room `R` is the topic `<prefix>/R` (front-doors spec,
//! "Names"), one segment under the prefix, so that no room holds another.

use protocol::Topic;

use super::request::ChatError;

/// The topic of `room` under `prefix` (a normalized topic such as `/chat`).
///
/// # Errors
/// [`ChatError::InvalidRoom`] when the room is empty, holds `/`, or is not
/// a valid topic segment.
pub fn topic(prefix: &str, room: &str) -> Result<Topic<'static>, ChatError> {
    let invalid = |why: String| ChatError::InvalidRoom {
        room: room.to_owned(),
        why,
    };
    if room.is_empty() {
        return Err(invalid("a room name is not empty".into()));
    }
    if room.contains('/') {
        return Err(invalid("a room name holds no '/'".into()));
    }
    let text = if prefix == "/" {
        format!("/{room}")
    } else {
        format!("{prefix}/{room}")
    };
    match Topic::parse(&text) {
        Ok(t) if t.as_str() == text => Ok(t.into_owned()),
        Ok(_) => Err(invalid("not a topic segment as it stands".into())),
        Err(e) => Err(invalid(e.to_string())),
    }
}

/// The room of the normalized topic `topic`, if it is one under `prefix`.
#[must_use]
pub fn of_topic<'t>(prefix: &str, topic: &'t str) -> Option<&'t str> {
    let rest = if prefix == "/" {
        topic.strip_prefix('/')?
    } else {
        topic.strip_prefix(prefix)?.strip_prefix('/')?
    };
    (!rest.is_empty() && !rest.contains('/')).then_some(rest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rooms_are_one_segment_under_the_prefix() {
        assert_eq!(topic("/chat", "general").unwrap().as_str(), "/chat/general");
        assert_eq!(topic("/", "general").unwrap().as_str(), "/general");
        assert!(topic("/chat", "a/b").is_err());
        assert!(topic("/chat", "").is_err());
        assert!(topic("/chat", "a*").is_err());
        assert_eq!(of_topic("/chat", "/chat/general"), Some("general"));
        assert_eq!(of_topic("/", "/general"), Some("general"));
        assert_eq!(of_topic("/chat", "/chat/general/x"), None);
        assert_eq!(of_topic("/chat", "/chatter/x"), None);
        assert_eq!(of_topic("/chat", "/chat"), None);
    }
}
