//! The names a queue makes up for itself: message ids for
//! [`Queue::publish_confirmed`](super::Queue::publish_confirmed), reply
//! inboxes for [`Queue::request`](super::Queue::request), and the `HELLO`
//! name a queue takes when it needs one. All start with one random prefix
//! per queue, so two queues (in one process or not) do not collide.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::process;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// Where inboxes live (v2 §15): never retained, listed or kept.
pub(super) const INBOX_ROOT: &str = "/_INBOX";

/// A queue's random prefix and counters.
#[derive(Debug)]
pub(super) struct Ids {
    /// 16 hex digits, random.
    prefix: String,
    /// The last message id number given.
    message: u64,
    /// The last inbox number given.
    inbox: u64,
}

impl Ids {
    pub(super) fn new() -> Ids {
        Ids {
            prefix: random_hex(),
            message: 0,
            inbox: 0,
        }
    }

    /// A fresh message id: `<prefix>-<n>` (at most 37 bytes; the broker
    /// takes 1 to 128).
    pub(super) fn message_id(&mut self) -> String {
        self.message += 1;
        format!("{}-{}", self.prefix, self.message)
    }

    /// A fresh inbox: `/_INBOX/<prefix>/<n>`.
    pub(super) fn inbox(&mut self) -> String {
        self.inbox += 1;
        format!("{}/{}", self.inboxes(), self.inbox)
    }

    /// The topic every inbox of this queue is under: `/_INBOX/<prefix>`.
    pub(super) fn inboxes(&self) -> String {
        format!("{INBOX_ROOT}/{}", self.prefix)
    }

    /// Whether `topic` is one of this queue's inboxes.
    pub(super) fn is_inbox(&self, topic: &str) -> bool {
        topic
            .strip_prefix(INBOX_ROOT)
            .and_then(|t| t.strip_prefix('/'))
            .and_then(|t| t.strip_prefix(self.prefix.as_str()))
            .is_some_and(|t| t.starts_with('/'))
    }

    /// The `HELLO` name a queue takes when it has none and needs an
    /// identity: `client-<prefix>`.
    pub(super) fn name(&self) -> String {
        format!("client-{}", self.prefix)
    }
}

/// 16 random hex digits: std's randomly keyed hasher over the time, the
/// process id and a process-wide counter (no dependency; not for secrets).
fn random_hex() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut h = RandomState::new().build_hasher();
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    h.write_u128(nanos);
    h.write_u32(process::id());
    h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    format!("{:016x}", h.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_fresh_and_inboxes_recognized() {
        let mut a = Ids::new();
        let b = Ids::new();
        assert_ne!(a.prefix, b.prefix);
        assert_eq!(a.prefix.len(), 16);
        let (one, two) = (a.message_id(), a.message_id());
        assert_ne!(one, two);
        assert!(one.ends_with("-1") && one.len() <= 128, "{one}");
        let inbox = a.inbox();
        assert!(inbox.starts_with("/_INBOX/"), "{inbox}");
        assert!(protocol::Topic::parse(&inbox).is_ok_and(|t| t.as_str() == inbox));
        assert!(a.is_inbox(&inbox));
        assert!(!a.is_inbox(&a.inboxes()));
        assert!(!b.is_inbox(&inbox));
        assert!(!a.is_inbox("/svc"));
        assert!(!a.name().contains(char::is_whitespace) && a.name().len() <= 64);
    }
}
