//! Subscribing and cancelling: the index, the replay a new subscription
//! gets, reply inboxes kept alive by their subscribers, and presence (a
//! named client joins the exact topics it subscribes to).

use log::debug;
use protocol::topic::is_under;

use super::Router;
use crate::core::command::{Cancel, CoreError, Filter, Subscribe};
use crate::core::delivery::PresenceAction;
use crate::core::inboxes::is_inbox;
use crate::core::outbox::Outbox;
use crate::core::subs::{SubTag, Subscription};
use crate::core::ConnId;

impl Router {
    pub(super) fn subscribe(&mut self, from: ConnId, s: Subscribe<'_>, out: &mut impl Outbox) {
        let Router { subs, sessions, .. } = self;
        let Some(Some(session)) = sessions.get(from.0) else {
            return;
        };
        // Subscribing again to a filter held replaces its options.
        let held = subs
            .find(from, s.tag, &s.filter)
            .and_then(|id| session.subs.iter().position(|&x| x == id));
        let max = self.config.max_subscriptions;
        if held.is_none() && session.subs.len() >= max {
            let error = CoreError::SubscriptionLimit { max };
            self.refuse(from, &s.sent, &error, out);
            return;
        }
        let options = s.options.as_deref();
        let content = match options
            .and_then(|o| o.content.as_deref())
            .map(|text| subs.filters_mut().acquire(text))
        {
            Some(Ok(id)) => Some(id),
            Some(Err(e)) => return self.refuse(from, &s.sent, &e.into(), out),
            None => None,
        };
        let (topic, created) = match &s.filter {
            Filter::Subtree(topic) => match self.topics.get_or_create(topic.as_str()) {
                Ok((id, created)) => (Some(id), created),
                Err(e) => {
                    if let Some(f) = content {
                        self.subs.filters_mut().release(f);
                    }
                    return self.refuse(from, &s.sent, &e.into(), out);
                }
            },
            Filter::Pattern(_) | Filter::Nats(_) | Filter::Channel(_) | Filter::Glob(_) => {
                (None, false)
            }
        };
        let Router { subs, sessions, .. } = self;
        let Some(Some(session)) = sessions.get_mut(from.0) else {
            return;
        };
        if let Some(i) = held {
            subs.remove(session.subs.swap_remove(i));
        }
        let filter = s.filter.clone().into_owned();
        let group = options.and_then(|o| o.group.as_deref());
        session
            .subs
            .push(subs.insert(from, s.tag, filter, group, content));
        let (form, replays) = (session.profile.form, session.profile.replay);
        debug!("conn {} subscribed to {}", from.0, s.filter.text());
        let exact = match (&s.filter, topic) {
            (Filter::Subtree(t), Some(id)) => Some((t.as_str(), id)),
            _ => None,
        };
        let inbox = exact.is_some_and(|(t, _)| is_inbox(t));
        if let Some((_, id)) = exact.filter(|_| held.is_none()) {
            if inbox {
                self.inboxes.subscribed(id);
            }
        }
        if let Some((text, _)) = exact.filter(|_| !inbox) {
            if options.is_some_and(|o| o.presence) {
                self.presence.watch(text, from);
            } else {
                self.presence.unwatch(text, from);
            }
        }
        if created && !inbox {
            self.announce(out);
        }
        // A queue-group member gets no replay: the group shares live
        // messages, not the past.
        if replays && group.is_none() && out.accepts_replay(from) {
            let cutoff = self.cutoff();
            let mut recall = self.recall(from, form, cutoff);
            recall.content = content.and_then(|f| self.subs.filters().get(f));
            recall.tag = s.tag;
            let resume = options.and_then(|o| o.resume.as_ref());
            recall.subscription(&self.topics, &s.filter, resume, out);
        }
        // After the replay, so a watcher's own join comes after it.
        if let Some((text, _)) = exact.filter(|_| held.is_none() && !inbox) {
            self.join(from, text, out);
        }
    }

    pub(super) fn cancel(&mut self, from: ConnId, c: &Cancel<'_>, out: &mut impl Outbox) {
        let Router { subs, sessions, .. } = self;
        let Some(Some(session)) = sessions.get_mut(from.0) else {
            return;
        };
        let scope = c.scope.as_str();
        let mut gone = Vec::new();
        session.subs.retain(|&id| match subs.get(id) {
            Some(sub) if is_under(sub.filter.text(), scope) => {
                gone.extend(subs.remove(id));
                false
            }
            Some(_) => true,
            None => false,
        });
        for sub in gone {
            self.forget(from, &sub, out);
        }
        debug!("conn {} cancelled {scope}", from.0);
    }

    /// Removes `from`'s subscriptions tagged `tag`.
    pub(super) fn unsubscribe(&mut self, from: ConnId, tag: SubTag, out: &mut impl Outbox) {
        let Router { subs, sessions, .. } = self;
        let Some(Some(session)) = sessions.get_mut(from.0) else {
            return;
        };
        let mut gone = Vec::new();
        session.subs.retain(|&id| match subs.get(id) {
            Some(sub) if sub.tag == tag => {
                gone.extend(subs.remove(id));
                false
            }
            Some(_) => true,
            None => false,
        });
        for sub in gone {
            self.forget(from, &sub, out);
        }
    }

    /// What goes with a subscription besides its place in the index: its
    /// inbox's last subscriber, its presence.
    pub(super) fn forget(&mut self, conn: ConnId, sub: &Subscription, out: &mut impl Outbox) {
        let Filter::Subtree(topic) = &sub.filter else {
            return;
        };
        let text = topic.as_str();
        if is_inbox(text) {
            if let Some(id) = self.topics.get(text) {
                self.inboxes.cancelled(id, &mut self.topics);
            }
            return;
        }
        self.presence.unwatch(text, conn);
        if self.presence.leave(text, conn, false) {
            if let Some(session) = self.session_mut(conn) {
                session.present_on.retain(|t| &**t != text);
            }
            self.tell_presence(text, conn, None, PresenceAction::Leave, out);
        }
    }
}
