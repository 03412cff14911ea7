//! A scripted broker for testing `Queue` over real sockets.
//!
//! [`script`] binds `127.0.0.1:0`, accepts one connection in a thread and runs
//! the script on it: the script asserts what the client sends, byte for byte,
//! and replies with scripted frames. [`Script::finish`] joins the thread and
//! re-raises its panic, so a failed assertion in the peer fails the test.

#![allow(dead_code)]

use std::io::{ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use middleware::{Event, Queue, Role};
use protocol::{Format, Message, Method, Value};

/// How long the peer waits for the client before failing the test.
pub const PEER_TIMEOUT: Duration = Duration::from_secs(10);

/// The broker side of one connection.
#[derive(Debug)]
pub struct Peer {
    /// The accepted connection.
    pub stream: TcpStream,
    /// The format frames are encoded in (set by `expect_handshake`).
    pub format: Format,
}

/// A running script; see [`script`].
#[derive(Debug)]
pub struct Script {
    /// `host:port` to connect the client to.
    pub addr: String,
    handle: Option<JoinHandle<()>>,
}

impl Script {
    /// Waits for the peer thread to end; fails the test if the script panicked.
    #[track_caller]
    pub fn finish(mut self) {
        if let Some(handle) = self.handle.take() {
            if let Err(panic) = handle.join() {
                std::panic::resume_unwind(panic);
            }
        }
    }
}

/// Starts a one-connection scripted peer on `127.0.0.1:0`.
pub fn script(run: impl FnOnce(&mut Peer) + Send + 'static) -> Script {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    let addr = listener.local_addr().expect("local_addr").to_string();
    let handle = thread::spawn(move || {
        let (stream, _) = listener.accept().expect("accept");
        stream
            .set_read_timeout(Some(PEER_TIMEOUT))
            .expect("set_read_timeout");
        stream.set_nodelay(true).expect("set_nodelay");
        let mut peer = Peer {
            stream,
            format: Format::Json,
        };
        run(&mut peer);
    });
    Script {
        addr,
        handle: Some(handle),
    }
}

/// The frame bytes of a payload: `'{:>5}'` header, then the payload.
pub fn frame_bytes(payload: &[u8]) -> Vec<u8> {
    let mut out = format!("{:>5}", payload.len()).into_bytes();
    out.extend_from_slice(payload);
    out
}

/// The whole frame `format` encodes for `m`.
#[track_caller]
pub fn encoded(format: Format, m: &Message) -> Vec<u8> {
    let mut out = Vec::new();
    format.encode(m, &mut out).expect("encode");
    out
}

/// Frames a JSON consumer on `/telephony` sends on connect.
pub const JSON_HELLO: &[u8] =
    b"    9JSONQueue   54{\"method\":\"SUBSCRIBE\",\"topic\":\"/telephony\",\"msg\":null}";

/// A `PUBLISH` message of `value` on `topic`.
pub fn publish(topic: &str, value: impl Into<Value>) -> Message {
    Message::publish(topic, value)
}

/// The event `pull` returns for a live `PUBLISH` of `value` on `topic`.
pub fn live(topic: &str, value: impl Into<Value>) -> Event {
    Event::Publish {
        topic: topic.into(),
        value: value.into(),
        seq: None,
        ts: None,
        reply: None,
    }
}

/// A JSON consumer on `/telephony` connected to `script`.
#[track_caller]
pub fn consumer(addr: &str) -> Queue {
    Queue::connect(addr, "/telephony", Role::Consumer, Format::Json).expect("connect")
}

/// Asserts the client sends [`JSON_HELLO`]: the peer side of [`consumer`].
#[track_caller]
pub fn hello(peer: &mut Peer) {
    peer.expect_bytes(JSON_HELLO);
}

/// A `LIST_ACK` with the given topics and `more` flag.
pub fn list_ack(topics: &[&str], more: bool) -> Message {
    let mut m = Message::new(
        Method::ListAck,
        "/",
        Value::List(topics.iter().map(|t| Value::from(*t)).collect()),
    );
    m.attrs.more = more;
    m
}

impl Peer {
    /// Reads exactly `want.len()` bytes and asserts they are `want`.
    #[track_caller]
    pub fn expect_bytes(&mut self, want: &[u8]) {
        let mut got = vec![0; want.len()];
        if let Err(e) = self.stream.read_exact(&mut got) {
            panic!("peer: reading {:?}: {e}", String::from_utf8_lossy(want));
        }
        assert_eq!(
            String::from_utf8_lossy(&got),
            String::from_utf8_lossy(want),
            "peer: the client sent other bytes"
        );
    }

    /// Asserts the client sends the handshake frame for `format` and
    /// switches the peer to it.
    #[track_caller]
    pub fn expect_handshake(&mut self, format: Format) {
        self.expect_bytes(&frame_bytes(format.handshake().as_bytes()));
        self.format = format;
    }

    /// Asserts the client sends a frame with exactly this payload text.
    #[track_caller]
    pub fn expect_payload(&mut self, payload: &str) {
        self.expect_bytes(&frame_bytes(payload.as_bytes()));
    }

    /// Asserts the client sends `m`, encoded in the peer's format.
    #[track_caller]
    pub fn expect(&mut self, m: &Message) {
        let want = encoded(self.format, m);
        self.expect_bytes(&want);
    }

    /// Asserts the client sends nothing more and closes (or resets) the
    /// connection.
    #[track_caller]
    pub fn expect_eof(&mut self) {
        let mut buf = [0u8; 64];
        match self.stream.read(&mut buf) {
            Ok(0) => {}
            Ok(n) => panic!(
                "peer: expected EOF, got {:?}",
                String::from_utf8_lossy(&buf[..n])
            ),
            Err(e) if e.kind() == ErrorKind::ConnectionReset => {}
            Err(e) => panic!("peer: expected EOF, got error {e}"),
        }
    }

    /// Asserts the client sends nothing within `wait`.
    #[track_caller]
    pub fn expect_silence(&mut self, wait: Duration) {
        self.stream
            .set_read_timeout(Some(wait))
            .expect("set_read_timeout");
        let mut buf = [0u8; 64];
        match self.stream.read(&mut buf) {
            Ok(0) => panic!("peer: expected silence, the client closed"),
            Ok(n) => panic!(
                "peer: expected silence, got {:?}",
                String::from_utf8_lossy(&buf[..n])
            ),
            Err(e) => assert!(
                matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut),
                "peer: expected silence, got error {e}"
            ),
        }
        self.stream
            .set_read_timeout(Some(PEER_TIMEOUT))
            .expect("set_read_timeout");
    }

    /// Writes raw bytes in one go.
    #[track_caller]
    pub fn send_raw(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).expect("peer: write");
        self.stream.flush().expect("peer: flush");
    }

    /// Sends `m` encoded in the peer's format, in one write.
    #[track_caller]
    pub fn send(&mut self, m: &Message) {
        let bytes = encoded(self.format, m);
        self.send_raw(&bytes);
    }

    /// Writes `bytes` one byte at a time, flushing and sleeping ~1 ms after
    /// each, so the client sees partial headers and payloads.
    #[track_caller]
    pub fn send_slowly(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.stream.write_all(&[*b]).expect("peer: write");
            self.stream.flush().expect("peer: flush");
            thread::sleep(Duration::from_millis(1));
        }
    }

    /// Sends `m` one byte at a time (see [`Peer::send_slowly`]).
    #[track_caller]
    pub fn send_message_slowly(&mut self, m: &Message) {
        let bytes = encoded(self.format, m);
        self.send_slowly(&bytes);
    }
}
