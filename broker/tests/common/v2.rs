//! Helpers for the protocol v2 tests (`wire_v2_*.rs`): building v2 requests,
//! reading their answers strictly (the exact keys of `HELLO`, `HISTORY` and
//! `GAP`), a `PING` round trip, and a flood that overflows a stalled reader.
//!
//! As in `wire.rs`, no test sleeps to let the broker catch up: a [`ping`]
//! round trip proves the broker handled everything the connection sent
//! before (v2 §16: `PONG` comes after everything earlier requests queued).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use protocol::{Format, Message, Method, Value};

use super::{read_raw_until_end, split_broker_frames, Ending, Raw, WAIT};

// ---- Values ----

/// An object value with `entries`, in order.
pub fn obj(entries: &[(&str, Value)]) -> Value {
    Value::Dict(
        entries
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .collect(),
    )
}

/// A value from JSON text (for requests written as JSON).
#[track_caller]
pub fn json(text: &str) -> Value {
    protocol::format::json::parse_value(text)
        .unwrap_or_else(|e| panic!("bad JSON in a test: {e}: {text}"))
}

/// The keys of an object value, sorted.
#[track_caller]
pub fn keys(v: &Value) -> Vec<&str> {
    let Value::Dict(entries) = v else {
        panic!("expected an object, got {v:?}")
    };
    let mut keys: Vec<&str> = entries.iter().map(|(k, _)| k.as_str()).collect();
    keys.sort_unstable();
    keys
}

/// Asserts `v` is an object with exactly the keys `want` (any order).
#[track_caller]
pub fn assert_keys(v: &Value, want: &[&str]) {
    let mut want = want.to_vec();
    want.sort_unstable();
    assert_eq!(keys(v), want, "keys of {v:?}");
}

/// The value of `key` in object `v`; panics when absent.
#[track_caller]
pub fn get<'a>(v: &'a Value, key: &str) -> &'a Value {
    let Value::Dict(entries) = v else {
        panic!("expected an object with {key:?}, got {v:?}")
    };
    let mut found = entries.iter().filter(|(k, _)| k == key);
    let (_, value) = found
        .next()
        .unwrap_or_else(|| panic!("no key {key:?} in {v:?}"));
    assert!(found.next().is_none(), "key {key:?} twice in {v:?}");
    value
}

/// `v` as a non-negative integer.
#[track_caller]
pub fn uint(v: &Value) -> u64 {
    match v {
        Value::Int(n) if *n >= 0 => n.unsigned_abs(),
        other => panic!("expected an integer from 0 up, got {other:?}"),
    }
}

/// `v` as a string.
#[track_caller]
pub fn string(v: &Value) -> &str {
    match v {
        Value::Str(s) => s,
        other => panic!("expected a string, got {other:?}"),
    }
}

/// The wall clock in milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    let d = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970");
    u64::try_from(d.as_millis()).expect("ms fit u64")
}

// ---- Requests ----

/// A request with any method, topic and msg.
pub fn request(method: Method, topic: &str, msg: Value) -> Message {
    Message::new(method, topic, msg)
}

/// `SUBSCRIBE topic` with `msg` (v2 options).
pub fn subscribe_with(c: &mut Raw, topic: &str, msg: Value) {
    c.send(&request(Method::Subscribe, topic, msg));
}

/// The `msg` of a resuming `SUBSCRIBE`: `{"resume": {"epoch": epoch,
/// "topics": {topic: seq, ...}}}`.
pub fn resume(epoch: &str, topics: &[(&str, u64)]) -> Value {
    let topics = topics
        .iter()
        .map(|&(t, s)| (t.to_owned(), Value::Int(i64::try_from(s).expect("seq"))))
        .collect();
    obj(&[(
        "resume",
        obj(&[
            ("epoch", Value::from(epoch)),
            ("topics", Value::Dict(topics)),
        ]),
    )])
}

// ---- Reading ----

/// Reads one message as it came (with `seq` and `ts`), checking that it
/// carries them if and only if it is a delivery, as `Raw::recv` does.
#[track_caller]
pub fn recv(c: &mut Raw) -> Message {
    let m = c.recv_stamped();
    let delivery = matches!(m.method, Method::Publish | Method::LastMsg);
    assert_eq!(
        (m.attrs.seq.is_some(), m.attrs.ts.is_some()),
        (delivery, delivery),
        "seq and ts on deliveries only: {m:?}"
    );
    m
}

/// The next message that is not a `LIST_ACK` announcement, stamped.
#[track_caller]
pub fn recv_skipping_lists(c: &mut Raw) -> Message {
    loop {
        let m = recv(c);
        if m.method != Method::ListAck {
            return m;
        }
    }
}

/// Distinct round-trip tokens, so a `PONG` is never taken for another's.
static TOKEN: AtomicU64 = AtomicU64::new(0);

/// Round trip: sends `PING` with a fresh token and returns everything the
/// broker sent `c` before the matching `PONG` (stamped, announcements
/// included).
#[track_caller]
pub fn ping(c: &mut Raw) -> Vec<Message> {
    let token = format!("barrier-{}", TOKEN.fetch_add(1, Ordering::Relaxed));
    c.send(&request(Method::Ping, "/", Value::from(token.as_str())));
    let mut before = Vec::new();
    loop {
        let m = recv(c);
        if m.method == Method::Pong && m.msg == Value::from(token.as_str()) {
            assert_eq!(m.topic, "/", "{m:?}");
            return before;
        }
        before.push(m);
    }
}

/// What [`ping`] returns, without the `LIST_ACK` announcements.
#[track_caller]
pub fn ping_non_lists(c: &mut Raw) -> Vec<Message> {
    ping(c)
        .into_iter()
        .filter(|m| m.method != Method::ListAck)
        .collect()
}

/// A delivery's `(method, topic, seq, msg)`, for comparing replays.
#[track_caller]
pub fn delivery(m: &Message) -> (Method, &str, u64, &Value) {
    let seq = m.attrs.seq.unwrap_or_else(|| panic!("no seq: {m:?}"));
    (m.method, m.topic.as_str(), seq, &m.msg)
}

// ---- HELLO ----

/// Sends `HELLO` with `msg` and returns the answer's `msg`, checking the
/// answer is a `HELLO` on `/`.
#[track_caller]
pub fn hello(c: &mut Raw, msg: Value) -> Value {
    c.send(&request(Method::Hello, "/", msg));
    let m = recv_skipping_lists(c);
    assert_eq!((m.method, m.topic.as_str()), (Method::Hello, "/"), "{m:?}");
    assert!(!m.attrs.more, "{m:?}");
    m.msg
}

/// A client of `format` that said `HELLO` with `msg`; returns it and the
/// broker's epoch.
#[track_caller]
pub fn hello_client(addr: SocketAddr, format: Format, msg: Value) -> (Raw, String) {
    let mut c = Raw::handshake(addr, format);
    let answer = hello(&mut c, msg);
    let epoch = string(get(&answer, "epoch")).to_owned();
    (c, epoch)
}

/// A client of `format` with slow policy `"drop"` subscribed to `topic`,
/// once the broker has registered it.
#[track_caller]
pub fn drop_subscriber(addr: SocketAddr, format: Format, topic: &str) -> Raw {
    let (mut c, _) = hello_client(addr, format, obj(&[("slow", "drop".into())]));
    c.subscribe(topic);
    ping(&mut c);
    c
}

// ---- HISTORY ----

/// One item of a `HISTORY` answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    pub seq: u64,
    pub ts: u64,
    pub msg: Value,
}

/// A `HISTORY` answer, read strictly (exact keys).
#[derive(Debug, Clone, PartialEq)]
pub struct HistoryAnswer {
    pub topic: String,
    pub seq: u64,
    pub first: Option<u64>,
    pub items: Vec<Item>,
    pub more: bool,
}

impl HistoryAnswer {
    /// The items' numbers, in order.
    pub fn seqs(&self) -> Vec<u64> {
        self.items.iter().map(|i| i.seq).collect()
    }
}

/// Reads a `HISTORY` answer: `msg` has exactly `seq`, `first` and `items`,
/// and each item exactly `seq`, `ts` and `msg` (v2 §12).
#[track_caller]
pub fn parse_history(m: &Message) -> HistoryAnswer {
    assert_eq!(m.method, Method::History, "{m:?}");
    assert_keys(&m.msg, &["first", "items", "seq"]);
    let first = match get(&m.msg, "first") {
        Value::Null => None,
        v => Some(uint(v)),
    };
    let Value::List(list) = get(&m.msg, "items") else {
        panic!("HISTORY items must be a list: {m:?}")
    };
    let items = list
        .iter()
        .map(|item| {
            assert_keys(item, &["msg", "seq", "ts"]);
            Item {
                seq: uint(get(item, "seq")),
                ts: uint(get(item, "ts")),
                msg: get(item, "msg").clone(),
            }
        })
        .collect();
    HistoryAnswer {
        topic: m.topic.clone(),
        seq: uint(get(&m.msg, "seq")),
        first,
        items,
        more: m.attrs.more,
    }
}

/// Sends `HISTORY topic msg` and reads the answer.
#[track_caller]
pub fn history(c: &mut Raw, topic: &str, msg: Value) -> HistoryAnswer {
    c.send(&request(Method::History, topic, msg));
    parse_history(&recv_skipping_lists(c))
}

/// `{"since": since, "limit": limit}`, each only when given.
pub fn since_limit(since: Option<u64>, limit: Option<u64>) -> Value {
    let mut entries = Vec::new();
    if let Some(s) = since {
        entries.push(("since".to_owned(), Value::Int(s as i64)));
    }
    if let Some(l) = limit {
        entries.push(("limit".to_owned(), Value::Int(l as i64)));
    }
    Value::Dict(entries)
}

// ---- GAP ----

/// A `GAP`, read strictly (exact keys).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Gap {
    pub topic: String,
    pub from: u64,
    pub to: u64,
    pub reason: String,
    pub epoch: String,
}

/// Reads a `GAP`: `msg` has exactly `from`, `to`, `reason` and `epoch`
/// (v2 §13), and `from <= to`.
#[track_caller]
pub fn parse_gap(m: &Message) -> Gap {
    assert_eq!(m.method, Method::Gap, "{m:?}");
    assert_keys(&m.msg, &["epoch", "from", "reason", "to"]);
    let gap = Gap {
        topic: m.topic.clone(),
        from: uint(get(&m.msg, "from")),
        to: uint(get(&m.msg, "to")),
        reason: string(get(&m.msg, "reason")).to_owned(),
        epoch: string(get(&m.msg, "epoch")).to_owned(),
    };
    assert!(gap.from <= gap.to, "{gap:?}");
    gap
}

/// A `GAP` value to compare with [`parse_gap`]'s.
pub fn gap(topic: &str, from: u64, to: u64, reason: &str, epoch: &str) -> Gap {
    Gap {
        topic: topic.to_owned(),
        from,
        to,
        reason: reason.to_owned(),
        epoch: epoch.to_owned(),
    }
}

// ---- Floods ----

/// Publishes `count` messages of about `size` bytes on `topic` from a new
/// JSON client (the value of message `i` starts with `"{i} "`), then makes
/// a round trip so the broker has handled them all. The writes time out
/// rather than hang if the broker stops reading.
#[track_caller]
pub fn flood(addr: SocketAddr, topic: &str, count: usize, size: usize) -> Raw {
    let mut p = Raw::json(addr);
    p.stream.set_write_timeout(Some(WAIT)).expect("timeout");
    let body = "x".repeat(size);
    let mut batch = Vec::new();
    for i in 0..count {
        let m = Message::publish(topic, format!("{i} {body}"));
        Format::Json.encode(&m, &mut batch).expect("encode");
        if batch.len() > 256 * 1024 {
            p.send_bytes(&batch);
            batch.clear();
        }
    }
    p.send_bytes(&batch);
    let replies = ping(&mut p);
    assert!(
        replies.iter().all(|m| m.method != Method::Error),
        "flood refused: {replies:?}"
    );
    p
}

/// Messages and bytes a flood sends to overflow a stalled reader: well past
/// the kernel's socket buffers on loopback (a few MB) plus any test limit.
pub const FLOOD_COUNT: usize = 5_000;
/// See [`FLOOD_COUNT`].
pub const FLOOD_SIZE: usize = 2_000;

/// Reads a slow-policy-`"drop"` subscriber of `topic` (its only topic with
/// messages) until it can account for every number `1..=count`: each
/// `PUBLISH` must be the next number, each `GAP` (reason `"slow"`, the
/// broker's `epoch`) must start at the next number, so together they cover
/// every number once, in order (v2 §13). Announcements are skipped; anything
/// else fails. Ends with a round trip proving the connection open and
/// nothing more owed. Returns the gaps.
#[track_caller]
pub fn account_for_every_seq(sub: &mut Raw, topic: &str, count: u64, epoch: &str) -> Vec<Gap> {
    let mut next = 1;
    let mut gaps = Vec::new();
    while next <= count {
        let m = recv(sub);
        match m.method {
            Method::ListAck => {}
            Method::Publish => {
                assert_eq!(m.topic, topic, "{m:?}");
                let seq = m.attrs.seq.expect("a delivery has a seq");
                assert_eq!(
                    seq, next,
                    "delivered #{seq} where #{next} was next (gaps so far: {gaps:?})"
                );
                let Value::Str(s) = &m.msg else {
                    panic!("{m:?}")
                };
                assert!(s.starts_with(&format!("{} ", seq - 1)), "#{seq} damaged");
                next += 1;
            }
            Method::Gap => {
                let g = parse_gap(&m);
                assert_eq!(
                    (g.topic.as_str(), g.reason.as_str()),
                    (topic, "slow"),
                    "{g:?}"
                );
                assert_eq!(g.epoch, epoch, "{g:?}");
                assert_eq!(g.from, next, "GAP {g:?} where #{next} was next");
                assert!(g.to <= count, "GAP {g:?} past the last #{count}");
                next = g.to + 1;
                gaps.push(g);
            }
            _ => panic!("unexpected {m:?} (#{next} next)"),
        }
    }
    let rest = ping_non_lists(sub);
    assert!(rest.is_empty(), "after every number: {rest:?}");
    gaps
}

/// Asserts the broker closed `sub` (EOF or reset) before it could read all
/// of a flood of [`FLOOD_COUNT`] messages, and sent it no `GAP`: the
/// disconnect policy (v1 §8).
#[track_caller]
pub fn expect_dropped_as_slow(sub: &mut Raw) {
    let (bytes, ending) = read_raw_until_end(&mut sub.stream, Duration::from_secs(5));
    assert_ne!(
        ending,
        Ending::TimedOut,
        "a slow consumer with policy \"disconnect\" is still connected"
    );
    let (frames, _tail) = split_broker_frames(&bytes).expect("frames");
    let mut deliveries = 0;
    for f in &frames {
        let m = sub.format.decode(f).expect("decodable frame");
        assert_ne!(m.method, Method::Gap, "GAP sent under policy disconnect");
        deliveries += usize::from(m.method == Method::Publish);
    }
    assert!(deliveries < FLOOD_COUNT, "it got all {deliveries} messages");
}
