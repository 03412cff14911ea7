//! The `request_reply` example against the real broker (see `live`):
//! `ask` without a server (no responders), then two servers in one queue
//! group answering in turn. `cargo test` builds the examples next to the
//! test binaries.

mod live;

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::thread;

use live::LiveBroker;

/// The example's binary: `<target>/<profile>/examples/request_reply`.
fn example() -> PathBuf {
    let exe = std::env::current_exe().expect("current_exe");
    let profile = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target/<profile>/deps");
    let path = profile
        .join("examples")
        .join(format!("request_reply{}", std::env::consts::EXE_SUFFIX));
    assert!(path.is_file(), "missing {}", path.display());
    path
}

fn ask(addr: &str, values: &[&str]) -> Output {
    Command::new(example())
        .args(["ask", "--addr", addr, "--timeout-ms", "5000"])
        .args(values)
        .output()
        .expect("run ask")
}

/// A server killed on drop.
struct Server(Child);

impl Server {
    /// Starts `serve` and waits for its `serving` line.
    fn start(addr: &str, name: &str) -> Server {
        let mut child = Command::new(example())
            .args(["serve", "--addr", addr, "--name", name, "--group", "w"])
            .stdout(Stdio::piped())
            .spawn()
            .expect("run serve");
        let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
        let mut first = String::new();
        stdout.read_line(&mut first).expect("read");
        assert_eq!(first.trim(), format!("{name} serving /service/double"));
        // Keep reading, so the server's lines do not hit a closed pipe.
        thread::spawn(move || stdout.lines().for_each(drop));
        Server(child)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn ask_and_serve() {
    let broker = LiveBroker::start();
    let addr = broker.addr();
    let out = ask(&addr, &["hello"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "\"hello\" -> no responders on /service/double\n"
    );

    let _one = Server::start(&addr, "s1");
    let _two = Server::start(&addr, "s2");
    let out = ask(&addr, &["hello", "21", "x", "4"]);
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 4, "{text}");
    let want = [
        ("\"hello\" -> ", "\"HELLO\""),
        ("21 -> ", "42"),
        ("\"x\" -> ", "\"X\""),
        ("4 -> ", "8"),
    ];
    let mut by = Vec::new();
    for (line, (request, answer)) in lines.iter().zip(want) {
        let reply = line.strip_prefix(request).expect(line);
        assert!(
            reply.starts_with(&format!("{{\"answer\":{answer},\"by\":\"")),
            "{line}"
        );
        by.push(reply.contains("\"s1\""));
    }
    // One group: the servers take the requests in turn.
    assert!(by.contains(&true) && by.contains(&false), "{lines:?}");
}
