//! Wire protocol v2's first rule, against a real broker over TCP: a v1
//! client (one that never says `HELLO`) sees no difference but the keys
//! `seq` and `ts` on deliveries, whatever v2 features other clients use:
//! every other v2 frame goes only to a client that asked for it.
//!
//! Helpers are in `common/v2.rs`.

mod common;

use std::thread;

use broker::Config;
use common::v2::{
    account_for_every_seq, drop_subscriber, flood, hello_client, json, obj, ping, request, resume,
    since_limit, subscribe_with, FLOOD_COUNT, FLOOD_SIZE,
};
use common::wire::barrier;
use common::{start_broker_with, Raw};
use protocol::{Format, Message, Method, Value};

/// The top-level keys of a frame as sent: JSON object keys, or XML
/// attributes of `message` (with `msg` when there is a `msg` element).
fn top_level_keys(format: Format, payload: &[u8]) -> Vec<String> {
    let text = std::str::from_utf8(payload).expect("UTF-8");
    let mut keys: Vec<String> = match format {
        Format::Json => common::v2::keys(&json(text))
            .into_iter()
            .map(str::to_owned)
            .collect(),
        Format::Xml => {
            let start = text.find("<message").expect("a message element");
            let end = start + text[start..].find('>').expect("end of the start tag");
            let mut keys: Vec<String> = text[start + "<message".len()..end]
                .split_whitespace()
                .filter_map(|attr| attr.split_once('=').map(|(k, _)| k.to_owned()))
                .collect();
            if text[end..].contains("<msg") {
                keys.push("msg".into());
            }
            keys
        }
    };
    keys.sort_unstable();
    keys
}

/// Reads `c` until the `PUBLISH` of "end" on `/end`, checking every frame is
/// one a v1 client asks for (PUBLISH, LAST_MSG, LIST_ACK) with exactly its
/// v1 keys plus `seq` and `ts` on deliveries. Returns the deliveries as
/// `(method, topic, seq)`.
fn read_as_v1(mut c: Raw) -> Vec<(Method, String, u64)> {
    let mut deliveries = Vec::new();
    loop {
        let payload = c.recv_payload().expect("the v1 client was disconnected");
        let m = c.format.decode(&payload).expect("decodable");
        let keys = top_level_keys(c.format, &payload);
        match m.method {
            Method::Publish | Method::LastMsg => {
                assert_eq!(keys, ["method", "msg", "seq", "topic", "ts"], "{m:?}");
                let seq = m.attrs.seq.expect("seq");
                deliveries.push((m.method, m.topic.clone(), seq));
            }
            Method::ListAck => assert_eq!(keys, ["method", "msg", "topic"], "{m:?}"),
            _ => panic!(
                "{:?} v1 client got a frame it did not ask for: {m:?}",
                c.format
            ),
        }
        if m == Message::publish("/end", "end").with_stamps(&m) {
            return deliveries;
        }
    }
}

/// `Message` with the `seq` and `ts` of another, for comparisons.
trait WithStamps {
    fn with_stamps(self, of: &Message) -> Message;
}

impl WithStamps for Message {
    fn with_stamps(mut self, of: &Message) -> Message {
        self.attrs.seq = of.attrs.seq;
        self.attrs.ts = of.attrs.ts;
        self
    }
}

#[test]
fn s10_a_v1_client_gets_no_frame_it_did_not_ask_for() {
    let b = start_broker_with(Config {
        max_pending_output: 256 * 1024,
        history: 3,
        ..Config::default()
    });
    let (mut v2, epoch) = hello_client(b.addr, Format::Json, obj(&[("name", "bee".into())]));
    for i in 1..=5 {
        v2.publish("/w/h", i);
    }
    ping(&mut v2);
    // v1 clients of both formats, subscribed to everything, reading in
    // threads as fast as they can.
    let readers: Vec<_> = Format::ALL
        .into_iter()
        .map(|format| {
            let mut c = Raw::handshake(b.addr, format);
            c.subscribe("/");
            // v1's own: the replay of its SUBSCRIBE and the LIST reply.
            let replay = barrier(&mut c);
            assert_eq!(replay, [Message::new(Method::LastMsg, "/w/h", 5)]);
            thread::spawn(move || read_as_v1(c))
        })
        .collect();
    // A drop-policy client that stalls and is owed GAPs.
    let mut stalled = drop_subscriber(b.addr, Format::Json, "/w/flood");
    flood(b.addr, "/w/flood", FLOOD_COUNT, FLOOD_SIZE);
    let gaps = account_for_every_seq(&mut stalled, "/w/flood", FLOOD_COUNT as u64, &epoch);
    assert!(
        !gaps.is_empty(),
        "the flood never overflowed the stalled client"
    );
    // Everything else v2 has: HISTORY, resumes with GAPs and replays,
    // PING, a second HELLO, refusals.
    v2.send(&request(
        Method::History,
        "/w/h",
        since_limit(Some(1), Some(2)),
    ));
    subscribe_with(&mut v2, "/w", resume("old", &[("/w/h", 2)]));
    subscribe_with(&mut v2, "/w/h", resume(&epoch, &[("/w/h", 1)]));
    v2.send(&request(Method::Ping, "/w", Value::from("p")));
    v2.send(&request(
        Method::Hello,
        "/",
        obj(&[("slow", "drop".into())]),
    ));
    v2.send(&request(Method::History, "/w/*", Value::Null));
    v2.send(&request(Method::Hello, "/", obj(&[("name", "".into())])));
    v2.publish("/w/h", 6);
    v2.publish("/end", "end");
    ping(&mut v2);
    for (format, reader) in Format::ALL.into_iter().zip(readers) {
        let got = reader.join().expect("v1 reader");
        let flood: Vec<u64> = got
            .iter()
            .filter(|(_, t, _)| t == "/w/flood")
            .map(|(m, _, s)| {
                assert_eq!(*m, Method::Publish);
                *s
            })
            .collect();
        assert_eq!(
            flood,
            (1..=FLOOD_COUNT as u64).collect::<Vec<_>>(),
            "{format:?}"
        );
        let rest: Vec<_> = got
            .into_iter()
            .filter(|(_, t, _)| t != "/w/flood")
            .collect();
        let want = [(Method::Publish, "/w/h", 6), (Method::Publish, "/end", 1)];
        let want: Vec<_> = want.iter().map(|&(m, t, s)| (m, t.to_owned(), s)).collect();
        assert_eq!(rest, want, "{format:?}");
    }
}
