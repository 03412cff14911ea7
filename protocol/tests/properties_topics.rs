//! Property tests for the wire protocol (spec `docs/protocol.md`):
//! the normal form of topics and "is under" by segments.

mod common;

use std::borrow::Cow;

use proptest::prelude::*;
use protocol::topic::{is_under, normalize, segments};
use protocol::Topic;

// ---------------------------------------------------------------------------
// Topics
// ---------------------------------------------------------------------------

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Normalization is a fixpoint, keeps the non-empty segments, and
    /// "is under" is segment-prefix.
    #[test]
    fn topic_normal_form(
        s in "[/a-c*# \u{e9}\u{1}]{0,12}",
        t in "/([a-c]{0,2}/){0,4}",
    ) {
        if let Ok(n) = normalize(&s) {
            let n = n.into_owned();
            prop_assert!(n.starts_with('/'));
            prop_assert!(n == "/" || (!n.ends_with('/') && !n.contains("//")));
            prop_assert!(matches!(normalize(&n), Ok(Cow::Borrowed(b)) if b == n));
            prop_assert_eq!(segments(&n).collect::<Vec<_>>(), segments(&s).collect::<Vec<_>>());
            let a = Topic::parse(&t).unwrap();
            let n = Topic::parse(&n).unwrap();
            let (ns, as_): (Vec<_>, Vec<_>) = (n.segments().collect(), a.segments().collect());
            prop_assert_eq!(n.is_under(&a), ns.starts_with(&as_));
            prop_assert_eq!(is_under(n.as_str(), a.as_str()), ns.starts_with(&as_));
        }
    }
}
