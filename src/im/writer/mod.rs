//! The single writer: every messaging write goes through one task, which gives each message
//! its seq, commits many sends in one transaction (group commit), and only after the commit
//! moves the in-memory state forward and hands the batch to the dispatcher (which acks and
//! fans out). Resends are recognised by `(sender, client_msg_id)`: first in a cache of recent
//! acks, then in the database, so a resend after a crash finds what was committed before it.

use crate::locks::RwLockExt;
use std::{
    collections::{HashMap, HashSet, VecDeque},
    sync::{Arc, RwLock},
    time::Instant,
};

use sea_orm::{
    ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, QueryTrait, sea_query::Expr,
};
use tokio::sync::mpsc;

use super::{
    ImError,
    dispatch::Dispatch,
    entities::{member, message},
    model::{ConversationId, ConversationKind, Sender},
    ops::{Done, NewMessage, Op, PlanCtx, Reply, SendOp, Structural},
    protocol::Ack,
    state::ImState,
    timings::SendTimings,
};
use crate::directory::StaffId;
use persist::{ROWS_PER_INSERT, is_dedup_conflict, persist};

mod persist;

/// A batch slower than this is logged with where its time went (it delays every ack of the
/// batch and every send queued behind it).
const SLOW_BATCH: std::time::Duration = std::time::Duration::from_millis(50);
/// Recent acks kept in memory for resends.
const ACK_CACHE: usize = 100_000;

/// Recent acks by dedup key, oldest evicted first.
#[derive(Default)]
struct AckCache {
    map: HashMap<String, Ack>,
    order: VecDeque<String>,
}

impl AckCache {
    fn get(&self, key: &str) -> Option<&Ack> {
        self.map.get(key)
    }

    fn put(&mut self, key: String, ack: Ack) {
        if self.map.insert(key.clone(), ack).is_none() {
            self.order.push_back(key);
        }
        while self.order.len() > ACK_CACHE {
            if let Some(old) = self.order.pop_front() {
                self.map.remove(&old);
            }
        }
    }
}

/// The writer task's own state.
pub struct Writer {
    db: DatabaseConnection,
    state: Arc<RwLock<ImState>>,
    dispatch: mpsc::Sender<Vec<Dispatch>>,
    acks: AckCache,
    batch_max: usize,
    timings: Arc<SendTimings>,
}

/// What became of one send in a batch.
enum Outcome {
    /// Stored as `rows[index]`.
    Stored(usize),
    /// Already stored before: answer with the original ack.
    Duplicate(Ack),
    /// A resend of a message earlier in this same batch.
    SameBatch(usize),
    Refused(ImError),
}

impl Writer {
    pub fn new(
        db: DatabaseConnection,
        state: Arc<RwLock<ImState>>,
        dispatch: mpsc::Sender<Vec<Dispatch>>,
        batch_max: usize,
        timings: Arc<SendTimings>,
    ) -> Self {
        Self {
            db,
            state,
            dispatch,
            acks: AckCache::default(),
            batch_max: batch_max.max(1),
            timings,
        }
    }

    /// Runs until every sender of the queue is gone (shutdown), committing what was queued.
    pub async fn run(mut self, mut queue: mpsc::Receiver<Op>) {
        let mut ops = Vec::with_capacity(self.batch_max);
        while queue.recv_many(&mut ops, self.batch_max).await > 0 {
            let mut sends = Vec::new();
            for op in ops.drain(..) {
                match op {
                    Op::Send(send) => sends.push(send),
                    Op::Structural(op, reply) => {
                        // Everything before it commits first, so its plan sees those seqs.
                        self.commit_sends(std::mem::take(&mut sends)).await;
                        self.run_structural(op, reply).await;
                    }
                    Op::Flush(done) => {
                        self.commit_sends(std::mem::take(&mut sends)).await;
                        self.emit(vec![Dispatch::Flushed(done)]).await;
                    }
                }
            }
            self.commit_sends(sends).await;
        }
        tracing::debug!("messaging writer stopped");
    }

    async fn emit(&self, items: Vec<Dispatch>) {
        if !items.is_empty() && self.dispatch.send(items).await.is_err() {
            tracing::error!("messaging dispatcher is gone; dropping deliveries");
        }
    }

    /// Looks resends up in the database (after a restart they are not in the cache).
    async fn stored_acks(&self, keys: &[String]) -> Result<HashMap<String, Ack>, DbErr> {
        let mut found = HashMap::new();
        for chunk in keys.chunks(ROWS_PER_INSERT) {
            let rows = message::Entity::find()
                .filter(message::Column::DedupKey.is_in(chunk.iter().cloned()))
                .all(&self.db)
                .await?;
            for row in rows {
                if let Some(key) = row.dedup_key.clone() {
                    found.insert(
                        key,
                        Ack {
                            frame_type: "ack".into(),
                            id: None,
                            client_msg_id: row.client_msg_id,
                            msg_id: row.msg_id,
                            conversation: ConversationId(row.conversation_id),
                            seq: row.seq,
                            ts: row.ts,
                        },
                    );
                }
            }
        }
        Ok(found)
    }

    /// Plans a batch against the current state: a row (with its seq) for each new message,
    /// and what to answer for resends, refusals and repeats within the batch.
    fn plan_sends(
        &self,
        sends: &[SendOp],
        keys: &[Option<String>],
        stored: &HashMap<String, Ack>,
    ) -> (
        Vec<NewMessage>,
        Vec<Outcome>,
        Vec<(ConversationId, StaffId)>,
    ) {
        let mut rows: Vec<NewMessage> = Vec::with_capacity(sends.len());
        let mut outcomes = Vec::with_capacity(sends.len());
        let mut first_sends: Vec<(ConversationId, StaffId)> = Vec::new();
        let state = self.state.read_or_recover();
        let mut ctx = PlanCtx::new(self.db.get_database_backend(), state.next_gid);
        let mut in_batch: HashMap<&str, usize> = HashMap::new();
        for (send, key) in sends.iter().zip(keys) {
            if let Some(key) = key {
                if let Some(ack) = self.acks.get(key).or_else(|| stored.get(key)) {
                    outcomes.push(Outcome::Duplicate(ack.clone()));
                    continue;
                }
                if let Some(index) = in_batch.get(key.as_str()) {
                    outcomes.push(Outcome::SameBatch(*index));
                    continue;
                }
            }
            if let Err(error) = admit(&state, send, ctx.now) {
                outcomes.push(Outcome::Refused(error));
                continue;
            }
            let mut row = ctx.event(
                &state,
                send.conversation,
                send.sender.staff(),
                send.body.clone(),
                None,
            );
            row.client_msg_id = send.client_msg_id.clone();
            row.dedup_key = key.clone();
            row.mentions = send.mentions.clone();
            if let Some(staff) = send.sender.staff()
                && state
                    .member(send.conversation, staff)
                    .is_some_and(|m| !m.has_sent)
                && !first_sends.contains(&(send.conversation, staff))
            {
                first_sends.push((send.conversation, staff));
            }
            if let Some(key) = key {
                in_batch.insert(key.as_str(), rows.len());
            }
            outcomes.push(Outcome::Stored(rows.len()));
            rows.push(row);
        }
        (rows, outcomes, first_sends)
    }

    async fn commit_sends(&mut self, sends: Vec<SendOp>) {
        if sends.is_empty() {
            return;
        }
        let batch_started = Instant::now();
        for send in &sends {
            self.timings
                .queued
                .observe(batch_started.saturating_duration_since(send.queued));
        }
        let keys: Vec<Option<String>> = sends
            .iter()
            .map(|s| s.client_msg_id.as_deref().map(|id| s.sender.dedup_key(id)))
            .collect();
        let backend = self.db.get_database_backend();
        // Resends of messages older than the ack cache are looked up in the database only
        // when the commit says one is there: the unique index on the dedup key refuses a
        // second copy, the transaction rolls back, and the batch is planned again with the
        // originals' acks. The common case, nothing older resent, costs no lookup at all.
        let mut stored: HashMap<String, Ack> = HashMap::new();
        let mut looked_up: Option<std::time::Duration> = None;
        let mut planning = std::time::Duration::ZERO;
        let (rows, outcomes, first_sends, committed) = loop {
            let planned = Instant::now();
            let (rows, outcomes, first_sends) = self.plan_sends(&sends, &keys, &stored);
            planning += planned.elapsed();
            let committed = if rows.is_empty() {
                Ok(())
            } else {
                let statements = first_sends
                    .iter()
                    .map(|(conversation, staff)| {
                        member::Entity::update_many()
                            .col_expr(member::Column::HasSent, Expr::value(true))
                            .filter(member::Column::ConversationId.eq(conversation.0))
                            .filter(member::Column::StaffId.eq(staff.0))
                            .build(backend)
                    })
                    .collect();
                persist(&self.db, &rows, statements).await
            };
            match committed {
                Err(error) if looked_up.is_none() && is_dedup_conflict(&error) => {
                    let started = Instant::now();
                    let unknown: Vec<String> = keys
                        .iter()
                        .flatten()
                        .filter(|k| self.acks.get(k).is_none())
                        .cloned()
                        .collect::<HashSet<_>>()
                        .into_iter()
                        .collect();
                    match self.stored_acks(&unknown).await {
                        Ok(found) => stored = found,
                        Err(error) => {
                            tracing::error!(%error, "looking up resends failed");
                            let items = sends
                                .into_iter()
                                .map(|s| {
                                    Dispatch::Reply(
                                        s.reply,
                                        Err(ImError::Internal(error.to_string())),
                                    )
                                })
                                .collect();
                            self.emit(items).await;
                            return;
                        }
                    }
                    looked_up = Some(started.elapsed());
                }
                committed => break (rows, outcomes, first_sends, committed),
            }
        };
        let committed_at = Instant::now();
        let stored_count = rows.len();
        if let Err(error) = &committed {
            tracing::error!(%error, messages = rows.len(), "message commit failed");
        } else {
            for _ in &rows {
                self.timings.commit.observe(committed_at - batch_started);
            }
        }

        let mut recipients = HashMap::new();
        if committed.is_ok() && !rows.is_empty() {
            let mut state = self.state.write_or_recover();
            advance(&mut state, &rows);
            for (conversation, staff) in &first_sends {
                if let Some(conv) = state.get_mut(*conversation)
                    && let Some(member) = conv.members.get_mut(staff)
                {
                    member.has_sent = true;
                }
            }
            for row in &rows {
                recipients.entry(row.conversation).or_insert_with(|| {
                    state
                        .get(row.conversation)
                        .map(|c| (c.recipients(), c.kind))
                });
            }
        }

        let mut items = Vec::with_capacity(outcomes.len());
        for (send, outcome) in sends.into_iter().zip(outcomes) {
            match outcome {
                Outcome::Refused(error) => items.push(Dispatch::Reply(send.reply, Err(error))),
                Outcome::Duplicate(ack) => {
                    items.push(Dispatch::Reply(send.reply, Ok(Done::Ack(ack))));
                }
                Outcome::SameBatch(index) | Outcome::Stored(index) => {
                    let Some(row) = rows.get(index) else {
                        continue;
                    };
                    if let Err(error) = &committed {
                        items.push(Dispatch::Reply(
                            send.reply,
                            Err(ImError::Internal(error.to_string())),
                        ));
                        continue;
                    }
                    if let Some(key) = &row.dedup_key {
                        self.acks.put(key.clone(), row.ack(None));
                    }
                    let stored_here = matches!(outcome, Outcome::Stored(_));
                    if !stored_here {
                        items.push(Dispatch::Reply(send.reply, Ok(Done::Ack(row.ack(None)))));
                        continue;
                    }
                    let (to, kind) = recipients
                        .get(&row.conversation)
                        .cloned()
                        .flatten()
                        .unwrap_or_else(|| (Arc::from(Vec::new()), ConversationKind::Group));
                    items.push(Dispatch::Message {
                        row: rows[index].clone(),
                        kind,
                        to,
                        extra: Vec::new(),
                        reply: send.reply,
                        committed: committed_at,
                    });
                }
            }
        }
        self.emit(items).await;
        let took = batch_started.elapsed();
        if took > SLOW_BATCH {
            let millis = |d: std::time::Duration| d.as_secs_f64() * 1000.0;
            tracing::warn!(
                messages = stored_count,
                total_ms = millis(took),
                plan_ms = millis(planning),
                resend_lookup_ms = millis(looked_up.unwrap_or_default()),
                commit_ms = millis(committed_at - batch_started - planning),
                handoff_ms = millis(took - (committed_at - batch_started)),
                "slow message batch"
            );
        }
    }

    async fn run_structural(&mut self, mut op: Box<dyn Structural>, reply: Reply) {
        if let Err(error) = op.prepare(&self.db).await {
            self.emit(vec![Dispatch::Reply(reply, Err(error))]).await;
            return;
        }
        let backend = self.db.get_database_backend();
        let plan = {
            let state = self.state.read_or_recover();
            let mut ctx = PlanCtx::new(backend, state.next_gid);
            op.plan(&state, &mut ctx)
        };
        let plan = match plan {
            Ok(plan) => plan,
            Err(error) => {
                self.emit(vec![Dispatch::Reply(reply, Err(error))]).await;
                return;
            }
        };
        if let Err(error) = persist(&self.db, &plan.messages, plan.statements).await {
            tracing::error!(%error, "messaging commit failed");
            self.emit(vec![Dispatch::Reply(reply, Err(error.into()))])
                .await;
            return;
        }
        let mut items = Vec::with_capacity(plan.messages.len() + 1);
        {
            let mut state = self.state.write_or_recover();
            (plan.apply)(&mut state);
            advance(&mut state, &plan.messages);
            for row in plan.messages {
                let (to, kind) = state
                    .get(row.conversation)
                    .map(|c| (c.recipients(), c.kind))
                    .unwrap_or_else(|| (Arc::from(Vec::new()), ConversationKind::Group));
                let extra = plan
                    .extra_recipients
                    .get(&row.conversation)
                    .cloned()
                    .unwrap_or_default();
                items.push(Dispatch::Message {
                    row,
                    kind,
                    to,
                    extra,
                    reply: Reply::Nobody,
                    committed: Instant::now(),
                });
            }
        }
        if let Some(after) = plan.after {
            after();
        }
        items.push(Dispatch::Reply(reply, Ok(plan.done)));
        self.emit(items).await;
    }
}

/// The checks a send must still pass at commit time (membership may have changed since the
/// service authorised it).
fn admit(state: &ImState, send: &SendOp, now: i64) -> Result<(), ImError> {
    let conv = state
        .get(send.conversation)
        .ok_or_else(|| ImError::NotFound("conversation".into()))?;
    if conv.dissolved {
        return Err(ImError::Conflict("this conversation was dissolved".into()));
    }
    match send.sender {
        Sender::System => Ok(()),
        Sender::Staff(staff) => {
            let member = conv.members.get(&staff).ok_or(ImError::NotMember)?;
            if conv.kind == ConversationKind::System {
                return Err(ImError::Forbidden(
                    "system notices cannot be answered".into(),
                ));
            }
            if member.muted_until > now || (conv.mute_all && !member.role.manages()) {
                return Err(ImError::Muted);
            }
            Ok(())
        }
    }
}

/// Moves last seqs and the gid counter past committed rows.
fn advance(state: &mut ImState, rows: &[NewMessage]) {
    for row in rows {
        if let Some(conv) = state.get_mut(row.conversation) {
            conv.last_seq = conv.last_seq.max(row.seq);
        }
        state.next_gid = state.next_gid.max(row.gid + 1);
    }
}
