//! The Redis door with a real client, the `redis` crate (redis-rs): pub/sub
//! over RESP2 and RESP3, patterns, the counts `PUBLISH` returns, `PUBSUB`,
//! the key space, errors, and messages crossing to and from lab and NATS
//! clients on the same topic tree.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::mpsc;
use std::time::Duration;

use broker::doors::Door;
use common::v2::{get, obj, ping_non_lists, uint};
use common::wire::subscriber;
use common::{start_broker_with, Raw, TestBroker};
use protocol::{Format, Message, Method, Value};
use redis::{Commands, PushKind};

fn broker() -> TestBroker {
    start_broker_with(broker::Config {
        redis: Some("127.0.0.1:0".parse().unwrap()),
        nats: Some("127.0.0.1:0".parse().unwrap()),
        ..broker::Config::default()
    })
}

fn url(b: &TestBroker, resp3: bool) -> String {
    let addr = b.door(Door::Redis);
    let proto = if resp3 { "?protocol=resp3" } else { "" };
    format!("redis://{addr}/{proto}")
}

fn connect(b: &TestBroker) -> redis::Connection {
    let c = redis::Client::open(url(b, false)).unwrap();
    let con = c.get_connection().unwrap();
    con.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    con
}

fn connect3(b: &TestBroker) -> redis::Connection {
    let c = redis::Client::open(url(b, true)).unwrap();
    let con = c.get_connection().unwrap();
    con.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    con
}

#[test]
fn channel_and_pattern_messages_reach_resp2_subscribers() {
    let b = broker();
    let mut sub_con = connect(&b);
    let mut publisher = connect(&b);
    let mut sub = sub_con.as_pubsub();
    sub.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    sub.subscribe("notifications").unwrap();
    sub.psubscribe("logs:*").unwrap();
    let n: usize = publisher.publish("notifications", "Hello World").unwrap();
    assert_eq!(n, 1);
    let m = sub.get_message().unwrap();
    assert_eq!(m.get_channel_name(), "notifications");
    assert_eq!(m.get_payload::<String>().unwrap(), "Hello World");
    assert!(!m.from_pattern());
    let n: usize = publisher.publish("logs:app:error", "disk").unwrap();
    assert_eq!(n, 1);
    let m = sub.get_message().unwrap();
    assert_eq!(m.get_channel_name(), "logs:app:error");
    assert_eq!(m.get_pattern::<String>().unwrap(), "logs:*");
    assert_eq!(m.get_payload::<String>().unwrap(), "disk");
    let n: usize = publisher.publish("logs", "not under logs:").unwrap();
    assert_eq!(n, 0, "the exact channel only, no subtree rule");
    sub.unsubscribe("notifications").unwrap();
    let n: usize = publisher.publish("notifications", "gone").unwrap();
    assert_eq!(n, 0);
}

#[test]
fn a_channel_and_a_matching_pattern_count_and_receive_twice() {
    let b = broker();
    let mut sub_con = connect(&b);
    let mut publisher = connect(&b);
    let mut other = connect(&b);
    let mut sub = sub_con.as_pubsub();
    sub.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    sub.subscribe("chat:room:1").unwrap();
    sub.psubscribe("chat:*").unwrap();
    sub.psubscribe("chat:room:?").unwrap();
    let mut other_sub = other.as_pubsub();
    other_sub.subscribe("chat:room:1").unwrap();
    let n: usize = publisher.publish("chat:room:1", "hi").unwrap();
    assert_eq!(n, 4, "three subscriptions of one client, one of another");
    let first = sub.get_message().unwrap();
    assert!(!first.from_pattern(), "the channel's message comes first");
    let mut patterns: Vec<String> = (0..2)
        .map(|_| sub.get_message().unwrap().get_pattern::<String>().unwrap())
        .collect();
    patterns.sort();
    assert_eq!(patterns, ["chat:*", "chat:room:?"]);
    assert_eq!(
        other_sub
            .get_message()
            .unwrap()
            .get_payload::<String>()
            .unwrap(),
        "hi"
    );
}

#[test]
fn resp3_clients_get_push_messages() {
    let b = broker();
    let mut con = connect3(&b);
    let (tx, rx) = mpsc::channel();
    con.set_push_sender(tx);
    con.subscribe_resp3("events:auth").unwrap();
    con.psubscribe_resp3("events:*").unwrap();
    let mut publisher = connect3(&b);
    let n: usize = publisher
        .publish("events:auth", "{\"user_id\":123}")
        .unwrap();
    assert_eq!(n, 2);
    // A RESP3 client may run any command while subscribed.
    let pong: String = redis::cmd("PING").query(&mut con).unwrap();
    assert_eq!(pong, "PONG");
    let kinds: Vec<PushKind> = (0..4)
        .map(|_| rx.recv_timeout(Duration::from_secs(5)).unwrap().kind)
        .collect();
    assert_eq!(
        kinds,
        [
            PushKind::Subscribe,
            PushKind::PSubscribe,
            PushKind::Message,
            PushKind::PMessage
        ]
    );
}

#[test]
fn pubsub_introspection() {
    let b = broker();
    let mut a = connect(&b);
    let mut c = connect(&b);
    let mut q = connect(&b);
    let mut sa = a.as_pubsub();
    sa.subscribe(&["notifications", "orders"]).unwrap();
    sa.psubscribe("logs:*").unwrap();
    let mut sc = c.as_pubsub();
    sc.subscribe("notifications").unwrap();
    sc.psubscribe("logs:*").unwrap();
    sc.psubscribe("x?").unwrap();
    let mut channels: Vec<String> = redis::cmd("PUBSUB").arg("CHANNELS").query(&mut q).unwrap();
    channels.sort();
    assert_eq!(channels, ["notifications", "orders"]);
    let notif: Vec<String> = redis::cmd("PUBSUB")
        .arg("CHANNELS")
        .arg("notif*")
        .query(&mut q)
        .unwrap();
    assert_eq!(notif, ["notifications"]);
    let numsub: Vec<(String, u64)> = redis::cmd("PUBSUB")
        .arg("NUMSUB")
        .arg("notifications")
        .arg("orders")
        .arg("alerts")
        .arg("not a channel")
        .query(&mut q)
        .unwrap();
    assert_eq!(
        numsub,
        [
            ("notifications".to_owned(), 2),
            ("orders".to_owned(), 1),
            ("alerts".to_owned(), 0),
            ("not a channel".to_owned(), 0)
        ]
    );
    let numpat: u64 = redis::cmd("PUBSUB").arg("NUMPAT").query(&mut q).unwrap();
    assert_eq!(numpat, 2, "distinct patterns");
    drop(sc);
    drop(c);
    std::thread::sleep(Duration::from_millis(100));
    let numpat: u64 = redis::cmd("PUBSUB").arg("NUMPAT").query(&mut q).unwrap();
    assert_eq!(numpat, 1, "a disconnected client's patterns go");
}

#[test]
fn the_key_space_of_the_cache_pattern() {
    let b = broker();
    let mut r = connect3(&b);
    let () = r.set_ex("user:123", "{\"name\":\"John\"}", 300).unwrap();
    let v: Option<String> = r.get("user:123").unwrap();
    assert_eq!(v.as_deref(), Some("{\"name\":\"John\"}"));
    let ttl: i64 = r.ttl("user:123").unwrap();
    assert_eq!(ttl, 300);
    let missing: Option<String> = r.get("nope").unwrap();
    assert_eq!(missing, None);
    let n: i64 = r.exists(&["user:123", "nope", "user:123"]).unwrap();
    assert_eq!(n, 2);
    let set: bool = r.expire("user:123", 10).unwrap();
    assert!(set);
    assert_eq!(r.ttl::<_, i64>("user:123").unwrap(), 10);
    let nx: Option<String> = redis::cmd("SET")
        .arg("user:123")
        .arg("x")
        .arg("NX")
        .query(&mut r)
        .unwrap();
    assert_eq!(nx, None, "NX on an existing key");
    let () = redis::cmd("SET")
        .arg("short")
        .arg("lived")
        .arg("PX")
        .arg(50)
        .query(&mut r)
        .unwrap();
    std::thread::sleep(Duration::from_millis(120));
    let gone: Option<String> = r.get("short").unwrap();
    assert_eq!(gone, None, "expired");
    let n: i64 = r.del(&["user:123", "short"]).unwrap();
    assert_eq!(n, 1);
    assert_eq!(r.ttl::<_, i64>("user:123").unwrap(), -2);
    let bytes = vec![0u8, 255, 13, 10];
    let () = r.set("bin", bytes.as_slice()).unwrap();
    let back: Vec<u8> = r.get("bin").unwrap();
    assert_eq!(back, bytes);
}

#[test]
fn errors_as_redis_server_words_them() {
    let b = broker();
    let mut r = connect(&b);
    let err = redis::cmd("FOO")
        .arg("bar")
        .query::<()>(&mut r)
        .unwrap_err();
    assert_eq!(
        err.detail(),
        Some("unknown command 'FOO', with args beginning with: 'bar' ")
    );
    let err = redis::cmd("PUBLISH")
        .arg("a")
        .query::<()>(&mut r)
        .unwrap_err();
    assert_eq!(
        err.detail(),
        Some("wrong number of arguments for 'publish' command")
    );
    let err = redis::cmd("PUBLISH")
        .arg("a//b")
        .arg("x")
        .query::<()>(&mut r)
        .unwrap_err();
    assert!(
        err.detail().unwrap().starts_with("invalid channel 'a//b'"),
        "{err}"
    );
    let err = redis::cmd("SET")
        .arg("k")
        .arg("v")
        .arg("EX")
        .arg(0)
        .query::<()>(&mut r)
        .unwrap_err();
    assert_eq!(err.detail(), Some("invalid expire time in 'set' command"));
    let pong: String = redis::cmd("PING").query(&mut r).unwrap();
    assert_eq!(pong, "PONG", "errors leave the connection open");
}

#[test]
fn bytes_stay_bytes_within_the_door() {
    let b = broker();
    let mut sub_con = connect(&b);
    let mut publisher = connect(&b);
    let mut sub = sub_con.as_pubsub();
    sub.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    sub.subscribe("bin").unwrap();
    let big = vec![b'x'; 1024 * 1024];
    let cases: [&[u8]; 5] = [
        b"",
        b"\x00\xff\r\n",
        "caf\u{e9}".as_bytes(),
        b"{\"a\": 1}",
        &big,
    ];
    for bytes in cases {
        let _: usize = publisher.publish("bin", bytes).unwrap();
        let m = sub.get_message().unwrap();
        assert_eq!(m.get_payload_bytes(), bytes);
    }
}

/// A NATS client reduced to what this test needs.
fn nats_subscriber(addr: SocketAddr, subject: &str) -> (BufReader<TcpStream>, TcpStream) {
    let stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut writer = stream;
    let mut line = String::new();
    reader.read_line(&mut line).unwrap();
    write!(writer, "SUB {subject} 1\r\nPING\r\n").unwrap();
    line.clear();
    reader.read_line(&mut line).unwrap();
    assert_eq!(line, "PONG\r\n");
    (reader, writer)
}

#[test]
fn a_redis_publish_reaches_lab_and_nats_subscribers_and_counts_them_once() {
    let b = broker();
    let mut lab = subscriber(b.addr, Format::Json, "/chat");
    lab.subscribe("/chat/general");
    ping_non_lists(&mut lab);
    let (mut nats, _w) = nats_subscriber(b.door(Door::Nats), "chat.general");
    let mut publisher = connect(&b);
    let n: usize = publisher.publish("chat/general", "bonjour").unwrap();
    assert_eq!(
        n, 2,
        "the lab client once for its two subscriptions, NATS once"
    );
    let m = ping_non_lists(&mut lab)
        .into_iter()
        .find(|m| m.method == Method::Publish)
        .expect("a delivery");
    assert_eq!(
        (m.topic.as_str(), &m.msg),
        ("/chat/general", &Value::from("bonjour"))
    );
    let mut line = String::new();
    nats.read_line(&mut line).unwrap();
    assert_eq!(line, "MSG chat.general 1 7\r\n");
    line.clear();
    nats.read_line(&mut line).unwrap();
    assert_eq!(line, "bonjour\r\n");
    let n: usize = publisher
        .publish("chat/general", b"\xff\xfe".as_slice())
        .unwrap();
    assert_eq!(n, 2);
    let m = ping_non_lists(&mut lab)
        .into_iter()
        .find(|m| m.method == Method::Publish)
        .expect("a delivery");
    assert_eq!(
        m.msg,
        obj(&[("$bytes", Value::from("//4="))]),
        "bytes that are not text"
    );
}

#[test]
fn a_lab_publish_reaches_redis_subscribers_with_the_redis_count() {
    let b = broker();
    let mut sub_con = connect(&b);
    let mut sub = sub_con.as_pubsub();
    sub.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    sub.subscribe("telephony/orange").unwrap();
    sub.psubscribe("telephony/*").unwrap();
    let mut p = Raw::json(b.addr);
    let mut m = Message::publish("/telephony/orange", 42);
    m.attrs.ack = true;
    p.send(&m);
    let ack = ping_non_lists(&mut p)
        .into_iter()
        .find(|m| m.method == Method::PubAck)
        .expect("a PUBACK");
    assert_eq!(
        uint(get(&ack.msg, "receivers")),
        2,
        "a channel and a pattern: twice"
    );
    let first = sub.get_message().unwrap();
    assert_eq!(first.get_channel_name(), "telephony/orange");
    assert_eq!(
        first.get_payload::<String>().unwrap(),
        "42",
        "a value's JSON text"
    );
    let second = sub.get_message().unwrap();
    assert_eq!(second.get_pattern::<String>().unwrap(), "telephony/*");
    p.publish("/telephony/orange", "text");
    assert_eq!(
        sub.get_message().unwrap().get_payload::<String>().unwrap(),
        "text"
    );
}

#[test]
fn a_subscriber_over_the_soft_output_limit_for_too_long_is_closed() {
    let b = start_broker_with(broker::Config {
        redis: Some("127.0.0.1:0".parse().unwrap()),
        redis_output_soft: 64 * 1024,
        redis_output_soft_for: Duration::from_secs(1),
        ..broker::Config::default()
    });
    let mut stuck = TcpStream::connect(b.door(Door::Redis)).unwrap();
    stuck.write_all(b"SUBSCRIBE slow\r\n").unwrap();
    let mut publisher = connect(&b);
    let payload = vec![b'x'; 64 * 1024];
    // Past what the sockets' buffers take, and past the soft limit, well
    // below the hard one (32 MiB).
    for _ in 0..160 {
        let n: usize = publisher.publish("slow", payload.as_slice()).unwrap();
        assert_eq!(n, 1, "still there");
    }
    let closed = (0..40).any(|_| {
        std::thread::sleep(Duration::from_millis(100));
        publisher.publish::<_, _, usize>("slow", "x").unwrap() == 0
    });
    assert!(closed, "closed once over the soft limit for a second");
}

#[test]
fn a_subscriber_that_does_not_read_is_closed_at_its_output_limit() {
    let b = start_broker_with(broker::Config {
        redis: Some("127.0.0.1:0".parse().unwrap()),
        redis_output_hard: 256 * 1024,
        ..broker::Config::default()
    });
    let mut stuck = TcpStream::connect(b.door(Door::Redis)).unwrap();
    stuck.write_all(b"SUBSCRIBE flood\r\n").unwrap();
    let mut publisher = connect(&b);
    let payload = vec![b'x'; 64 * 1024];
    let mut counts = Vec::new();
    for _ in 0..200 {
        let n: usize = publisher.publish("flood", payload.as_slice()).unwrap();
        counts.push(n);
        if n == 0 {
            break;
        }
    }
    assert_eq!(
        counts.last(),
        Some(&0),
        "dropped before 200 messages: {counts:?}"
    );
    assert!(counts.len() < 200);
    let pong: String = redis::cmd("PING").query(&mut publisher).unwrap();
    assert_eq!(pong, "PONG", "the publisher is unharmed");
}
