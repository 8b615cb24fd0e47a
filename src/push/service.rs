//! The push service: what the API and the other modules call. Offline messages come from the
//! messaging dispatcher through a bounded channel (the dispatcher never waits: when the channel
//! is full the message is not pushed, and counted); one task writes them into the outbox in
//! batches, one worker sends the outbox to the gateway.

use std::sync::{
    Arc, Mutex,
    atomic::{AtomicBool, AtomicU64, Ordering},
};

use sea_orm::{DatabaseConnection, TransactionTrait};
use tokio::{
    sync::{Notify, mpsc, oneshot},
    task::JoinHandle,
};
use uuid::Uuid;

use super::{
    PushError,
    devices::{self, Device, DeviceInput, Mute, MuteInput},
    outbox::{self, Pending, now_ms},
};
use crate::{
    auth::{Auth, RevocationListener},
    config::push::PushConfig,
    directory::{Directory, StaffId},
    im::{ConversationId, ConversationKind, Im, OfflineListener, OfflineMessage},
    locks::MutexExt,
    observability::render_value,
};

/// Offline messages waiting to be written to the outbox, at most.
const INBOX: usize = 65_536;
/// Messages written to the outbox per transaction, at most.
const INGEST_BATCH: usize = 256;

/// Counters behind `/metrics`.
#[derive(Default)]
pub(crate) struct PushMetrics {
    pub queued: AtomicU64,
    pub collapsed: AtomicU64,
    pub sent: AtomicU64,
    pub failed: AtomicU64,
    pub retried: AtomicU64,
    pub skipped: AtomicU64,
    pub rejected: AtomicU64,
    /// Offline messages not pushed because the inbox was full.
    pub dropped: AtomicU64,
    /// Notifications waiting (queued or being sent), as the worker last counted.
    pub pending: AtomicU64,
}

enum Inbound {
    Message(OfflineMessage),
    /// Answered once everything before it is in the outbox.
    Flush(oneshot::Sender<()>),
    /// Every device of these people goes (their tokens were revoked).
    Forget(StaffId),
}

/// The push service.
pub struct Push {
    pub(crate) db: DatabaseConnection,
    pub(crate) directory: Arc<Directory>,
    pub(crate) im: Arc<Im>,
    pub(crate) config: PushConfig,
    pub(crate) client: reqwest::Client,
    pub(crate) metrics: Arc<PushMetrics>,
    /// Wakes the worker: a notification was queued.
    pub(crate) wake: Notify,
    stopping: AtomicBool,
    inbox: mpsc::Sender<Inbound>,
    tasks: Mutex<Vec<JoinHandle<()>>>,
}

/// What the dispatcher and auth hold: it only queues.
struct Listener {
    inbox: mpsc::Sender<Inbound>,
    metrics: Arc<PushMetrics>,
}

impl OfflineListener for Listener {
    fn offline(&self, message: OfflineMessage) {
        if self.inbox.try_send(Inbound::Message(message)).is_err() {
            self.metrics.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }
}

impl RevocationListener for Listener {
    fn revoked(&self, staff: StaffId) {
        if self.inbox.try_send(Inbound::Forget(staff)).is_err() {
            tracing::warn!(staff = %staff.0, "push inbox full: devices of a revoked person kept");
        }
    }
}

impl Push {
    /// Builds the service; with `background` (the serving process) and a gateway configured,
    /// it hears offline messages and starts the worker.
    pub fn start(
        db: DatabaseConnection,
        directory: Arc<Directory>,
        im: Arc<Im>,
        auth: &Auth,
        config: PushConfig,
        background: bool,
    ) -> Arc<Self> {
        let (tx, rx) = mpsc::channel(INBOX);
        let metrics = Arc::new(PushMetrics::default());
        let client = reqwest::Client::builder()
            .timeout(config.timeout)
            .build()
            .unwrap_or_default();
        let push = Arc::new(Self {
            db,
            directory,
            im: im.clone(),
            config,
            client,
            metrics: metrics.clone(),
            wake: Notify::new(),
            stopping: AtomicBool::new(false),
            inbox: tx.clone(),
            tasks: Mutex::new(Vec::new()),
        });
        if background {
            let listener = Arc::new(Listener { inbox: tx, metrics });
            auth.on_revoked(listener.clone());
            let mut tasks = vec![tokio::spawn(ingest(push.clone(), rx))];
            if push.config.enabled() {
                im.on_offline_message(listener);
                tasks.push(tokio::spawn(super::worker::run(push.clone())));
            }
            push.tasks.lock_or_recover().extend(tasks);
        }
        push
    }

    pub(crate) fn stopping(&self) -> bool {
        self.stopping.load(Ordering::Acquire)
    }

    /// Registers a device of the caller.
    pub async fn register(&self, staff: StaffId, input: DeviceInput) -> Result<Device, PushError> {
        let device = devices::register(&self.db, staff, input).await?;
        tracing::info!(staff = %staff.0, device = %device.id, platform = device.platform.as_str(), "push device registered");
        Ok(device)
    }

    /// The caller's devices.
    pub async fn devices(&self, staff: StaffId) -> Result<Vec<Device>, PushError> {
        devices::list(&self.db, staff).await
    }

    /// Removes one device of the caller.
    pub async fn remove_device(&self, staff: StaffId, id: Uuid) -> Result<(), PushError> {
        devices::remove(&self.db, staff, id).await
    }

    /// The person signed out (which ends every session): every device of theirs goes.
    pub async fn signed_out(&self, staff: StaffId) -> Result<(), PushError> {
        let removed = devices::forget(&self.db, staff).await?;
        if removed > 0 {
            tracing::info!(staff = %staff.0, removed, "push devices removed at sign-out");
        }
        Ok(())
    }

    /// Silences a conversation of the caller's for push.
    pub async fn mute(
        &self,
        staff: StaffId,
        conversation: ConversationId,
        input: MuteInput,
    ) -> Result<Mute, PushError> {
        self.im.conversation_info(Some(staff), conversation)?;
        devices::mute(&self.db, staff, conversation, input).await
    }

    /// Lets a conversation's push through again.
    pub async fn unmute(
        &self,
        staff: StaffId,
        conversation: ConversationId,
    ) -> Result<(), PushError> {
        devices::unmute(&self.db, staff, conversation).await
    }

    /// The caller's muted conversations.
    pub async fn mutes(&self, staff: StaffId) -> Result<Vec<Mute>, PushError> {
        devices::mutes(&self.db, staff).await
    }

    /// Whether notifications carry message text: the messaging setting, else the config.
    pub(crate) fn include_text(&self) -> bool {
        self.im
            .settings()
            .push_include_text
            .unwrap_or(self.config.include_text)
    }

    /// Writes what the dispatcher handed over into the outbox, then stops the worker (a
    /// notification being posted is given 5 s; if cut short, its lease brings it back).
    pub async fn shutdown(&self) {
        let (tx, rx) = oneshot::channel();
        if self.inbox.send(Inbound::Flush(tx)).await.is_ok() {
            let _ = tokio::time::timeout(std::time::Duration::from_secs(10), rx).await;
        }
        self.stopping.store(true, Ordering::Release);
        self.wake.notify_one();
        let tasks: Vec<_> = self.tasks.lock_or_recover().drain(..).collect();
        for mut task in tasks {
            if tokio::time::timeout(std::time::Duration::from_secs(5), &mut task)
                .await
                .is_err()
            {
                task.abort();
            }
        }
    }

    /// Appends the push metrics in Prometheus text format.
    pub fn render_metrics(&self, out: &mut String) {
        let m = &self.metrics;
        render_value(
            out,
            "switchboard_push_pending",
            "gauge",
            "Push notifications in the outbox not yet sent, skipped or given up.",
            m.pending.load(Ordering::Relaxed),
        );
        for (name, help, counter) in [
            (
                "queued",
                "Push notifications queued since start.",
                &m.queued,
            ),
            (
                "collapsed",
                "Messages folded into a notification already queued since start.",
                &m.collapsed,
            ),
            (
                "sent",
                "Push notifications the gateway accepted since start.",
                &m.sent,
            ),
            (
                "failed",
                "Push notifications given up since start.",
                &m.failed,
            ),
            (
                "retries",
                "Attempts that failed and were scheduled again since start.",
                &m.retried,
            ),
            (
                "skipped",
                "Push notifications not sent (came online, muted, no device) since start.",
                &m.skipped,
            ),
            (
                "rejected_devices",
                "Devices removed because the gateway rejected their pushkey since start.",
                &m.rejected,
            ),
            (
                "dropped",
                "Offline messages not pushed because the push inbox was full since start.",
                &m.dropped,
            ),
        ] {
            render_value(
                out,
                &format!("switchboard_push_{name}_total"),
                "counter",
                help,
                counter.load(Ordering::Relaxed),
            );
        }
    }
}

/// Writes offline messages into the outbox, a batch per transaction.
async fn ingest(push: Arc<Push>, mut rx: mpsc::Receiver<Inbound>) {
    let mut batch = Vec::with_capacity(INGEST_BATCH);
    while rx.recv_many(&mut batch, INGEST_BATCH).await > 0 {
        let mut messages = Vec::new();
        let mut flushed = Vec::new();
        for item in batch.drain(..) {
            match item {
                Inbound::Message(message) => messages.push(message),
                Inbound::Flush(done) => flushed.push(done),
                Inbound::Forget(staff) => {
                    if let Err(error) = push.signed_out(staff).await {
                        tracing::warn!(%error, "push devices of a revoked person not removed");
                    }
                }
            }
        }
        if !messages.is_empty() {
            match write(&push, &messages).await {
                Ok(0) => {}
                Ok(_) => push.wake.notify_one(),
                Err(error) => {
                    tracing::error!(%error, messages = messages.len(), "offline messages not queued for push")
                }
            }
        }
        for done in flushed {
            let _ = done.send(());
        }
    }
}

/// Queues the messages for the recipients who have a device and did not mute the
/// conversation; how many notifications were newly queued.
async fn write(push: &Push, messages: &[OfflineMessage]) -> Result<u64, PushError> {
    let due = now_ms() + push.config.batch_window.as_millis() as i64;
    let txn = push.db.begin().await?;
    let mut queued = 0;
    for message in messages {
        let active: Vec<StaffId> = {
            let replica = push.directory.read();
            message
                .to
                .iter()
                .copied()
                .filter(|s| replica.staff(*s).is_some_and(|p| p.is_active()))
                .collect()
        };
        let reachable = devices::with_devices(&txn, &active).await?;
        if reachable.is_empty() {
            continue;
        }
        let candidates: Vec<StaffId> = active
            .into_iter()
            .filter(|s| reachable.contains(s))
            .collect();
        let muted = devices::muted(&txn, message.conversation, &candidates).await?;
        for staff in candidates.into_iter().filter(|s| !muted.contains(s)) {
            let high = message.conversation_kind == ConversationKind::Direct
                || message.mentions.all
                || message.mentions.staff.contains(&staff);
            let pending = Pending {
                staff,
                conversation: message.conversation,
                conversation_kind: message.conversation_kind,
                msg_id: message.msg_id,
                seq: message.seq,
                sender: message.sender,
                kind: message.kind,
                preview: message.preview.clone(),
                high,
            };
            if outbox::add(&txn, &pending, due).await? {
                queued += 1;
                push.metrics.queued.fetch_add(1, Ordering::Relaxed);
                push.metrics.pending.fetch_add(1, Ordering::Relaxed);
            } else {
                push.metrics.collapsed.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
    txn.commit().await?;
    Ok(queued)
}
