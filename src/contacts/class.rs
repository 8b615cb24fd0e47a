//! A view class: the part of the directory that everyone with the same roles (and, when the
//! rules depend on it, the same departments) sees, kept current commit by commit, with the
//! log of entries whose state changed *for this class* for reasons other than their own edit
//! (visibility flips, a parent department appearing or vanishing, masks changing).

use std::collections::{BTreeSet, HashSet};

use sha2::{Digest, Sha256};

use super::{
    index::{ChangeIndex, EntryKey, EntryKind},
    project::{self, ContactDepartment, ContactStaff},
    slots::{BitSet, SlotMaps, Slots},
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
    /// Visible departments and people, by slot.
    pub departments: BitSet,
    pub staff: BitSet,
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
        slots: &mut SlotMaps,
    ) -> Self {
        let mut view = Self {
            key,
            profile,
            own,
            departments: BitSet::default(),
            staff: BitSet::default(),
            log: ChangeIndex::default(),
            reproject_at: Version(0),
            floor: Version(0),
            live: true,
        };
        (view.departments, view.staff) = view.evaluate(replica, slots);
        view
    }

    /// A class nobody is in, kept only for its history.
    pub fn ghost(key: ClassKey) -> Self {
        Self {
            key,
            profile: ClassProfile::default(),
            own: BTreeSet::new(),
            departments: BitSet::default(),
            staff: BitSet::default(),
            log: ChangeIndex::default(),
            reproject_at: Version(0),
            floor: Version(0),
            live: false,
        }
    }

    fn evaluate(&self, replica: &Replica, slots: &mut SlotMaps) -> (BitSet, BitSet) {
        let mut departments = BitSet::default();
        for d in replica.departments() {
            let slot = slots.departments.slot(d.id.0);
            if self.profile.department_visible(&self.own, d, replica) {
                departments.insert(slot);
            }
        }
        let mut staff = BitSet::default();
        for s in replica.all_staff() {
            let slot = slots.staff.slot(s.id.0);
            if self
                .profile
                .staff_visible(s, |d| slot_in(&departments, &slots.departments, d.0))
            {
                staff.insert(slot);
            }
        }
        (departments, staff)
    }

    pub fn sees_department(&self, id: DepartmentId, slots: &SlotMaps) -> bool {
        slot_in(&self.departments, &slots.departments, id.0)
    }

    pub fn sees_staff(&self, id: StaffId, slots: &SlotMaps) -> bool {
        slot_in(&self.staff, &slots.staff, id.0)
    }

    pub fn sees(&self, key: &EntryKey, slots: &SlotMaps) -> bool {
        match key.kind {
            EntryKind::Department => self.sees_department(DepartmentId(key.id), slots),
            EntryKind::Staff => self.sees_staff(StaffId(key.id), slots),
        }
    }

    /// Every entry in the view.
    pub fn entries<'a>(&'a self, slots: &'a SlotMaps) -> impl Iterator<Item = EntryKey> + 'a {
        self.departments
            .iter()
            .map(|s| slots.key(EntryKind::Department, s))
            .chain(self.staff.iter().map(|s| slots.key(EntryKind::Staff, s)))
    }

    pub fn project_department(
        &self,
        id: DepartmentId,
        replica: &Replica,
        slots: &SlotMaps,
    ) -> Option<ContactDepartment> {
        let department = replica.department(id)?;
        self.sees_department(id, slots).then(|| {
            project::department(
                department,
                parent_in(&self.departments, id, replica, slots),
                &self.profile.masks,
            )
        })
    }

    pub fn project_staff(
        &self,
        id: StaffId,
        replica: &Replica,
        slots: &SlotMaps,
    ) -> Option<ContactStaff> {
        let person = replica.staff(id)?;
        self.sees_staff(id, slots).then(|| {
            project::staff(person, &self.profile.masks, |d| {
                self.sees_department(d, slots)
            })
        })
    }

    /// Moves the view past one directory commit (the replica is already at `version`).
    pub fn apply_commit(
        &mut self,
        version: Version,
        dirty: &Dirty,
        replica: &Replica,
        slots: &mut SlotMaps,
    ) {
        let mut flipped = Vec::new();
        for &id in &dirty.departments {
            let key = EntryKey::department(id.0);
            let slot = slots.departments.slot(id.0);
            let now = replica
                .department(id)
                .is_some_and(|d| self.profile.department_visible(&self.own, d, replica));
            let was = self.departments.contains(slot);
            if now == was {
                continue;
            }
            if now {
                self.departments.insert(slot);
            } else {
                self.departments.remove(slot);
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
                if self.sees_department(child, slots) {
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
            if self.sees_department(*id, slots) && !dirty.changed.contains(&key) {
                self.log.touch(key, version);
            }
        }

        let context: HashSet<StaffId> = context_staff.iter().copied().collect();
        for id in dirty.staff.iter().chain(context_staff.iter()) {
            let key = EntryKey::staff(id.0);
            let slot = slots.staff.slot(id.0);
            let now = replica.staff(*id).is_some_and(|s| {
                self.profile
                    .staff_visible(s, |d| slot_in(&self.departments, &slots.departments, d.0))
            });
            let was = self.staff.contains(slot);
            if now != was {
                if now {
                    self.staff.insert(slot);
                } else {
                    self.staff.remove(slot);
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
    pub fn replace_profile(
        &mut self,
        version: Version,
        profile: ClassProfile,
        replica: &Replica,
        slots: &mut SlotMaps,
    ) {
        let masks_changed = profile.masks != self.profile.masks;
        let old_departments = std::mem::take(&mut self.departments);
        let old_staff = std::mem::take(&mut self.staff);
        self.profile = profile;
        let (departments, staff) = self.evaluate(replica, slots);
        self.departments = departments;
        self.staff = staff;
        for entry in diff(
            (&old_departments, &old_staff),
            (&self.departments, &self.staff),
            replica,
            slots,
        ) {
            self.log.touch(entry, version);
        }
        if masks_changed {
            self.reproject_at = version;
        }
    }
}

fn slot_in(set: &BitSet, slots: &Slots, id: uuid::Uuid) -> bool {
    slots.get(id).is_some_and(|slot| set.contains(slot))
}

/// The nearest visible ancestor of a department under the given visible set.
fn parent_in(
    departments: &BitSet,
    id: DepartmentId,
    replica: &Replica,
    slots: &SlotMaps,
) -> Option<DepartmentId> {
    replica
        .ancestors_and_self(id)
        .into_iter()
        .skip(1)
        .find(|a| slot_in(departments, &slots.departments, a.0))
}

/// Entries whose state differs between two views of the same directory (ignoring masks):
/// present in one only, a different displayed parent, or a different department list.
pub fn diff(
    a: (&BitSet, &BitSet),
    b: (&BitSet, &BitSet),
    replica: &Replica,
    slots: &SlotMaps,
) -> Vec<EntryKey> {
    let (a_departments, a_staff) = a;
    let (b_departments, b_staff) = b;
    let mut out: Vec<EntryKey> = a_departments
        .symmetric_difference(b_departments)
        .map(|s| slots.key(EntryKind::Department, s))
        .collect();
    let departments_differ = !out.is_empty();
    if departments_differ {
        for slot in a_departments.intersection(b_departments) {
            let id = DepartmentId(slots.departments.id(slot));
            if parent_in(a_departments, id, replica, slots)
                != parent_in(b_departments, id, replica, slots)
            {
                out.push(EntryKey::department(id.0));
            }
        }
    }
    out.extend(
        a_staff
            .symmetric_difference(b_staff)
            .map(|s| slots.key(EntryKind::Staff, s)),
    );
    if departments_differ {
        for slot in a_staff.intersection(b_staff) {
            let id = StaffId(slots.staff.id(slot));
            let differs = replica.staff(id).is_some_and(|s| {
                s.memberships.iter().any(|m| {
                    slot_in(a_departments, &slots.departments, m.department_id.0)
                        != slot_in(b_departments, &slots.departments, m.department_id.0)
                })
            });
            if differs {
                out.push(EntryKey::staff(id.0));
            }
        }
    }
    out
}
