//! The outbox over real connections (loopback sockets): one encoding per
//! delivery and form, per-subscription wrapping, the slow-consumer limit.

use std::borrow::Cow;
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use protocol::Body;

use super::*;
use crate::core::{DeliveryKind, SubTag};
use crate::doors::{Codec, Decoded, Door, DoorError, Farewell};
use crate::monitor::EventLog;
use crate::reactor::connection::Admission;

/// A codec that counts its encodings and wraps each copy in `[tag]`.
#[derive(Debug, Default)]
struct Tagging {
    encodes: Arc<AtomicUsize>,
}

impl Codec for Tagging {
    fn decode<'a>(&mut self, _: &'a [u8], _: &mut Vec<u8>) -> Result<Decoded<'a>, DoorError> {
        Ok(Decoded::Incomplete(0))
    }

    fn farewell(&mut self, _: Farewell, _: &mut Vec<u8>) {}

    fn describe(&self) -> &'static str {
        "tagging"
    }

    fn encode_delivery(&self, d: &Delivery<'_>, out: &mut Vec<u8>) -> Result<(), DoorError> {
        self.encodes.fetch_add(1, Ordering::SeqCst);
        out.extend_from_slice(format!("<{}>", d.topic).as_bytes());
        Ok(())
    }

    fn wraps_deliveries(&self) -> bool {
        true
    }

    fn wrap_delivery(&self, _: &Delivery<'_>, tag: SubTag, shared: &[u8], out: &mut Vec<u8>) {
        out.extend_from_slice(format!("[{}]", tag.0).as_bytes());
        out.extend_from_slice(shared);
    }

    fn encode_notice(&mut self, _: &Notice<'_>, out: &mut Vec<u8>) {
        out.extend_from_slice(b"notice");
    }
}

/// A connection over a real loopback socket (the peer end is returned so
/// it stays open).
fn connection(codec: Box<dyn Codec>) -> (Connection, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (server, peer) = listener.accept().unwrap();
    server.set_nonblocking(true).unwrap();
    let stream = crate::reactor::stream::Stream::Tcp(mio::net::TcpStream::from_std(server));
    let mut conn = Connection::new(
        stream,
        peer,
        1,
        Door::Lab,
        codec,
        Admission::Counted,
        1 << 20,
    );
    conn.open();
    (conn, client)
}

struct Fixture {
    conns: Slab<Connection>,
    flow: FlowControl,
    schedule: Schedule,
    scratch: Vec<u8>,
    deliveries: u64,
    events: EventLog,
    _peers: Vec<TcpStream>,
}

impl Fixture {
    fn new(codecs: Vec<Box<dyn Codec>>) -> Self {
        let mut conns = Slab::new();
        let mut peers = Vec::new();
        for codec in codecs {
            let (conn, peer) = connection(codec);
            conns.insert(conn);
            peers.push(peer);
        }
        Fixture {
            conns,
            flow: FlowControl::new(1 << 20),
            schedule: Schedule::default(),
            scratch: Vec::new(),
            deliveries: 0,
            events: EventLog::default(),
            _peers: peers,
        }
    }

    fn outbox(&mut self, max_pending: usize) -> ConnOutbox<'_> {
        for (_, conn) in &mut self.conns {
            conn.max_output = max_pending;
        }
        ConnOutbox {
            conns: &mut self.conns,
            flow: &mut self.flow,
            schedule: &mut self.schedule,
            scratch: &mut self.scratch,
            deliveries: &mut self.deliveries,
            events: &mut self.events,
            stall: false,
        }
    }

    fn output(&mut self, id: usize) -> String {
        String::from_utf8(self.conns[id].output.buffer().clone()).unwrap()
    }
}

fn live<'a>(topic: &'a str, body: &'a Body<'a>) -> Delivery<'a> {
    Delivery {
        kind: DeliveryKind::Live,
        topic,
        body,
        seq: 1,
        ts: 1_733_500_000_000,
        reply: None,
        headers: None,
        publisher: None,
    }
}

#[test]
fn a_wrapping_door_encodes_once_and_wraps_each_subscription() {
    let encodes = Arc::new(AtomicUsize::new(0));
    let codec = || -> Box<dyn Codec> {
        Box::new(Tagging {
            encodes: encodes.clone(),
        })
    };
    let mut f = Fixture::new(vec![codec(), codec()]);
    let to = [
        Recipient {
            conn: ConnId(0),
            tag: SubTag(1),
        },
        Recipient {
            conn: ConnId(0),
            tag: SubTag(2),
        },
        Recipient {
            conn: ConnId(1),
            tag: SubTag(3),
        },
    ];
    f.outbox(1 << 20)
        .deliver(Form(9), &live("/t", &Body::NULL), &to);
    assert_eq!(
        encodes.load(Ordering::SeqCst),
        1,
        "one encoding for the form"
    );
    assert_eq!(f.output(0), "[1]</t>[2]</t>");
    assert_eq!(f.output(1), "[3]</t>");
    let mut dirty = f.schedule.dirty.clone();
    dirty.sort();
    assert_eq!(dirty, [ConnId(0), ConnId(1)], "each scheduled once");
}

#[test]
fn lab_recipients_share_one_encoding_byte_for_byte() {
    let mut f = Fixture::new(vec![
        Door::Lab.codec(&crate::Config::default()),
        Door::Lab.codec(&crate::Config::default()),
    ]);
    let to: Vec<Recipient> = (0..2)
        .map(|i| Recipient {
            conn: ConnId(i),
            tag: SubTag::NONE,
        })
        .collect();
    let body = Body::Json {
        text: Cow::Borrowed("27"),
        xml_len: None,
    };
    f.outbox(1 << 20)
        .deliver(Form(0), &live("/telephony/orange", &body), &to);
    let want = r#"   84{"method":"PUBLISH","topic":"/telephony/orange","msg":27,"seq":1,"ts":1733500000000}"#;
    assert_eq!(f.output(0), want);
    assert_eq!(f.output(1), want);
}

#[test]
fn a_delivery_past_the_limit_drops_that_recipient_only() {
    let mut f = Fixture::new(vec![
        Door::Lab.codec(&crate::Config::default()),
        Door::Lab.codec(&crate::Config::default()),
    ]);
    f.conns[1].output.buffer().extend_from_slice(&[b'x'; 100]);
    let to: Vec<Recipient> = (0..2)
        .map(|i| Recipient {
            conn: ConnId(i),
            tag: SubTag::NONE,
        })
        .collect();
    f.outbox(120)
        .deliver(Form(0), &live("/t", &Body::NULL), &to);
    assert!(!f.conns[0].is_dead());
    assert!(f.conns[1].is_dead(), "100 + a 48-byte frame is over 120");
    assert_eq!(f.conns[1].output.pending(), 0, "its output is discarded");
    assert_eq!(f.schedule.dead, [ConnId(1)]);
}

#[test]
fn a_replay_may_pass_the_limit_and_raises_the_allowance() {
    let mut f = Fixture::new(vec![Door::Lab.codec(&crate::Config::default())]);
    let mut outbox = f.outbox(10);
    assert!(outbox.accepts_replay(ConnId(0)));
    let retained = Delivery {
        kind: DeliveryKind::Retained,
        ..live("/t", &Body::NULL)
    };
    outbox.replay(
        Recipient {
            conn: ConnId(0),
            tag: SubTag::NONE,
        },
        &retained,
    );
    outbox.replay(
        Recipient {
            conn: ConnId(0),
            tag: SubTag::NONE,
        },
        &retained,
    );
    assert!(!f.conns[0].is_dead());
    assert_eq!(f.conns[0].output.allowance(), f.conns[0].output.pending());
    assert!(f.output(0).contains("LAST_MSG"));
}
