//! Access domain types: roles, rules and assignments, parsed at the edge.

use std::fmt;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::AccessError;
use crate::{
    auth::Powers,
    directory::{DepartmentId, StaffId},
};

/// Identifies a role.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, ToSchema,
)]
#[serde(transparent)]
#[schema(value_type = String, format = Uuid)]
pub struct RoleId(pub Uuid);

/// Identifies a rule.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, ToSchema,
)]
#[serde(transparent)]
#[schema(value_type = String, format = Uuid)]
pub struct RuleId(pub Uuid);

impl fmt::Display for RoleId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl fmt::Display for RuleId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A named set of permissions, assigned to staff directly or through LDAP groups.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Role {
    pub id: RoleId,
    pub name: String,
    pub description: String,
    /// The admin powers holders get (none for most roles; see `auth::Powers`).
    pub powers: Powers,
}

/// What a rule does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Effect {
    /// Members of the rule's role see the object.
    Allow,
    /// Nobody sees the object, except members of the exempt roles. Has no role of its own.
    Deny,
    /// The field is hidden. With a role: from that role's grants; without: from everyone
    /// but the exempt roles.
    Mask,
}

impl Effect {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Allow => "allow",
            Self::Deny => "deny",
            Self::Mask => "mask",
        }
    }
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "allow" => Some(Self::Allow),
            "deny" => Some(Self::Deny),
            "mask" => Some(Self::Mask),
            _ => None,
        }
    }
}

/// A field of a person that a mask rule can hide.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum MaskedField {
    Title,
    Emails,
    Phones,
    /// Every custom field.
    AllCustom,
    /// One custom field (of staff or departments).
    Custom(String),
}

impl MaskedField {
    pub fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "title" => Self::Title,
            "emails" => Self::Emails,
            "phones" => Self::Phones,
            "custom" | "custom.*" => Self::AllCustom,
            other => {
                let key = other.strip_prefix("custom.")?;
                if key.is_empty()
                    || !key
                        .chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
                {
                    return None;
                }
                Self::Custom(key.to_owned())
            }
        })
    }
}

impl fmt::Display for MaskedField {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Title => f.write_str("title"),
            Self::Emails => f.write_str("emails"),
            Self::Phones => f.write_str("phones"),
            Self::AllCustom => f.write_str("custom.*"),
            Self::Custom(key) => write!(f, "custom.{key}"),
        }
    }
}

/// What a rule is about. Written as text: `all`, `dept_type:T`, `subtree:<id>`,
/// `department:<id>`, `own_department`, `own_subtree`, `staff_type:T`, `staff:<id>`,
/// `field:<name>`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Object {
    All,
    DeptType(String),
    Subtree(DepartmentId),
    Department(DepartmentId),
    OwnDepartment,
    OwnSubtree,
    StaffType(String),
    Staff(StaffId),
    Field(MaskedField),
}

impl Object {
    pub fn parse(text: &str) -> Result<Self, AccessError> {
        let bad = || {
            AccessError::invalid(
                "object",
                format!(
                    "'{text}' is not one of: all, dept_type:T, subtree:ID, department:ID, own_department, own_subtree, staff_type:T, staff:ID, field:NAME"
                ),
            )
        };
        let uuid = |s: &str| s.parse::<Uuid>().map_err(|_| bad());
        let tag = |s: &str| {
            let t = s.trim().to_lowercase();
            if t.is_empty()
                || t.len() > 40
                || !t
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-')
            {
                Err(bad())
            } else {
                Ok(t)
            }
        };
        Ok(match text.trim() {
            "all" => Self::All,
            "own_department" => Self::OwnDepartment,
            "own_subtree" => Self::OwnSubtree,
            other => {
                let (kind, value) = other.split_once(':').ok_or_else(bad)?;
                match kind {
                    "dept_type" => Self::DeptType(tag(value)?),
                    "subtree" => Self::Subtree(DepartmentId(uuid(value)?)),
                    "department" => Self::Department(DepartmentId(uuid(value)?)),
                    "staff_type" => Self::StaffType(tag(value)?),
                    "staff" => Self::Staff(StaffId(uuid(value)?)),
                    "field" => Self::Field(MaskedField::parse(value).ok_or_else(bad)?),
                    _ => return Err(bad()),
                }
            }
        })
    }

    /// Whether this object names departments or people (as opposed to a field).
    pub fn is_entry_object(&self) -> bool {
        !matches!(self, Self::Field(_))
    }
}

impl fmt::Display for Object {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::All => f.write_str("all"),
            Self::DeptType(t) => write!(f, "dept_type:{t}"),
            Self::Subtree(id) => write!(f, "subtree:{id}"),
            Self::Department(id) => write!(f, "department:{id}"),
            Self::OwnDepartment => f.write_str("own_department"),
            Self::OwnSubtree => f.write_str("own_subtree"),
            Self::StaffType(t) => write!(f, "staff_type:{t}"),
            Self::Staff(id) => write!(f, "staff:{id}"),
            Self::Field(field) => write!(f, "field:{field}"),
        }
    }
}

/// One visibility rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub id: RuleId,
    /// The role an `allow` rule grants to, or a role-level `mask` hides from. `None` for `deny`
    /// and for global masks.
    pub role_id: Option<RoleId>,
    pub effect: Effect,
    pub object: Object,
    /// For `deny` and global `mask`: roles the rule does not apply to.
    pub exempt_roles: Vec<RoleId>,
    pub description: String,
}

/// Who a role is assigned to.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Subject {
    Staff(StaffId),
    /// An LDAP group, by DN (lower-cased); members come from the LDAP sync.
    Group(String),
}

impl Subject {
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Staff(_) => "staff",
            Self::Group(_) => "ldap_group",
        }
    }
    pub fn value(&self) -> String {
        match self {
            Self::Staff(id) => id.to_string(),
            Self::Group(dn) => dn.clone(),
        }
    }
    pub fn parse(kind: &str, value: &str) -> Result<Self, AccessError> {
        match kind {
            "staff" => value
                .parse()
                .map(|id| Self::Staff(StaffId(id)))
                .map_err(|_| AccessError::invalid("subject", "not a staff id")),
            "ldap_group" => {
                let dn = value.trim().to_lowercase();
                if dn.is_empty() || dn.len() > 1000 {
                    return Err(AccessError::invalid(
                        "subject",
                        "a group DN must be 1-1000 characters",
                    ));
                }
                Ok(Self::Group(dn))
            }
            _ => Err(AccessError::invalid(
                "subject_kind",
                "must be staff or ldap_group",
            )),
        }
    }
    /// The casbin subject name.
    pub fn casbin_name(&self) -> String {
        match self {
            Self::Staff(id) => staff_subject(*id),
            Self::Group(dn) => format!("group:{dn}"),
        }
    }
}

/// A role given to a subject.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Assignment {
    pub role_id: RoleId,
    pub subject: Subject,
}

/// The casbin subject of a person.
pub fn staff_subject(id: StaffId) -> String {
    format!("staff:{id}")
}

/// The casbin subject of a role.
pub fn role_subject(id: RoleId) -> String {
    format!("role:{id}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn objects_round_trip_and_reject_garbage() {
        let id = Uuid::now_v7();
        for text in [
            "all".to_owned(),
            "dept_type:business".into(),
            format!("subtree:{id}"),
            format!("department:{id}"),
            "own_department".into(),
            "own_subtree".into(),
            "staff_type:executive".into(),
            format!("staff:{id}"),
            "field:phones".into(),
            "field:custom.employee_no".into(),
            "field:custom.*".into(),
        ] {
            assert_eq!(Object::parse(&text).unwrap().to_string(), text);
        }
        for bad in [
            "",
            "everything",
            "subtree:nope",
            "dept_type:",
            "field:salary",
            "dept_type:a b",
            "staff_type:x,y",
        ] {
            assert!(Object::parse(bad).is_err(), "{bad}");
        }
    }
}
