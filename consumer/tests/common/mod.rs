//! What the end-to-end tests share: the workspace binaries as processes
//! ([`Proc`]), a broker on a free port ([`Broker`], restartable on the same
//! port) and helpers to read the consumer's output.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read};
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::thread;
use std::time::{Duration, Instant};

/// Bound on every wait of these tests.
pub const TIMEOUT: Duration = Duration::from_secs(20);

/// A workspace binary next to `consumer`, checked to exist. `cargo test
/// --workspace` builds every binary of the workspace before running tests;
/// `cargo test -p consumer` builds only `consumer`.
#[track_caller]
pub fn binary(name: &str) -> PathBuf {
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
pub struct Proc {
    name: String,
    child: Child,
    stdout: Receiver<String>,
    stderr: Receiver<String>,
}

impl Proc {
    #[track_caller]
    pub fn spawn(name: &str, args: &[&str]) -> Proc {
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
    pub fn line(&mut self) -> String {
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
    pub fn wait(&mut self) -> ExitStatus {
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
    pub fn success(&mut self) -> Vec<String> {
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
    pub fn rest(&mut self) -> Vec<String> {
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
    pub fn stderr_text(&self) -> String {
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
    pub fn interrupt(&self) {
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
pub struct Broker {
    pub proc: Proc,
    pub port: String,
}

impl Broker {
    #[track_caller]
    pub fn start() -> Broker {
        Broker::start_with(&[])
    }

    /// A broker started with extra flags.
    #[track_caller]
    pub fn start_with(flags: &[&str]) -> Broker {
        Broker::start_on("0", flags)
    }

    /// A broker on `port` ("0": a free one) started with extra flags.
    #[track_caller]
    pub fn start_on(port: &str, flags: &[&str]) -> Broker {
        let mut args = vec!["--addr", "127.0.0.1", "--port", port];
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

    /// Stops the broker (SIGINT) and starts a new one on the same port,
    /// with `flags`: everything kept is gone and the epoch is new.
    #[track_caller]
    pub fn restart(&mut self, flags: &[&str]) {
        self.proc.interrupt();
        assert!(self.proc.wait().success(), "broker exit");
        *self = Broker::start_on(&self.port.clone(), flags);
    }

    /// Runs a client binary against this broker with `args`.
    #[track_caller]
    pub fn client(&self, name: &str, args: &[&str]) -> Proc {
        let mut all = vec!["--host", "127.0.0.1", "--port", &self.port];
        all.extend_from_slice(args);
        Proc::spawn(name, &all)
    }

    /// A consumer that has subscribed: its first line, the topic list, is out.
    #[track_caller]
    pub fn consumer(&self, args: &[&str]) -> Proc {
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
pub fn split(line: &str) -> (&str, &str) {
    line.split_once(' ')
        .unwrap_or_else(|| panic!("not `<topic> <value>`: {line:?}"))
}

/// The delivery lines of a consumer's output (topic announcements left
/// out), without their ` [seq]`.
pub fn deliveries(lines: &[String]) -> Vec<String> {
    lines
        .iter()
        .filter(|l| !l.starts_with("topics: "))
        .map(|l| without_seq(l).to_owned())
        .collect()
}

/// A consumer line without its trailing ` [seq]`, when it has one.
pub fn without_seq(line: &str) -> &str {
    match line.rsplit_once(" [") {
        Some((rest, n))
            if n.strip_suffix(']')
                .is_some_and(|d| d.parse::<u64>().is_ok()) =>
        {
            rest
        }
        _ => line,
    }
}

/// Lines grouped by topic, order kept within each topic.
#[track_caller]
pub fn by_topic(lines: &[String]) -> BTreeMap<String, Vec<String>> {
    let mut map: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for line in lines {
        let (topic, value) = split(line);
        map.entry(topic.to_owned())
            .or_default()
            .push(value.to_owned());
    }
    map
}
