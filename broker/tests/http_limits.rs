//! The monitoring side under pressure: its own bound (at most 256 HTTP
//! connections at once, so HTTP clients cannot use up the file descriptors
//! the doors need; past it a new connection waits until one closes, and the
//! doors keep working), and what it reports of a subscriber that loses
//! deliveries under slow policy "drop".

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use broker::http::MAX_HTTP_CONNECTIONS;
use broker::Config;
use common::http::{get, get_json};
use common::v2::{drop_subscriber, flood};
use common::wire::barrier;
use common::{start_broker_with, Raw};
use protocol::{Format, Method};

#[test]
fn http_connections_past_the_bound_wait_and_the_doors_keep_working() {
    let b = start_broker_with(Config {
        http: Some("127.0.0.1:0".parse().unwrap()),
        ..Config::default()
    });
    let http = b.http.unwrap();
    // Idle connections up to the bound, each proven accepted by an answer
    // on it (kept alive).
    let mut idle: Vec<TcpStream> = (0..MAX_HTTP_CONNECTIONS)
        .map(|_| {
            let mut s = TcpStream::connect(http).unwrap();
            s.set_read_timeout(Some(common::WAIT)).unwrap();
            s.write_all(b"GET /api/events?limit=1 HTTP/1.1\r\nHost: x\r\n\r\n")
                .unwrap();
            let mut buf = [0u8; 512];
            let n = s.read(&mut buf).unwrap();
            assert!(
                buf[..n].starts_with(b"HTTP/1.1 200"),
                "{}",
                String::from_utf8_lossy(&buf[..n])
            );
            s
        })
        .collect();
    // One more waits...
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let server = get_json(http, "/api/server");
        let _ = tx.send(server);
    });
    assert!(
        rx.recv_timeout(Duration::from_millis(300)).is_err(),
        "answered past the bound"
    );
    // ...while the lab door works as ever...
    let mut sub = Raw::json(b.addr);
    sub.subscribe("/t");
    barrier(&mut sub);
    let mut publisher = Raw::json(b.addr);
    publisher.publish("/t", "still flowing");
    assert_eq!(sub.recv_skipping_lists().method, Method::Publish);
    // ...and is answered as soon as one closes.
    drop(idle.pop());
    let server = rx
        .recv_timeout(common::WAIT)
        .expect("answered once a slot is free");
    assert_eq!(server["connections"], 2);
}

#[test]
fn a_drop_policy_subscriber_falling_behind_is_an_event_and_its_drops_are_counted() {
    let b = start_broker_with(Config {
        http: Some("127.0.0.1:0".parse().unwrap()),
        max_pending_output: 256 * 1024,
        ..Config::default()
    });
    let http = b.http.unwrap();
    // It stops reading; the publisher is never held back by it.
    let sub = drop_subscriber(b.addr, Format::Json, "/d");
    let peer = sub.stream.local_addr().unwrap();
    let _publisher = flood(b.addr, "/d/x", 8000, 1000);
    // One event each time it starts dropping (each time its gaps are sent
    // as the kernel takes some output, it delivers again, then drops again).
    let events = get_json(http, "/api/events");
    let list = events["events"].as_array().unwrap();
    assert!(!list.is_empty(), "{events}");
    assert_eq!(events["total"].as_u64().unwrap(), list.len() as u64);
    for event in list {
        assert_eq!(event["reason"], "dropping_deliveries", "{event}");
        assert_eq!(event["topic"], "/d/x");
        assert_eq!(event["peer"], peer.to_string());
        assert_eq!(event["door"], "lab");
    }
    let conns = get_json(http, "/api/connections");
    let dropped = conns["connections"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["peer"] == peer.to_string())
        .map(|c| c["dropped"].as_u64().unwrap())
        .expect("the subscriber");
    assert!(dropped > 0 && dropped < 8000, "{dropped}");
    assert!((list.len() as u64) < dropped, "not one event per drop");
    let metrics = get(http, "/metrics").body;
    let line = format!("broker_deliveries_dropped_total{{door=\"lab\"}} {dropped}");
    assert!(metrics.lines().any(|l| l == line), "{line} in {metrics}");
}
