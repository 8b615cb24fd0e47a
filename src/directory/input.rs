//! Requests to change the directory, as HTTP bodies and the LDAP sync express them.
//! The write path (`stage.rs`) turns them into validated entities.

use serde::{Deserialize, Deserializer};
use utoipa::ToSchema;

use super::model::{CustomFields, DepartmentId, LdapRef, RecordSource};
use crate::store::Version;

/// Distinguishes a field that is absent (`None`) from one set to `null` (`Some(None)`).
fn double_option<'de, T, D>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    T: Deserialize<'de>,
    D: Deserializer<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

/// A new department.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewDepartment {
    /// The parent; absent or `null` for a top-level department.
    #[serde(default)]
    pub parent_id: Option<DepartmentId>,
    pub name: String,
    pub dept_type: String,
    /// Position among siblings; absent places it last.
    #[serde(default)]
    pub order_key: Option<i64>,
    #[serde(default)]
    #[schema(value_type = Object)]
    pub custom: CustomFields,
    #[serde(skip)]
    pub source: Option<RecordSource>,
    #[serde(skip)]
    pub ldap: Option<LdapRef>,
}

/// A change to a department: rename, move (`parent_id`), reorder (`order_key`), retype, or
/// custom fields (keys set to `null` are removed).
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DepartmentPatch {
    #[serde(default)]
    pub name: Option<String>,
    /// `null` moves the department to the top level.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>, format = Uuid)]
    pub parent_id: Option<Option<DepartmentId>>,
    #[serde(default)]
    pub dept_type: Option<String>,
    #[serde(default)]
    pub order_key: Option<i64>,
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub custom: Option<CustomFields>,
    #[serde(skip)]
    pub ldap: Option<Option<LdapRef>>,
    /// Refuse the edit unless the department is still at this version (`If-Match`).
    #[serde(skip)]
    pub if_version: Option<Version>,
}

/// What happens to a department's children and members when it is deleted.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeleteDepartment {
    /// Re-parent the children here (`null`: the top level). Required when it has children.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>, format = Uuid)]
    pub move_children_to: Option<Option<DepartmentId>>,
    /// Move the members here. Required when it has members.
    #[serde(default)]
    pub move_members_to: Option<DepartmentId>,
}

/// A person's place in one department, as requested. A list of them names each department
/// once and marks at most one primary (`422` otherwise).
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MembershipInput {
    pub department_id: DepartmentId,
    #[serde(default)]
    pub order_key: Option<i64>,
    /// At most one membership may be primary; with none, the first one is.
    #[serde(default)]
    pub primary: bool,
}

/// A new person.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewStaff {
    pub login: String,
    pub display_name: String,
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub emails: Vec<String>,
    #[serde(default)]
    pub phones: Vec<String>,
    pub staff_type: String,
    #[serde(default)]
    #[schema(value_type = Object)]
    pub custom: CustomFields,
    #[serde(default)]
    pub departments: Vec<MembershipInput>,
    #[serde(skip)]
    pub source: Option<RecordSource>,
    #[serde(skip)]
    pub ldap: Option<LdapRef>,
}

/// A change to a person; absent fields stay as they are. `departments` replaces all
/// memberships; `custom` keys set to `null` are removed.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StaffPatch {
    #[serde(default)]
    pub login: Option<String>,
    #[serde(default)]
    pub display_name: Option<String>,
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub emails: Option<Vec<String>>,
    #[serde(default)]
    pub phones: Option<Vec<String>>,
    #[serde(default)]
    pub staff_type: Option<String>,
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub custom: Option<CustomFields>,
    #[serde(default)]
    pub departments: Option<Vec<MembershipInput>>,
    #[serde(skip)]
    pub ldap: Option<Option<LdapRef>>,
    /// Refuse the edit unless the person is still at this version (`If-Match`).
    #[serde(skip)]
    pub if_version: Option<Version>,
}

impl StaffPatch {
    /// The names of the fields this patch sets, for write-back and read-only checks.
    pub fn fields_set(&self) -> Vec<&'static str> {
        let mut out = Vec::new();
        if self.login.is_some() {
            out.push("login");
        }
        if self.display_name.is_some() {
            out.push("display_name");
        }
        if self.title.is_some() {
            out.push("title");
        }
        if self.emails.is_some() {
            out.push("emails");
        }
        if self.phones.is_some() {
            out.push("phones");
        }
        if self.staff_type.is_some() {
            out.push("staff_type");
        }
        if self.custom.is_some() {
            out.push("custom");
        }
        if self.departments.is_some() {
            out.push("departments");
        }
        out
    }
}
