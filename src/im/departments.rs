//! Department chats follow the directory: one conversation per department, whose members are
//! the department's direct members. The directory tells us of every commit (HR edits and
//! LDAP syncs alike); we note which departments it touched, read their new state from the
//! replica, and let the writer bring their conversations in line (create, rename, add and
//! remove members, dissolve), each change leaving a notice. At start, every department is
//! compared, so changes made while the service was down are caught up too.

use std::{
    collections::{BTreeSet, HashSet},
    sync::Arc,
};

use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, sea_query::Expr};
use serde_json::json;
use tokio::sync::{mpsc, oneshot};

use super::{
    Im, ImError,
    conversations::{delete_members, insert_conversation, member_row},
    entities::{conversation, member},
    model::{ConversationId, ConversationKind, Role},
    ops::{Done, Op, Plan, PlanCtx, Reply, Structural},
    state::{Conversation, ImState, Member},
};
use crate::{
    directory::{Change, DepartmentId, Directory, DirectoryListener, Replica, StaffId},
    store::Version,
};

/// What a department's conversation should be (`None`: the department is gone).
#[derive(Debug, Clone)]
pub struct Target {
    pub department: DepartmentId,
    pub wanted: Option<(String, BTreeSet<StaffId>)>,
}

fn target(replica: &Replica, department: DepartmentId) -> Target {
    Target {
        department,
        wanted: replica
            .department(department)
            .map(|d| (d.name.clone(), replica.members(department).collect())),
    }
}

/// What the follower is told: departments to bring in line, or a caller waiting until
/// everything told before is committed.
pub(crate) enum Follow {
    Targets(Vec<Target>),
    Settle(oneshot::Sender<()>),
}

/// Hears directory commits; never blocks the directory's write path.
struct Listener {
    tx: mpsc::UnboundedSender<Follow>,
}

impl DirectoryListener for Listener {
    fn committed(&self, _version: Version, changes: &[Change], replica: &Replica) {
        let mut touched: HashSet<DepartmentId> = HashSet::new();
        for change in changes {
            match change {
                Change::Department { before, after } => {
                    let renamed = match (before, after) {
                        (Some(b), Some(a)) => b.name != a.name,
                        _ => true,
                    };
                    if renamed {
                        touched.extend(before.iter().chain(after).map(|d| d.id));
                    }
                }
                Change::Staff { before, after } => {
                    let old: BTreeSet<DepartmentId> = before
                        .iter()
                        .flat_map(|s| s.memberships.iter().map(|m| m.department_id))
                        .collect();
                    let new: BTreeSet<DepartmentId> = after
                        .iter()
                        .flat_map(|s| s.memberships.iter().map(|m| m.department_id))
                        .collect();
                    touched.extend(old.symmetric_difference(&new));
                }
            }
        }
        if !touched.is_empty() {
            let targets = touched.into_iter().map(|d| target(replica, d)).collect();
            let _ = self.tx.send(Follow::Targets(targets));
        }
    }
}

/// Subscribes to the directory and starts the follower (after a full comparison) on the inbox
/// `tx`/`rx`, through which callers can also wait for it to settle.
pub(crate) fn follow(
    im: &Arc<Im>,
    directory: &Arc<Directory>,
    tx: mpsc::UnboundedSender<Follow>,
    mut rx: mpsc::UnboundedReceiver<Follow>,
) {
    // Subscribe before reading the replica, so no commit falls between the two.
    directory.subscribe(Arc::new(Listener { tx }));
    // Lock order everywhere: messaging state before the directory replica, never after.
    let known: Vec<DepartmentId> = im.state().departments().map(|(d, _)| d).collect();
    let initial: Vec<Target> = {
        let replica = directory.read();
        let mut ids: BTreeSet<DepartmentId> = replica.departments().map(|d| d.id).collect();
        ids.extend(known);
        ids.into_iter().map(|d| target(&replica, d)).collect()
    };
    let follower = {
        let im = im.clone();
        tokio::spawn(async move {
            im.submit(Op::Structural(
                Box::new(Sync { targets: initial }),
                Reply::Nobody,
            ))
            .await;
            while let Some(first) = rx.recv().await {
                // Coalesce bursts (an LDAP sync commits many times): the replica state read
                // at the last commit is the newest for each department.
                let mut targets = Vec::new();
                let mut settled = Vec::new();
                let mut take = |message| match message {
                    Follow::Targets(more) => targets.extend(more),
                    Follow::Settle(done) => settled.push(done),
                };
                take(first);
                while let Ok(more) = rx.try_recv() {
                    take(more);
                }
                if !targets.is_empty() {
                    let mut seen = HashSet::new();
                    let mut newest: Vec<Target> = targets
                        .into_iter()
                        .rev()
                        .filter(|t| seen.insert(t.department))
                        .collect();
                    newest.reverse();
                    im.submit(Op::Structural(
                        Box::new(Sync { targets: newest }),
                        Reply::Nobody,
                    ))
                    .await;
                }
                if !settled.is_empty() {
                    im.flush().await;
                    for done in settled {
                        let _ = done.send(());
                    }
                }
            }
        })
    };
    im.keep(follower);
}

/// Brings department conversations in line with their targets.
struct Sync {
    targets: Vec<Target>,
}

/// Notices name at most this many people; beyond, they give a count.
const NAMED: usize = 100;

fn people(staff: &[StaffId]) -> serde_json::Value {
    if staff.len() <= NAMED {
        json!(staff)
    } else {
        json!(staff.len())
    }
}

impl Structural for Sync {
    fn plan(self: Box<Self>, state: &ImState, ctx: &mut PlanCtx) -> Result<Plan, ImError> {
        let mut plan = Plan::new(Done::Nothing);
        let mut creates: Vec<Conversation> = Vec::new();
        let mut joins: Vec<(ConversationId, Vec<StaffId>, i64)> = Vec::new();
        let mut leaves: Vec<(ConversationId, Vec<StaffId>)> = Vec::new();
        let mut renames: Vec<(ConversationId, String)> = Vec::new();
        let mut dissolves: Vec<ConversationId> = Vec::new();
        for target in self.targets {
            let existing = state
                .by_department(target.department)
                .and_then(|id| state.get(id));
            match (existing, target.wanted) {
                (None, None) => {}
                (Some(conv), None) => {
                    plan.messages.push(ctx.notice(
                        state,
                        conv.id,
                        json!({"event": "department.removed"}),
                    ));
                    plan.push(
                        ctx.backend,
                        &conversation::Entity::update_many()
                            .col_expr(conversation::Column::Dissolved, Expr::value(true))
                            .filter(conversation::Column::Id.eq(conv.id.0)),
                    );
                    dissolves.push(conv.id);
                }
                (None, Some((name, members))) => {
                    let mut conv = Conversation::new(
                        ConversationId::generate(),
                        ConversationKind::Department,
                        ctx.now,
                    );
                    conv.name = name;
                    conv.department = Some(target.department);
                    for staff in members {
                        conv.members.insert(staff, Member::new(Role::Member, 1));
                    }
                    insert_conversation(&mut plan, ctx, &conv);
                    plan.messages.push(ctx.notice(
                        state,
                        conv.id,
                        json!({"event": "department.created", "name": conv.name}),
                    ));
                    creates.push(conv);
                }
                (Some(conv), Some((name, members))) => {
                    let id = conv.id;
                    if conv.name != name {
                        plan.push(
                            ctx.backend,
                            &conversation::Entity::update_many()
                                .col_expr(conversation::Column::Name, Expr::value(name.clone()))
                                .filter(conversation::Column::Id.eq(id.0)),
                        );
                        plan.messages.push(ctx.notice(
                            state,
                            id,
                            json!({"event": "department.renamed", "name": name}),
                        ));
                        renames.push((id, name));
                    }
                    let gone: Vec<StaffId> = conv
                        .members
                        .keys()
                        .copied()
                        .filter(|s| !members.contains(s))
                        .collect();
                    let new: Vec<StaffId> = members
                        .iter()
                        .copied()
                        .filter(|s| !conv.members.contains_key(s))
                        .collect();
                    if !gone.is_empty() {
                        plan.messages.push(ctx.notice(
                            state,
                            id,
                            json!({"event": "members.left", "staff": people(&gone)}),
                        ));
                        delete_members(&mut plan, ctx, id, &gone);
                        plan.extra_recipients.insert(id, gone.clone());
                        leaves.push((id, gone));
                    }
                    if !new.is_empty() {
                        let notice = ctx.notice(
                            state,
                            id,
                            json!({"event": "members.joined", "staff": people(&new)}),
                        );
                        let joined = notice.seq;
                        let rows: Vec<member::ActiveModel> = new
                            .iter()
                            .map(|s| member_row(id, *s, &Member::new(Role::Member, joined)))
                            .collect();
                        for chunk in rows.chunks(1000) {
                            plan.push(ctx.backend, &member::Entity::insert_many(chunk.to_vec()));
                        }
                        plan.messages.push(notice);
                        joins.push((id, new, joined));
                    }
                }
            }
        }
        if !plan.messages.is_empty() {
            tracing::info!(
                created = creates.len(),
                dissolved = dissolves.len(),
                "department chats follow the directory"
            );
        }
        plan.apply = Box::new(move |state| {
            for conv in creates {
                state.insert(conv);
            }
            for (id, name) in renames {
                if let Some(conv) = state.get_mut(id) {
                    conv.name = name;
                }
            }
            for (id, gone) in leaves {
                for staff in gone {
                    state.remove_member(id, staff);
                }
            }
            for (id, new, joined) in joins {
                for staff in new {
                    state.add_member(id, staff, Member::new(Role::Member, joined));
                }
            }
            for id in dissolves {
                state.dissolve(id);
            }
        });
        Ok(plan)
    }
}
