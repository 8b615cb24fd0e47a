//! Department chats follow the directory: one conversation per department, whose members are
//! the department's direct members. The directory tells us of every commit (HR edits and
//! LDAP syncs alike); we note which departments it touched, and the follower reads their state
//! from the replica and lets the writer bring their conversations in line (create, rename,
//! add and remove members, dissolve), each change leaving a notice. At start, every department
//! is compared, so changes made while the service was down are caught up too.

use crate::locks::MutexExt;
use std::{
    collections::{BTreeSet, HashSet},
    sync::{Arc, Mutex},
};

use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, sea_query::Expr};
use serde_json::json;
use tokio::sync::{Notify, oneshot};

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

/// The follower's inbox: the departments touched since it last looked, and the callers
/// waiting until everything told before is committed. A set, not a queue: however many
/// commits arrive while the follower is busy (an LDAP sync commits thousands), it holds at
/// most one entry per department, and the follower reads each one's newest state.
#[derive(Default)]
pub(crate) struct Inbox {
    pending: Mutex<Pending>,
    wake: Notify,
}

#[derive(Default)]
struct Pending {
    departments: BTreeSet<DepartmentId>,
    settle: Vec<oneshot::Sender<()>>,
    /// The follower has stopped: nobody will answer.
    closed: bool,
}

impl Inbox {
    fn pending(&self) -> std::sync::MutexGuard<'_, Pending> {
        self.pending.lock_or_recover()
    }

    fn touch(&self, departments: impl IntoIterator<Item = DepartmentId>) {
        self.pending().departments.extend(departments);
        self.wake.notify_one();
    }

    /// Resolves once every department touched before the call is in line (at once when the
    /// follower has stopped).
    pub(crate) async fn settled(&self) {
        let (tx, rx) = oneshot::channel();
        {
            let mut pending = self.pending();
            if pending.closed {
                return;
            }
            pending.settle.push(tx);
        }
        self.wake.notify_one();
        let _ = rx.await;
    }

    /// Waits for news, then takes all of it.
    async fn take(&self) -> (BTreeSet<DepartmentId>, Vec<oneshot::Sender<()>>) {
        loop {
            {
                let mut pending = self.pending();
                if !pending.departments.is_empty() || !pending.settle.is_empty() {
                    return (
                        std::mem::take(&mut pending.departments),
                        std::mem::take(&mut pending.settle),
                    );
                }
            }
            // A touch between the check and here leaves a permit: no wake-up is lost.
            self.wake.notified().await;
        }
    }

    /// How many departments wait for the follower.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.pending().departments.len()
    }
}

/// Marks the inbox closed when the follower ends (shutdown aborts it), so nobody waits on it.
struct Closing(Arc<Inbox>);

impl Drop for Closing {
    fn drop(&mut self) {
        let mut pending = self.0.pending();
        pending.closed = true;
        pending.settle.clear();
    }
}

/// Hears directory commits; never blocks the directory's write path.
struct Listener {
    inbox: Arc<Inbox>,
}

impl DirectoryListener for Listener {
    fn committed(&self, _version: Version, changes: &[Change], _replica: &Replica) {
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
            self.inbox.touch(touched);
        }
    }
}

/// Subscribes to the directory and starts the follower (after a full comparison) on `inbox`,
/// through which callers can also wait for it to settle.
pub(crate) fn follow(im: &Arc<Im>, directory: &Arc<Directory>, inbox: Arc<Inbox>) {
    // Subscribe before reading the replica, so no commit falls between the two.
    directory.subscribe(Arc::new(Listener {
        inbox: inbox.clone(),
    }));
    // Lock order everywhere: messaging state before the directory replica, never after.
    let known: Vec<DepartmentId> = im.state().departments().map(|(d, _)| d).collect();
    let initial: Vec<Target> = {
        let replica = directory.read();
        let mut ids: BTreeSet<DepartmentId> = replica.departments().map(|d| d.id).collect();
        ids.extend(known);
        ids.into_iter().map(|d| target(&replica, d)).collect()
    };
    let follower = {
        let (im, directory) = (im.clone(), directory.clone());
        tokio::spawn(async move {
            let _closing = Closing(inbox.clone());
            im.submit(Op::Structural(
                Box::new(Sync { targets: initial }),
                Reply::Nobody,
            ))
            .await;
            loop {
                let (departments, settled) = inbox.take().await;
                if !departments.is_empty() {
                    // Read now, not at the commit: the newest state of each department.
                    let targets: Vec<Target> = {
                        let replica = directory.read();
                        departments
                            .into_iter()
                            .map(|d| target(&replica, d))
                            .collect()
                    };
                    im.submit(Op::Structural(Box::new(Sync { targets }), Reply::Nobody))
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

/// Says what a sync changed: chats created, renamed or dissolved are rare and worth an INFO
/// line; people joining and leaving follow every hire and move (thousands in a bulk import),
/// so they are DEBUG; a sync that changed nothing says nothing.
fn log_changes(
    creates: &[Conversation],
    renames: &[(ConversationId, String)],
    dissolves: &[ConversationId],
    joins: &[(ConversationId, Vec<StaffId>, i64)],
    leaves: &[(ConversationId, Vec<StaffId>)],
) {
    let joined: usize = joins.iter().map(|(_, people, _)| people.len()).sum();
    let left: usize = leaves.iter().map(|(_, people)| people.len()).sum();
    if !creates.is_empty() || !renames.is_empty() || !dissolves.is_empty() {
        tracing::info!(
            created = creates.len(),
            renamed = renames.len(),
            dissolved = dissolves.len(),
            joined,
            left,
            "department chats follow the directory"
        );
    } else if joined + left > 0 {
        tracing::debug!(
            chats = joins.len() + leaves.len(),
            joined,
            left,
            "department chat members follow the directory"
        );
    }
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
        log_changes(&creates, &renames, &dissolves, &joins, &leaves);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_inbox_holds_one_entry_per_department_however_many_commits() {
        let inbox = Arc::new(Inbox::default());
        let departments: Vec<DepartmentId> = (0..10)
            .map(|_| DepartmentId(uuid::Uuid::now_v7()))
            .collect();
        for k in 0..10_000 {
            inbox.touch([departments[k % 10], departments[(k * 7) % 10]]);
        }
        assert_eq!(inbox.len(), 10);
        let (taken, settle) = inbox.take().await;
        assert_eq!(taken, departments.iter().copied().collect());
        assert!(settle.is_empty());
        assert_eq!(inbox.len(), 0);

        // Once the follower is gone, nobody waits for it.
        drop(Closing(inbox.clone()));
        inbox.settled().await;
    }
}
