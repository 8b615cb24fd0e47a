//! The in-memory replica of the directory: loaded once at start, then moved forward by the
//! write path after every commit, so that reads never touch SQL.

use std::{
    collections::{HashMap, HashSet},
    sync::Arc,
};

use super::model::{Department, DepartmentId, Staff, StaffId};
use crate::store::Version;

/// A consistent picture of the directory at one version.
#[derive(Debug, Default, Clone)]
pub struct Replica {
    version: Version,
    departments: HashMap<DepartmentId, Arc<Department>>,
    staff: HashMap<StaffId, Arc<Staff>>,
    children: HashMap<Option<DepartmentId>, HashSet<DepartmentId>>,
    members: HashMap<DepartmentId, HashSet<StaffId>>,
    logins: HashMap<String, StaffId>,
    ldap_departments: HashMap<String, DepartmentId>,
    ldap_staff: HashMap<String, StaffId>,
    /// Per person, what a staff search looks in, folded once when the person is stored (a
    /// search of 100,000 people is then one substring test each).
    search: HashMap<StaffId, SearchText>,
}

/// A person's searchable text: name, login, emails and full pinyin, lower case, separated by
/// NUL (which no search text holds); and the initials, which match by prefix only.
#[derive(Debug, Clone)]
struct SearchText {
    text: Box<str>,
    initials: Box<str>,
}

impl SearchText {
    fn of(person: &Staff) -> Self {
        let mut text = person.display_name.to_lowercase();
        text.push('\0');
        text.push_str(&person.login.to_lowercase());
        for email in &person.emails {
            text.push('\0');
            text.push_str(&email.to_lowercase());
        }
        text.push('\0');
        text.push_str(&person.pinyin_full);
        Self {
            text: text.into(),
            initials: person.pinyin_initials.as_str().into(),
        }
    }
}

/// One entity's state before and after a commit (`None` = absent).
#[derive(Debug, Clone)]
pub enum Change {
    Department {
        before: Option<Arc<Department>>,
        after: Option<Arc<Department>>,
    },
    Staff {
        before: Option<Arc<Staff>>,
        after: Option<Arc<Staff>>,
    },
}

impl Replica {
    /// Builds the replica from every stored record.
    pub fn load(version: Version, departments: Vec<Department>, staff: Vec<Staff>) -> Self {
        let mut replica = Self {
            version,
            ..Self::default()
        };
        replica.departments.reserve(departments.len());
        replica.staff.reserve(staff.len());
        for department in departments {
            replica.put_department(Arc::new(department));
        }
        for person in staff {
            replica.put_staff(Arc::new(person));
        }
        replica
    }

    pub fn version(&self) -> Version {
        self.version
    }

    pub fn department(&self, id: DepartmentId) -> Option<&Arc<Department>> {
        self.departments.get(&id)
    }

    pub fn staff(&self, id: StaffId) -> Option<&Arc<Staff>> {
        self.staff.get(&id)
    }

    pub fn departments(&self) -> impl Iterator<Item = &Arc<Department>> {
        self.departments.values()
    }

    pub fn all_staff(&self) -> impl Iterator<Item = &Arc<Staff>> {
        self.staff.values()
    }

    /// The people whose name, login, email or full pinyin contains `needle`, or whose initials
    /// start with it. `needle` is lower case (a search text folded by the caller).
    pub fn staff_matching<'a>(&'a self, needle: &'a str) -> impl Iterator<Item = &'a Arc<Staff>> {
        self.search
            .iter()
            .filter(move |(_, s)| {
                !needle.contains('\0')
                    && (s.initials.starts_with(needle) || s.text.contains(needle))
            })
            .filter_map(|(id, _)| self.staff.get(id))
    }

    pub fn department_count(&self) -> usize {
        self.departments.len()
    }

    pub fn staff_count(&self) -> usize {
        self.staff.len()
    }

    pub fn staff_by_login(&self, login: &str) -> Option<&Arc<Staff>> {
        self.logins.get(login).and_then(|id| self.staff.get(id))
    }

    pub fn department_by_ldap_id(&self, stable_id: &str) -> Option<&Arc<Department>> {
        self.ldap_departments
            .get(stable_id)
            .and_then(|id| self.departments.get(id))
    }

    pub fn staff_by_ldap_id(&self, stable_id: &str) -> Option<&Arc<Staff>> {
        self.ldap_staff
            .get(stable_id)
            .and_then(|id| self.staff.get(id))
    }

    /// Direct children of a department (`None`: the top-level departments).
    pub fn children(
        &self,
        parent: Option<DepartmentId>,
    ) -> impl Iterator<Item = DepartmentId> + '_ {
        self.children.get(&parent).into_iter().flatten().copied()
    }

    /// Direct members of a department.
    pub fn members(&self, department: DepartmentId) -> impl Iterator<Item = StaffId> + '_ {
        self.members.get(&department).into_iter().flatten().copied()
    }

    pub fn has_children(&self, department: DepartmentId) -> bool {
        self.children
            .get(&Some(department))
            .is_some_and(|c| !c.is_empty())
    }

    pub fn has_members(&self, department: DepartmentId) -> bool {
        self.members.get(&department).is_some_and(|m| !m.is_empty())
    }

    /// The department and all its ancestors, nearest first.
    pub fn ancestors_and_self(&self, id: DepartmentId) -> Vec<DepartmentId> {
        let mut path = Vec::new();
        let mut next = Some(id);
        while let Some(current) = next {
            // A cycle cannot be stored (the write path refuses it); the guard only bounds work.
            if path.len() > self.departments.len() {
                break;
            }
            path.push(current);
            next = self.departments.get(&current).and_then(|d| d.parent_id);
        }
        path
    }

    /// The department and everything below it.
    pub fn subtree(&self, root: DepartmentId) -> Vec<DepartmentId> {
        let mut out = vec![root];
        let mut index = 0;
        while index < out.len() {
            let current = out[index];
            out.extend(self.children(Some(current)));
            index += 1;
        }
        out
    }

    /// Moves the replica to `version` by applying the committed changes.
    pub fn apply(&mut self, version: Version, changes: &[Change]) {
        for change in changes {
            match change {
                Change::Department { before, after } => {
                    if let Some(old) = before {
                        self.take_department(old.id);
                    }
                    if let Some(new) = after {
                        self.put_department(new.clone());
                    }
                }
                Change::Staff { before, after } => {
                    if let Some(old) = before {
                        self.take_staff(old.id);
                    }
                    if let Some(new) = after {
                        self.put_staff(new.clone());
                    }
                }
            }
        }
        self.version = version;
    }

    fn put_department(&mut self, department: Arc<Department>) {
        self.children
            .entry(department.parent_id)
            .or_default()
            .insert(department.id);
        if let Some(ldap) = &department.ldap {
            self.ldap_departments
                .insert(ldap.stable_id.clone(), department.id);
        }
        self.departments.insert(department.id, department);
    }

    fn take_department(&mut self, id: DepartmentId) {
        if let Some(old) = self.departments.remove(&id) {
            if let Some(siblings) = self.children.get_mut(&old.parent_id) {
                siblings.remove(&id);
            }
            if let Some(ldap) = &old.ldap {
                self.ldap_departments.remove(&ldap.stable_id);
            }
        }
    }

    fn put_staff(&mut self, person: Arc<Staff>) {
        for membership in &person.memberships {
            self.members
                .entry(membership.department_id)
                .or_default()
                .insert(person.id);
        }
        self.logins.insert(person.login.clone(), person.id);
        if let Some(ldap) = &person.ldap {
            self.ldap_staff.insert(ldap.stable_id.clone(), person.id);
        }
        self.search.insert(person.id, SearchText::of(&person));
        self.staff.insert(person.id, person);
    }

    fn take_staff(&mut self, id: StaffId) {
        self.search.remove(&id);
        if let Some(old) = self.staff.remove(&id) {
            for membership in &old.memberships {
                if let Some(members) = self.members.get_mut(&membership.department_id) {
                    members.remove(&id);
                }
            }
            self.logins.remove(&old.login);
            if let Some(ldap) = &old.ldap {
                self.ldap_staff.remove(&ldap.stable_id);
            }
        }
    }
}
