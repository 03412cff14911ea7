//! Answering the monitoring side's queries (see [`crate::monitor`]) at the
//! end of a loop turn, with owned snapshots of the reactor's state.
//!
//! Nothing here runs per message: the counters are bumped where the reactor
//! already reads, delivers and drops. Each query is bounded (pages are
//! capped by the HTTP side, prefix scans here) and so is the number answered
//! per turn, so monitoring can delay a turn only a little and never stalls
//! message traffic.

use std::net::SocketAddr;

use super::connection::{Connection, Life};
use super::Broker;
use crate::core::ConnId;
use crate::monitor::view::{
    ConnectionPage, ConnectionView, DoorView, EventsView, MetricsView, PrefixView, ServerView,
    TopicMessage, TopicPage, TopicView,
};
use crate::monitor::{Query, Traffic};

/// Queries answered per loop turn at most; the rest wait for the next turn.
const QUERIES_PER_TURN: usize = 16;
/// Topics one `/metrics` prefix scan looks at, at most.
pub const PREFIX_SCAN: usize = 100_000;

impl Broker {
    /// Adds a removed connection's traffic to its door's total.
    pub(super) fn fold_traffic(&mut self, conn: &Connection) {
        let traffic = conn.traffic();
        match self
            .closed_traffic
            .iter_mut()
            .find(|(d, _)| *d == conn.door)
        {
            Some((_, total)) => total.add(&traffic),
            None => self.closed_traffic.push((conn.door, traffic)),
        }
    }

    /// Answers the queries waiting, at most [`QUERIES_PER_TURN`]; stays due
    /// if some are left.
    pub(super) fn answer_queries(&mut self) {
        if !self.queries_due {
            return;
        }
        let Some(inbox) = self.inbox.as_ref() else {
            self.queries_due = false;
            return;
        };
        for _ in 0..QUERIES_PER_TURN {
            match inbox.next() {
                Some(query) => self.answer(query),
                None => {
                    self.queries_due = false;
                    return;
                }
            }
        }
    }

    /// Answers one query; an asker that went away is ignored.
    fn answer(&self, query: Query) {
        match query {
            Query::Server(reply) => {
                let _ = reply.send(self.server_view());
            }
            Query::Connections {
                after,
                limit,
                reply,
            } => {
                let _ = reply.send(self.connection_page(after, limit));
            }
            Query::Topics {
                prefix,
                after,
                limit,
                reply,
            } => {
                let _ = reply.send(self.topic_page(prefix, after.as_deref(), limit));
            }
            Query::Topic { name, reply } => {
                let _ = reply.send(self.topic_message(name));
            }
            Query::Events { limit, reply } => {
                let _ = reply.send(EventsView {
                    total: self.events.total(),
                    events: self.events.newest(limit).cloned().collect(),
                });
            }
            Query::Metrics(reply) => {
                let _ = reply.send(MetricsView {
                    server: self.server_view(),
                    prefixes: self.prefix_views(),
                });
            }
        }
    }

    fn server_view(&self) -> ServerView {
        let mut doors: Vec<DoorView> = self
            .listeners
            .iter()
            .map(|l| DoorView {
                door: l.door.name(),
                addr: l
                    .local_addr()
                    .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0))),
                connections: 0,
                traffic: self
                    .closed_traffic
                    .iter()
                    .find(|(d, _)| *d == l.door)
                    .map(|(_, t)| *t)
                    .unwrap_or_default(),
            })
            .collect();
        for (_, conn) in &self.conns {
            if let Some(door) = doors.iter_mut().find(|d| d.door == conn.door.name()) {
                door.connections += 1;
                door.traffic.add(&conn.traffic());
            }
        }
        let mut traffic = Traffic::default();
        for door in &doors {
            traffic.add(&door.traffic);
        }
        let tree = self.router.tree();
        ServerView {
            version: env!("CARGO_PKG_VERSION"),
            started_at_ms: self.started.1,
            uptime_s: self.started.0.elapsed().as_secs_f64(),
            doors,
            http: self.side_addrs.http,
            connections: self.conns.len(),
            topics: tree.len(),
            subscriptions: self.router.subscriptions().len(),
            kept_bytes: tree.kept_bytes(),
            traffic,
            events: self.events.total(),
        }
    }

    fn connection_page(&self, after: Option<usize>, limit: usize) -> ConnectionPage {
        let mut connections: Vec<ConnectionView> = self
            .conns
            .iter()
            .filter(|(id, _)| after.is_none_or(|a| *id > a))
            .take(limit.saturating_add(1))
            .map(|(id, conn)| {
                let session = self.router.session_view(ConnId(id));
                ConnectionView {
                    id,
                    door: conn.door.name(),
                    format: conn.codec.describe(),
                    name: session.and_then(|s| s.name).map(str::to_owned),
                    peer: conn.peer,
                    state: match conn.life() {
                        Life::Handshake => "handshake",
                        Life::Open => "open",
                        Life::Closing => "closing",
                        Life::Dead => "dead",
                    },
                    subscriptions: session.map_or(0, |s| s.subscriptions),
                    pending_output: conn.output.pending(),
                    traffic: conn.traffic(),
                }
            })
            .collect();
        let next = (connections.len() > limit).then(|| {
            connections.truncate(limit);
            connections.last().map_or(0, |c| c.id)
        });
        ConnectionPage {
            total: self.conns.len(),
            connections,
            next,
        }
    }

    fn topic_page(&self, prefix: String, after: Option<&str>, limit: usize) -> TopicPage {
        let tree = self.router.tree();
        let mut topics: Vec<TopicView> = tree
            .under_after(&prefix, after)
            .take(limit.saturating_add(1))
            .map(|(path, id)| {
                let history = tree.history(id);
                TopicView {
                    topic: path.to_owned(),
                    seq: history.map_or(0, |h| h.seq()),
                    subscribers: self.router.subscribers_of(path),
                    retained_bytes: tree.newest_len(id),
                    history: history.map_or(0, |h| h.len()),
                    rate: None,
                }
            })
            .collect();
        let next = (topics.len() > limit).then(|| {
            topics.truncate(limit);
            topics.last().map(|t| t.topic.clone()).unwrap_or_default()
        });
        TopicPage {
            prefix,
            topics,
            next,
        }
    }

    fn topic_message(&self, name: String) -> Option<TopicMessage> {
        let tree = self.router.tree();
        let history = tree.history(tree.get(&name)?)?;
        let newest = history.newest();
        Some(TopicMessage {
            seq: newest.map_or(0, |e| e.seq),
            ts: newest.map_or(0, |e| e.ts),
            json: newest.map(|e| e.text().to_owned()),
            topic: name,
        })
    }

    /// The configured prefixes' aggregates, each subtree scanned up to
    /// [`PREFIX_SCAN`] topics.
    fn prefix_views(&self) -> Vec<PrefixView> {
        let tree = self.router.tree();
        self.config
            .metrics_prefixes
            .iter()
            .map(|prefix| {
                let mut view = PrefixView {
                    prefix: prefix.clone(),
                    topics: 0,
                    messages: 0,
                    retained_bytes: 0,
                    subscribers: self.router.subscribers_of(prefix),
                    truncated: false,
                };
                for (_, id) in tree.under_after(prefix, None) {
                    if view.topics == PREFIX_SCAN {
                        view.truncated = true;
                        break;
                    }
                    view.topics += 1;
                    view.messages += tree.history(id).map_or(0, |h| h.seq());
                    view.retained_bytes += tree.newest_len(id);
                }
                view
            })
            .collect()
    }
}
