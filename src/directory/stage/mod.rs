//! A stage collects the writes of one transaction on top of the replica, validating each
//! against the state left by the ones before it. Nothing is stored until the whole stage is
//! valid; then the write path persists and commits the entities it touched.

mod staff;

use std::{collections::HashMap, sync::Arc};

use super::{
    DirectoryError,
    fields::{FieldSchema, merge},
    input::{DeleteDepartment, DepartmentPatch, MembershipInput, NewDepartment, StaffPatch},
    model::{
        Department, DepartmentId, FieldEntity, RecordSource, Staff, StaffId, parse_tag,
        required_text,
    },
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

    fn next_sibling_key(&self, parent: Option<DepartmentId>) -> i64 {
        let siblings: Vec<DepartmentId> = match parent {
            Some(p) => self.children_of(p),
            None => self
                .base
                .children(None)
                .chain(
                    self.departments
                        .values()
                        .flatten()
                        .filter(|d| d.parent_id.is_none())
                        .map(|d| d.id),
                )
                .collect(),
        };
        siblings
            .iter()
            .filter_map(|id| self.department(*id))
            .filter(|d| d.parent_id == parent)
            .map(|d| d.order_key)
            .max()
            .map_or(0, |max| max + 1)
    }

    /// Refuses a parent that would make `id` its own ancestor.
    fn check_no_cycle(
        &self,
        id: DepartmentId,
        new_parent: DepartmentId,
    ) -> Result<(), DirectoryError> {
        let mut next = Some(new_parent);
        let mut steps = 0;
        while let Some(current) = next {
            if current == id {
                return Err(DirectoryError::Conflict(format!(
                    "cannot move department {id} under {new_parent}: it is the department itself or one of its descendants"
                )));
            }
            steps += 1;
            if steps > self.base.department_count() + self.departments.len() + 1 {
                return Err(DirectoryError::Conflict(
                    "department tree has a cycle".into(),
                ));
            }
            next = self.department(current).and_then(|d| d.parent_id);
        }
        Ok(())
    }

    /// Creates a department.
    pub fn create_department(
        &mut self,
        input: NewDepartment,
    ) -> Result<Arc<Department>, DirectoryError> {
        if let Some(parent) = input.parent_id {
            self.require_department(parent)?;
        }
        self.fields
            .validate(FieldEntity::Department, &input.custom)?;
        let custom = merge(&Default::default(), &input.custom);
        let department = Department {
            id: DepartmentId::generate(),
            parent_id: input.parent_id,
            name: required_text("name", &input.name)?,
            dept_type: parse_tag("dept_type", &input.dept_type)?,
            order_key: input
                .order_key
                .unwrap_or_else(|| self.next_sibling_key(input.parent_id)),
            custom,
            source: input.source.unwrap_or(RecordSource::Local),
            ldap: input.ldap,
            version: self.version,
        };
        self.record(
            "department.create",
            EntityKind::Department,
            department.id.0,
            None,
            audit_json(&department),
        );
        Ok(self.put_department(department))
    }

    /// Renames, moves, reorders or retypes a department.
    pub fn update_department(
        &mut self,
        id: DepartmentId,
        patch: DepartmentPatch,
    ) -> Result<Arc<Department>, DirectoryError> {
        let before = self.current_department(id)?;
        let mut after = Department::clone(&before);
        if let Some(name) = &patch.name {
            after.name = required_text("name", name)?;
        }
        if let Some(dept_type) = &patch.dept_type {
            after.dept_type = parse_tag("dept_type", dept_type)?;
        }
        if let Some(parent) = patch.parent_id {
            if let Some(parent_id) = parent {
                self.require_department(parent_id)?;
                self.check_no_cycle(id, parent_id)?;
            }
            if parent != before.parent_id && patch.order_key.is_none() {
                after.order_key = self.next_sibling_key(parent);
            }
            after.parent_id = parent;
        }
        if let Some(order_key) = patch.order_key {
            after.order_key = order_key;
        }
        if let Some(custom) = &patch.custom {
            let merged = merge(&before.custom, custom);
            self.fields.validate(FieldEntity::Department, &merged)?;
            after.custom = merged;
        }
        if let Some(ldap) = patch.ldap {
            after.ldap = ldap;
        }
        if after == *before {
            return Ok(before);
        }
        after.version = self.version;
        let action = if after.parent_id != before.parent_id {
            "department.move"
        } else {
            "department.update"
        };
        self.record(
            action,
            EntityKind::Department,
            id.0,
            audit_json(&before),
            audit_json(&after),
        );
        Ok(self.put_department(after))
    }

    /// Deletes a department; its children and members must be given somewhere to go.
    pub fn delete_department(
        &mut self,
        id: DepartmentId,
        plan: DeleteDepartment,
    ) -> Result<(), DirectoryError> {
        let before = self.require_department(id)?.clone();
        let children = self.children_of(id);
        if !children.is_empty() {
            let Some(target) = plan.move_children_to else {
                return Err(DirectoryError::Conflict(format!(
                    "department {id} has {} sub-departments: say where they go with move_children_to",
                    children.len()
                )));
            };
            if target == Some(id) {
                return Err(DirectoryError::invalid(
                    "move_children_to",
                    "cannot be the department being deleted",
                ));
            }
            for child in children {
                self.update_department(
                    child,
                    DepartmentPatch {
                        parent_id: Some(target),
                        ..Default::default()
                    },
                )?;
            }
        }
        let members = self.members_of(id);
        if !members.is_empty() {
            let Some(target) = plan.move_members_to else {
                return Err(DirectoryError::Conflict(format!(
                    "department {id} has {} members: say where they go with move_members_to",
                    members.len()
                )));
            };
            if target == id {
                return Err(DirectoryError::invalid(
                    "move_members_to",
                    "cannot be the department being deleted",
                ));
            }
            self.require_department(target)?;
            for member in members {
                let person = self.require_staff(member)?;
                let mut memberships: Vec<MembershipInput> = Vec::new();
                for m in &person.memberships {
                    let department_id = if m.department_id == id {
                        target
                    } else {
                        m.department_id
                    };
                    if let Some(existing) = memberships
                        .iter_mut()
                        .find(|x| x.department_id == department_id)
                    {
                        existing.primary |= m.primary;
                        continue;
                    }
                    memberships.push(MembershipInput {
                        department_id,
                        order_key: Some(m.order_key),
                        primary: m.primary,
                    });
                }
                self.update_staff(
                    member,
                    StaffPatch {
                        departments: Some(memberships),
                        ..Default::default()
                    },
                )?;
            }
        }
        self.touch(EntityKind::Department, id.0);
        self.departments.insert(id, None);
        self.record(
            "department.delete",
            EntityKind::Department,
            id.0,
            audit_json(&before),
            None,
        );
        Ok(())
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

#[cfg(test)]
mod tests {
    use super::*;

    fn dept(stage: &mut Stage, parent: Option<DepartmentId>, name: &str) -> DepartmentId {
        stage
            .create_department(NewDepartment {
                parent_id: parent,
                name: name.into(),
                dept_type: "team".into(),
                order_key: None,
                custom: Default::default(),
                source: None,
                ldap: None,
            })
            .unwrap()
            .id
    }

    fn moved(
        stage: &mut Stage,
        id: DepartmentId,
        parent: Option<DepartmentId>,
    ) -> Result<Arc<Department>, DirectoryError> {
        stage.update_department(
            id,
            DepartmentPatch {
                parent_id: Some(parent),
                ..Default::default()
            },
        )
    }

    #[test]
    fn moving_under_a_descendant_is_a_conflict() {
        let replica = Replica::default();
        let fields = FieldSchema::default();
        let mut stage = Stage::new(&replica, &fields, Version(1));
        let a = dept(&mut stage, None, "A");
        let b = dept(&mut stage, Some(a), "B");
        let c = dept(&mut stage, Some(b), "C");
        assert!(matches!(
            moved(&mut stage, a, Some(c)),
            Err(DirectoryError::Conflict(_))
        ));
        assert!(matches!(
            moved(&mut stage, a, Some(a)),
            Err(DirectoryError::Conflict(_))
        ));
        // A legal move still works, and the old cycle check sees the new shape.
        moved(&mut stage, c, None).unwrap();
        moved(&mut stage, a, Some(c)).unwrap();
        assert!(matches!(
            moved(&mut stage, c, Some(b)),
            Err(DirectoryError::Conflict(_))
        ));
    }

    #[test]
    fn siblings_are_appended_in_order() {
        let replica = Replica::default();
        let fields = FieldSchema::default();
        let mut stage = Stage::new(&replica, &fields, Version(1));
        let a = dept(&mut stage, None, "A");
        let b = dept(&mut stage, None, "B");
        assert!(stage.department(b).unwrap().order_key > stage.department(a).unwrap().order_key);
    }

    #[test]
    fn deleting_a_non_empty_department_needs_a_plan() {
        let replica = Replica::default();
        let fields = FieldSchema::default();
        let mut stage = Stage::new(&replica, &fields, Version(1));
        let a = dept(&mut stage, None, "A");
        let b = dept(&mut stage, Some(a), "B");
        assert!(matches!(
            stage.delete_department(a, DeleteDepartment::default()),
            Err(DirectoryError::Conflict(_))
        ));
        stage
            .delete_department(
                a,
                DeleteDepartment {
                    move_children_to: Some(None),
                    move_members_to: None,
                },
            )
            .unwrap();
        assert_eq!(stage.department(b).unwrap().parent_id, None);
        let commit = stage.finish();
        // A was created and deleted in the same stage: nothing to store for it.
        assert_eq!(commit.changes.len(), 1);
    }
}
