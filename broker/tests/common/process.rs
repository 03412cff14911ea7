//! The `broker` binary run as a process, with its log read on a thread.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::thread;

use super::WAIT;

/// A running broker process; killed on drop if still running.
pub struct BrokerProcess {
    pub child: Child,
    /// Where it says it listens (its first `listening on` line).
    pub addr: SocketAddr,
    /// Its log before that line.
    pub early: Vec<String>,
    /// The line that says where it listens.
    pub listening: String,
    /// The rest of its log, as it comes.
    pub log: mpsc::Receiver<String>,
}

impl Drop for BrokerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl BrokerProcess {
    /// The binary the tests build, with no arguments yet.
    pub fn command() -> Command {
        Command::new(env!("CARGO_BIN_EXE_broker"))
    }

    /// Starts `command` and reads its log until it says where it listens.
    #[track_caller]
    pub fn spawn(mut command: Command) -> BrokerProcess {
        let mut child = command
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn broker");
        let stderr = child.stderr.take().expect("stderr");
        let (tx, log) = mpsc::channel();
        thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut early = Vec::new();
        let (addr, listening) = loop {
            let line = log
                .recv_timeout(WAIT)
                .unwrap_or_else(|_| panic!("the broker says where it listens: {early:?}"));
            if let Some(addr) = line.split("listening on ").nth(1) {
                break (addr.trim().parse().expect("an address"), line);
            }
            early.push(line);
        };
        BrokerProcess {
            child,
            addr,
            early,
            listening,
            log,
        }
    }
}
