//! Queue groups (v2 §15): subscriptions with the same group name and the
//! same filter text share the messages they match, each going to one member
//! in turn, beside every subscriber outside the group.
//!
//! The index only names groups and counts their members; which member gets a
//! message is decided per publish among the group's matching members, so a
//! member that leaves hands its share to the others at once.

use foldhash::HashMap;

use super::delivery::Recipient;

/// A queue group, by its slot (reused once the group has no member).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct GroupId(pub(crate) u32);

#[derive(Debug)]
struct Group {
    key: (Box<str>, Box<str>),
    members: usize,
    /// Messages handed to the group so far: the next one goes to member
    /// `turn % matching members`.
    turn: u64,
}

/// Every queue group with at least one member.
#[derive(Debug, Default)]
pub struct Groups {
    by_key: HashMap<(Box<str>, Box<str>), GroupId>,
    slots: Vec<Option<Group>>,
    free: Vec<u32>,
}

impl Groups {
    /// Adds a member to the group `name` of filter `filter`, creating it.
    pub fn join(&mut self, name: &str, filter: &str) -> GroupId {
        let key: (Box<str>, Box<str>) = (name.into(), filter.into());
        if let Some(&id) = self.by_key.get(&key) {
            if let Some(g) = self.slot(id) {
                g.members += 1;
            }
            return id;
        }
        let group = Group {
            key: key.clone(),
            members: 1,
            turn: 0,
        };
        let id = match self.free.pop() {
            Some(slot) => {
                self.slots[slot as usize] = Some(group);
                GroupId(slot)
            }
            None => {
                self.slots.push(Some(group));
                GroupId(u32::try_from(self.slots.len() - 1).unwrap_or(u32::MAX))
            }
        };
        self.by_key.insert(key, id);
        id
    }

    /// Removes a member; the group goes with its last one.
    pub fn leave(&mut self, id: GroupId) {
        let Some(g) = self.slot(id) else {
            return;
        };
        g.members -= 1;
        if g.members == 0 {
            if let Some(gone) = self.slots[id.0 as usize].take() {
                self.by_key.remove(&gone.key);
                self.free.push(id.0);
            }
        }
    }

    /// Which of `candidates` matching members gets the next message of `id`.
    pub fn next_turn(&mut self, id: GroupId, candidates: usize) -> usize {
        let Some(g) = self.slot(id) else {
            return 0;
        };
        let pick = usize::try_from(g.turn % candidates.max(1) as u64).unwrap_or(0);
        g.turn += 1;
        pick
    }

    /// Picks, for each group among `grouped` (the matching members of some
    /// groups, in matching order), the member whose turn it is, and hands it
    /// to `deliver`.
    pub fn pick_members(
        &mut self,
        grouped: &mut [(GroupId, Recipient)],
        mut deliver: impl FnMut(Recipient),
    ) {
        grouped.sort_by_key(|&(g, _)| g);
        for run in grouped.chunk_by(|a, b| a.0 == b.0) {
            deliver(run[self.next_turn(run[0].0, run.len())].1);
        }
    }

    fn slot(&mut self, id: GroupId) -> Option<&mut Group> {
        self.slots.get_mut(id.0 as usize).and_then(Option::as_mut)
    }

    /// Groups with at least one member.
    #[must_use]
    pub fn len(&self) -> usize {
        self.by_key.len()
    }

    /// Whether there is no group.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.by_key.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn members_share_a_group_by_name_and_filter() {
        let mut g = Groups::default();
        let a = g.join("w", "/jobs");
        assert_eq!(g.join("w", "/jobs"), a);
        let other_filter = g.join("w", "/jobs/x");
        let other_name = g.join("v", "/jobs");
        assert!(a != other_filter && a != other_name);
        assert_eq!(g.len(), 3);
        let turns: Vec<_> = (0..6).map(|_| g.next_turn(a, 2)).collect();
        assert_eq!(turns, [0, 1, 0, 1, 0, 1]);
        g.leave(a);
        g.leave(a);
        assert_eq!(g.len(), 2, "the group goes with its last member");
        assert_eq!(g.join("new", "/n"), a, "its slot is reused");
    }
}
