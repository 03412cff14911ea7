//! Once a second: history past its age bound, publish ids past the
//! deduplication window, keys past their time to live (the key space's
//! active expiry), present clients that went quiet (presence's `away`, v2
//! §16), connections past the idle timeout, and connections that stayed
//! over their door's soft output limit too long (Redis's
//! `client-output-buffer-limit`). Nothing here runs per message: a read
//! only stamps its connection's `last_input`.

use std::time::{Duration, Instant};

use log::{debug, info, warn};

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
        let keys = self.router.expire_keys();
        if keys > 0 {
            debug!("{keys} keys expired");
        }
        self.store_retry();
        self.store_report();
        self.keep_alive(now);
        self.check_soft_limits(now);
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

    /// Drops the connections whose output has stayed over their door's soft
    /// limit for longer than it allows, as redis-server does.
    fn check_soft_limits(&mut self, now: Instant) {
        for (i, conn) in &mut self.conns {
            let Some((soft, allowed)) = conn.soft_limit else {
                continue;
            };
            if conn.is_dead() || conn.output.pending() <= soft {
                conn.over_soft_since = None;
                continue;
            }
            let since = *conn.over_soft_since.get_or_insert(now);
            if now.saturating_duration_since(since) >= allowed {
                warn!(
                    "conn {i} ({}): over the soft output limit ({soft} bytes) for {allowed:?}",
                    conn.peer
                );
                let events = &mut self.events;
                super::outbox::drop_slow(&mut self.schedule, events, ConnId(i), conn, None);
            }
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
