//! A compacted change index: for each entry, the last version at which it changed, and the
//! entries ordered by that version so "everything after V" is a range scan. Compaction is
//! built in (one position per entry), so the index never outgrows the directory.

use std::collections::{BTreeSet, HashMap};

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::store::Version;

/// The two kinds of entries a contact list holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntryKind {
    Department,
    Staff,
}

/// One department or person.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EntryKey {
    pub kind: EntryKind,
    pub id: Uuid,
}

impl EntryKey {
    pub fn department(id: Uuid) -> Self {
        Self {
            kind: EntryKind::Department,
            id,
        }
    }
    pub fn staff(id: Uuid) -> Self {
        Self {
            kind: EntryKind::Staff,
            id,
        }
    }

    /// 17 bytes: kind, then the id.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.push(match self.kind {
            EntryKind::Department => 0,
            EntryKind::Staff => 1,
        });
        out.extend_from_slice(self.id.as_bytes());
    }

    pub fn decode(bytes: &[u8]) -> Option<Self> {
        let (&kind, id) = bytes.split_first()?;
        let id = Uuid::from_slice(id).ok()?;
        let kind = match kind {
            0 => EntryKind::Department,
            1 => EntryKind::Staff,
            _ => return None,
        };
        Some(Self { kind, id })
    }
}

/// Packs `(version, key)` pairs: 8 + 17 bytes each.
pub fn pack(entries: &[(Version, EntryKey)]) -> Vec<u8> {
    let mut out = Vec::with_capacity(entries.len() * 25);
    for (version, key) in entries {
        out.extend_from_slice(&version.0.to_be_bytes());
        key.encode(&mut out);
    }
    out
}

/// Unpacks what `pack` wrote; `None` if the bytes are damaged.
pub fn unpack(bytes: &[u8]) -> Option<Vec<(Version, EntryKey)>> {
    if !bytes.len().is_multiple_of(25) {
        return None;
    }
    bytes
        .chunks_exact(25)
        .map(|chunk| {
            let version = i64::from_be_bytes(chunk[..8].try_into().ok()?);
            Some((Version(version), EntryKey::decode(&chunk[8..])?))
        })
        .collect()
}

/// Entries by the last version they changed at.
#[derive(Debug, Default, Clone)]
pub struct ChangeIndex {
    last: HashMap<EntryKey, Version>,
    ordered: BTreeSet<(Version, EntryKey)>,
}

const MIN_KEY: EntryKey = EntryKey {
    kind: EntryKind::Department,
    id: Uuid::nil(),
};

impl ChangeIndex {
    /// Records that `key` changed at `version` (later versions replace earlier ones).
    pub fn touch(&mut self, key: EntryKey, version: Version) {
        match self.last.insert(key, version) {
            Some(old) if old > version => {
                // Out-of-order input (loading): keep the newer one.
                self.last.insert(key, old);
                return;
            }
            Some(old) => {
                self.ordered.remove(&(old, key));
            }
            None => {}
        }
        self.ordered.insert((version, key));
    }

    /// Entries that changed after `version`.
    pub fn since(&self, version: Version) -> impl Iterator<Item = &EntryKey> {
        self.ordered
            .range((Version(version.0.saturating_add(1)), MIN_KEY)..)
            .map(|(_, key)| key)
    }

    /// Entries last changed exactly at `version`.
    pub fn at(&self, version: Version) -> Vec<(Version, EntryKey)> {
        self.ordered
            .range((version, MIN_KEY)..(Version(version.0.saturating_add(1)), MIN_KEY))
            .copied()
            .collect()
    }

    pub fn len(&self) -> usize {
        self.last.len()
    }

    /// Drops entries older than `cutoff` that `keep` rejects; returns the newest version
    /// dropped (the new floor for readers).
    pub fn prune(&mut self, cutoff: Version, keep: impl Fn(&EntryKey) -> bool) -> Option<Version> {
        let doomed: Vec<(Version, EntryKey)> = self
            .ordered
            .range(..(cutoff, MIN_KEY))
            .filter(|(_, key)| !keep(key))
            .copied()
            .collect();
        let newest = doomed.iter().map(|(v, _)| *v).max();
        for (version, key) in doomed {
            self.ordered.remove(&(version, key));
            self.last.remove(&key);
        }
        newest
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_one_position_per_entry_and_scans_after_a_version() {
        let a = EntryKey::staff(Uuid::now_v7());
        let b = EntryKey::department(Uuid::now_v7());
        let mut index = ChangeIndex::default();
        index.touch(a, Version(3));
        index.touch(b, Version(5));
        index.touch(a, Version(7));
        assert_eq!(index.len(), 2);
        assert_eq!(index.since(Version(0)).count(), 2);
        assert_eq!(
            index.since(Version(5)).copied().collect::<Vec<_>>(),
            vec![a]
        );
        assert_eq!(index.since(Version(7)).count(), 0);
        index.touch(a, Version(6)); // older than what is known: ignored
        assert_eq!(
            index.since(Version(6)).copied().collect::<Vec<_>>(),
            vec![a]
        );
    }

    #[test]
    fn prune_drops_old_unkept_entries_and_reports_the_floor() {
        let a = EntryKey::staff(Uuid::now_v7());
        let b = EntryKey::staff(Uuid::now_v7());
        let mut index = ChangeIndex::default();
        index.touch(a, Version(2));
        index.touch(b, Version(4));
        assert_eq!(index.prune(Version(10), |k| *k == a), Some(Version(4)));
        assert_eq!(index.len(), 1);
        assert_eq!(index.prune(Version(1), |_| false), None);
    }

    #[test]
    fn packing_round_trips_and_rejects_damage() {
        let entries = vec![
            (Version(9), EntryKey::staff(Uuid::now_v7())),
            (Version(1), EntryKey::department(Uuid::now_v7())),
        ];
        assert_eq!(unpack(&pack(&entries)).unwrap(), entries);
        assert!(unpack(&[1, 2, 3]).is_none());
        let mut bad = pack(&entries);
        bad[8] = 7;
        assert!(unpack(&bad).is_none());
    }
}
