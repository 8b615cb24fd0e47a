//! Rules as people read them ("Department: R&D Center and below"), shared by the roles and
//! rules pages, and the small lookups those pages share (ids from paths, people by login).

use std::collections::HashMap;

use crate::admin::i18n::Tr;
use crate::{
    access::{Effect, MaskedField, Object, PolicySnapshot, RoleId, Rule},
    directory::{Replica, StaffId},
};

/// A rule as a row of a table.
pub struct RuleRow {
    pub id: String,
    /// i18n key of the effect's name.
    pub effect_key: &'static str,
    /// CSS class of the effect's badge.
    pub badge: &'static str,
    pub effect: &'static str,
    /// The role's name, or "everyone" for deny rules and global masks.
    pub role: String,
    pub object: String,
    /// Names of the roles the rule does not apply to.
    pub exempt: String,
    pub description: String,
}

pub fn effect_key(effect: Effect) -> (&'static str, &'static str) {
    match effect {
        Effect::Allow => ("rules.effect.allow", "badge-ok"),
        Effect::Deny => ("rules.effect.deny", "badge-error"),
        Effect::Mask => ("rules.effect.mask", "badge-warn"),
    }
}

/// A field as people name it.
pub fn field_name(tr: &Tr, field: &MaskedField) -> String {
    match field {
        MaskedField::Title => tr.t("rules.masked.title").to_owned(),
        MaskedField::Emails => tr.t("rules.masked.emails").to_owned(),
        MaskedField::Phones => tr.t("rules.masked.phones").to_owned(),
        MaskedField::AllCustom => tr.t("rules.masked.all_custom").to_owned(),
        MaskedField::Custom(key) => tr.f("rules.masked.custom", &[("key", key)]),
    }
}

/// What a rule's object covers, in words, with names instead of ids.
pub fn describe(tr: &Tr, object: &Object, replica: &Replica) -> String {
    let department = |id: &crate::directory::DepartmentId| {
        replica
            .department(*id)
            .map(|d| d.name.clone())
            .unwrap_or_else(|| tr.f("rules.object.missing", &[("id", id)]))
    };
    match object {
        Object::All => tr.t("rules.object.all").to_owned(),
        Object::DeptType(t) => tr.f("rules.object.dept_type_is", &[("type", t)]),
        Object::Subtree(id) => tr.f("rules.object.subtree_is", &[("name", &department(id))]),
        Object::Department(id) => tr.f("rules.object.department_is", &[("name", &department(id))]),
        Object::OwnDepartment => tr.t("rules.object.own_department").to_owned(),
        Object::OwnSubtree => tr.t("rules.object.own_subtree").to_owned(),
        Object::StaffType(t) => tr.f("rules.object.staff_type_is", &[("type", t)]),
        Object::Staff(id) => {
            let name = replica
                .staff(*id)
                .map(|s| format!("{} ({})", s.display_name, s.login))
                .unwrap_or_else(|| tr.f("rules.object.missing", &[("id", id)]));
            tr.f("rules.object.staff_is", &[("name", &name)])
        }
        Object::Field(field) => tr.f(
            "rules.object.field_is",
            &[("field", &field_name(tr, field))],
        ),
    }
}

/// Role names by id.
pub fn role_names(snapshot: &PolicySnapshot) -> HashMap<RoleId, String> {
    snapshot
        .policy
        .roles
        .values()
        .map(|r| (r.id, r.name.clone()))
        .collect()
}

pub fn rule_row(
    tr: &Tr,
    rule: &Rule,
    names: &HashMap<RoleId, String>,
    replica: &Replica,
) -> RuleRow {
    let (effect_key, badge) = effect_key(rule.effect);
    RuleRow {
        id: rule.id.to_string(),
        effect_key,
        badge,
        effect: rule.effect.as_str(),
        role: match rule.role_id {
            Some(id) => names.get(&id).cloned().unwrap_or_else(|| id.to_string()),
            None => tr.t("rules.everyone").to_owned(),
        },
        object: describe(tr, &rule.object, replica),
        exempt: rule
            .exempt_roles
            .iter()
            .filter_map(|r| names.get(r).cloned())
            .collect::<Vec<_>>()
            .join(", "),
        description: rule.description.clone(),
    }
}

/// An id from a path segment; `None` for anything that is not a UUID (a "not found" page).
pub fn parse_id(text: &str) -> Option<uuid::Uuid> {
    text.parse().ok()
}

/// A person named by login (exact), or by id.
pub fn find_person(replica: &Replica, text: &str) -> Option<StaffId> {
    let text = text.trim();
    replica.staff_by_login(text).map(|s| s.id).or_else(|| {
        text.parse()
            .ok()
            .map(StaffId)
            .filter(|id| replica.staff(*id).is_some())
    })
}
