//! Forgetting history past the retention: class logs, moves and the global index lose
//! everything older than the cutoff, and readers older than the newest version forgotten reset
//! from then on (the state's floor).

use std::collections::HashSet;

use super::{ContactsState, Persist};
use crate::{
    contacts::{class::ClassKey, moves::MoveDiff},
    store::Version,
};

impl ContactsState {
    /// Forgets the history older than `cutoff`, all of it: readers older than the newest
    /// version forgotten reset from then on (the state's floor). Nothing below the cutoff is
    /// needed again — except the diffs that newer diffs of the same pair are stored as changes
    /// of. (The global index comes back from the directory at a restart, below the floor.)
    pub fn prune(&mut self, cutoff: Version) {
        let mut newest: Option<Version> = None;
        for class in self.classes.values_mut() {
            newest = newest.max(class.log.prune(cutoff, |_| false));
        }
        newest = newest.max(self.global.prune(cutoff, |_| false));
        for user in self.users.values_mut() {
            let dropped = user.transitions.iter().map(|t| t.version);
            newest = newest.max(dropped.filter(|v| *v < cutoff).max());
            user.transitions.retain(|t| t.version >= cutoff);
        }
        if let Some(newest) = newest {
            self.floor = self.floor.max(newest);
        }
        // Classes nobody is in whose history is gone entirely can be forgotten.
        let referenced: HashSet<ClassKey> = self
            .users
            .values()
            .flat_map(|u| {
                std::iter::once(u.class.clone()).chain(
                    u.transitions
                        .iter()
                        .flat_map(|t| [t.from.clone(), t.to.clone()]),
                )
            })
            .collect();
        self.classes
            .retain(|key, class| class.live || referenced.contains(key) || class.log.len() > 0);
        // The diffs below the cutoff that a kept diff is chained to stay stored.
        let heads = self.chains.retain_referenced();
        let mut seen: HashSet<*const MoveDiff> = HashSet::new();
        let mut keep = Vec::new();
        let kept = self
            .users
            .values()
            .flat_map(|u| u.transitions.iter().map(|t| t.diff.clone()))
            .chain(heads);
        for diff in kept {
            for link in diff.chain() {
                if !seen.insert(std::ptr::from_ref(link)) {
                    break;
                }
                if link.version < cutoff {
                    keep.push(link.id());
                }
            }
        }
        self.outbox.push(Persist::Compact {
            cutoff,
            floor: self.floor,
            keep,
        });
    }
}
