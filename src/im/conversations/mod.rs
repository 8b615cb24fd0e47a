//! Structural operations on conversations: direct and notice conversations on first use, and
//! groups (create, invite, remove, leave, dissolve, rename, announcement, mute, roles). Each
//! checks its permissions against the state at commit time and leaves a `system` notice in
//! the conversation, so members learn of the change in order with the messages.

use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, sea_query::Expr};
use serde_json::json;

use super::{
    ImError,
    entities::{conversation, member},
    model::{ConversationId, ConversationKind, Role, Sender},
    ops::{Done, Plan, PlanCtx, Structural},
    state::{Conversation, ImState, Member, pair_key, system_key},
};
use crate::directory::StaffId;

mod members;

pub use members::{AddMembers, Leave, RemoveMember, SetMember};

/// The most members a group may have.
pub const MAX_GROUP_MEMBERS: usize = 10_000;

fn conversation_row(conv: &Conversation) -> conversation::ActiveModel {
    conversation::ActiveModel {
        id: Set(conv.id.0),
        kind: Set(conv.kind.as_str().to_owned()),
        name: Set(conv.name.clone()),
        announcement: Set(conv.announcement.clone()),
        department_id: Set(conv.department.map(|d| d.0)),
        pair_key: Set(conv.pair_key.clone()),
        mute_all: Set(conv.mute_all),
        dissolved: Set(conv.dissolved),
        created_at: Set(conv.created_at),
    }
}

/// Adds the statements that insert a new conversation with its members.
pub(crate) fn insert_conversation(plan: &mut Plan, ctx: &PlanCtx, conv: &Conversation) {
    plan.push(
        ctx.backend,
        &conversation::Entity::insert(conversation_row(conv)),
    );
    let rows: Vec<member::ActiveModel> = conv
        .members
        .iter()
        .map(|(staff, m)| member_row(conv.id, *staff, m))
        .collect();
    for chunk in rows.chunks(1000) {
        plan.push(ctx.backend, &member::Entity::insert_many(chunk.to_vec()));
    }
}

pub(crate) fn member_row(id: ConversationId, staff: StaffId, m: &Member) -> member::ActiveModel {
    member::ActiveModel {
        conversation_id: Set(id.0),
        staff_id: Set(staff.0),
        role: Set(m.role.as_str().to_owned()),
        joined_seq: Set(m.joined_seq),
        read_seq: Set(m.read_seq),
        muted_until: Set(m.muted_until),
        has_sent: Set(m.has_sent),
    }
}

/// Adds the statement that removes members.
pub(crate) fn delete_members(
    plan: &mut Plan,
    ctx: &PlanCtx,
    id: ConversationId,
    staff: &[StaffId],
) {
    for chunk in staff.chunks(1000) {
        plan.push(
            ctx.backend,
            &member::Entity::delete_many()
                .filter(member::Column::ConversationId.eq(id.0))
                .filter(member::Column::StaffId.is_in(chunk.iter().map(|s| s.0))),
        );
    }
}

fn update_conversation(
    plan: &mut Plan,
    ctx: &PlanCtx,
    id: ConversationId,
    column: conversation::Column,
    value: sea_orm::Value,
) {
    plan.push(
        ctx.backend,
        &conversation::Entity::update_many()
            .col_expr(column, Expr::value(value))
            .filter(conversation::Column::Id.eq(id.0)),
    );
}

/// The direct conversation of two people.
pub struct CreateDirect {
    pub a: StaffId,
    pub b: StaffId,
}

impl Structural for CreateDirect {
    fn plan(self: Box<Self>, state: &ImState, ctx: &mut PlanCtx) -> Result<Plan, ImError> {
        let key = pair_key(self.a, self.b);
        if let Some(id) = state.by_pair(&key) {
            return Ok(Plan::new(Done::Conversation(id)));
        }
        let mut conv = Conversation::new(
            ConversationId::generate(),
            ConversationKind::Direct,
            ctx.now,
        );
        conv.pair_key = Some(key);
        conv.members.insert(self.a, Member::new(Role::Member, 1));
        conv.members.insert(self.b, Member::new(Role::Member, 1));
        let mut plan = Plan::new(Done::Conversation(conv.id));
        insert_conversation(&mut plan, ctx, &conv);
        plan.apply = Box::new(move |state| state.insert(conv));
        Ok(plan)
    }
}

/// The notice conversation of one person (server API messages to them).
pub struct CreateSystem {
    pub staff: StaffId,
}

impl Structural for CreateSystem {
    fn plan(self: Box<Self>, state: &ImState, ctx: &mut PlanCtx) -> Result<Plan, ImError> {
        let key = system_key(self.staff);
        if let Some(id) = state.by_pair(&key) {
            return Ok(Plan::new(Done::Conversation(id)));
        }
        let mut conv = Conversation::new(
            ConversationId::generate(),
            ConversationKind::System,
            ctx.now,
        );
        conv.name = "System notices".into();
        conv.pair_key = Some(key);
        conv.members
            .insert(self.staff, Member::new(Role::Member, 1));
        let mut plan = Plan::new(Done::Conversation(conv.id));
        insert_conversation(&mut plan, ctx, &conv);
        plan.apply = Box::new(move |state| state.insert(conv));
        Ok(plan)
    }
}

/// A new group; `by` becomes its owner (the server API names an owner).
pub struct CreateGroup {
    pub owner: StaffId,
    pub by: Sender,
    pub name: String,
    pub announcement: String,
    pub members: Vec<StaffId>,
}

impl Structural for CreateGroup {
    fn plan(self: Box<Self>, state: &ImState, ctx: &mut PlanCtx) -> Result<Plan, ImError> {
        let mut conv =
            Conversation::new(ConversationId::generate(), ConversationKind::Group, ctx.now);
        conv.name = self.name;
        conv.announcement = self.announcement;
        conv.members.insert(self.owner, Member::new(Role::Owner, 1));
        for staff in &self.members {
            conv.members
                .entry(*staff)
                .or_insert_with(|| Member::new(Role::Member, 1));
        }
        if conv.members.len() > MAX_GROUP_MEMBERS {
            return Err(ImError::invalid(
                "members",
                format!("at most {MAX_GROUP_MEMBERS}"),
            ));
        }
        let mut plan = Plan::new(Done::Conversation(conv.id));
        insert_conversation(&mut plan, ctx, &conv);
        let mut members: Vec<StaffId> = conv.members.keys().copied().collect();
        members.sort_unstable();
        plan.messages.push(ctx.notice(
            state,
            conv.id,
            json!({"event": "group.created", "by": self.by.staff(), "name": conv.name, "members": members}),
        ));
        plan.apply = Box::new(move |state| state.insert(conv));
        Ok(plan)
    }
}

/// The group and the acting member's role (the system acts as owner).
fn group(
    state: &ImState,
    id: ConversationId,
    by: Sender,
) -> Result<(&Conversation, Role), ImError> {
    let conv = state
        .get(id)
        .ok_or_else(|| ImError::NotFound("conversation".into()))?;
    if conv.kind != ConversationKind::Group {
        return Err(ImError::Conflict("only groups are managed this way".into()));
    }
    if conv.dissolved {
        return Err(ImError::Conflict("this group was dissolved".into()));
    }
    let role = match by {
        Sender::System => Role::Owner,
        Sender::Staff(staff) => conv.members.get(&staff).ok_or(ImError::NotMember)?.role,
    };
    Ok((conv, role))
}

/// Ends a group (its owner, or the system): it stays readable, takes no more messages.
pub struct Dissolve {
    pub by: Sender,
    pub conversation: ConversationId,
}

impl Structural for Dissolve {
    fn plan(self: Box<Self>, state: &ImState, ctx: &mut PlanCtx) -> Result<Plan, ImError> {
        let (conv, role) = group(state, self.conversation, self.by)?;
        if role != Role::Owner {
            return Err(ImError::Forbidden(
                "only the owner may dissolve a group".into(),
            ));
        }
        let id = conv.id;
        let mut plan = Plan::new(Done::Nothing);
        plan.messages.push(ctx.notice(
            state,
            id,
            json!({"event": "group.dissolved", "by": self.by.staff()}),
        ));
        update_conversation(
            &mut plan,
            ctx,
            id,
            conversation::Column::Dissolved,
            true.into(),
        );
        plan.apply = Box::new(move |state| state.dissolve(id));
        Ok(plan)
    }
}

/// Renames a group, sets its announcement, or mutes everyone but owner and admins.
pub struct UpdateGroup {
    pub by: Sender,
    pub conversation: ConversationId,
    pub name: Option<String>,
    pub announcement: Option<String>,
    pub mute_all: Option<bool>,
}

impl Structural for UpdateGroup {
    fn plan(self: Box<Self>, state: &ImState, ctx: &mut PlanCtx) -> Result<Plan, ImError> {
        let (conv, role) = group(state, self.conversation, self.by)?;
        if !role.manages() {
            return Err(ImError::Forbidden(
                "only owners and admins may change the group".into(),
            ));
        }
        let id = conv.id;
        let by = self.by.staff();
        let mut plan = Plan::new(Done::Conversation(id));
        if let Some(name) = &self.name
            && *name != conv.name
        {
            update_conversation(
                &mut plan,
                ctx,
                id,
                conversation::Column::Name,
                name.clone().into(),
            );
            plan.messages.push(ctx.notice(
                state,
                id,
                json!({"event": "group.renamed", "by": by, "name": name}),
            ));
        }
        if let Some(text) = &self.announcement
            && *text != conv.announcement
        {
            update_conversation(
                &mut plan,
                ctx,
                id,
                conversation::Column::Announcement,
                text.clone().into(),
            );
            plan.messages.push(ctx.notice(
                state,
                id,
                json!({"event": "announcement", "by": by, "text": text}),
            ));
        }
        if let Some(on) = self.mute_all
            && on != conv.mute_all
        {
            update_conversation(&mut plan, ctx, id, conversation::Column::MuteAll, on.into());
            plan.messages.push(ctx.notice(
                state,
                id,
                json!({"event": "mute_all", "by": by, "on": on}),
            ));
        }
        let (name, announcement, mute_all) = (self.name, self.announcement, self.mute_all);
        plan.apply = Box::new(move |state| {
            if let Some(conv) = state.get_mut(id) {
                if let Some(name) = name {
                    conv.name = name;
                }
                if let Some(text) = announcement {
                    conv.announcement = text;
                }
                if let Some(on) = mute_all {
                    conv.mute_all = on;
                }
            }
        });
        Ok(plan)
    }
}
