//! End to end: the real `broker`, `producer` and `consumer` binaries as
//! processes, each test with its own broker on a free port.
//!
//! The `broker` and `producer` binaries are looked up next to this crate's
//! `consumer` binary; `cargo test --workspace` builds them (a missing binary
//! fails the test saying so).

mod common;

use std::collections::BTreeMap;

use common::{by_topic, deliveries, Broker, Proc};

#[test]
fn telephony_consumer_gets_all_nine_values() {
    let broker = Broker::start();
    let mut consumer = broker.consumer(&["--type", "telephony", "--count", "9"]);
    let produced = broker
        .client(
            "producer",
            &[
                "--type",
                "telephony",
                "--length",
                "3",
                "--interval-ms",
                "10",
            ],
        )
        .success();
    assert_eq!(produced.len(), 9, "{produced:?}");
    let got = deliveries(&consumer.success());
    assert_eq!(got.len(), 9, "{got:?}");
    // Same values in the same order on each topic (per-publisher FIFO; the
    // three topics come from three connections, so no order across them).
    let got = by_topic(&got);
    assert_eq!(got, by_topic(&produced));
    let ranges = [
        ("/telephony/moldcell", 10_000..=11_000),
        ("/telephony/orange", 0..=40),
        ("/telephony/unite", 0..=100),
    ];
    assert_eq!(
        got.keys().collect::<Vec<_>>(),
        ranges.iter().map(|(t, _)| t).collect::<Vec<_>>()
    );
    for (topic, range) in ranges {
        assert_eq!(got[topic].len(), 3, "{got:?}");
        for value in &got[topic] {
            let value: i64 = value
                .parse()
                .unwrap_or_else(|_| panic!("{topic}: not an integer: {value}"));
            assert!(range.contains(&value), "{topic} {value}");
        }
    }
}

#[test]
fn root_consumer_gets_json_and_xml_producers() {
    let broker = Broker::start();
    let mut consumer = broker.consumer(&["--type", "/", "--count", "8"]);
    let mut currency = broker.client(
        "producer",
        &[
            "--type",
            "currency",
            "--length",
            "4",
            "--interval-ms",
            "5",
            "--serializer",
            "json",
        ],
    );
    let mut msg = broker.client(
        "producer",
        &[
            "--type",
            "msg",
            "--length",
            "4",
            "--interval-ms",
            "5",
            "--serializer",
            "xml",
        ],
    );
    let mut produced = currency.success();
    produced.extend(msg.success());
    let got = deliveries(&consumer.success());
    assert_eq!(got.len(), 8, "{got:?}");
    let got = by_topic(&got);
    assert_eq!(got, by_topic(&produced));
    assert_eq!(got.keys().collect::<Vec<_>>(), ["/currency", "/msg"]);
    assert!(
        got["/msg"]
            .iter()
            .all(|v| v.starts_with('"') && v.ends_with('"')),
        "{got:?}"
    );
}

#[test]
fn xml_consumer_and_late_consumer_get_retained_values() {
    let broker = Broker::start();
    let produced = broker
        .client(
            "producer",
            &["--type", "telephony", "--length", "2", "--interval-ms", "1"],
        )
        .success();
    let last: BTreeMap<String, String> = by_topic(&produced)
        .into_iter()
        .map(|(topic, values)| (topic, values.last().cloned().unwrap_or_default()))
        .collect();
    let mut late = broker.client(
        "consumer",
        &["--type", "telephony", "--count", "3", "--serializer", "xml"],
    );
    let first = late.line();
    assert_eq!(
        first,
        "topics: /telephony /telephony/moldcell /telephony/orange /telephony/unite"
    );
    let got = deliveries(&late.success());
    // Retained messages come in sorted topic order.
    let want: Vec<String> = last
        .iter()
        .map(|(t, v)| format!("{t} {v} (retained)"))
        .collect();
    assert_eq!(got, want);
}

#[test]
fn ctrl_c_cancels_and_exits_zero() {
    let broker = Broker::start();
    let consumer = broker.consumer(&["--topic", "/a//b"]);
    let mut producer = broker.client("producer", &["--type", "msg", "--length", "1"]);
    producer.success();
    consumer.interrupt();
    let mut consumer = consumer;
    let status = consumer.wait();
    assert!(
        status.success(),
        "{status}; stderr: {}",
        consumer.stderr_text()
    );
    // Only the announcement of /msg: nothing was published under /a/b.
    let rest = consumer.rest();
    assert!(rest.iter().all(|l| l.starts_with("topics: ")), "{rest:?}");
}

#[test]
fn consumer_reports_the_broker_going_away() {
    let mut broker = Broker::start();
    let mut consumer = broker.consumer(&["--type", "currency"]);
    broker.proc.interrupt();
    assert!(broker.proc.wait().success());
    let status = consumer.wait();
    assert_eq!(status.code(), Some(1));
    let err = consumer.stderr_text();
    assert!(err.contains("broker closed the connection"), "{err}");
}

#[test]
fn no_broker_is_a_clear_error() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("local_addr").port().to_string()
    };
    for name in ["producer", "consumer"] {
        let mut p = Proc::spawn(name, &["--host", "127.0.0.1", "--port", &port]);
        let status = p.wait();
        assert_eq!(status.code(), Some(1), "{name}");
        let err = p.stderr_text();
        assert!(
            err.contains(&format!("cannot connect to broker at 127.0.0.1:{port}: ")),
            "{name}: {err}"
        );
        assert!(p.rest().is_empty());
    }
}

#[test]
fn clients_refused_at_the_connection_limit_report_the_brokers_reason() {
    let broker = Broker::start_with(&["--max-connections", "1"]);
    let mut holder = broker.consumer(&["--type", "currency"]);
    let clients: [(&str, &[&str]); 2] = [
        ("consumer", &["--type", "msg"]),
        ("producer", &["--type", "msg", "--length", "1"]),
    ];
    for (name, args) in clients {
        let mut refused = broker.client(name, args);
        let status = refused.wait();
        assert_eq!(status.code(), Some(1), "{name}");
        let said = format!("{} {}", refused.rest().join("\n"), refused.stderr_text());
        assert!(
            said.contains("too many connections (limit 1)"),
            "{name} did not report the broker's reason: {said:?}"
        );
    }
    // The connection holding the slot was not disturbed.
    let mut producer = broker.client("producer", &["--type", "currency", "--length", "1"]);
    assert_eq!(producer.wait().code(), Some(1), "still full");
    drop(producer);
    holder.interrupt();
    assert!(holder.wait().success());
}
