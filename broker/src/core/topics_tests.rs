use std::borrow::Cow;

use protocol::Body;

use super::*;

fn body(text: &str) -> Body<'_> {
    Body::Json {
        text: Cow::Borrowed(text),
        xml_len: None,
    }
}

#[test]
fn creates_ancestors_once() {
    let mut t = TopicTree::default();
    let (orange, created) = t.get_or_create("/telephony/orange").unwrap();
    assert!(created);
    assert_eq!(t.path(orange), Some("/telephony/orange"));
    assert_eq!(
        t.topics_after(None).collect::<Vec<_>>(),
        ["/telephony", "/telephony/orange"]
    );
    assert_eq!(t.get_or_create("/telephony/orange"), Ok((orange, false)));
    let (_, created) = t.get_or_create("/telephony/unite").unwrap();
    assert!(created);
    assert_eq!(t.len(), 3);
    let telephony = t.get("/telephony").unwrap();
    let mut children: Vec<_> = t
        .children(telephony)
        .iter()
        .map(|&c| t.path(c).unwrap())
        .collect();
    children.sort_unstable();
    assert_eq!(children, ["/telephony/orange", "/telephony/unite"]);
    assert_eq!(t.children(TopicId::ROOT), [telephony]);
}

#[test]
fn retained_replay_is_byte_sorted_and_segment_bounded() {
    let mut t = TopicTree::default();
    for topic in ["/a/b", "/a-b", "/a", "/ab", "/a/c/d"] {
        let (id, _) = t.get_or_create(topic).unwrap();
        t.record(id, &body("1"), 0);
    }
    let under_a: Vec<_> = t.kept_under("/a").map(|(p, h)| (p, h.seq())).collect();
    assert_eq!(
        under_a,
        [("/a", 1), ("/a/b", 1), ("/a/c", 0), ("/a/c/d", 1)],
        "a topic without messages comes with an empty history"
    );
    let all: Vec<_> = t.kept_under("/").map(|(p, _)| p).collect();
    assert_eq!(all, ["/a", "/a-b", "/a/b", "/a/c", "/a/c/d", "/ab"]);
    assert_eq!(
        t.topics_after(Some("/a/b")).collect::<Vec<_>>(),
        ["/a/c", "/a/c/d", "/ab"]
    );
}

#[test]
fn topic_limit_counts_ancestors_and_creates_nothing_past_it() {
    let mut t = TopicTree::new(3, 1);
    assert!(t.get_or_create("/a/b").is_ok());
    assert_eq!(t.get_or_create("/c/d"), Err(TopicLimit { max: 3 }));
    assert_eq!(t.len(), 2, "a refused topic creates no ancestor either");
    assert!(t.get_or_create("/a/c").is_ok());
    assert!(
        t.get_or_create("/a/b").is_ok(),
        "existing topics stay usable"
    );
    assert_eq!(t.get_or_create("/d"), Err(TopicLimit { max: 3 }));
}

#[test]
fn kept_bytes_follow_replacements_and_removals() {
    let mut t = TopicTree::new(10, 2);
    let (a, _) = t.get_or_create("/a").unwrap();
    let (b, _) = t.get_or_create("/b").unwrap();
    t.record(a, &body("\"hello\""), 0);
    t.record(b, &body("1"), 0);
    assert_eq!((t.kept_bytes(), t.newest_bytes()), (8, 8));
    t.record(a, &body("22"), 0);
    assert_eq!((t.kept_bytes(), t.newest_bytes()), (10, 3));
    t.record(a, &body("333"), 0);
    assert_eq!(
        (t.kept_bytes(), t.newest_bytes()),
        (6, 4),
        "a full ring drops its oldest"
    );
    assert_eq!(t.newest_len(a), 3);
    assert!(t.remove(a));
    assert_eq!((t.kept_bytes(), t.newest_bytes()), (1, 1));
}

#[test]
fn with_one_entry_the_newest_replaces_the_last() {
    let mut t = TopicTree::default();
    let (id, _) = t.get_or_create("/x").unwrap();
    t.record(id, &body("\"a long first value\""), 0);
    t.record(id, &body("2"), 0);
    let (_, h) = t.kept_under("/x").next().unwrap();
    assert_eq!(h.newest().map(Entry::body), Some(body("2")));
    assert_eq!((h.len(), h.seq()), (1, 2));
}

#[test]
fn only_leaves_are_removed_and_indexes_follow() {
    let mut t = TopicTree::default();
    let (ab, _) = t.get_or_create("/a/b").unwrap();
    let (ac, _) = t.get_or_create("/a/c").unwrap();
    let a = t.get("/a").unwrap();
    let version = t.list().version();
    assert!(!t.remove(TopicId::ROOT), "the root stays");
    assert!(!t.remove(a), "a topic with children stays");
    assert!(t.remove(ab));
    assert!(!t.remove(ab), "already gone");
    assert_ne!(t.list().version(), version, "removal changes the list");
    assert_eq!(t.get("/a/b"), None);
    assert_eq!(t.topics_after(None).collect::<Vec<_>>(), ["/a", "/a/c"]);
    assert_eq!(t.children(a), [ac], "the parent forgot it");
    assert!(t.remove(ac));
    assert!(t.remove(a), "a parent whose children are gone is a leaf");
    assert!(t.is_empty());
    assert!(t.children(TopicId::ROOT).is_empty());
}

#[test]
fn a_stale_id_never_reaches_the_node_reusing_its_slot() {
    let mut t = TopicTree::default();
    let (old, _) = t.get_or_create("/old").unwrap();
    t.record(old, &body("1"), 0);
    assert!(t.remove(old));
    let (new, _) = t.get_or_create("/new").unwrap();
    assert_ne!(old, new);
    assert!(!t.contains(old));
    assert_eq!(t.path(old), None);
    assert_eq!(t.record(old, &body("\"stale\""), 0), None);
    assert_eq!(t.newest_len(new), 0, "a stale id wrote nothing");
    assert!(!t.remove(old));
    assert_eq!(t.path(new), Some("/new"));
}

#[test]
fn removing_a_middle_child_keeps_its_siblings_reachable() {
    let mut t = TopicTree::default();
    let ids: Vec<_> = ["/p/a", "/p/b", "/p/c", "/p/d"]
        .iter()
        .map(|p| t.get_or_create(p).unwrap().0)
        .collect();
    let p = t.get("/p").unwrap();
    assert!(t.remove(ids[1]));
    assert!(t.remove(ids[0]));
    let mut left: Vec<_> = t.children(p).iter().map(|&c| t.path(c).unwrap()).collect();
    left.sort_unstable();
    assert_eq!(left, ["/p/c", "/p/d"]);
    assert!(t.remove(ids[3]));
    assert!(t.remove(ids[2]));
    assert!(t.children(p).is_empty());
}
