//! The access service: journaled policy edits, the casbin enforcer kept in step with them,
//! and the snapshot every reader uses.

use crate::locks::RwLockExt;
use std::{
    collections::{BTreeSet, HashSet},
    sync::{Arc, RwLock},
};

use casbin::{CoreApi, DefaultModel, Enforcer, MgmtApi};

use super::{
    AccessError,
    adapter::TableAdapter,
    model::{Assignment, Role, RoleId, Rule, RuleId},
    plan::Effects,
    policy::{CasbinLine, Policy},
    profile::ClassProfile,
    snapshot::PolicySnapshot,
    store,
};
use crate::{
    directory::{Directory, Replica, StaffId},
    store::{Actor, Journal, Version},
};

/// The casbin model (`policies/model.conf`), compiled in.
pub const MODEL: &str = include_str!("../../policies/model.conf");

/// Told of every policy commit, in version order, while the writer lock is held.
pub trait PolicyListener: Send + Sync {
    fn policy_changed(
        &self,
        version: Version,
        old: &PolicySnapshot,
        new: &PolicySnapshot,
        replica: &Replica,
    );
}

/// One edit of the policy.
#[derive(Debug, Clone)]
pub enum PolicyChange {
    /// Create or update a role.
    PutRole(Role),
    /// Delete a role with its rules and assignments.
    DeleteRole(RoleId),
    /// Create or update a rule.
    PutRule(Rule),
    DeleteRule(RuleId),
    Assign(Assignment),
    Unassign(Assignment),
    /// Replace the members of an LDAP group.
    SetGroupMembers(String, BTreeSet<StaffId>),
}

/// The access service.
pub struct Access {
    journal: Arc<Journal>,
    pub(super) directory: Arc<Directory>,
    enforcer: tokio::sync::Mutex<Enforcer>,
    snapshot: RwLock<Arc<PolicySnapshot>>,
    listeners: RwLock<Vec<Arc<dyn PolicyListener>>>,
}

/// Whether a viewer with `profile` and own departments `own` sees anything at all.
pub fn sees_anything(
    profile: &ClassProfile,
    own: &BTreeSet<crate::directory::DepartmentId>,
    replica: &Replica,
) -> bool {
    let mut visible = std::collections::HashMap::new();
    for department in replica.departments() {
        let v = profile.department_visible(own, department, replica);
        if v {
            return true;
        }
        visible.insert(department.id, v);
    }
    replica
        .all_staff()
        .any(|s| profile.staff_visible(s, |d| visible.get(&d).copied().unwrap_or(false)))
}

/// The departments of a person, as view classes use them.
pub fn own_departments(
    replica: &Replica,
    staff: StaffId,
) -> BTreeSet<crate::directory::DepartmentId> {
    replica
        .staff(staff)
        .map(|s| s.memberships.iter().map(|m| m.department_id).collect())
        .unwrap_or_default()
}

impl Access {
    /// Loads the policy from our tables into casbin.
    pub async fn load(
        journal: Arc<Journal>,
        directory: Arc<Directory>,
    ) -> Result<Self, AccessError> {
        let policy = store::load(journal.db()).await?;
        let model = DefaultModel::from_str(MODEL).await?;
        let mut enforcer =
            Enforcer::new(model, TableAdapter::new(Arc::new(policy.clone()))).await?;
        enforcer.enable_auto_save(false);
        let snapshot = PolicySnapshot::build(policy, &enforcer)?;
        Ok(Self {
            journal,
            directory,
            enforcer: tokio::sync::Mutex::new(enforcer),
            snapshot: RwLock::new(Arc::new(snapshot)),
            listeners: RwLock::new(Vec::new()),
        })
    }

    pub fn subscribe(&self, listener: Arc<dyn PolicyListener>) {
        self.listeners.write_or_recover().push(listener);
    }

    /// The policy in force.
    pub fn snapshot(&self) -> Arc<PolicySnapshot> {
        self.snapshot.read_or_recover().clone()
    }

    /// Asks casbin one question (used by the test oracle and diagnostics, never per entry on
    /// a serving path).
    pub async fn enforce(
        &self,
        subject: &str,
        object: &str,
        action: &str,
    ) -> Result<bool, AccessError> {
        Ok(self
            .enforcer
            .lock()
            .await
            .enforce((subject, object, action))?)
    }

    /// Every line the enforcer holds, `p` and `g` (diagnostics and tests: after any sequence
    /// of edits, these are the lines of the stored policy, as a fresh `load` would have them).
    pub async fn lines_in_force(&self) -> BTreeSet<(String, Vec<String>)> {
        let enforcer = self.enforcer.lock().await;
        let policies = enforcer
            .get_policy()
            .into_iter()
            .map(|l| ("p".to_owned(), l));
        let groupings = enforcer
            .get_grouping_policy()
            .into_iter()
            .map(|l| ("g".to_owned(), l));
        policies.chain(groupings).collect()
    }

    /// Applies policy edits as one journaled transaction.
    pub async fn apply(
        &self,
        actor: &Actor,
        changes: Vec<PolicyChange>,
    ) -> Result<Version, AccessError> {
        let mut txn = self.journal.begin(actor).await?;
        let old = self.snapshot();
        let mut candidate = old.policy.clone();
        let mut effects = Effects::default();
        for change in &changes {
            self.plan(&mut candidate, change, &mut effects)?;
        }

        let (removed, added) = Policy::line_changes(&old.policy, &candidate);
        let mut enforcer = self.enforcer.lock().await;
        apply_lines(&mut enforcer, &removed, &added).await?;
        let outcome = self
            .check_and_persist(&txn, &old, candidate, &enforcer, &effects, &changes)
            .await;
        let new = match outcome {
            Ok(new) => new,
            Err(error) => {
                apply_lines(&mut enforcer, &added, &removed).await?;
                return Err(error);
            }
        };
        for (kind, id, op) in &effects.journal {
            txn.record_change(*kind, *id, *op);
        }
        for entry in effects.audit.drain(..) {
            txn.audit(entry);
        }
        let new = Arc::new(new);
        let committed = txn
            .commit(|version| {
                *self.snapshot.write_or_recover() = new.clone();
                let replica = self.directory.read();
                for listener in self.listeners.read_or_recover().iter() {
                    listener.policy_changed(version, &old, &new, &replica);
                }
                version
            })
            .await;
        match committed {
            Ok(version) => Ok(version),
            Err(error) => {
                apply_lines(&mut enforcer, &added, &removed).await?;
                Err(error.into())
            }
        }
    }

    /// What `apply` would make of the policy, without storing or enforcing anything: the same
    /// planning and checks (a refusal is the error `apply` would give), with the profiles read
    /// from a scratch enforcer loaded with the candidate policy. Returns the policy in force
    /// and the candidate, for `Contacts::policy_effect`.
    pub async fn dry_run(
        &self,
        changes: &[PolicyChange],
    ) -> Result<(Arc<PolicySnapshot>, PolicySnapshot), AccessError> {
        let old = self.snapshot();
        let mut candidate = old.policy.clone();
        let mut effects = Effects::default();
        for change in changes {
            self.plan(&mut candidate, change, &mut effects)?;
        }
        let model = DefaultModel::from_str(MODEL).await?;
        let mut scratch =
            Enforcer::new(model, TableAdapter::new(Arc::new(candidate.clone()))).await?;
        scratch.enable_auto_save(false);
        let new = old.rebuild(
            candidate,
            &scratch,
            Some(&effects.touched_roles),
            effects.holders_changed,
        )?;
        self.refuse_blinding_admins(&old, &new)?;
        Ok((old, new))
    }

    async fn check_and_persist(
        &self,
        txn: &crate::store::WriteTxn<'_>,
        old: &PolicySnapshot,
        candidate: Policy,
        enforcer: &Enforcer,
        effects: &Effects,
        changes: &[PolicyChange],
    ) -> Result<PolicySnapshot, AccessError> {
        let touched = (!effects.touched_roles.is_empty()).then_some(&effects.touched_roles);
        let new = old.rebuild(
            candidate,
            enforcer,
            touched.or(Some(&BTreeSet::new())),
            effects.holders_changed,
        )?;
        self.refuse_blinding_admins(old, &new)?;
        let db = txn.txn();
        for change in changes {
            match change {
                PolicyChange::PutRole(role) => store::save_role(db, role).await?,
                PolicyChange::DeleteRole(id) => {
                    for rule in old.policy.rules.values().filter(|r| r.role_id == Some(*id)) {
                        store::delete_rule(db, rule.id).await?;
                    }
                    for rule in new.policy.rules.values() {
                        if old
                            .policy
                            .rules
                            .get(&rule.id)
                            .is_some_and(|o| o.exempt_roles != rule.exempt_roles)
                        {
                            store::save_rule(db, rule).await?;
                        }
                    }
                    store::remove_role_assignments(db, *id).await?;
                    store::delete_role(db, *id).await?;
                }
                PolicyChange::PutRule(rule) => store::save_rule(db, rule).await?,
                PolicyChange::DeleteRule(id) => store::delete_rule(db, *id).await?,
                PolicyChange::Assign(a) => {
                    store::add_assignments(db, std::slice::from_ref(a)).await?
                }
                PolicyChange::Unassign(a) => store::remove_assignment(db, a).await?,
                PolicyChange::SetGroupMembers(group, members) => {
                    store::replace_group_members(db, group, members).await?
                }
            }
        }
        Ok(new)
    }

    /// Refuses a change after which no admin sees anything, when some admin did before.
    fn refuse_blinding_admins(
        &self,
        old: &PolicySnapshot,
        new: &PolicySnapshot,
    ) -> Result<(), AccessError> {
        let replica = self.directory.read();
        let admins_of = |snapshot: &PolicySnapshot| -> Vec<StaffId> {
            snapshot
                .staff_roles
                .keys()
                .copied()
                .filter(|s| {
                    snapshot.is_admin(*s) && replica.staff(*s).is_some_and(|p| p.is_active())
                })
                .collect()
        };
        let any_sees = |snapshot: &PolicySnapshot, admins: &[StaffId]| {
            let mut checked = HashSet::new();
            admins.iter().any(|staff| {
                let profile = snapshot.class_profile(&snapshot.roles_of(*staff));
                let own = if profile.grants.uses_own() {
                    own_departments(&replica, *staff)
                } else {
                    BTreeSet::new()
                };
                checked.insert((profile.roles.clone(), own.clone()))
                    && sees_anything(&profile, &own, &replica)
            })
        };
        let before = admins_of(old);
        if before.is_empty() || !any_sees(old, &before) {
            return Ok(());
        }
        let after = admins_of(new);
        if after.is_empty() || !any_sees(new, &after) {
            return Err(AccessError::Conflict(
                "refused: after this change no administrator could see any part of the directory"
                    .into(),
            ));
        }
        Ok(())
    }
}

impl crate::auth::AdminLookup for Access {
    fn powers(&self, staff: StaffId) -> crate::auth::Powers {
        self.snapshot().powers(staff)
    }
}

async fn apply_lines(
    enforcer: &mut Enforcer,
    remove: &[CasbinLine],
    add: &[CasbinLine],
) -> Result<(), AccessError> {
    for (section, line) in remove {
        if *section == "p" {
            enforcer.remove_policy(line.clone()).await?;
        } else {
            enforcer.remove_grouping_policy(line.clone()).await?;
        }
    }
    for (section, line) in add {
        if *section == "p" {
            enforcer.add_policy(line.clone()).await?;
        } else {
            enforcer.add_grouping_policy(line.clone()).await?;
        }
    }
    Ok(())
}
