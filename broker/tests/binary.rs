//! The `broker` binary as a process: where it says it listens, clean exit on
//! SIGTERM and SIGINT, and a clear failure when it cannot listen.

mod common;

use std::net::{TcpListener, TcpStream};
use std::process::{Command, ExitStatus, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use common::process::BrokerProcess;
use common::WAIT;

impl BrokerProcess {
    fn start() -> BrokerProcess {
        BrokerProcess::start_with(&["--addr", "127.0.0.1", "--port", "0"])
    }

    fn start_with(args: &[&str]) -> BrokerProcess {
        let mut command = BrokerProcess::command();
        command.args(args);
        let b = BrokerProcess::spawn(command);
        let line = &b.listening;
        assert!(
            b.early.is_empty(),
            "first line says where it listens: {:?}",
            b.early
        );
        assert!(line.contains("INFO"), "log lines carry a level: {line}");
        b
    }

    fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .args([&format!("-{name}"), &self.child.id().to_string()])
            .status()
            .expect("kill");
        assert!(status.success());
    }

    fn wait_exit(&mut self) -> ExitStatus {
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return status;
            }
            assert!(Instant::now() < deadline, "the broker did not exit");
            thread::sleep(Duration::from_millis(20));
        }
    }

    /// Every log line of a broker that has exited: read to the end of its
    /// stderr, so the last lines are not lost to the reader thread's lag.
    fn lines(&self) -> Vec<String> {
        self.log.iter().collect()
    }
}

fn exits_cleanly_on(signal: &str) {
    let mut broker = BrokerProcess::start();
    let _client = TcpStream::connect(broker.addr).expect("the broker accepts");
    broker.signal(signal);
    let status = broker.wait_exit();
    assert!(status.success(), "exit status {status}");
    let lines = broker.lines();
    assert!(
        lines.iter().any(|l| l.contains("shutting down")),
        "logs its shutdown: {lines:?}"
    );
}

#[test]
fn sigterm_stops_the_broker_cleanly() {
    exits_cleanly_on("TERM");
}

#[test]
fn sigint_stops_the_broker_cleanly() {
    exits_cleanly_on("INT");
}

#[test]
fn a_taken_port_is_a_clear_error() {
    let taken = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = taken.local_addr().expect("addr").port().to_string();
    let out = Command::new(env!("CARGO_BIN_EXE_broker"))
        .args(["--addr", "127.0.0.1", "--port", &port])
        .output()
        .expect("run broker");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("cannot listen on 127.0.0.1:") && stderr.contains("ERROR"),
        "{stderr}"
    );
}

#[test]
fn a_handshake_timeout_that_is_not_a_positive_number_is_refused() {
    for bad in ["0", "-1", "nan", "inf", "soon"] {
        let out = Command::new(env!("CARGO_BIN_EXE_broker"))
            .args(["--port", "0", "--handshake-timeout", bad])
            .output()
            .expect("run broker");
        assert!(!out.status.success(), "--handshake-timeout {bad} accepted");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("--handshake-timeout"), "{stderr}");
    }
}

#[test]
fn a_host_name_is_accepted_as_the_address() {
    let b = BrokerProcess::start_with(&["--addr", "localhost", "--port", "0"]);
    assert!(b.addr.ip().is_loopback(), "{}", b.addr);
    TcpStream::connect(b.addr).expect("the broker listens where it says");
}

/// Runs the broker with `args` and expects it to refuse them at once:
/// returns its stderr (a broker that starts instead is killed, and fails the
/// test).
#[track_caller]
fn refused(args: &[&str]) -> String {
    let mut child = Command::new(env!("CARGO_BIN_EXE_broker"))
        .args(args)
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn broker");
    let deadline = Instant::now() + WAIT;
    while child.try_wait().expect("wait").is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the broker started with {args:?}");
        }
        thread::sleep(Duration::from_millis(10));
    }
    let out = child.wait_with_output().expect("output");
    assert!(!out.status.success(), "{args:?}");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn limits_are_a_positive_number_or_unlimited() {
    let limits = [
        "--max-connections",
        "--max-pending-output",
        "--max-topics",
        "--max-retained-bytes",
    ];
    for flag in limits {
        for bad in ["0", "-1", "lots"] {
            let stderr = refused(&["--addr", "127.0.0.1", "--port", "0", flag, bad]);
            assert!(
                stderr.contains(flag) && stderr.contains("unlimited"),
                "{stderr}"
            );
        }
    }
    let mut args = vec!["--addr", "127.0.0.1", "--port", "0"];
    for flag in limits {
        args.extend([flag, "unlimited"]);
    }
    let b = BrokerProcess::start_with(&args);
    TcpStream::connect(b.addr).expect("a broker without limits runs");
}
