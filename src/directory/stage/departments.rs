//! The department half of a stage: create, update (rename, retype, reorder, move), delete.

use std::sync::Arc;

use super::{Stage, audit_json};
use crate::{
    directory::{
        DirectoryError,
        fields::merge,
        input::{DeleteDepartment, DepartmentPatch, MembershipInput, NewDepartment, StaffPatch},
        model::{Department, DepartmentId, FieldEntity, RecordSource, parse_tag, required_text},
    },
    store::EntityKind,
};

impl Stage<'_> {
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
            .map_or(0, |max| max.saturating_add(1))
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
        DirectoryError::check_version("department", id, patch.if_version, before.version)?;
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::directory::{fields::FieldSchema, replica::Replica};
    use crate::store::Version;

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
