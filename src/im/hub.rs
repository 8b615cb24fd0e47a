//! Routing frames to the sessions of people. The send path only calls [`Hub`]; the local hub
//! delivers to this node's sessions. Routing is the only part of messaging behind an
//! interface: the writer numbers messages in memory (`ImState::next_gid` and each
//! conversation's `last_seq`), so one node owns a database's messages. Several nodes need a
//! shared numbering (database sequences or a leader per conversation) as well as a NATS hub
//! publishing to a subject per person; until then the docs say one node per database.

use crate::locks::RwLockExt;
use std::{
    collections::HashMap,
    hash::{Hash, Hasher},
    sync::{
        Arc, RwLock,
        atomic::{AtomicU16, AtomicU32, AtomicU64, Ordering},
    },
};

use axum::extract::ws::Utf8Bytes;
use tokio::sync::{Notify, mpsc};

use super::model::{ConversationId, Seq};
use crate::directory::StaffId;

/// Identifies one WebSocket session on this node.
pub type SessionId = u64;

/// What a session writes to its client, in the order queued.
#[derive(Debug, Clone)]
pub enum Outbound {
    /// A stored message: written once per session (the session drops a seq it already sent).
    Event {
        conversation: ConversationId,
        seq: Seq,
        frame: Utf8Bytes,
        /// The session that sent it gets an ack instead.
        skip: Option<SessionId>,
    },
    /// The ack of a message this session sent; the session counts it as sent.
    Ack {
        conversation: ConversationId,
        seq: Seq,
        frame: Utf8Bytes,
    },
    /// Anything else (errors, typing, presence, read positions, contact changes).
    Frame(Utf8Bytes),
}

impl Outbound {
    /// The bytes it holds (for the per-session memory bound).
    pub fn size(&self) -> usize {
        match self {
            Self::Event { frame, .. } | Self::Ack { frame, .. } | Self::Frame(frame) => {
                frame.as_str().len()
            }
        }
    }
}

/// The shared handle of one session: the queue into it, and its close signal.
#[derive(Debug)]
pub struct SessionLink {
    pub id: SessionId,
    pub staff: StaffId,
    pub device: String,
    tx: mpsc::Sender<Outbound>,
    /// Bytes queued and not yet written, bounded so a slow client cannot grow memory.
    queued_bytes: AtomicU64,
    max_queued_bytes: u64,
    /// Sends accepted but not yet acknowledged.
    pub inflight: AtomicU32,
    closing: AtomicU16,
    notify: Notify,
}

impl SessionLink {
    pub fn new(
        id: SessionId,
        staff: StaffId,
        device: String,
        tx: mpsc::Sender<Outbound>,
        max_queued_bytes: u64,
    ) -> Self {
        Self {
            id,
            staff,
            device,
            tx,
            queued_bytes: AtomicU64::new(0),
            max_queued_bytes,
            inflight: AtomicU32::new(0),
            closing: AtomicU16::new(0),
            notify: Notify::new(),
        }
    }

    /// Queues a frame without waiting. A full queue means the client does not keep up: the
    /// session is closed (it will sync after reconnecting) rather than buffering without bound.
    pub fn push(&self, item: Outbound) -> bool {
        let size = item.size() as u64;
        if self.queued_bytes.fetch_add(size, Ordering::AcqRel) + size > self.max_queued_bytes {
            self.close(super::protocol::close::TOO_SLOW);
            return false;
        }
        match self.tx.try_send(item) {
            Ok(()) => true,
            Err(error) => {
                self.queued_bytes.fetch_sub(size, Ordering::AcqRel);
                if matches!(error, mpsc::error::TrySendError::Full(_)) {
                    self.close(super::protocol::close::TOO_SLOW);
                }
                false
            }
        }
    }

    /// Counts a queued item as written (or dropped).
    pub fn taken(&self, item: &Outbound) {
        self.queued_bytes
            .fetch_sub(item.size() as u64, Ordering::AcqRel);
    }

    /// Asks the session to close with `code` (the first reason wins).
    pub fn close(&self, code: u16) {
        if self
            .closing
            .compare_exchange(0, code, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
        {
            self.notify.notify_one();
        }
    }

    /// The close code asked for, if any.
    pub fn closing(&self) -> Option<u16> {
        match self.closing.load(Ordering::Acquire) {
            0 => None,
            code => Some(code),
        }
    }

    /// Resolves once `close` was called.
    pub async fn closed(&self) {
        if self.closing().is_none() {
            self.notify.notified().await;
        }
    }
}

const SHARDS: usize = 64;

/// The sessions connected to this node, by person.
pub struct Sessions {
    shards: Vec<RwLock<HashMap<StaffId, Vec<Arc<SessionLink>>>>>,
    count: AtomicU64,
}

impl Default for Sessions {
    fn default() -> Self {
        Self {
            shards: (0..SHARDS).map(|_| RwLock::new(HashMap::new())).collect(),
            count: AtomicU64::new(0),
        }
    }
}

impl Sessions {
    fn shard(&self, staff: StaffId) -> &RwLock<HashMap<StaffId, Vec<Arc<SessionLink>>>> {
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        staff.hash(&mut hasher);
        &self.shards[(hasher.finish() as usize) % SHARDS]
    }

    /// Registers a session. Returns whether the person just came online, and the older
    /// session of the same device it replaces (to be closed).
    pub fn attach(&self, link: Arc<SessionLink>) -> (bool, Option<Arc<SessionLink>>) {
        let mut shard = self.shard(link.staff).write_or_recover();
        let list = shard.entry(link.staff).or_default();
        let first = list.is_empty();
        let replaced = list
            .iter()
            .position(|l| l.device == link.device)
            .map(|i| list.swap_remove(i));
        if replaced.is_none() {
            self.count.fetch_add(1, Ordering::Relaxed);
        }
        list.push(link);
        (first, replaced)
    }

    /// Unregisters a session. Returns whether that was the person's last one.
    pub fn detach(&self, link: &SessionLink) -> bool {
        let mut shard = self.shard(link.staff).write_or_recover();
        let Some(list) = shard.get_mut(&link.staff) else {
            return false;
        };
        let before = list.len();
        list.retain(|l| l.id != link.id);
        if list.len() < before {
            self.count.fetch_sub(1, Ordering::Relaxed);
        }
        if list.is_empty() {
            shard.remove(&link.staff);
            return before > 0;
        }
        false
    }

    /// Calls `f` for every session of `staff` here.
    pub fn each(&self, staff: StaffId, mut f: impl FnMut(&Arc<SessionLink>)) {
        if let Some(list) = self.shard(staff).read_or_recover().get(&staff) {
            list.iter().for_each(&mut f);
        }
    }

    pub fn online(&self, staff: StaffId) -> bool {
        self.shard(staff).read_or_recover().contains_key(&staff)
    }

    /// Every session here (for broadcasts and shutdown).
    pub fn all(&self) -> Vec<Arc<SessionLink>> {
        self.shards
            .iter()
            .flat_map(|s| {
                s.read_or_recover()
                    .values()
                    .flatten()
                    .cloned()
                    .collect::<Vec<_>>()
            })
            .collect()
    }

    pub fn count(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }

    /// People with at least one session here.
    pub fn people(&self) -> usize {
        self.shards.iter().map(|s| s.read_or_recover().len()).sum()
    }
}

/// Routes frames to the sessions of people, wherever they are connected.
pub trait Hub: Send + Sync {
    /// Delivers to every session of each of `to`.
    fn deliver(&self, to: &[StaffId], item: &Outbound);
    /// Delivers to every session connected to this node (contact-change cues).
    fn broadcast_local(&self, item: &Outbound);
    /// Whether the person has a session anywhere.
    fn online(&self, staff: StaffId) -> bool;
}

/// The hub of a single node.
pub struct LocalHub {
    sessions: Arc<Sessions>,
}

impl LocalHub {
    pub fn new(sessions: Arc<Sessions>) -> Self {
        Self { sessions }
    }
}

impl Hub for LocalHub {
    fn deliver(&self, to: &[StaffId], item: &Outbound) {
        for staff in to {
            self.sessions.each(*staff, |link| {
                link.push(item.clone());
            });
        }
    }

    fn broadcast_local(&self, item: &Outbound) {
        for link in self.sessions.all() {
            link.push(item.clone());
        }
    }

    fn online(&self, staff: StaffId) -> bool {
        self.sessions.online(staff)
    }
}
