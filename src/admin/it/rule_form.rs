//! The rule builder's form: what it shows (every effect and object of docs/api.md, with the
//! choices the directory offers), reading a submitted form into a `RuleInput` (the JSON API's
//! own parser then decides what is valid), and the effect preview's figures.

use super::{posted::Posted, rule_text};
use crate::admin::i18n::Tr;
use crate::{
    access::{Effect, MaskedField, Object, PolicySnapshot, Rule},
    api::admin::access::RuleInput,
    contacts::PolicyEffect,
    directory::{DepartmentId, Replica},
    state::AppState,
};

/// An option of a `<select>`.
pub struct Choice {
    pub value: String,
    pub label: String,
    pub selected: bool,
}

/// An effect's radio button.
pub struct EffectChoice {
    pub value: &'static str,
    pub label: &'static str,
    pub hint: &'static str,
    pub selected: bool,
}

/// A role that may be exempt, with its checkbox.
pub struct Exempt {
    pub id: String,
    pub name: String,
    pub checked: bool,
}

/// The rule builder as typed (or as loaded).
#[derive(Default)]
pub struct RuleForm {
    pub effect: String,
    pub role: String,
    pub kind: String,
    pub dept_type: String,
    pub staff_type: String,
    pub department: String,
    pub person: String,
    pub person_q: String,
    pub field: String,
    pub exempt: Vec<String>,
    pub description: String,
}

/// The object kinds an allow or deny rule can name, in the builder's order.
pub const KINDS: &[&str] = &[
    "all",
    "dept_type",
    "subtree",
    "department",
    "own_department",
    "own_subtree",
    "staff_type",
    "staff",
];

impl RuleForm {
    /// A new rule for `role` (or a global one).
    pub fn new(role: Option<String>) -> Self {
        Self {
            effect: "allow".into(),
            role: role.unwrap_or_default(),
            kind: "all".into(),
            field: "phones".into(),
            ..Self::default()
        }
    }

    pub fn of(rule: &Rule, replica: &Replica) -> Self {
        let mut form = Self {
            effect: rule.effect.as_str().into(),
            role: rule.role_id.map(|r| r.to_string()).unwrap_or_default(),
            exempt: rule.exempt_roles.iter().map(|r| r.to_string()).collect(),
            description: rule.description.clone(),
            field: "phones".into(),
            ..Self::default()
        };
        let text = rule.object.to_string();
        form.kind = text.split(':').next().unwrap_or("all").to_owned();
        match &rule.object {
            Object::DeptType(t) => form.dept_type = t.clone(),
            Object::StaffType(t) => form.staff_type = t.clone(),
            Object::Subtree(id) | Object::Department(id) => form.department = id.to_string(),
            Object::Staff(id) => {
                form.person = id.to_string();
                form.person_q = replica
                    .staff(*id)
                    .map(|s| s.login.clone())
                    .unwrap_or_default();
            }
            Object::Field(field) => form.field = field.to_string(),
            _ => {}
        }
        form
    }

    pub fn posted(form: &Posted) -> Self {
        Self {
            effect: form.get("effect").to_owned(),
            role: form.get("role").to_owned(),
            kind: form.get("kind").to_owned(),
            dept_type: form.get("dept_type").to_owned(),
            staff_type: form.get("staff_type").to_owned(),
            department: form.get("department").to_owned(),
            person: form.get("person").to_owned(),
            person_q: form.get("person_q").to_owned(),
            field: form.get("field").to_owned(),
            exempt: form.all("exempt").into_iter().map(String::from).collect(),
            description: form.get("description").to_owned(),
        }
    }

    /// The rule the form describes, as the JSON API would receive it. An error names the
    /// form's field and says why, translated.
    pub fn input(&self, tr: &Tr, replica: &Replica) -> Result<RuleInput, (&'static str, String)> {
        let effect =
            Effect::parse(&self.effect).ok_or(("effect", tr.t("rules.error.effect").to_owned()))?;
        let object = if effect == Effect::Mask {
            format!("field:{}", self.field)
        } else {
            match self.kind.as_str() {
                "all" | "own_department" | "own_subtree" => self.kind.clone(),
                "dept_type" if self.dept_type.is_empty() => {
                    return Err(("dept_type", tr.t("rules.error.type_required").to_owned()));
                }
                "staff_type" if self.staff_type.is_empty() => {
                    return Err(("staff_type", tr.t("rules.error.type_required").to_owned()));
                }
                "dept_type" => format!("dept_type:{}", self.dept_type),
                "staff_type" => format!("staff_type:{}", self.staff_type),
                "subtree" | "department" => {
                    if rule_text::parse_id(&self.department).is_none() {
                        return Err((
                            "department",
                            tr.t("rules.error.department_required").to_owned(),
                        ));
                    }
                    format!("{}:{}", self.kind, self.department)
                }
                "staff" => {
                    let typed = if self.person.is_empty() {
                        &self.person_q
                    } else {
                        &self.person
                    };
                    match rule_text::find_person(replica, typed) {
                        Some(id) => format!("staff:{id}"),
                        None if typed.is_empty() => {
                            return Err(("person", tr.t("roles.error.person_required").to_owned()));
                        }
                        None => {
                            return Err((
                                "person",
                                tr.f("roles.error.no_person", &[("login", typed)]),
                            ));
                        }
                    }
                }
                _ => return Err(("kind", tr.t("rules.error.kind").to_owned())),
            }
        };
        let role_id = match self.role.as_str() {
            "" => None,
            text => Some(
                rule_text::parse_id(text)
                    .map(crate::access::RoleId)
                    .ok_or(("role", tr.t("rules.error.role").to_owned()))?,
            ),
        };
        // Exempt roles only mean something for deny rules and global masks; a hidden list
        // left ticked from another effect is not sent.
        let global = effect == Effect::Deny || (effect == Effect::Mask && role_id.is_none());
        let exempt_roles = if global {
            self.exempt
                .iter()
                .filter_map(|e| rule_text::parse_id(e).map(crate::access::RoleId))
                .collect()
        } else {
            Vec::new()
        };
        Ok(RuleInput {
            role_id,
            effect,
            object,
            exempt_roles,
            description: self.description.clone(),
        })
    }
}

/// The builder's choices: roles, object kinds, departments (in tree order), fields, types.
pub struct Choices {
    pub effects: Vec<EffectChoice>,
    pub roles: Vec<Choice>,
    pub kinds: Vec<Choice>,
    pub departments: Vec<Choice>,
    pub fields: Vec<Choice>,
    pub exempt: Vec<Exempt>,
    pub dept_types: Vec<String>,
    pub staff_types: Vec<String>,
}

pub fn choices(state: &AppState, tr: &Tr, form: &RuleForm, snapshot: &PolicySnapshot) -> Choices {
    let replica = state.directory.read();
    let mut roles: Vec<Choice> = snapshot
        .policy
        .roles
        .values()
        .map(|r| Choice {
            value: r.id.to_string(),
            label: r.name.clone(),
            selected: form.role == r.id.to_string(),
        })
        .collect();
    roles.sort_by(|a, b| a.label.cmp(&b.label));
    let mut exempt: Vec<Exempt> = snapshot
        .policy
        .roles
        .values()
        .map(|r| Exempt {
            id: r.id.to_string(),
            name: r.name.clone(),
            checked: form.exempt.contains(&r.id.to_string()),
        })
        .collect();
    exempt.sort_by(|a, b| a.name.cmp(&b.name));
    let kinds = KINDS
        .iter()
        .map(|k| Choice {
            value: (*k).into(),
            label: tr.t(&format!("rules.kind.{k}")).to_owned(),
            selected: form.kind == *k,
        })
        .collect();
    let mut departments = Vec::new();
    tree(&replica, None, 0, &form.department, &mut departments);
    let mut fields: Vec<Choice> = ["title", "emails", "phones", "custom.*"]
        .into_iter()
        .map(String::from)
        .chain(
            state
                .directory
                .field_definitions()
                .into_iter()
                .filter(|d| d.entity == crate::directory::FieldEntity::Staff)
                .map(|d| format!("custom.{}", d.key)),
        )
        .filter_map(|name| {
            let field = MaskedField::parse(&name)?;
            Some(Choice {
                selected: form.field == name,
                label: rule_text::field_name(tr, &field),
                value: name,
            })
        })
        .collect();
    fields.dedup_by(|a, b| a.value == b.value);
    let mut dept_types: Vec<String> = replica.departments().map(|d| d.dept_type.clone()).collect();
    dept_types.sort();
    dept_types.dedup();
    let mut staff_types: Vec<String> = replica.all_staff().map(|s| s.staff_type.clone()).collect();
    staff_types.sort();
    staff_types.dedup();
    let effects = [
        ("allow", "rules.effect.allow", "rules.effect_hint.allow"),
        ("deny", "rules.effect.deny", "rules.effect_hint.deny"),
        ("mask", "rules.effect.mask", "rules.effect_hint.mask"),
    ]
    .into_iter()
    .map(|(value, label, hint)| EffectChoice {
        value,
        label: tr.t(label),
        hint: tr.t(hint),
        selected: form.effect == value,
    })
    .collect();
    Choices {
        effects,
        roles,
        kinds,
        departments,
        fields,
        exempt,
        dept_types,
        staff_types,
    }
}

/// Departments under `parent`, depth-first in display order, indented by depth.
fn tree(
    replica: &Replica,
    parent: Option<DepartmentId>,
    depth: usize,
    selected: &str,
    out: &mut Vec<Choice>,
) {
    let mut children: Vec<_> = replica
        .children(parent)
        .filter_map(|id| replica.department(id))
        .collect();
    children.sort_by(|a, b| (a.order_key, &a.name).cmp(&(b.order_key, &b.name)));
    for child in children {
        let id = child.id.to_string();
        out.push(Choice {
            selected: id == selected,
            label: format!("{}{}", "\u{3000}".repeat(depth), child.name),
            value: id,
        });
        // The write path refuses cycles; the depth bound only guards the recursion.
        if depth < 64 {
            tree(replica, Some(child.id), depth + 1, selected, out);
        }
    }
}

/// The effect preview's figures and sentences.
pub struct EffectView {
    pub effect: PolicyEffect,
    /// Translated sentences, most important first.
    pub lines: Vec<String>,
    /// What the rule refers to that does not exist (accepted, but worth a look).
    pub warnings: Vec<String>,
}

pub fn effect_view(tr: &Tr, effect: PolicyEffect, warnings: Vec<String>) -> EffectView {
    let mut lines = Vec::new();
    if effect.hiding_viewers > 0 {
        lines.push(tr.f(
            "rules.effect_text.hides",
            &[
                ("people", &effect.hidden_staff),
                ("viewers", &effect.hiding_viewers),
            ],
        ));
    }
    if effect.showing_viewers > 0 {
        lines.push(tr.f(
            "rules.effect_text.shows",
            &[
                ("people", &effect.shown_staff),
                ("viewers", &effect.showing_viewers),
            ],
        ));
    }
    if effect.hidden_departments > 0 || effect.shown_departments > 0 {
        lines.push(tr.f(
            "rules.effect_text.departments",
            &[
                ("hidden", &effect.hidden_departments),
                ("shown", &effect.shown_departments),
            ],
        ));
    }
    if effect.masking_viewers > 0 {
        lines.push(tr.f(
            "rules.effect_text.masks",
            &[("viewers", &effect.masking_viewers)],
        ));
    }
    if effect.viewers == 0 {
        lines.push(tr.t("rules.effect_text.none").to_owned());
    } else if lines.is_empty() {
        lines.push(tr.f(
            "rules.effect_text.reshaped",
            &[("viewers", &effect.viewers)],
        ));
    }
    EffectView {
        effect,
        lines,
        warnings,
    }
}
