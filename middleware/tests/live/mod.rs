//! The real broker, in process, for testing `Queue`'s v2 side end to end:
//! [`LiveBroker`] (started on `127.0.0.1`, restartable on the same port)
//! and [`Proxy`], a TCP relay whose connections a test can cut to make a
//! client lose its connection while the broker stays up, or mute to make
//! it miss the broker's answers.

#![allow(dead_code)]

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use broker::{Broker, BrokerHandle, Config};
use middleware::{Event, Format, Options, Queue, Role, Value};

/// Bound on every wait of these tests.
pub const TIMEOUT: Duration = Duration::from_secs(10);

/// A broker running in a thread; stopped on drop.
#[derive(Debug)]
pub struct LiveBroker {
    config: Config,
    handle: BrokerHandle,
    thread: Option<JoinHandle<io::Result<()>>>,
}

impl LiveBroker {
    /// A broker with default limits on a free port.
    pub fn start() -> LiveBroker {
        LiveBroker::start_with(|_| {})
    }

    /// A broker on a free port, with `tune` applied to its config.
    pub fn start_with(tune: impl FnOnce(&mut Config)) -> LiveBroker {
        let mut config = Config {
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            ..Config::default()
        };
        tune(&mut config);
        let broker = Broker::bind(config.clone()).expect("bind the broker");
        config.addr = broker.local_addr().expect("local_addr");
        LiveBroker::run(config, broker)
    }

    fn run(config: Config, broker: Broker) -> LiveBroker {
        let handle = broker.handle();
        let thread = thread::spawn(move || broker.run());
        LiveBroker {
            config,
            handle,
            thread: Some(thread),
        }
    }

    /// `127.0.0.1:<port>`.
    pub fn addr(&self) -> String {
        self.config.addr.to_string()
    }

    /// Stops the broker: its connections close and everything it kept is
    /// gone.
    pub fn stop(&mut self) {
        self.handle.shutdown();
        if let Some(thread) = self.thread.take() {
            thread
                .join()
                .expect("broker thread panicked")
                .expect("broker failed");
        }
    }

    /// Stops the broker and starts a new one (a new epoch) on the same port.
    pub fn restart(&mut self) {
        self.stop();
        let deadline = Instant::now() + TIMEOUT;
        let broker = loop {
            match Broker::bind(self.config.clone()) {
                Ok(b) => break b,
                Err(e) if Instant::now() < deadline => {
                    eprintln!("rebinding {}: {e}", self.config.addr);
                    thread::sleep(Duration::from_millis(20));
                }
                Err(e) => panic!("cannot rebind {}: {e}", self.config.addr),
            }
        };
        *self = LiveBroker::run(self.config.clone(), broker);
    }

    /// A JSON producer on `topic`, waits bounded by [`TIMEOUT`].
    pub fn producer(&self, topic: &str) -> Queue {
        let mut q = Queue::connect(&self.addr(), topic, Role::Producer, Format::Json)
            .expect("connect a producer");
        q.set_timeout(Some(TIMEOUT));
        q
    }
}

impl Drop for LiveBroker {
    fn drop(&mut self) {
        self.handle.shutdown();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Connects a queue with `options` to `addr`, waits bounded by
/// [`TIMEOUT`].
pub fn open(addr: &str, topic: &str, role: Role, options: &Options) -> Queue {
    let mut q = Queue::connect_with(addr, topic, role, options).expect("connect");
    q.set_timeout(Some(TIMEOUT));
    q
}

/// Publishes each value, then pings: when this returns, the broker has
/// handled every publish.
pub fn publish_all(q: &mut Queue, values: impl IntoIterator<Item = impl Into<Value>>) {
    for v in values {
        q.push(v).expect("push");
    }
    q.ping().expect("ping after publishing");
}

/// The next event that is no topic announcement.
#[track_caller]
pub fn next(q: &mut Queue) -> Event {
    loop {
        match q.pull() {
            Ok(Event::Topics(_)) => {}
            Ok(e) => return e,
            Err(e) => panic!("pull: {e}"),
        }
    }
}

/// A live or replayed delivery's topic, value and seq; fails on anything else.
#[track_caller]
pub fn delivery(q: &mut Queue) -> (String, Value, u64) {
    match next(q) {
        Event::Publish {
            topic,
            value,
            seq: Some(seq),
            ts: Some(_),
            ..
        } => (topic, value, seq),
        other => panic!("expected a stamped PUBLISH, got {other:?}"),
    }
}

/// A TCP relay to `upstream` on `127.0.0.1:<free port>`; clones share it.
#[derive(Debug, Clone)]
pub struct Proxy {
    addr: String,
    /// Both sockets of every relayed connection.
    open: Arc<Mutex<Vec<TcpStream>>>,
    /// While set, what the broker sends is read and thrown away.
    muted: Arc<AtomicBool>,
}

impl Proxy {
    /// Starts relaying; the accepting thread lives as long as the test.
    pub fn start(upstream: &str) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the proxy");
        let addr = listener.local_addr().expect("local_addr").to_string();
        let open = Arc::new(Mutex::new(Vec::new()));
        let muted = Arc::new(AtomicBool::new(false));
        let upstream = upstream.to_owned();
        let registry = Arc::clone(&open);
        let mute = Arc::clone(&muted);
        thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { continue };
                let Ok(server) = TcpStream::connect(&upstream) else {
                    continue;
                };
                let (Ok(c2), Ok(s2)) = (client.try_clone(), server.try_clone()) else {
                    continue;
                };
                if let Ok(mut all) = registry.lock() {
                    all.push(client.try_clone().expect("clone"));
                    all.push(server.try_clone().expect("clone"));
                }
                relay(client, server, None);
                relay(s2, c2, Some(Arc::clone(&mute)));
            }
        });
        Proxy { addr, open, muted }
    }

    /// From now on, until [`Proxy::unmute`], drops every byte the broker
    /// sends on any relayed connection (as a network losing the answers).
    /// Frames sent whole while muted are lost whole.
    pub fn mute(&self) {
        self.muted.store(true, Ordering::SeqCst);
    }

    /// Relays the broker's bytes again.
    pub fn unmute(&self) {
        self.muted.store(false, Ordering::SeqCst);
    }

    /// Where clients connect.
    pub fn addr(&self) -> &str {
        &self.addr
    }

    /// Cuts every relayed connection: both the client and the broker see it
    /// closed.
    pub fn cut(&self) {
        for s in self.open.lock().expect("lock").drain(..) {
            let _ = s.shutdown(Shutdown::Both);
        }
    }
}

/// Copies `from` to `to` in a thread until either ends, dropping what it
/// reads while `mute` is set.
fn relay(mut from: TcpStream, mut to: TcpStream, mute: Option<Arc<AtomicBool>>) {
    thread::spawn(move || {
        let mut buf = [0; 16 * 1024];
        loop {
            match from.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(_) if mute.as_ref().is_some_and(|m| m.load(Ordering::SeqCst)) => {}
                Ok(n) => {
                    if to.write_all(&buf[..n]).is_err() {
                        break;
                    }
                }
            }
        }
        let _ = to.shutdown(Shutdown::Both);
        let _ = from.shutdown(Shutdown::Both);
    });
}
