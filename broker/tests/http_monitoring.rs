//! The monitoring side (`--http`) through real sockets: every JSON endpoint
//! against a broker with lab (JSON and XML) and NATS clients connected, the
//! slow-consumer events, bad parameters and unknown paths, and message
//! traffic that keeps flowing while many HTTP clients and slow readers are
//! at it.

mod common;

use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

use broker::doors::Door;
use broker::Config;
use common::http::{get, get_json};
use common::nats::Nats;
use common::wire::{barrier, subscriber};
use common::{start_broker_with, Raw, TestBroker, WAIT};
use protocol::{Format, Method};
use serde_json::Value;

/// A broker with its NATS door and monitoring open.
fn broker() -> (TestBroker, SocketAddr) {
    let b = start_broker_with(Config {
        nats: Some("127.0.0.1:0".parse().unwrap()),
        http: Some("127.0.0.1:0".parse().unwrap()),
        metrics_prefixes: vec!["/a".into(), "/z".into()],
        ..Config::default()
    });
    let http = b.http.expect("monitoring is on");
    (b, http)
}

/// A NATS client subscribed to `subject` (sid 1), once the broker has it.
fn nats_subscriber(b: &TestBroker, subject: &str) -> Nats {
    let mut n = Nats::connect(b.door(Door::Nats));
    n.send(format!("CONNECT {{\"verbose\":false}}\r\nSUB {subject} 1\r\n").as_bytes());
    n.sync();
    n
}

/// The door entry named `door` of a server snapshot.
fn door<'a>(server: &'a Value, door: &str) -> &'a Value {
    server["doors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["door"] == door)
        .unwrap_or_else(|| panic!("door {door} in {server}"))
}

/// Sends three messages from a lab publisher to `/a/b`, received by a lab
/// JSON subscriber on `/a`, a lab XML subscriber on `/a/b` and a NATS one
/// on `a.>`; returns the clients, still connected.
fn three_messages(b: &TestBroker) -> (Raw, Raw, Raw, Nats) {
    let mut json = subscriber(b.addr, Format::Json, "/a");
    let mut xml = subscriber(b.addr, Format::Xml, "/a/b");
    let mut nats = nats_subscriber(b, "a.>");
    let mut publisher = Raw::json(b.addr);
    for i in 0..3 {
        publisher.publish("/a/b", format!("hello {i}"));
    }
    barrier(&mut publisher);
    for _ in 0..3 {
        assert_eq!(json.recv_skipping_lists().method, Method::Publish);
        assert_eq!(xml.recv_skipping_lists().method, Method::Publish);
        assert!(nats.msg().0.starts_with("MSG a.b 1 "));
    }
    (publisher, json, xml, nats)
}

#[test]
fn server_reports_doors_connections_traffic_and_memory() {
    let (b, http) = broker();
    let _clients = three_messages(&b);
    let server = get_json(http, "/api/server");
    assert_eq!(server["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(server["http"], http.to_string());
    assert_eq!(door(&server, "lab")["addr"], b.addr.to_string());
    assert_eq!(
        door(&server, "nats")["addr"],
        b.door(Door::Nats).to_string()
    );
    assert_eq!(server["connections"], 4);
    assert_eq!(door(&server, "lab")["connections"], 3);
    assert_eq!(door(&server, "nats")["connections"], 1);
    assert_eq!(server["topics"], 2, "/a and /a/b");
    assert_eq!(server["subscriptions"], 3);
    let lab = &door(&server, "lab")["traffic"];
    assert_eq!(lab["msgs_in"], 3);
    assert_eq!(lab["msgs_out"], 6, "3 messages to 2 lab subscribers");
    assert_eq!(door(&server, "nats")["traffic"]["msgs_out"], 3);
    assert_eq!(server["traffic"]["msgs_out"], 9);
    assert!(lab["bytes_in"].as_u64().unwrap() > 3 * 20, "{lab}");
    assert!(lab["bytes_out"].as_u64().unwrap() > 6 * 20, "{lab}");
    assert!(server["memory"]["rss_bytes"].as_u64().unwrap() > 1_000_000);
    assert!(server["uptime_s"].as_f64().unwrap() >= 0.0);
}

#[test]
fn closed_connections_stay_in_their_door_totals() {
    let (b, http) = broker();
    let (publisher, json, xml, nats) = three_messages(&b);
    drop((publisher, json, xml, nats));
    let deadline = Instant::now() + WAIT;
    let server = loop {
        let server = get_json(http, "/api/server");
        if server["connections"] == 0 {
            break server;
        }
        assert!(
            Instant::now() < deadline,
            "connections never closed: {server}"
        );
        thread::sleep(Duration::from_millis(10));
    };
    assert_eq!(door(&server, "lab")["traffic"]["msgs_in"], 3);
    assert_eq!(door(&server, "lab")["traffic"]["msgs_out"], 6);
    assert_eq!(door(&server, "nats")["traffic"]["msgs_out"], 3);
}

#[test]
fn connections_are_listed_by_page_with_their_counts() {
    let (b, http) = broker();
    let (_publisher, _json, _xml, _nats) = three_messages(&b);
    let all = get_json(http, "/api/connections");
    assert_eq!(all["total"], 4);
    let conns = all["connections"].as_array().unwrap();
    assert_eq!(conns.len(), 4);
    assert_eq!(all["next"], Value::Null);
    let by_format =
        |f: &str| -> Vec<&Value> { conns.iter().filter(|c| c["format"] == f).collect() };
    assert_eq!(by_format("XMLQueue").len(), 1);
    assert_eq!(by_format("JSONQueue").len(), 2);
    let nats = by_format("NATS");
    assert_eq!(nats.len(), 1);
    assert_eq!(nats[0]["door"], "nats");
    assert_eq!(nats[0]["subscriptions"], 1);
    assert_eq!(nats[0]["msgs_out"], 3);
    assert_eq!(nats[0]["state"], "open");
    let xml = by_format("XMLQueue")[0];
    assert_eq!(xml["msgs_out"], 3);
    assert_eq!(xml["subscriptions"], 1);
    let publisher = by_format("JSONQueue")
        .into_iter()
        .find(|c| c["msgs_in"] == 3)
        .expect("the publisher");
    assert_eq!(publisher["subscriptions"], 0);
    assert_eq!(publisher["pending_output"], 0);
    // Pages of one, each after the last.
    let mut seen = Vec::new();
    let mut after = String::new();
    loop {
        let page = get_json(http, &format!("/api/connections?limit=1{after}"));
        let items = page["connections"].as_array().unwrap();
        assert!(items.len() <= 1);
        seen.extend(items.iter().map(|c| c["id"].as_u64().unwrap()));
        match page["next"].as_u64() {
            Some(next) => after = format!("&after={next}"),
            None => break,
        }
    }
    let mut ids: Vec<u64> = conns.iter().map(|c| c["id"].as_u64().unwrap()).collect();
    ids.sort_unstable();
    assert_eq!(seen, ids);
}

#[test]
fn topics_from_a_prefix_are_paged_with_seq_subscribers_and_history() {
    let (b, http) = broker();
    let (mut publisher, _json, _xml, _nats) = three_messages(&b);
    for t in ["/a/c", "/a/d", "/ab", "/z"] {
        publisher.publish(t, "x");
    }
    barrier(&mut publisher);
    let page = get_json(http, "/api/topics?prefix=/a");
    let names: Vec<&str> = page["topics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["topic"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["/a", "/a/b", "/a/c", "/a/d"], "/ab is not under /a");
    let ab = &page["topics"][1];
    assert_eq!(ab["seq"], 3);
    assert_eq!(ab["history"], 3);
    assert_eq!(ab["subscribers"], 3, "lab /a, lab /a/b, NATS a.>");
    assert_eq!(ab["retained_bytes"], "\"hello 2\"".len());
    assert_eq!(page["topics"][2]["subscribers"], 2, "lab /a, NATS a.>");
    // Pages of two, from a prefix given in another form.
    let first = get_json(http, "/api/topics?prefix=//a/&limit=2");
    assert_eq!(first["prefix"], "/a");
    assert_eq!(first["topics"].as_array().unwrap().len(), 2);
    assert_eq!(first["next"], "/a/b");
    let second = get_json(http, "/api/topics?prefix=/a&limit=2&after=/a/b");
    let rest: Vec<&str> = second["topics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["topic"].as_str().unwrap())
        .collect();
    assert_eq!(rest, ["/a/c", "/a/d"]);
    assert_eq!(second["next"], Value::Null);
    let all = get_json(http, "/api/topics");
    assert_eq!(all["topics"].as_array().unwrap().len(), 6);
}

#[test]
fn topic_rates_come_from_sequence_numbers_between_looks() {
    let (b, http) = broker();
    let mut publisher = Raw::json(b.addr);
    publisher.publish("/r", 0);
    barrier(&mut publisher);
    let first = get_json(http, "/api/topics?prefix=/r");
    assert_eq!(
        first["topics"][0]["rate"],
        Value::Null,
        "a first look has no rate"
    );
    let start = Instant::now();
    for i in 0..20 {
        publisher.publish("/r", i);
    }
    barrier(&mut publisher);
    thread::sleep(Duration::from_millis(1050).saturating_sub(start.elapsed()));
    let second = get_json(http, "/api/topics?prefix=/r");
    let rate = second["topics"][0]["rate"].as_f64().expect("a rate");
    let elapsed = start.elapsed().as_secs_f64();
    assert!(
        rate > 20.0 / (elapsed + 1.0) && rate <= 20.0 / 1.0,
        "20 messages in {elapsed:.2} s: {rate}"
    );
}

#[test]
fn a_topic_shows_its_last_kept_message() {
    let (b, http) = broker();
    let (_publisher, _json, _xml, _nats) = three_messages(&b);
    let last = get_json(http, "/api/topic?name=/a/b");
    assert_eq!(last["topic"], "/a/b");
    assert_eq!(last["seq"], 3);
    assert_eq!(last["value"], "hello 2");
    assert!(last["ts"].as_u64().unwrap() > 1_600_000_000_000);
    let none = get_json(http, "/api/topic?name=/a");
    assert_eq!(none["seq"], 0, "/a exists but has no message");
    assert_eq!(none["value"], Value::Null);
    let missing = get(http, "/api/topic?name=/nope");
    assert_eq!(missing.status, 404);
    assert_eq!(missing.json()["error"], "no topic /nope");
}

#[test]
fn bad_parameters_get_400_with_a_reason_and_unknown_paths_404() {
    let (_b, http) = broker();
    let cases = [
        ("/api/topics?limit=abc", "limit must be a whole number"),
        ("/api/topics?limit=0", "limit must be at least 1"),
        ("/api/topics?limit=-5", "limit must be a whole number"),
        ("/api/topics?prefix=a//b", "prefix 'a//b' is not a topic"),
        ("/api/topics?prefix=/a/%00", "is not a topic"),
        ("/api/topics?colour=red", "unknown parameter 'colour'"),
        ("/api/connections?after=x", "after must be a connection id"),
        ("/api/topic", "name is required"),
        ("/api/topic?name=", "is not a topic"),
        ("/api/events?limit=1e3", "limit must be a whole number"),
        ("/api/server?verbose=1", "unknown parameter 'verbose'"),
    ];
    for (path, reason) in cases {
        let r = get(http, path);
        assert_eq!(r.status, 400, "GET {path}: {}", r.body);
        assert_eq!(r.header("content-type"), Some("application/json"));
        let error = r.json()["error"].as_str().unwrap().to_owned();
        assert!(error.contains(reason), "GET {path}: {error}");
    }
    for path in ["/nope", "/api", "/api/topics/a", "/metrics/x"] {
        let r = get(http, path);
        assert_eq!(r.status, 404, "GET {path}: {}", r.body);
        assert_eq!(r.json()["error"], format!("no such path: {path}"));
    }
}

#[test]
fn huge_limits_are_capped() {
    let (b, http) = broker();
    let mut publisher = Raw::json(b.addr);
    for i in 0..1005 {
        publisher.publish(&format!("/many/{i:04}"), i);
    }
    barrier(&mut publisher);
    let page = get_json(
        http,
        "/api/topics?prefix=/many&limit=99999999999999999999999999",
    );
    assert_eq!(page["topics"].as_array().unwrap().len(), 1000);
    assert_eq!(page["next"], "/many/0998", "the prefix itself came first");
    let rest = get_json(http, "/api/topics?prefix=/many&limit=5000&after=/many/0998");
    assert_eq!(rest["topics"].as_array().unwrap().len(), 6);
    assert_eq!(rest["next"], Value::Null);
}

#[test]
fn a_slow_consumer_dropped_is_an_event_with_client_topic_and_bytes() {
    let b = start_broker_with(Config {
        http: Some("127.0.0.1:0".parse().unwrap()),
        max_pending_output: 256 * 1024,
        ..Config::default()
    });
    let http = b.http.unwrap();
    let slow = subscriber(b.addr, Format::Json, "/slow");
    let slow_peer = slow.stream.local_addr().unwrap();
    let mut publisher = Raw::json(b.addr);
    let filler = "x".repeat(1000);
    let deadline = Instant::now() + WAIT;
    let event = loop {
        for _ in 0..500 {
            publisher.publish("/slow/t", filler.as_str());
        }
        let events = get_json(http, "/api/events");
        if let Some(e) = events["events"].as_array().unwrap().first() {
            assert_eq!(events["total"], 1);
            break e.clone();
        }
        assert!(Instant::now() < deadline, "never dropped");
    };
    assert_eq!(event["reason"], "slow_consumer_closed");
    assert_eq!(event["door"], "lab");
    assert_eq!(event["peer"], slow_peer.to_string());
    assert_eq!(event["topic"], "/slow/t");
    assert!(event["pending_bytes"].as_u64().unwrap() > 256 * 1024);
    let server = get_json(http, "/api/server");
    assert_eq!(door(&server, "lab")["traffic"]["slow_closed"], 1);
    assert_eq!(
        get_json(http, "/api/events?limit=99999")["events"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    drop(slow);
}

/// Round trips of one message from a publisher to a subscriber; returns
/// the slowest.
fn slowest_round_trip(publisher: &mut Raw, subscriber: &mut Raw, n: usize) -> Duration {
    let mut slowest = Duration::ZERO;
    for i in 0..n {
        let start = Instant::now();
        publisher.publish("/flow", i64::try_from(i).unwrap());
        let m = subscriber.recv_skipping_lists();
        assert_eq!(m.method, Method::Publish);
        slowest = slowest.max(start.elapsed());
    }
    slowest
}

#[test]
fn many_http_clients_and_slow_readers_never_stall_message_traffic() {
    let (b, http) = broker();
    let mut publisher = Raw::json(b.addr);
    let mut sub = subscriber(b.addr, Format::Json, "/flow");
    for i in 0..200 {
        publisher.publish(&format!("/flow/t{i}"), i);
    }
    barrier(&mut publisher);
    // Slow readers: an event stream and /metrics requests never read, and a
    // request that never ends its header block.
    let mut stalled: Vec<TcpStream> = Vec::new();
    for path in ["/api/stream", "/metrics", "/api/topics?limit=1000"] {
        for _ in 0..5 {
            let mut s = TcpStream::connect(http).unwrap();
            write!(s, "GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
            stalled.push(s);
        }
    }
    let mut half = TcpStream::connect(http).unwrap();
    half.write_all(b"GET /api/server HTTP/1.1\r\nHo").unwrap();
    // Many clients polling at once while messages flow.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let pollers: Vec<_> = (0..16)
        .map(|i| {
            let stop = stop.clone();
            thread::spawn(move || {
                let paths = [
                    "/metrics",
                    "/api/topics?limit=1000",
                    "/api/server",
                    "/api/connections",
                ];
                let mut answered = 0;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let r = get(http, paths[i % paths.len()]);
                    assert_eq!(r.status, 200, "{}", r.body);
                    answered += 1;
                }
                answered
            })
        })
        .collect();
    let slowest = slowest_round_trip(&mut publisher, &mut sub, 500);
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let answered: usize = pollers.into_iter().map(|p| p.join().unwrap()).sum();
    assert!(answered >= 16, "every poller was answered: {answered}");
    assert!(
        slowest < Duration::from_millis(500),
        "a message waited {slowest:?} behind monitoring"
    );
    // The HTTP side still answers after it all.
    assert_eq!(get_json(http, "/api/server")["connections"], 2);
    drop(stalled);
}

#[test]
fn the_binary_logs_json_lines_and_says_where_monitoring_listens() {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};
    let mut child = Command::new(env!("CARGO_BIN_EXE_broker"))
        .args([
            "--addr",
            "127.0.0.1",
            "--port",
            "0",
            "--http",
            "127.0.0.1:0",
        ])
        .args(["--log-format", "json", "--metrics-prefixes", "/a,//b/"])
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn broker");
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let mut http = None;
    for line in lines.by_ref().take(5) {
        let line = line.expect("a log line");
        let entry: Value = serde_json::from_str(&line)
            .unwrap_or_else(|e| panic!("not one JSON object ({e}): {line}"));
        assert_eq!(entry["level"], "INFO", "{line}");
        assert!(
            entry["ts_ms"].as_u64().unwrap() > 1_600_000_000_000,
            "{line}"
        );
        assert!(
            entry["target"].as_str().unwrap().starts_with("broker"),
            "{line}"
        );
        let msg = entry["msg"].as_str().unwrap();
        if let Some(addr) = msg.strip_prefix("http monitoring listening on ") {
            http = Some(addr.parse::<SocketAddr>().expect("an address"));
            break;
        }
    }
    let http = http.expect("the start-up log names the HTTP address");
    let server = get_json(http, "/api/server");
    assert_eq!(server["http"], http.to_string());
    let metrics = get(http, "/metrics").body;
    assert!(
        metrics.contains("broker_prefix_topics{prefix=\"/b\"} 0"),
        "{metrics}"
    );
    let _ = child.kill();
    let _ = child.wait();
}
