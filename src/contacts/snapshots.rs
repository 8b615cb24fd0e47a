//! Serving snapshots: a response body that streams a frozen view a chunk at a time (or, when
//! the class's list at that version was sent before, the cached chunks), and the cache it
//! fills. Nothing here holds a lock while writing: a client that reads slowly keeps only its
//! frozen view (and the entries chunks later commits replaced) alive.

use std::{
    collections::HashMap,
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
};

use bytes::Bytes;

use super::{class::ClassKey, frozen::FrozenView, wire::SnapshotWriter};
use crate::{locks::MutexExt, store::Version};

/// At most this many bytes of serialised snapshots are cached, and at most this many more are
/// being collected by responses in flight to fill the cache.
const CACHE_BYTES: usize = 64 << 20;

type Chunks = Arc<[Bytes]>;

/// The cached lists (the newest version sent per class) and the counters of what is in flight.
#[derive(Debug, Default)]
pub struct SnapshotCache {
    lists: Mutex<HashMap<ClassKey, (Version, Chunks)>>,
    /// Bytes held by responses that will fill the cache when they complete.
    filling: AtomicUsize,
    /// Snapshot bodies being sent.
    in_flight: AtomicUsize,
}

impl SnapshotCache {
    /// The cached chunks of a class's list at `version`, if sent before.
    pub fn get(&self, key: &ClassKey, version: Version) -> Option<Chunks> {
        self.lists
            .lock_or_recover()
            .get(key)
            .filter(|(cached, _)| *cached == version)
            .map(|(_, chunks)| chunks.clone())
    }

    fn insert(&self, key: ClassKey, version: Version, chunks: Chunks) {
        let size: usize = chunks.iter().map(Bytes::len).sum();
        let mut lists = self.lists.lock_or_recover();
        if lists
            .get(&key)
            .is_some_and(|(cached, _)| *cached >= version)
        {
            return;
        }
        // Bounded by bytes: a whole-company list is tens of megabytes.
        let held: usize = lists
            .values()
            .map(|(_, c)| c.iter().map(Bytes::len).sum::<usize>())
            .sum();
        if held + size > CACHE_BYTES {
            lists.clear();
        }
        lists.insert(key, (version, chunks));
    }

    /// Takes `bytes` of the filling allowance; `false` when it is used up.
    fn reserve(&self, bytes: usize) -> bool {
        self.filling
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |held| {
                (held + bytes <= CACHE_BYTES).then_some(held + bytes)
            })
            .is_ok()
    }

    fn release(&self, bytes: usize) {
        self.filling.fetch_sub(bytes, Ordering::AcqRel);
    }

    /// Snapshot bodies being sent now.
    pub fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::Relaxed)
    }
}

enum Source {
    Cached { chunks: Chunks, next: usize },
    Fresh(Box<SnapshotWriter>),
}

/// One snapshot response's body: an iterator of JSON chunks.
pub struct SnapshotBody {
    key: ClassKey,
    version: Version,
    source: Source,
    cache: Arc<SnapshotCache>,
    /// The chunks sent so far, kept to fill the cache (`None`: not filling).
    fill: Option<(Vec<Bytes>, usize)>,
}

impl SnapshotBody {
    pub(super) fn cached(
        cache: Arc<SnapshotCache>,
        key: ClassKey,
        version: Version,
        chunks: Chunks,
    ) -> Self {
        cache.in_flight.fetch_add(1, Ordering::Relaxed);
        Self {
            key,
            version,
            source: Source::Cached { chunks, next: 0 },
            cache,
            fill: None,
        }
    }

    pub(super) fn fresh(cache: Arc<SnapshotCache>, view: FrozenView) -> Self {
        cache.in_flight.fetch_add(1, Ordering::Relaxed);
        Self {
            key: view.key.clone(),
            version: view.version,
            source: Source::Fresh(Box::new(SnapshotWriter::new(view))),
            cache,
            fill: Some((Vec::new(), 0)),
        }
    }

    /// The class the list was built for.
    pub fn class(&self) -> &ClassKey {
        &self.key
    }

    pub fn version(&self) -> Version {
        self.version
    }

    /// The whole document at once.
    pub fn into_vec(self) -> serde_json::Result<Vec<u8>> {
        let mut out = Vec::new();
        for chunk in self {
            out.extend_from_slice(&chunk?);
        }
        Ok(out)
    }

    fn stop_filling(&mut self) {
        if let Some((_, held)) = self.fill.take() {
            self.cache.release(held);
        }
    }
}

impl Iterator for SnapshotBody {
    type Item = serde_json::Result<Bytes>;

    fn next(&mut self) -> Option<Self::Item> {
        let writer = match &mut self.source {
            Source::Cached { chunks, next } => {
                let chunk = chunks.get(*next).cloned();
                *next += 1;
                return chunk.map(Ok);
            }
            Source::Fresh(writer) => writer,
        };
        match writer.next() {
            Some(Ok(chunk)) => {
                if let Some((kept, held)) = &mut self.fill {
                    if self.cache.reserve(chunk.len()) {
                        // A clone shares the chunk's memory: the cache costs no copy.
                        kept.push(chunk.clone());
                        *held += chunk.len();
                    } else {
                        self.stop_filling();
                    }
                }
                Some(Ok(chunk))
            }
            Some(Err(error)) => {
                tracing::error!(%error, class = %self.key.0, "could not serialise a snapshot");
                self.stop_filling();
                Some(Err(error))
            }
            None => {
                if let Some((kept, held)) = self.fill.take() {
                    self.cache.release(held);
                    self.cache
                        .insert(self.key.clone(), self.version, kept.into());
                }
                None
            }
        }
    }
}

impl Drop for SnapshotBody {
    fn drop(&mut self) {
        self.stop_filling();
        self.cache.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}
