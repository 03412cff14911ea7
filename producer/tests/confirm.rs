//! `producer --confirm` end to end, against the real broker in process:
//! every value acknowledged with its number and receivers, the summary
//! line, and the plain output unchanged without the flag.

use std::net::SocketAddr;
use std::process::Command;
use std::thread;
use std::time::Duration;

use broker::{Broker, BrokerHandle, Config};
use middleware::{Event, Format, Queue, Role, Value};

/// A broker on a free port in a thread; stopped on drop.
struct Live {
    addr: SocketAddr,
    handle: BrokerHandle,
}

impl Live {
    fn start() -> Live {
        let config = Config {
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            ..Config::default()
        };
        let broker = Broker::bind(config).expect("bind the broker");
        let addr = broker.local_addr().expect("local_addr");
        let handle = broker.handle();
        thread::spawn(move || broker.run());
        Live { addr, handle }
    }

    /// A consumer of `topic` whose subscription is in place.
    fn consumer(&self, topic: &str) -> Queue {
        let mut q = Queue::connect(&self.addr.to_string(), topic, Role::Consumer, Format::Json)
            .expect("connect");
        q.set_timeout(Some(Duration::from_secs(10)));
        q.list_topics().expect("subscribed once LIST is answered");
        q
    }

    /// Runs the producer with `args`; its stdout lines once it succeeded.
    fn producer(&self, args: &[&str]) -> Vec<String> {
        let port = self.addr.port().to_string();
        let out = Command::new(env!("CARGO_BIN_EXE_producer"))
            .args(["--host", "127.0.0.1", "--port", &port, "--interval-ms", "0"])
            .args(args)
            .output()
            .expect("run producer");
        assert!(
            out.status.success(),
            "producer failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout)
            .expect("utf-8")
            .lines()
            .map(str::to_owned)
            .collect()
    }
}

impl Drop for Live {
    fn drop(&mut self) {
        self.handle.shutdown();
    }
}

/// The values `q` receives (topic announcements skipped), `n` of them.
fn received(q: &mut Queue, n: usize) -> Vec<(String, Value)> {
    let mut got = Vec::new();
    while got.len() < n {
        match q.pull().expect("pull") {
            Event::Publish { topic, value, .. } => got.push((topic, value)),
            Event::Topics(_) => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    got
}

#[test]
fn every_value_is_acknowledged_with_its_receivers() {
    let broker = Live::start();
    let mut all = broker.consumer("/telephony");
    let mut orange = broker.consumer("/telephony/orange");
    let lines = broker.producer(&["--type", "telephony", "--length", "3", "--confirm"]);
    assert_eq!(lines.len(), 10, "{lines:#?}");
    let mut printed = Vec::new();
    for (i, line) in lines[..9].iter().enumerate() {
        // `<topic> <value> [<seq>] -> <k> receiver(s)`
        let (head, receivers) = line.split_once(" -> ").expect(line);
        let (topic_value, seq) = head.rsplit_once(" [").expect(line);
        let (topic, value) = topic_value.split_once(' ').expect(line);
        let seq: u64 = seq.trim_end_matches(']').parse().expect(line);
        assert_eq!(seq, i as u64 / 3 + 1, "{line}");
        let want = if topic == "/telephony/orange" {
            "2 receivers"
        } else {
            "1 receiver"
        };
        assert_eq!(receivers, want, "{line}");
        let value: i64 = value.parse().expect(line);
        printed.push((topic.to_owned(), Value::Int(value)));
    }
    assert_eq!(
        lines[9],
        "confirmed 9 values: receivers min 1, avg 1.33, max 2"
    );
    // What was printed is what was delivered, once each.
    assert_eq!(received(&mut all, 9), printed);
    let oranges: Vec<_> = printed
        .iter()
        .filter(|(t, _)| t == "/telephony/orange")
        .cloned()
        .collect();
    assert_eq!(received(&mut orange, 3), oranges);
    for q in [&mut all, &mut orange] {
        assert!(matches!(
            q.pull_timeout(Duration::from_millis(200)),
            Ok(None) | Ok(Some(Event::Topics(_)))
        ));
    }
}

#[test]
fn without_the_flag_the_output_is_unchanged() {
    let broker = Live::start();
    let lines = broker.producer(&["--length", "4"]);
    assert_eq!(lines.len(), 4, "{lines:#?}");
    for line in &lines {
        let (topic, value) = line.split_once(' ').expect(line);
        assert_eq!(topic, "/currency");
        assert!(
            value.parse::<i64>().is_ok_and(|v| (0..=40).contains(&v)),
            "{line}"
        );
    }
}
