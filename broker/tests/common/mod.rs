//! Shared helpers for the broker's integration tests: a broker on
//! `127.0.0.1:0` in a thread, and a raw-bytes client.
#![allow(dead_code)]

pub mod chat;
pub mod grpc;
pub mod http;
pub mod nats;
pub mod process;
pub mod seeds;
pub mod stamps;
pub mod v2;
pub mod wire;
use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use broker::{Broker, BrokerHandle, Config};
use protocol::{Format, Message, Method, Value};

/// How long a test waits for anything before failing.
pub const WAIT: Duration = Duration::from_secs(10);

/// A broker running in a thread; stopped and joined on drop.
pub struct TestBroker {
    pub addr: SocketAddr,
    /// Every door's address as bound.
    pub doors: Vec<(broker::doors::Door, SocketAddr)>,
    /// Where the monitoring side listens, when `Config::http` is set.
    pub http: Option<SocketAddr>,
    /// Where the RPC side listens, when `Config::grpc` is set.
    pub grpc: Option<SocketAddr>,
    handle: BrokerHandle,
    thread: Option<JoinHandle<std::io::Result<()>>>,
}

impl TestBroker {
    /// Where `door` listens.
    #[allow(dead_code)]
    pub fn door(&self, door: broker::doors::Door) -> SocketAddr {
        self.doors
            .iter()
            .find(|(d, _)| *d == door)
            .map(|(_, a)| *a)
            .expect("that door is open")
    }
}

impl Drop for TestBroker {
    fn drop(&mut self) {
        self.handle.shutdown();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Starts a broker with default limits on `127.0.0.1:0`.
#[track_caller]
pub fn start_broker() -> TestBroker {
    start_broker_with(Config::default())
}

/// Starts a broker with `config` (its address is replaced by `127.0.0.1:0`).
#[track_caller]
pub fn start_broker_with(config: Config) -> TestBroker {
    let config = Config {
        addr: SocketAddr::from(([127, 0, 0, 1], 0)),
        ..config
    };
    let broker = Broker::bind(config).expect("bind broker");
    let addr = broker.local_addr().expect("local addr");
    let doors = broker.addresses().expect("addresses");
    let http = broker.http_addr();
    let grpc = broker.grpc_addr();
    let handle = broker.handle();
    let thread = Some(std::thread::spawn(move || broker.run()));
    TestBroker {
        addr,
        doors,
        http,
        grpc,
        handle,
        thread,
    }
}

/// A client speaking raw frames.
pub struct Raw {
    pub stream: TcpStream,
    pub format: Format,
    buf: Vec<u8>,
}

impl Raw {
    /// Connects without a handshake.
    #[track_caller]
    pub fn connect(addr: SocketAddr) -> Raw {
        let stream = TcpStream::connect(addr).expect("connect");
        stream.set_read_timeout(Some(WAIT)).expect("timeout");
        stream.set_nodelay(true).expect("nodelay");
        Raw {
            stream,
            format: Format::Json,
            buf: Vec::new(),
        }
    }

    /// Connects and sends the handshake for `format`.
    #[track_caller]
    pub fn handshake(addr: SocketAddr, format: Format) -> Raw {
        let mut c = Raw::connect(addr);
        c.format = format;
        c.send_payload(format.handshake().as_bytes());
        c
    }

    /// Closes abruptly: with a zero linger the kernel sends a reset (RST),
    /// not a FIN, and drops whatever the broker sent that was not read.
    #[allow(dead_code)]
    pub fn reset(self) {
        let sock = socket2::SockRef::from(&self.stream);
        sock.set_linger(Some(Duration::ZERO)).expect("linger");
        drop(self);
    }

    /// A JSON client.
    #[track_caller]
    pub fn json(addr: SocketAddr) -> Raw {
        Raw::handshake(addr, Format::Json)
    }

    /// An XML client.
    #[track_caller]
    pub fn xml(addr: SocketAddr) -> Raw {
        Raw::handshake(addr, Format::Xml)
    }

    /// Writes raw bytes.
    #[track_caller]
    pub fn send_bytes(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).expect("write");
    }

    /// Writes one frame with `payload`, header as `'{:>5}'`.
    #[track_caller]
    pub fn send_payload(&mut self, payload: &[u8]) {
        let mut frame = format!("{:>5}", payload.len()).into_bytes();
        frame.extend_from_slice(payload);
        self.send_bytes(&frame);
    }

    /// Encodes and sends a message in this client's format.
    #[track_caller]
    pub fn send(&mut self, m: &Message) {
        let mut frame = Vec::new();
        self.format.encode(m, &mut frame).expect("encode");
        self.send_bytes(&frame);
    }

    /// Sends `PUBLISH topic msg`.
    #[track_caller]
    pub fn publish(&mut self, topic: &str, msg: impl Into<Value>) {
        self.send(&Message::publish(topic, msg));
    }

    /// Sends `SUBSCRIBE topic`.
    #[track_caller]
    pub fn subscribe(&mut self, topic: &str) {
        self.send(&Message::subscribe(topic));
    }

    /// Reads one frame's payload, or `None` at EOF.
    #[track_caller]
    pub fn recv_payload(&mut self) -> Option<Vec<u8>> {
        self.recv_frame()
            .map(|mut frame| frame.split_off(protocol::HEADER_LEN))
    }

    /// Reads and decodes one message, as it came: deliveries with their
    /// `seq` and `ts`.
    #[track_caller]
    pub fn recv_stamped(&mut self) -> Message {
        let payload = self
            .recv_payload()
            .expect("connection closed while waiting for a message");
        self.format.decode(&payload).unwrap_or_else(|e| {
            panic!(
                "undecodable frame {:?}: {e}",
                String::from_utf8_lossy(&payload)
            )
        })
    }

    /// Reads and decodes one message, checks that it carries `seq` and `ts`
    /// if and only if it is a delivery (v2 §11: v1 clients see them too),
    /// and returns it without them, for tests of everything else.
    #[track_caller]
    pub fn recv(&mut self) -> Message {
        stamps::unstamped(self.recv_stamped())
    }

    /// Reads messages, skipping `LIST_ACK` announcements, until one with `method`.
    #[track_caller]
    pub fn recv_skipping_lists(&mut self) -> Message {
        loop {
            let m = self.recv();
            if m.method != Method::ListAck {
                return m;
            }
        }
    }

    /// Asserts the next message is an `ERROR` and returns it.
    #[track_caller]
    pub fn expect_error(&mut self) -> Message {
        let m = self.recv_skipping_lists();
        assert_eq!(m.method, Method::Error, "expected ERROR, got {m:?}");
        m
    }

    /// Round trip: sends `LIST` and returns its reply, skipping nothing else;
    /// everything the broker sent before the reply is returned too.
    #[track_caller]
    pub fn sync(&mut self) -> Vec<Message> {
        self.send(&Message::list(None));
        let mut before = Vec::new();
        loop {
            let m = self.recv();
            if matches!(m.method, Method::ListAck | Method::ListNack) {
                // An announcement can look like the reply; either way the
                // broker has handled everything sent before the LIST.
                before.push(m);
                return before;
            }
            before.push(m);
        }
    }

    /// Asserts that nothing arrives within `wait`.
    #[track_caller]
    pub fn expect_silence(&mut self, wait: Duration) {
        assert!(self.buf.is_empty(), "unread bytes buffered");
        self.stream.set_read_timeout(Some(wait)).expect("timeout");
        let mut b = [0u8; 1];
        match self.stream.read(&mut b) {
            Ok(0) => panic!("connection closed"),
            Ok(_) => panic!("unexpected data"),
            Err(e) => assert!(
                matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut),
                "read error {e}"
            ),
        }
        self.stream.set_read_timeout(Some(WAIT)).expect("timeout");
    }

    /// Asserts the broker closes the connection (after any frames, returned).
    #[track_caller]
    pub fn expect_closed(&mut self) -> Vec<Vec<u8>> {
        let mut frames = Vec::new();
        while let Some(p) = self.recv_payload() {
            frames.push(p);
        }
        frames
    }
}

// ---- Raw-socket helpers for the robustness_* and fuzz tests ----

/// How a raw read of a connection ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    /// The broker closed the connection cleanly (FIN).
    Eof,
    /// The connection was reset (or another read error).
    Reset,
    /// Nothing arrived for the whole wait: the connection is still open.
    TimedOut,
}

/// Reads raw bytes from `stream` until EOF, a reset, or `idle` without any
/// data; never panics.
pub fn read_raw_until_end(stream: &mut TcpStream, idle: Duration) -> (Vec<u8>, Ending) {
    stream.set_read_timeout(Some(idle)).expect("timeout");
    let mut out = Vec::new();
    let mut chunk = vec![0u8; 64 * 1024];
    let ending = loop {
        match stream.read(&mut chunk) {
            Ok(0) => break Ending::Eof,
            Ok(n) => out.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                break Ending::TimedOut
            }
            Err(_) => break Ending::Reset,
        }
    };
    stream.set_read_timeout(Some(WAIT)).expect("timeout");
    (out, ending)
}

/// Splits what the broker sent into frame payloads, checking every header is
/// exactly `'{:>5}'` of a length in 1..=99999 (the broker always writes that
/// form, spec §1). Returns the payloads and any incomplete tail, or a
/// description of the first malformed header.
pub fn split_broker_frames(bytes: &[u8]) -> Result<(Vec<Vec<u8>>, Vec<u8>), String> {
    let mut frames = Vec::new();
    let mut pos = 0;
    while bytes.len() - pos >= 5 {
        let header = &bytes[pos..pos + 5];
        let text = std::str::from_utf8(header)
            .map_err(|_| format!("non-ASCII frame header {header:?} at byte {pos}"))?;
        let len: usize = text
            .trim_start_matches(' ')
            .parse()
            .map_err(|_| format!("malformed frame header {text:?} at byte {pos}"))?;
        if !(1..=99_999).contains(&len) || format!("{len:>5}") != text {
            return Err(format!(
                "frame header {text:?} at byte {pos} is not '{{:>5}}' of 1..=99999"
            ));
        }
        if bytes.len() - pos - 5 < len {
            break;
        }
        frames.push(bytes[pos + 5..pos + 5 + len].to_vec());
        pos += 5 + len;
    }
    Ok((frames, bytes[pos..].to_vec()))
}

/// Encodes `m` in `format` as a whole frame.
pub fn encode_frame(format: Format, m: &Message) -> Vec<u8> {
    let mut out = Vec::new();
    format.encode(m, &mut out).expect("encode");
    out
}

/// `payload` as one frame with a `'{:>5}'` header (no length check).
pub fn raw_frame(payload: &[u8]) -> Vec<u8> {
    let mut out = format!("{:>5}", payload.len()).into_bytes();
    out.extend_from_slice(payload);
    out
}

// ---- Frame-level helpers for the wire_* tests ----

impl Raw {
    /// Reads one whole frame exactly as the broker sent it, header included
    /// (for checking the header's bytes), or `None` at EOF.
    #[track_caller]
    pub fn recv_frame(&mut self) -> Option<Vec<u8>> {
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(header) = self.buf.first_chunk::<5>() {
                let len = protocol::frame::parse_header(*header)
                    .unwrap_or_else(|e| panic!("broker sent a bad frame header: {e}"));
                if self.buf.len() >= 5 + len {
                    return Some(self.buf.drain(..5 + len).collect());
                }
            }
            assert!(Instant::now() < deadline, "timed out waiting for a frame");
            let mut chunk = [0u8; 65536];
            match self.stream.read(&mut chunk) {
                Ok(0) => {
                    assert!(self.buf.is_empty(), "EOF inside a frame");
                    return None;
                }
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => panic!("read failed: {e}"),
            }
        }
    }
}

// ---- Exact round trip for the robustness_* and fuzz tests ----

impl Raw {
    /// A round trip that cannot be mistaken for a `LIST_ACK` announcement:
    /// sends `LIST` with the cursor `"~"`, after which no topic sorts (they
    /// all start with `/`), so the reply is a `LIST_ACK` with an empty list,
    /// or `LIST_NACK` when there are no topics at all; announcements always
    /// list at least one topic. Returns everything received before the reply.
    #[track_caller]
    pub fn barrier(&mut self) -> Vec<Message> {
        self.send(&Message::list(Some("~")));
        let mut before = Vec::new();
        loop {
            let m = self.recv();
            let empty = m.method == Method::ListAck && m.msg == Value::List(Vec::new());
            if empty || m.method == Method::ListNack {
                return before;
            }
            before.push(m);
        }
    }
}
