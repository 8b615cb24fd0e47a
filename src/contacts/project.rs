//! What a viewer receives: departments and people as their class sees them, with masked fields
//! left out (never sent, not blanked) and references to hidden departments removed.

use std::collections::BTreeMap;

use serde::Serialize;
use utoipa::ToSchema;

use crate::{
    access::{MaskedField, Masks},
    directory::{Department, DepartmentId, Staff, StaffId},
};

/// A department in a contact list.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct ContactDepartment {
    pub id: DepartmentId,
    /// The nearest ancestor in the viewer's list, or `null` (draw it at the top).
    pub parent_id: Option<DepartmentId>,
    pub name: String,
    pub dept_type: String,
    pub order_key: i64,
    /// Custom fields the viewer may see.
    #[schema(value_type = Object)]
    pub custom: BTreeMap<String, serde_json::Value>,
}

/// A person's place in a department of the viewer's list.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct ContactMembership {
    pub department_id: DepartmentId,
    pub order_key: i64,
    pub primary: bool,
}

/// A person in a contact list. Masked fields are absent.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct ContactStaff {
    pub id: StaffId,
    pub login: String,
    pub display_name: String,
    pub pinyin_full: String,
    pub pinyin_initials: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub emails: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phones: Option<Vec<String>>,
    pub staff_type: String,
    #[schema(value_type = Object)]
    pub custom: BTreeMap<String, serde_json::Value>,
    /// Only departments that are in the viewer's list.
    pub departments: Vec<ContactMembership>,
}

fn visible_custom(
    custom: &BTreeMap<String, serde_json::Value>,
    masks: &Masks,
) -> BTreeMap<String, serde_json::Value> {
    custom
        .iter()
        .filter(|(key, _)| !masks.hides_custom(key))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

pub fn department(
    department: &Department,
    parent: Option<DepartmentId>,
    masks: &Masks,
) -> ContactDepartment {
    ContactDepartment {
        id: department.id,
        parent_id: parent,
        name: department.name.clone(),
        dept_type: department.dept_type.clone(),
        order_key: department.order_key,
        custom: visible_custom(&department.custom, masks),
    }
}

pub fn staff(
    person: &Staff,
    masks: &Masks,
    department_visible: impl Fn(DepartmentId) -> bool,
) -> ContactStaff {
    ContactStaff {
        id: person.id,
        login: person.login.clone(),
        display_name: person.display_name.clone(),
        pinyin_full: person.pinyin_full.clone(),
        pinyin_initials: person.pinyin_initials.clone(),
        title: (!masks.hides(&MaskedField::Title)).then(|| person.title.clone()),
        emails: (!masks.hides(&MaskedField::Emails)).then(|| person.emails.clone()),
        phones: (!masks.hides(&MaskedField::Phones)).then(|| person.phones.clone()),
        staff_type: person.staff_type.clone(),
        custom: visible_custom(&person.custom, masks),
        departments: person
            .memberships
            .iter()
            .filter(|m| department_visible(m.department_id))
            .map(|m| ContactMembership {
                department_id: m.department_id,
                order_key: m.order_key,
                primary: m.primary,
            })
            .collect(),
    }
}
