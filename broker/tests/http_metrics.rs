//! `/metrics` through a real socket, read by a Prometheus text parser:
//! counters and gauges per door that match the traffic sent, and series
//! for the configured prefixes only.

mod common;

use std::io;
use std::net::SocketAddr;

use broker::doors::Door;
use broker::Config;
use common::http::get;
use common::nats::Nats;
use common::wire::{barrier, subscriber};
use common::{start_broker_with, Raw};
use prometheus_parse::{Sample, Scrape, Value};
use protocol::{Format, Method};

/// `/metrics`, parsed; asserts the content type.
#[track_caller]
fn scrape(http: SocketAddr) -> Scrape {
    let r = get(http, "/metrics");
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(
        r.header("content-type")
            .is_some_and(|t| t.starts_with("application/openmetrics-text")),
        "{:?}",
        r.headers
    );
    Scrape::parse(r.body.lines().map(|l| Ok::<_, io::Error>(l.to_owned())))
        .expect("Prometheus text")
}

/// The value of the one sample named `name` with label `key` = `value`.
#[track_caller]
fn value(scrape: &Scrape, name: &str, labels: &[(&str, &str)]) -> f64 {
    let found: Vec<&Sample> = scrape
        .samples
        .iter()
        .filter(|s| s.metric == name)
        .filter(|s| labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
        .collect();
    assert_eq!(
        found.len(),
        1,
        "one {name}{labels:?} in {:?}",
        scrape.samples
    );
    match &found[0].value {
        Value::Counter(v) | Value::Gauge(v) | Value::Untyped(v) => *v,
        other => panic!("{name}: {other:?}"),
    }
}

#[test]
fn metrics_are_counters_and_gauges_per_door_and_per_configured_prefix() {
    let b = start_broker_with(Config {
        nats: Some("127.0.0.1:0".parse().unwrap()),
        http: Some("127.0.0.1:0".parse().unwrap()),
        metrics_prefixes: vec!["/a".into(), "/quiet".into()],
        ..Config::default()
    });
    let http = b.http.unwrap();
    let mut lab_sub = subscriber(b.addr, Format::Json, "/a");
    let mut nats = Nats::connect(b.door(Door::Nats));
    nats.send(b"CONNECT {\"verbose\":false}\r\nSUB a.> 1\r\nPUB b.x 2\r\nhi\r\n");
    nats.sync();
    let mut publisher = Raw::json(b.addr);
    for t in ["/a/x", "/a/y", "/a/x", "/b/z"] {
        publisher.publish(t, "payload");
    }
    barrier(&mut publisher);
    for _ in 0..3 {
        assert_eq!(lab_sub.recv_skipping_lists().method, Method::Publish);
        assert!(nats.msg().0.starts_with("MSG a."));
    }
    let s = scrape(http);
    let lab = [("door", "lab")];
    let nats_door = [("door", "nats")];
    assert_eq!(value(&s, "broker_messages_in_total", &lab), 4.0);
    assert_eq!(value(&s, "broker_messages_in_total", &nats_door), 1.0);
    assert_eq!(value(&s, "broker_messages_out_total", &lab), 3.0);
    assert_eq!(value(&s, "broker_messages_out_total", &nats_door), 3.0);
    assert!(value(&s, "broker_bytes_in_total", &lab) > 4.0 * 20.0);
    assert!(value(&s, "broker_bytes_out_total", &nats_door) > 3.0 * 10.0);
    assert_eq!(value(&s, "broker_connections", &lab), 2.0);
    assert_eq!(value(&s, "broker_connections", &nats_door), 1.0);
    assert_eq!(value(&s, "broker_deliveries_dropped_total", &lab), 0.0);
    assert_eq!(value(&s, "broker_slow_consumers_closed_total", &lab), 0.0);
    // /a, /a/x, /a/y, /b, /b/z, /b/x
    assert_eq!(value(&s, "broker_topics", &[]), 6.0);
    assert_eq!(value(&s, "broker_subscriptions", &[]), 2.0);
    assert!(value(&s, "broker_resident_memory_bytes", &[]) > 1e6);
    let a = [("prefix", "/a")];
    assert_eq!(value(&s, "broker_prefix_topics", &a), 3.0);
    assert_eq!(value(&s, "broker_prefix_messages_total", &a), 3.0);
    // lab /a matches /a itself; NATS a.> only what is below it.
    assert_eq!(value(&s, "broker_prefix_subscribers", &a), 1.0);
    assert_eq!(
        value(&s, "broker_prefix_retained_bytes", &a),
        2.0 * "\"payload\"".len() as f64
    );
    let quiet = [("prefix", "/quiet")];
    assert_eq!(value(&s, "broker_prefix_topics", &quiet), 0.0);
    // Only the configured prefixes have series: /b has none.
    let prefixes: Vec<&str> = s
        .samples
        .iter()
        .filter_map(|s| s.labels.get("prefix"))
        .collect();
    assert!(
        prefixes.iter().all(|p| ["/a", "/quiet"].contains(p)),
        "{prefixes:?}"
    );
    // Counters only go up: a later scrape has the new messages.
    publisher.publish("/a/x", "again");
    barrier(&mut publisher);
    let later = scrape(http);
    assert_eq!(value(&later, "broker_messages_in_total", &lab), 5.0);
    assert_eq!(value(&later, "broker_prefix_messages_total", &a), 4.0);
}

#[test]
fn metrics_exposition_is_line_formatted_text() {
    let b = start_broker_with(Config {
        http: Some("127.0.0.1:0".parse().unwrap()),
        ..Config::default()
    });
    let body = get(b.http.unwrap(), "/metrics").body;
    for line in body.lines() {
        assert!(
            line.starts_with("# HELP ")
                || line.starts_with("# TYPE ")
                || line == "# EOF"
                || line.starts_with("broker_"),
            "{line}"
        );
    }
    assert_eq!(body.lines().last(), Some("# EOF"));
    let types = body.lines().filter(|l| l.starts_with("# TYPE ")).count();
    let helps = body.lines().filter(|l| l.starts_with("# HELP ")).count();
    assert_eq!(types, helps);
    assert!(body.lines().any(|l| l == "broker_topics 0"), "{body}");
}
