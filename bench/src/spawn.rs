//! `--spawn-broker`: a lab broker started on a free loopback port for the
//! run, its output forwarded to our stderr, killed when dropped.

use std::io::{BufRead, BufReader, Read};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

/// A lab broker started by the benchmark; killed when dropped.
#[derive(Debug)]
pub struct SpawnedBroker {
    /// The broker process.
    pub child: Child,
    /// The loopback address it listens on.
    pub addr: SocketAddr,
}

impl Drop for SpawnedBroker {
    fn drop(&mut self) {
        // The broker may have exited already; nothing more to do then.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts the broker at `path` on a free loopback port and waits until it
/// accepts connections. Its output goes to our stderr, prefixed.
pub fn spawn_broker(path: &Path) -> Result<SpawnedBroker, String> {
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map_err(|e| format!("finding a free port: {e}"))?
        .port();
    let mut child = Command::new(path)
        .args(["--addr", "127.0.0.1", "--port", &port.to_string()])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("starting {}: {e}", path.display()))?;
    forward(child.stdout.take());
    forward(child.stderr.take());
    let mut broker = SpawnedBroker {
        child,
        addr: SocketAddr::from(([127, 0, 0, 1], port)),
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Ok(Some(status)) = broker.child.try_wait() {
            return Err(format!("the broker exited at start ({status})"));
        }
        if TcpStream::connect_timeout(&broker.addr, Duration::from_millis(200)).is_ok() {
            return Ok(broker);
        }
        if Instant::now() >= deadline {
            return Err(format!(
                "the broker does not listen on {} after 10 s",
                broker.addr
            ));
        }
        thread::sleep(Duration::from_millis(50));
    }
}

/// Copies a child's output to our stderr, line by line, on its own thread.
fn forward(output: Option<impl Read + Send + 'static>) {
    if let Some(output) = output {
        thread::spawn(move || {
            for line in BufReader::new(output).lines().map_while(Result::ok) {
                eprintln!("[broker] {line}");
            }
        });
    }
}
