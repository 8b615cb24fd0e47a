//! A view class: the part of the directory that everyone with the same roles (and, when the
//! rules depend on it, the same departments) sees, kept current commit by commit, with the
//! log of entries whose state changed *for this class* for reasons other than their own edit
//! (visibility flips, a parent department appearing or vanishing, masks changing).

use std::collections::{BTreeSet, HashSet};

use sha2::{Digest, Sha256};

use super::{
    index::{ChangeIndex, EntryKey, EntryKind},
    project::{self, ContactDepartment, ContactStaff},
};
use crate::{
    access::ClassProfile,
    directory::{Change, DepartmentId, Replica, StaffId},
    store::Version,
};

/// The stable name of a view class: a digest of its inputs, the same after a restart.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ClassKey(pub String);

impl ClassKey {
    pub fn of(profile: &ClassProfile, own: &BTreeSet<DepartmentId>) -> Self {
        let mut hasher = Sha256::new();
        if profile.grants.uses_own() {
            hasher.update(b"own");
        }
        for role in &profile.roles {
            hasher.update(b"r");
            hasher.update(role.0.as_bytes());
        }
        for department in own {
            hasher.update(b"d");
            hasher.update(department.0.as_bytes());
        }
        Self(hex::encode(&hasher.finalize()[..16]))
    }
}

/// Entries a commit touched, worked out once for all classes.
#[derive(Debug, Default)]
pub struct Dirty {
    pub departments: Vec<DepartmentId>,
    pub staff: Vec<StaffId>,
    /// Entries that changed themselves in this commit (the global index has them).
    pub changed: HashSet<EntryKey>,
    /// Entries that did not exist before this commit.
    pub created: HashSet<EntryKey>,
    /// Departments below a moved department: their displayed parent may change.
    pub below_moved: Vec<DepartmentId>,
}

impl Dirty {
    pub fn of(changes: &[Change], replica: &Replica) -> Self {
        let mut dirty = Dirty::default();
        let mut seen_departments = HashSet::new();
        for change in changes {
            match change {
                Change::Department { before, after } => {
                    let Some(id) = after.as_ref().or(before.as_ref()).map(|d| d.id) else {
                        continue;
                    };
                    let key = EntryKey::department(id.0);
                    dirty.changed.insert(key);
                    if before.is_none() {
                        dirty.created.insert(key);
                    }
                    if seen_departments.insert(id) {
                        dirty.departments.push(id);
                    }
                    // A move changes which subtree rules cover everything below.
                    if let (Some(b), Some(a)) = (before, after)
                        && b.parent_id != a.parent_id
                    {
                        for below in replica.subtree(id).into_iter().skip(1) {
                            dirty.below_moved.push(below);
                            if seen_departments.insert(below) {
                                dirty.departments.push(below);
                            }
                        }
                    }
                }
                Change::Staff { before, after } => {
                    let Some(id) = after.as_ref().or(before.as_ref()).map(|s| s.id) else {
                        continue;
                    };
                    let key = EntryKey::staff(id.0);
                    dirty.changed.insert(key);
                    if before.is_none() {
                        dirty.created.insert(key);
                    }
                    dirty.staff.push(id);
                }
            }
        }
        dirty
    }
}

/// One class's view and log.
#[derive(Debug, Clone)]
pub struct ClassView {
    pub key: ClassKey,
    pub profile: ClassProfile,
    pub own: BTreeSet<DepartmentId>,
    pub departments: HashSet<DepartmentId>,
    pub staff: HashSet<StaffId>,
    /// Entries whose state in this class changed other than by their own edit.
    pub log: ChangeIndex,
    /// The last version at which every entry's projection changed (masks).
    pub reproject_at: Version,
    /// Readers older than this must reset (log entries before it were pruned).
    pub floor: Version,
    /// Whether the view is maintained (a class nobody is in keeps only its log).
    pub live: bool,
}

impl ClassView {
    /// Evaluates the whole view.
    pub fn build(
        key: ClassKey,
        profile: ClassProfile,
        own: BTreeSet<DepartmentId>,
        replica: &Replica,
    ) -> Self {
        let mut view = Self {
            key,
            profile,
            own,
            departments: HashSet::new(),
            staff: HashSet::new(),
            log: ChangeIndex::default(),
            reproject_at: Version(0),
            floor: Version(0),
            live: true,
        };
        (view.departments, view.staff) = view.evaluate(replica);
        view
    }

    fn evaluate(&self, replica: &Replica) -> (HashSet<DepartmentId>, HashSet<StaffId>) {
        let departments: HashSet<DepartmentId> = replica
            .departments()
            .filter(|d| self.profile.department_visible(&self.own, d, replica))
            .map(|d| d.id)
            .collect();
        let staff = replica
            .all_staff()
            .filter(|s| self.profile.staff_visible(s, |d| departments.contains(&d)))
            .map(|s| s.id)
            .collect();
        (departments, staff)
    }

    pub fn sees(&self, key: &EntryKey) -> bool {
        match key.kind {
            EntryKind::Department => self.departments.contains(&DepartmentId(key.id)),
            EntryKind::Staff => self.staff.contains(&StaffId(key.id)),
        }
    }

    /// The nearest visible ancestor of a department under the given visible set.
    fn parent_in(
        departments: &HashSet<DepartmentId>,
        id: DepartmentId,
        replica: &Replica,
    ) -> Option<DepartmentId> {
        replica
            .ancestors_and_self(id)
            .into_iter()
            .skip(1)
            .find(|a| departments.contains(a))
    }

    pub fn project_department(
        &self,
        id: DepartmentId,
        replica: &Replica,
    ) -> Option<ContactDepartment> {
        let department = replica.department(id)?;
        self.departments.contains(&id).then(|| {
            project::department(
                department,
                Self::parent_in(&self.departments, id, replica),
                &self.profile.masks,
            )
        })
    }

    pub fn project_staff(&self, id: StaffId, replica: &Replica) -> Option<ContactStaff> {
        let person = replica.staff(id)?;
        self.staff.contains(&id).then(|| {
            project::staff(person, &self.profile.masks, |d| {
                self.departments.contains(&d)
            })
        })
    }

    /// Moves the view past one directory commit (the replica is already at `version`).
    pub fn apply_commit(&mut self, version: Version, dirty: &Dirty, replica: &Replica) {
        let mut flipped = Vec::new();
        for &id in &dirty.departments {
            let key = EntryKey::department(id.0);
            let now = replica
                .department(id)
                .is_some_and(|d| self.profile.department_visible(&self.own, d, replica));
            let was = self.departments.contains(&id);
            if now == was {
                continue;
            }
            if now {
                self.departments.insert(id);
            } else {
                self.departments.remove(&id);
            }
            // A new visible department is announced by the global index; everything else that
            // appears or disappears for this class is logged here.
            if !(now && dirty.created.contains(&key)) {
                self.log.touch(key, version);
            }
            flipped.push(id);
        }

        // Departments that appeared or vanished change their members' department lists and
        // the displayed parent of the nearest visible departments below them.
        let mut context_staff: Vec<StaffId> = Vec::new();
        for id in &flipped {
            context_staff.extend(replica.members(*id));
            let mut stack: Vec<DepartmentId> = replica.children(Some(*id)).collect();
            while let Some(child) = stack.pop() {
                if self.departments.contains(&child) {
                    let key = EntryKey::department(child.0);
                    if !dirty.changed.contains(&key) {
                        self.log.touch(key, version);
                    }
                } else {
                    stack.extend(replica.children(Some(child)));
                }
            }
        }

        for id in &dirty.below_moved {
            let key = EntryKey::department(id.0);
            if self.departments.contains(id) && !dirty.changed.contains(&key) {
                self.log.touch(key, version);
            }
        }

        let context: HashSet<StaffId> = context_staff.iter().copied().collect();
        for id in dirty.staff.iter().chain(context_staff.iter()) {
            let key = EntryKey::staff(id.0);
            let now = replica.staff(*id).is_some_and(|s| {
                self.profile
                    .staff_visible(s, |d| self.departments.contains(&d))
            });
            let was = self.staff.contains(id);
            if now != was {
                if now {
                    self.staff.insert(*id);
                } else {
                    self.staff.remove(id);
                }
                if !(now && dirty.created.contains(&key)) {
                    self.log.touch(key, version);
                }
            } else if now && context.contains(id) && !dirty.changed.contains(&key) {
                self.log.touch(key, version);
            }
        }
    }

    /// Replaces the profile (a rule or role changed): re-evaluates the view and logs every
    /// entry whose state for this class differs.
    pub fn replace_profile(&mut self, version: Version, profile: ClassProfile, replica: &Replica) {
        let masks_changed = profile.masks != self.profile.masks;
        let old_departments = std::mem::take(&mut self.departments);
        let old_staff = std::mem::take(&mut self.staff);
        self.profile = profile;
        let (departments, staff) = self.evaluate(replica);
        self.departments = departments;
        self.staff = staff;
        for entry in diff(
            &old_departments,
            &old_staff,
            &self.departments,
            &self.staff,
            replica,
        ) {
            self.log.touch(entry, version);
        }
        if masks_changed {
            self.reproject_at = version;
        }
    }
}

/// Entries whose state differs between two views of the same directory (ignoring masks):
/// present in one only, a different displayed parent, or a different department list.
pub fn diff(
    a_departments: &HashSet<DepartmentId>,
    a_staff: &HashSet<StaffId>,
    b_departments: &HashSet<DepartmentId>,
    b_staff: &HashSet<StaffId>,
    replica: &Replica,
) -> Vec<EntryKey> {
    let mut out = Vec::new();
    for id in a_departments.symmetric_difference(b_departments) {
        out.push(EntryKey::department(id.0));
    }
    if a_departments != b_departments {
        for id in a_departments.intersection(b_departments) {
            if ClassView::parent_in(a_departments, *id, replica)
                != ClassView::parent_in(b_departments, *id, replica)
            {
                out.push(EntryKey::department(id.0));
            }
        }
    }
    for id in a_staff.symmetric_difference(b_staff) {
        out.push(EntryKey::staff(id.0));
    }
    if a_departments != b_departments {
        for id in a_staff.intersection(b_staff) {
            let differs = replica.staff(*id).is_some_and(|s| {
                s.memberships.iter().any(|m| {
                    a_departments.contains(&m.department_id)
                        != b_departments.contains(&m.department_id)
                })
            });
            if differs {
                out.push(EntryKey::staff(id.0));
            }
        }
    }
    out
}
