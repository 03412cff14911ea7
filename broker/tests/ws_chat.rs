//! The WebSocket door's chat protocol (seed 000) through real sockets with a
//! tungstenite client: rooms, sequence, presence, history, bad messages, and
//! messages crossing to and from lab and NATS clients.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::time::Duration;

use common::chat::{assert_key_order, chat_broker, Chat};
use common::v2::{get, hello, obj, string};
use common::Raw;
use protocol::{Method, Value as LabValue};
use serde_json::{json, Value};

fn config() -> broker::Config {
    broker::Config::default()
}

#[test]
fn two_users_see_each_others_messages_in_sequence_order() {
    let (_b, addr) = chat_broker(config());
    let mut alice = Chat::connect(addr);
    let mut bob = Chat::connect(addr);
    assert_eq!(alice.subscribe("general", "alice"), 0);
    assert_eq!(bob.subscribe("general", "bob"), 0);
    let join = alice.recv_type("presence");
    assert_eq!(
        (&join["userId"], &join["action"]),
        (&json!("bob"), &json!("join"))
    );
    let before = common::v2::now_ms();
    for i in 0..3 {
        alice.publish("general", "alice", &format!("a{i}"));
        bob.publish("general", "bob", &format!("b{i}"));
    }
    let texts: Vec<Vec<String>> = [&mut alice, &mut bob]
        .into_iter()
        .map(|c| (0..6).map(|_| c.recv_text()).collect())
        .collect();
    for t in &texts[0] {
        assert_key_order(
            t,
            &[
                "type",
                "id",
                "room",
                "sender",
                "content",
                "sequence",
                "timestamp",
            ],
        );
    }
    let seen: Vec<Vec<Value>> = texts
        .iter()
        .map(|c| c.iter().map(|t| serde_json::from_str(t).unwrap()).collect())
        .collect();
    assert_eq!(seen[0], seen[1], "both see the same messages");
    let seqs: Vec<u64> = seen[0]
        .iter()
        .map(|m| m["sequence"].as_u64().unwrap())
        .collect();
    assert_eq!(seqs, [1, 2, 3, 4, 5, 6]);
    for m in &seen[0] {
        assert_eq!(m["type"], "message");
        assert_eq!(m["room"], "general");
        let id = m["id"].as_str().unwrap();
        assert!(
            id.len() == 12
                && id
                    .bytes()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit()),
            "{id}"
        );
        let ts = m["timestamp"].as_u64().unwrap();
        assert!(ts >= before && ts <= common::v2::now_ms(), "{ts}");
    }
    // Each sender's messages in the order sent.
    for who in ["alice", "bob"] {
        let said: Vec<&str> = seen[0]
            .iter()
            .filter(|m| m["sender"] == who)
            .map(|m| m["content"].as_str().unwrap())
            .collect();
        let first = &who[..1];
        assert_eq!(said, [0, 1, 2].map(|i| format!("{first}{i}")));
    }
    // A third client joining later starts after the numbers so far.
    let mut carol = Chat::connect(addr);
    assert_eq!(carol.subscribe("general", "carol"), 6);
}

#[test]
fn presence_leave_on_unsubscribe_and_on_abrupt_disconnect() {
    let (_b, addr) = chat_broker(config());
    let mut alice = Chat::connect(addr);
    alice.subscribe("room", "alice");
    let mut bob = Chat::connect(addr);
    bob.subscribe("room", "bob");
    alice.recv_type("presence");
    bob.send(&json!({"type": "unsubscribe", "room": "room"}));
    let leave = alice.recv_type("presence");
    assert_eq!(
        (&leave["userId"], &leave["action"]),
        (&json!("bob"), &json!("leave"))
    );
    assert!(leave["timestamp"].as_u64().is_some());
    // The leaver is out of the room: it gets no more of its messages.
    alice.publish("room", "alice", "after bob left");
    alice.recv_type("message");
    bob.expect_silence(Duration::from_millis(100));

    let mut carol = Chat::connect(addr);
    carol.subscribe("room", "carol");
    alice.recv_type("presence");
    carol.reset();
    let leave = alice.recv_type("presence");
    assert_eq!(
        (&leave["userId"], &leave["action"]),
        (&json!("carol"), &json!("leave"))
    );
}

#[test]
fn history_holds_the_last_100_of_150_messages() {
    let (_b, addr) = chat_broker(config());
    let mut c = Chat::connect(addr);
    assert!(c.history("quiet").is_empty(), "a room never used");
    for i in 1..=150 {
        c.publish("busy", "me", &format!("m{i}"));
    }
    c.send(&json!({"type": "get_history", "room": "busy"}));
    let text = c.recv_text();
    assert_key_order(&text, &["type", "room", "messages"]);
    let first = &text[text.find("[{").expect("messages")..];
    assert_key_order(
        first,
        &["id", "room", "sender", "content", "sequence", "timestamp"],
    );
    let h: Value = serde_json::from_str(&text).unwrap();
    let h = h["messages"].as_array().unwrap();
    let seqs: Vec<u64> = h.iter().map(|m| m["sequence"].as_u64().unwrap()).collect();
    assert_eq!(seqs, (51..=150).collect::<Vec<_>>());
    assert_eq!(h[0]["content"], "m51");
    assert_eq!(h[99]["content"], "m150");
    // Joining now: subscribed at 150, and nothing replayed.
    assert_eq!(c.subscribe("busy", "me"), 150);
    c.expect_silence(Duration::from_millis(100));
}

#[test]
fn a_reconnecting_client_continues_where_the_room_is() {
    let (_b, addr) = chat_broker(config());
    let mut stay = Chat::connect(addr);
    stay.subscribe("r", "stay");
    let mut roam = Chat::connect(addr);
    roam.subscribe("r", "roam");
    stay.recv_type("presence");
    roam.publish("r", "roam", "one");
    assert_eq!(stay.recv_type("message")["sequence"], 1);
    roam.reset();
    assert_eq!(stay.recv_type("presence")["action"], "leave");
    stay.publish("r", "stay", "while away");
    stay.recv_type("message");
    let mut roam = Chat::connect(addr);
    assert_eq!(roam.subscribe("r", "roam"), 2);
    let missed = roam.history("r");
    assert_eq!(missed.last().unwrap()["content"], "while away");
    roam.publish("r", "roam", "back");
    assert_eq!(roam.recv_type("message")["sequence"], 3);
}

#[test]
fn bad_messages_get_an_error_and_the_connection_goes_on() {
    let (_b, addr) = chat_broker(config());
    let mut c = Chat::connect(addr);
    c.ws.send(tungstenite::Message::text("not json {")).unwrap();
    assert_eq!(c.recv(), json!({"error": "Invalid message format"}));
    c.send(&json!({"type": "dance", "room": "r"}));
    let e = c.recv();
    assert!(
        e["error"]
            .as_str()
            .unwrap()
            .contains("Unknown message type \"dance\""),
        "{e}"
    );
    c.send(&json!({"type": "publish", "room": "r", "sender": "me"}));
    let e = c.recv();
    assert!(e["error"].as_str().unwrap().contains("\"content\""), "{e}");
    c.send(&json!({"type": "subscribe", "room": "a/b", "userId": "me"}));
    assert!(c.recv()["error"]
        .as_str()
        .unwrap()
        .starts_with("Invalid room"));
    c.send(&json!([1, 2]));
    assert!(c.recv()["error"].as_str().is_some());
    // Binary messages holding JSON work as text ones do.
    c.ws.send(tungstenite::Message::binary(
        br#"{"type":"subscribe","room":"r","userId":"me"}"#.to_vec(),
    ))
    .unwrap();
    c.recv_type("presence");
    assert_eq!(c.recv_type("subscribed")["sequence"], 0);
}

#[test]
fn a_lab_publish_reaches_chat_clients_as_a_message_from_its_hello_name() {
    let (b, addr) = chat_broker(config());
    let mut c = Chat::connect(addr);
    c.subscribe("general", "chatter");
    let mut lab = Raw::json(b.addr);
    hello(&mut lab, obj(&[("name", "labby".into())]));
    lab.publish("/chat/general", "hello from the lab");
    let m = c.recv_type("message");
    assert_eq!(
        (&m["sender"], &m["content"], &m["sequence"], &m["room"]),
        (
            &json!("labby"),
            &json!("hello from the lab"),
            &json!(1),
            &json!("general")
        )
    );
    // Any other value is told as its JSON text; an unnamed publisher as "".
    let mut anon = Raw::json(b.addr);
    anon.publish("/chat/general", obj(&[("n", LabValue::Int(1))]));
    let m = c.recv_type("message");
    assert_eq!(
        (&m["sender"], &m["content"]),
        (&json!(""), &json!("{\"n\":1}"))
    );
    // A topic below a room is no room: not told.
    anon.publish("/chat/general/deeper", "x");
    c.expect_silence(Duration::from_millis(100));
    // History tells the same ids as the live messages.
    let h = c.history("general");
    assert_eq!(h[1]["id"], m["id"]);
}

#[test]
fn a_chat_publish_reaches_lab_subscribers_of_the_prefix() {
    let (b, addr) = chat_broker(config());
    let mut lab = Raw::json(b.addr);
    lab.subscribe("/chat");
    common::v2::ping(&mut lab);
    let mut c = Chat::connect(addr);
    c.publish("general", "alice", "to the lab");
    let m = lab.recv_skipping_lists();
    assert_eq!(
        (m.method, m.topic.as_str()),
        (Method::Publish, "/chat/general")
    );
    assert_eq!(string(get(&m.msg, "sender")), "alice");
    assert_eq!(string(get(&m.msg, "content")), "to the lab");
    assert_eq!(string(get(&m.msg, "id")).len(), 12);
}

#[test]
fn a_nats_publish_on_chat_general_reaches_chat_clients() {
    let (b, addr) = chat_broker(broker::Config {
        nats: Some("127.0.0.1:0".parse().unwrap()),
        ..config()
    });
    let mut c = Chat::connect(addr);
    c.subscribe("general", "chatter");
    let stream = TcpStream::connect(b.door(broker::doors::Door::Nats)).unwrap();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut info = String::new();
    reader.read_line(&mut info).unwrap();
    (&stream)
        .write_all(b"CONNECT {}\r\nPUB chat.general 9\r\nfrom nats\r\n")
        .unwrap();
    let m = c.recv_type("message");
    assert_eq!(
        (&m["sender"], &m["content"], &m["sequence"]),
        (&json!(""), &json!("from nats"), &json!(1))
    );
}

#[test]
fn the_chat_prefix_is_a_flag() {
    let (b, addr) = chat_broker(broker::Config {
        chat_prefix: "/rooms/v1".into(),
        ..config()
    });
    let mut lab = Raw::json(b.addr);
    lab.subscribe("/rooms/v1/lobby");
    common::v2::ping(&mut lab);
    let mut c = Chat::connect(addr);
    c.publish("lobby", "me", "hi");
    let m = lab.recv_skipping_lists();
    assert_eq!(m.topic.as_str(), "/rooms/v1/lobby");
}
