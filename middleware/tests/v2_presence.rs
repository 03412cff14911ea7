//! Presence against the real broker (see `live`): `PRESENCE` events of a
//! subscription made with presence (joins, leaves, its own join, away and
//! back) and `Queue::who`.

mod live;

use std::time::Duration;

use live::{next, open, LiveBroker, Proxy, TIMEOUT};
use middleware::{
    Error, Event, Format, Hello, MemberState, Options, PresenceAction, Queue, Reconnect, Role,
    SubscribeOptions,
};

/// A queue named `name` (none: unnamed), not subscribed to anything yet.
fn client(addr: &str, name: Option<&str>, format: Format) -> Queue {
    let options = Options {
        format,
        hello: Some(Hello {
            name: name.map(str::to_owned),
            slow: None,
        }),
        subscribe: false,
        ..Options::default()
    };
    open(addr, "/room", Role::Consumer, &options)
}

/// The next presence event's name and action; fails on anything else.
#[track_caller]
fn presence(q: &mut Queue) -> (String, PresenceAction) {
    match next(q) {
        Event::Presence {
            topic,
            name,
            action,
            id: _,
            ts,
        } => {
            assert_eq!(topic, "/room");
            assert!(ts > 1_600_000_000_000, "ts {ts}");
            (name, action)
        }
        other => panic!("expected PRESENCE, got {other:?}"),
    }
}

#[track_caller]
fn nothing_more(q: &mut Queue) {
    q.ping().expect("ping");
    match q.pull_timeout(Duration::from_millis(200)) {
        Ok(None) | Ok(Some(Event::Topics(_))) => {}
        other => panic!("expected nothing more, got {other:?}"),
    }
}

#[test]
fn joins_and_leaves_are_seen_and_who_lists_the_named() {
    let broker = LiveBroker::start();
    let addr = broker.addr();
    let mut watcher = client(&addr, Some("watcher"), Format::Json);
    watcher
        .subscribe_with("/room", &SubscribeOptions::presence())
        .expect("subscribe");
    // Its own join first.
    assert_eq!(
        presence(&mut watcher),
        ("watcher".into(), PresenceAction::Join)
    );

    let mut alice = client(&addr, Some("alice"), Format::Xml);
    alice.subscribe("/room").expect("subscribe");
    assert_eq!(
        presence(&mut watcher),
        ("alice".into(), PresenceAction::Join)
    );
    // Unnamed clients take no part.
    let mut anonymous = client(&addr, None, Format::Json);
    anonymous.subscribe("/room").expect("subscribe");
    anonymous.ping().expect("subscribed");
    // Nor does a subscription to another topic.
    let mut elsewhere = client(&addr, Some("zed"), Format::Json);
    elsewhere.subscribe("/room/side").expect("subscribe");
    elsewhere.ping().expect("subscribed");
    nothing_more(&mut watcher);

    let members = anonymous.who("/room").expect("who");
    let names: Vec<(&str, &MemberState)> = members
        .iter()
        .map(|m| (m.name.as_str(), &m.state))
        .collect();
    assert_eq!(
        names,
        [
            ("alice", &MemberState::Online),
            ("watcher", &MemberState::Online)
        ]
    );
    assert!(members.iter().all(|m| m.since > 1_600_000_000_000));
    assert_ne!(members[0].id, members[1].id);
    assert_eq!(alice.who("//room/").expect("who").len(), 2);
    assert!(alice.who("/empty").expect("who").is_empty());
    assert!(matches!(
        alice.who("/room/*"),
        Err(Error::Topic { .. } | Error::Broker { .. })
    ));

    alice.cancel_sub("/room").expect("cancel");
    assert_eq!(
        presence(&mut watcher),
        ("alice".into(), PresenceAction::Leave)
    );
    alice.subscribe("/room").expect("again");
    assert_eq!(
        presence(&mut watcher),
        ("alice".into(), PresenceAction::Join)
    );
    drop(alice);
    assert_eq!(
        presence(&mut watcher),
        ("alice".into(), PresenceAction::Leave)
    );
    let members = watcher.who("/room").expect("who");
    assert_eq!(members.len(), 1);
    assert_eq!(members[0].name, "watcher");
}

#[test]
fn a_silent_member_goes_away_and_comes_back() {
    let broker = LiveBroker::start_with(|c| c.away = Some(Duration::from_millis(300)));
    let addr = broker.addr();
    let mut watcher = client(&addr, Some("watcher"), Format::Json);
    watcher
        .subscribe_with("/room", &SubscribeOptions::presence())
        .expect("subscribe");
    assert_eq!(presence(&mut watcher).1, PresenceAction::Join);
    let mut bob = client(&addr, Some("bob"), Format::Json);
    bob.subscribe("/room").expect("subscribe");
    assert_eq!(presence(&mut watcher), ("bob".into(), PresenceAction::Join));
    // The watcher keeps talking; bob says nothing for longer than the delay.
    let mut away = None;
    for _ in 0..50 {
        watcher.ping().expect("ping");
        if let Some(event) = watcher
            .pull_timeout(Duration::from_millis(100))
            .expect("pull")
        {
            away = Some(event);
            break;
        }
    }
    match away {
        Some(Event::Presence { name, action, .. }) => {
            assert_eq!((name.as_str(), action), ("bob", PresenceAction::Away));
        }
        other => panic!("expected bob away, got {other:?}"),
    }
    let members = watcher.who("/room").expect("who");
    let bob_state = members.iter().find(|m| m.name == "bob").map(|m| &m.state);
    assert_eq!(bob_state, Some(&MemberState::Away));
    bob.ping().expect("bob speaks");
    assert_eq!(presence(&mut watcher), ("bob".into(), PresenceAction::Back));
}

#[test]
fn a_presence_subscription_is_made_again_after_a_reconnection() {
    let broker = LiveBroker::start();
    let proxy = Proxy::start(&broker.addr());
    let options = Options {
        hello: Some(Hello {
            name: Some("watcher".into()),
            slow: None,
        }),
        reconnect: Some(Reconnect {
            initial: Duration::from_millis(10),
            max: Duration::from_millis(100),
            attempts: None,
            give_up_after: Some(TIMEOUT),
        }),
        subscribe: false,
        ..Options::default()
    };
    let mut watcher = open(proxy.addr(), "/room", Role::Consumer, &options);
    watcher
        .subscribe_with("/room", &SubscribeOptions::presence())
        .expect("subscribe");
    assert_eq!(
        presence(&mut watcher),
        ("watcher".into(), PresenceAction::Join)
    );
    let mut carol = client(&broker.addr(), Some("carol"), Format::Json);
    carol
        .subscribe_with("/room", &SubscribeOptions::presence())
        .expect("subscribe");
    assert_eq!(presence(&mut carol), ("carol".into(), PresenceAction::Join));
    assert_eq!(
        presence(&mut watcher),
        ("carol".into(), PresenceAction::Join)
    );
    proxy.cut();
    // The watcher reconnects in its next call, and gets its own join
    // again: presence is still on.
    match next(&mut watcher) {
        Event::Presence { name, action, .. } => {
            // (Connection ids are slots, reused once closed: no check on id.)
            assert_eq!((name.as_str(), action), ("watcher", PresenceAction::Join));
        }
        other => panic!("{other:?}"),
    }
    // Carol sees the old connection leave and the new one join.
    let mut seen = Vec::new();
    while seen.len() < 2 {
        match next(&mut carol) {
            Event::Presence { name, action, .. } => seen.push((name, action)),
            other => panic!("{other:?}"),
        }
    }
    assert!(
        seen.contains(&("watcher".into(), PresenceAction::Leave)),
        "{seen:?}"
    );
    assert!(
        seen.contains(&("watcher".into(), PresenceAction::Join)),
        "{seen:?}"
    );
    carol.cancel_sub("/room").expect("cancel");
    assert_eq!(
        presence(&mut watcher),
        ("carol".into(), PresenceAction::Leave)
    );
}
