use std::borrow::Cow;

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
        t.retain(id, &body("1"));
    }
    let under_a: Vec<_> = t.retained_under("/a").map(|(p, _)| p).collect();
    assert_eq!(under_a, ["/a", "/a/b", "/a/c/d"]);
    let all: Vec<_> = t.retained_under("/").map(|(p, _)| p).collect();
    assert_eq!(all, ["/a", "/a-b", "/a/b", "/a/c/d", "/ab"]);
    assert_eq!(
        t.topics_after(Some("/a/b")).collect::<Vec<_>>(),
        ["/a/c", "/a/c/d", "/ab"]
    );
}

#[test]
fn topic_limit_counts_ancestors_and_creates_nothing_past_it() {
    let mut t = TopicTree::with_max_topics(3);
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
fn retained_bytes_follow_replacements_and_removals() {
    let mut t = TopicTree::default();
    let (a, _) = t.get_or_create("/a").unwrap();
    let (b, _) = t.get_or_create("/b").unwrap();
    t.retain(a, &body("\"hello\""));
    t.retain(b, &body("1"));
    assert_eq!(t.retained_bytes(), 8);
    t.retain(a, &body("22"));
    assert_eq!(t.retained_bytes(), 3);
    assert_eq!(t.retained_len(a), 2);
    assert!(t.remove(a));
    assert_eq!(t.retained_bytes(), 1);
}

#[test]
fn retained_buffer_is_reused() {
    let mut t = TopicTree::default();
    let (id, _) = t.get_or_create("/x").unwrap();
    t.retain(id, &body("\"a long first value\""));
    t.retain(id, &body("2"));
    let (_, r) = t.retained_under("/x").next().unwrap();
    assert_eq!(r.body(), body("2"));
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
    t.retain(old, &body("1"));
    assert!(t.remove(old));
    let (new, _) = t.get_or_create("/new").unwrap();
    assert_ne!(old, new);
    assert!(!t.contains(old));
    assert_eq!(t.path(old), None);
    t.retain(old, &body("\"stale\""));
    assert_eq!(t.retained_len(new), 0, "a stale id wrote nothing");
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
