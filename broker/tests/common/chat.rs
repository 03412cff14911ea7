//! A WebSocket chat client (tungstenite) speaking seed 000's protocol, for
//! the WebSocket door's tests.

use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use serde_json::{json, Value};
use tungstenite::{Message, WebSocket};

use super::WAIT;

/// A chat client over a real WebSocket.
pub struct Chat {
    pub ws: WebSocket<TcpStream>,
}

impl Chat {
    /// Connects and completes the WebSocket handshake.
    #[track_caller]
    pub fn connect(addr: SocketAddr) -> Chat {
        Chat::over(addr, TcpStream::connect(addr).expect("connect"))
    }

    /// Completes the WebSocket handshake over `stream`, connected to `addr`.
    #[track_caller]
    pub fn over(addr: SocketAddr, stream: TcpStream) -> Chat {
        stream.set_read_timeout(Some(WAIT)).expect("timeout");
        stream.set_nodelay(true).expect("nodelay");
        let (ws, response) =
            tungstenite::client(format!("ws://{addr}/"), stream).expect("WebSocket handshake");
        assert_eq!(response.status(), 101);
        Chat { ws }
    }

    /// Sends `v` as a text message.
    #[track_caller]
    pub fn send(&mut self, v: &Value) {
        self.ws.send(Message::text(v.to_string())).expect("send");
    }

    /// The next text message, as it came (pings and pongs skipped).
    #[track_caller]
    pub fn recv_text(&mut self) -> String {
        loop {
            match self.ws.read().expect("a message") {
                Message::Text(t) => return t.as_str().to_owned(),
                Message::Ping(_) | Message::Pong(_) => {}
                other => panic!("unexpected {other:?}"),
            }
        }
    }

    /// The next text message, as JSON.
    #[track_caller]
    pub fn recv(&mut self) -> Value {
        let t = self.recv_text();
        serde_json::from_str(&t).unwrap_or_else(|e| panic!("not JSON: {t}: {e}"))
    }

    /// The next message, which must be of `kind`.
    #[track_caller]
    pub fn recv_type(&mut self, kind: &str) -> Value {
        let m = self.recv();
        assert_eq!(m["type"], kind, "{m}");
        m
    }

    /// Joins `room` as `user`: its own join, then `subscribed`; returns the
    /// room's sequence.
    #[track_caller]
    pub fn subscribe(&mut self, room: &str, user: &str) -> u64 {
        self.send(&json!({"type": "subscribe", "room": room, "userId": user}));
        let join = self.recv_type("presence");
        assert_eq!(
            (&join["userId"], &join["action"]),
            (&json!(user), &json!("join"))
        );
        let sub = self.recv_type("subscribed");
        assert_eq!(sub["room"], room);
        sub["sequence"].as_u64().expect("a sequence")
    }

    /// Posts `content` to `room` as `sender`.
    #[track_caller]
    pub fn publish(&mut self, room: &str, sender: &str, content: &str) {
        self.send(&json!({"type": "publish", "room": room, "sender": sender, "content": content}));
    }

    /// The room's history.
    #[track_caller]
    pub fn history(&mut self, room: &str) -> Vec<Value> {
        self.send(&json!({"type": "get_history", "room": room}));
        let h = self.recv_type("history");
        assert_eq!(h["room"], room);
        h["messages"].as_array().expect("messages").clone()
    }

    /// Expects nothing for `wait`.
    #[track_caller]
    pub fn expect_silence(&mut self, wait: Duration) {
        self.ws.get_ref().set_read_timeout(Some(wait)).unwrap();
        match self.ws.read() {
            Err(tungstenite::Error::Io(e))
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            other => panic!("expected silence, got {other:?}"),
        }
        self.ws.get_ref().set_read_timeout(Some(WAIT)).unwrap();
    }

    /// Closes abruptly: a reset, no close frame.
    pub fn reset(self) {
        let sock = socket2::SockRef::from(self.ws.get_ref());
        sock.set_linger(Some(Duration::ZERO)).expect("linger");
    }
}

/// Checks that the JSON object text `text` has `keys` in this order (the
/// seed's server writes them so).
#[track_caller]
pub fn assert_key_order(text: &str, keys: &[&str]) {
    let at: Vec<usize> = keys
        .iter()
        .map(|k| {
            text.find(&format!("\"{k}\":"))
                .unwrap_or_else(|| panic!("no {k} in {text}"))
        })
        .collect();
    assert!(at.windows(2).all(|w| w[0] < w[1]), "{keys:?} in {text}");
}

/// A broker with the WebSocket door open, and that door's address.
#[track_caller]
pub fn chat_broker(config: broker::Config) -> (super::TestBroker, SocketAddr) {
    let b = super::start_broker_with(broker::Config {
        ws: Some("127.0.0.1:0".parse().unwrap()),
        ..config
    });
    let addr = b.door(broker::doors::Door::Ws);
    (b, addr)
}
