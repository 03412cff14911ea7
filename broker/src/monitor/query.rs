//! The query channel between the HTTP side and the reactor.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::Arc;

use mio::Waker;
use tokio::sync::oneshot;

use super::view::{ConnectionPage, EventsView, MetricsView, ServerView, TopicMessage, TopicPage};

/// Where the reactor sends an answer.
pub type Reply<T> = oneshot::Sender<T>;

/// What the HTTP side asks the reactor. Every query is bounded: pages have
/// a limit the HTTP side has already capped.
#[derive(Debug)]
pub enum Query {
    /// The server's totals, doors and addresses.
    Server(Reply<ServerView>),
    /// Connections with ids above `after`, at most `limit`.
    Connections {
        /// Connection id the previous page ended at.
        after: Option<usize>,
        /// Most connections in the page.
        limit: usize,
        /// Where the page goes.
        reply: Reply<ConnectionPage>,
    },
    /// Topics equal to or under `prefix`, sorting after `after`, at most `limit`.
    Topics {
        /// A normalized topic.
        prefix: String,
        /// The topic the previous page ended at.
        after: Option<String>,
        /// Most topics in the page.
        limit: usize,
        /// Where the page goes.
        reply: Reply<TopicPage>,
    },
    /// The newest kept message of one topic (a normalized topic name).
    Topic {
        /// A normalized topic.
        name: String,
        /// Where the message goes, `None` for no such topic.
        reply: Reply<Option<TopicMessage>>,
    },
    /// The newest slow-consumer and drop events, at most `limit`.
    Events {
        /// Most events.
        limit: usize,
        /// Where they go.
        reply: Reply<EventsView>,
    },
    /// Everything `/metrics` exposes.
    Metrics(Reply<MetricsView>),
}

/// The broker stopped: nobody will answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the broker is not running")]
pub struct Gone;

/// The HTTP side's end: sends queries and wakes the reactor.
#[derive(Debug, Clone)]
pub struct Monitor {
    queries: Sender<Query>,
    pending: Arc<AtomicBool>,
    waker: Arc<Waker>,
}

/// The reactor's end: the queries not yet answered.
#[derive(Debug)]
pub struct Inbox {
    queries: Receiver<Query>,
    pending: Arc<AtomicBool>,
}

/// A connected pair: the HTTP side's [`Monitor`] and the reactor's
/// [`Inbox`], waking the reactor through `waker`.
#[must_use]
pub fn channel(waker: Arc<Waker>) -> (Monitor, Inbox) {
    let (tx, rx) = mpsc::channel();
    let pending = Arc::new(AtomicBool::new(false));
    (
        Monitor {
            queries: tx,
            pending: Arc::clone(&pending),
            waker,
        },
        Inbox {
            queries: rx,
            pending,
        },
    )
}

impl Monitor {
    /// Sends the query `make` builds around a reply channel and waits for
    /// the answer.
    ///
    /// # Errors
    /// [`Gone`] when the broker has stopped.
    pub async fn ask<T>(&self, make: impl FnOnce(Reply<T>) -> Query) -> Result<T, Gone> {
        let (tx, rx) = oneshot::channel();
        self.queries.send(make(tx)).map_err(|_| Gone)?;
        // The flag is set after the query is queued, so the reactor, which
        // clears it before draining, cannot miss the query.
        self.pending.store(true, Ordering::Release);
        self.waker.wake().map_err(|_| Gone)?;
        rx.await.map_err(|_| Gone)
    }
}

impl Inbox {
    /// Whether queries were sent since the last call (after a wake-up);
    /// clears the flag.
    pub fn take_pending(&self) -> bool {
        self.pending.swap(false, Ordering::AcqRel)
    }

    /// The next query waiting, if any.
    pub fn next(&self) -> Option<Query> {
        // Empty or disconnected (the HTTP side stopped): nothing to answer.
        self.queries.try_recv().ok()
    }
}
