//! The policy as stored: roles, rules, assignments and LDAP group members, with the casbin
//! lines they stand for.

use std::{
    collections::{BTreeMap, BTreeSet, HashMap},
    sync::Arc,
};

use super::{
    model::{Assignment, Effect, Object, Role, RoleId, Rule, RuleId, Subject, role_subject},
    profile::{Deny, GlobalMask},
};
use crate::directory::StaffId;

/// Everything the access module stores.
#[derive(Debug, Clone, Default)]
pub struct Policy {
    pub roles: BTreeMap<RoleId, Role>,
    pub rules: BTreeMap<RuleId, Rule>,
    /// Shared between snapshots until changed (there is one per person and role).
    pub assignments: Arc<BTreeSet<Assignment>>,
    /// LDAP group DN (lower case) → members.
    pub group_members: Arc<BTreeMap<String, BTreeSet<StaffId>>>,
}

/// One casbin policy line: section (`p`/`g`) and its fields.
pub type CasbinLine = (&'static str, Vec<String>);

impl Policy {
    /// The casbin lines of one rule.
    pub fn rule_lines(rule: &Rule) -> Vec<CasbinLine> {
        let object = rule.object.to_string();
        match (rule.effect, rule.role_id) {
            (Effect::Allow, Some(role)) => {
                vec![("p", vec![role_subject(role), object, "see".into()])]
            }
            (Effect::Mask, Some(role)) => {
                vec![("p", vec![role_subject(role), object, "mask".into()])]
            }
            (Effect::Deny, _) => rule
                .exempt_roles
                .iter()
                .map(|r| {
                    (
                        "p",
                        vec![
                            role_subject(*r),
                            object.clone(),
                            format!("exempt:{}", rule.id),
                        ],
                    )
                })
                .collect(),
            (Effect::Mask, None) => rule
                .exempt_roles
                .iter()
                .map(|r| {
                    (
                        "p",
                        vec![
                            role_subject(*r),
                            object.clone(),
                            format!("unmask:{}", rule.id),
                        ],
                    )
                })
                .collect(),
            (Effect::Allow, None) => Vec::new(),
        }
    }

    /// The casbin line of one assignment. Only group → role links live in casbin: who holds
    /// which role person by person (100,000 links that change with every hire and LDAP sync)
    /// is resolved from our own tables by `staff_roles`; in casbin's role manager those links
    /// cost ~100 MB and seconds to load at 100,000 people, and no decision needs them.
    pub fn assignment_line(assignment: &Assignment) -> Option<CasbinLine> {
        match &assignment.subject {
            Subject::Group(_) => Some((
                "g",
                vec![
                    assignment.subject.casbin_name(),
                    role_subject(assignment.role_id),
                ],
            )),
            Subject::Staff(_) => None,
        }
    }

    /// Every casbin line of the policy.
    pub fn casbin_lines(&self) -> Vec<CasbinLine> {
        let mut lines: Vec<CasbinLine> = self.rules.values().flat_map(Self::rule_lines).collect();
        lines.extend(self.assignments.iter().filter_map(Self::assignment_line));
        lines
    }

    /// Deny rules (they apply to everyone not exempt).
    pub fn denies(&self) -> Vec<Deny> {
        self.rules
            .values()
            .filter(|r| r.effect == Effect::Deny)
            .map(|r| Deny {
                rule: r.id,
                object: r.object.clone(),
            })
            .collect()
    }

    /// Global masks (mask rules without a role).
    pub fn global_masks(&self) -> Vec<GlobalMask> {
        self.rules
            .values()
            .filter(|r| r.effect == Effect::Mask && r.role_id.is_none())
            .filter_map(|r| match &r.object {
                Object::Field(field) => Some(GlobalMask {
                    rule: r.id,
                    field: field.clone(),
                }),
                _ => None,
            })
            .collect()
    }

    /// Roles of every person who holds at least one (directly or through a group).
    pub fn staff_roles(&self) -> HashMap<StaffId, BTreeSet<RoleId>> {
        let mut group_roles: HashMap<&str, Vec<RoleId>> = HashMap::new();
        let mut out: HashMap<StaffId, BTreeSet<RoleId>> = HashMap::new();
        for a in self.assignments.iter() {
            match &a.subject {
                Subject::Staff(s) => {
                    out.entry(*s).or_default().insert(a.role_id);
                }
                Subject::Group(g) => group_roles.entry(g.as_str()).or_default().push(a.role_id),
            }
        }
        for (group, roles) in group_roles {
            for member in self.group_members.get(group).into_iter().flatten() {
                out.entry(*member)
                    .or_default()
                    .extend(roles.iter().copied());
            }
        }
        out
    }

    /// The admin roles.
    pub fn admin_roles(&self) -> BTreeSet<RoleId> {
        self.roles
            .values()
            .filter(|r| r.is_admin)
            .map(|r| r.id)
            .collect()
    }
}
