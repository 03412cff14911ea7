//! [`Keyspace`]: the small string key space of the Redis door (the cache
//! pattern of seed 003: `SET`/`SETEX`/`GET`, `DEL`, `EXISTS`, `EXPIRE`,
//! `TTL`), owned by the reactor thread like every other piece of state.
//!
//! Keys and values are bytes. A key with a time to live expires as in
//! redis-server: lazily, when it is looked at past its time, and actively,
//! from the reactor's once-a-second housekeeping ([`Keyspace::expire`]),
//! which takes the due keys off a queue ordered by expiry. Times are the
//! router's clock, milliseconds since the Unix epoch.
//!
//! The space is bounded in bytes (keys, values and a fixed cost per entry):
//! a write that would pass the bound is refused, as redis-server with
//! `maxmemory` and no eviction refuses it.

use std::borrow::Cow;
use std::cmp::Reverse;
use std::collections::BinaryHeap;

use foldhash::{HashMap, HashMapExt};

use super::command::CoreError;
use super::delivery::Reply;

/// What an entry costs besides its key and value bytes, roughly: the hash
/// slot, the boxes' headers, a queue entry.
const ENTRY_COST: usize = 64;

/// When a `SET` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Condition {
    /// Always.
    #[default]
    Always,
    /// Only if the key does not exist (`NX`).
    Absent,
    /// Only if it exists (`XX`).
    Present,
}

/// When an `EXPIRE` applies (Redis 7's `NX`, `XX`, `GT`, `LT`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ExpireIf {
    /// Always.
    #[default]
    Always,
    /// The key has no time to live.
    NoTtl,
    /// The key has one.
    HasTtl,
    /// The new time is later (no time to live counts as infinite).
    Later,
    /// The new time is earlier.
    Earlier,
    /// The key has a time to live and the new one is earlier (`XX LT`).
    EarlierThanTtl,
}

/// A time to live, as a `SET` gives it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expiry {
    /// This many milliseconds from now (above 0).
    In(u64),
    /// At this time, in milliseconds since the Unix epoch.
    At(u64),
    /// Keep the key's current one (`KEEPTTL`).
    Keep,
}

/// A request on the key space. Arguments are checked by the door.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyCommand<'a> {
    /// Store a value.
    Set {
        /// The key.
        key: Cow<'a, [u8]>,
        /// The value.
        value: Cow<'a, [u8]>,
        /// Its time to live; none clears the key's.
        expiry: Option<Expiry>,
        /// When to write.
        condition: Condition,
        /// Answer with the old value (`GET`) instead of `OK`.
        get: bool,
    },
    /// A key's value.
    Get(Cow<'a, [u8]>),
    /// Remove keys; answers how many existed.
    Del(Vec<Cow<'a, [u8]>>),
    /// How many of these keys exist (a key named twice counts twice).
    Exists(Vec<Cow<'a, [u8]>>),
    /// Set a key's time to live; answers 1 if it was set.
    Expire {
        /// The key.
        key: Cow<'a, [u8]>,
        /// Milliseconds from now; 0 or less removes the key.
        in_ms: i64,
        /// When to apply it.
        condition: ExpireIf,
    },
    /// A key's time to live: -2 if missing, -1 if none, else what is left
    /// in seconds (rounded) or milliseconds.
    Ttl {
        /// The key.
        key: Cow<'a, [u8]>,
        /// In milliseconds (`PTTL`).
        millis: bool,
    },
}

#[derive(Debug)]
struct Entry {
    value: Box<[u8]>,
    /// When it expires, if it does.
    expires: Option<u64>,
}

/// The key space; see the module docs.
#[derive(Debug)]
pub struct Keyspace {
    map: HashMap<Box<[u8]>, Entry>,
    /// Keys with a time to live, soonest first; an entry whose key now
    /// expires at another time (or not at all) is skipped when it comes up.
    queue: BinaryHeap<Reverse<(u64, Box<[u8]>)>>,
    /// Bytes in use, counted as the bound counts them.
    bytes: usize,
    /// The bound.
    max_bytes: usize,
    /// The value a `SET ... GET` replaced, for its answer.
    scratch_old: Box<[u8]>,
}

impl Keyspace {
    /// An empty key space holding at most `max_bytes`.
    #[must_use]
    pub fn new(max_bytes: usize) -> Self {
        Keyspace {
            map: HashMap::new(),
            queue: BinaryHeap::new(),
            bytes: 0,
            max_bytes,
            scratch_old: Box::default(),
        }
    }

    /// Number of keys (some may be past their time, not yet removed).
    #[must_use]
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether there are none.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Bytes in use, as the bound counts them.
    #[must_use]
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    fn cost(key: &[u8], value: &[u8]) -> usize {
        key.len() + value.len() + ENTRY_COST
    }

    /// The live entry of `key` at `now`, removing it if it is past its time.
    fn live(&mut self, key: &[u8], now: u64) -> Option<&mut Entry> {
        let expired = self.map.get(key)?.expires.is_some_and(|t| t <= now);
        if expired {
            self.remove(key);
            return None;
        }
        self.map.get_mut(key)
    }

    fn remove(&mut self, key: &[u8]) -> bool {
        match self.map.remove(key) {
            Some(e) => {
                self.bytes -= Self::cost(key, &e.value);
                true
            }
            None => false,
        }
    }

    /// Queues `key` to expire at `at`; rebuilds the queue when stale entries
    /// outnumber the keys, so rewriting times to live cannot grow it
    /// without end.
    fn schedule(&mut self, key: &[u8], at: u64) {
        self.queue.push(Reverse((at, key.into())));
        if self.queue.len() > 2 * self.map.len() + 1024 {
            self.queue = self
                .map
                .iter()
                .filter_map(|(k, e)| Some(Reverse((e.expires?, k.clone()))))
                .collect();
        }
    }

    /// Removes the keys whose time has come by `now`; returns how many.
    pub fn expire(&mut self, now: u64) -> usize {
        let mut gone = 0;
        while let Some(Reverse((at, _))) = self.queue.peek() {
            if *at > now {
                break;
            }
            let Some(Reverse((at, key))) = self.queue.pop() else {
                break;
            };
            if self.map.get(&key).and_then(|e| e.expires) == Some(at) {
                self.remove(&key);
                gone += 1;
            }
        }
        gone
    }

    /// Applies `command` at time `now`.
    ///
    /// # Errors
    /// [`CoreError::KeyspaceFull`] when a write would pass the bound.
    pub fn apply(&mut self, command: KeyCommand<'_>, now: u64) -> Result<Reply<'_>, CoreError> {
        Ok(match command {
            KeyCommand::Set {
                key,
                value,
                expiry,
                condition,
                get,
            } => return self.set(&key, &value, expiry, condition, get, now),
            KeyCommand::Get(key) => match self.live(&key, now) {
                Some(e) => Reply::Bytes(&e.value),
                None => Reply::Nil,
            },
            KeyCommand::Del(keys) => {
                let mut n = 0;
                for key in keys {
                    if self.live(&key, now).is_some() {
                        n += i64::from(self.remove(&key));
                    }
                }
                Reply::Int(n)
            }
            KeyCommand::Exists(keys) => {
                let n = keys.iter().filter(|k| self.live(k, now).is_some()).count();
                Reply::Int(i64::try_from(n).unwrap_or(i64::MAX))
            }
            KeyCommand::Expire {
                key,
                in_ms,
                condition,
            } => {
                let Some(entry) = self.live(&key, now) else {
                    return Ok(Reply::Int(0));
                };
                let at = now.saturating_add_signed(in_ms);
                let applies = match (condition, entry.expires) {
                    (ExpireIf::Always, _) => true,
                    (ExpireIf::NoTtl, t) => t.is_none(),
                    (ExpireIf::HasTtl, t) => t.is_some(),
                    (ExpireIf::Later, t) => t.is_some_and(|t| at > t),
                    (ExpireIf::Earlier, t) => t.is_none_or(|t| at < t),
                    (ExpireIf::EarlierThanTtl, t) => t.is_some_and(|t| at < t),
                };
                if !applies {
                    return Ok(Reply::Int(0));
                }
                if in_ms <= 0 {
                    self.remove(&key);
                } else {
                    entry.expires = Some(at);
                    self.schedule(&key, at);
                }
                Reply::Int(1)
            }
            KeyCommand::Ttl { key, millis } => match self.live(&key, now) {
                None => Reply::Int(-2),
                Some(Entry { expires: None, .. }) => Reply::Int(-1),
                Some(Entry {
                    expires: Some(at), ..
                }) => {
                    let left = i64::try_from(*at - now).unwrap_or(i64::MAX);
                    Reply::Int(if millis { left } else { (left + 500) / 1000 })
                }
            },
        })
    }

    fn set(
        &mut self,
        key: &[u8],
        value: &[u8],
        expiry: Option<Expiry>,
        condition: Condition,
        get: bool,
        now: u64,
    ) -> Result<Reply<'_>, CoreError> {
        let old = self.live(key, now).map(|e| (e.value.len(), e.expires));
        let write = match condition {
            Condition::Always => true,
            Condition::Absent => old.is_none(),
            Condition::Present => old.is_some(),
        };
        let old_cost = old.map_or(0, |(len, _)| key.len() + len + ENTRY_COST);
        let new_cost = Self::cost(key, value);
        if write && self.bytes - old_cost + new_cost > self.max_bytes {
            return Err(CoreError::KeyspaceFull {
                max: self.max_bytes,
            });
        }
        let expires = match expiry {
            None => None,
            Some(Expiry::In(ms)) => Some(now.saturating_add(ms)),
            Some(Expiry::At(at)) => Some(at),
            Some(Expiry::Keep) => old.and_then(|(_, t)| t),
        };
        let previous = if write {
            let entry = Entry {
                value: value.into(),
                expires,
            };
            let previous = self.map.insert(key.into(), entry).map(|e| e.value);
            self.bytes = self.bytes - old_cost + new_cost;
            if let Some(at) = expires {
                self.schedule(key, at);
            }
            // A time already past removes the key at once, as Redis does.
            if expires.is_some_and(|t| t <= now) {
                self.remove(key);
            }
            previous
        } else {
            None
        };
        if !get {
            return Ok(if write { Reply::Ok } else { Reply::Nil });
        }
        // GET answers the value before the write, which is still in the
        // map when the write did not happen.
        match previous {
            Some(v) => {
                self.scratch_old = v;
                Ok(Reply::Bytes(&self.scratch_old))
            }
            None if write => Ok(Reply::Nil),
            None => Ok(match self.map.get(key) {
                Some(e) => Reply::Bytes(&e.value),
                None => Reply::Nil,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(s: &str) -> Cow<'_, [u8]> {
        Cow::Borrowed(s.as_bytes())
    }

    fn set<'a>(key: &'a str, value: &'a str, expiry: Option<Expiry>) -> KeyCommand<'a> {
        KeyCommand::Set {
            key: b(key),
            value: b(value),
            expiry,
            condition: Condition::Always,
            get: false,
        }
    }

    fn ttl(key: &str) -> KeyCommand<'_> {
        KeyCommand::Ttl {
            key: b(key),
            millis: false,
        }
    }

    #[test]
    fn set_get_and_expiry_lazily_and_actively() {
        let mut ks = Keyspace::new(1 << 20);
        assert_eq!(ks.apply(set("k", "v", None), 0), Ok(Reply::Ok));
        assert_eq!(ks.apply(KeyCommand::Get(b("k")), 0), Ok(Reply::Bytes(b"v")));
        assert_eq!(ks.apply(ttl("k"), 0), Ok(Reply::Int(-1)));
        assert_eq!(ks.apply(ttl("nope"), 0), Ok(Reply::Int(-2)));
        ks.apply(set("k", "v", Some(Expiry::In(10_000))), 1000)
            .unwrap();
        assert_eq!(ks.apply(ttl("k"), 1000), Ok(Reply::Int(10)));
        assert_eq!(ks.apply(ttl("k"), 1600), Ok(Reply::Int(9)), "rounded");
        assert_eq!(ks.apply(KeyCommand::Get(b("k")), 11_000), Ok(Reply::Nil));
        ks.apply(set("a", "1", Some(Expiry::In(5))), 0).unwrap();
        ks.apply(set("b", "2", Some(Expiry::In(50))), 0).unwrap();
        assert_eq!(ks.expire(10), 1);
        assert_eq!(ks.len(), 1);
        assert_eq!(ks.expire(100), 1);
        assert!(ks.is_empty());
        assert_eq!(ks.bytes(), 0);
    }

    #[test]
    fn conditions_and_get() {
        let mut ks = Keyspace::new(1 << 20);
        let cond = |c, get| KeyCommand::Set {
            key: b("k"),
            value: b("new"),
            expiry: None,
            condition: c,
            get,
        };
        assert_eq!(ks.apply(cond(Condition::Present, false), 0), Ok(Reply::Nil));
        assert_eq!(ks.apply(cond(Condition::Absent, true), 0), Ok(Reply::Nil));
        assert_eq!(
            ks.apply(cond(Condition::Absent, true), 0),
            Ok(Reply::Bytes(b"new")),
            "not written, the value as it is"
        );
        ks.apply(set("k", "old", None), 0).unwrap();
        assert_eq!(
            ks.apply(cond(Condition::Always, true), 0),
            Ok(Reply::Bytes(b"old"))
        );
        let exists = KeyCommand::Exists(vec![b("k"), b("k"), b("x")]);
        assert_eq!(ks.apply(exists, 0), Ok(Reply::Int(2)));
        let del = KeyCommand::Del(vec![b("k"), b("x")]);
        assert_eq!(ks.apply(del, 0), Ok(Reply::Int(1)));
    }

    #[test]
    fn expire_rules() {
        let mut ks = Keyspace::new(1 << 20);
        let expire = |ms, c| KeyCommand::Expire {
            key: b("k"),
            in_ms: ms,
            condition: c,
        };
        assert_eq!(
            ks.apply(expire(1000, ExpireIf::Always), 0),
            Ok(Reply::Int(0))
        );
        ks.apply(set("k", "v", None), 0).unwrap();
        assert_eq!(
            ks.apply(expire(1000, ExpireIf::HasTtl), 0),
            Ok(Reply::Int(0))
        );
        assert_eq!(
            ks.apply(expire(1000, ExpireIf::NoTtl), 0),
            Ok(Reply::Int(1))
        );
        assert_eq!(ks.apply(expire(500, ExpireIf::Later), 0), Ok(Reply::Int(0)));
        assert_eq!(
            ks.apply(expire(500, ExpireIf::Earlier), 0),
            Ok(Reply::Int(1))
        );
        assert_eq!(ks.apply(ttl("k"), 0), Ok(Reply::Int(1)));
        ks.apply(set("k", "v", Some(Expiry::Keep)), 0).unwrap();
        assert_eq!(ks.apply(ttl("k"), 0), Ok(Reply::Int(1)), "KEEPTTL");
        ks.apply(set("k", "v", None), 0).unwrap();
        assert_eq!(ks.apply(ttl("k"), 0), Ok(Reply::Int(-1)), "SET clears it");
        assert_eq!(ks.apply(expire(0, ExpireIf::Always), 0), Ok(Reply::Int(1)));
        assert!(ks.is_empty(), "a time not in the future removes the key");
    }

    #[test]
    fn the_bound_refuses_writes_and_rewrites_do_not_grow_the_queue() {
        let mut ks = Keyspace::new(200);
        ks.apply(set("k", "v", None), 0).unwrap();
        let big = "x".repeat(200);
        assert_eq!(
            ks.apply(set("k2", &big, None), 0),
            Err(CoreError::KeyspaceFull { max: 200 })
        );
        for i in 0..5000 {
            ks.apply(set("k", "v", Some(Expiry::In(1_000_000 + i))), 0)
                .unwrap();
        }
        assert!(ks.queue.len() <= 2 * ks.len() + 1025);
    }
}
