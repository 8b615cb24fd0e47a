//! A stage collects the writes of one transaction on top of the replica, validating each
//! against the state left by the ones before it. Nothing is stored until the whole stage is
//! valid; then the write path persists and commits the entities it touched.

mod departments;
mod staff;

use std::{collections::HashMap, sync::Arc};

use super::{
    DirectoryError,
    fields::FieldSchema,
    model::{Department, DepartmentId, Staff, StaffId},
    replica::{Change, Replica},
};
use crate::store::{AuditEntry, EntityKind, Version};

/// Pending writes over a replica.
pub struct Stage<'r> {
    base: &'r Replica,
    fields: &'r FieldSchema,
    version: Version,
    departments: HashMap<DepartmentId, Option<Arc<Department>>>,
    staff: HashMap<StaffId, Option<Arc<Staff>>>,
    logins: HashMap<String, Option<StaffId>>,
    touched: Vec<(EntityKind, uuid::Uuid)>,
    audit: Vec<AuditEntry>,
}

/// What a finished stage hands to the write path.
pub struct StagedCommit {
    pub changes: Vec<Change>,
    pub audit: Vec<AuditEntry>,
    /// Depth of every touched department (top level = 0): in the new tree, or in the old one
    /// for removed departments.
    pub depths: HashMap<DepartmentId, usize>,
}

fn audit_json<T: serde::Serialize>(value: &T) -> Option<String> {
    AuditEntry::json(value)
}

impl<'r> Stage<'r> {
    pub fn new(base: &'r Replica, fields: &'r FieldSchema, version: Version) -> Self {
        Self {
            base,
            fields,
            version,
            departments: HashMap::new(),
            staff: HashMap::new(),
            logins: HashMap::new(),
            touched: Vec::new(),
            audit: Vec::new(),
        }
    }

    /// The replica this stage writes over (its state before the stage).
    pub fn base(&self) -> &Replica {
        self.base
    }

    /// A department as the stage currently sees it.
    pub fn department(&self, id: DepartmentId) -> Option<&Department> {
        match self.departments.get(&id) {
            Some(staged) => staged.as_deref(),
            None => self.base.department(id).map(Arc::as_ref),
        }
    }

    /// A person as the stage currently sees them.
    pub fn staff(&self, id: StaffId) -> Option<&Staff> {
        match self.staff.get(&id) {
            Some(staged) => staged.as_deref(),
            None => self.base.staff(id).map(Arc::as_ref),
        }
    }

    /// Who holds a login as the stage currently sees it.
    pub fn staff_id_by_login(&self, login: &str) -> Option<StaffId> {
        match self.logins.get(login) {
            Some(staged) => *staged,
            None => self.base.staff_by_login(login).map(|s| s.id),
        }
    }

    fn touch(&mut self, kind: EntityKind, id: uuid::Uuid) {
        let seen = match kind {
            EntityKind::Department => self.departments.contains_key(&DepartmentId(id)),
            _ => self.staff.contains_key(&StaffId(id)),
        };
        if !seen {
            self.touched.push((kind, id));
        }
    }

    fn put_department(&mut self, department: Department) -> Arc<Department> {
        self.touch(EntityKind::Department, department.id.0);
        let department = Arc::new(department);
        self.departments
            .insert(department.id, Some(department.clone()));
        department
    }

    fn put_staff(&mut self, person: Staff) -> Arc<Staff> {
        self.touch(EntityKind::Staff, person.id.0);
        if let Some(old) = self.staff(person.id)
            && old.login != person.login
        {
            let old_login = old.login.clone();
            self.logins.insert(old_login, None);
        }
        self.logins.insert(person.login.clone(), Some(person.id));
        let person = Arc::new(person);
        self.staff.insert(person.id, Some(person.clone()));
        person
    }

    fn record(
        &mut self,
        action: &'static str,
        kind: EntityKind,
        id: uuid::Uuid,
        before: Option<String>,
        after: Option<String>,
    ) {
        self.audit.push(AuditEntry {
            action,
            entity_kind: kind,
            entity_id: Some(id),
            before,
            after,
        });
    }

    /// Children of a department in the staged tree.
    pub fn children_of(&self, id: DepartmentId) -> Vec<DepartmentId> {
        let mut out: Vec<DepartmentId> = self
            .base
            .children(Some(id))
            .filter(|c| !self.departments.contains_key(c))
            .collect();
        out.extend(
            self.departments
                .values()
                .flatten()
                .filter(|d| d.parent_id == Some(id))
                .map(|d| d.id),
        );
        out
    }

    /// Direct members of a department in the staged directory.
    pub fn members_of(&self, id: DepartmentId) -> Vec<StaffId> {
        let mut out: Vec<StaffId> = self
            .base
            .members(id)
            .filter(|s| !self.staff.contains_key(s))
            .collect();
        out.extend(
            self.staff
                .values()
                .flatten()
                .filter(|s| s.memberships.iter().any(|m| m.department_id == id))
                .map(|s| s.id),
        );
        out
    }

    fn depth(&self, id: DepartmentId) -> usize {
        let mut depth = 0;
        let mut next = self.department(id).and_then(|d| d.parent_id);
        while let Some(parent) = next {
            depth += 1;
            if depth > self.base.department_count() + self.departments.len() {
                break;
            }
            next = self.department(parent).and_then(|d| d.parent_id);
        }
        depth
    }

    fn require_department(&self, id: DepartmentId) -> Result<&Department, DirectoryError> {
        self.department(id)
            .ok_or_else(|| DirectoryError::not_found("department", id))
    }

    fn current_staff(&self, id: StaffId) -> Result<Arc<Staff>, DirectoryError> {
        match self.staff.get(&id) {
            Some(staged) => staged.clone(),
            None => self.base.staff(id).cloned(),
        }
        .ok_or_else(|| DirectoryError::not_found("staff", id))
    }

    fn current_department(&self, id: DepartmentId) -> Result<Arc<Department>, DirectoryError> {
        match self.departments.get(&id) {
            Some(staged) => staged.clone(),
            None => self.base.department(id).cloned(),
        }
        .ok_or_else(|| DirectoryError::not_found("department", id))
    }

    fn require_staff(&self, id: StaffId) -> Result<&Staff, DirectoryError> {
        self.staff(id)
            .ok_or_else(|| DirectoryError::not_found("staff", id))
    }

    /// Ends the stage: the changes to persist, in the order entities were first touched.
    pub fn finish(self) -> StagedCommit {
        let mut changes = Vec::with_capacity(self.touched.len());
        let mut depths = HashMap::new();
        for (kind, id) in &self.touched {
            match kind {
                EntityKind::Department => {
                    let id = DepartmentId(*id);
                    let before = self.base.department(id).cloned();
                    let after = self.departments.get(&id).cloned().flatten();
                    let same = match (&before, &after) {
                        (Some(b), Some(a)) => Arc::ptr_eq(b, a) || **b == **a,
                        (None, None) => true,
                        _ => false,
                    };
                    if same {
                        continue;
                    }
                    let depth = if after.is_some() {
                        self.depth(id)
                    } else {
                        self.base.ancestors_and_self(id).len() - 1
                    };
                    depths.insert(id, depth);
                    changes.push(Change::Department { before, after });
                }
                _ => {
                    let id = StaffId(*id);
                    let before = self.base.staff(id).cloned();
                    let after = self.staff.get(&id).cloned().flatten();
                    let same = match (&before, &after) {
                        (Some(b), Some(a)) => Arc::ptr_eq(b, a) || **b == **a,
                        (None, None) => true,
                        _ => false,
                    };
                    if same {
                        continue;
                    }
                    changes.push(Change::Staff { before, after });
                }
            }
        }
        StagedCommit {
            changes,
            audit: self.audit,
            depths,
        }
    }
}
