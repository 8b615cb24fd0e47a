//! Dense slot numbers for departments and people, so that each view class stores its view as
//! two bitsets (12.5 KB per 100,000 entries) instead of two hash sets (megabytes). Slots are
//! never reused within a process: a deleted entry's bit is cleared in every class first.

use std::{collections::HashMap, sync::Arc};

use uuid::Uuid;

use super::index::{EntryKey, EntryKind};

/// Slot numbers of one kind of entry. A clone shares the maps (a frozen view takes one under
/// the lock in O(1)); allocating a slot copies them only while such a clone is alive.
#[derive(Debug, Default, Clone)]
pub struct Slots(Arc<SlotTable>);

#[derive(Debug, Default, Clone)]
struct SlotTable {
    index: HashMap<Uuid, u32>,
    ids: Vec<Uuid>,
}

impl Slots {
    /// The slot of `id`, allocating one if it has none.
    pub fn slot(&mut self, id: Uuid) -> u32 {
        if let Some(slot) = self.0.index.get(&id) {
            return *slot;
        }
        let table = Arc::make_mut(&mut self.0);
        let slot = table.ids.len() as u32;
        table.ids.push(id);
        table.index.insert(id, slot);
        slot
    }

    pub fn get(&self, id: Uuid) -> Option<u32> {
        self.0.index.get(&id).copied()
    }

    pub fn id(&self, slot: u32) -> Uuid {
        self.0.ids[slot as usize]
    }
}

/// Slots of departments and of people.
#[derive(Debug, Default, Clone)]
pub struct SlotMaps {
    pub departments: Slots,
    pub staff: Slots,
}

impl SlotMaps {
    pub fn of(&self, kind: EntryKind) -> &Slots {
        match kind {
            EntryKind::Department => &self.departments,
            EntryKind::Staff => &self.staff,
        }
    }

    pub fn key(&self, kind: EntryKind, slot: u32) -> EntryKey {
        EntryKey {
            kind,
            id: self.of(kind).id(slot),
        }
    }
}

/// A growable set of slots.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct BitSet {
    words: Vec<u64>,
    len: usize,
}

impl BitSet {
    pub fn contains(&self, slot: u32) -> bool {
        self.words
            .get(slot as usize / 64)
            .is_some_and(|w| w & (1 << (slot % 64)) != 0)
    }

    /// Adds a slot; returns whether it was new.
    pub fn insert(&mut self, slot: u32) -> bool {
        let word = slot as usize / 64;
        if word >= self.words.len() {
            self.words.resize(word + 1, 0);
        }
        let bit = 1 << (slot % 64);
        let new = self.words[word] & bit == 0;
        self.words[word] |= bit;
        self.len += usize::from(new);
        new
    }

    /// Removes a slot; returns whether it was there.
    pub fn remove(&mut self, slot: u32) -> bool {
        let Some(word) = self.words.get_mut(slot as usize / 64) else {
            return false;
        };
        let bit = 1 << (slot % 64);
        let had = *word & bit != 0;
        *word &= !bit;
        self.len -= usize::from(had);
        had
    }

    pub fn len(&self) -> usize {
        self.len
    }

    /// Every slot, ascending.
    pub fn iter(&self) -> impl Iterator<Item = u32> + '_ {
        self.iter_from(0)
    }

    /// Every slot from `first` on, ascending.
    pub fn iter_from(&self, first: u32) -> impl Iterator<Item = u32> + '_ {
        let start = first as usize / 64;
        // Bits below `first` in its word are masked off.
        let low = !0u64 << (first % 64);
        self.words
            .iter()
            .enumerate()
            .skip(start)
            .flat_map(move |(i, word)| {
                let mut w = if i == start { *word & low } else { *word };
                std::iter::from_fn(move || {
                    if w == 0 {
                        return None;
                    }
                    let bit = w.trailing_zeros();
                    w &= w - 1;
                    Some(i as u32 * 64 + bit)
                })
            })
    }

    fn zip<'a>(
        &'a self,
        other: &'a BitSet,
        op: impl Fn(u64, u64) -> u64 + 'a,
    ) -> impl Iterator<Item = u32> + 'a {
        let n = self.words.len().max(other.words.len());
        (0..n).flat_map(move |i| {
            let a = self.words.get(i).copied().unwrap_or(0);
            let b = other.words.get(i).copied().unwrap_or(0);
            let mut w = op(a, b);
            std::iter::from_fn(move || {
                if w == 0 {
                    return None;
                }
                let bit = w.trailing_zeros();
                w &= w - 1;
                Some(i as u32 * 64 + bit)
            })
        })
    }

    /// Slots in exactly one of the two sets.
    pub fn symmetric_difference<'a>(&'a self, other: &'a BitSet) -> impl Iterator<Item = u32> + 'a {
        self.zip(other, |a, b| a ^ b)
    }

    /// Slots in this set and not in `other`.
    pub fn difference<'a>(&'a self, other: &'a BitSet) -> impl Iterator<Item = u32> + 'a {
        self.zip(other, |a, b| a & !b)
    }

    /// Slots in both sets.
    pub fn intersection<'a>(&'a self, other: &'a BitSet) -> impl Iterator<Item = u32> + 'a {
        self.zip(other, |a, b| a & b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bitset_operations() {
        let mut a = BitSet::default();
        let mut b = BitSet::default();
        assert!(a.insert(3) && a.insert(70) && !a.insert(3));
        b.insert(70);
        b.insert(200);
        assert_eq!(a.len(), 2);
        assert!(a.contains(70) && !a.contains(200) && !a.contains(100_000));
        assert_eq!(a.symmetric_difference(&b).collect::<Vec<_>>(), vec![3, 200]);
        assert_eq!(a.intersection(&b).collect::<Vec<_>>(), vec![70]);
        assert!(a.remove(3) && !a.remove(3) && !a.remove(99_999));
        assert_eq!(a.iter().collect::<Vec<_>>(), vec![70]);
        b.insert(64);
        assert_eq!(b.iter_from(65).collect::<Vec<_>>(), vec![70, 200]);
        assert_eq!(b.iter_from(64).collect::<Vec<_>>(), vec![64, 70, 200]);
        assert_eq!(b.iter_from(201).count(), 0);
        assert_eq!(b.iter_from(100_000).count(), 0);
    }

    #[test]
    fn slots_are_dense_and_stable() {
        let mut slots = Slots::default();
        let (x, y) = (Uuid::now_v7(), Uuid::now_v7());
        assert_eq!(slots.slot(x), 0);
        assert_eq!(slots.slot(y), 1);
        assert_eq!(slots.slot(x), 0);
        assert_eq!(slots.id(1), y);
        assert_eq!(slots.get(Uuid::nil()), None);
    }
}
