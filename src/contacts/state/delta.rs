//! The delta for one person: every entry that changed for them since a version (by their
//! classes' logs, their moves between classes and the global index of changed entries),
//! projected through the class they are in now, or a reset when history no longer reaches.

use std::collections::HashSet;

use super::{ContactsState, DeltaEntry, DeltaOutcome, Transition, ViewError};
use crate::{
    contacts::{
        class::ClassView,
        index::{EntryKey, EntryKind},
        slots::SlotMaps,
    },
    directory::{DepartmentId, Replica, StaffId},
    store::Version,
};

impl ContactsState {
    /// Everything that changed for a person since `since`, compacted to one entry per id.
    pub fn delta(
        &self,
        staff: StaffId,
        since: Version,
        replica: &Replica,
    ) -> Result<DeltaOutcome, ViewError> {
        if since > self.version {
            return Err(ViewError::FromTheFuture {
                since,
                newest: self.version,
            });
        }
        let user = self.users.get(&staff).ok_or(ViewError::NoView)?;
        let current = self.classes.get(&user.class).ok_or(ViewError::NoView)?;
        let reset = Ok(DeltaOutcome::Reset {
            version: self.version,
        });
        if since < self.floor || since < user.floor || since < user.since {
            return reset;
        }
        let later: Vec<&Transition> = user
            .transitions
            .iter()
            .filter(|t| t.version > since)
            .collect();
        let mut chain: Vec<&ClassView> = Vec::new();
        let first = later.first().map_or(&user.class, |t| &t.from);
        for key in std::iter::once(first).chain(later.iter().map(|t| &t.to)) {
            match self.classes.get(key) {
                Some(class) if since >= class.floor => chain.push(class),
                _ => return reset,
            }
        }

        let mut keys: HashSet<EntryKey> = HashSet::new();
        let mut everything = false;
        for transition in &later {
            everything |= transition.all;
            keys.extend(transition.diff.entries());
        }
        for class in &chain {
            keys.extend(class.log.since(since).copied());
            everything |= class.reproject_at > since;
        }
        keys.extend(
            self.global
                .since(since)
                .filter(|k| current.sees(k, &self.slots))
                .copied(),
        );
        if everything {
            keys.extend(current.entries(&self.slots));
        }

        let mut keys: Vec<EntryKey> = keys.into_iter().collect();
        keys.sort();
        let changes = keys
            .into_iter()
            .map(|key| {
                project(current, key, replica, &self.slots).unwrap_or(DeltaEntry::Remove(key))
            })
            .collect();
        Ok(DeltaOutcome::Changes {
            version: self.version,
            changes,
        })
    }
}

/// An entry as a class sees it, if it does.
fn project(
    class: &ClassView,
    key: EntryKey,
    replica: &Replica,
    slots: &SlotMaps,
) -> Option<DeltaEntry> {
    match key.kind {
        EntryKind::Department => class
            .project_department(DepartmentId(key.id), replica, slots)
            .map(DeltaEntry::UpsertDepartment),
        EntryKind::Staff => class
            .project_staff(StaffId(key.id), replica, slots)
            .map(DeltaEntry::UpsertStaff),
    }
}
