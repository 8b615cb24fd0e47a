//! What an app may reach: its reach names departments (with everything below them) or groups;
//! a person is within it through a department membership or a group membership. The same
//! rules guard the directory lookups apps may make (a person, a department's people).

use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use super::{App, Reach, ReachKind};
use crate::{
    directory::{DepartmentId, StaffId},
    im::{ConversationId, ConversationKind, Im, ImError},
};

/// A person as an app sees them.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AppPerson {
    pub id: StaffId,
    pub login: String,
    pub display_name: String,
    pub title: String,
    /// Their departments, the primary one first.
    pub departments: Vec<AppDepartment>,
}

/// A department of a person, as an app sees it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AppDepartment {
    pub id: DepartmentId,
    pub name: String,
    pub primary: bool,
}

fn out_of_reach(what: &str) -> ImError {
    ImError::Forbidden(format!("{what} is outside this app's reach"))
}

impl Im {
    /// Checks that the ids of a reach exist (departments, or group conversations).
    pub(super) fn check_reach_ids(&self, reach: &Reach) -> Result<(), ImError> {
        match reach.kind {
            ReachKind::Everyone => Ok(()),
            ReachKind::Departments => {
                let replica = self.directory.read();
                match reach
                    .ids
                    .iter()
                    .find(|id| replica.department(DepartmentId(**id)).is_none())
                {
                    Some(id) => Err(ImError::invalid("reach.ids", format!("no department {id}"))),
                    None => Ok(()),
                }
            }
            ReachKind::Groups => {
                let state = self.state();
                let missing = reach.ids.iter().find(|id| {
                    state
                        .get(ConversationId(**id))
                        .is_none_or(|c| c.kind != ConversationKind::Group)
                });
                match missing {
                    Some(id) => Err(ImError::invalid("reach.ids", format!("no group {id}"))),
                    None => Ok(()),
                }
            }
        }
    }

    fn department_in_reach(&self, app: &App, department: DepartmentId) -> bool {
        match app.reach.kind {
            ReachKind::Everyone => true,
            ReachKind::Groups => false,
            ReachKind::Departments => self
                .directory
                .read()
                .ancestors_and_self(department)
                .iter()
                .any(|d| app.reach.ids.contains(&d.0)),
        }
    }

    /// Whether an app may send to, or look up, a person.
    pub(super) fn person_in_reach(&self, app: &App, staff: StaffId) -> Result<(), ImError> {
        let departments: Vec<DepartmentId> = {
            let replica = self.directory.read();
            let person = replica
                .staff(staff)
                .filter(|s| s.is_active())
                .ok_or_else(|| ImError::NotFound(format!("person {}", staff.0)))?;
            person.memberships.iter().map(|m| m.department_id).collect()
        };
        let reached = match app.reach.kind {
            ReachKind::Everyone => true,
            ReachKind::Departments => departments
                .into_iter()
                .any(|d| self.department_in_reach(app, d)),
            ReachKind::Groups => {
                let state = self.state();
                app.reach.ids.iter().any(|g| {
                    state
                        .get(ConversationId(*g))
                        .is_some_and(|c| !c.dissolved && c.members.contains_key(&staff))
                })
            }
        };
        if reached {
            Ok(())
        } else {
            Err(out_of_reach(&format!("person {}", staff.0)))
        }
    }

    /// A group an app may send to.
    pub(super) fn group_in_reach(
        &self,
        app: &App,
        group: ConversationId,
    ) -> Result<ConversationId, ImError> {
        let exists = self
            .state()
            .get(group)
            .is_some_and(|c| c.kind == ConversationKind::Group && !c.dissolved);
        if !exists {
            return Err(ImError::NotFound(format!("group {group}")));
        }
        let reached = match app.reach.kind {
            ReachKind::Everyone => true,
            ReachKind::Groups => app.reach.ids.contains(&group.0),
            ReachKind::Departments => false,
        };
        if reached {
            Ok(group)
        } else {
            Err(out_of_reach(&format!("group {group}")))
        }
    }

    /// The chat of a department an app may send to.
    pub(super) fn department_chat_in_reach(
        &self,
        app: &App,
        department: DepartmentId,
    ) -> Result<ConversationId, ImError> {
        let chat = self
            .state()
            .by_department(department)
            .ok_or_else(|| ImError::NotFound(format!("department {}", department.0)))?;
        if self.department_in_reach(app, department) {
            Ok(chat)
        } else {
            Err(out_of_reach(&format!("department {}", department.0)))
        }
    }

    /// A person (by id or login) as an app may see them.
    pub async fn app_person(&self, app: &App, who: &str) -> Result<AppPerson, ImError> {
        let id = {
            let replica = self.directory.read();
            match Uuid::parse_str(who) {
                Ok(id) => replica.staff(StaffId(id)).map(|s| s.id),
                Err(_) => replica.staff_by_login(who).map(|s| s.id),
            }
        }
        .ok_or_else(|| ImError::NotFound("person".into()))?;
        self.person_in_reach(app, id)?;
        let replica = self.directory.read();
        let person = replica
            .staff(id)
            .ok_or_else(|| ImError::NotFound("person".into()))?;
        let mut departments: Vec<AppDepartment> = person
            .memberships
            .iter()
            .filter_map(|m| {
                replica.department(m.department_id).map(|d| AppDepartment {
                    id: d.id,
                    name: d.name.clone(),
                    primary: m.primary,
                })
            })
            .collect();
        departments.sort_by_key(|d| !d.primary);
        Ok(AppPerson {
            id: person.id,
            login: person.login.clone(),
            display_name: person.display_name.clone(),
            title: person.title.clone(),
            departments,
        })
    }

    /// The active people of a department (direct members) an app may reach.
    pub async fn app_department_people(
        &self,
        app: &App,
        department: DepartmentId,
    ) -> Result<Vec<AppPerson>, ImError> {
        let members: Vec<StaffId> = {
            let replica = self.directory.read();
            replica
                .department(department)
                .ok_or_else(|| ImError::NotFound("department".into()))?;
            replica.members(department).collect()
        };
        if !self.department_in_reach(app, department) && app.reach.kind != ReachKind::Groups {
            return Err(out_of_reach(&format!("department {}", department.0)));
        }
        let mut out = Vec::new();
        for staff in members {
            if self.person_in_reach(app, staff).is_ok() {
                out.push(self.app_person(app, &staff.0.to_string()).await?);
            }
        }
        Ok(out)
    }
}
