//! The monitoring side (`broker --http ADDR`): an axum server on the side
//! thread ([`crate::side`]). It never touches
//! broker state: every answer comes from the reactor as a snapshot, asked
//! for through a [`Monitor`] (see [`crate::monitor`]).
//!
//! - [`api`]: the JSON endpoints, their parameters and errors.
//! - [`metrics`]: `/metrics`, the Prometheus text exposition.
//! - [`rates`]: topic message rates from sequence numbers seen before.
//! - [`page`]: the live web view (`/`, its assets and its event stream).

mod api;
mod metrics;
mod page;
mod rates;

use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::routing::get;
use axum::Router;
use log::{error, warn};

/// HTTP connections open at once, at most ([`crate::side::admission`]).
pub const MAX_HTTP_CONNECTIONS: usize = 256;
use self::rates::Rates;
use crate::monitor::Monitor;
use crate::side::admission::Bounded;
use crate::side::Service;

/// What every handler shares.
#[derive(Debug, Clone)]
struct Shared {
    monitor: Monitor,
    rates: Arc<Mutex<Rates>>,
}

/// The monitoring side, bound and ready to run on the side thread.
#[derive(Debug)]
pub struct HttpServer {
    /// Where it listens, as bound.
    pub addr: SocketAddr,
    listener: std::net::TcpListener,
    shared: Shared,
}

impl HttpServer {
    /// Binds `addr` (here, so a bad address fails the start); it will ask
    /// `monitor` for everything it shows.
    ///
    /// # Errors
    /// When `addr` cannot be bound.
    pub fn bind(addr: SocketAddr, monitor: Monitor) -> io::Result<HttpServer> {
        let listener = std::net::TcpListener::bind(addr)
            .map_err(|e| io::Error::new(e.kind(), format!("monitoring (--http) on {addr}: {e}")))?;
        listener.set_nonblocking(true)?;
        Ok(HttpServer {
            addr: listener.local_addr()?,
            listener,
            shared: Shared {
                monitor,
                rates: Arc::new(Mutex::new(Rates::default())),
            },
        })
    }

    /// Its work on the side thread: serving until the runtime ends (open
    /// connections, event streams included, end with it).
    #[must_use]
    pub fn service(self) -> Service {
        Box::new(move || Box::pin(serve(self.listener, self.shared)))
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

/// Serves the endpoints on `listener`.
async fn serve(listener: std::net::TcpListener, shared: Shared) {
    let listener = match tokio::net::TcpListener::from_std(listener) {
        Ok(l) => l,
        Err(e) => {
            error!("http monitoring: {e}");
            return;
        }
    };
    if let Err(e) = axum::serve(Bounded::new(listener, MAX_HTTP_CONNECTIONS), routes(shared)).await
    {
        warn!("http monitoring stopped: {e}");
    }
}
