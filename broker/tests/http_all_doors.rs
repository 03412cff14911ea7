//! The monitoring endpoints with a client on every door: lab, NATS, Redis
//! and the WebSocket chat, each publishing or subscribing, and what
//! `/api/server`, `/api/connections`, `/api/topics` and `/metrics` say of
//! each door.

mod common;

use std::io;
use std::time::Duration;

use broker::doors::Door;
use broker::Config;
use common::chat::Chat;
use common::http::{get, get_json};
use common::nats::Nats;
use common::wire::{barrier, subscriber};
use common::{start_broker_with, Raw};
use prometheus_parse::Scrape;
use protocol::{Format, Method};
use redis::Commands;
use serde_json::Value;

/// The entry of `list` whose `key` is `value`.
fn find<'a>(list: &'a Value, key: &str, value: &str) -> &'a Value {
    list.as_array()
        .unwrap()
        .iter()
        .find(|e| e[key] == value)
        .unwrap_or_else(|| panic!("{key} = {value} in {list}"))
}

#[test]
fn every_door_shows_in_the_server_connections_topics_and_metrics() {
    let b = start_broker_with(Config {
        nats: Some("127.0.0.1:0".parse().unwrap()),
        redis: Some("127.0.0.1:0".parse().unwrap()),
        ws: Some("127.0.0.1:0".parse().unwrap()),
        http: Some("127.0.0.1:0".parse().unwrap()),
        ..Config::default()
    });
    let http = b.http.unwrap();
    // Subscribers to /a/b on the lab, NATS and Redis doors.
    let mut lab = subscriber(b.addr, Format::Json, "/a");
    let mut nats = Nats::connect(b.door(Door::Nats));
    nats.send(b"CONNECT {\"verbose\":false}\r\nSUB a.> 1\r\n");
    nats.sync();
    let redis_url = format!("redis://{}/", b.door(Door::Redis));
    let client = redis::Client::open(redis_url).unwrap();
    let mut redis_sub_con = client.get_connection().unwrap();
    let mut redis_sub = redis_sub_con.as_pubsub();
    redis_sub
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    redis_sub.subscribe("a/b").unwrap();
    // A chat client in a room.
    let mut chat = Chat::connect(b.door(Door::Ws));
    chat.subscribe("lobby", "ann");
    // Two lab publishes, one Redis publish, one chat post.
    let mut publisher = Raw::json(b.addr);
    publisher.publish("/a/b", "from lab 1");
    publisher.publish("/a/b", "from lab 2");
    barrier(&mut publisher);
    let mut redis_pub = client.get_connection().unwrap();
    let receivers: usize = redis_pub.publish("a/b", "from redis").unwrap();
    assert_eq!(receivers, 3);
    chat.publish("lobby", "ann", "hello");
    chat.recv_type("message");
    for _ in 0..3 {
        assert_eq!(lab.recv_skipping_lists().method, Method::Publish);
        assert!(nats.msg().0.starts_with("MSG a.b 1 "));
        assert_eq!(redis_sub.get_message().unwrap().get_channel_name(), "a/b");
    }

    let server = get_json(http, "/api/server");
    let doors = &server["doors"];
    for door in [Door::Lab, Door::Nats, Door::Redis, Door::Ws] {
        let entry = find(doors, "door", door.name());
        assert_eq!(entry["addr"], b.door(door).to_string());
    }
    let traffic = |door: Door, field: &str| {
        find(doors, "door", door.name())["traffic"][field]
            .as_u64()
            .unwrap()
    };
    let connections = |door: Door| {
        find(doors, "door", door.name())["connections"]
            .as_u64()
            .unwrap()
    };
    assert_eq!((connections(Door::Lab), connections(Door::Nats)), (2, 1));
    assert_eq!((connections(Door::Redis), connections(Door::Ws)), (2, 1));
    assert_eq!(traffic(Door::Lab, "msgs_in"), 2);
    assert_eq!(traffic(Door::Redis, "msgs_in"), 1);
    assert_eq!(traffic(Door::Ws, "msgs_in"), 1);
    assert_eq!(traffic(Door::Nats, "msgs_in"), 0);
    assert_eq!(traffic(Door::Lab, "msgs_out"), 3);
    assert_eq!(traffic(Door::Nats, "msgs_out"), 3);
    assert_eq!(traffic(Door::Redis, "msgs_out"), 3);
    assert!(traffic(Door::Ws, "msgs_out") >= 1);
    assert!(traffic(Door::Ws, "bytes_in") > 0 && traffic(Door::Redis, "bytes_out") > 0);

    let conns = &get_json(http, "/api/connections")["connections"];
    for format in ["JSONQueue", "NATS", "RESP2", "WebSocket chat"] {
        find(conns, "format", format);
    }
    assert_eq!(find(conns, "format", "WebSocket chat")["door"], "ws");
    assert_eq!(find(conns, "format", "WebSocket chat")["name"], "ann");
    let redis_conns: Vec<&Value> = conns
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["door"] == "redis")
        .collect();
    assert!(redis_conns
        .iter()
        .any(|c| c["subscriptions"] == 1 && c["msgs_out"] == 3));
    assert!(redis_conns.iter().any(|c| c["msgs_in"] == 1));

    let topics = &get_json(http, "/api/topics")["topics"];
    let ab = find(topics, "topic", "/a/b");
    assert_eq!(ab["seq"], 3);
    assert_eq!(ab["subscribers"], 3, "lab /a, NATS a.>, Redis a/b");
    assert_eq!(find(topics, "topic", "/chat/lobby")["seq"], 1);
    let last = get_json(http, "/api/topic?name=/a/b");
    assert_eq!(last["seq"], 3);

    let body = get(http, "/metrics").body;
    let scrape = Scrape::parse(body.lines().map(|l| Ok::<_, io::Error>(l.to_owned()))).unwrap();
    let sample = |name: &str, door: &str| {
        scrape
            .samples
            .iter()
            .find(|s| s.metric == name && s.labels.get("door") == Some(door))
            .map(|s| match s.value {
                prometheus_parse::Value::Counter(v)
                | prometheus_parse::Value::Gauge(v)
                | prometheus_parse::Value::Untyped(v) => v,
                _ => f64::NAN,
            })
            .unwrap_or_else(|| panic!("{name}{{door={door}}} in {body}"))
    };
    assert_eq!(sample("broker_messages_in_total", "redis"), 1.0);
    assert_eq!(sample("broker_messages_in_total", "ws"), 1.0);
    assert_eq!(sample("broker_connections", "ws"), 1.0);
    assert_eq!(sample("broker_connections", "redis"), 2.0);
    assert_eq!(sample("broker_messages_out_total", "nats"), 3.0);
}
