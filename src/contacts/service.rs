//! The contacts service: keeps the view state in step with every directory and policy commit
//! (as a listener, under the writer lock), answers snapshots, deltas, search and lookups from
//! memory, and persists the derived history in the background (through a bounded backlog).
//! Snapshots and search read a frozen view taken under the lock and do their work outside it:
//! a 100,000-entry list being serialised never holds up a commit.

use crate::locks::{MutexExt, RwLockExt};
use std::{
    collections::HashMap,
    sync::{Arc, Mutex, RwLock},
};

use super::{
    backlog::{self, Backlog},
    class::{ClassKey, ClassView},
    frozen::FrozenView,
    index::EntryKey,
    project::ContactStaff,
    snapshots::{SnapshotBody, SnapshotCache},
    state::{ContactsState, DeltaOutcome, UserView, ViewError},
    store,
    wire::{Delta, SearchResult, Snapshot, SnapshotWriter, delta_change},
};
use crate::{
    access::{Access, PolicyListener, PolicySnapshot},
    directory::{Change, Directory, DirectoryListener, Replica, StaffId},
    store::{Journal, StoreError, Version},
};

/// Figures about the views, for metrics and benchmarks.
#[derive(Debug, Clone, Copy, Default)]
pub struct ViewStats {
    pub classes: usize,
    pub live_classes: usize,
    pub log_entries: usize,
    pub users: usize,
    /// Derived rows queued for the background writer, or being written.
    pub backlog: usize,
}

/// The contacts service.
pub struct Contacts {
    directory: Arc<Directory>,
    access: Arc<Access>,
    state: RwLock<ContactsState>,
    backlog: Arc<Backlog>,
    writer_task: Mutex<Option<tokio::task::JoinHandle<()>>>,
    snapshots: Arc<SnapshotCache>,
    /// How long the last commit took to apply to every view, in nanoseconds.
    last_apply_nanos: std::sync::atomic::AtomicU64,
    /// Tells subscribers (the WebSocket gateway) the new version after each commit.
    changed: tokio::sync::broadcast::Sender<Version>,
}

impl Contacts {
    /// Builds every view from the replica and policy, restores the persisted history, and
    /// starts the background writer.
    pub async fn load(
        journal: Arc<Journal>,
        directory: Arc<Directory>,
        access: Arc<Access>,
    ) -> Result<Arc<Self>, StoreError> {
        let db = journal.db().clone();
        let stored = store::load(&db).await?;
        let relevant = journal.last_change_version().await?;

        let (state, users_to_write) = {
            let replica = directory.read();
            let policy = access.snapshot();
            let mut state = ContactsState::build(journal.head(), &policy, &replica);
            // Every entry carries the version that last changed it: the global index comes from
            // the directory itself, and start-up never reads the changelog's history.
            for department in replica.departments() {
                state
                    .global
                    .touch(EntryKey::department(department.id.0), department.version);
            }
            for person in replica.all_staff() {
                state
                    .global
                    .touch(EntryKey::staff(person.id.0), person.version);
            }
            let users = restore(&mut state, stored, relevant);
            (state, users)
        };
        store::write_users(&db, &users_to_write).await?;

        let backlog = Arc::new(Backlog::new(backlog::LIMIT));
        journal.add_gate(Arc::new(backlog::Gate(backlog.clone())));
        let task = {
            let backlog = backlog.clone();
            tokio::spawn(async move {
                // Should this task ever end early (a panic), writes must not wait for it.
                let _closing = backlog::Closing(backlog.clone());
                while let Some((batch, weight)) = backlog.take().await {
                    if let Err(error) = store::write(&db, batch).await {
                        // Derived data only: losing it costs old clients a reset after a restart.
                        tracing::error!(%error, "could not persist contact-view history");
                    }
                    backlog.written(weight);
                }
            })
        };
        Ok(Arc::new(Self {
            directory,
            access,
            state: RwLock::new(state),
            backlog,
            writer_task: Mutex::new(Some(task)),
            snapshots: Arc::default(),
            last_apply_nanos: std::sync::atomic::AtomicU64::new(0),
            changed: tokio::sync::broadcast::channel(64).0,
        }))
    }

    /// Waits until everything queued is persisted (on shutdown).
    pub async fn flush(&self) {
        self.backlog.close();
        let task = self.writer_task.lock_or_recover().take();
        if let Some(task) = task {
            let _ = task.await;
        }
    }

    fn send(&self, state: &mut ContactsState) {
        self.backlog.push(std::mem::take(&mut state.outbox));
    }

    /// The newest version the views reflect.
    pub fn version(&self) -> Version {
        self.state.read_or_recover().version
    }

    pub fn stats(&self) -> ViewStats {
        let state = self.state.read_or_recover();
        ViewStats {
            classes: state.classes.len(),
            live_classes: state.classes.values().filter(|c| c.live).count(),
            log_entries: state.classes.values().map(|c| c.log.len()).sum::<usize>()
                + state.global.len(),
            users: state.users.len(),
            backlog: self.backlog.weight(),
        }
    }

    fn with_view<T>(
        &self,
        staff: StaffId,
        f: impl FnOnce(&ContactsState, &ClassView, &Replica) -> T,
    ) -> Result<T, ViewError> {
        let replica = self.directory.read();
        let state = self.state.read_or_recover();
        let class = state.class_of(staff).ok_or(ViewError::NoView)?;
        Ok(f(&state, class, &replica))
    }

    /// A person's list as it is now, to read without the lock.
    fn frozen(&self, staff: StaffId) -> Result<FrozenView, ViewError> {
        let state = self.state.read_or_recover();
        let class = state.class_of(staff).ok_or(ViewError::NoView)?;
        Ok(FrozenView::capture(
            state.version,
            class,
            &state.slots,
            &state.entries,
        ))
    }

    /// A person's whole contact list as a body of JSON chunks, with the class and version it
    /// was built for (the pair is the snapshot's ETag). Written a chunk at a time as the client
    /// reads, from a frozen view (no lock held); a class's list at a version already sent in
    /// full is served from the cache.
    pub fn snapshot_body(&self, staff: StaffId) -> Result<SnapshotBody, ViewError> {
        let view = {
            let state = self.state.read_or_recover();
            let class = state.class_of(staff).ok_or(ViewError::NoView)?;
            if let Some(chunks) = self.snapshots.get(&class.key, state.version) {
                return Ok(SnapshotBody::cached(
                    self.snapshots.clone(),
                    class.key.clone(),
                    state.version,
                    chunks,
                ));
            }
            FrozenView::capture(state.version, class, &state.slots, &state.entries)
        };
        Ok(SnapshotBody::fresh(self.snapshots.clone(), view))
    }

    /// Snapshot bodies being sent now (each holding the frozen view it started from).
    pub fn snapshots_in_flight(&self) -> usize {
        self.snapshots.in_flight()
    }

    /// [`Self::snapshot_body`] as one buffer: what a client receives.
    pub fn snapshot_json(&self, staff: StaffId) -> Result<(ClassKey, Version, Vec<u8>), ViewError> {
        let body = self.snapshot_body(staff)?;
        let (class, version) = (body.class().clone(), body.version());
        let bytes = body
            .into_vec()
            .map_err(|e| ViewError::Serialise(e.to_string()))?;
        Ok((class, version, bytes))
    }

    /// Serialises a person's whole list without the cache (what a cache miss costs).
    pub fn render_snapshot(&self, staff: StaffId) -> Result<Vec<u8>, ViewError> {
        SnapshotWriter::new(self.frozen(staff)?)
            .into_vec()
            .map_err(|e| ViewError::Serialise(e.to_string()))
    }

    /// A person's whole contact list.
    pub fn snapshot(&self, staff: StaffId) -> Result<Snapshot, ViewError> {
        Ok(self.frozen(staff)?.snapshot())
    }

    /// What changed for a person since `since`.
    pub fn delta(&self, staff: StaffId, since: Version) -> Result<Delta, ViewError> {
        let replica = self.directory.read();
        let state = self.state.read_or_recover();
        Ok(match state.delta(staff, since, &replica)? {
            DeltaOutcome::Reset { version } => Delta {
                version: version.0,
                reset: true,
                changes: Vec::new(),
            },
            DeltaOutcome::Changes { version, changes } => Delta {
                version: version.0,
                reset: false,
                changes: changes.into_iter().map(delta_change).collect(),
            },
        })
    }

    /// One person as the viewer sees them; `None` when outside the view (or unknown).
    pub fn staff(&self, viewer: StaffId, id: StaffId) -> Result<Option<ContactStaff>, ViewError> {
        self.with_view(viewer, |state, class, replica| {
            class.project_staff(id, replica, &state.slots)
        })
    }

    /// Whether `viewer` sees person `id`.
    pub fn sees(&self, viewer: StaffId, id: StaffId) -> bool {
        self.with_view(viewer, |state, class, _| class.sees_staff(id, &state.slots))
            .unwrap_or(false)
    }

    /// People in the viewer's list matching `query` by name, pinyin, initials, login, and (when
    /// not masked for the viewer) email or phone. The scan runs outside the lock; callers on an
    /// async worker should run it with `spawn_blocking` (it reads every person in the list).
    pub fn search(
        &self,
        viewer: StaffId,
        query: &str,
        limit: usize,
    ) -> Result<SearchResult, ViewError> {
        Ok(self.frozen(viewer)?.search(query, limit))
    }

    /// Evaluates a person's view from scratch (no materialised class) and serialises it: what
    /// serving would cost without view classes. For benchmarks.
    pub fn cold_view_json(&self, staff: StaffId) -> Result<usize, ViewError> {
        let view = self.with_view(staff, |state, class, replica| {
            // The same slot numbers (shared, not copied), so the entries can be read by slot.
            let mut slots = state.slots.clone();
            let fresh = ClassView::build(
                class.key.clone(),
                class.profile.clone(),
                class.own.clone(),
                replica,
                &mut slots,
            );
            FrozenView::capture(state.version, &fresh, &slots, &state.entries)
        })?;
        Ok(serde_json::to_vec(&view.snapshot()).map_or(0, |b| b.len()))
    }

    /// Forgets sync history older than `retention` (see `ContactsState::prune`); returns the
    /// first version kept, if anything was old enough.
    pub async fn prune(
        &self,
        journal: &Journal,
        retention: std::time::Duration,
    ) -> Result<Option<Version>, StoreError> {
        let at = chrono::Utc::now().timestamp_millis() - retention.as_millis() as i64;
        let last_old = journal.version_before(at).await?;
        if last_old.0 <= 0 {
            return Ok(None);
        }
        // Everything committed at or before `last_old` is older than the retention.
        let cutoff = Version(last_old.0 + 1);
        let mut state = self.state.write_or_recover();
        state.prune(cutoff);
        self.send(&mut state);
        tracing::info!(%cutoff, "contact-sync history pruned");
        Ok(Some(cutoff))
    }

    /// What replacing the policy in force (`old`) by `new` would do to everyone's contact
    /// list (`Access::dry_run` gives both), for showing a rule's effect before it is saved.
    pub fn policy_effect(&self, old: &PolicySnapshot, new: &PolicySnapshot) -> super::PolicyEffect {
        let replica = self.directory.read();
        let state = self.state.read_or_recover();
        state.policy_effect(old, new, &replica)
    }

    /// The class a person is in and its size, for the admin preview.
    pub fn class_summary(&self, staff: StaffId) -> Result<(String, usize, usize), ViewError> {
        self.with_view(staff, |_, class, _| {
            (
                class.key.0.clone(),
                class.departments.len(),
                class.staff.len(),
            )
        })
    }
}

/// Puts the persisted history back into freshly built state. Returns the user rows to write.
fn restore(
    state: &mut ContactsState,
    stored: store::Stored,
    relevant: Version,
) -> Vec<(StaffId, ClassKey, Version, Version)> {
    // Commits whose derived rows never reached the disk (a crash right after them): readers
    // older than the newest such commit must reset.
    if stored.applied.is_none_or(|applied| applied < relevant) {
        state.floor = relevant;
    }
    // History compacted away: older readers reset.
    state.floor = state.floor.max(stored.floor);
    for diff in &stored.diffs {
        state.chains.restore(diff);
    }
    let ghost = |state: &mut ContactsState, key: &ClassKey| {
        state
            .classes
            .entry(key.clone())
            .or_insert_with(|| ClassView::ghost(key.clone()));
    };
    for (key, reproject_at, floor) in stored.classes {
        ghost(state, &key);
        if let Some(class) = state.classes.get_mut(&key) {
            class.reproject_at = reproject_at;
            class.floor = floor;
        }
    }
    for (key, entries) in stored.logs {
        ghost(state, &key);
        if let Some(class) = state.classes.get_mut(&key) {
            for (version, entry) in entries {
                class.log.touch(entry, version);
            }
        }
    }
    let mut previous: HashMap<StaffId, (ClassKey, Version, Version)> = HashMap::new();
    for (staff, class, since, floor) in stored.users {
        previous.insert(staff, (class, since, floor));
    }
    let mut transitions: HashMap<StaffId, Vec<super::state::Transition>> = HashMap::new();
    // The newest move of each person whose diff is lost: their readers from before it reset.
    let mut lost: HashMap<StaffId, Version> = HashMap::new();
    for (staff, stored_move) in stored.transitions {
        match stored_move {
            store::StoredMove::Move(transition) => {
                ghost(state, &transition.from);
                ghost(state, &transition.to);
                transitions.entry(staff).or_default().push(transition);
            }
            store::StoredMove::Lost(version) => {
                let newest = lost.entry(staff).or_default();
                *newest = (*newest).max(version);
            }
        }
    }
    let version = state.version;
    let mut to_write = Vec::new();
    for (staff, user) in state.users.iter_mut() {
        match previous.get(staff) {
            Some((class, since, floor)) if *class == user.class => {
                user.since = *since;
                user.floor = (*floor).max(lost.get(staff).copied().unwrap_or_default());
                let mut list = transitions.remove(staff).unwrap_or_default();
                list.retain(|t| t.version > user.floor);
                list.sort_by_key(|t| t.version);
                user.transitions = list;
            }
            Some((_, since, _)) => {
                // The person's class changed while no history was kept: old readers reset.
                *user = UserView {
                    class: user.class.clone(),
                    since: *since,
                    floor: version,
                    transitions: Vec::new(),
                };
                to_write.push((*staff, user.class.clone(), user.since, user.floor));
            }
            None => to_write.push((*staff, user.class.clone(), user.since, user.floor)),
        }
    }
    to_write
}

impl Contacts {
    /// How long the last commit took to reach every view (and its log), in seconds.
    pub fn last_apply_seconds(&self) -> f64 {
        self.last_apply_nanos
            .load(std::sync::atomic::Ordering::Relaxed) as f64
            / 1e9
    }

    /// The version of every later commit that may have changed some contact list (a cue to
    /// tell online clients to pull a delta; a lagging receiver just skips to the newest).
    pub fn subscribe_changes(&self) -> tokio::sync::broadcast::Receiver<Version> {
        self.changed.subscribe()
    }

    fn timed(&self, apply: impl FnOnce(&mut ContactsState)) {
        let started = std::time::Instant::now();
        let mut state = self.state.write_or_recover();
        apply(&mut state);
        self.send(&mut state);
        let _ = self.changed.send(state.version);
        self.last_apply_nanos.store(
            started.elapsed().as_nanos() as u64,
            std::sync::atomic::Ordering::Relaxed,
        );
    }
}

impl DirectoryListener for Contacts {
    fn committed(&self, version: Version, changes: &[Change], replica: &Replica) {
        let policy = self.access.snapshot();
        self.timed(|state| state.apply_directory_commit(version, changes, &policy, replica));
    }
}

impl PolicyListener for Contacts {
    fn policy_changed(
        &self,
        version: Version,
        old: &PolicySnapshot,
        new: &PolicySnapshot,
        replica: &Replica,
    ) {
        self.timed(|state| state.apply_policy_change(version, old, new, replica));
    }
}
