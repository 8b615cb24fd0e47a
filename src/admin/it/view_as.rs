//! "View as" (IT): pick an employee and see exactly their contact list — the admin API's
//! preview (`api::admin::access::preview_of`: the contacts service's snapshot of that person,
//! their roles, masked fields and warnings), drawn as a department tree and a people table.

use std::collections::HashMap;

use askama::Template;
use axum::{
    extract::{Query, State},
    response::Response,
};

use super::rule_text::{self, field_name};
use crate::admin::{
    error::PortalError,
    page::{self, Chrome},
    session::Staffer,
};
use crate::{
    access::MaskedField,
    contacts::{ContactDepartment, ContactStaff},
    directory::{DepartmentId, StaffId},
    state::AppState,
};

/// At most this many people are listed at once; a filter narrows the rest.
const ROWS: usize = 200;

#[derive(serde::Deserialize, Default)]
pub struct ViewParams {
    #[serde(default)]
    staff: String,
    /// Filters the list by name, pinyin, initials or login.
    #[serde(default)]
    q: String,
    /// Only the people of this department (of the viewer's tree).
    #[serde(default)]
    dept: String,
}

/// A department of the viewer's tree, with its depth in that tree.
struct TreeRow {
    id: String,
    name: String,
    depth: usize,
    people: usize,
    current: bool,
    /// The link that lists this department's people.
    href: String,
}

struct PersonRow {
    name: String,
    login: String,
    /// `None`: masked for this viewer.
    title: Option<String>,
    departments: String,
    emails: Option<String>,
    phones: Option<String>,
}

/// Whom the page shows, and what they see.
struct Viewer {
    id: String,
    name: String,
    roles: Vec<(String, String)>,
    /// "View class 3f2a…": people with the same class see the same list.
    class_note: String,
    people_note: String,
    departments: usize,
    people: usize,
    masked: Vec<String>,
    warnings: Vec<String>,
    tree: Vec<TreeRow>,
    rows: Vec<PersonRow>,
    /// "Showing 200 of 1,204": when the filter matches more than are listed.
    more: Option<String>,
    q: String,
    dept: String,
    dept_name: Option<String>,
}

#[derive(Template)]
#[template(path = "admin/view_as.html")]
struct ViewAsPage {
    c: Chrome,
    viewer: Option<Viewer>,
    /// The picker's text (a login typed that matched nobody stays).
    person_q: String,
    /// A login typed that matched nobody.
    not_found: Option<String>,
}

fn tree(
    departments: &[ContactDepartment],
    counts: &HashMap<DepartmentId, usize>,
    link: &dyn Fn(&str) -> String,
    current: &str,
) -> Vec<TreeRow> {
    let mut children: HashMap<Option<DepartmentId>, Vec<&ContactDepartment>> = HashMap::new();
    for d in departments {
        children.entry(d.parent_id).or_default().push(d);
    }
    for list in children.values_mut() {
        list.sort_by(|a, b| (a.order_key, &a.name).cmp(&(b.order_key, &b.name)));
    }
    let mut out = Vec::new();
    // Depth-first with an explicit stack (trees can be deep).
    let mut stack: Vec<(&ContactDepartment, usize)> = children
        .get(&None)
        .map(|top| top.iter().rev().map(|d| (*d, 0)).collect())
        .unwrap_or_default();
    while let Some((d, depth)) = stack.pop() {
        let id = d.id.to_string();
        out.push(TreeRow {
            current: id == current,
            href: link(&id),
            name: d.name.clone(),
            depth,
            people: counts.get(&d.id).copied().unwrap_or(0),
            id,
        });
        if let Some(below) = children.get(&Some(d.id)) {
            stack.extend(below.iter().rev().map(|c| (*c, depth + 1)));
        }
    }
    out
}

fn matches(person: &ContactStaff, needle: &str) -> bool {
    needle.is_empty()
        || person.login.contains(needle)
        || person.display_name.to_lowercase().contains(needle)
        || person.pinyin_full.contains(needle)
        || person.pinyin_initials.starts_with(needle)
}

/// `GET /admin/view-as?staff=…&q=…&dept=…`.
pub async fn show(
    State(state): State<AppState>,
    Staffer(visitor): Staffer,
    Query(params): Query<ViewParams>,
) -> Result<Response, PortalError> {
    let tr = visitor.tr();
    let staff = rule_text::find_person(&state.directory.read(), &params.staff);
    let not_found = staff.is_none() && !params.staff.is_empty();
    let viewer = match staff {
        None => None,
        Some(id) => Some(viewer(&state, &tr, id, &params)?),
    };
    let mut c = Chrome::new(&state, &visitor, "view_as", "nav.view_as");
    if let Some(v) = &viewer {
        c.title = tr.f("view_as.title_of", &[("name", &v.name)]);
    }
    Ok(page::render(&ViewAsPage {
        c,
        viewer,
        person_q: if not_found {
            params.staff.clone()
        } else {
            String::new()
        },
        not_found: not_found.then(|| tr.f("view_as.not_found", &[("login", &params.staff)])),
    }))
}

fn viewer(
    state: &AppState,
    tr: &crate::admin::i18n::Tr,
    id: StaffId,
    params: &ViewParams,
) -> Result<Viewer, PortalError> {
    let preview = crate::api::admin::access::preview_of(state, id)
        .map_err(|e| PortalError::Api(tr.lang(), e))?;
    let person = state.directory.read().staff(id).cloned();
    let names: HashMap<DepartmentId, &str> = preview
        .view
        .departments
        .iter()
        .map(|d| (d.id, d.name.as_str()))
        .collect();
    let mut counts: HashMap<DepartmentId, usize> = HashMap::new();
    for s in &preview.view.staff {
        for m in &s.departments {
            *counts.entry(m.department_id).or_default() += 1;
        }
    }
    let base = format!("/admin/view-as?staff={id}");
    let link = |dept: &str| format!("{base}&dept={dept}");
    let dept = rule_text::parse_id(&params.dept).map(DepartmentId);
    let needle = params.q.trim().to_lowercase();
    let mut matching: Vec<&ContactStaff> = preview
        .view
        .staff
        .iter()
        .filter(|s| matches(s, &needle))
        .filter(|s| dept.is_none_or(|d| s.departments.iter().any(|m| m.department_id == d)))
        .collect();
    // Only the first ROWS are shown: select them, then sort those (a view may hold 100,000).
    let order = |a: &&ContactStaff, b: &&ContactStaff| {
        (&a.pinyin_full, &a.login).cmp(&(&b.pinyin_full, &b.login))
    };
    if matching.len() > ROWS {
        matching.select_nth_unstable_by(ROWS, order);
    }
    let shown = matching.len().min(ROWS);
    matching[..shown].sort_by(order);
    let rows = matching
        .iter()
        .take(ROWS)
        .map(|s| PersonRow {
            name: s.display_name.clone(),
            login: s.login.clone(),
            title: s.title.clone(),
            departments: s
                .departments
                .iter()
                .filter_map(|m| names.get(&m.department_id).copied())
                .collect::<Vec<_>>()
                .join(", "),
            emails: s.emails.as_ref().map(|e| e.join(", ")),
            phones: s.phones.as_ref().map(|p| p.join(", ")),
        })
        .collect();
    Ok(Viewer {
        id: id.to_string(),
        name: person
            .as_ref()
            .map(|p| p.display_name.clone())
            .unwrap_or_default(),
        roles: preview
            .roles
            .iter()
            .map(|r| (r.id.to_string(), r.name.clone()))
            .collect(),
        class_note: tr.f(
            "view_as.class",
            &[("class", &preview.class.chars().take(12).collect::<String>())],
        ),
        people_note: tr.f(
            "view_as.people_note",
            &[(
                "login",
                &person.as_ref().map(|p| p.login.clone()).unwrap_or_default(),
            )],
        ),
        departments: preview.department_count,
        people: preview.staff_count,
        masked: preview
            .masked_fields
            .iter()
            .filter_map(|m| MaskedField::parse(m).map(|f| field_name(tr, &f)))
            .collect(),
        warnings: preview.warnings.clone(),
        tree: tree(&preview.view.departments, &counts, &link, &params.dept),
        more: (matching.len() > ROWS).then(|| {
            tr.f(
                "view_as.more",
                &[("shown", &ROWS), ("total", &matching.len())],
            )
        }),
        rows,
        q: params.q.clone(),
        dept_name: dept.and_then(|d| names.get(&d).map(|n| n.to_string())),
        dept: params.dept.clone(),
    })
}
