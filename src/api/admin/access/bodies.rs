//! What the access admin API reads and writes: roles, rules, assignments and the preview.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::{
    access::{Assignment, Effect, Object, Role, RoleId, Rule, RuleId, Subject},
    api::ApiError,
    auth::{AdminPower, Powers},
    contacts::Snapshot,
    directory::StaffId,
};

/// A role as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = AdminRole)]
pub struct RoleView {
    pub id: RoleId,
    pub name: String,
    pub description: String,
    /// Holders have every admin power.
    pub is_admin: bool,
    /// The admin powers holders get: `directory` (departments, staff, fields) and/or `access`
    /// (roles, rules, assignments, LDAP, API keys, webhooks, messaging settings).
    pub admin_powers: Vec<AdminPower>,
}

impl From<&Role> for RoleView {
    fn from(role: &Role) -> Self {
        Self {
            id: role.id,
            name: role.name.clone(),
            description: role.description.clone(),
            is_admin: role.powers.is_all(),
            admin_powers: role.powers.list(),
        }
    }
}

/// A new role.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewRole {
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// Every admin power (shorthand for both `admin_powers`).
    #[serde(default)]
    pub is_admin: bool,
    /// Some admin powers; wins over `is_admin` when given.
    #[serde(default)]
    pub admin_powers: Option<Vec<AdminPower>>,
}

/// A change to a role.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RolePatch {
    pub name: Option<String>,
    pub description: Option<String>,
    /// `true` gives every admin power, `false` takes them all away.
    pub is_admin: Option<bool>,
    /// Replaces the role's admin powers; wins over `is_admin` when both are given.
    pub admin_powers: Option<Vec<AdminPower>>,
}

/// The powers a role body asks for: `admin_powers` when given, else all or none by `is_admin`.
pub(super) fn requested_powers(
    is_admin: Option<bool>,
    admin_powers: Option<&[AdminPower]>,
) -> Option<Powers> {
    match (admin_powers, is_admin) {
        (Some(list), _) => Some(Powers::from_list(list.iter().copied())),
        (None, Some(true)) => Some(Powers::ALL),
        (None, Some(false)) => Some(Powers::NONE),
        (None, None) => None,
    }
}

/// A rule as the API shows it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RuleBody {
    pub id: RuleId,
    /// Present for `allow` and role masks; `null` for `deny` and global masks.
    pub role_id: Option<RoleId>,
    pub effect: Effect,
    /// See `RuleInput.object`.
    pub object: String,
    /// For `deny` and global `mask`: roles the rule does not apply to.
    pub exempt_roles: Vec<RoleId>,
    pub description: String,
}

impl RuleBody {
    pub fn from_rule(rule: &Rule) -> Self {
        Self {
            id: rule.id,
            role_id: rule.role_id,
            effect: rule.effect,
            object: rule.object.to_string(),
            exempt_roles: rule.exempt_roles.clone(),
            description: rule.description.clone(),
        }
    }
}

/// A rule as the API accepts it (the server chooses the id).
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RuleInput {
    /// Required for `allow` and role masks; absent for `deny` and global masks.
    #[serde(default)]
    pub role_id: Option<RoleId>,
    pub effect: Effect,
    /// `all`, `dept_type:T`, `subtree:<id>`, `department:<id>`, `own_department`,
    /// `own_subtree`, `staff_type:T`, `staff:<id>`, or `field:<title|emails|phones|custom.*|custom.KEY>`.
    pub object: String,
    /// For `deny` and global `mask`: roles the rule does not apply to.
    #[serde(default)]
    pub exempt_roles: Vec<RoleId>,
    #[serde(default)]
    pub description: String,
}

impl RuleInput {
    pub fn into_rule(self, id: RuleId) -> Result<Rule, ApiError> {
        if self.description.chars().count() > 500 {
            return Err(ApiError::Invalid {
                field: "description".into(),
                reason: "at most 500 characters".into(),
            });
        }
        Ok(Rule {
            id,
            role_id: self.role_id,
            effect: self.effect,
            object: Object::parse(&self.object)?,
            exempt_roles: self.exempt_roles,
            description: self.description,
        })
    }
}

/// A role given to a person or an LDAP group.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct AssignmentBody {
    pub role_id: RoleId,
    /// `staff` or `ldap_group`.
    pub subject_kind: String,
    /// A staff id, or a group DN.
    pub subject: String,
}

impl AssignmentBody {
    pub fn parse(&self) -> Result<Assignment, ApiError> {
        Ok(Assignment {
            role_id: self.role_id,
            subject: Subject::parse(&self.subject_kind, &self.subject)?,
        })
    }
    pub fn from(a: &Assignment) -> Self {
        Self {
            role_id: a.role_id,
            subject_kind: a.subject.kind().into(),
            subject: a.subject.value(),
        }
    }
}

/// Whose view to preview.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PreviewParams {
    pub staff_id: StaffId,
}

/// The directory as one employee sees it, and why.
#[derive(Debug, Serialize, ToSchema)]
pub struct Preview {
    pub staff_id: StaffId,
    pub roles: Vec<RoleView>,
    /// The view class (people with the same class see the same list).
    pub class: String,
    /// Fields hidden from this person.
    pub masked_fields: Vec<String>,
    /// Rules that refer to types, departments or people that do not exist.
    pub warnings: Vec<String>,
    pub department_count: usize,
    pub staff_count: usize,
    pub view: Snapshot,
}
