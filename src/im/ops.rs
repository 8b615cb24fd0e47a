//! What the writer is asked to do, how it answers, and the rows it writes. Structural changes
//! (conversations, members, recalls, edits) are [`Structural`] operations that plan their
//! statements against the in-memory state; the writer runs each one alone.

use std::sync::Arc;

use sea_orm::{ActiveValue::Set, DatabaseConnection, DbBackend, QueryTrait, Statement};
use serde_json::value::RawValue;
use tokio::sync::oneshot;
use uuid::Uuid;

use super::{
    ImError,
    entities::message,
    hub::SessionLink,
    model::{ConversationId, Mentions, MessageBody, MessageKind, Sender, Seq},
    protocol::{Ack, MessageView, ReqId},
    state::ImState,
};
use crate::directory::StaffId;

/// A message to store: validated, authorised, and waiting for its seq.
pub struct SendOp {
    pub conversation: ConversationId,
    pub sender: Sender,
    pub client_msg_id: Option<String>,
    pub body: MessageBody,
    pub mentions: Mentions,
    pub reply: Reply,
    /// When the send was queued for the writer (for the stage timings).
    pub queued: std::time::Instant,
}

/// Where the outcome of an operation goes.
pub enum Reply {
    /// A WebSocket session: the ack is queued into it in commit order with its pushes.
    Session {
        link: Arc<SessionLink>,
        id: Option<ReqId>,
        /// Named in an error frame, so the client knows which send failed.
        client_msg_id: Option<String>,
    },
    /// A REST handler or an internal caller waiting for the result.
    Channel(oneshot::Sender<Result<Done, ImError>>),
    Nobody,
}

/// What a successful operation produced.
#[derive(Debug, Clone)]
pub enum Done {
    Ack(Ack),
    Conversation(ConversationId),
    Nothing,
}

/// Work for the writer.
pub enum Op {
    Send(SendOp),
    Structural(Box<dyn Structural>, Reply),
    /// Resolves once everything queued before it is committed and dispatched.
    Flush(oneshot::Sender<()>),
}

/// A row of `im_messages` about to be written.
#[derive(Debug, Clone)]
pub struct NewMessage {
    pub gid: i64,
    pub conversation: ConversationId,
    pub seq: Seq,
    pub msg_id: Uuid,
    pub sender: Option<StaffId>,
    pub client_msg_id: Option<String>,
    pub dedup_key: Option<String>,
    pub kind: MessageKind,
    pub body: String,
    pub mentions: Mentions,
    pub ts: i64,
    pub ref_seq: Option<Seq>,
    /// Search terms, for the index.
    pub terms: Option<String>,
}

impl NewMessage {
    pub fn active_model(&self) -> message::ActiveModel {
        message::ActiveModel {
            gid: Set(self.gid),
            conversation_id: Set(self.conversation.0),
            seq: Set(self.seq),
            msg_id: Set(self.msg_id),
            sender_id: Set(self.sender.map(|s| s.0)),
            client_msg_id: Set(self.client_msg_id.clone()),
            dedup_key: Set(self.dedup_key.clone()),
            kind: Set(self.kind.as_str().to_owned()),
            body: Set(Some(self.body.clone())),
            mentions: Set(self.mentions.to_column()),
            ts: Set(self.ts),
            ref_seq: Set(self.ref_seq),
            edited_at: Set(None),
            recalled: Set(false),
        }
    }

    pub fn view(&self) -> MessageView {
        MessageView {
            conversation: self.conversation,
            seq: self.seq,
            msg_id: self.msg_id,
            sender: self.sender,
            client_msg_id: self.client_msg_id.clone(),
            kind: self.kind.as_str().to_owned(),
            body: raw_json(Some(&self.body)),
            mentions: self.mentions.to_json(),
            ts: self.ts,
            ref_seq: self.ref_seq,
            edited_at: None,
            recalled: false,
        }
    }

    pub fn ack(&self, id: Option<ReqId>) -> Ack {
        Ack {
            frame_type: "ack".into(),
            id,
            client_msg_id: self.client_msg_id.clone(),
            msg_id: self.msg_id,
            conversation: self.conversation,
            seq: self.seq,
            ts: self.ts,
        }
    }
}

/// A stored JSON text as a raw value (`null` when absent or, defensively, unparsable).
pub fn raw_json(text: Option<&str>) -> Box<RawValue> {
    text.and_then(|t| RawValue::from_string(t.to_owned()).ok())
        .unwrap_or_else(null_raw)
}

fn null_raw() -> Box<RawValue> {
    // "null" is valid JSON; the fallback only satisfies the type.
    RawValue::from_string("null".to_owned()).unwrap_or_else(|_| unreachable!())
}

/// A stored row as clients see it.
pub fn view_of(row: &message::Model) -> MessageView {
    MessageView {
        conversation: ConversationId(row.conversation_id),
        seq: row.seq,
        msg_id: row.msg_id,
        sender: row.sender_id.map(StaffId),
        client_msg_id: row.client_msg_id.clone(),
        kind: row.kind.clone(),
        body: raw_json(if row.recalled {
            None
        } else {
            row.body.as_deref()
        }),
        mentions: Mentions::from_column(row.mentions.as_deref()).to_json(),
        ts: row.ts,
        ref_seq: row.ref_seq,
        edited_at: row.edited_at,
        recalled: row.recalled,
    }
}

/// The statements and state change of one structural operation.
pub struct Plan {
    pub statements: Vec<Statement>,
    /// Event rows (system notices, recall and edit events), with seqs already given.
    pub messages: Vec<NewMessage>,
    /// Applied to the state after the commit, before the events fan out.
    pub apply: Box<dyn FnOnce(&mut ImState) + Send>,
    /// People who must hear a conversation's events although they are no longer members
    /// (the removed).
    pub extra_recipients: std::collections::HashMap<ConversationId, Vec<StaffId>>,
    pub done: Done,
    /// Work after the commit (removing a recalled file from disk).
    pub after: Option<Box<dyn FnOnce() + Send>>,
}

impl Plan {
    pub fn new(done: Done) -> Self {
        Self {
            statements: Vec::new(),
            messages: Vec::new(),
            apply: Box::new(|_| {}),
            extra_recipients: std::collections::HashMap::new(),
            done,
            after: None,
        }
    }

    /// Adds a sea-orm query (insert, update, delete) as a statement.
    pub fn push(&mut self, backend: DbBackend, query: &impl QueryTrait) {
        self.statements.push(query.build(backend));
    }
}

/// Hands out seqs and gids while a structural operation plans.
pub struct PlanCtx {
    pub backend: DbBackend,
    pub now: i64,
    next_gid: i64,
    seqs: std::collections::HashMap<ConversationId, Seq>,
}

impl PlanCtx {
    pub fn new(backend: DbBackend, next_gid: i64) -> Self {
        Self {
            backend,
            now: super::model::now_millis(),
            next_gid,
            seqs: std::collections::HashMap::new(),
        }
    }

    /// The next seq of a conversation (1 for one not in the state yet).
    pub fn next_seq(&mut self, state: &ImState, conversation: ConversationId) -> Seq {
        let seq = self
            .seqs
            .entry(conversation)
            .or_insert_with(|| state.get(conversation).map_or(0, |c| c.last_seq));
        *seq += 1;
        *seq
    }

    /// An event row written by the server.
    pub fn event(
        &mut self,
        state: &ImState,
        conversation: ConversationId,
        sender: Option<StaffId>,
        body: MessageBody,
        ref_seq: Option<Seq>,
    ) -> NewMessage {
        let seq = self.next_seq(state, conversation);
        let gid = self.next_gid;
        self.next_gid += 1;
        NewMessage {
            gid,
            conversation,
            seq,
            msg_id: Uuid::now_v7(),
            sender,
            client_msg_id: None,
            dedup_key: None,
            kind: body.kind,
            terms: body
                .searchable
                .as_deref()
                .and_then(super::search::index_terms),
            body: body.json,
            mentions: Mentions::default(),
            ts: self.now,
            ref_seq,
        }
    }

    /// A `system` notice: `{"event": ..., ...}`.
    pub fn notice(
        &mut self,
        state: &ImState,
        conversation: ConversationId,
        body: serde_json::Value,
    ) -> NewMessage {
        self.event(
            state,
            conversation,
            None,
            MessageBody::server(MessageKind::System, &body),
            None,
        )
    }
}

/// A change to conversations or members, planned against the current state and committed
/// alone, so it never interleaves with another plan.
#[async_trait::async_trait]
pub trait Structural: Send {
    /// Reads what the plan needs from the database. Nothing else writes messaging tables
    /// meanwhile: the writer runs one operation at a time.
    async fn prepare(&mut self, _db: &DatabaseConnection) -> Result<(), ImError> {
        Ok(())
    }

    fn plan(self: Box<Self>, state: &ImState, ctx: &mut PlanCtx) -> Result<Plan, ImError>;
}
