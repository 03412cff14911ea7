//! Unit tests of [`broker::core::Router`] without sockets: requests go in as
//! lab frame payloads, decoded into commands by the lab door's real codec;
//! a recording [`Outbox`] keeps every call the router makes and encodes what
//! it is handed with each recipient's codec, as the reactor does, so the
//! frames can be decoded and checked.

use std::collections::HashMap;

use broker::core::{
    Cancel, Command, ConnId, Delivery, DeliveryRule, Filter, Form, Notice, Outbox, Profile,
    Publish, Recipient, Router, SubTag, Subscribe, TopicArg,
};
use broker::doors::lab::{LabCodec, NO_TOPICS};
use broker::doors::{Action, Codec, Decoded};
use protocol::{frame, Body, Format, Message, Method, Topic, Value, MAX_PAYLOAD};

/// What one `deliver` call was handed.
#[derive(Debug, Clone, PartialEq)]
struct Delivered {
    form: Form,
    topic: String,
    to: Vec<Recipient>,
}

/// Records every call, and every frame per recipient, in order.
#[derive(Debug, Default)]
struct Recorder {
    /// Each lab connection's codec, past its handshake.
    codecs: HashMap<ConnId, LabCodec>,
    frames: HashMap<ConnId, Vec<Vec<u8>>>,
    delivered: Vec<Delivered>,
}

impl Recorder {
    /// Encodes once with the first recipient's codec, as the reactor does,
    /// and gives every recipient the same bytes.
    fn fan_out(
        &mut self,
        to: impl Iterator<Item = ConnId>,
        encode: impl Fn(&LabCodec, &mut Vec<u8>),
    ) {
        let mut shared: Option<Vec<u8>> = None;
        for id in to {
            let Some(codec) = self.codecs.get(&id) else {
                continue;
            };
            let bytes = shared.get_or_insert_with(|| {
                let mut out = Vec::new();
                encode(codec, &mut out);
                out
            });
            self.frames.entry(id).or_default().push(bytes.clone());
        }
    }
}

impl Outbox for Recorder {
    fn deliver(&mut self, form: Form, delivery: &Delivery<'_>, to: &[Recipient]) {
        self.delivered.push(Delivered {
            form,
            topic: delivery.topic.to_owned(),
            to: to.to_vec(),
        });
        self.fan_out(to.iter().map(|r| r.conn), |codec, out| {
            codec.encode_delivery(delivery, out).expect("encodable");
        });
    }

    fn notify(&mut self, _form: Form, notice: &Notice<'_>, to: &[ConnId]) {
        self.fan_out(to.iter().copied(), |codec, out| {
            codec.encode_notice(notice, out)
        });
    }

    fn replay(&mut self, to: ConnId, delivery: &Delivery<'_>) {
        self.fan_out(std::iter::once(to), |codec, out| {
            codec.encode_delivery(delivery, out).expect("encodable");
        });
    }
}

/// A router, its recorder and the format of each connection.
struct Harness {
    router: Router,
    out: Recorder,
    formats: HashMap<ConnId, Format>,
}

/// A lab codec past the handshake for `format`, and the profile it gave.
fn handshaken(format: Format) -> (LabCodec, Profile) {
    let mut codec = LabCodec::default();
    let mut hello = Vec::new();
    frame::encode(format.handshake().as_bytes(), &mut hello).unwrap();
    let mut out = Vec::new();
    match codec.decode(&hello, &mut out) {
        Ok(Decoded::Unit {
            action: Action::Start(profile),
            ..
        }) => (codec, profile),
        other => panic!("handshake: {other:?}"),
    }
}

impl Harness {
    fn new() -> Self {
        Harness {
            router: Router::new(),
            out: Recorder::default(),
            formats: HashMap::new(),
        }
    }

    fn connect(&mut self, id: usize, format: Format) -> ConnId {
        let id = ConnId(id);
        let (codec, profile) = handshaken(format);
        self.router.connect(id, profile);
        self.out.codecs.insert(id, codec);
        self.formats.insert(id, format);
        id
    }

    fn disconnect(&mut self, id: ConnId) {
        self.router.disconnect(id, &mut self.out);
    }

    /// Feeds one raw payload from `from` through its codec (a JSON one for
    /// an id that never connected) to the router.
    fn raw(&mut self, from: ConnId, payload: &[u8]) {
        let mut request = Vec::new();
        frame::encode(payload, &mut request).expect("a frame");
        let mut spare = handshaken(Format::Json).0;
        let codec = self.out.codecs.get_mut(&from).unwrap_or(&mut spare);
        let mut answer = Vec::new();
        let action = match codec.decode(&request, &mut answer) {
            Ok(Decoded::Unit { used, action }) => {
                assert_eq!(used, request.len());
                action
            }
            other => panic!("undecodable request: {other:?}"),
        };
        if !answer.is_empty() {
            self.out.frames.entry(from).or_default().push(answer);
        }
        match action {
            Action::Command(command) => self.router.handle(from, command, &mut self.out),
            Action::Answered => {}
            Action::Start(_) => panic!("a second handshake"),
        }
    }

    /// Encodes `m` in `from`'s format and feeds its payload.
    #[track_caller]
    fn req(&mut self, from: ConnId, m: &Message) {
        let format = self.formats[&from];
        let mut frame = Vec::new();
        format.encode(m, &mut frame).expect("encode request");
        self.raw(from, &frame[5..]);
    }

    fn publish(&mut self, from: ConnId, topic: &str, msg: impl Into<Value>) {
        self.req(from, &Message::publish(topic, msg));
    }

    fn subscribe(&mut self, from: ConnId, topic: &str) {
        self.req(from, &Message::subscribe(topic));
    }

    fn cancel(&mut self, from: ConnId, topic: &str) {
        self.req(from, &Message::cancel_sub(topic));
    }

    /// The frames sent to `id` since the last take, each checked to be one
    /// whole frame with a `'{:>5}'` header.
    #[track_caller]
    fn frames(&mut self, id: ConnId) -> Vec<Vec<u8>> {
        let frames = self.out.frames.remove(&id).unwrap_or_default();
        for f in &frames {
            let parsed = frame::decode(f)
                .expect("valid header")
                .expect("a whole frame");
            assert_eq!(parsed.len, f.len(), "exactly one frame per send");
            assert_eq!(&f[..5], format!("{:>5}", f.len() - 5).as_bytes());
            assert!(f.len() - 5 <= MAX_PAYLOAD);
        }
        frames
    }

    /// The messages sent to `id` since the last take, decoded in its format.
    #[track_caller]
    fn take(&mut self, id: ConnId) -> Vec<Message> {
        let format = self.formats[&id];
        self.frames(id)
            .iter()
            .map(|f| {
                format.decode(&f[5..]).unwrap_or_else(|e| {
                    panic!("{format:?} frame {:?}: {e}", String::from_utf8_lossy(f))
                })
            })
            .collect()
    }

    /// Like [`Harness::take`] without the `LIST_ACK` announcements.
    #[track_caller]
    fn take_non_lists(&mut self, id: ConnId) -> Vec<Message> {
        self.take(id)
            .into_iter()
            .filter(|m| m.method != Method::ListAck)
            .collect()
    }

    /// Asserts that nothing at all was sent to any connection.
    #[track_caller]
    fn assert_silent(&mut self) {
        let pending: Vec<_> = self
            .out
            .frames
            .iter()
            .filter(|(_, f)| !f.is_empty())
            .map(|(id, f)| (id.0, f.len()))
            .collect();
        assert!(pending.is_empty(), "unexpected frames: {pending:?}");
    }

    fn clear(&mut self) {
        self.out.frames.clear();
        self.out.delivered.clear();
    }
}

fn strs(items: &[&str]) -> Value {
    Value::List(items.iter().map(|s| Value::from(*s)).collect())
}

fn list_ack(items: &[&str]) -> Message {
    Message::new(Method::ListAck, "/", strs(items))
}

fn last_msg(topic: &str, msg: impl Into<Value>) -> Message {
    Message::new(Method::LastMsg, topic, msg)
}

#[track_caller]
fn assert_error(m: &Message, topic: &str) {
    assert_eq!(m.method, Method::Error, "{m:?}");
    assert_eq!(m.topic, topic, "{m:?}");
    assert!(matches!(&m.msg, Value::Str(s) if !s.is_empty()), "{m:?}");
}

// ------------------------------------------------------------------- dedup

#[test]
fn overlapping_subscriptions_get_one_copy() {
    let mut h = Harness::new();
    let a = h.connect(1, Format::Json);
    let b = h.connect(2, Format::Xml);
    let p = h.connect(3, Format::Json);
    for t in ["/a", "/a/b", "/", "/a/b"] {
        h.subscribe(a, t);
    }
    h.subscribe(b, "/a/b");
    h.subscribe(b, "/a");
    h.clear();
    h.publish(p, "/a/b", 1);
    h.publish(p, "/a/b/c", 2);
    h.publish(p, "/a", 3);
    h.publish(p, "/a/b", 4);
    let want = vec![
        Message::publish("/a/b", 1),
        Message::publish("/a/b/c", 2),
        Message::publish("/a", 3),
        Message::publish("/a/b", 4),
    ];
    assert_eq!(h.take_non_lists(a), want);
    assert_eq!(h.take_non_lists(b), want);
    assert!(h.take(p).is_empty(), "publisher holds no subscription");
}

#[test]
fn publisher_subscribed_gets_its_own_message_once() {
    let mut h = Harness::new();
    let p = h.connect(0, Format::Xml);
    h.subscribe(p, "/me");
    h.subscribe(p, "/");
    h.clear();
    h.publish(p, "/me/x", "hi");
    assert_eq!(
        h.take(p),
        vec![list_ack(&["/me", "/me/x"]), Message::publish("/me/x", "hi")]
    );
}

// ----------------------------------------------------------- LAST_MSG replay

#[test]
fn last_msg_replay_is_sorted_bounded_and_latest() {
    let mut h = Harness::new();
    let p = h.connect(0, Format::Json);
    for (t, v) in [
        ("/a/b", 1),
        ("/a-b", 2),
        ("/a", 3),
        ("/a/c/d", 4),
        ("/ab", 5),
        ("/a/b", 6),
    ] {
        h.publish(p, t, v);
    }
    let j = h.connect(1, Format::Json);
    let x = h.connect(2, Format::Xml);
    h.clear();
    h.subscribe(j, "/a");
    assert_eq!(
        h.take(j),
        vec![
            last_msg("/a", 3),
            last_msg("/a/b", 6),
            last_msg("/a/c/d", 4)
        ]
    );
    h.subscribe(x, "/");
    assert_eq!(
        h.take(x),
        vec![
            last_msg("/a", 3),
            last_msg("/a-b", 2),
            last_msg("/a/b", 6),
            last_msg("/a/c/d", 4),
            last_msg("/ab", 5),
        ]
    );
    // Ancestors created along the way hold nothing: no LAST_MSG for /a/c.
    h.subscribe(j, "/a/c");
    assert_eq!(h.take(j), vec![last_msg("/a/c/d", 4)]);
    h.assert_silent();
}

#[test]
fn last_msg_comes_before_later_deliveries() {
    let mut h = Harness::new();
    let p = h.connect(0, Format::Json);
    let s = h.connect(1, Format::Xml);
    h.publish(p, "/k", 1);
    h.subscribe(s, "/k");
    h.publish(p, "/k", 2);
    assert_eq!(
        h.take(s),
        vec![last_msg("/k", 1), Message::publish("/k", 2)]
    );
}

// ----------------------------------------------------------- announcements

#[test]
fn topic_creation_pushes_one_list_ack_to_subscribed_clients() {
    let mut h = Harness::new();
    let watcher = h.connect(0, Format::Json);
    let xwatcher = h.connect(1, Format::Xml);
    let idle = h.connect(2, Format::Json);
    let p = h.connect(3, Format::Xml);
    h.subscribe(watcher, "/w");
    h.subscribe(xwatcher, "/");
    h.clear();
    // One request creating three topics: one LIST_ACK, before the delivery.
    h.publish(p, "/n/t/u", 1);
    let list = ["/n", "/n/t", "/n/t/u", "/w"];
    assert_eq!(h.take(watcher), vec![list_ack(&list)]);
    assert_eq!(
        h.take(xwatcher),
        vec![list_ack(&list), Message::publish("/n/t/u", 1)]
    );
    assert!(h.take(idle).is_empty());
    assert!(h.take(p).is_empty());
    // Existing topic: no announcement.
    h.publish(p, "/n/t", 2);
    assert!(h.take(watcher).is_empty());
    assert_eq!(h.take(xwatcher), vec![Message::publish("/n/t", 2)]);
    // A SUBSCRIBE that creates topics: the subscriber is included.
    h.subscribe(idle, "/s");
    let list = ["/n", "/n/t", "/n/t/u", "/s", "/w"];
    assert_eq!(h.take(idle), vec![list_ack(&list)]);
    assert_eq!(h.take(watcher), vec![list_ack(&list)]);
    assert_eq!(h.take(xwatcher), vec![list_ack(&list)]);
    assert!(h.take(p).is_empty());
    // Subscribing to existing topics or the root announces nothing.
    h.subscribe(p, "/s");
    h.subscribe(p, "/");
    assert_eq!(
        h.take(p),
        vec![last_msg("/n/t", 2), last_msg("/n/t/u", 1)],
        "only the replay"
    );
    h.assert_silent();
    // Now the publisher holds subscriptions: it is announced to as well.
    h.publish(p, "/q", 3);
    let got = h.take(p);
    assert_eq!(
        got[0],
        list_ack(&["/n", "/n/t", "/n/t/u", "/q", "/s", "/w"])
    );
    assert_eq!(got.len(), 2, "{got:?}");
}

#[test]
fn list_replies_follow_topic_creation() {
    // The first page is cached per format; creation must refresh it.
    let mut h = Harness::new();
    let j = h.connect(0, Format::Json);
    let x = h.connect(1, Format::Xml);
    h.req(j, &Message::list(None));
    assert_eq!(
        h.take(j),
        vec![Message::new(Method::ListNack, "/", NO_TOPICS)]
    );
    h.publish(j, "/b", 1);
    for c in [j, x] {
        h.req(c, &Message::list(None));
        assert_eq!(h.take(c), vec![list_ack(&["/b"])]);
    }
    h.subscribe(x, "/a/z");
    h.clear();
    for c in [j, x] {
        h.req(c, &Message::list(None));
        assert_eq!(h.take(c), vec![list_ack(&["/a", "/a/z", "/b"])]);
    }
    h.publish(x, "/c", 1);
    h.clear();
    for c in [x, j] {
        h.req(c, &Message::list(None));
        assert_eq!(h.take(c), vec![list_ack(&["/a", "/a/z", "/b", "/c"])]);
        h.req(c, &Message::list(Some("/a/z")));
        assert_eq!(h.take(c), vec![list_ack(&["/b", "/c"])]);
        h.req(c, &Message::list(Some("/c")));
        assert_eq!(h.take(c), vec![list_ack(&[])]);
    }
}

#[test]
fn list_pages_cover_all_topics_within_frame_limit() {
    let mut h = Harness::new();
    let p = h.connect(0, Format::Json);
    let mut topics: Vec<String> = (0..300)
        .map(|i| format!("/{i:03}/{}", "&\"<\\é".repeat(150)))
        .collect();
    for t in &topics {
        h.publish(p, t, 1);
    }
    topics.sort();
    let mut want: Vec<String> = topics
        .iter()
        .flat_map(|t| [t[..4].to_owned(), t.clone()])
        .collect();
    want.sort();
    for (id, format) in [(1, Format::Json), (2, Format::Xml)] {
        let c = h.connect(id, format);
        let mut all: Vec<String> = Vec::new();
        let mut cursor: Option<String> = None;
        let mut pages = 0;
        loop {
            h.req(c, &Message::list(cursor.as_deref()));
            let mut got = h.take(c);
            assert_eq!(got.len(), 1);
            let m = got.remove(0);
            assert_eq!(m.method, Method::ListAck);
            pages += 1;
            let Value::List(items) = m.msg else {
                panic!("list")
            };
            let page: Vec<String> = items
                .into_iter()
                .map(|v| match v {
                    Value::Str(s) => s,
                    other => panic!("{other:?}"),
                })
                .collect();
            cursor = page.last().cloned();
            all.extend(page);
            if !m.more {
                break;
            }
            assert!(pages < 50);
        }
        assert!(pages > 2, "{format:?}: {pages} pages");
        assert_eq!(all, want, "{format:?}");
    }
}

// ------------------------------------------------- encode once per format

#[test]
fn each_format_gets_one_encoding_shared_by_its_subscribers() {
    let mut h = Harness::new();
    let json: Vec<ConnId> = (0..3).map(|i| h.connect(i, Format::Json)).collect();
    let xml: Vec<ConnId> = (3..6).map(|i| h.connect(i, Format::Xml)).collect();
    for (i, &c) in json.iter().chain(&xml).enumerate() {
        h.subscribe(c, ["/", "/e", "/e/x"][i % 3]);
        if i % 2 == 0 {
            h.subscribe(c, "/e/x");
        }
    }
    let pj = h.connect(10, Format::Json);
    let px = h.connect(11, Format::Xml);
    let value = Value::Dict(vec![
        ("s".into(), "<&>\r\"".into()),
        ("f".into(), Value::Float(2.0)),
        (
            "l".into(),
            Value::List(vec![Value::Int(i64::MIN), Value::Null]),
        ),
    ]);
    for p in [pj, px] {
        h.clear();
        h.publish(p, "/e/x", value.clone());
        let mut calls: Vec<(Form, usize)> = h
            .out
            .delivered
            .iter()
            .map(|d| (d.form, d.to.len()))
            .collect();
        calls.sort();
        assert_eq!(
            calls,
            [(Form(0), 3), (Form(1), 3)],
            "one outbox call per form, with all its recipients"
        );
        let mut by_format: HashMap<Format, Vec<Vec<u8>>> = HashMap::new();
        for &c in json.iter().chain(&xml) {
            let frames = h.frames(c);
            assert_eq!(frames.len(), 1, "one copy each");
            by_format
                .entry(h.formats[&c])
                .or_default()
                .push(frames[0].clone());
        }
        for (format, frames) in &by_format {
            assert_eq!(frames.len(), 3);
            assert!(
                frames.windows(2).all(|w| w[0] == w[1]),
                "{format:?} subscribers got different bytes"
            );
            let m = format.decode(&frames[0][5..]).unwrap();
            assert_eq!(m, Message::publish("/e/x", value.clone()), "{format:?}");
        }
        assert_ne!(by_format[&Format::Json][0], by_format[&Format::Xml][0]);
        assert_eq!(by_format[&Format::Json][0][5], b'{');
        assert_eq!(by_format[&Format::Xml][0][5], b'<');
    }
}

// ------------------------------------------------------------- disconnect

#[test]
fn disconnect_removes_every_subscription() {
    let mut h = Harness::new();
    let gone = h.connect(4, Format::Json);
    let stays = h.connect(5, Format::Json);
    let p = h.connect(6, Format::Json);
    for t in ["/a", "/b/c", "/"] {
        h.subscribe(gone, t);
    }
    h.subscribe(stays, "/a");
    h.disconnect(gone);
    h.clear();
    h.publish(p, "/a", 1);
    h.publish(p, "/b/c", 2);
    h.publish(p, "/new", 3);
    assert!(
        h.take(gone).is_empty(),
        "delivered to a disconnected client"
    );
    assert_eq!(
        h.take(stays),
        vec![
            Message::publish("/a", 1),
            list_ack(&["/a", "/b", "/b/c", "/new"])
        ]
    );
    // Requests from a disconnected (or never connected) id are ignored.
    h.publish(gone, "/a", 9);
    h.raw(ConnId(99), br#"{"method":"LIST","topic":"/"}"#);
    h.assert_silent();
    // The slot reused by a new connection inherits nothing.
    let again = h.connect(4, Format::Xml);
    h.publish(p, "/a", 4);
    h.publish(p, "/newer", 5);
    assert!(
        h.take(again).is_empty(),
        "new connection inherited subscriptions"
    );
    assert_eq!(h.take(stays).len(), 2);
    // Disconnecting twice is harmless.
    h.disconnect(again);
    h.disconnect(again);
    h.publish(p, "/a", 6);
    assert!(h.take(again).is_empty());
}

// ----------------------------------------------------------------- cancel

#[test]
fn cancel_removes_subscriptions_equal_or_under_only() {
    let mut h = Harness::new();
    let s = h.connect(0, Format::Json);
    let other = h.connect(1, Format::Xml);
    let p = h.connect(2, Format::Json);
    for t in ["/a", "/a/b", "/a/c/d", "/ab", "/x"] {
        h.subscribe(s, t);
    }
    h.subscribe(other, "/a/b");
    h.clear();
    // Cancelling below a subscription keeps it.
    h.cancel(s, "/a/b/z");
    h.cancel(s, "/zzz");
    h.assert_silent();
    h.publish(p, "/a/b", 1);
    assert_eq!(h.take(s), vec![Message::publish("/a/b", 1)]);
    h.clear();
    // Cancelling /a removes /a, /a/b, /a/c/d; /ab and /x stay.
    h.cancel(s, "//a/");
    h.assert_silent();
    for t in ["/a", "/a/b", "/a/c/d", "/ab", "/x"] {
        h.publish(p, t, t);
    }
    let got: Vec<String> = h.take(s).into_iter().map(|m| m.topic).collect();
    assert_eq!(got, ["/ab", "/x"]);
    assert_eq!(h.take(other), vec![Message::publish("/a/b", "/a/b")]);
    // Cancel via msg (the lab middleware's field) wins over topic.
    h.req(s, &Message::new(Method::CancelSub, "/ab", "/x"));
    h.publish(p, "/x", 1);
    h.publish(p, "/ab", 2);
    assert_eq!(h.take(s), vec![Message::publish("/ab", 2)]);
    // Cancelling the root removes the rest; no subscription left means no
    // announcements either.
    h.cancel(s, "/");
    h.publish(p, "/ab", 3);
    h.publish(p, "/brand/new", 4);
    assert!(h.take(s).is_empty());
}

#[test]
fn cancel_of_invalid_topic_is_an_error_in_the_clients_format() {
    let mut h = Harness::new();
    let j = h.connect(0, Format::Json);
    let x = h.connect(1, Format::Xml);
    for c in [j, x] {
        h.subscribe(c, "/keep");
        h.clear();
        for bad in ["nope", "/a b", "/a/#"] {
            h.cancel(c, bad);
            let got = h.take(c);
            assert_eq!(got.len(), 1, "{got:?}");
            assert_error(&got[0], bad);
        }
        // No topic at all (and no usable msg).
        h.req(c, &Message::new(Method::CancelSub, "", Value::Null));
        assert_error(&h.take(c)[0], "");
        // A valid topic with nothing under it: no reply at all.
        h.cancel(c, "/none");
        h.assert_silent();
    }
    let p = h.connect(2, Format::Json);
    h.publish(p, "/keep", 1);
    assert_eq!(h.take(j), vec![Message::publish("/keep", 1)]);
    assert_eq!(h.take(x), vec![Message::publish("/keep", 1)]);
}

// ---------------------------------------------------------- refused input

#[test]
fn refused_requests_change_nothing() {
    let mut h = Harness::new();
    let s = h.connect(0, Format::Xml);
    let j = h.connect(1, Format::Json);
    h.subscribe(s, "/");
    h.clear();
    let huge = "<".repeat(90_000);
    let cases: Vec<(Message, &str)> = vec![
        (Message::publish("/", 1), "/"),
        (Message::publish("//", 1), "//"),
        (Message::publish("no/slash", 1), "no/slash"),
        (Message::publish("/a b", 1), "/a b"),
        (Message::publish("/big", huge.as_str()), "/big"),
        (Message::subscribe("/x*"), "/x*"),
        (Message::new(Method::LastMsg, "/l", 1), "/l"),
        (Message::new(Method::ListAck, "/l", 1), "/l"),
        (Message::new(Method::ListNack, "/l", 1), "/l"),
        (Message::new(Method::Error, "/l", 1), "/l"),
    ];
    for (m, topic) in &cases {
        h.req(j, m);
        let got = h.take(j);
        assert_eq!(got.len(), 1, "{m:?}: {got:?}");
        assert_error(&got[0], topic);
    }
    for payload in [
        &b"{oops"[..],
        b"[]",
        b"\xff",
        br#"{"method":"publish","topic":"/p"}"#,
    ] {
        h.raw(j, payload);
        assert_eq!(h.take(j).len(), 1);
    }
    h.raw(j, br#"{"method":"PUBLISH","topic":"/v","msg":1e999}"#);
    assert_eq!(h.take(j)[0].method, Method::Error);
    h.raw(
        s,
        br#"<message method="PUBLISH" topic="/v"><msg type="bool">yes</msg></message>"#,
    );
    assert_error(&h.take(s)[0], "/v");
    assert_eq!(h.router.tree().len(), 0, "a refused request created topics");
    h.assert_silent();
    h.req(j, &Message::list(None));
    assert_eq!(
        h.take(j),
        vec![Message::new(Method::ListNack, "/", NO_TOPICS)]
    );
}

#[test]
fn tree_holds_topics_and_ancestors() {
    let mut h = Harness::new();
    let p = h.connect(0, Format::Json);
    h.publish(p, "//t//u//v", 1);
    h.subscribe(p, "/t/w");
    let tree = h.router.tree();
    assert_eq!(tree.len(), 4);
    assert_eq!(
        tree.topics_after(None).collect::<Vec<_>>(),
        ["/t", "/t/u", "/t/u/v", "/t/w"]
    );
    assert!(tree.get("/t/u/v").is_some());
    assert!(tree.get("//t//u//v").is_none());
}

// ------------------------------------------- doors with other delivery rules

/// A connection whose door delivers once per subscription, in form 7, with
/// no topic announcements (as the NATS door will).
fn per_subscription_door(h: &mut Harness, id: usize) -> ConnId {
    let id = ConnId(id);
    h.router.connect(
        id,
        Profile {
            form: Form(7),
            rule: DeliveryRule::OncePerSubscription,
            announcements: false,
        },
    );
    id
}

fn subtree(topic: &str) -> Filter<'_> {
    Filter::Subtree(Topic::parse(topic).unwrap())
}

fn tagged_subscribe(h: &mut Harness, from: ConnId, topic: &str, tag: u64) {
    let command = Command::Subscribe(Subscribe {
        filter: subtree(topic),
        topic: TopicArg::new(Topic::parse(topic).unwrap()),
        tag: SubTag(tag),
    });
    h.router.handle(from, command, &mut h.out);
}

#[test]
fn a_per_subscription_door_gets_one_copy_per_matching_subscription_with_its_tag() {
    let mut h = Harness::new();
    let n = per_subscription_door(&mut h, 0);
    let lab = h.connect(1, Format::Json);
    tagged_subscribe(&mut h, n, "/a", 1);
    tagged_subscribe(&mut h, n, "/a/b", 2);
    tagged_subscribe(&mut h, n, "/a/b", 3);
    tagged_subscribe(&mut h, n, "/a/b", 3);
    h.subscribe(lab, "/a");
    h.subscribe(lab, "/a/b");
    h.clear();
    h.publish(lab, "/a/b", 1);
    let mut delivered = h.out.delivered.clone();
    delivered.sort_by_key(|d| d.form);
    assert_eq!(delivered.len(), 2, "{delivered:?}");
    assert_eq!(delivered[0].form, Form(0));
    assert_eq!(delivered[0].to.len(), 1, "the lab connection gets one copy");
    assert_eq!(delivered[1].form, Form(7));
    assert_eq!(delivered[1].topic, "/a/b");
    let mut tags: Vec<u64> = delivered[1].to.iter().map(|r| r.tag.0).collect();
    tags.sort_unstable();
    assert_eq!(
        tags,
        [1, 2, 3],
        "a repeated (tag, filter) is one subscription"
    );
    assert!(delivered[1].to.iter().all(|r| r.conn == n));
}

#[test]
fn a_door_without_announcements_is_not_told_of_new_topics() {
    let mut h = Harness::new();
    let n = per_subscription_door(&mut h, 0);
    let lab = h.connect(1, Format::Json);
    tagged_subscribe(&mut h, n, "/", 1);
    h.subscribe(lab, "/");
    h.clear();
    h.publish(lab, "/new", 1);
    assert_eq!(
        h.take(lab),
        vec![list_ack(&["/new"]), Message::publish("/new", 1)]
    );
    let forms: Vec<Form> = h.out.delivered.iter().map(|d| d.form).collect();
    assert!(forms.contains(&Form(7)), "the delivery still reaches it");
    assert!(!h.out.frames.contains_key(&n), "no notice for it");
}

#[test]
fn cancel_and_disconnect_leave_no_filters_behind() {
    let mut h = Harness::new();
    let a = h.connect(0, Format::Json);
    let b = h.connect(1, Format::Xml);
    for t in ["/x/y/z", "/x", "/q/r"] {
        h.subscribe(a, t);
        h.subscribe(b, t);
    }
    assert_eq!(h.router.subscriptions().len(), 6);
    h.cancel(a, "/x");
    assert_eq!(h.router.subscriptions().len(), 4);
    h.disconnect(b);
    assert_eq!(h.router.subscriptions().len(), 1);
    assert_eq!(h.router.subscriptions().trie_nodes(), 3, "root, /q, /q/r");
    h.router.handle(
        a,
        Command::Cancel(Cancel {
            scope: Topic::root(),
        }),
        &mut h.out,
    );
    assert!(h.router.subscriptions().is_empty());
    assert_eq!(h.router.subscriptions().trie_nodes(), 1, "only the root");
    h.clear();
    h.publish(a, "/q/r", 1);
    assert!(h.out.delivered.is_empty(), "nobody left to deliver to");
}

#[test]
fn commands_built_by_any_door_are_refused_the_same_way() {
    let mut h = Harness::new();
    let j = h.connect(0, Format::Json);
    let publish = |topic: &'static str| {
        let (topic, sent) = Topic::parse_cow(topic.into()).unwrap();
        Command::Publish(Publish {
            topic: TopicArg { topic, sent },
            body: Body::NULL,
        })
    };
    h.router.handle(j, publish("//"), &mut h.out);
    let got = h.take(j);
    assert_error(&got[0], "//");
    assert!(matches!(&got[0].msg, Value::Str(s) if s == "cannot publish to the root topic"));
    assert_eq!(h.router.tree().len(), 0);
}
