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

    /// The casbin lines to remove and to add to go from `old` to `new`, compared as sets.
    /// Several rows can stand for one line (two rules with the same role, effect and object
    /// are one `p` line): a line goes only when no row of `new` stands for it any more, and
    /// is added only when no row of `old` did. Assignments are compared only when they changed
    /// (they are shared between policies until then; people's own roles are not lines).
    pub fn line_changes(old: &Policy, new: &Policy) -> (Vec<CasbinLine>, Vec<CasbinLine>) {
        let lines = |policy: &Policy| -> BTreeSet<CasbinLine> {
            let mut lines: BTreeSet<CasbinLine> =
                policy.rules.values().flat_map(Self::rule_lines).collect();
            if !Arc::ptr_eq(&old.assignments, &new.assignments) {
                lines.extend(policy.assignments.iter().filter_map(Self::assignment_line));
            }
            lines
        };
        let (before, after) = (lines(old), lines(new));
        (
            before.difference(&after).cloned().collect(),
            after.difference(&before).cloned().collect(),
        )
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
            .filter(|r| r.powers.any())
            .map(|r| r.id)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::access::model::MaskedField;

    fn rule(role: RoleId, effect: Effect, object: Object) -> Rule {
        Rule {
            id: RuleId(uuid::Uuid::now_v7()),
            role_id: Some(role),
            effect,
            object,
            exempt_roles: vec![],
            description: String::new(),
        }
    }

    #[test]
    fn a_line_goes_only_with_the_last_rule_that_stands_for_it() {
        let role = RoleId(uuid::Uuid::now_v7());
        let mask = Object::Field(MaskedField::Phones);
        let (a, b) = (
            rule(role, Effect::Mask, mask.clone()),
            rule(role, Effect::Mask, mask),
        );
        let mut both = Policy::default();
        both.rules.insert(a.id, a.clone());
        both.rules.insert(b.id, b.clone());
        let mut one = both.clone();
        one.rules.remove(&b.id);
        assert_eq!(Policy::line_changes(&both, &one), (vec![], vec![]));
        assert_eq!(Policy::line_changes(&one, &both), (vec![], vec![]));

        // Replacing one of two identical rules adds the new line and removes nothing.
        let mut replaced = both.clone();
        let allow = Rule {
            effect: Effect::Allow,
            object: Object::All,
            ..b.clone()
        };
        replaced.rules.insert(b.id, allow.clone());
        assert_eq!(
            Policy::line_changes(&both, &replaced),
            (vec![], Policy::rule_lines(&allow))
        );

        // The last one goes: so does its line.
        let none = Policy::default();
        assert_eq!(
            Policy::line_changes(&one, &none),
            (Policy::rule_lines(&a), vec![])
        );
    }
}
