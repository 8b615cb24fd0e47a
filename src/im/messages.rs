//! Recall and edit. Both change a stored message and add an event (`recall` / `edit`, with
//! `ref_seq`) to the conversation, so clients learn of the change in order, by the same sync
//! as messages. A recalled message's content (and its edits, search terms and file) is no
//! longer served.

use std::path::PathBuf;

use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, sea_query::Expr};
use serde_json::{Value, json};

use super::{
    ImError,
    entities::{file, message},
    model::{ConversationId, ConversationKind, MessageBody, MessageKind, Sender, Seq, check_text},
    ops::{Done, Plan, PlanCtx, Structural},
    search,
    state::ImState,
};

async fn load_target(
    db: &DatabaseConnection,
    conversation: ConversationId,
    seq: Seq,
) -> Result<message::Model, ImError> {
    message::Entity::find()
        .filter(message::Column::ConversationId.eq(conversation.0))
        .filter(message::Column::Seq.eq(seq))
        .one(db)
        .await?
        .ok_or_else(|| ImError::NotFound("message".into()))
}

fn is_event(kind: &str) -> bool {
    matches!(
        MessageKind::parse(kind),
        Some(
            MessageKind::System
                | MessageKind::Recall
                | MessageKind::Edit
                | MessageKind::Card
                | MessageKind::CardUpdate
        ) | None
    )
}

/// Takes a message back: its sender within the recall window; group owners and admins (over
/// lower ranks) and the system at any time.
pub struct Recall {
    pub by: Sender,
    pub conversation: ConversationId,
    pub seq: Seq,
    pub window_ms: i64,
    pub files_dir: PathBuf,
    pub target: Option<message::Model>,
}

#[async_trait::async_trait]
impl Structural for Recall {
    async fn prepare(&mut self, db: &DatabaseConnection) -> Result<(), ImError> {
        self.target = Some(load_target(db, self.conversation, self.seq).await?);
        Ok(())
    }

    fn plan(self: Box<Self>, state: &ImState, ctx: &mut PlanCtx) -> Result<Plan, ImError> {
        let target = self
            .target
            .ok_or_else(|| ImError::NotFound("message".into()))?;
        let conv = state
            .get(self.conversation)
            .ok_or_else(|| ImError::NotFound("conversation".into()))?;
        if is_event(&target.kind) {
            return Err(ImError::Conflict(
                "notices and events cannot be recalled".into(),
            ));
        }
        if target.recalled {
            return Err(ImError::Conflict("already recalled".into()));
        }
        let allowed = match self.by {
            Sender::System => true,
            Sender::Staff(staff) => {
                let me = conv.members.get(&staff).ok_or(ImError::NotMember)?;
                if me.joined_seq > target.seq {
                    return Err(ImError::NotFound("message".into()));
                }
                let own = target.sender_id == Some(staff.0);
                let in_window = ctx.now - target.ts <= self.window_ms;
                let sender_rank = target
                    .sender_id
                    .and_then(|s| conv.members.get(&crate::directory::StaffId(s)))
                    .map_or(crate::im::model::Role::Member, |m| m.role);
                let moderates = conv.kind == ConversationKind::Group
                    && me.role.manages()
                    && (own || sender_rank < me.role);
                if own && !in_window && !moderates {
                    return Err(ImError::Forbidden(format!(
                        "messages can be recalled within {} seconds",
                        self.window_ms / 1000
                    )));
                }
                (own && in_window) || moderates
            }
        };
        if !allowed {
            return Err(ImError::Forbidden("you may not recall this message".into()));
        }
        let mut plan = Plan::new(Done::Nothing);
        plan.push(
            ctx.backend,
            &message::Entity::update_many()
                .col_expr(message::Column::Recalled, Expr::value(true))
                .col_expr(message::Column::Body, Expr::value(Option::<String>::None))
                .filter(message::Column::Gid.eq(target.gid)),
        );
        plan.push(
            ctx.backend,
            &message::Entity::update_many()
                .col_expr(message::Column::Body, Expr::value(Option::<String>::None))
                .filter(message::Column::ConversationId.eq(target.conversation_id))
                .filter(message::Column::RefSeq.eq(target.seq))
                .filter(message::Column::Kind.eq(MessageKind::Edit.as_str())),
        );
        plan.statements
            .push(search::delete_statement(ctx.backend, target.gid));
        let file_id = MessageKind::parse(&target.kind)
            .filter(|k| k.carries_file())
            .and(target.body.as_deref())
            .and_then(|b| serde_json::from_str::<Value>(b).ok())
            .and_then(|b| b.get("file_id").and_then(Value::as_str).map(str::to_owned))
            .and_then(|id| uuid::Uuid::parse_str(&id).ok());
        if let Some(id) = file_id {
            plan.push(
                ctx.backend,
                &file::Entity::update_many()
                    .col_expr(file::Column::Deleted, Expr::value(true))
                    .filter(file::Column::Id.eq(id)),
            );
            let path = self.files_dir.join(id.simple().to_string());
            plan.after = Some(Box::new(move || {
                if let Err(error) = std::fs::remove_file(&path)
                    && error.kind() != std::io::ErrorKind::NotFound
                {
                    tracing::warn!(%error, path = %path.display(), "removing a recalled file failed");
                }
            }));
        }
        let event = ctx.event(
            state,
            self.conversation,
            self.by.staff(),
            MessageBody::server(MessageKind::Recall, &json!({"seq": target.seq})),
            Some(target.seq),
        );
        plan.done = Done::Ack(event.ack(None));
        plan.messages.push(event);
        Ok(plan)
    }
}

/// Changes the text of one's own text message, within the edit window.
pub struct Edit {
    pub by: crate::directory::StaffId,
    pub conversation: ConversationId,
    pub seq: Seq,
    pub text: String,
    pub window_ms: i64,
    pub target: Option<message::Model>,
}

#[async_trait::async_trait]
impl Structural for Edit {
    async fn prepare(&mut self, db: &DatabaseConnection) -> Result<(), ImError> {
        check_text(&self.text)?;
        self.target = Some(load_target(db, self.conversation, self.seq).await?);
        Ok(())
    }

    fn plan(self: Box<Self>, state: &ImState, ctx: &mut PlanCtx) -> Result<Plan, ImError> {
        let target = self
            .target
            .ok_or_else(|| ImError::NotFound("message".into()))?;
        let conv = state
            .get(self.conversation)
            .ok_or_else(|| ImError::NotFound("conversation".into()))?;
        let me = conv.members.get(&self.by).ok_or(ImError::NotMember)?;
        if conv.dissolved {
            return Err(ImError::Conflict("this conversation was dissolved".into()));
        }
        if me.joined_seq > target.seq {
            return Err(ImError::NotFound("message".into()));
        }
        if target.sender_id != Some(self.by.0) {
            return Err(ImError::Forbidden(
                "only its sender may edit a message".into(),
            ));
        }
        if target.kind != MessageKind::Text.as_str() {
            return Err(ImError::Conflict("only text messages can be edited".into()));
        }
        if target.recalled {
            return Err(ImError::Conflict("this message was recalled".into()));
        }
        if ctx.now - target.ts > self.window_ms {
            return Err(ImError::Forbidden(format!(
                "messages can be edited within {} seconds",
                self.window_ms / 1000
            )));
        }
        // Keep the original body's other fields (a client's extras), replace the text.
        let mut body: Value = target
            .body
            .as_deref()
            .and_then(|b| serde_json::from_str(b).ok())
            .unwrap_or_else(|| json!({}));
        body["text"] = Value::String(self.text.clone());
        let mut plan = Plan::new(Done::Nothing);
        plan.push(
            ctx.backend,
            &message::Entity::update_many()
                .col_expr(message::Column::Body, Expr::value(body.to_string()))
                .col_expr(message::Column::EditedAt, Expr::value(ctx.now))
                .filter(message::Column::Gid.eq(target.gid)),
        );
        plan.statements
            .push(search::delete_statement(ctx.backend, target.gid));
        if let Some(terms) = search::index_terms(&self.text)
            && let Some(statement) = search::insert_statement(ctx.backend, &[(target.gid, &terms)])
        {
            plan.statements.push(statement);
        }
        let event = ctx.event(
            state,
            self.conversation,
            Some(self.by),
            MessageBody::server(MessageKind::Edit, &json!({"text": self.text})),
            Some(target.seq),
        );
        plan.done = Done::Ack(event.ack(None));
        plan.messages.push(event);
        Ok(plan)
    }
}

impl super::Im {
    /// Queues a recall; the outcome (the event's ack) goes to `reply`.
    pub async fn recall(
        &self,
        by: Sender,
        conversation: ConversationId,
        seq: Seq,
        reply: super::ops::Reply,
    ) {
        let window_ms = (self.settings().recall_window_secs as i64).saturating_mul(1000);
        let op = Recall {
            by,
            conversation,
            seq,
            window_ms,
            files_dir: self.files_dir.clone(),
            target: None,
        };
        self.submit(super::ops::Op::Structural(Box::new(op), reply))
            .await;
    }

    /// Queues an edit of a text message (`body` is `{"text": ...}`).
    pub async fn edit(
        &self,
        by: crate::directory::StaffId,
        conversation: ConversationId,
        seq: Seq,
        body: &Value,
        reply: super::ops::Reply,
    ) {
        let Some(text) = body.get("text").and_then(Value::as_str) else {
            super::dispatch::answer(
                reply,
                Err(ImError::invalid("body.text", "an edit needs the new text")),
            );
            return;
        };
        let window_ms = (self.settings().edit_window_secs as i64).saturating_mul(1000);
        let op = Edit {
            by,
            conversation,
            seq,
            text: text.to_owned(),
            window_ms,
            target: None,
        };
        self.submit(super::ops::Op::Structural(Box::new(op), reply))
            .await;
    }
}
