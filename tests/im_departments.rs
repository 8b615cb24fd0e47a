//! Department chats after a burst of directory commits far larger than the department count
//! (hires one by one, moves, renames, deletions, as an LDAP sync or a bulk import makes them):
//! the follower, whose inbox holds at most one entry per department, still brings every chat
//! in line — created, renamed, members added and removed, dissolved.

use crate::common;

use std::collections::BTreeSet;

use common::{Backend, Storage};
use switchboard::{
    app::Application,
    directory::{
        DeleteDepartment, DepartmentId, DepartmentPatch, MembershipInput, NewDepartment, NewStaff,
        StaffId, StaffPatch,
    },
    store::{Actor, Source},
};

on_both_backends!(department_chats_catch_up_after_a_burst);

const DEPARTMENTS: usize = 12;

/// A department chat as it should be: the department's name and direct members.
type Chat = (String, BTreeSet<StaffId>);
const PEOPLE: usize = 240;

fn member_of(department: DepartmentId) -> Vec<MembershipInput> {
    vec![MembershipInput {
        department_id: department,
        order_key: None,
        primary: true,
    }]
}

async fn department_chats_catch_up_after_a_burst(backend: Backend) {
    let storage = Storage::new(backend).await;
    let application = Application::build(storage.config(false))
        .await
        .expect("build");
    let state = application.state().clone();
    let (directory, im) = (state.directory.clone(), state.im.clone());
    let actor = Actor::new("burst", Source::Api);

    // About 500 commits, one after the other, without waiting for the follower.
    let mut departments: Vec<DepartmentId> = Vec::new();
    for k in 0..DEPARTMENTS {
        let (department, _) = directory
            .write(&actor, |stage| {
                stage.create_department(NewDepartment {
                    parent_id: None,
                    name: format!("Team {k}"),
                    dept_type: "team".into(),
                    order_key: None,
                    custom: Default::default(),
                    source: None,
                    ldap: None,
                })
            })
            .await
            .expect("department");
        departments.push(department.id);
    }
    let mut people: Vec<StaffId> = Vec::new();
    for k in 0..PEOPLE {
        let (person, _) = directory
            .write(&actor, |stage| {
                stage.create_staff(NewStaff {
                    login: format!("p{k}"),
                    display_name: format!("Person {k}"),
                    title: String::new(),
                    emails: vec![],
                    phones: vec![],
                    staff_type: "employee".into(),
                    custom: Default::default(),
                    departments: member_of(departments[k % DEPARTMENTS]),
                    source: None,
                    ldap: None,
                })
            })
            .await
            .expect("person");
        people.push(person.id);
    }
    for (k, person) in people.iter().enumerate().step_by(2) {
        let to = departments[(k * 5 + 1) % DEPARTMENTS];
        directory
            .write(&actor, |stage| {
                stage.update_staff(
                    *person,
                    StaffPatch {
                        departments: Some(member_of(to)),
                        ..Default::default()
                    },
                )
            })
            .await
            .expect("move");
    }
    for department in departments.iter().take(3) {
        directory
            .write(&actor, |stage| {
                stage.update_department(
                    *department,
                    DepartmentPatch {
                        name: Some("Renamed".into()),
                        ..Default::default()
                    },
                )
            })
            .await
            .expect("rename");
    }
    let (gone, heir) = (departments[DEPARTMENTS - 1], departments[0]);
    directory
        .write(&actor, |stage| {
            stage.delete_department(
                gone,
                DeleteDepartment {
                    move_children_to: Some(None),
                    move_members_to: Some(heir),
                },
            )
        })
        .await
        .expect("delete");

    im.departments_settled().await;
    // What the directory says now (read first: messaging reads the replica itself).
    let wanted: Vec<(DepartmentId, Option<Chat>)> = {
        let replica = directory.read();
        departments
            .iter()
            .map(|d| {
                let now = replica
                    .department(*d)
                    .map(|now| (now.name.clone(), replica.members(*d).collect()));
                (*d, now)
            })
            .collect()
    };
    let mut in_chats = 0;
    for (department, wanted) in wanted {
        let chat = im.department_conversation(department);
        let Some((name, expected)) = wanted else {
            assert_eq!(chat, None, "the deleted department's chat is dissolved");
            continue;
        };
        let chat = chat.unwrap_or_else(|| panic!("department {name} has a chat"));
        let info = im.conversation_info(None, chat).expect("chat info");
        assert!(!info.dissolved);
        assert_eq!(info.name, name);
        let members: BTreeSet<StaffId> = info.members.iter().map(|m| m.staff).collect();
        assert_eq!(
            members, expected,
            "the chat of {name} has the department's members"
        );
        in_chats += members.len();
    }
    assert_eq!(in_chats, PEOPLE, "everyone is in one department chat");
    state.contacts.flush().await;
    im.shutdown().await;
}
