//! Planning a policy edit: each change is checked against the policy left by the ones before
//! it and applied to a candidate copy, collecting the rows and audit entries it needs. Nothing
//! is stored or enforced until the whole edit is valid (`Access::apply`).

use std::{collections::BTreeSet, sync::Arc};

use super::{
    AccessError, PolicyChange,
    model::{Assignment, Effect, Object, Role, RoleId, Rule, RuleId, Subject},
    policy::Policy,
    service::Access,
};
use crate::store::{AuditEntry, ChangeOp, EntityKind};

/// What one edit does to the stored rows and the derived data. (The casbin lines are not
/// collected edit by edit: two rows can stand for one line, so they are the difference
/// between the old and the new policy, `Policy::line_changes`.)
#[derive(Default)]
pub(super) struct Effects {
    pub(super) touched_roles: BTreeSet<RoleId>,
    pub(super) holders_changed: bool,
    pub(super) audit: Vec<AuditEntry>,
    pub(super) journal: Vec<(EntityKind, uuid::Uuid, ChangeOp)>,
}

fn role_json(role: &Role) -> Option<String> {
    AuditEntry::json(role)
}

fn rule_json(rule: &Rule) -> Option<String> {
    AuditEntry::json(&serde_json::json!({
        "id": rule.id, "role_id": rule.role_id, "effect": rule.effect.as_str(),
        "object": rule.object.to_string(), "exempt_roles": rule.exempt_roles,
        "description": rule.description,
    }))
}

fn assignment_json(a: &Assignment) -> Option<String> {
    AuditEntry::json(&serde_json::json!({
        "role_id": a.role_id, "subject_kind": a.subject.kind(), "subject": a.subject.value(),
    }))
}

impl Access {
    pub(super) fn plan(
        &self,
        policy: &mut Policy,
        change: &PolicyChange,
        fx: &mut Effects,
    ) -> Result<(), AccessError> {
        match change {
            PolicyChange::PutRole(role) => {
                let name = role.name.trim();
                if name.is_empty() || name.chars().count() > 100 {
                    return Err(AccessError::invalid("name", "must be 1-100 characters"));
                }
                if policy
                    .roles
                    .values()
                    .any(|r| r.id != role.id && r.name == name)
                {
                    return Err(AccessError::Conflict(format!(
                        "a role named '{name}' exists"
                    )));
                }
                let before = policy.roles.insert(role.id, role.clone());
                fx.touched_roles.insert(role.id);
                fx.audit.push(AuditEntry {
                    action: if before.is_some() {
                        "role.update"
                    } else {
                        "role.create"
                    },
                    entity_kind: EntityKind::Role,
                    entity_id: Some(role.id.0),
                    before: before.as_ref().and_then(role_json),
                    after: role_json(role),
                });
                fx.journal
                    .push((EntityKind::Role, role.id.0, ChangeOp::Upsert));
            }
            PolicyChange::DeleteRole(id) => {
                let role = policy
                    .roles
                    .remove(id)
                    .ok_or_else(|| AccessError::not_found("role", id))?;
                let own_rules: Vec<RuleId> = policy
                    .rules
                    .values()
                    .filter(|r| r.role_id == Some(*id))
                    .map(|r| r.id)
                    .collect();
                for rule_id in own_rules {
                    policy.rules.remove(&rule_id);
                }
                for rule in policy.rules.values_mut() {
                    rule.exempt_roles.retain(|r| r != id);
                }
                let gone: Vec<Assignment> = policy
                    .assignments
                    .iter()
                    .filter(|a| a.role_id == *id)
                    .cloned()
                    .collect();
                for a in gone {
                    Arc::make_mut(&mut policy.assignments).remove(&a);
                }
                fx.touched_roles.insert(*id);
                fx.holders_changed = true;
                fx.audit.push(AuditEntry {
                    action: "role.delete",
                    entity_kind: EntityKind::Role,
                    entity_id: Some(id.0),
                    before: role_json(&role),
                    after: None,
                });
                fx.journal.push((EntityKind::Role, id.0, ChangeOp::Remove));
            }
            PolicyChange::PutRule(rule) => {
                check_rule(policy, rule)?;
                let before = policy.rules.insert(rule.id, rule.clone());
                if let Some(old) = &before {
                    fx.touched_roles.extend(old.role_id);
                    fx.touched_roles.extend(old.exempt_roles.iter().copied());
                }
                fx.touched_roles.extend(rule.role_id);
                fx.touched_roles.extend(rule.exempt_roles.iter().copied());
                fx.audit.push(AuditEntry {
                    action: if before.is_some() {
                        "rule.update"
                    } else {
                        "rule.create"
                    },
                    entity_kind: EntityKind::Rule,
                    entity_id: Some(rule.id.0),
                    before: before.as_ref().and_then(rule_json),
                    after: rule_json(rule),
                });
                fx.journal
                    .push((EntityKind::Rule, rule.id.0, ChangeOp::Upsert));
            }
            PolicyChange::DeleteRule(id) => {
                let rule = policy
                    .rules
                    .remove(id)
                    .ok_or_else(|| AccessError::not_found("rule", id))?;
                fx.touched_roles.extend(rule.role_id);
                fx.touched_roles.extend(rule.exempt_roles.iter().copied());
                fx.audit.push(AuditEntry {
                    action: "rule.delete",
                    entity_kind: EntityKind::Rule,
                    entity_id: Some(id.0),
                    before: rule_json(&rule),
                    after: None,
                });
                fx.journal.push((EntityKind::Rule, id.0, ChangeOp::Remove));
            }
            PolicyChange::Assign(a) => {
                if !policy.roles.contains_key(&a.role_id) {
                    return Err(AccessError::not_found("role", a.role_id));
                }
                if let Subject::Staff(s) = &a.subject
                    && self.directory.read().staff(*s).is_none()
                {
                    return Err(AccessError::not_found("staff", s));
                }
                if Arc::make_mut(&mut policy.assignments).insert(a.clone()) {
                    fx.holders_changed = true;
                    fx.audit.push(AuditEntry {
                        action: "role.assign",
                        entity_kind: EntityKind::Assignment,
                        entity_id: Some(a.role_id.0),
                        before: None,
                        after: assignment_json(a),
                    });
                    fx.journal
                        .push((EntityKind::Assignment, a.role_id.0, ChangeOp::Upsert));
                }
            }
            PolicyChange::Unassign(a) => {
                if !Arc::make_mut(&mut policy.assignments).remove(a) {
                    return Err(AccessError::not_found(
                        "assignment",
                        format!("{} → {}", a.subject.value(), a.role_id),
                    ));
                }
                fx.holders_changed = true;
                fx.audit.push(AuditEntry {
                    action: "role.unassign",
                    entity_kind: EntityKind::Assignment,
                    entity_id: Some(a.role_id.0),
                    before: assignment_json(a),
                    after: None,
                });
                fx.journal
                    .push((EntityKind::Assignment, a.role_id.0, ChangeOp::Upsert));
            }
            PolicyChange::SetGroupMembers(group, members) => {
                let before = policy.group_members.get(group).cloned().unwrap_or_default();
                if before == *members {
                    return Ok(());
                }
                if members.is_empty() {
                    Arc::make_mut(&mut policy.group_members).remove(group);
                } else {
                    Arc::make_mut(&mut policy.group_members).insert(group.clone(), members.clone());
                }
                fx.holders_changed = true;
                fx.audit.push(AuditEntry {
                    action: "group.members",
                    entity_kind: EntityKind::Assignment,
                    entity_id: None,
                    before: AuditEntry::json(
                        &serde_json::json!({"group": group, "members": before.len()}),
                    ),
                    after: AuditEntry::json(
                        &serde_json::json!({"group": group, "members": members.len()}),
                    ),
                });
            }
        }
        Ok(())
    }
}

fn check_rule(policy: &Policy, rule: &Rule) -> Result<(), AccessError> {
    if let Some(role) = rule.role_id
        && !policy.roles.contains_key(&role)
    {
        return Err(AccessError::not_found("role", role));
    }
    for role in &rule.exempt_roles {
        if !policy.roles.contains_key(role) {
            return Err(AccessError::not_found("role", role));
        }
    }
    match (rule.effect, rule.role_id, &rule.object) {
        (Effect::Allow, None, _) => Err(AccessError::invalid(
            "role_id",
            "an allow rule needs a role",
        )),
        (Effect::Allow, Some(_), Object::Field(_)) => Err(AccessError::invalid(
            "object",
            "an allow rule names departments or people, not a field",
        )),
        (Effect::Deny, Some(_), _) => Err(AccessError::invalid(
            "role_id",
            "a deny rule applies to everyone; list the roles that may still see in exempt_roles",
        )),
        (
            Effect::Deny,
            None,
            Object::All | Object::OwnDepartment | Object::OwnSubtree | Object::Field(_),
        ) => Err(AccessError::invalid(
            "object",
            "a deny rule names department:, subtree:, dept_type:, staff: or staff_type:",
        )),
        (Effect::Mask, _, object) if !matches!(object, Object::Field(_)) => {
            Err(AccessError::invalid("object", "a mask rule names a field:"))
        }
        (Effect::Allow, Some(_), _) | (Effect::Mask, Some(_), _)
            if !rule.exempt_roles.is_empty() =>
        {
            Err(AccessError::invalid(
                "exempt_roles",
                "only deny rules and global masks have exempt roles",
            ))
        }
        _ => Ok(()),
    }
}
