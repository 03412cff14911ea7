//! The side thread: one thread running a current-thread tokio runtime for
//! the services that need an async stack, the HTTP monitoring side
//! ([`crate::http`], `--http`) and the RPC side ([`crate::grpc`],
//! `--grpc`). Neither touches broker state: they talk to the reactor
//! through channels and its `mio::Waker`. One thread for both keeps the
//! broker at two threads (the reactor's and this one), whatever is on.
//!
//! - [`admission`]: a bound on each service's connections.

pub mod admission;

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::thread::{self, JoinHandle};

use log::error;
use tokio::sync::oneshot;

/// A service's work on the side thread, started inside its runtime (tokio
/// sockets can only be made there).
pub type Service = Box<dyn FnOnce() -> Pin<Box<dyn Future<Output = ()> + Send>> + Send>;

/// The running side thread; stopped and joined when dropped, which ends
/// every service and connection on it.
#[derive(Debug)]
pub struct SideThread {
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl SideThread {
    /// Starts the thread and each of `services` on it.
    ///
    /// # Errors
    /// When the thread cannot be started.
    pub fn start(services: Vec<Service>) -> io::Result<SideThread> {
        let (stop, stopped) = oneshot::channel::<()>();
        let thread = thread::Builder::new()
            .name("side".into())
            .spawn(move || run(services, stopped))?;
        Ok(SideThread {
            stop: Some(stop),
            thread: Some(thread),
        })
    }
}

impl Drop for SideThread {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The thread's body: runs the services until `stopped` fires (or the
/// broker's end is dropped).
fn run(services: Vec<Service>, stopped: oneshot::Receiver<()>) {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            error!("side thread: cannot start its runtime: {e}");
            return;
        }
    };
    runtime.block_on(async move {
        for service in services {
            tokio::spawn(service());
        }
        let _ = stopped.await;
    });
}
