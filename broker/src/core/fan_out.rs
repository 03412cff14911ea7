//! Fanning a delivery out to the subscriptions matching its topic.
//!
//! Plain subscriptions take the cached list as it is; subscriptions with a
//! content filter, and queue-group members, are checked against the message
//! only when a topic has some, so a broker without filters or groups pays
//! two emptiness tests per publish for them.

use super::content_filters::MessageValue;
use super::delivery::{Delivery, Form, Recipient};
use super::groups::GroupId;
use super::outbox::Outbox;
use super::session::{collect, Session};
use super::subs::{CacheHint, SubscriptionIndex};
use super::topics::TopicId;
use super::ConnId;

/// The router's parts a fan-out uses.
pub(super) struct FanOut<'r> {
    pub subs: &'r mut SubscriptionIndex,
    pub sessions: &'r mut [Option<Session>],
    /// The recipients, by form index (cleared here).
    pub by_form: &'r mut Vec<Vec<Recipient>>,
    /// Room for the candidate queue-group members (cleared here).
    pub grouped: &'r mut Vec<(GroupId, Recipient)>,
    /// This fan-out's number: sessions and filter verdicts stamped with it
    /// are done.
    pub stamp: u64,
}

impl FanOut<'_> {
    /// Hands `delivery`, published by `from`, to every connection with a
    /// subscription matching `topic` whose filter (if any) passes it, grouped
    /// by form, once per connection or per subscription as each connection's
    /// door delivers; one member of each matching queue group, among those
    /// whose filter passes it, gets it in turn. Returns for how many
    /// recipients it was queued, and the forms (a bit per form index) that
    /// could not carry it: their recipients stay in `by_form`.
    #[inline]
    pub fn run(
        self,
        from: ConnId,
        topic: TopicId,
        delivery: &Delivery<'_>,
        out: &mut impl Outbox,
    ) -> (usize, u64) {
        let FanOut {
            subs,
            sessions,
            by_form,
            grouped,
            stamp,
        } = self;
        by_form.iter_mut().for_each(Vec::clear);
        let mut spare = CacheHint::default();
        let hint = match sessions.get_mut(from.0) {
            Some(Some(s)) => {
                if !s.echo {
                    // Collected already, as far as `collect` can tell.
                    s.seen_in = stamp;
                }
                &mut s.cache_hint
            }
            _ => &mut spare,
        };
        let matches = subs.matching(topic, delivery.topic, hint);
        for r in matches.plain {
            collect(sessions, by_form, stamp, *r);
        }
        if !matches.filtered.is_empty() || !matches.grouped.is_empty() {
            let mut msg = MessageValue::new(delivery.body, delivery.topic, delivery.seq);
            for &(f, r) in matches.filtered {
                if matches.filters.passes(f, stamp, &mut msg) {
                    collect(sessions, by_form, stamp, r);
                }
            }
            grouped.clear();
            grouped.extend(
                matches
                    .grouped
                    .iter()
                    .filter(|m| {
                        m.content
                            .is_none_or(|f| matches.filters.passes(f, stamp, &mut msg))
                    })
                    .map(|m| (m.group, m.to)),
            );
            if !grouped.is_empty() {
                subs.groups_mut()
                    .pick_members(grouped, |r| collect(sessions, by_form, stamp, r));
            }
        }
        let (mut queued, mut unfit) = (0, 0u64);
        for (form, to) in (0..=u8::MAX).map(Form).zip(by_form.iter()) {
            if !to.is_empty() {
                match out.deliver(form, delivery, to) {
                    Some(n) => queued += n,
                    None => unfit |= 1u64.checked_shl(u32::from(form.0)).unwrap_or(0),
                }
            }
        }
        (queued, unfit)
    }
}
