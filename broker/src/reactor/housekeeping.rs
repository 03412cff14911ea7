//! Once a second: history past its age bound, publish ids past the
//! deduplication window, present clients that went quiet (presence's
//! `away`, v2 §16) and connections past the idle timeout. Nothing here runs
//! per message: a read only stamps its connection's `last_input`.

use std::time::{Duration, Instant};

use log::{debug, info};

use super::connection::Life;
use super::Broker;
use crate::core::ConnId;
use crate::doors::Farewell;

impl Broker {
    pub(super) fn housekeep(&mut self, now: Instant) {
        let gone = self.router.expire();
        if gone > 0 {
            debug!("{gone} kept messages expired");
        }
        self.router.expire_ids();
        self.store_report();
        self.keep_alive(now);
        let (timeout, away) = (self.config.idle_timeout, self.config.away);
        if timeout.is_none() && away.is_none() {
            return;
        }
        let quiet: Vec<(ConnId, Duration)> = self
            .conns
            .iter()
            .filter(|(_, c)| c.life() == Life::Open)
            .map(|(i, c)| (ConnId(i), now.saturating_duration_since(c.last_input)))
            .filter(|&(_, idle)| {
                away.is_some_and(|a| idle >= a) || timeout.is_some_and(|t| idle >= t)
            })
            .collect();
        for (id, idle) in quiet {
            if let Some(after) = timeout.filter(|&t| idle >= t) {
                self.close_idle(id, after);
                continue;
            }
            let idle_ms = u64::try_from(idle.as_millis()).unwrap_or(u64::MAX);
            let (router, mut outbox) = self.outbox();
            if router.idle(id, idle_ms, &mut outbox) {
                if let Some(conn) = self.conns.get_mut(id.0) {
                    conn.away = true;
                }
            }
        }
    }

    /// Lets every open connection's door probe its client (NATS's `PING`),
    /// and closes those that left too many probes unanswered.
    fn keep_alive(&mut self, now: Instant) {
        let mut stale = Vec::new();
        for (i, conn) in &mut self.conns {
            if conn.life() != Life::Open {
                continue;
            }
            let before = conn.output.buffer().len();
            match conn.codec.keepalive(now, conn.output.buffer()) {
                Ok(()) if conn.output.buffer().len() > before => {
                    self.schedule.mark_dirty(ConnId(i), conn);
                }
                Ok(()) => {}
                Err(why) => stale.push((ConnId(i), why)),
            }
        }
        for (id, why) in stale {
            if let Some(conn) = self.conns.get_mut(id.0) {
                info!(
                    "conn {} ({}): no answer to the keep-alive probes; closing",
                    id.0, conn.peer
                );
                conn.codec.farewell(why, conn.output.buffer());
            }
            self.start_closing(id);
        }
    }

    /// Closes `id`, silent for `after`, with an `ERROR` first.
    fn close_idle(&mut self, id: ConnId, after: Duration) {
        let Some(conn) = self.conns.get_mut(id.0) else {
            return;
        };
        info!(
            "conn {} ({}): nothing received for {after:?}; closing",
            id.0, conn.peer
        );
        conn.codec
            .farewell(Farewell::IdleTimeout { after }, conn.output.buffer());
        self.start_closing(id);
    }
}
