//! The Redis door's questions to the core: the key space (`SET`, `GET`,
//! ...) and what is subscribed (`PUBSUB`). Both answer with a [`Reply`].

use std::borrow::Cow;

use log::debug;

use super::Router;
use crate::core::command::ChannelQuery;
use crate::core::delivery::{Notice, Reply};
use crate::core::keyspace::{KeyCommand, Keyspace};
use crate::core::outbox::Outbox;
use crate::core::ConnId;

impl Router {
    pub(super) fn keys(&mut self, from: ConnId, k: KeyCommand<'_>, out: &mut impl Outbox) {
        let Some(form) = self.session(from).map(|s| s.profile.form) else {
            return;
        };
        let now = self.clock.now();
        match self.keys.apply(k, now) {
            Ok(reply) => out.notify(form, &Notice::Reply(reply), &[from]),
            Err(error) => {
                debug!("conn {}: refused: {error}", from.0);
                out.notify(
                    form,
                    &Notice::Refused {
                        topic: "",
                        error: &error,
                    },
                    &[from],
                );
            }
        }
    }

    pub(super) fn channels(&mut self, from: ConnId, q: ChannelQuery<'_>, out: &mut impl Outbox) {
        let Some(form) = self.session(from).map(|s| s.profile.form) else {
            return;
        };
        let reply =
            |r: Reply<'_>, out: &mut _| Outbox::notify(out, form, &Notice::Reply(r), &[from]);
        match q {
            ChannelQuery::Channels(glob) => {
                let mut topics: Vec<&str> = self
                    .subs
                    .channels()
                    .filter(|t| {
                        glob.as_ref()
                            .is_none_or(|g| g.matches(t.strip_prefix('/').unwrap_or(t).as_bytes()))
                    })
                    .collect();
                topics.sort_unstable();
                reply(Reply::Topics(&topics), out);
            }
            ChannelQuery::NumSub(names) => {
                let counts: Vec<(&[u8], u64)> = names
                    .iter()
                    .map(|(name, topic)| {
                        let n = topic
                            .as_ref()
                            .map_or(0, |t| self.subs.channel_subscribers(t.as_str()));
                        (Cow::as_ref(name), u64::from(n))
                    })
                    .collect();
                reply(Reply::Counts(&counts), out);
            }
            ChannelQuery::NumPat => {
                let n = i64::try_from(self.subs.glob_patterns()).unwrap_or(i64::MAX);
                reply(Reply::Int(n), out);
            }
        }
    }

    /// Removes the keys whose time to live has passed; returns how many.
    pub fn expire_keys(&mut self) -> usize {
        let now = self.clock.now();
        self.keys.expire(now)
    }

    /// The key space, for inspection.
    #[must_use]
    pub fn keyspace(&self) -> &Keyspace {
        &self.keys
    }
}
