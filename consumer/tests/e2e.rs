//! End to end: the real `broker`, `producer` and `consumer` binaries as
//! processes, each test with its own broker on a free port.
//!
//! The `broker` and `producer` binaries are looked up next to this crate's
//! `consumer` binary; `cargo test --workspace` builds them (a missing binary
//! fails the test saying so).

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read};
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::thread;
use std::time::{Duration, Instant};

/// Bound on every wait of these tests.
const TIMEOUT: Duration = Duration::from_secs(20);

/// A workspace binary next to `consumer`, checked to exist. `cargo test
/// --workspace` builds every binary of the workspace before running tests;
/// `cargo test -p consumer` builds only `consumer`.
#[track_caller]
fn binary(name: &str) -> PathBuf {
    let consumer = PathBuf::from(env!("CARGO_BIN_EXE_consumer"));
    let path = consumer.with_file_name(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    assert!(
        path.is_file(),
        "the `{name}` binary is missing at {}: run `cargo build --workspace` first",
        path.display()
    );
    path
}

/// A child process killed (and reaped) on drop, with its stdout and stderr
/// lines sent to channels by reader threads.
#[derive(Debug)]
struct Proc {
    name: String,
    child: Child,
    stdout: Receiver<String>,
    stderr: Receiver<String>,
}

impl Proc {
    #[track_caller]
    fn spawn(name: &str, args: &[&str]) -> Proc {
        let mut child = Command::new(binary(name))
            .args(args)
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
        let stdout = lines(child.stdout.take().expect("piped stdout"));
        let stderr = lines(child.stderr.take().expect("piped stderr"));
        Proc {
            name: name.to_owned(),
            child,
            stdout,
            stderr,
        }
    }

    /// The next stdout line; fails the test past `TIMEOUT` or at EOF.
    #[track_caller]
    fn line(&mut self) -> String {
        match self.stdout.recv_timeout(TIMEOUT) {
            Ok(line) => line,
            Err(RecvTimeoutError::Timeout) => {
                panic!("{}: no output line within {TIMEOUT:?}", self.name)
            }
            Err(RecvTimeoutError::Disconnected) => {
                panic!(
                    "{}: stdout closed; stderr: {}",
                    self.name,
                    self.stderr_text()
                )
            }
        }
    }

    /// Waits for the process to exit; fails the test past `TIMEOUT`.
    #[track_caller]
    fn wait(&mut self) -> ExitStatus {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "{} still running after {TIMEOUT:?}",
                self.name
            );
            thread::sleep(Duration::from_millis(10));
        }
    }

    /// Waits for a successful exit and returns every stdout line.
    #[track_caller]
    fn success(&mut self) -> Vec<String> {
        let status = self.wait();
        assert!(
            status.success(),
            "{} failed ({status}); stderr: {}",
            self.name,
            self.stderr_text()
        );
        self.rest()
    }

    /// The stdout lines left, up to EOF (the process has exited).
    #[track_caller]
    fn rest(&mut self) -> Vec<String> {
        let deadline = Instant::now() + TIMEOUT;
        let mut out = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.stdout.recv_timeout(left) {
                Ok(line) => out.push(line),
                Err(RecvTimeoutError::Disconnected) => return out,
                Err(RecvTimeoutError::Timeout) => panic!("{}: stdout not closed", self.name),
            }
        }
    }

    /// Stderr so far (after exit: all of it).
    fn stderr_text(&self) -> String {
        let deadline = Instant::now() + Duration::from_secs(2);
        let mut text = Vec::new();
        while let Ok(line) = self
            .stderr
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
        {
            text.push(line);
        }
        text.join("\n")
    }

    /// Sends SIGINT, as Ctrl-C does.
    #[track_caller]
    fn interrupt(&self) {
        let status = Command::new("kill")
            .args(["-INT", &self.child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -INT {} failed", self.child.id());
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Sends the lines of `r` to a channel from a thread; the channel closes at EOF.
fn lines(r: impl Read + Send + 'static) -> Receiver<String> {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        for line in BufReader::new(r).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

/// A broker on 127.0.0.1 and a free port.
#[derive(Debug)]
struct Broker {
    proc: Proc,
    port: String,
}

impl Broker {
    #[track_caller]
    fn start() -> Broker {
        Broker::start_with(&[])
    }

    /// A broker started with extra flags.
    #[track_caller]
    fn start_with(flags: &[&str]) -> Broker {
        let mut args = vec!["--addr", "127.0.0.1", "--port", "0"];
        args.extend_from_slice(flags);
        let proc = Proc::spawn("broker", &args);
        let deadline = Instant::now() + TIMEOUT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = match proc.stderr.recv_timeout(left) {
                Ok(line) => line,
                Err(e) => panic!("broker did not say `listening on 127.0.0.1:<port>`: {e}"),
            };
            if let Some(rest) = line.split("listening on 127.0.0.1:").nth(1) {
                let port: String = rest.chars().take_while(char::is_ascii_digit).collect();
                assert!(!port.is_empty(), "no port in {line:?}");
                // The reader thread keeps draining the log, so the broker
                // never blocks on a full stderr pipe.
                return Broker { proc, port };
            }
        }
    }

    /// Runs a client binary against this broker with `args`.
    #[track_caller]
    fn client(&self, name: &str, args: &[&str]) -> Proc {
        let mut all = vec!["--host", "127.0.0.1", "--port", &self.port];
        all.extend_from_slice(args);
        Proc::spawn(name, &all)
    }

    /// A consumer that has subscribed: its first line, the topic list, is out.
    #[track_caller]
    fn consumer(&self, args: &[&str]) -> Proc {
        let mut c = self.client("consumer", args);
        let first = c.line();
        assert!(
            first.starts_with("topics: "),
            "first consumer line: {first:?}"
        );
        c
    }
}

/// `<topic> <value>` split in two.
#[track_caller]
fn split(line: &str) -> (&str, &str) {
    line.split_once(' ')
        .unwrap_or_else(|| panic!("not `<topic> <value>`: {line:?}"))
}

/// The delivery lines of a consumer's output (topic announcements left out).
fn deliveries(lines: &[String]) -> Vec<String> {
    lines
        .iter()
        .filter(|l| !l.starts_with("topics: "))
        .cloned()
        .collect()
}

/// Lines grouped by topic, order kept within each topic.
#[track_caller]
fn by_topic(lines: &[String]) -> BTreeMap<String, Vec<String>> {
    let mut map: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for line in lines {
        let (topic, value) = split(line);
        map.entry(topic.to_owned())
            .or_default()
            .push(value.to_owned());
    }
    map
}

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
