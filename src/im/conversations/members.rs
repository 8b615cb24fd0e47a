//! Membership of a group: invite, remove, leave, and a member's role or mute.

use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, sea_query::Expr};
use serde_json::json;

use super::{MAX_GROUP_MEMBERS, delete_members, group, member_row, update_conversation};
use crate::{
    directory::StaffId,
    im::{
        ImError,
        entities::{conversation, member},
        model::{ConversationId, Role, Sender, Seq},
        ops::{Done, Plan, PlanCtx, Structural},
        state::{ImState, Member},
    },
};

/// Invites people into a group (any member may).
pub struct AddMembers {
    pub by: Sender,
    pub conversation: ConversationId,
    pub staff: Vec<StaffId>,
}

impl Structural for AddMembers {
    fn plan(self: Box<Self>, state: &ImState, ctx: &mut PlanCtx) -> Result<Plan, ImError> {
        let (conv, _) = group(state, self.conversation, self.by)?;
        let mut new: Vec<StaffId> = self
            .staff
            .iter()
            .copied()
            .filter(|s| !conv.members.contains_key(s))
            .collect();
        new.sort_unstable();
        new.dedup();
        let mut plan = Plan::new(Done::Conversation(conv.id));
        if new.is_empty() {
            return Ok(plan);
        }
        if conv.members.len() + new.len() > MAX_GROUP_MEMBERS {
            return Err(ImError::invalid(
                "staff",
                format!("a group has at most {MAX_GROUP_MEMBERS} members"),
            ));
        }
        let notice = ctx.notice(
            state,
            conv.id,
            json!({"event": "members.added", "by": self.by.staff(), "staff": new}),
        );
        let joined: Seq = notice.seq;
        let id = conv.id;
        for staff in &new {
            plan.push(
                ctx.backend,
                &member::Entity::insert(member_row(id, *staff, &Member::new(Role::Member, joined))),
            );
        }
        plan.messages.push(notice);
        plan.apply = Box::new(move |state| {
            for staff in new {
                state.add_member(id, staff, Member::new(Role::Member, joined));
            }
        });
        Ok(plan)
    }
}

/// Removes someone from a group (owners remove anyone but themselves; admins remove members).
pub struct RemoveMember {
    pub by: Sender,
    pub conversation: ConversationId,
    pub staff: StaffId,
}

impl Structural for RemoveMember {
    fn plan(self: Box<Self>, state: &ImState, ctx: &mut PlanCtx) -> Result<Plan, ImError> {
        let (conv, role) = group(state, self.conversation, self.by)?;
        let target = conv
            .members
            .get(&self.staff)
            .ok_or_else(|| ImError::NotFound("member".into()))?;
        if !role.manages() || (self.by != Sender::System && role <= target.role) {
            return Err(ImError::Forbidden("you may not remove this member".into()));
        }
        if target.role == Role::Owner {
            return Err(ImError::Forbidden(
                "the owner cannot be removed; transfer ownership or dissolve".into(),
            ));
        }
        let id = conv.id;
        let staff = self.staff;
        let mut plan = Plan::new(Done::Nothing);
        plan.messages.push(ctx.notice(
            state,
            id,
            json!({"event": "member.removed", "by": self.by.staff(), "staff": staff}),
        ));
        delete_members(&mut plan, ctx, id, &[staff]);
        plan.extra_recipients.insert(id, vec![staff]);
        plan.apply = Box::new(move |state| state.remove_member(id, staff));
        Ok(plan)
    }
}

/// Leaves a group; an owner hands the group to an admin (or the longest member), and the last
/// one out dissolves it.
pub struct Leave {
    pub staff: StaffId,
    pub conversation: ConversationId,
}

impl Structural for Leave {
    fn plan(self: Box<Self>, state: &ImState, ctx: &mut PlanCtx) -> Result<Plan, ImError> {
        let (conv, role) = group(state, self.conversation, Sender::Staff(self.staff))?;
        let id = conv.id;
        let staff = self.staff;
        let heir = if role == Role::Owner {
            conv.members
                .iter()
                .filter(|(s, _)| **s != staff)
                .max_by_key(|(s, m)| {
                    (
                        m.role,
                        std::cmp::Reverse(m.joined_seq),
                        std::cmp::Reverse(**s),
                    )
                })
                .map(|(s, _)| *s)
        } else {
            None
        };
        let mut plan = Plan::new(Done::Nothing);
        plan.messages.push(ctx.notice(
            state,
            id,
            json!({"event": "member.left", "staff": staff, "new_owner": heir}),
        ));
        delete_members(&mut plan, ctx, id, &[staff]);
        plan.extra_recipients.insert(id, vec![staff]);
        let last = conv.members.len() == 1;
        if let Some(heir) = heir {
            plan.push(
                ctx.backend,
                &member::Entity::update_many()
                    .col_expr(member::Column::Role, Expr::value(Role::Owner.as_str()))
                    .filter(member::Column::ConversationId.eq(id.0))
                    .filter(member::Column::StaffId.eq(heir.0)),
            );
        }
        if last {
            update_conversation(
                &mut plan,
                ctx,
                id,
                conversation::Column::Dissolved,
                true.into(),
            );
        }
        plan.apply = Box::new(move |state| {
            state.remove_member(id, staff);
            if let Some(heir) = heir
                && let Some(m) = state.get_mut(id).and_then(|c| c.members.get_mut(&heir))
            {
                m.role = Role::Owner;
            }
            if last {
                state.dissolve(id);
            }
        });
        Ok(plan)
    }
}

/// Changes a member's role (the owner: admin or member, or hands over ownership) or mutes
/// them until a time (owners and admins, over members of lower rank).
pub struct SetMember {
    pub by: Sender,
    pub conversation: ConversationId,
    pub staff: StaffId,
    pub role: Option<Role>,
    /// Milliseconds since the epoch; 0 unmutes.
    pub muted_until: Option<i64>,
}

impl Structural for SetMember {
    fn plan(self: Box<Self>, state: &ImState, ctx: &mut PlanCtx) -> Result<Plan, ImError> {
        let (conv, role) = group(state, self.conversation, self.by)?;
        let target = conv
            .members
            .get(&self.staff)
            .ok_or_else(|| ImError::NotFound("member".into()))?;
        let id = conv.id;
        let staff = self.staff;
        let mut plan = Plan::new(Done::Nothing);
        let mut new_owner_demotes: Option<StaffId> = None;
        if let Some(new_role) = self.role
            && new_role != target.role
        {
            if role != Role::Owner {
                return Err(ImError::Forbidden("only the owner may change roles".into()));
            }
            if target.role == Role::Owner {
                return Err(ImError::Forbidden(
                    "hand ownership to someone else instead".into(),
                ));
            }
            if new_role == Role::Owner {
                new_owner_demotes = conv.owner();
            }
        }
        if self.muted_until.is_some()
            && (!role.manages() || (self.by != Sender::System && role <= target.role))
        {
            return Err(ImError::Forbidden("you may not mute this member".into()));
        }
        let mut changes = Vec::new();
        if let Some(new_role) = self.role.filter(|r| *r != target.role) {
            changes.push((staff, new_role));
            if let Some(old_owner) = new_owner_demotes {
                changes.push((old_owner, Role::Admin));
            }
        }
        for (who, r) in &changes {
            plan.push(
                ctx.backend,
                &member::Entity::update_many()
                    .col_expr(member::Column::Role, Expr::value(r.as_str()))
                    .filter(member::Column::ConversationId.eq(id.0))
                    .filter(member::Column::StaffId.eq(who.0)),
            );
        }
        if let Some(until) = self.muted_until {
            plan.push(
                ctx.backend,
                &member::Entity::update_many()
                    .col_expr(member::Column::MutedUntil, Expr::value(until))
                    .filter(member::Column::ConversationId.eq(id.0))
                    .filter(member::Column::StaffId.eq(staff.0)),
            );
        }
        if changes.is_empty() && self.muted_until.is_none() {
            return Ok(plan);
        }
        plan.messages.push(ctx.notice(
            state,
            id,
            json!({"event": "member.updated", "by": self.by.staff(), "staff": staff,
                   "role": self.role, "muted_until": self.muted_until}),
        ));
        let muted_until = self.muted_until;
        plan.apply = Box::new(move |state| {
            if let Some(conv) = state.get_mut(id) {
                for (who, r) in changes {
                    if let Some(m) = conv.members.get_mut(&who) {
                        m.role = r;
                    }
                }
                if let Some(until) = muted_until
                    && let Some(m) = conv.members.get_mut(&staff)
                {
                    m.muted_until = until;
                }
            }
        });
        Ok(plan)
    }
}
