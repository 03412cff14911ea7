//! The router: every rule of the spec that is not about sockets.
//!
//! It owns the topic tree and one [`Session`] per handshaken connection, takes
//! decoded-or-not frame payloads, and emits frames through an [`Outbox`]. It
//! never touches a socket, so the routing rules are unit tested without any.
//!
//! A delivery is encoded once per format present among its recipients, never
//! once per subscriber; recipients are deduplicated with an epoch stamp per
//! session instead of a per-publish set.

use std::borrow::Cow;

use log::debug;
use protocol::topic::{is_under, normalize};
use protocol::{Body, Format, Method, Value, MAX_PAYLOAD};

use crate::topic_tree::{NodeId, TopicLimit, TopicTree};
use crate::ConnId;

/// Where the router sends frames.
pub trait Outbox {
    /// Queues one whole frame (header included) for connection `to`.
    fn send(&mut self, to: ConnId, frame: &[u8]);

    /// Whether a long reply, such as the `LAST_MSG` replay of a subscribe,
    /// may be queued for `to` (with [`Outbox::send_reply`]): not when `to`
    /// already has more output pending than a client that reads would.
    fn accepts_reply(&mut self, to: ConnId) -> bool {
        let _ = to;
        true
    }

    /// Queues one frame of an accepted long reply. The client asked for all
    /// of it at once, so it may take the output past the slow-consumer limit,
    /// unlike deliveries, which a client has had the chance to read.
    fn send_reply(&mut self, to: ConnId, frame: &[u8]) {
        self.send(to, frame);
    }
}

/// Requests up to this size cannot yield a delivery over the frame limit in
/// either format (16 * 4096 + 6 * 1024 plus an envelope is under 99,999), so
/// their size is not checked.
const SMALL_REQUEST: usize = 4096;

/// The LIST_NACK text the lab uses.
pub const NO_TOPICS: &str = "No topics created yet.";

/// Per-connection routing state.
#[derive(Debug)]
struct Session {
    format: Format,
    /// Reverse index: the nodes this client subscribes to, so cancelling and
    /// disconnecting cost this client's subscriptions, not all topics.
    subs: Vec<NodeId>,
    /// The last publish epoch this session was collected for (deduplication).
    seen_epoch: u64,
    /// The topic this client last published on and its node: a publisher
    /// usually repeats its topic, and a string compare is cheaper than a hash
    /// lookup. Valid for ever, since topics are never removed.
    last_publish: Option<(String, NodeId)>,
}

/// Routing state; see the module docs.
#[derive(Debug, Default)]
pub struct Router {
    tree: TopicTree,
    sessions: Vec<Option<Session>>,
    epoch: u64,
    recipients: Vec<ConnId>,
    /// One reusable encode buffer per format.
    scratch: [Vec<u8>; 2],
    /// The first LIST_ACK page per format; dropped when a topic is created.
    list_cache: [Option<Vec<u8>>; 2],
    /// Most bytes of retained JSON text; a publish that would pass it is
    /// refused (0 stands for no limit, as in `Router::new`).
    max_retained: usize,
}

impl Router {
    /// A router with no topics and no sessions, and no limit on topics.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// A router that holds at most `max_topics` topics and `max_retained`
    /// bytes of retained JSON text.
    #[must_use]
    pub fn with_limits(max_topics: usize, max_retained: usize) -> Self {
        Router {
            tree: TopicTree::with_max_topics(max_topics),
            max_retained,
            ..Self::default()
        }
    }

    /// Registers a connection that completed its handshake.
    pub fn connect(&mut self, id: ConnId, format: Format) {
        if self.sessions.len() <= id.0 {
            self.sessions.resize_with(id.0 + 1, || None);
        }
        self.sessions[id.0] = Some(Session {
            format,
            subs: Vec::new(),
            seen_epoch: 0,
            last_publish: None,
        });
    }

    /// Forgets a connection and all its subscriptions.
    pub fn disconnect(&mut self, id: ConnId) {
        if let Some(session) = self.sessions.get_mut(id.0).and_then(Option::take) {
            for node in session.subs {
                self.tree.unsubscribe(node, id);
            }
        }
    }

    /// The topic tree, for inspection.
    #[must_use]
    pub fn tree(&self) -> &TopicTree {
        &self.tree
    }

    fn session(&self, id: ConnId) -> Option<&Session> {
        self.sessions.get(id.0).and_then(Option::as_ref)
    }

    fn session_mut(&mut self, id: ConnId) -> Option<&mut Session> {
        self.sessions.get_mut(id.0).and_then(Option::as_mut)
    }

    /// Handles one frame payload from a handshaken connection; every reply and
    /// delivery goes through `out`. Bad requests get one `ERROR` and no effect.
    pub fn handle(&mut self, from: ConnId, payload: &[u8], out: &mut impl Outbox) {
        let Some(format) = self.session(from).map(|s| s.format) else {
            return;
        };
        let envelope = match format.decode_envelope(payload) {
            Ok(e) => e,
            Err(e) => {
                let topic = format.recover_topic(payload).unwrap_or_default();
                self.error(from, &topic, &e.to_string(), out);
                return;
            }
        };
        let raw_topic = envelope.topic.as_deref().unwrap_or("");
        match envelope.method {
            Method::Publish => self.publish(from, raw_topic, &envelope.msg, payload.len(), out),
            Method::Subscribe => self.subscribe(from, raw_topic, out),
            Method::CancelSub => {
                let target = envelope.msg.as_nonempty_str();
                let target = target.as_deref().unwrap_or(raw_topic);
                self.cancel(from, target, raw_topic, out);
            }
            Method::List => self.list(from, raw_topic, &envelope.msg, out),
            other => {
                let reason =
                    format!("method {other} is sent by the broker, not accepted from clients");
                self.error(from, raw_topic, &reason, out);
            }
        }
    }

    fn valid_topic<'t>(
        &mut self,
        from: ConnId,
        raw: &'t str,
        out: &mut impl Outbox,
    ) -> Option<Cow<'t, str>> {
        match normalize(raw) {
            Ok(t) => Some(t),
            Err(e) => {
                self.error(from, raw, &e.to_string(), out);
                None
            }
        }
    }

    fn publish(
        &mut self,
        from: ConnId,
        raw: &str,
        body: &Body<'_>,
        request_len: usize,
        out: &mut impl Outbox,
    ) {
        let Some(topic) = self.valid_topic(from, raw, out) else {
            return;
        };
        if topic == "/" {
            self.error(from, raw, "cannot publish to the root topic", out);
            return;
        }
        // LAST_MSG is the longer method name, so its frame bounds every delivery
        // of this message; both formats are checked whoever is subscribed now.
        // A short request needs no check: its value takes at most 16 bytes of
        // XML per byte of JSON (Body::xml_len_bound) and its XML at most about
        // 4 bytes per byte when rewritten (`<item/>` becomes
        // `<item type="str"></item>`), and a topic at most 6 bytes per byte.
        let checks = if request_len > SMALL_REQUEST {
            &Format::ALL[..]
        } else {
            &[]
        };
        for &format in checks {
            let len = format
                .max_payload_len(Method::LastMsg, &topic, body, false)
                .and_then(|bound| match bound {
                    b if b <= MAX_PAYLOAD => Ok(b),
                    _ => format.payload_len(Method::LastMsg, &topic, body, false),
                });
            match len {
                Ok(len) if len <= MAX_PAYLOAD => {}
                Ok(len) => {
                    let reason = format!("message too large: its {format:?} delivery would be {len} bytes, over the frame limit of {MAX_PAYLOAD}");
                    self.error(from, raw, &reason, out);
                    return;
                }
                Err(e) => {
                    self.error(from, raw, &e.to_string(), out);
                    return;
                }
            }
        }
        if let Err(reason) = self.check_retained(&topic, body) {
            self.error(from, raw, &reason, out);
            return;
        }
        let (node, created) = match self.publish_node(from, &topic) {
            Ok(found) => found,
            Err(e) => {
                self.error(from, raw, &e.to_string(), out);
                return;
            }
        };
        self.tree.retain(node, body);
        if created {
            self.announce(out);
        }
        self.epoch += 1;
        let epoch = self.epoch;
        let mut wanted = [false; 2];
        let (tree, sessions, recipients) = (&self.tree, &mut self.sessions, &mut self.recipients);
        recipients.clear();
        tree.for_each_subscriber(node, |c| {
            if let Some(Some(s)) = sessions.get_mut(c.0) {
                if s.seen_epoch != epoch {
                    s.seen_epoch = epoch;
                    wanted[s.format.index()] = true;
                    recipients.push(c);
                }
            }
        });
        if recipients.is_empty() {
            return;
        }
        for format in Format::ALL {
            let buf = &mut self.scratch[format.index()];
            buf.clear();
            if wanted[format.index()] {
                // Sizes were checked above, so encoding cannot fail; an empty
                // buffer is skipped below all the same.
                let _ = format.encode_parts(Method::Publish, &topic, body, false, buf);
            }
        }
        for &r in &self.recipients {
            if let Some(Some(s)) = self.sessions.get(r.0) {
                let frame = &self.scratch[s.format.index()];
                if !frame.is_empty() {
                    out.send(r, frame);
                }
            }
        }
    }

    /// Whether retaining `body` on `topic` keeps retained data within its
    /// limit. One addition per publish; the exact check (which looks the
    /// topic up) only runs near the limit.
    fn check_retained(&self, topic: &str, body: &Body<'_>) -> Result<(), String> {
        if self.max_retained == 0 {
            return Ok(());
        }
        let new = match body {
            Body::Json { text, .. } => text.len(),
            Body::Value(v) => v.to_string().len(),
        };
        let total = self.tree.retained_bytes();
        if total + new <= self.max_retained {
            return Ok(());
        }
        let old = self
            .tree
            .get(topic)
            .map_or(0, |n| self.tree.retained_len(n));
        if total - old + new <= self.max_retained {
            return Ok(());
        }
        Err(format!(
            "retained data limit reached: the broker keeps at most {} bytes of last messages",
            self.max_retained
        ))
    }

    /// The node of a publish's topic, created if need be, through the
    /// publisher's last-topic cache.
    fn publish_node(&mut self, from: ConnId, topic: &str) -> Result<(NodeId, bool), TopicLimit> {
        let Some(session) = self.sessions.get_mut(from.0).and_then(Option::as_mut) else {
            return self.tree.get_or_create(topic);
        };
        if let Some((last, node)) = &session.last_publish {
            if last == topic {
                return Ok((*node, false));
            }
        }
        let (node, created) = self.tree.get_or_create(topic)?;
        match &mut session.last_publish {
            Some((last, cached)) => {
                last.clear();
                last.push_str(topic);
                *cached = node;
            }
            None => session.last_publish = Some((topic.to_owned(), node)),
        }
        Ok((node, created))
    }

    fn subscribe(&mut self, from: ConnId, raw: &str, out: &mut impl Outbox) {
        let Some(topic) = self.valid_topic(from, raw, out) else {
            return;
        };
        let (node, created) = match self.tree.get_or_create(&topic) {
            Ok(found) => found,
            Err(e) => {
                self.error(from, raw, &e.to_string(), out);
                return;
            }
        };
        if self.tree.subscribe(node, from) {
            if let Some(s) = self.session_mut(from) {
                s.subs.push(node);
            }
        }
        debug!("conn {} subscribed to {topic}", from.0);
        if created {
            self.announce(out);
        }
        let Some(format) = self.session(from).map(|s| s.format) else {
            return;
        };
        if !out.accepts_reply(from) {
            return;
        }
        let buf = &mut self.scratch[format.index()];
        for (path, retained) in self.tree.retained_under(&topic) {
            buf.clear();
            if format
                .encode_parts(Method::LastMsg, path, &retained.body(), false, buf)
                .is_ok()
            {
                out.send_reply(from, buf);
            }
        }
    }

    fn cancel(&mut self, from: ConnId, target: &str, raw: &str, out: &mut impl Outbox) {
        // The ERROR echoes the request's topic field (spec §5), even when the
        // topic to cancel came from `msg`.
        let target = match normalize(target) {
            Ok(t) => t,
            Err(e) => {
                self.error(from, raw, &format!("cannot cancel {target:?}: {e}"), out);
                return;
            }
        };
        let Some(session) = self.sessions.get_mut(from.0).and_then(Option::as_mut) else {
            return;
        };
        let tree = &mut self.tree;
        session.subs.retain(|&node| {
            if is_under(tree.path(node), &target) {
                tree.unsubscribe(node, from);
                false
            } else {
                true
            }
        });
        debug!("conn {} cancelled {target} (request topic {raw:?})", from.0);
    }

    fn list(&mut self, from: ConnId, raw: &str, msg: &Body<'_>, out: &mut impl Outbox) {
        let Some(format) = self.session(from).map(|s| s.format) else {
            return;
        };
        let cursor = msg.as_nonempty_str();
        if cursor.is_none() && !msg.is_null() {
            self.error(
                from,
                raw,
                "LIST takes null or a topic to list after in msg",
                out,
            );
            return;
        }
        if self.tree.is_empty() {
            let buf = &mut self.scratch[format.index()];
            buf.clear();
            if format
                .encode_value(Method::ListNack, "/", &Value::from(NO_TOPICS), false, buf)
                .is_ok()
            {
                out.send(from, buf);
            }
            return;
        }
        match cursor {
            None => {
                let frame = self.first_list_page(format);
                out.send(from, frame);
            }
            Some(cursor) => {
                let buf = &mut self.scratch[format.index()];
                buf.clear();
                encode_list_page(&self.tree, format, Some(&cursor), buf);
                out.send(from, buf);
            }
        }
    }

    fn first_list_page(&mut self, format: Format) -> &[u8] {
        let tree = &self.tree;
        self.list_cache[format.index()].get_or_insert_with(|| {
            let mut buf = Vec::new();
            encode_list_page(tree, format, None, &mut buf);
            buf
        })
    }

    /// Pushes the new topic list to every client holding a subscription (spec §7).
    fn announce(&mut self, out: &mut impl Outbox) {
        self.list_cache = [None, None];
        for i in 0..self.sessions.len() {
            let Some(format) = self.sessions[i]
                .as_ref()
                .filter(|s| !s.subs.is_empty())
                .map(|s| s.format)
            else {
                continue;
            };
            let frame = self.first_list_page(format);
            out.send(ConnId(i), frame);
        }
    }

    /// Sends one `ERROR` echoing the request's topic (dropped if it cannot be
    /// encoded, e.g. too long to fit a frame next to the reason).
    fn error(&mut self, to: ConnId, topic: &str, reason: &str, out: &mut impl Outbox) {
        let Some(format) = self.session(to).map(|s| s.format) else {
            return;
        };
        debug!("conn {}: ERROR {reason}", to.0);
        let buf = &mut self.scratch[format.index()];
        buf.clear();
        let reason = Value::from(reason);
        if format
            .encode_value(Method::Error, topic, &reason, false, buf)
            .is_err()
        {
            buf.clear();
            let _ = format.encode_value(Method::Error, "", &reason, false, buf);
        }
        if !buf.is_empty() {
            out.send(to, buf);
        }
    }
}

/// Bytes one topic adds to a LIST_ACK's list, in `format` (topics hold no
/// whitespace or control characters, so only these escapes can occur).
fn list_item_len(format: Format, topic: &str) -> usize {
    let count = |c: u8| topic.bytes().filter(|&b| b == c).count();
    match format {
        Format::Json => 2 + topic.len() + count(b'"') + count(b'\\') + 1,
        Format::Xml => {
            r#"<item type="str"></item>"#.len()
                + topic.len()
                + 4 * count(b'&')
                + 3 * (count(b'<') + count(b'>'))
        }
    }
}

/// Encodes the LIST_ACK page of topics after `cursor` that fits one frame.
fn encode_list_page(tree: &TopicTree, format: Format, cursor: Option<&str>, buf: &mut Vec<u8>) {
    let empty = Value::List(Vec::new());
    let base = format
        .payload_len(
            Method::ListAck,
            "/",
            &Body::Value(Cow::Borrowed(&empty)),
            true,
        )
        .unwrap_or(MAX_PAYLOAD);
    let mut size = base;
    let mut topics = Vec::new();
    let mut more = false;
    for topic in tree.topics_after(cursor) {
        size += list_item_len(format, topic);
        if size > MAX_PAYLOAD {
            more = true;
            break;
        }
        topics.push(Value::from(topic));
    }
    let msg = Value::List(topics);
    if format
        .encode_value(Method::ListAck, "/", &msg, more, buf)
        .is_err()
    {
        buf.clear();
    }
}
