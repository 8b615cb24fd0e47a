//! Property tests of the contact-sync invariants, on random companies, users and sequences of
//! directory, rule, role, assignment and LDAP-group edits — identical and overlapping rules,
//! rules replaced by copies of others, roles deleted and recreated — with restarts in the
//! middle. After every step, for every person:
//!  1. their client's snapshot plus every delta since equals the snapshot now (no resets);
//!  2. the snapshot equals an oracle that asks casbin per entry, the naive way, and projects
//!     by the written definition of "visible" (docs/api.md) — so nothing outside the view, and
//!     no masked field, is ever served. The oracle's casbin is loaded afresh from the stored
//!     tables, and the live enforcer must hold exactly its lines;
//!  3. versions never go backwards;
//!  4. a restart changes no view: the snapshot at a version is the same before and after;
//!  5. compacting the history (all of it past the retention) resets no client that is up to
//!     date, and the deltas that follow, across restarts too, stay exact.

use crate::common;

use std::collections::{BTreeMap, BTreeSet, HashMap};

use common::{Backend, Storage};
use proptest::prelude::*;
use serde_json::{Value, json};
use switchboard::{
    access::{
        Assignment, Effect, MaskedField, Object, PolicyChange, Role, RoleId, Rule, RuleId, Subject,
        role_subject,
    },
    directory::{
        DeleteDepartment, DepartmentId, DepartmentPatch, DisabledBy, FieldDefinition, FieldEntity,
        FieldType, MembershipInput, NewDepartment, NewStaff, StaffId, StaffPatch, StaffStatus,
    },
    store::{Actor, Source, Version},
    {access::Access, app::Application, state::AppState},
};

const DEPT_TYPES: [&str; 3] = ["alpha", "beta", "gamma"];
const STAFF_TYPES: [&str; 3] = ["employee", "contractor", "executive"];
const FIELDS: [&str; 5] = ["title", "emails", "phones", "custom.*", "custom.badge"];

#[derive(Debug, Clone)]
enum Pick {
    All,
    DeptType(usize),
    Subtree(usize),
    Department(usize),
    OwnDepartment,
    OwnSubtree,
    StaffType(usize),
    Staff(usize),
}

#[derive(Debug, Clone)]
enum Op {
    CreateDept {
        parent: usize,
        kind: usize,
    },
    MoveDept {
        dept: usize,
        parent: usize,
    },
    RetypeDept {
        dept: usize,
        kind: usize,
    },
    RenameDept {
        dept: usize,
    },
    DeleteDept {
        dept: usize,
    },
    CreateStaff {
        first: usize,
        second: Option<usize>,
        kind: usize,
    },
    MoveStaff {
        staff: usize,
        first: usize,
        second: Option<usize>,
    },
    RetypeStaff {
        staff: usize,
        kind: usize,
    },
    EditStaff {
        staff: usize,
    },
    ToggleStaff {
        staff: usize,
    },
    AddAllow {
        role: usize,
        pick: Pick,
    },
    AddMask {
        role: Option<usize>,
        field: usize,
        exempt: usize,
    },
    AddDeny {
        pick: Pick,
        exempt: usize,
    },
    DeleteRule {
        rule: usize,
    },
    Assign {
        role: usize,
        staff: usize,
    },
    Unassign {
        role: usize,
        staff: usize,
    },
    /// A new rule identical to an existing one.
    DuplicateRule {
        rule: usize,
    },
    /// An existing rule replaced (same id) by a copy of another's role, effect and object.
    CopyRule {
        rule: usize,
        from: usize,
    },
    /// An existing rule replaced by one naming another object (or field).
    RetargetRule {
        rule: usize,
        pick: Pick,
        field: usize,
    },
    /// A role deleted (with its rules, assignments and exemptions) and a new one in its place,
    /// in one commit.
    ReplaceRole {
        role: usize,
    },
    AssignGroup {
        role: usize,
        group: usize,
    },
    UnassignGroup {
        role: usize,
        group: usize,
    },
    SetGroup {
        group: usize,
        members: Vec<usize>,
    },
    Restart,
    /// Everything committed so far passes the retention and is compacted away (every client
    /// is up to date after each step, so none may reset).
    Compact,
}

const GROUPS: [&str; 2] = ["cn=ops,ou=groups,dc=test", "cn=all,ou=groups,dc=test"];

fn pick() -> impl Strategy<Value = Pick> {
    prop_oneof![
        Just(Pick::All),
        (0..3usize).prop_map(Pick::DeptType),
        any::<usize>().prop_map(Pick::Subtree),
        any::<usize>().prop_map(Pick::Department),
        Just(Pick::OwnDepartment),
        Just(Pick::OwnSubtree),
        (0..3usize).prop_map(Pick::StaffType),
        any::<usize>().prop_map(Pick::Staff),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (any::<usize>(), 0..3usize).prop_map(|(parent, kind)| Op::CreateDept { parent, kind }),
        (any::<usize>(), any::<usize>()).prop_map(|(dept, parent)| Op::MoveDept { dept, parent }),
        (any::<usize>(), 0..3usize).prop_map(|(dept, kind)| Op::RetypeDept { dept, kind }),
        any::<usize>().prop_map(|dept| Op::RenameDept { dept }),
        any::<usize>().prop_map(|dept| Op::DeleteDept { dept }),
        (
            any::<usize>(),
            proptest::option::of(any::<usize>()),
            0..3usize
        )
            .prop_map(|(first, second, kind)| Op::CreateStaff {
                first,
                second,
                kind
            }),
        (
            any::<usize>(),
            any::<usize>(),
            proptest::option::of(any::<usize>())
        )
            .prop_map(|(staff, first, second)| Op::MoveStaff {
                staff,
                first,
                second
            }),
        (any::<usize>(), 0..3usize).prop_map(|(staff, kind)| Op::RetypeStaff { staff, kind }),
        any::<usize>().prop_map(|staff| Op::EditStaff { staff }),
        any::<usize>().prop_map(|staff| Op::ToggleStaff { staff }),
        (any::<usize>(), pick()).prop_map(|(role, pick)| Op::AddAllow { role, pick }),
        (
            proptest::option::of(any::<usize>()),
            0..5usize,
            any::<usize>()
        )
            .prop_map(|(role, field, exempt)| Op::AddMask {
                role,
                field,
                exempt
            }),
        (pick(), any::<usize>()).prop_map(|(pick, exempt)| Op::AddDeny { pick, exempt }),
        any::<usize>().prop_map(|rule| Op::DeleteRule { rule }),
        (any::<usize>(), any::<usize>()).prop_map(|(role, staff)| Op::Assign { role, staff }),
        (any::<usize>(), any::<usize>()).prop_map(|(role, staff)| Op::Unassign { role, staff }),
        any::<usize>().prop_map(|rule| Op::DuplicateRule { rule }),
        (any::<usize>(), any::<usize>()).prop_map(|(rule, from)| Op::CopyRule { rule, from }),
        (any::<usize>(), pick(), 0..5usize).prop_map(|(rule, pick, field)| Op::RetargetRule {
            rule,
            pick,
            field
        }),
        any::<usize>().prop_map(|role| Op::ReplaceRole { role }),
        (any::<usize>(), 0..2usize).prop_map(|(role, group)| Op::AssignGroup { role, group }),
        (any::<usize>(), 0..2usize).prop_map(|(role, group)| Op::UnassignGroup { role, group }),
        (0..2usize, proptest::collection::vec(any::<usize>(), 0..4))
            .prop_map(|(group, members)| Op::SetGroup { group, members }),
        Just(Op::Restart),
        Just(Op::Compact),
    ]
}

struct World {
    storage: Storage,
    state: AppState,
    roles: Vec<RoleId>,
    actor: Actor,
    /// Each person's client: the version it holds and its entries by id.
    clients: HashMap<StaffId, (i64, BTreeMap<String, Value>)>,
}

fn nth<T: Copy>(items: &[T], index: usize) -> Option<T> {
    (!items.is_empty()).then(|| items[index % items.len()])
}

fn nth_of<T: Clone>(items: &[T], index: usize) -> Option<T> {
    (!items.is_empty()).then(|| items[index % items.len()].clone())
}

impl World {
    fn departments(&self) -> Vec<DepartmentId> {
        let mut ids: Vec<_> = self
            .state
            .directory
            .read()
            .departments()
            .map(|d| d.id)
            .collect();
        ids.sort();
        ids
    }

    fn staff(&self) -> Vec<StaffId> {
        let mut ids: Vec<_> = self
            .state
            .directory
            .read()
            .all_staff()
            .map(|s| s.id)
            .collect();
        ids.sort();
        ids
    }

    fn object(&self, pick: &Pick) -> Option<Object> {
        Some(match pick {
            Pick::All => Object::All,
            Pick::DeptType(i) => Object::DeptType(DEPT_TYPES[*i].into()),
            Pick::Subtree(i) => Object::Subtree(nth(&self.departments(), *i)?),
            Pick::Department(i) => Object::Department(nth(&self.departments(), *i)?),
            Pick::OwnDepartment => Object::OwnDepartment,
            Pick::OwnSubtree => Object::OwnSubtree,
            Pick::StaffType(i) => Object::StaffType(STAFF_TYPES[*i].into()),
            Pick::Staff(i) => Object::Staff(nth(&self.staff(), *i)?),
        })
    }

    fn memberships(&self, first: usize, second: Option<usize>) -> Vec<MembershipInput> {
        let departments = self.departments();
        let mut out = Vec::new();
        for index in std::iter::once(first).chain(second) {
            if let Some(id) = nth(&departments, index)
                && !out.iter().any(|m: &MembershipInput| m.department_id == id)
            {
                out.push(MembershipInput {
                    department_id: id,
                    order_key: Some(index as i64 % 7),
                    primary: out.is_empty(),
                });
            }
        }
        out
    }

    async fn policy(&self, change: PolicyChange) -> bool {
        self.policies(vec![change]).await
    }

    /// Applies edits as one commit; whether they were accepted.
    async fn policies(&self, changes: Vec<PolicyChange>) -> bool {
        // Refusals (e.g. unknown ids) are part of the game: the state must stay consistent.
        self.state.access.apply(&self.actor, changes).await.is_ok()
    }

    fn rules(&self) -> Vec<Rule> {
        self.state
            .access
            .snapshot()
            .policy
            .rules
            .values()
            .cloned()
            .collect()
    }

    /// Stops the service (as a shutdown does: pending view history is written) and starts it
    /// again over the same storage; every view must be what it was at the same version.
    async fn restart(&mut self) -> Result<(), TestCaseError> {
        let before: Vec<_> = self
            .staff()
            .into_iter()
            .map(|staff| (staff, snapshot_map(&self.state, staff)))
            .collect();
        self.state.contacts.flush().await;
        self.state.im.shutdown().await;
        let application = Application::build(self.storage.config(false))
            .await
            .expect("restart");
        self.state = application.state().clone();
        for (staff, snapshot) in before {
            let after = snapshot_map(&self.state, staff);
            prop_assert_eq!(
                &after,
                &snapshot,
                "the view of {} changed across a restart",
                staff
            );
        }
        Ok(())
    }

    async fn apply(&mut self, op: &Op, step: usize) -> Result<(), TestCaseError> {
        let directory = self.state.directory.clone();
        let actor = self.actor.clone();
        match op.clone() {
            Op::CreateDept { parent, kind } => {
                let parent_id = nth(&self.departments(), parent);
                let _ = directory
                    .write(&actor, |s| {
                        s.create_department(NewDepartment {
                            parent_id,
                            name: format!("D{step}"),
                            dept_type: DEPT_TYPES[kind].into(),
                            order_key: None,
                            custom: [("cc".to_owned(), json!(format!("CC{step}")))].into(),
                            source: None,
                            ldap: None,
                        })
                    })
                    .await;
            }
            Op::MoveDept { dept, parent } => {
                let departments = self.departments();
                if let Some(id) = nth(&departments, dept) {
                    let target = if parent % 4 == 0 {
                        None
                    } else {
                        nth(&departments, parent)
                    };
                    let patch = DepartmentPatch {
                        parent_id: Some(target),
                        ..Default::default()
                    };
                    let _ = directory
                        .write(&actor, |s| s.update_department(id, patch))
                        .await;
                }
            }
            Op::RetypeDept { dept, kind } => {
                if let Some(id) = nth(&self.departments(), dept) {
                    let patch = DepartmentPatch {
                        dept_type: Some(DEPT_TYPES[kind].into()),
                        ..Default::default()
                    };
                    let _ = directory
                        .write(&actor, |s| s.update_department(id, patch))
                        .await;
                }
            }
            Op::RenameDept { dept } => {
                if let Some(id) = nth(&self.departments(), dept) {
                    let patch = DepartmentPatch {
                        name: Some(format!("R{step}")),
                        ..Default::default()
                    };
                    let _ = directory
                        .write(&actor, |s| s.update_department(id, patch))
                        .await;
                }
            }
            Op::DeleteDept { dept } => {
                let departments = self.departments();
                if let Some(id) = nth(&departments, dept) {
                    let parent = directory.read().department(id).and_then(|d| d.parent_id);
                    let members_to =
                        parent.or_else(|| departments.iter().copied().find(|d| *d != id));
                    let plan = DeleteDepartment {
                        move_children_to: Some(parent),
                        move_members_to: members_to,
                    };
                    let _ = directory
                        .write(&actor, |s| s.delete_department(id, plan))
                        .await;
                }
            }
            Op::CreateStaff {
                first,
                second,
                kind,
            } => {
                let departments = self.memberships(first, second);
                let _ = directory
                    .write(&actor, |s| {
                        s.create_staff(NewStaff {
                            login: format!("p{step}"),
                            display_name: format!("张{step}"),
                            title: "T".into(),
                            emails: vec![format!("p{step}@x.cn")],
                            phones: vec![format!("+86 100{step:04}")],
                            staff_type: STAFF_TYPES[kind].into(),
                            custom: [("badge".to_owned(), json!(format!("B{step}")))].into(),
                            departments,
                            source: None,
                            ldap: None,
                        })
                    })
                    .await;
            }
            Op::MoveStaff {
                staff,
                first,
                second,
            } => {
                if let Some(id) = nth(&self.staff(), staff) {
                    let patch = StaffPatch {
                        departments: Some(self.memberships(first, second)),
                        ..Default::default()
                    };
                    let _ = directory.write(&actor, |s| s.update_staff(id, patch)).await;
                }
            }
            Op::RetypeStaff { staff, kind } => {
                if let Some(id) = nth(&self.staff(), staff) {
                    let patch = StaffPatch {
                        staff_type: Some(STAFF_TYPES[kind].into()),
                        ..Default::default()
                    };
                    let _ = directory.write(&actor, |s| s.update_staff(id, patch)).await;
                }
            }
            Op::EditStaff { staff } => {
                if let Some(id) = nth(&self.staff(), staff) {
                    let patch = StaffPatch {
                        title: Some(format!("T{step}")),
                        phones: Some(vec![format!("+86 200{step:04}")]),
                        custom: Some([("badge".to_owned(), json!(format!("X{step}")))].into()),
                        ..Default::default()
                    };
                    let _ = directory.write(&actor, |s| s.update_staff(id, patch)).await;
                }
            }
            Op::ToggleStaff { staff } => {
                if let Some(id) = nth(&self.staff(), staff) {
                    let active = directory.read().staff(id).is_some_and(|p| p.is_active());
                    let status = if active {
                        StaffStatus::Disabled
                    } else {
                        StaffStatus::Active
                    };
                    let _ = directory
                        .write(&actor, |s| s.set_status(id, status, DisabledBy::Admin))
                        .await;
                }
            }
            Op::AddAllow { role, pick } => {
                if let (Some(role), Some(object)) = (nth(&self.roles, role), self.object(&pick)) {
                    self.policy(PolicyChange::PutRule(Rule {
                        id: RuleId(uuid::Uuid::now_v7()),
                        role_id: Some(role),
                        effect: Effect::Allow,
                        object,
                        exempt_roles: vec![],
                        description: String::new(),
                    }))
                    .await;
                }
            }
            Op::AddMask {
                role,
                field,
                exempt,
            } => {
                let field = MaskedField::parse(FIELDS[field]).expect("field");
                let role_id = role.and_then(|r| nth(&self.roles, r));
                let exempt_roles = if role_id.is_none() {
                    nth(&self.roles, exempt).into_iter().collect()
                } else {
                    vec![]
                };
                self.policy(PolicyChange::PutRule(Rule {
                    id: RuleId(uuid::Uuid::now_v7()),
                    role_id,
                    effect: Effect::Mask,
                    object: Object::Field(field),
                    exempt_roles,
                    description: String::new(),
                }))
                .await;
            }
            Op::AddDeny { pick, exempt } => {
                if let Some(object) = self.object(&pick)
                    && !matches!(
                        object,
                        Object::All | Object::OwnDepartment | Object::OwnSubtree
                    )
                {
                    self.policy(PolicyChange::PutRule(Rule {
                        id: RuleId(uuid::Uuid::now_v7()),
                        role_id: None,
                        effect: Effect::Deny,
                        object,
                        exempt_roles: nth(&self.roles, exempt).into_iter().collect(),
                        description: String::new(),
                    }))
                    .await;
                }
            }
            Op::DeleteRule { rule } => {
                let rules: Vec<RuleId> = self
                    .state
                    .access
                    .snapshot()
                    .policy
                    .rules
                    .keys()
                    .copied()
                    .collect();
                if let Some(id) = nth(&rules, rule) {
                    self.policy(PolicyChange::DeleteRule(id)).await;
                }
            }
            Op::Assign { role, staff } => {
                if let (Some(role_id), Some(staff)) =
                    (nth(&self.roles, role), nth(&self.staff(), staff))
                {
                    self.policy(PolicyChange::Assign(Assignment {
                        role_id,
                        subject: Subject::Staff(staff),
                    }))
                    .await;
                }
            }
            Op::Unassign { role, staff } => {
                if let (Some(role_id), Some(staff)) =
                    (nth(&self.roles, role), nth(&self.staff(), staff))
                {
                    self.policy(PolicyChange::Unassign(Assignment {
                        role_id,
                        subject: Subject::Staff(staff),
                    }))
                    .await;
                }
            }
            Op::DuplicateRule { rule } => {
                if let Some(original) = nth_of(&self.rules(), rule) {
                    self.policy(PolicyChange::PutRule(Rule {
                        id: RuleId(uuid::Uuid::now_v7()),
                        ..original
                    }))
                    .await;
                }
            }
            Op::CopyRule { rule, from } => {
                let rules = self.rules();
                if let (Some(target), Some(source)) = (nth_of(&rules, rule), nth_of(&rules, from)) {
                    self.policy(PolicyChange::PutRule(Rule {
                        id: target.id,
                        ..source
                    }))
                    .await;
                }
            }
            Op::RetargetRule { rule, pick, field } => {
                if let Some(original) = nth_of(&self.rules(), rule) {
                    let object = match original.effect {
                        Effect::Mask => Some(Object::Field(
                            MaskedField::parse(FIELDS[field]).expect("field"),
                        )),
                        Effect::Allow | Effect::Deny => self.object(&pick),
                    };
                    if let Some(object) = object {
                        self.policy(PolicyChange::PutRule(Rule { object, ..original }))
                            .await;
                    }
                }
            }
            Op::ReplaceRole { role } => {
                if let Some(old) = nth(&self.roles, role) {
                    let new = Role {
                        id: RoleId(uuid::Uuid::now_v7()),
                        name: format!("role at {step}"),
                        description: String::new(),
                        powers: switchboard::auth::Powers::NONE,
                    };
                    let replaced = self
                        .policies(vec![
                            PolicyChange::DeleteRole(old),
                            PolicyChange::PutRole(new.clone()),
                        ])
                        .await;
                    if replaced {
                        let index = role % self.roles.len();
                        self.roles[index] = new.id;
                    }
                }
            }
            Op::AssignGroup { role, group } | Op::UnassignGroup { role, group } => {
                if let Some(role_id) = nth(&self.roles, role) {
                    let assignment = Assignment {
                        role_id,
                        subject: Subject::Group(GROUPS[group].into()),
                    };
                    self.policy(if matches!(op, Op::AssignGroup { .. }) {
                        PolicyChange::Assign(assignment)
                    } else {
                        PolicyChange::Unassign(assignment)
                    })
                    .await;
                }
            }
            Op::SetGroup { group, members } => {
                let staff = self.staff();
                let members = members.iter().filter_map(|m| nth(&staff, *m)).collect();
                self.policy(PolicyChange::SetGroupMembers(GROUPS[group].into(), members))
                    .await;
            }
            Op::Restart => self.restart().await?,
            Op::Compact => switchboard::app::prune_history(
                &self.state.contacts,
                self.state.directory.journal(),
                std::time::Duration::ZERO,
            )
            .await
            .expect("compaction"),
        }
        Ok(())
    }

    /// Checks every person's client and view against the oracle.
    async fn check(&mut self) -> Result<(), TestCaseError> {
        let tables = policy_of_the_tables(&self.state).await?;
        for staff in self.staff() {
            let now = snapshot_map(&self.state, staff);
            let (now_version, now_entries) = now;
            match self.clients.get_mut(&staff) {
                None => {
                    self.clients
                        .insert(staff, (now_version, now_entries.clone()));
                }
                Some((version, entries)) => {
                    let delta = serde_json::to_value(
                        self.state.contacts.delta(staff, Version(*version)).unwrap(),
                    )
                    .unwrap();
                    prop_assert!(delta.get("reset").is_none(), "a reset was served: {delta}");
                    let new_version = delta["version"].as_i64().unwrap();
                    prop_assert!(new_version >= *version, "version went backwards");
                    for change in delta["changes"].as_array().unwrap() {
                        let key = format!(
                            "{}:{}",
                            change["kind"].as_str().unwrap(),
                            change["id"].as_str().unwrap()
                        );
                        match change["op"].as_str().unwrap() {
                            "upsert" => {
                                entries.insert(key, change["data"].clone());
                            }
                            _ => {
                                entries.remove(&key);
                            }
                        }
                    }
                    *version = new_version;
                    prop_assert_eq!(
                        &*entries,
                        &now_entries,
                        "snapshot + deltas != snapshot for {}",
                        staff
                    );
                }
            }
            let expected = oracle(&self.state, &tables, staff).await;
            prop_assert_eq!(&now_entries, &expected, "view != oracle for {}", staff);
        }
        Ok(())
    }
}

fn snapshot_map(state: &AppState, staff: StaffId) -> (i64, BTreeMap<String, Value>) {
    let snapshot = serde_json::to_value(state.contacts.snapshot(staff).unwrap()).unwrap();
    // The served bytes (written without copying) say exactly what the owned snapshot says.
    let (_, _, bytes) = state.contacts.snapshot_json(staff).unwrap();
    let served: Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(
        entries(&served),
        entries(&snapshot),
        "served snapshot bytes differ from the snapshot"
    );
    (snapshot["version"].as_i64().unwrap(), entries(&snapshot))
}

fn entries(snapshot: &Value) -> BTreeMap<String, Value> {
    let mut map = BTreeMap::new();
    for d in snapshot["departments"].as_array().unwrap() {
        map.insert(
            format!("department:{}", d["id"].as_str().unwrap()),
            d.clone(),
        );
    }
    for s in snapshot["staff"].as_array().unwrap() {
        map.insert(format!("staff:{}", s["id"].as_str().unwrap()), s.clone());
    }
    map
}

/// The policy as the stored tables say it is: casbin loaded afresh from them (what a restart
/// would load). The live enforcer must hold exactly the same lines.
async fn policy_of_the_tables(state: &AppState) -> Result<Access, TestCaseError> {
    let tables = Access::load(state.directory.journal().clone(), state.directory.clone())
        .await
        .expect("policy loads from the tables");
    prop_assert_eq!(
        state.access.lines_in_force().await,
        tables.lines_in_force().await,
        "the live casbin policy differs from the tables"
    );
    Ok(tables)
}

/// The naive reference: casbin `enforce` per entry (a person's decision is the OR of their
/// roles' decisions), and the projection written out again.
async fn oracle(state: &AppState, access: &Access, viewer: StaffId) -> BTreeMap<String, Value> {
    let policy = access.snapshot();
    let roles: Vec<String> = policy
        .roles_of(viewer)
        .iter()
        .map(|r| role_subject(*r))
        .collect();
    let ask = |object: String, action: String| {
        let roles = roles.clone();
        async move {
            for role in &roles {
                if access.enforce(role, &object, &action).await.unwrap() {
                    return true;
                }
            }
            false
        }
    };
    let see = |object: String| ask(object, "see".into());
    let (departments, people) = {
        let replica = state.directory.read();
        let departments: Vec<_> = replica
            .departments()
            .map(|d| (d.as_ref().clone(), replica.ancestors_and_self(d.id)))
            .collect();
        let people: Vec<_> = replica.all_staff().map(|s| s.as_ref().clone()).collect();
        (departments, people)
    };
    let own: BTreeSet<DepartmentId> = people
        .iter()
        .find(|p| p.id == viewer)
        .map(|p| p.memberships.iter().map(|m| m.department_id).collect())
        .unwrap_or_default();
    let denies: Vec<&Rule> = policy
        .policy
        .rules
        .values()
        .filter(|r| r.effect == Effect::Deny)
        .collect();
    let mut applicable_denies = Vec::new();
    for rule in denies {
        if !ask(rule.object.to_string(), format!("exempt:{}", rule.id)).await {
            applicable_denies.push(rule.object.clone());
        }
    }
    let all = see("all".into()).await;

    let mut visible_departments = BTreeSet::new();
    for (d, path) in &departments {
        let mut granted = all
            || see(format!("dept_type:{}", d.dept_type)).await
            || see(format!("department:{}", d.id)).await
            || (own.contains(&d.id) && see("own_department".into()).await);
        for a in path {
            granted = granted
                || see(format!("subtree:{a}")).await
                || (own.contains(a) && see("own_subtree".into()).await);
        }
        let denied = applicable_denies.iter().any(|o| match o {
            Object::Department(id) => *id == d.id,
            Object::Subtree(id) => path.contains(id),
            Object::DeptType(t) => *t == d.dept_type,
            _ => false,
        });
        if granted && !denied {
            visible_departments.insert(d.id);
        }
    }

    // Masks: role-level ones hold when every granting role masks the field; global ones hold
    // unless the viewer is exempt.
    let roles = policy.roles_of(viewer);
    let objects: BTreeSet<String> = policy
        .policy
        .rules
        .values()
        .map(|r| r.object.to_string())
        .collect();
    let mut granting = Vec::new();
    for role in &roles {
        let mut grants = false;
        for object in &objects {
            grants |= access
                .enforce(&role_subject(*role), object, "see")
                .await
                .unwrap();
        }
        if grants {
            granting.push(*role);
        }
    }
    let mut masked = BTreeSet::new();
    for field in FIELDS {
        let object = format!("field:{field}");
        let mut role_masked = !granting.is_empty();
        for role in &granting {
            role_masked &= access
                .enforce(&role_subject(*role), &object, "mask")
                .await
                .unwrap();
        }
        let mut global_masked = false;
        for rule in policy.policy.rules.values() {
            if rule.effect == Effect::Mask
                && rule.role_id.is_none()
                && rule.object.to_string() == object
            {
                global_masked |= !ask(object.clone(), format!("unmask:{}", rule.id)).await;
            }
        }
        if role_masked || global_masked {
            masked.insert(field);
        }
    }
    let custom_visible = |key: &str| {
        !masked.contains("custom.*") && !masked.contains(format!("custom.{key}").as_str())
    };

    let mut out = BTreeMap::new();
    for (d, path) in &departments {
        if !visible_departments.contains(&d.id) {
            continue;
        }
        let parent = path
            .iter()
            .skip(1)
            .find(|a| visible_departments.contains(a));
        let custom: serde_json::Map<String, Value> = d
            .custom
            .iter()
            .filter(|(k, _)| custom_visible(k))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        out.insert(
            format!("department:{}", d.id),
            json!({"id": d.id, "parent_id": parent, "name": d.name, "dept_type": d.dept_type,
                   "order_key": d.order_key, "custom": custom}),
        );
    }
    for p in &people {
        let denied = applicable_denies.iter().any(|o| match o {
            Object::Staff(id) => *id == p.id,
            Object::StaffType(t) => *t == p.staff_type,
            _ => false,
        });
        let granted = all
            || see(format!("staff_type:{}", p.staff_type)).await
            || see(format!("staff:{}", p.id)).await
            || p.memberships
                .iter()
                .any(|m| visible_departments.contains(&m.department_id));
        if !p.is_active() || denied || !granted {
            continue;
        }
        let mut value = json!({
            "id": p.id, "login": p.login, "display_name": p.display_name, "pinyin_full": p.pinyin_full,
            "pinyin_initials": p.pinyin_initials, "staff_type": p.staff_type,
            "custom": p.custom.iter().filter(|(k, _)| custom_visible(k)).map(|(k, v)| (k.clone(), v.clone())).collect::<serde_json::Map<_, _>>(),
            "departments": p.memberships.iter().filter(|m| visible_departments.contains(&m.department_id))
                .map(|m| json!({"department_id": m.department_id, "order_key": m.order_key, "primary": m.primary})).collect::<Vec<_>>(),
        });
        for (field, data) in [
            ("title", json!(p.title)),
            ("emails", json!(p.emails)),
            ("phones", json!(p.phones)),
        ] {
            if !masked.contains(field) {
                value[field] = data;
            }
        }
        out.insert(format!("staff:{}", p.id), value);
    }
    out
}

async fn setup(backend: Backend, seed: &[usize]) -> World {
    let storage = Storage::new(backend).await;
    let application = Application::build(storage.config(false))
        .await
        .expect("build");
    let state = application.state().clone();
    let actor = Actor::new("proptest", Source::Api);
    for (entity, key) in [
        (FieldEntity::Staff, "badge"),
        (FieldEntity::Department, "cc"),
    ] {
        state
            .directory
            .define_field(
                &actor,
                FieldDefinition {
                    entity,
                    key: key.into(),
                    label: key.into(),
                    field_type: FieldType::Text,
                    required: false,
                    choices: vec![],
                },
            )
            .await
            .unwrap();
    }
    let roles: Vec<Role> = (0..3)
        .map(|i| Role {
            id: RoleId(uuid::Uuid::now_v7()),
            name: format!("role{i}"),
            description: String::new(),
            powers: switchboard::auth::Powers::NONE,
        })
        .collect();
    state
        .access
        .apply(
            &actor,
            roles.iter().cloned().map(PolicyChange::PutRole).collect(),
        )
        .await
        .unwrap();
    let mut world = World {
        storage,
        state,
        roles: roles.iter().map(|r| r.id).collect(),
        actor,
        clients: HashMap::new(),
    };
    // A small starting company: a root, three departments, five people with roles and rules.
    for (i, op) in [
        Op::CreateDept { parent: 0, kind: 0 },
        Op::CreateDept { parent: 0, kind: 1 },
        Op::CreateDept { parent: 1, kind: 2 },
        Op::CreateDept {
            parent: 0,
            kind: seed.first().copied().unwrap_or(0) % 3,
        },
    ]
    .iter()
    .enumerate()
    {
        world.apply(op, 1000 + i).await.expect("setup");
    }
    for i in 0..5 {
        let op = Op::CreateStaff {
            first: seed.get(i).copied().unwrap_or(i),
            second: (i % 2 == 0).then_some(i + 1),
            kind: i % 3,
        };
        world.apply(&op, 2000 + i).await.expect("setup");
        world
            .apply(
                &Op::Assign {
                    role: seed.get(i + 5).copied().unwrap_or(i),
                    staff: i,
                },
                3000 + i,
            )
            .await
            .expect("setup");
    }
    world
        .apply(
            &Op::AddAllow {
                role: 0,
                pick: Pick::All,
            },
            4000,
        )
        .await
        .expect("setup");
    world
        .apply(
            &Op::AddAllow {
                role: 1,
                pick: Pick::DeptType(0),
            },
            4001,
        )
        .await
        .expect("setup");
    world
        .apply(
            &Op::AddAllow {
                role: 2,
                pick: Pick::OwnSubtree,
            },
            4002,
        )
        .await
        .expect("setup");
    world
}

/// One property case: a random company, random edits, the invariants checked after each.
fn run_case(backend: Backend, seed: &[usize], ops: &[Op]) -> Result<(), TestCaseError> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let mut world = setup(backend, seed).await;
        world.check().await?;
        for (step, op) in ops.iter().enumerate() {
            world.apply(op, step).await?;
            world.check().await?;
        }
        Ok::<(), TestCaseError>(())
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, max_shrink_iters: 200, .. ProptestConfig::default() })]

    #[test]
    fn deltas_replay_to_snapshots_and_views_match_the_oracle(
        seed in proptest::collection::vec(any::<usize>(), 10),
        ops in proptest::collection::vec(op(), 1..28),
    ) {
        run_case(Backend::Sqlite, &seed, &ops)?;
    }
}

// The same properties on PostgreSQL, with fewer cases: each one is a fresh database.
proptest! {
    #![proptest_config(ProptestConfig { cases: 12, max_shrink_iters: 100, .. ProptestConfig::default() })]

    #[test]
    fn on_postgres_deltas_replay_to_snapshots_and_views_match_the_oracle(
        seed in proptest::collection::vec(any::<usize>(), 10),
        ops in proptest::collection::vec(op(), 1..28),
    ) {
        run_case(Backend::Postgres, &seed, &ops)?;
    }
}
