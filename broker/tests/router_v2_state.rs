//! What the router keeps for v2 features goes with what it was kept for:
//! compiled content filters with their last subscription (on cancel,
//! replacement, disconnect, refusal), presence with its connection, reply
//! inboxes with their last subscriber, publish ids with their window.

#[path = "router/harness.rs"]
mod harness;

use broker::core::{Router, RouterConfig};
use harness::*;
use protocol::{Format, Message, Method, Value};

fn options(entries: &[(&str, Value)]) -> Value {
    Value::Dict(
        entries
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .collect(),
    )
}

fn subscribe_with(h: &mut Harness, from: broker::core::ConnId, topic: &str, msg: Value) {
    h.req(from, &Message::new(Method::Subscribe, topic, msg));
}

fn filter(expr: &str) -> Value {
    options(&[("filter", Value::from(expr))])
}

#[test]
fn compiled_filters_go_with_their_last_subscription() {
    let mut h = Harness::new();
    let a = h.connect(1, Format::Json);
    let b = h.connect(2, Format::Xml);
    subscribe_with(&mut h, a, "/t", filter("msg > 1"));
    subscribe_with(&mut h, b, "/t", filter("msg > 1"));
    assert_eq!(h.router.subscriptions().filters().len(), 1, "one per text");
    subscribe_with(&mut h, a, "/t", filter("msg > 2"));
    assert_eq!(
        h.router.subscriptions().filters().len(),
        2,
        "a replaced its filter"
    );
    subscribe_with(&mut h, a, "/t", Value::Null);
    assert_eq!(
        h.router.subscriptions().filters().len(),
        1,
        "and dropped it"
    );
    subscribe_with(&mut h, a, "/u/*", filter("seq > 0"));
    h.cancel(a, "/u");
    h.disconnect(b);
    assert!(h.router.subscriptions().filters().is_empty());
    subscribe_with(&mut h, a, "/bad", filter("msg >"));
    assert!(
        h.router.subscriptions().filters().is_empty(),
        "refused: nothing kept"
    );
    assert_eq!(h.router.subscriptions().len(), 1, "a's plain /t");
}

#[test]
fn a_refused_subscription_releases_its_filter() {
    let mut h = Harness {
        router: Router::new(RouterConfig {
            max_topics: 1,
            ..RouterConfig::default()
        }),
        ..Harness::new()
    };
    let a = h.connect(1, Format::Json);
    subscribe_with(&mut h, a, "/one", filter("true"));
    subscribe_with(&mut h, a, "/two/three", filter("false"));
    let errors = h
        .take(a)
        .into_iter()
        .filter(|m| m.method == Method::Error)
        .count();
    assert_eq!(errors, 1, "the topic limit");
    assert_eq!(h.router.subscriptions().filters().len(), 1);
}

#[test]
fn presence_and_inboxes_go_with_their_connection() {
    let mut h = Harness::new();
    let a = h.connect(1, Format::Json);
    h.req(
        a,
        &Message::new(Method::Hello, "/", options(&[("name", Value::from("ann"))])),
    );
    subscribe_with(
        &mut h,
        a,
        "/room",
        options(&[("presence", Value::Bool(true))]),
    );
    h.subscribe(a, "/hall");
    h.subscribe(a, "/_INBOX/ann/1");
    assert!(!h.router.presence().is_empty());
    assert_eq!(h.router.inboxes().len(), 1);
    assert!(h.router.tree().get("/_INBOX/ann/1").is_some());
    h.disconnect(a);
    assert!(h.router.presence().is_empty());
    assert!(h.router.inboxes().is_empty());
    assert!(
        h.router.tree().get("/_INBOX").is_none(),
        "inbox topics removed"
    );
    assert!(
        h.router.tree().get("/room").is_some(),
        "ordinary topics stay"
    );
}

#[test]
fn publish_ids_are_bounded() {
    let mut h = Harness {
        router: Router::new(RouterConfig {
            dedup_max: 10,
            ..RouterConfig::default()
        }),
        ..Harness::new()
    };
    let a = h.connect(1, Format::Json);
    for i in 0..50 {
        let mut m = Message::publish("/ids", i);
        m.id = Some(format!("id-{i}"));
        h.req(a, &m);
    }
    assert_eq!(h.router.dedup().len(), 10);
}
