//! What goes over the wire: the snapshot, delta and search bodies, and the snapshot writer
//! that serialises a class's list straight from the replica.

use serde::Serialize;
use utoipa::ToSchema;

use super::{
    class::ClassView,
    index::EntryKind,
    project::{ContactDepartment, ContactStaff, DepartmentView, StaffView},
    slots::SlotMaps,
    state::DeltaEntry,
};
use crate::{
    directory::{DepartmentId, Replica, StaffId},
    store::Version,
};

/// A contact list at one version.
#[derive(Debug, Serialize, ToSchema)]
pub struct Snapshot {
    pub version: i64,
    pub departments: Vec<ContactDepartment>,
    pub staff: Vec<ContactStaff>,
}

/// Whether a delta entry is present (with its data) or gone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeltaOp {
    Upsert,
    Remove,
}

/// The data of an upserted entry.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(untagged)]
pub enum EntryData {
    Department(ContactDepartment),
    Staff(ContactStaff),
}

/// One change of a delta.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DeltaChange {
    pub op: DeltaOp,
    #[schema(value_type = String)]
    pub kind: EntryKind,
    pub id: uuid::Uuid,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<EntryData>,
}

/// The answer to `GET /api/v1/contacts/delta`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Delta {
    pub version: i64,
    /// `true`: `since` is older than the retained history; fetch a snapshot instead.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub reset: bool,
    pub changes: Vec<DeltaChange>,
}

/// Search results (people only), best first.
#[derive(Debug, Serialize, ToSchema)]
pub struct SearchResult {
    pub version: i64,
    pub total: usize,
    pub staff: Vec<ContactStaff>,
}

pub(super) fn delta_change(entry: DeltaEntry) -> DeltaChange {
    match entry {
        DeltaEntry::UpsertDepartment(d) => DeltaChange {
            op: DeltaOp::Upsert,
            kind: EntryKind::Department,
            id: d.id.0,
            data: Some(EntryData::Department(d)),
        },
        DeltaEntry::UpsertStaff(s) => DeltaChange {
            op: DeltaOp::Upsert,
            kind: EntryKind::Staff,
            id: s.id.0,
            data: Some(EntryData::Staff(s)),
        },
        DeltaEntry::Remove(key) => DeltaChange {
            op: DeltaOp::Remove,
            kind: key.kind,
            id: key.id,
            data: None,
        },
    }
}

/// Serialises a class's whole list straight from the replica, without copying entries: the
/// same JSON as `Snapshot`, with people in slot order (clients index by id).
pub(super) fn snapshot_bytes(
    version: Version,
    class: &ClassView,
    replica: &Replica,
    slots: &SlotMaps,
) -> Vec<u8> {
    use serde::ser::{SerializeSeq, SerializeStruct, Serializer as _};
    let visible = |d: DepartmentId| class.sees_department(d, slots);
    let mut departments: Vec<&crate::directory::Department> = class
        .departments
        .iter()
        .filter_map(|slot| {
            replica
                .department(DepartmentId(slots.departments.id(slot)))
                .map(|d| d.as_ref())
        })
        .collect();
    departments.sort_by(|a, b| (a.order_key, &a.name, a.id).cmp(&(b.order_key, &b.name, b.id)));
    struct Departments<'a>(
        &'a [&'a crate::directory::Department],
        &'a ClassView,
        &'a Replica,
        &'a SlotMaps,
    );
    impl Serialize for Departments<'_> {
        fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
            let mut seq = serializer.serialize_seq(Some(self.0.len()))?;
            for d in self.0 {
                seq.serialize_element(&DepartmentView {
                    department: d,
                    parent: self.1.parent_of(d.id, self.2, self.3),
                    masks: &self.1.profile.masks,
                })?;
            }
            seq.end()
        }
    }
    struct People<'a, F: Fn(DepartmentId) -> bool + Copy>(
        &'a ClassView,
        &'a Replica,
        &'a SlotMaps,
        F,
    );
    impl<F: Fn(DepartmentId) -> bool + Copy> Serialize for People<'_, F> {
        fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
            let mut seq = serializer.serialize_seq(Some(self.0.staff.len()))?;
            for slot in self.0.staff.iter() {
                if let Some(person) = self.1.staff(StaffId(self.2.staff.id(slot))) {
                    seq.serialize_element(&StaffView {
                        person,
                        masks: &self.0.profile.masks,
                        department_visible: self.3,
                    })?;
                }
            }
            seq.end()
        }
    }
    let mut out = Vec::with_capacity(class.staff.len() * 360 + class.departments.len() * 200);
    let mut serializer = serde_json::Serializer::new(&mut out);
    let written = (|| {
        let mut snapshot = (&mut serializer).serialize_struct("Snapshot", 3)?;
        snapshot.serialize_field("version", &version.0)?;
        snapshot.serialize_field(
            "departments",
            &Departments(&departments, class, replica, slots),
        )?;
        snapshot.serialize_field("staff", &People(class, replica, slots, &visible))?;
        SerializeStruct::end(snapshot)
    })();
    if written.is_err() {
        out.clear();
    }
    out
}

pub(super) fn build_snapshot(
    version: Version,
    class: &ClassView,
    replica: &Replica,
    slots: &SlotMaps,
) -> Snapshot {
    let mut departments: Vec<ContactDepartment> = class
        .departments
        .iter()
        .filter_map(|slot| {
            class.project_department(DepartmentId(slots.departments.id(slot)), replica, slots)
        })
        .collect();
    departments.sort_by(|a, b| (a.order_key, &a.name, a.id).cmp(&(b.order_key, &b.name, b.id)));
    let mut staff: Vec<ContactStaff> = class
        .staff
        .iter()
        .filter_map(|slot| class.project_staff(StaffId(slots.staff.id(slot)), replica, slots))
        .collect();
    staff.sort_by(|a, b| (&a.pinyin_full, &a.login).cmp(&(&b.pinyin_full, &b.login)));
    Snapshot {
        version: version.0,
        departments,
        staff,
    }
}
