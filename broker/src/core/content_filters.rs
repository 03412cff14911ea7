//! [`ContentFilters`]: the compiled content filters of all subscriptions,
//! one per distinct text, and each one's verdict on the message being fanned
//! out.
//!
//! Subscriptions with the same expression share one compiled filter, which
//! runs once per message however many of them match: a fan-out to eight
//! subscribers filtering alike evaluates once. A message's value is parsed
//! from its JSON text only when a filter needs it, once per message.

use std::borrow::Cow;
use std::cell::Cell;

use foldhash::{HashMap, HashMapExt};
use log::warn;
use protocol::{Body, Value};
use slab::Slab;

use super::content_filter::{ContentFilter, FilterError};

/// A compiled filter's slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FilterId(u32);

#[derive(Debug)]
struct Entry {
    filter: ContentFilter,
    text: Box<str>,
    /// Subscriptions using it.
    refs: usize,
    /// The fan-out stamp of its last verdict, and the verdict.
    verdict: Cell<(u64, bool)>,
}

/// Every compiled filter in use; see the module docs.
#[derive(Debug)]
pub struct ContentFilters {
    slots: Slab<Entry>,
    by_text: HashMap<Box<str>, FilterId>,
}

impl Default for ContentFilters {
    fn default() -> Self {
        ContentFilters {
            slots: Slab::new(),
            by_text: HashMap::new(),
        }
    }
}

impl ContentFilters {
    /// The filter for `text`, compiled unless a subscription uses it already.
    ///
    /// # Errors
    /// Why `text` does not compile.
    pub fn acquire(&mut self, text: &str) -> Result<FilterId, FilterError> {
        if let Some(&id) = self.by_text.get(text) {
            if let Some(e) = self.slots.get_mut(id.0 as usize) {
                e.refs += 1;
                return Ok(id);
            }
        }
        let filter = ContentFilter::compile(text)?;
        let slot = self.slots.insert(Entry {
            filter,
            text: text.into(),
            refs: 1,
            verdict: Cell::new((0, false)),
        });
        let id = FilterId(u32::try_from(slot).unwrap_or(u32::MAX));
        self.by_text.insert(text.into(), id);
        Ok(id)
    }

    /// One subscription less uses `id`; the filter goes with the last.
    pub fn release(&mut self, id: FilterId) {
        let Some(e) = self.slots.get_mut(id.0 as usize) else {
            return;
        };
        e.refs -= 1;
        if e.refs == 0 {
            let gone = self.slots.remove(id.0 as usize);
            self.by_text.remove(&gone.text);
        }
    }

    /// The compiled filter in slot `id`.
    #[must_use]
    pub fn get(&self, id: FilterId) -> Option<&ContentFilter> {
        self.slots.get(id.0 as usize).map(|e| &e.filter)
    }

    /// Number of distinct filters in use.
    #[must_use]
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// Whether no subscription has a filter.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// Whether filter `id` passes the message of fan-out `stamp` (evaluated
    /// once per stamp).
    pub fn passes(&self, id: FilterId, stamp: u64, msg: &mut MessageValue<'_>) -> bool {
        let Some(e) = self.slots.get(id.0 as usize) else {
            return false;
        };
        let (at, verdict) = e.verdict.get();
        if at == stamp {
            return verdict;
        }
        let (topic, seq) = (msg.topic, msg.seq);
        let yes = e.filter.accepts_lazily(|| msg.value(), topic, seq);
        e.verdict.set((stamp, yes));
        yes
    }
}

/// The message a filter looks at, its value parsed on first need.
#[derive(Debug)]
pub struct MessageValue<'a> {
    body: &'a Body<'a>,
    parsed: Option<Option<Cow<'a, Value>>>,
    /// Its topic.
    pub topic: &'a str,
    /// Its sequence number.
    pub seq: u64,
}

impl<'a> MessageValue<'a> {
    /// `body`, published on `topic` as number `seq`.
    #[must_use]
    pub fn new(body: &'a Body<'a>, topic: &'a str, seq: u64) -> Self {
        MessageValue {
            body,
            parsed: None,
            topic,
            seq,
        }
    }

    /// The value; `None` (no filter passes) in the case, which validation at
    /// decoding rules out, of a text that does not parse.
    pub fn value(&mut self) -> Option<&Value> {
        let body = self.body;
        self.parsed
            .get_or_insert_with(|| match body {
                Body::Value(v) => Some(Cow::Borrowed(v.as_ref())),
                Body::Str { text, .. } => Some(Cow::Owned(Value::Str(text.to_string()))),
                Body::Json { text, .. } => match protocol::format::json::parse_value(text) {
                    Ok(v) => Some(Cow::Owned(v)),
                    Err(e) => {
                        warn!("a kept or published value did not parse for a filter: {e}");
                        None
                    }
                },
            })
            .as_deref()
    }
}
