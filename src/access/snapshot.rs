//! An immutable picture of the policy with everything derived from it: per-role profiles
//! (read from casbin), who holds which roles, denies and global masks. Readers share it by
//! `Arc`; a policy change builds the next one.

use std::{
    collections::{BTreeSet, HashMap},
    sync::Arc,
};

use casbin::{Enforcer, RbacApi};

use super::{
    AccessError,
    model::{Object, RoleId, RuleId, role_subject},
    policy::Policy,
    profile::{ClassProfile, Deny, GlobalMask, RoleProfile},
};
use crate::directory::StaffId;

/// The policy in force and what follows from it.
#[derive(Debug, Clone, Default)]
pub struct PolicySnapshot {
    pub policy: Policy,
    pub role_profiles: HashMap<RoleId, RoleProfile>,
    pub staff_roles: Arc<HashMap<StaffId, BTreeSet<RoleId>>>,
    pub denies: Vec<Deny>,
    pub global_masks: Vec<GlobalMask>,
}

/// Asks casbin what one role may do: its implicit permissions (inherited ones included).
/// Called per role, never per directory entry. (Confirming each with `enforce` would walk every
/// policy line through the matcher once more: 7 ms per role at 200 roles, for nothing.)
pub fn role_profile(
    enforcer: &Enforcer,
    policy: &Policy,
    role: RoleId,
) -> Result<RoleProfile, AccessError> {
    let subject = role_subject(role);
    let mut profile = RoleProfile {
        powers: policy
            .roles
            .get(&role)
            .map_or(crate::auth::Powers::NONE, |r| r.powers),
        ..Default::default()
    };
    for permission in enforcer.get_implicit_permissions_for_user(&subject, None) {
        let [_, object, action] = permission.as_slice() else {
            continue;
        };
        let Ok(parsed) = Object::parse(object) else {
            continue;
        };
        match (action.as_str(), &parsed) {
            ("see", _) => profile.grants.add(&parsed),
            ("mask", Object::Field(field)) => {
                profile.masks.insert(field.clone());
            }
            (other, _) => {
                let rule = other
                    .strip_prefix("exempt:")
                    .or_else(|| other.strip_prefix("unmask:"))
                    .and_then(|id| id.parse().ok());
                if let Some(rule) = rule {
                    profile.exempt_from.insert(RuleId(rule));
                }
            }
        }
    }
    Ok(profile)
}

impl PolicySnapshot {
    /// Derives everything from a policy and an enforcer loaded with it.
    pub fn build(policy: Policy, enforcer: &Enforcer) -> Result<Self, AccessError> {
        let mut role_profiles = HashMap::new();
        for role in policy.roles.keys() {
            role_profiles.insert(*role, role_profile(enforcer, &policy, *role)?);
        }
        Ok(Self {
            staff_roles: Arc::new(policy.staff_roles()),
            denies: policy.denies(),
            global_masks: policy.global_masks(),
            role_profiles,
            policy,
        })
    }

    /// The next snapshot after a change: profiles are recomputed only for `touched_roles`
    /// (all roles when `None`), who-holds-what only when assignments or groups changed.
    pub fn rebuild(
        &self,
        policy: Policy,
        enforcer: &Enforcer,
        touched_roles: Option<&BTreeSet<RoleId>>,
        holders_changed: bool,
    ) -> Result<Self, AccessError> {
        let mut role_profiles = HashMap::with_capacity(policy.roles.len());
        for role in policy.roles.keys() {
            let stale = touched_roles.is_none_or(|t| t.contains(role));
            let profile = match (stale, self.role_profiles.get(role)) {
                (false, Some(existing)) => existing.clone(),
                _ => role_profile(enforcer, &policy, *role)?,
            };
            role_profiles.insert(*role, profile);
        }
        Ok(Self {
            staff_roles: if holders_changed {
                Arc::new(policy.staff_roles())
            } else {
                self.staff_roles.clone()
            },
            denies: policy.denies(),
            global_masks: policy.global_masks(),
            role_profiles,
            policy,
        })
    }

    /// The roles a person holds (directly and through LDAP groups).
    pub fn roles_of(&self, staff: StaffId) -> BTreeSet<RoleId> {
        self.staff_roles.get(&staff).cloned().unwrap_or_default()
    }

    /// What holders of exactly `roles` may see.
    pub fn class_profile(&self, roles: &BTreeSet<RoleId>) -> ClassProfile {
        ClassProfile::combine(
            roles,
            |r| self.role_profiles.get(&r),
            &self.denies,
            &self.global_masks,
        )
    }

    /// The admin powers a person holds through their roles.
    pub fn powers(&self, staff: StaffId) -> crate::auth::Powers {
        self.staff_roles
            .get(&staff)
            .into_iter()
            .flatten()
            .filter_map(|r| self.role_profiles.get(r))
            .fold(crate::auth::Powers::NONE, |all, p| all.union(p.powers))
    }

    /// Whether a person holds any admin power.
    pub fn is_admin(&self, staff: StaffId) -> bool {
        self.powers(staff).any()
    }

    /// Rules that name a department type, staff type, department or person that does not exist.
    pub fn dangling_references(&self, replica: &crate::directory::Replica) -> Vec<String> {
        let dept_types: std::collections::HashSet<&str> = replica
            .departments()
            .map(|d| d.dept_type.as_str())
            .collect();
        let staff_types: std::collections::HashSet<&str> =
            replica.all_staff().map(|s| s.staff_type.as_str()).collect();
        let mut out = Vec::new();
        for rule in self.policy.rules.values() {
            let problem = match &rule.object {
                Object::DeptType(t) if !dept_types.contains(t.as_str()) => {
                    Some(format!("no department has type '{t}'"))
                }
                Object::StaffType(t) if !staff_types.contains(t.as_str()) => {
                    Some(format!("nobody has staff type '{t}'"))
                }
                Object::Subtree(id) | Object::Department(id)
                    if replica.department(*id).is_none() =>
                {
                    Some(format!("department {id} does not exist"))
                }
                Object::Staff(id) if replica.staff(*id).is_none() => {
                    Some(format!("staff {id} does not exist"))
                }
                _ => None,
            };
            if let Some(problem) = problem {
                out.push(format!(
                    "rule {} ({} {}): {problem}",
                    rule.id,
                    rule.effect.as_str(),
                    rule.object
                ));
            }
        }
        out
    }
}
