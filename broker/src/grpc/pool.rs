//! Idle sessions for unary calls, by client name: a unary call takes one
//! (or opens one, saying its name first), uses it alone, and gives it back
//! only if the call ran to its end. A call cut short (cancelled, past its
//! deadline) drops its session, which closes it: the router then forgets
//! whatever the call had subscribed, so nothing leaks.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};

use tonic::Status;

use super::session::Session;
use crate::proto::{self, session_request::Kind};
use crate::reactor::Handover;

/// Idle sessions kept per name: enough for that many concurrent callers
/// to reuse sessions; more open sessions and close them after use.
const IDLE_PER_NAME: usize = 16;
/// Names with idle sessions kept at most; sessions of other names close
/// after use.
const NAMES: usize = 256;

/// The idle sessions, shared by the handlers.
#[derive(Debug, Clone)]
pub(super) struct Pool {
    idle: Arc<Mutex<HashMap<Option<String>, Vec<Session>>>>,
    handover: Handover,
}

/// A session taken from the pool by one call.
#[derive(Debug)]
pub(super) struct Taken {
    /// The session.
    pub session: Session,
    name: Option<String>,
}

impl Pool {
    /// An empty pool opening sessions through `handover`.
    pub(super) fn new(handover: Handover) -> Self {
        Pool {
            idle: Arc::default(),
            handover,
        }
    }

    /// The handover, for sessions outside the pool.
    pub(super) fn handover(&self) -> &Handover {
        &self.handover
    }

    /// An idle session named `name`, or a new one for the client at `peer`.
    ///
    /// # Errors
    /// When a session cannot be opened, or the name is refused.
    pub(super) async fn take(
        &self,
        name: Option<String>,
        peer: SocketAddr,
    ) -> Result<Taken, Status> {
        let idle = {
            let mut pool = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
            let sessions = pool.get_mut(&name);
            sessions.and_then(|s| std::iter::from_fn(|| s.pop()).find(Session::still_open))
        };
        let session = match idle {
            Some(session) => session,
            None => {
                let mut session = Session::open(&self.handover, peer)?;
                if let Some(name) = &name {
                    let hello = proto::Hello {
                        name: name.clone(),
                        slow: 0,
                    };
                    let said = session.call(Kind::Hello(hello)).await?;
                    if let Some(refused) = said.error() {
                        return Err(refused);
                    }
                }
                session
            }
        };
        Ok(Taken { session, name })
    }

    /// Gives back a session whose call ran to its end.
    pub(super) fn give_back(&self, taken: Taken) {
        let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
        if idle.len() >= NAMES && !idle.contains_key(&taken.name) {
            return;
        }
        let sessions = idle.entry(taken.name).or_default();
        if sessions.len() < IDLE_PER_NAME {
            sessions.push(taken.session);
        }
    }
}
