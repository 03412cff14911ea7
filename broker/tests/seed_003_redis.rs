//! Seed 003's chapter on Redis Pub/Sub run against the Redis door with the
//! clients it uses: its redis-py listings, unchanged, in
//! `seeds/chapter_003.py` (RESP3, redis-py 8's default, and RESP2), and its
//! redis-cli sessions. The Python that has redis-py comes from
//! `scripts/test.sh` (BROKER_TEST_PYTHON), which also installs redis-cli
//! (Debian's redis-tools) when it is missing.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use broker::doors::Door;
use common::{start_broker_with, TestBroker};

fn broker() -> TestBroker {
    start_broker_with(broker::Config {
        redis: Some("127.0.0.1:0".parse().unwrap()),
        ..broker::Config::default()
    })
}

fn run_listings(protocol: Option<&str>) {
    let b = broker();
    let mut args = vec![b.door(Door::Redis).port().to_string()];
    args.extend(protocol.map(str::to_owned));
    common::seeds::run("chapter_003.py", &args, 9);
}

#[test]
fn the_chapters_redis_py_listings_pass_in_resp3() {
    run_listings(None);
}

#[test]
fn the_chapters_redis_py_listings_pass_in_resp2() {
    run_listings(Some("2"));
}

/// `redis-cli -p PORT args...`, its output.
fn cli(port: &str, args: &[&str]) -> String {
    let out = Command::new("redis-cli")
        .args(["-p", port])
        .args(args)
        .output()
        .expect("redis-cli (Debian's redis-tools) is installed: scripts/test.sh installs it");
    assert!(out.status.success(), "{out:?}");
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn the_chapters_redis_cli_sessions() {
    let b = broker();
    let port = b.door(Door::Redis).port().to_string();
    assert_eq!(cli(&port, &["PING"]), "PONG\n");
    // Nobody listens yet: the message is lost, and PUBLISH says 0.
    assert_eq!(
        cli(
            &port,
            &[
                "PUBLISH",
                "alerts:critical",
                r#"{"severity":"high","service":"payment"}"#
            ]
        ),
        "0\n"
    );
    // `redis-cli --csv PSUBSCRIBE '*'`: every message, as the chapter's monitor.
    let mut monitor = Command::new("redis-cli")
        .args(["-p", &port, "--csv", "PSUBSCRIBE", "*"])
        .stdout(Stdio::piped())
        .spawn()
        .expect("redis-cli runs");
    let mut lines = BufReader::new(monitor.stdout.take().unwrap()).lines();
    assert_eq!(
        lines.next().unwrap().unwrap(),
        "Reading messages... (press Ctrl-C to quit)"
    );
    assert_eq!(lines.next().unwrap().unwrap(), r#""psubscribe","*",1"#);
    // `SUBSCRIBE notifications:users` in another redis-cli.
    let mut subscriber = Command::new("redis-cli")
        .args(["-p", &port, "SUBSCRIBE", "notifications:users"])
        .stdout(Stdio::piped())
        .spawn()
        .expect("redis-cli runs");
    let mut sub_lines = BufReader::new(subscriber.stdout.take().unwrap()).lines();
    let confirm: Vec<String> = (0..3).map(|_| sub_lines.next().unwrap().unwrap()).collect();
    assert_eq!(confirm, ["subscribe", "notifications:users", "1"]);
    assert_eq!(cli(&port, &["PUBSUB", "CHANNELS"]), "notifications:users\n");
    assert_eq!(
        cli(&port, &["PUBSUB", "CHANNELS", "notif*"]),
        "notifications:users\n"
    );
    assert_eq!(
        cli(
            &port,
            &[
                "PUBSUB",
                "NUMSUB",
                "notifications:users",
                "orders",
                "alerts"
            ]
        ),
        "notifications:users\n1\norders\n0\nalerts\n0\n"
    );
    assert_eq!(cli(&port, &["PUBSUB", "NUMPAT"]), "1\n");
    assert_eq!(
        cli(
            &port,
            &["PUBLISH", "notifications:users", "New user registered"]
        ),
        "2\n",
        "the subscriber and the monitor"
    );
    let message: Vec<String> = (0..3).map(|_| sub_lines.next().unwrap().unwrap()).collect();
    assert_eq!(
        message,
        ["message", "notifications:users", "New user registered"]
    );
    assert_eq!(
        lines.next().unwrap().unwrap(),
        r#""pmessage","*","notifications:users","New user registered""#
    );
    assert_eq!(
        cli(&port, &["PUBLISH", "chat:room:123", "Hello everyone!"]),
        "1\n"
    );
    assert_eq!(
        lines.next().unwrap().unwrap(),
        r#""pmessage","*","chat:room:123","Hello everyone!""#
    );
    assert_eq!(cli(&port, &["SETEX", "user:123", "300", "John"]), "OK\n");
    assert_eq!(cli(&port, &["GET", "user:123"]), "John\n");
    assert_eq!(cli(&port, &["TTL", "user:123"]), "300\n");
    for child in [&mut monitor, &mut subscriber] {
        let _ = child.kill();
        let _ = child.wait();
    }
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(cli(&port, &["PUBSUB", "NUMPAT"]), "0\n");
}
