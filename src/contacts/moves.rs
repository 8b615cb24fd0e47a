//! What a person's move between two view classes changes for them, stored so that it costs in
//! proportion to what changed for the classes, not to the size of the views.
//!
//! The entries whose state differs between class A and class B at a version are "the diff of
//! (A, B)". When people make the same move one after another (HR creating people one by one
//! and giving each a role), consecutive diffs of one pair differ only by what changed in the
//! classes in between, while each diff is about as big as the view. So a diff is kept as the
//! entries that entered or left it since the previous diff of the same pair (a chain back to
//! a full diff, its root). A chain is started over with a new root when reading it back would
//! cost more than twice the diff itself — which only happens after at least as many entries
//! changed — so the stored entries stay within a small multiple of the entries that changed.

use std::{
    collections::{HashMap, HashSet},
    sync::Arc,
};

use super::{class::ClassKey, index::EntryKey};
use crate::store::Version;

/// Chains may be this much longer (in links and in stored entries) than their diff, so that
/// pairs with tiny diffs are not re-rooted at every move.
const SLACK: usize = 64;

/// One diff of a pair of classes, as a change of the previous one (or in full).
#[derive(Debug)]
pub struct MoveDiff {
    pub version: Version,
    pub from: ClassKey,
    pub to: ClassKey,
    /// The previous diff of the same pair; `None`: `entries` is the whole diff.
    pub base: Option<Arc<MoveDiff>>,
    /// Entries that entered or left the diff since `base` (or all of it).
    pub entries: Box<[EntryKey]>,
    /// Entries stored along the chain, this link's included (what reading it back costs).
    chain_entries: usize,
    /// Links in the chain, this one included.
    depth: usize,
}

impl MoveDiff {
    /// A whole diff.
    pub fn root(version: Version, from: ClassKey, to: ClassKey, entries: Box<[EntryKey]>) -> Self {
        Self {
            version,
            from,
            to,
            base: None,
            chain_entries: entries.len(),
            depth: 1,
            entries,
        }
    }

    /// A diff stored as its change from `base`.
    pub fn link(version: Version, base: Arc<MoveDiff>, entries: Box<[EntryKey]>) -> Self {
        Self {
            version,
            from: base.from.clone(),
            to: base.to.clone(),
            chain_entries: base.chain_entries + entries.len(),
            depth: base.depth + 1,
            base: Some(base),
            entries,
        }
    }

    /// The diff itself: the entries that toggle an odd number of times along the chain.
    pub fn entries(&self) -> HashSet<EntryKey> {
        let mut out = HashSet::with_capacity(self.chain_entries);
        let mut link = Some(self);
        while let Some(diff) = link {
            for key in diff.entries.iter() {
                if !out.insert(*key) {
                    out.remove(key);
                }
            }
            link = diff.base.as_deref();
        }
        out
    }

    /// The version, and the pair, that name this diff's stored row.
    pub fn id(&self) -> (Version, ClassKey, ClassKey) {
        (self.version, self.from.clone(), self.to.clone())
    }

    /// Every link of the chain, this one first.
    pub fn chain(&self) -> impl Iterator<Item = &MoveDiff> {
        std::iter::successors(Some(self), |diff| diff.base.as_deref())
    }
}

impl Drop for MoveDiff {
    /// Unlinks the chain one link at a time: the default drop would recurse once per link
    /// (thousands deep) and could overflow the stack.
    fn drop(&mut self) {
        let mut next = self.base.take();
        while let Some(link) = next {
            match Arc::try_unwrap(link) {
                Ok(mut owned) => next = owned.base.take(),
                Err(_) => break,
            }
        }
    }
}

/// The newest diff of every pair of classes that people moved between, to chain the next.
#[derive(Debug, Default)]
pub struct MoveChains {
    heads: HashMap<(ClassKey, ClassKey), Arc<MoveDiff>>,
}

impl MoveChains {
    /// Records the diff of a move from `from` to `to` at `version` (the exact entries), chained
    /// to the pair's previous diff when that is cheaper.
    pub fn record(
        &mut self,
        version: Version,
        from: &ClassKey,
        to: &ClassKey,
        exact: &[EntryKey],
    ) -> Arc<MoveDiff> {
        let pair = (from.clone(), to.clone());
        let diff = match self.heads.get(&pair) {
            Some(head) if head.version < version => {
                let previous = head.entries();
                let now: HashSet<EntryKey> = exact.iter().copied().collect();
                let mut changed: Vec<EntryKey> =
                    previous.symmetric_difference(&now).copied().collect();
                changed.sort();
                let bound = exact.len() + SLACK;
                if head.chain_entries + changed.len() <= 2 * bound && head.depth < bound {
                    MoveDiff::link(version, head.clone(), changed.into())
                } else {
                    MoveDiff::root(version, from.clone(), to.clone(), exact.into())
                }
            }
            _ => MoveDiff::root(version, from.clone(), to.clone(), exact.into()),
        };
        let diff = Arc::new(diff);
        self.heads.insert(pair, diff.clone());
        diff
    }

    /// Makes a loaded diff the newest of its pair, if it is.
    pub fn restore(&mut self, diff: &Arc<MoveDiff>) {
        let pair = (diff.from.clone(), diff.to.clone());
        match self.heads.get(&pair) {
            Some(head) if head.version >= diff.version => {}
            _ => {
                self.heads.insert(pair, diff.clone());
            }
        }
    }

    /// Forgets pairs whose newest diff nobody else holds (no transition needs it): their next
    /// move starts a new chain. Returns the heads kept.
    pub fn retain_referenced(&mut self) -> Vec<Arc<MoveDiff>> {
        self.heads.retain(|_, head| Arc::strong_count(head) > 1);
        self.heads.values().cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    fn keys(n: usize) -> Vec<EntryKey> {
        (0..n).map(|_| EntryKey::staff(Uuid::now_v7())).collect()
    }

    fn set(keys: &[EntryKey]) -> HashSet<EntryKey> {
        keys.iter().copied().collect()
    }

    #[test]
    fn a_chain_reads_back_every_diff_exactly() {
        let (a, b) = (ClassKey("a".into()), ClassKey("b".into()));
        let pool = keys(300);
        let mut chains = MoveChains::default();
        let mut diffs = Vec::new();
        // A diff that grows by one entry per move, and lacks a different one now and then.
        for step in 0..200usize {
            let exact: Vec<EntryKey> = pool[..step + 50]
                .iter()
                .enumerate()
                .filter(|(i, _)| *i != step / 3)
                .map(|(_, k)| *k)
                .collect();
            let diff = chains.record(Version(step as i64 + 1), &a, &b, &exact);
            diffs.push((diff, set(&exact)));
        }
        for (diff, exact) in &diffs {
            assert_eq!(&diff.entries(), exact, "diff at {}", diff.version);
        }
        let stored: usize = {
            let mut seen = HashSet::new();
            diffs
                .iter()
                .flat_map(|(d, _)| d.chain())
                .filter(|d| seen.insert(d.version))
                .map(|d| d.entries.len())
                .sum()
        };
        let whole: usize = diffs.iter().map(|(_, e)| e.len()).sum();
        assert!(
            stored * 10 < whole,
            "stored {stored} entries for diffs of {whole} entries in all"
        );
    }

    #[test]
    fn a_chain_is_rooted_again_when_the_diff_shrinks() {
        let (a, b) = (ClassKey("a".into()), ClassKey("b".into()));
        let pool = keys(1_000);
        let mut chains = MoveChains::default();
        let big = chains.record(Version(1), &a, &b, &pool);
        assert!(big.base.is_none());
        let small = chains.record(Version(2), &a, &b, &pool[..3]);
        assert!(small.base.is_none(), "3 entries are not read through 1,000");
        assert_eq!(small.entries(), set(&pool[..3]));
        drop(big);
        drop(small);
        assert!(chains.retain_referenced().is_empty());
    }

    #[test]
    fn long_chains_drop_without_recursion() {
        let (a, b) = (ClassKey("a".into()), ClassKey("b".into()));
        let mut diff = Arc::new(MoveDiff::root(Version(0), a, b, Box::new([])));
        for version in 1..200_000 {
            diff = Arc::new(MoveDiff::link(Version(version), diff, Box::new([])));
        }
        assert_eq!(diff.chain().count(), 200_000);
        drop(diff);
    }
}
