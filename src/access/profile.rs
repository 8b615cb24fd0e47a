//! What a set of roles may see, worked out once per role from casbin, and the evaluation of
//! single departments and people against it. This is the one definition of "visible" that
//! snapshots, deltas, search and the test oracle share (see docs/api.md).

use std::collections::{BTreeSet, HashSet};

use super::model::{MaskedField, Object, RoleId, RuleId};
use crate::directory::{Department, DepartmentId, Replica, Staff, StaffId};

/// Everything the allow rules of some roles grant.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Grants {
    pub all: bool,
    pub dept_types: BTreeSet<String>,
    pub subtrees: BTreeSet<DepartmentId>,
    pub departments: BTreeSet<DepartmentId>,
    pub own_department: bool,
    pub own_subtree: bool,
    pub staff_types: BTreeSet<String>,
    pub staff: BTreeSet<StaffId>,
}

impl Grants {
    pub fn add(&mut self, object: &Object) {
        match object {
            Object::All => self.all = true,
            Object::DeptType(t) => {
                self.dept_types.insert(t.clone());
            }
            Object::Subtree(id) => {
                self.subtrees.insert(*id);
            }
            Object::Department(id) => {
                self.departments.insert(*id);
            }
            Object::OwnDepartment => self.own_department = true,
            Object::OwnSubtree => self.own_subtree = true,
            Object::StaffType(t) => {
                self.staff_types.insert(t.clone());
            }
            Object::Staff(id) => {
                self.staff.insert(*id);
            }
            Object::Field(_) => {}
        }
    }

    pub fn union(&mut self, other: &Grants) {
        self.all |= other.all;
        self.dept_types.extend(other.dept_types.iter().cloned());
        self.subtrees.extend(other.subtrees.iter().copied());
        self.departments.extend(other.departments.iter().copied());
        self.own_department |= other.own_department;
        self.own_subtree |= other.own_subtree;
        self.staff_types.extend(other.staff_types.iter().cloned());
        self.staff.extend(other.staff.iter().copied());
    }

    pub fn is_empty(&self) -> bool {
        *self == Grants::default()
    }

    /// Whether what is visible depends on the viewer's own departments.
    pub fn uses_own(&self) -> bool {
        self.own_department || self.own_subtree
    }
}

/// One role's permissions as casbin reports them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RoleProfile {
    pub grants: Grants,
    /// Role-level masks.
    pub masks: BTreeSet<MaskedField>,
    /// Deny rules and global masks this role is exempt from.
    pub exempt_from: BTreeSet<RuleId>,
    pub powers: crate::auth::Powers,
}

/// A deny rule, as it applies to whoever is not exempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deny {
    pub rule: RuleId,
    pub object: Object,
}

/// A global mask rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GlobalMask {
    pub rule: RuleId,
    pub field: MaskedField,
}

/// Fields removed from what a viewer receives.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Masks(pub BTreeSet<MaskedField>);

impl Masks {
    pub fn hides(&self, field: &MaskedField) -> bool {
        self.0.contains(field)
    }
    /// Whether custom field `key` is hidden.
    pub fn hides_custom(&self, key: &str) -> bool {
        self.0.contains(&MaskedField::AllCustom)
            || self.0.contains(&MaskedField::Custom(key.to_owned()))
    }
}

/// What the holders of one role set may see: the inputs of a view class.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClassProfile {
    pub roles: BTreeSet<RoleId>,
    pub grants: Grants,
    pub denies: Vec<Deny>,
    pub masks: Masks,
}

impl ClassProfile {
    /// Combines role profiles: grants add up; a role-level mask holds only if every role that
    /// grants something masks the field; a deny or global mask holds unless some role is exempt.
    pub fn combine<'a>(
        roles: &BTreeSet<RoleId>,
        profile_of: impl Fn(RoleId) -> Option<&'a RoleProfile>,
        denies: &[Deny],
        global_masks: &[GlobalMask],
    ) -> Self {
        let profiles: Vec<&RoleProfile> = roles.iter().filter_map(|r| profile_of(*r)).collect();
        let mut grants = Grants::default();
        for p in &profiles {
            grants.union(&p.grants);
        }
        let exempt: HashSet<RuleId> = profiles
            .iter()
            .flat_map(|p| p.exempt_from.iter().copied())
            .collect();
        let granting: Vec<&&RoleProfile> =
            profiles.iter().filter(|p| !p.grants.is_empty()).collect();
        let mut masks: BTreeSet<MaskedField> = match granting.split_first() {
            None => BTreeSet::new(),
            Some((first, rest)) => first
                .masks
                .iter()
                .filter(|m| rest.iter().all(|p| p.masks.contains(m)))
                .cloned()
                .collect(),
        };
        masks.extend(
            global_masks
                .iter()
                .filter(|g| !exempt.contains(&g.rule))
                .map(|g| g.field.clone()),
        );
        Self {
            roles: roles.clone(),
            grants,
            denies: denies
                .iter()
                .filter(|d| !exempt.contains(&d.rule))
                .cloned()
                .collect(),
            masks: Masks(masks),
        }
    }

    /// Whether a department is in the view of a viewer with this profile whose own departments
    /// are `own`.
    pub fn department_visible(
        &self,
        own: &BTreeSet<DepartmentId>,
        department: &Department,
        replica: &Replica,
    ) -> bool {
        let g = &self.grants;
        let path = replica.ancestors_and_self(department.id);
        let granted = g.all
            || g.dept_types.contains(&department.dept_type)
            || g.departments.contains(&department.id)
            || (g.own_department && own.contains(&department.id))
            || path
                .iter()
                .any(|a| g.subtrees.contains(a) || (g.own_subtree && own.contains(a)));
        granted
            && !self.denies.iter().any(|d| match &d.object {
                Object::Department(id) => *id == department.id,
                Object::Subtree(id) => path.contains(id),
                Object::DeptType(t) => *t == department.dept_type,
                _ => false,
            })
    }

    /// Whether a person is in the view, given which departments are.
    pub fn staff_visible(
        &self,
        person: &Staff,
        department_visible: impl Fn(DepartmentId) -> bool,
    ) -> bool {
        let g = &self.grants;
        person.is_active()
            && !self.denies.iter().any(|d| match &d.object {
                Object::Staff(id) => *id == person.id,
                Object::StaffType(t) => *t == person.staff_type,
                _ => false,
            })
            && (g.all
                || g.staff_types.contains(&person.staff_type)
                || g.staff.contains(&person.id)
                || person
                    .memberships
                    .iter()
                    .any(|m| department_visible(m.department_id)))
    }
}
