//! Presence (v2 §16): joins and leaves as named clients subscribe to and
//! leave exact topics, away and back from the reactor's idle check (nothing
//! per message), renames, and `WHO`.

use super::Router;
use crate::core::command::{Filter, TopicArg};
use crate::core::delivery::{Form, Notice, PresenceAction, PresenceEvent, Present};
use crate::core::inboxes::is_inbox;
use crate::core::outbox::Outbox;
use crate::core::ConnId;

impl Router {
    /// `conn` subscribed to exactly `topic`: if it is named and not a member
    /// yet, it joins.
    pub(super) fn join(&mut self, conn: ConnId, topic: &str, out: &mut impl Outbox) {
        let now = self.clock.now();
        let Some(session) = self.session_mut(conn).filter(|s| s.name.is_some()) else {
            return;
        };
        session.present_on.push(topic.into());
        if self.presence.join(topic, conn, now) {
            self.tell_presence(topic, conn, None, PresenceAction::Join, out);
        } else if let Some(s) = self.session_mut(conn) {
            s.present_on.pop();
        }
    }

    /// Tells the watchers of `topic` what `conn` did, under `name` or its
    /// session's name (nothing for an unnamed client).
    pub(super) fn tell_presence(
        &mut self,
        topic: &str,
        conn: ConnId,
        name: Option<&str>,
        action: PresenceAction,
        out: &mut impl Outbox,
    ) {
        let ts = self.clock.now();
        let Router {
            sessions,
            presence,
            announce_to,
            ..
        } = self;
        let own = sessions
            .get(conn.0)
            .and_then(Option::as_ref)
            .and_then(|s| s.name.as_deref());
        let Some(name) = name.or(own) else {
            return;
        };
        announce_to.iter_mut().for_each(Vec::clear);
        for &w in presence.watchers(topic) {
            let Some(Some(s)) = sessions.get(w.0) else {
                continue;
            };
            let form = s.profile.form.index();
            if announce_to.len() <= form {
                announce_to.resize_with(form + 1, Vec::new);
            }
            announce_to[form].push(w);
        }
        let event = PresenceEvent {
            topic,
            name,
            conn,
            action,
            ts,
        };
        // Not an answer, so told as announcements are: a watcher that
        // drops deliveries and is over its limit misses it (WHO tells).
        for (form, to) in (0..=u8::MAX).map(Form).zip(announce_to.iter()) {
            if !to.is_empty() {
                out.announce(form, &Notice::Presence(event), to);
            }
        }
    }

    /// A `HELLO` gave `conn` the name `new` (it had `old`): a rename is a
    /// leave under the old name and a join under the new one on each topic
    /// it is on; a first name joins it to the exact topics it subscribes to.
    pub(super) fn renamed(
        &mut self,
        conn: ConnId,
        old: Option<std::sync::Arc<str>>,
        out: &mut impl Outbox,
    ) {
        let Some(session) = self.session(conn) else {
            return;
        };
        if session.name == old {
            return;
        }
        match old {
            Some(old) => {
                let topics = session.present_on.clone();
                for topic in &topics {
                    self.tell_presence(topic, conn, Some(&old), PresenceAction::Leave, out);
                    self.tell_presence(topic, conn, None, PresenceAction::Join, out);
                }
            }
            None => {
                let exact: Vec<String> = session
                    .subs
                    .iter()
                    .filter_map(|&id| match &self.subs.get(id)?.filter {
                        Filter::Subtree(t) => Some(t.as_str().to_owned()),
                        _ => None,
                    })
                    .filter(|t| !is_inbox(t))
                    .collect();
                for topic in exact {
                    self.join(conn, &topic, out);
                }
            }
        }
    }

    /// The reactor's idle check: `conn` has sent nothing for `idle_ms`.
    /// Returns whether that made it away (the reactor then calls
    /// [`Router::active`] at its next input).
    pub fn idle(&mut self, conn: ConnId, idle_ms: u64, out: &mut impl Outbox) -> bool {
        let Some(delay) = self.config.away_ms else {
            return false;
        };
        let Some(session) = self.session_mut(conn) else {
            return false;
        };
        if session.away || session.present_on.is_empty() || idle_ms < delay {
            return false;
        }
        session.away = true;
        let topics = session.present_on.clone();
        for topic in &topics {
            self.tell_presence(topic, conn, None, PresenceAction::Away, out);
        }
        true
    }

    /// `conn`, away, sent something: it is back.
    pub fn active(&mut self, conn: ConnId, out: &mut impl Outbox) {
        let Some(session) = self.session_mut(conn).filter(|s| s.away) else {
            return;
        };
        session.away = false;
        let topics = session.present_on.clone();
        for topic in &topics {
            self.tell_presence(topic, conn, None, PresenceAction::Back, out);
        }
    }

    /// Answers `WHO`: the members of the topic, sorted by name then
    /// connection.
    pub(super) fn who(&mut self, from: ConnId, topic: &TopicArg<'_>, out: &mut impl Outbox) {
        let text = topic.topic.as_str();
        let mut present: Vec<Present> = self
            .presence
            .members(text)
            .iter()
            .filter_map(|m| {
                let s = self.session(m.conn)?;
                Some(Present {
                    name: s.name.as_deref()?.to_owned(),
                    conn: m.conn,
                    away: s.away,
                    since: m.since,
                })
            })
            .collect();
        present.sort_by(|a, b| (a.name.as_bytes(), a.conn.0).cmp(&(b.name.as_bytes(), b.conn.0)));
        self.tell(
            from,
            &Notice::Who {
                topic: text,
                present: &present,
            },
            out,
        );
    }
}
