//! The router with doors other than the lab's: delivery once per
//! subscription with the door's tags, no topic announcements, commands built
//! directly, and the filter index left clean.

#[path = "router/harness.rs"]
mod harness;

use broker::core::{
    Cancel, Command, ConnId, DeliveryRule, Filter, Form, Profile, Publish, SubTag, Subscribe,
    TopicArg,
};
use harness::*;
use protocol::{Body, Format, Message, Topic, Value};

// ------------------------------------------- doors with other delivery rules

/// A connection whose door delivers once per subscription, in form 7, with
/// no topic announcements (as the NATS door will).
fn per_subscription_door(h: &mut Harness, id: usize) -> ConnId {
    let id = ConnId(id);
    h.router.connect(
        id,
        Profile {
            form: Form(7),
            rule: DeliveryRule::OncePerSubscription,
            announcements: false,
            replay: true,
        },
    );
    id
}

fn subtree(topic: &str) -> Filter<'_> {
    Filter::Subtree(Topic::parse(topic).unwrap())
}

fn tagged_subscribe(h: &mut Harness, from: ConnId, topic: &str, tag: u64) {
    let command = Command::Subscribe(Subscribe {
        filter: subtree(topic),
        sent: topic.into(),
        tag: SubTag(tag),
        options: None,
    });
    h.router.handle(from, command, &mut h.out);
}

#[test]
fn a_per_subscription_door_gets_one_copy_per_matching_subscription_with_its_tag() {
    let mut h = Harness::new();
    let n = per_subscription_door(&mut h, 0);
    let lab = h.connect(1, Format::Json);
    tagged_subscribe(&mut h, n, "/a", 1);
    tagged_subscribe(&mut h, n, "/a/b", 2);
    tagged_subscribe(&mut h, n, "/a/b", 3);
    tagged_subscribe(&mut h, n, "/a/b", 3);
    h.subscribe(lab, "/a");
    h.subscribe(lab, "/a/b");
    h.clear();
    h.publish(lab, "/a/b", 1);
    let mut delivered = h.out.delivered.clone();
    delivered.sort_by_key(|d| d.form);
    assert_eq!(delivered.len(), 2, "{delivered:?}");
    assert_eq!(delivered[0].form, Form(0));
    assert_eq!(delivered[0].to.len(), 1, "the lab connection gets one copy");
    assert_eq!(delivered[1].form, Form(7));
    assert_eq!(delivered[1].topic, "/a/b");
    let mut tags: Vec<u64> = delivered[1].to.iter().map(|r| r.tag.0).collect();
    tags.sort_unstable();
    assert_eq!(
        tags,
        [1, 2, 3],
        "a repeated (tag, filter) is one subscription"
    );
    assert!(delivered[1].to.iter().all(|r| r.conn == n));
}

#[test]
fn a_door_without_announcements_is_not_told_of_new_topics() {
    let mut h = Harness::new();
    let n = per_subscription_door(&mut h, 0);
    let lab = h.connect(1, Format::Json);
    tagged_subscribe(&mut h, n, "/", 1);
    h.subscribe(lab, "/");
    h.clear();
    h.publish(lab, "/new", 1);
    assert_eq!(
        h.take(lab),
        vec![list_ack(&["/new"]), Message::publish("/new", 1)]
    );
    let forms: Vec<Form> = h.out.delivered.iter().map(|d| d.form).collect();
    assert!(forms.contains(&Form(7)), "the delivery still reaches it");
    assert!(!h.out.frames.contains_key(&n), "no notice for it");
}

#[test]
fn cancel_and_disconnect_leave_no_filters_behind() {
    let mut h = Harness::new();
    let a = h.connect(0, Format::Json);
    let b = h.connect(1, Format::Xml);
    for t in ["/x/y/z", "/x", "/q/r"] {
        h.subscribe(a, t);
        h.subscribe(b, t);
    }
    assert_eq!(h.router.subscriptions().len(), 6);
    h.cancel(a, "/x");
    assert_eq!(h.router.subscriptions().len(), 4);
    h.disconnect(b);
    assert_eq!(h.router.subscriptions().len(), 1);
    assert_eq!(h.router.subscriptions().trie_nodes(), 3, "root, /q, /q/r");
    h.router.handle(
        a,
        Command::Cancel(Cancel {
            scope: Topic::root().into(),
        }),
        &mut h.out,
    );
    assert!(h.router.subscriptions().is_empty());
    assert_eq!(h.router.subscriptions().trie_nodes(), 1, "only the root");
    h.clear();
    h.publish(a, "/q/r", 1);
    assert!(h.out.delivered.is_empty(), "nobody left to deliver to");
}

#[test]
fn commands_built_by_any_door_are_refused_the_same_way() {
    let mut h = Harness::new();
    let j = h.connect(0, Format::Json);
    let publish = |topic: &'static str| {
        let (topic, sent) = Topic::parse_cow(topic.into()).unwrap();
        Command::Publish(Publish {
            topic: TopicArg { topic, sent },
            body: Body::NULL,
            ack: false,
            keys: None,
        })
    };
    h.router.handle(j, publish("//"), &mut h.out);
    let got = h.take(j);
    assert_error(&got[0], "//");
    assert!(matches!(&got[0].msg, Value::Str(s) if s == "cannot publish to the root topic"));
    assert_eq!(h.router.tree().len(), 0);
}
