//! Frozen views: what a snapshot or a search reads, taken under the view lock in O(1) and read
//! outside it, so that serialising tens of megabytes or scanning 100,000 people never holds
//! up a writer. A class's view is two bitsets over slots; the entries behind the slots are
//! kept here as `Arc`'d copy-on-write chunks: a frozen view keeps the chunks of its version,
//! and a later commit copies only the chunks it touches while such a view is alive.

use std::sync::Arc;

use super::{
    class::{ClassKey, ClassView},
    project::{self, ContactStaff},
    slots::{BitSet, SlotMaps, Slots},
    wire::{SearchResult, Snapshot},
};
use crate::{
    access::{MaskedField, Masks},
    directory::{Change, Department, DepartmentId, Replica, Staff},
    store::Version,
};

/// Slots per chunk: a commit that touches one entry of a shared chunk copies 1,024 pointers.
const CHUNK: usize = 1024;

/// Entries by slot, in copy-on-write chunks.
#[derive(Debug)]
pub struct SlotStore<T> {
    chunks: Vec<Arc<Vec<Option<Arc<T>>>>>,
}

impl<T> Default for SlotStore<T> {
    fn default() -> Self {
        Self { chunks: Vec::new() }
    }
}

impl<T> Clone for SlotStore<T> {
    fn clone(&self) -> Self {
        Self {
            chunks: self.chunks.clone(),
        }
    }
}

impl<T> SlotStore<T> {
    pub fn get(&self, slot: u32) -> Option<&Arc<T>> {
        let slot = slot as usize;
        self.chunks.get(slot / CHUNK)?.get(slot % CHUNK)?.as_ref()
    }

    pub fn set(&mut self, slot: u32, value: Option<Arc<T>>) {
        let slot = slot as usize;
        let chunk = slot / CHUNK;
        while self.chunks.len() <= chunk {
            self.chunks.push(Arc::new(vec![None; CHUNK]));
        }
        Arc::make_mut(&mut self.chunks[chunk])[slot % CHUNK] = value;
    }
}

/// Every department and person of the directory by slot, at the views' version.
#[derive(Debug, Default, Clone)]
pub struct Entries {
    pub departments: SlotStore<Department>,
    pub staff: SlotStore<Staff>,
}

impl Entries {
    pub fn load(replica: &Replica, slots: &mut SlotMaps) -> Self {
        let mut entries = Self::default();
        for department in replica.departments() {
            let slot = slots.departments.slot(department.id.0);
            entries.departments.set(slot, Some(department.clone()));
        }
        for person in replica.all_staff() {
            let slot = slots.staff.slot(person.id.0);
            entries.staff.set(slot, Some(person.clone()));
        }
        entries
    }

    /// Moves the entries past a commit.
    pub fn apply(&mut self, changes: &[Change], slots: &mut SlotMaps) {
        for change in changes {
            match change {
                Change::Department { before, after } => {
                    if let Some(id) = after.as_ref().or(before.as_ref()).map(|d| d.id) {
                        let slot = slots.departments.slot(id.0);
                        self.departments.set(slot, after.clone());
                    }
                }
                Change::Staff { before, after } => {
                    if let Some(id) = after.as_ref().or(before.as_ref()).map(|s| s.id) {
                        let slot = slots.staff.slot(id.0);
                        self.staff.set(slot, after.clone());
                    }
                }
            }
        }
    }
}

/// One class's list at one version, readable without any lock.
#[derive(Debug, Clone)]
pub struct FrozenView {
    pub key: ClassKey,
    pub version: Version,
    pub masks: Masks,
    departments: BitSet,
    staff: BitSet,
    department_slots: Slots,
    entries: Entries,
}

impl FrozenView {
    /// Takes the class's list as it is now (call under the view lock; costs two 12.5 KB bitset
    /// copies per 100,000 entries and one pointer per 1,024 entries).
    pub fn capture(
        version: Version,
        class: &ClassView,
        slots: &SlotMaps,
        entries: &Entries,
    ) -> Self {
        Self {
            key: class.key.clone(),
            version,
            masks: class.profile.masks.clone(),
            departments: class.departments.clone(),
            staff: class.staff.clone(),
            department_slots: slots.departments.clone(),
            entries: entries.clone(),
        }
    }

    pub fn sees_department(&self, id: DepartmentId) -> bool {
        self.department_slots
            .get(id.0)
            .is_some_and(|slot| self.departments.contains(slot))
    }

    fn department(&self, id: DepartmentId) -> Option<&Arc<Department>> {
        self.entries
            .departments
            .get(self.department_slots.get(id.0)?)
    }

    /// The parent a department is shown under: its nearest visible ancestor.
    pub fn parent_of(&self, department: &Department) -> Option<DepartmentId> {
        let mut next = department.parent_id;
        // A cycle cannot be stored (the write path refuses it); the guard only bounds work.
        for _ in 0..=self.departments.len() + 1 {
            let id = next?;
            if self.sees_department(id) {
                return Some(id);
            }
            next = self.department(id).and_then(|d| d.parent_id);
        }
        None
    }

    /// The visible departments in display order.
    pub fn departments(&self) -> Vec<Arc<Department>> {
        let mut out: Vec<Arc<Department>> = self
            .departments
            .iter()
            .filter_map(|slot| self.entries.departments.get(slot).cloned())
            .collect();
        out.sort_by(|a, b| (a.order_key, &a.name, a.id).cmp(&(b.order_key, &b.name, b.id)));
        out
    }

    /// The visible people from slot `first` on, in slot order, each with its slot.
    pub fn staff_from(&self, first: u32) -> impl Iterator<Item = (u32, &Arc<Staff>)> + '_ {
        self.staff
            .iter_from(first)
            .filter_map(|slot| Some((slot, self.entries.staff.get(slot)?)))
    }

    pub fn staff_count(&self) -> usize {
        self.staff.len()
    }

    /// A person as this class sees them.
    pub fn project_staff(&self, person: &Staff) -> ContactStaff {
        project::staff(person, &self.masks, |d| self.sees_department(d))
    }

    /// The whole list as owned values (people by pinyin).
    pub fn snapshot(&self) -> Snapshot {
        let departments = self
            .departments()
            .iter()
            .map(|d| project::department(d, self.parent_of(d), &self.masks))
            .collect();
        let mut staff: Vec<ContactStaff> = self
            .staff_from(0)
            .map(|(_, s)| self.project_staff(s))
            .collect();
        staff.sort_by(|a, b| (&a.pinyin_full, &a.login).cmp(&(&b.pinyin_full, &b.login)));
        Snapshot {
            version: self.version.0,
            departments,
            staff,
        }
    }

    /// People matching `query` by name, pinyin, initials, login, and (when not masked for this
    /// class) email or phone, best first.
    pub fn search(&self, query: &str, limit: usize) -> SearchResult {
        let needle = query.trim().to_lowercase();
        let digits: String = needle.chars().filter(char::is_ascii_digit).collect();
        let emails_visible = !self.masks.hides(&MaskedField::Emails);
        let phones_visible = !self.masks.hides(&MaskedField::Phones);
        let rank = |s: &Staff| -> Option<u8> {
            let name = s.display_name.to_lowercase();
            if needle.is_empty() {
                None
            } else if name == needle || s.login == needle {
                Some(0)
            } else if s.pinyin_initials.starts_with(&needle)
                || name.starts_with(&needle)
                || s.pinyin_full.starts_with(&needle)
            {
                Some(1)
            } else if name.contains(&needle)
                || s.pinyin_full.contains(&needle)
                || s.login.contains(&needle)
            {
                Some(2)
            } else if (emails_visible
                && s.emails.iter().any(|e| e.to_lowercase().contains(&needle)))
                || (phones_visible
                    && digits.len() >= 3
                    && s.phones.iter().any(|p| {
                        p.chars()
                            .filter(char::is_ascii_digit)
                            .collect::<String>()
                            .contains(&digits)
                    }))
            {
                Some(3)
            } else {
                None
            }
        };
        let mut hits: Vec<(u8, &Staff)> = self
            .staff_from(0)
            .filter_map(|(_, s)| Some((rank(s)?, s.as_ref())))
            .collect();
        hits.sort_by(|a, b| {
            (a.0, &a.1.pinyin_full, &a.1.login).cmp(&(b.0, &b.1.pinyin_full, &b.1.login))
        });
        SearchResult {
            version: self.version.0,
            total: hits.len(),
            staff: hits
                .into_iter()
                .take(limit)
                .map(|(_, s)| self.project_staff(s))
                .collect(),
        }
    }
}
