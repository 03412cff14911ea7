//! The monitoring side (`broker --http ADDR`): a thread of its own running
//! a current-thread tokio runtime with an axum server. It never touches
//! broker state: every answer comes from the reactor as a snapshot, asked
//! for through a [`Monitor`] (see [`crate::monitor`]).
//!
//! - [`admission`]: at most 256 HTTP connections at once.
//! - [`api`]: the JSON endpoints, their parameters and errors.
//! - [`metrics`]: `/metrics`, the Prometheus text exposition.
//! - [`rates`]: topic message rates from sequence numbers seen before.
//! - [`page`]: the live web view (`/`, its assets and its event stream).

mod admission;
mod api;
mod metrics;
mod page;
mod rates;

use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};

use axum::routing::get;
use axum::Router;
use log::{error, warn};
use tokio::sync::oneshot;

pub use self::admission::MAX_CONNECTIONS as MAX_HTTP_CONNECTIONS;
use self::rates::Rates;
use crate::monitor::Monitor;

/// What every handler shares.
#[derive(Debug, Clone)]
struct Shared {
    monitor: Monitor,
    rates: Arc<Mutex<Rates>>,
}

/// The running HTTP thread; stopped and joined when dropped.
#[derive(Debug)]
pub struct HttpServer {
    /// Where it listens, as bound.
    pub addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl HttpServer {
    /// Binds `addr` (here, so a bad address fails the start) and serves it
    /// from a new thread, asking `monitor` for everything it shows.
    ///
    /// # Errors
    /// When `addr` cannot be bound or the thread cannot be started.
    pub fn start(addr: SocketAddr, monitor: Monitor) -> io::Result<HttpServer> {
        let listener = std::net::TcpListener::bind(addr)
            .map_err(|e| io::Error::new(e.kind(), format!("monitoring (--http) on {addr}: {e}")))?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let (stop, stopped) = oneshot::channel();
        let shared = Shared {
            monitor,
            rates: Arc::new(Mutex::new(Rates::default())),
        };
        let thread = thread::Builder::new()
            .name("http".into())
            .spawn(move || serve(listener, shared, stopped))?;
        Ok(HttpServer {
            addr,
            stop: Some(stop),
            thread: Some(thread),
        })
    }
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The endpoints.
fn routes(shared: Shared) -> Router {
    Router::new()
        .route("/", get(page::index))
        .route("/app.js", get(page::script))
        .route("/style.css", get(page::style))
        .route("/api/stream", get(page::stream))
        .route("/api/server", get(api::server))
        .route("/api/connections", get(api::connections))
        .route("/api/topics", get(api::topics))
        .route("/api/topic", get(api::topic))
        .route("/api/events", get(api::events))
        .route("/metrics", get(metrics::metrics))
        .fallback(api::not_found)
        .with_state(shared)
}

/// The thread's body: serves until `stopped` fires (or the broker's end
/// is dropped); open connections, event streams included, end with the
/// runtime.
fn serve(listener: std::net::TcpListener, shared: Shared, stopped: oneshot::Receiver<()>) {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            error!("http monitoring: cannot start its runtime: {e}");
            return;
        }
    };
    runtime.block_on(async move {
        let listener = match tokio::net::TcpListener::from_std(listener) {
            Ok(l) => l,
            Err(e) => {
                error!("http monitoring: {e}");
                return;
            }
        };
        tokio::select! {
            result = axum::serve(admission::Bounded::new(listener), routes(shared)) => {
                if let Err(e) = result {
                    warn!("http monitoring stopped: {e}");
                }
            }
            _ = stopped => {}
        }
    });
}
