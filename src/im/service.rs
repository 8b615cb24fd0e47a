//! The messaging service: what the gateway and the REST handlers call. It authorises against
//! the in-memory state and the contact views, hands writes to the single writer, and owns the
//! background tasks (writer, dispatcher, department follower, read-position flusher, contact
//! change cues).

use crate::locks::{MutexExt, RwLockExt};
use std::{
    collections::HashMap,
    path::{Path, PathBuf},
    sync::{
        Arc, Mutex, RwLock,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::Duration,
};

use axum::extract::ws::Utf8Bytes;
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter};
use tokio::{
    sync::{mpsc, oneshot},
    task::JoinHandle,
};

mod cues;

use super::{
    ImError,
    config::{ImConfig, Settings},
    conversations::{CreateDirect, CreateSystem},
    departments::Inbox,
    dispatch::{self, Dispatch},
    entities::file,
    hub::{Hub, LocalHub, Outbound, SessionLink, Sessions},
    model::{
        ConversationId, ConversationKind, Mentions, MessageBody, MessageKind, Sender, Seq,
        check_client_msg_id,
    },
    ops::{Done, Op, Reply, SendOp, Structural},
    protocol::{self, SendFrame},
    state::{ImState, pair_key, system_key},
    timings::SendTimings,
    webhooks::Webhooks,
    writer::Writer,
};
use crate::{
    auth::Auth,
    contacts::Contacts,
    directory::{Directory, StaffId},
};

/// The messaging service.
pub struct Im {
    pub(crate) db: DatabaseConnection,
    pub(crate) state: Arc<RwLock<ImState>>,
    writer: RwLock<Option<mpsc::Sender<Op>>>,
    pub(crate) sessions: Arc<Sessions>,
    pub(crate) hub: Arc<dyn Hub>,
    pub(crate) webhooks: Arc<Webhooks>,
    /// The queue worker of callbacks to apps (`apps::callbacks`).
    pub(crate) callbacks: Arc<super::apps::Callbacks>,
    pub(crate) directory: Arc<Directory>,
    pub(crate) contacts: Arc<Contacts>,
    pub(crate) auth: Arc<Auth>,
    pub config: ImConfig,
    pub(crate) settings: RwLock<Settings>,
    /// Read positions not yet written (flushed every second: they are hints, not messages).
    reads: Mutex<HashMap<(ConversationId, StaffId), Seq>>,
    pub(crate) files_dir: PathBuf,
    draining: AtomicBool,
    next_session: AtomicU64,
    /// The writer and the dispatcher: they end once the writer's queue closes.
    core: Mutex<Vec<JoinHandle<()>>>,
    /// Loops that run until shutdown stops them.
    loops: Mutex<Vec<JoinHandle<()>>>,
    /// The inbox of the loop that keeps department chats in step with the directory.
    department_follower: Arc<Inbox>,
    timings: Arc<SendTimings>,
    /// When people's last sessions closed (for mail to those away).
    pub(crate) last_seen: super::presence::LastSeen,
}

impl Im {
    /// Loads the conversations, starts the writer and the background tasks, and follows the
    /// directory so department chats keep their members.
    pub async fn start(
        db: DatabaseConnection,
        directory: Arc<Directory>,
        contacts: Arc<Contacts>,
        auth: Arc<Auth>,
        data_dir: &Path,
        config: ImConfig,
    ) -> Result<Arc<Self>, ImError> {
        let state = Arc::new(RwLock::new(ImState::load(&db).await?));
        let files_dir = data_dir.join("im-files");
        std::fs::create_dir_all(&files_dir)?;
        let sessions = Arc::new(Sessions::default());
        auth.on_revoked(Arc::new(super::gateway::RevokedSessions(sessions.clone())));
        let hub: Arc<dyn Hub> = Arc::new(LocalHub::new(sessions.clone()));
        let webhooks = Arc::new(Webhooks::default());
        let (writer_tx, writer_rx) = mpsc::channel(config.writer_queue);
        let (dispatch_tx, dispatch_rx) = mpsc::channel::<Vec<Dispatch>>(256);
        let timings = Arc::new(SendTimings::default());
        let inbox = Arc::new(Inbox::default());
        let writer = Writer::new(
            db.clone(),
            state.clone(),
            dispatch_tx,
            config.batch_max,
            timings.clone(),
        );
        let core = vec![
            tokio::spawn(writer.run(writer_rx)),
            tokio::spawn(dispatch::run(
                dispatch_rx,
                hub.clone(),
                webhooks.clone(),
                timings.clone(),
            )),
        ];
        let im = Arc::new(Self {
            db,
            state,
            writer: RwLock::new(Some(writer_tx)),
            sessions,
            hub,
            webhooks,
            callbacks: Arc::default(),
            directory: directory.clone(),
            contacts,
            auth,
            config,
            settings: RwLock::new(Settings::default()),
            reads: Mutex::new(HashMap::new()),
            files_dir,
            draining: AtomicBool::new(false),
            next_session: AtomicU64::new(1),
            core: Mutex::new(core),
            loops: Mutex::new(Vec::new()),
            department_follower: inbox.clone(),
            timings,
            last_seen: super::presence::LastSeen::new(),
        });
        im.load_admin_state().await?;
        super::departments::follow(&im, &directory, inbox);
        im.spawn_background();
        Ok(im)
    }

    fn spawn_background(self: &Arc<Self>) {
        let flusher = {
            let im = self.clone();
            tokio::spawn(async move {
                let mut every_second = tokio::time::interval(Duration::from_secs(1));
                loop {
                    every_second.tick().await;
                    im.flush_reads().await;
                }
            })
        };
        let cues = {
            let im = self.clone();
            let mut changes = self.contacts.subscribe_changes();
            tokio::spawn(async move {
                use tokio::sync::broadcast::error::RecvError;
                loop {
                    let mut version = match changes.recv().await {
                        Ok(v) => v,
                        Err(RecvError::Lagged(_)) => continue,
                        Err(RecvError::Closed) => return,
                    };
                    // Bulk changes commit many versions in a row: tell clients once, the newest.
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    while let Ok(newer) = changes.try_recv() {
                        version = newer;
                    }
                    let frame = format!(r#"{{"type":"contacts.changed","version":{}}}"#, version.0);
                    im.hub
                        .broadcast_local(&Outbound::Frame(Utf8Bytes::from(frame)));
                }
            })
        };
        let callbacks = super::apps::spawn_callbacks(self);
        self.loops
            .lock_or_recover()
            .extend([flusher, cues, callbacks]);
    }

    /// Keeps a background loop, to be stopped at shutdown.
    pub(crate) fn keep(&self, task: JoinHandle<()>) {
        self.loops.lock_or_recover().push(task);
    }

    /// Queues an operation for the writer (waits while its queue is full).
    pub(crate) async fn submit(&self, op: Op) {
        let tx = self.writer.read_or_recover().clone();
        let op = match tx {
            Some(tx) => match tx.send(op).await {
                Ok(()) => return,
                Err(mpsc::error::SendError(op)) => op,
            },
            None => op,
        };
        match op {
            Op::Send(send) => dispatch::answer(send.reply, Err(ImError::ShuttingDown)),
            Op::Structural(_, reply) => dispatch::answer(reply, Err(ImError::ShuttingDown)),
            Op::Flush(done) => {
                let _ = done.send(());
            }
        }
    }

    /// Runs a structural operation and waits for its outcome.
    pub(crate) async fn run(&self, op: Box<dyn Structural>) -> Result<Done, ImError> {
        let (tx, rx) = oneshot::channel();
        self.submit(Op::Structural(op, Reply::Channel(tx))).await;
        rx.await.map_err(|_| ImError::ShuttingDown)?
    }

    /// Appends the messaging metrics in Prometheus text format.
    pub fn render_metrics(&self, out: &mut String) {
        self.timings.render(out);
    }

    /// Waits until every directory commit made so far is reflected in the department chats
    /// (start-up calls it after seeding, so the first clients see settled chats).
    pub async fn departments_settled(&self) {
        self.department_follower.settled().await;
    }

    /// Waits until everything queued so far is committed and delivered.
    pub async fn flush(&self) {
        let (tx, rx) = oneshot::channel();
        self.submit(Op::Flush(tx)).await;
        let _ = rx.await;
    }

    /// Registers a WebSocket session; the receiver is its outbound queue.
    pub fn open_session(
        &self,
        staff: StaffId,
        device: String,
    ) -> (Arc<SessionLink>, mpsc::Receiver<Outbound>) {
        let (tx, rx) = mpsc::channel(self.config.outbound_queue);
        let id = self.next_session.fetch_add(1, Ordering::Relaxed);
        let link = Arc::new(SessionLink::new(
            id,
            staff,
            device,
            tx,
            self.config.outbound_bytes,
        ));
        let (first, replaced) = self.sessions.attach(link.clone());
        if let Some(old) = replaced {
            old.close(protocol::close::REPLACED);
        }
        if self.draining.load(Ordering::Acquire) {
            link.close(protocol::close::GOING_AWAY);
        }
        if first {
            self.presence_changed(staff, true);
        }
        (link, rx)
    }

    pub fn close_session(&self, link: &SessionLink) {
        if self.sessions.detach(link) {
            self.last_seen.went_offline(link.staff);
            self.presence_changed(link.staff, false);
        }
    }

    /// Validates, authorises and queues a message; the outcome goes to `reply`.
    pub async fn send(&self, sender: Sender, frame: SendFrame, reply: Reply) {
        let received = std::time::Instant::now();
        match self.prepare_send(sender, frame).await {
            Ok((conversation, client_msg_id, body, mentions)) => {
                let queued = std::time::Instant::now();
                self.timings.authorise.observe(queued - received);
                self.submit(Op::Send(SendOp {
                    conversation,
                    sender,
                    client_msg_id,
                    body,
                    mentions,
                    reply,
                    queued,
                }))
                .await;
            }
            Err(error) => dispatch::answer(reply, Err(error)),
        }
    }

    /// Sends and waits for the ack (REST and server API).
    pub async fn send_and_wait(&self, sender: Sender, frame: SendFrame) -> Result<Done, ImError> {
        let (tx, rx) = oneshot::channel();
        self.send(sender, frame, Reply::Channel(tx)).await;
        rx.await.map_err(|_| ImError::ShuttingDown)?
    }

    async fn prepare_send(
        &self,
        sender: Sender,
        frame: SendFrame,
    ) -> Result<(ConversationId, Option<String>, MessageBody, Mentions), ImError> {
        check_client_msg_id(&frame.client_msg_id)?;
        let kind = MessageKind::parse(&frame.kind)
            .ok_or_else(|| ImError::invalid("kind", format!("unknown kind '{}'", frame.kind)))?;
        let body = MessageBody::parse(kind, &frame.body)?;
        let conversation = match (frame.conversation, frame.to) {
            (Some(id), None) => id,
            (None, Some(to)) => self.conversation_with(sender, to).await?,
            _ => {
                return Err(ImError::invalid(
                    "conversation",
                    "give exactly one of conversation and to",
                ));
            }
        };
        let peer_check = {
            let state = self.state.read_or_recover();
            let conv = state
                .get(conversation)
                .ok_or_else(|| ImError::NotFound("conversation".into()))?;
            if conv.dissolved {
                return Err(ImError::Conflict("this conversation was dissolved".into()));
            }
            match sender {
                Sender::System => None,
                Sender::Staff(staff) => {
                    let me = conv.members.get(&staff).ok_or(ImError::NotMember)?;
                    if frame.mention_all
                        && !(conv.kind == ConversationKind::Group && me.role.manages())
                    {
                        return Err(ImError::Forbidden(
                            "only group owners and admins may mention everyone".into(),
                        ));
                    }
                    conv.peer_of(staff).map(|peer| {
                        let answered = conv.members.get(&peer).is_some_and(|m| m.has_sent);
                        (staff, peer, answered)
                    })
                }
            }
        };
        // Outside the state lock: the contact view has locks of its own.
        if let Some((me, peer, answered)) = peer_check
            && !answered
            && !self.contacts.sees(me, peer)
        {
            return Err(ImError::Forbidden(
                "you may not message this person (not in your contacts, and they have not written to you)".into(),
            ));
        }
        let mentions = {
            let state = self.state.read_or_recover();
            let members = state.get(conversation).map(|c| &c.members);
            let mut staff: Vec<StaffId> = frame
                .mentions
                .iter()
                .copied()
                .filter(|s| members.is_some_and(|m| m.contains_key(s)))
                .collect();
            staff.sort_unstable();
            staff.dedup();
            staff.truncate(100);
            Mentions {
                staff,
                all: frame.mention_all,
            }
        };
        if let Some(file_id) = body.file_id {
            let found = file::Entity::find_by_id(file_id)
                .filter(file::Column::ConversationId.eq(conversation.0))
                .filter(file::Column::Deleted.eq(false))
                .one(&self.db)
                .await?;
            if found.is_none() {
                return Err(ImError::NotFound(
                    "body.file_id: no such file in this conversation (upload it first)".into(),
                ));
            }
        }
        Ok((conversation, Some(frame.client_msg_id), body, mentions))
    }

    /// The direct conversation with `to` (or, for the system, `to`'s notice conversation),
    /// created when allowed and missing.
    pub async fn conversation_with(
        &self,
        sender: Sender,
        to: StaffId,
    ) -> Result<ConversationId, ImError> {
        let active = self
            .directory
            .read()
            .staff(to)
            .is_some_and(|s| s.is_active());
        if !active {
            return Err(ImError::NotFound("person".into()));
        }
        let op: Box<dyn Structural> = match sender {
            Sender::System => {
                if let Some(id) = self.state.read_or_recover().by_pair(&system_key(to)) {
                    return Ok(id);
                }
                Box::new(CreateSystem { staff: to })
            }
            Sender::Staff(me) => {
                if me == to {
                    return Err(ImError::invalid("to", "you cannot message yourself"));
                }
                if let Some(id) = self.state.read_or_recover().by_pair(&pair_key(me, to)) {
                    return Ok(id);
                }
                if !self.contacts.sees(me, to) {
                    return Err(ImError::Forbidden(
                        "you may not message this person (not in your contacts)".into(),
                    ));
                }
                Box::new(CreateDirect { a: me, b: to })
            }
        };
        match self.run(op).await? {
            Done::Conversation(id) => Ok(id),
            _ => Err(ImError::Internal("conversation was not created".into())),
        }
    }

    /// Stops taking sessions and asks every open one to close (1001).
    pub fn begin_drain(&self) {
        self.draining.store(true, Ordering::Release);
        for link in self.sessions.all() {
            link.close(protocol::close::GOING_AWAY);
        }
    }

    pub fn draining(&self) -> bool {
        self.draining.load(Ordering::Acquire)
    }

    /// Drains sessions, commits and delivers what was queued, saves read positions.
    pub async fn shutdown(&self) {
        self.begin_drain();
        self.flush().await;
        let tx = self.writer.write_or_recover().take();
        drop(tx);
        let loops = std::mem::take(&mut *self.loops.lock_or_recover());
        for task in loops {
            task.abort();
        }
        let core = std::mem::take(&mut *self.core.lock_or_recover());
        for task in core {
            if tokio::time::timeout(Duration::from_secs(10), task)
                .await
                .is_err()
            {
                tracing::warn!("messaging writer did not finish in time");
            }
        }
        self.flush_reads().await;
    }

    /// Reads the in-memory state (for queries in this module).
    pub(crate) fn state(&self) -> std::sync::RwLockReadGuard<'_, ImState> {
        self.state.read_or_recover()
    }

    /// Connected sessions on this node.
    pub fn session_count(&self) -> u64 {
        self.sessions.count()
    }

    /// People connected to this node (one per person, whatever their devices).
    pub fn people_online(&self) -> usize {
        self.sessions.people()
    }

    /// The database (for the module's own queries).
    pub(crate) fn db(&self) -> &DatabaseConnection {
        &self.db
    }

    pub(crate) fn backend(&self) -> sea_orm::DbBackend {
        self.db.get_database_backend()
    }
}
