//! Sending cards, changing them, and the actions people take on them. A card is a `card`
//! message (sent as the system, naming its app); each change — an action recorded, the app's
//! new content, a close — rewrites the stored card and adds a `card_update` event with
//! `ref_seq`, so every member's devices learn it in order, live or by sync, like an edit.
//!
//! An action is recorded exactly once by the unique index on `(card_id, slot)`: the slot is
//! `single` on a card one decision closes, and the person otherwise, so of two presses at once
//! the database keeps one and the other gets `card_closed` (or `already_answered`). The
//! callback to the app is queued in the same transaction.

use std::sync::Arc;

use sea_orm::{
    ActiveValue::Set, ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, QueryOrder,
    SqlErr, TransactionTrait, sea_query::Expr,
};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio::sync::oneshot;
use utoipa::ToSchema;
use uuid::Uuid;

use super::{
    App,
    card::{AppRef, CardContent, CardState, Decision, MAX_COMMENT, Response},
    entities::{action, app, callback, card},
};
use crate::{
    directory::{DepartmentId, Directory, StaffId},
    im::{
        ConversationId, Im, ImError, MessageKind, Sender, Seq,
        entities::message,
        model::{Mentions, MessageBody, now_millis},
        ops::{Done, Op, Plan, PlanCtx, Reply, SendOp, Structural},
        protocol::Ack,
        state::ImState,
    },
};

/// Targets per card request at most.
const MAX_TARGETS: usize = 100;

/// Where a card goes: each person (to their `system` conversation), group and department
/// chat gets a card of its own.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CardTargets {
    #[serde(default)]
    #[schema(max_items = 100)]
    pub staff: Vec<StaffId>,
    #[serde(default)]
    #[schema(max_items = 100, value_type = Vec<String>)]
    pub groups: Vec<ConversationId>,
    #[serde(default)]
    #[schema(max_items = 100)]
    pub departments: Vec<DepartmentId>,
}

/// A card as stored: its id (named in updates and callbacks) and its message.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SentCard {
    pub card: Uuid,
    pub conversation: ConversationId,
    pub seq: Seq,
    pub msg_id: Uuid,
}

fn unique_violation(error: &DbErr) -> bool {
    matches!(error.sql_err(), Some(SqlErr::UniqueConstraintViolation(_)))
}

fn app_ref(row: &app::Model) -> AppRef {
    AppRef {
        id: row.id,
        name: row.name.clone(),
        avatar: row.avatar.clone(),
    }
}

fn content_of(row: &card::Model) -> Result<CardContent, ImError> {
    serde_json::from_str(&row.content).map_err(|e| ImError::Internal(format!("card content: {e}")))
}

impl Im {
    /// Sends a card to every target within the app's reach (all are checked before any is
    /// sent). Each target gets a card of its own.
    pub async fn send_card(
        &self,
        app: &App,
        to: &CardTargets,
        decision: Decision,
        content: &CardContent,
    ) -> Result<Vec<SentCard>, ImError> {
        content.check("card")?;
        let count = to.staff.len() + to.groups.len() + to.departments.len();
        if count == 0 || count > MAX_TARGETS {
            return Err(ImError::invalid(
                "to",
                format!("1 to {MAX_TARGETS} people, groups and departments"),
            ));
        }
        for staff in &to.staff {
            self.person_in_reach(app, *staff)?;
        }
        let mut conversations = Vec::with_capacity(count);
        for group in &to.groups {
            conversations.push(self.group_in_reach(app, *group)?);
        }
        for department in &to.departments {
            conversations.push(self.department_chat_in_reach(app, *department)?);
        }
        for staff in &to.staff {
            conversations.push(self.conversation_with(Sender::System, *staff).await?);
        }
        conversations.dedup();
        let row = self.app_row(app.id).await?;
        let mut sent = Vec::with_capacity(conversations.len());
        for conversation in conversations {
            sent.push(
                self.send_one_card(&row, conversation, decision, content)
                    .await?,
            );
        }
        Ok(sent)
    }

    async fn send_one_card(
        &self,
        app: &app::Model,
        conversation: ConversationId,
        decision: Decision,
        content: &CardContent,
    ) -> Result<SentCard, ImError> {
        let id = Uuid::now_v7();
        let now = now_millis();
        let app_ref = app_ref(app);
        let state = CardState {
            id,
            app: &app_ref,
            content,
            decision,
            responses: &[],
            closed: None,
            updated_at: now,
        };
        card::Entity::insert(card::ActiveModel {
            id: Set(id),
            app_id: Set(app.id),
            conversation_id: Set(conversation.0),
            seq: Set(None),
            decision: Set(decision.as_str().to_owned()),
            content: Set(
                serde_json::to_string(content).map_err(|e| ImError::Internal(e.to_string()))?
            ),
            closed_at: Set(None),
            closed_by: Set(None),
            created_at: Set(now),
            updated_at: Set(now),
        })
        .exec_without_returning(&self.db)
        .await?;
        let (tx, rx) = oneshot::channel();
        self.submit(Op::Send(SendOp {
            conversation,
            sender: Sender::System,
            client_msg_id: None,
            body: MessageBody {
                kind: MessageKind::Card,
                json: state.body().to_string(),
                searchable: Some(format!("{} {}", content.title, content.text)),
                file_id: None,
            },
            mentions: Mentions::default(),
            reply: Reply::Channel(tx),
            queued: std::time::Instant::now(),
        }))
        .await;
        let ack = match rx.await.map_err(|_| ImError::ShuttingDown)? {
            Ok(Done::Ack(ack)) => ack,
            Ok(_) => return Err(ImError::Internal("no ack for a card".into())),
            Err(error) => {
                card::Entity::delete_by_id(id).exec(&self.db).await?;
                return Err(error);
            }
        };
        card::Entity::update_many()
            .col_expr(card::Column::Seq, Expr::value(ack.seq))
            .filter(card::Column::Id.eq(id))
            .exec(&self.db)
            .await?;
        Ok(SentCard {
            card: id,
            conversation,
            seq: ack.seq,
            msg_id: ack.msg_id,
        })
    }

    /// The app changes a card's content, or closes it (or both); every member sees the change.
    pub async fn update_card(
        &self,
        app: Uuid,
        id: Uuid,
        content: Option<&CardContent>,
        close: bool,
    ) -> Result<Ack, ImError> {
        let row = card::Entity::find_by_id(id)
            .filter(card::Column::AppId.eq(app))
            .one(&self.db)
            .await?
            .ok_or_else(|| ImError::NotFound("card".into()))?;
        if let Some(content) = content {
            content.check("card")?;
        }
        let now = now_millis();
        let mut update = card::Entity::update_many()
            .col_expr(card::Column::UpdatedAt, Expr::value(now))
            .filter(card::Column::Id.eq(id));
        if let Some(content) = content {
            let text =
                serde_json::to_string(content).map_err(|e| ImError::Internal(e.to_string()))?;
            update = update.col_expr(card::Column::Content, Expr::value(text));
        }
        if close && row.closed_at.is_none() {
            update = update.col_expr(card::Column::ClosedAt, Expr::value(now));
        }
        update.exec(&self.db).await?;
        self.refresh_card(id, row.seq).await
    }

    fn refresh_op(&self, id: Uuid, seq: Option<Seq>) -> Box<RefreshCard> {
        Box::new(RefreshCard {
            card: id,
            seq,
            directory: self.directory.clone(),
            loaded: None,
        })
    }

    /// Rewrites a card from its rows, tells its members (`card_update`) and answers the event's
    /// position.
    pub(super) async fn refresh_card(&self, id: Uuid, seq: Option<Seq>) -> Result<Ack, ImError> {
        match self.run(self.refresh_op(id, seq)).await? {
            Done::Ack(ack) => Ok(ack),
            _ => Err(ImError::Internal("no ack for a card update".into())),
        }
    }

    /// A person presses a card's action (the `action` frame); the ack (or error) goes to
    /// `reply`.
    pub async fn act(
        &self,
        staff: StaffId,
        conversation: ConversationId,
        seq: Seq,
        action_id: &str,
        comment: Option<&str>,
        reply: Reply,
    ) {
        match self
            .record_action(staff, conversation, seq, action_id, comment)
            .await
        {
            Ok(card) => {
                self.callbacks.wake();
                let op = self.refresh_op(card, Some(seq));
                self.submit(Op::Structural(op, reply)).await;
            }
            Err(error) => crate::im::dispatch::answer(reply, Err(error)),
        }
    }

    async fn record_action(
        &self,
        staff: StaffId,
        conversation: ConversationId,
        seq: Seq,
        action_id: &str,
        comment: Option<&str>,
    ) -> Result<Uuid, ImError> {
        let kind = {
            let state = self.state();
            let conv = state
                .get(conversation)
                .ok_or_else(|| ImError::NotFound("conversation".into()))?;
            let me = conv.members.get(&staff).ok_or(ImError::NotMember)?;
            if me.joined_seq > seq {
                return Err(ImError::NotFound("card".into()));
            }
            conv.kind
        };
        let target = message::Entity::find()
            .filter(message::Column::ConversationId.eq(conversation.0))
            .filter(message::Column::Seq.eq(seq))
            .one(&self.db)
            .await?
            .filter(|m| m.kind == MessageKind::Card.as_str() && !m.recalled)
            .ok_or_else(|| ImError::NotFound("card".into()))?;
        let card_id = target
            .body
            .as_deref()
            .and_then(|b| serde_json::from_str::<Value>(b).ok())
            .and_then(|b| b["card_id"].as_str().and_then(|s| Uuid::parse_str(s).ok()))
            .ok_or_else(|| ImError::NotFound("card".into()))?;
        let row = card::Entity::find_by_id(card_id)
            .one(&self.db)
            .await?
            .ok_or_else(|| ImError::NotFound("card".into()))?;
        let app = self.app_row(row.app_id).await?;
        let content = content_of(&row)?;
        let action = content
            .action(action_id)
            .ok_or_else(|| ImError::invalid("action", "this card has no such action"))?
            .clone();
        let comment = comment
            .map(str::trim)
            .filter(|c| !c.is_empty() && action.comment);
        if comment.is_some_and(|c| c.chars().count() > MAX_COMMENT) {
            return Err(ImError::invalid(
                "comment",
                format!("at most {MAX_COMMENT} characters"),
            ));
        }
        if app.revoked {
            return Err(ImError::CardClosed("this card's app was removed".into()));
        }
        let decision = Decision::parse(&row.decision);
        if row.closed_at.is_some() {
            return Err(ImError::CardClosed("this card is closed".into()));
        }
        let now = now_millis();
        let (name, login) = self
            .directory
            .read()
            .staff(staff)
            .map(|s| (s.display_name.clone(), s.login.clone()))
            .unwrap_or_default();
        let slot = match decision {
            Decision::Single => "single".to_owned(),
            Decision::PerPerson => staff.0.simple().to_string(),
        };
        let txn = self.db.begin().await?;
        let inserted = action::Entity::insert(action::ActiveModel {
            id: Set(Uuid::now_v7()),
            card_id: Set(card_id),
            slot: Set(slot),
            staff_id: Set(staff.0),
            action_id: Set(action.id.clone()),
            comment: Set(comment.map(str::to_owned)),
            at: Set(now),
        })
        .exec_without_returning(&txn)
        .await;
        match inserted {
            Ok(_) => {}
            Err(error) if unique_violation(&error) => {
                return Err(match decision {
                    Decision::Single => {
                        ImError::CardClosed("this card was already decided by someone else".into())
                    }
                    Decision::PerPerson => ImError::AlreadyAnswered,
                });
            }
            Err(error) => return Err(error.into()),
        }
        if decision == Decision::Single {
            let closed = card::Entity::update_many()
                .col_expr(card::Column::ClosedAt, Expr::value(now))
                .col_expr(card::Column::ClosedBy, Expr::value(staff.0))
                .col_expr(card::Column::UpdatedAt, Expr::value(now))
                .filter(card::Column::Id.eq(card_id))
                .filter(card::Column::ClosedAt.is_null())
                .exec(&txn)
                .await?;
            if closed.rows_affected == 0 {
                return Err(ImError::CardClosed("this card is closed".into()));
            }
        }
        let body = json!({
            "event": "card.action",
            "app": app.id,
            "card": card_id,
            "conversation": conversation,
            "conversation_kind": kind,
            "seq": seq,
            "action": {"id": action.id, "label": action.label},
            "comment": comment,
            "staff": {"id": staff, "login": login, "name": name},
            "decision": decision,
            "closes": decision == Decision::Single,
            "at": now,
        });
        callback::Entity::insert(callback::ActiveModel {
            id: Set(Uuid::now_v7()),
            app_id: Set(app.id),
            card_id: Set(card_id),
            body: Set(body.to_string()),
            status: Set("pending".into()),
            attempts: Set(0),
            next_at: Set(now),
            response_code: Set(None),
            error: Set(None),
            created_at: Set(now),
            done_at: Set(None),
        })
        .exec_without_returning(&txn)
        .await?;
        txn.commit().await?;
        Ok(card_id)
    }
}

/// Writes a card's current state into its message and adds a `card_update` event.
struct RefreshCard {
    card: Uuid,
    seq: Option<Seq>,
    directory: Arc<Directory>,
    loaded: Option<(card::Model, String)>,
}

#[async_trait::async_trait]
impl Structural for RefreshCard {
    async fn prepare(&mut self, db: &DatabaseConnection) -> Result<(), ImError> {
        let row = card::Entity::find_by_id(self.card)
            .one(db)
            .await?
            .ok_or_else(|| ImError::NotFound("card".into()))?;
        let app = app::Entity::find_by_id(row.app_id)
            .one(db)
            .await?
            .ok_or_else(|| ImError::NotFound("app".into()))?;
        let actions = action::Entity::find()
            .filter(action::Column::CardId.eq(self.card))
            .order_by_asc(action::Column::At)
            .order_by_asc(action::Column::Id)
            .all(db)
            .await?;
        let content = content_of(&row)?;
        let decision = Decision::parse(&row.decision);
        let responses: Vec<Response> = {
            let replica = self.directory.read();
            actions
                .iter()
                .map(|a| Response {
                    staff: a.staff_id,
                    name: replica
                        .staff(StaffId(a.staff_id))
                        .map(|s| s.display_name.clone())
                        .unwrap_or_default(),
                    action: a.action_id.clone(),
                    label: content
                        .action(&a.action_id)
                        .map_or_else(|| a.action_id.clone(), |x| x.label.clone()),
                    comment: a.comment.clone(),
                    at: a.at,
                })
                .collect()
        };
        let decider = actions
            .iter()
            .position(|a| a.slot == "single")
            .map(|i| &responses[i]);
        let app_ref = app_ref(&app);
        let body = CardState {
            id: row.id,
            app: &app_ref,
            content: &content,
            decision,
            responses: &responses,
            closed: row.closed_at.map(|at| (at, decider)),
            updated_at: row.updated_at,
        }
        .body()
        .to_string();
        self.loaded = Some((row, body));
        Ok(())
    }

    fn plan(self: Box<Self>, state: &ImState, ctx: &mut PlanCtx) -> Result<Plan, ImError> {
        let (row, body) = self
            .loaded
            .ok_or_else(|| ImError::NotFound("card".into()))?;
        let conversation = ConversationId(row.conversation_id);
        let seq = row
            .seq
            .or(self.seq)
            .ok_or_else(|| ImError::Conflict("the card is still being sent".into()))?;
        if state.get(conversation).is_none() {
            return Err(ImError::NotFound("conversation".into()));
        }
        let mut plan = Plan::new(Done::Nothing);
        plan.push(
            ctx.backend,
            &message::Entity::update_many()
                .col_expr(message::Column::Body, Expr::value(body.clone()))
                .col_expr(message::Column::EditedAt, Expr::value(ctx.now))
                .filter(message::Column::ConversationId.eq(conversation.0))
                .filter(message::Column::Seq.eq(seq))
                .filter(message::Column::Kind.eq(MessageKind::Card.as_str())),
        );
        let event = ctx.event(
            state,
            conversation,
            None,
            MessageBody {
                kind: MessageKind::CardUpdate,
                json: body,
                searchable: None,
                file_id: None,
            },
            Some(seq),
        );
        plan.done = Done::Ack(event.ack(None));
        plan.messages.push(event);
        Ok(plan)
    }
}
