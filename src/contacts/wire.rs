//! What goes over the wire: the snapshot, delta and search bodies, and the snapshot writer
//! that serialises a frozen class view a chunk at a time.

use std::sync::Arc;

use bytes::Bytes;
use serde::Serialize;
use utoipa::ToSchema;

use super::{
    frozen::FrozenView,
    index::EntryKind,
    project::{ContactDepartment, ContactStaff, DepartmentView, StaffView},
    state::DeltaEntry,
};
use crate::directory::Department;

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

/// About this much JSON per chunk: small enough that one chunk is a fraction of a millisecond of
/// work on an async worker, large enough that a 36 MB list is a few hundred chunks.
const CHUNK_BYTES: usize = 64 * 1024;

/// Where a snapshot writer is in the document.
#[derive(Debug)]
enum Part {
    Start,
    Departments {
        list: Vec<Arc<Department>>,
        next: usize,
    },
    Staff {
        next: u32,
        first: bool,
    },
    Done,
}

/// Writes a frozen view's list as JSON a chunk at a time, straight from the shared entries
/// (no copies): the same JSON as `Snapshot`, with people in slot order (clients index by id).
/// It holds no lock, so a client that reads slowly holds up nobody.
#[derive(Debug)]
pub struct SnapshotWriter {
    view: FrozenView,
    part: Part,
}

impl SnapshotWriter {
    pub fn new(view: FrozenView) -> Self {
        Self {
            view,
            part: Part::Start,
        }
    }

    /// Writes about a chunk's worth of the document into `out` (nothing once it is complete).
    fn fill(&mut self, out: &mut Vec<u8>) -> serde_json::Result<()> {
        let view = &self.view;
        while out.len() < CHUNK_BYTES {
            match &mut self.part {
                Part::Start => {
                    out.extend_from_slice(b"{\"version\":");
                    serde_json::to_writer(&mut *out, &view.version.0)?;
                    out.extend_from_slice(b",\"departments\":[");
                    self.part = Part::Departments {
                        list: view.departments(),
                        next: 0,
                    };
                }
                Part::Departments { list, next } => {
                    let Some(department) = list.get(*next) else {
                        out.extend_from_slice(b"],\"staff\":[");
                        self.part = Part::Staff {
                            next: 0,
                            first: true,
                        };
                        continue;
                    };
                    if *next > 0 {
                        out.push(b',');
                    }
                    serde_json::to_writer(
                        &mut *out,
                        &DepartmentView {
                            department,
                            parent: view.parent_of(department),
                            masks: &view.masks,
                        },
                    )?;
                    *next += 1;
                }
                Part::Staff { next, first } => {
                    let mut people = view.staff_from(*next);
                    let Some((slot, person)) = people.next() else {
                        out.extend_from_slice(b"]}");
                        self.part = Part::Done;
                        return Ok(());
                    };
                    if !*first {
                        out.push(b',');
                    }
                    serde_json::to_writer(
                        &mut *out,
                        &StaffView {
                            person,
                            masks: &view.masks,
                            department_visible: |d| view.sees_department(d),
                        },
                    )?;
                    // Finding the next set bit from here is a word scan, not a walk from 0.
                    *next = slot + 1;
                    *first = false;
                }
                Part::Done => return Ok(()),
            }
        }
        Ok(())
    }

    /// The whole document at once.
    pub fn into_vec(self) -> serde_json::Result<Vec<u8>> {
        let mut out = Vec::with_capacity(self.view.staff_count() * 360 + CHUNK_BYTES);
        for chunk in self {
            out.extend_from_slice(&chunk?);
        }
        Ok(out)
    }
}

impl Iterator for SnapshotWriter {
    type Item = serde_json::Result<Bytes>;

    fn next(&mut self) -> Option<Self::Item> {
        if matches!(self.part, Part::Done) {
            return None;
        }
        let mut chunk = Vec::with_capacity(CHUNK_BYTES + 4096);
        match self.fill(&mut chunk) {
            Ok(()) if chunk.is_empty() => None,
            Ok(()) => Some(Ok(Bytes::from(chunk))),
            Err(error) => {
                // Nothing more may follow a broken chunk: the client sees a cut-off body.
                self.part = Part::Done;
                Some(Err(error))
            }
        }
    }
}
