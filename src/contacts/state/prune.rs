//! Forgetting history past the retention: class logs, moves and the global index lose what only
//! readers older than the cutoff could need, and those readers' floors rise so they reset.

use std::collections::HashSet;

use super::{ContactsState, Persist};
use crate::{
    contacts::{
        class::ClassKey,
        index::{EntryKey, EntryKind},
    },
    store::Version,
};

impl ContactsState {
    /// Forgets history older than `cutoff` that only old readers could need, raising floors so
    /// those readers reset instead of missing a removal. Entries of entries still visible are
    /// kept (they cost at most one per entry).
    pub fn prune(&mut self, cutoff: Version, existing: impl Fn(&EntryKey) -> bool) {
        for class in self.classes.values_mut() {
            let slots = &self.slots;
            let (departments, staff) = (&class.departments, &class.staff);
            let sees = |key: &EntryKey| match key.kind {
                EntryKind::Department => slots
                    .departments
                    .get(key.id)
                    .is_some_and(|s| departments.contains(s)),
                EntryKind::Staff => slots.staff.get(key.id).is_some_and(|s| staff.contains(s)),
            };
            if let Some(newest) = class.log.prune(cutoff, sees) {
                class.floor = class.floor.max(newest);
                self.outbox.push(Persist::ClassMeta {
                    key: class.key.clone(),
                    reproject_at: class.reproject_at,
                    floor: class.floor,
                });
            }
        }
        // A deleted entry in the global index is never served (only visible ones are).
        self.global.prune(cutoff, &existing);
        for (staff, user) in self.users.iter_mut() {
            let before = user.transitions.len();
            let newest_dropped = user
                .transitions
                .iter()
                .filter(|t| t.version < cutoff)
                .map(|t| t.version)
                .max();
            user.transitions.retain(|t| t.version >= cutoff);
            if let Some(newest) = newest_dropped {
                user.floor = user.floor.max(newest);
            }
            if user.transitions.len() != before {
                self.outbox.push(Persist::User {
                    staff: *staff,
                    class: user.class.clone(),
                    since: user.since,
                    floor: user.floor,
                });
            }
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
        self.classes.retain(|key, class| {
            class.live
                || referenced.contains(key)
                || class.log.len() > 0
                || class.floor > Version(0)
        });
        let survivors = self
            .classes
            .values()
            .map(|c| (c.key.clone(), c.log.before(cutoff)))
            .collect();
        self.outbox.push(Persist::Compact { cutoff, survivors });
    }
}
