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

/// Serialises a department as `ContactDepartment` would, borrowing instead of copying.
pub struct DepartmentView<'a> {
    pub department: &'a Department,
    pub parent: Option<DepartmentId>,
    pub masks: &'a Masks,
}

/// Serialises a person as `ContactStaff` would, borrowing instead of copying.
pub struct StaffView<'a, F: Fn(DepartmentId) -> bool> {
    pub person: &'a Staff,
    pub masks: &'a Masks,
    pub department_visible: F,
}

struct CustomView<'a>(&'a BTreeMap<String, serde_json::Value>, &'a Masks);

impl Serialize for CustomView<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = serializer.serialize_map(None)?;
        for (key, value) in self.0 {
            if !self.1.hides_custom(key) {
                map.serialize_entry(key, value)?;
            }
        }
        map.end()
    }
}

impl Serialize for DepartmentView<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let d = self.department;
        let mut out = serializer.serialize_struct("ContactDepartment", 6)?;
        out.serialize_field("id", &d.id)?;
        out.serialize_field("parent_id", &self.parent)?;
        out.serialize_field("name", &d.name)?;
        out.serialize_field("dept_type", &d.dept_type)?;
        out.serialize_field("order_key", &d.order_key)?;
        out.serialize_field("custom", &CustomView(&d.custom, self.masks))?;
        out.end()
    }
}

struct MembershipsView<'a, F: Fn(DepartmentId) -> bool>(&'a Staff, &'a F);

impl<F: Fn(DepartmentId) -> bool> Serialize for MembershipsView<'_, F> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::{SerializeSeq, SerializeStruct};
        struct One<'a>(&'a crate::directory::Membership);
        impl Serialize for One<'_> {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                let mut out = serializer.serialize_struct("ContactMembership", 3)?;
                out.serialize_field("department_id", &self.0.department_id)?;
                out.serialize_field("order_key", &self.0.order_key)?;
                out.serialize_field("primary", &self.0.primary)?;
                out.end()
            }
        }
        let mut seq = serializer.serialize_seq(None)?;
        for m in self
            .0
            .memberships
            .iter()
            .filter(|m| (self.1)(m.department_id))
        {
            seq.serialize_element(&One(m))?;
        }
        seq.end()
    }
}

impl<F: Fn(DepartmentId) -> bool> Serialize for StaffView<'_, F> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let p = self.person;
        let mut out = serializer.serialize_struct("ContactStaff", 12)?;
        out.serialize_field("id", &p.id)?;
        out.serialize_field("login", &p.login)?;
        out.serialize_field("display_name", &p.display_name)?;
        out.serialize_field("pinyin_full", &p.pinyin_full)?;
        out.serialize_field("pinyin_initials", &p.pinyin_initials)?;
        if !self.masks.hides(&MaskedField::Title) {
            out.serialize_field("title", &p.title)?;
        }
        if !self.masks.hides(&MaskedField::Emails) {
            out.serialize_field("emails", &p.emails)?;
        }
        if !self.masks.hides(&MaskedField::Phones) {
            out.serialize_field("phones", &p.phones)?;
        }
        out.serialize_field("staff_type", &p.staff_type)?;
        out.serialize_field("custom", &CustomView(&p.custom, self.masks))?;
        out.serialize_field("departments", &MembershipsView(p, &self.department_visible))?;
        out.end()
    }
}
