//! The org chart (`/admin/org`, HR): the department tree with lazily loaded children, search
//! by name and pinyin, a panel for the selected department (edit, reorder, move, delete, add a
//! sub-department, its members), and a drawn chart of a subtree. Every write goes through the
//! directory write path as the JSON API does (`edit.rs`); reads use `directory::query`.

mod chart;
mod edit;

pub use chart::show as chart;
pub use edit::{create, delete, drop_on, edit, move_to, reorder};

use std::{collections::HashMap, sync::Arc};

use askama::Template;
use axum::{
    extract::{Path, Query, State},
    http::StatusCode,
    response::Response,
};
use serde::Deserialize;

use super::{
    error::PortalError,
    i18n::Tr,
    page::{self, Chrome},
    session::{HrAdmin, Visitor},
};
use crate::{
    directory::{
        Department, DepartmentId, RecordSource, Replica, StaffId,
        query::{search_departments, sorted_children},
    },
    state::AppState,
};

/// Members listed in the panel (the staff page lists them all).
const PANEL_MEMBERS: usize = 50;
/// Search results shown under the search box.
const SEARCH_LIMIT: usize = 30;

/// A department as a line of the tree.
pub struct NodeView {
    pub id: DepartmentId,
    pub name: String,
    pub version: i64,
    pub has_children: bool,
    /// Direct members.
    pub members: usize,
    /// Its children are rendered below it (the path to the selected department).
    pub expanded: bool,
    pub selected: bool,
}

/// One step of the tree as the template writes it: a node (with its children's list opened
/// when expanded), or the end of an expanded node's list.
pub enum TreeItem {
    Node(NodeView),
    Close,
}

fn node(replica: &Replica, department: &Department, expanded: bool, selected: bool) -> NodeView {
    NodeView {
        id: department.id,
        name: department.name.clone(),
        version: department.version.0,
        has_children: replica.has_children(department.id),
        members: replica.members(department.id).count(),
        expanded,
        selected,
    }
}

/// The tree's top level, with the path to `selected` opened.
fn tree(replica: &Replica, selected: Option<DepartmentId>) -> Vec<TreeItem> {
    let open: Vec<DepartmentId> = selected
        .map(|id| replica.ancestors_and_self(id))
        .unwrap_or_default();
    let mut items = Vec::new();
    // Depth-first with an explicit stack: (children still to write at this level).
    let mut stack: Vec<std::vec::IntoIter<Arc<Department>>> =
        vec![sorted_children(replica, None).into_iter()];
    while let Some(level) = stack.last_mut() {
        match level.next() {
            Some(department) => {
                let expanded = open.contains(&department.id) && replica.has_children(department.id);
                items.push(TreeItem::Node(node(
                    replica,
                    &department,
                    expanded,
                    Some(department.id) == selected,
                )));
                if expanded {
                    stack.push(sorted_children(replica, Some(department.id)).into_iter());
                }
            }
            None => {
                stack.pop();
                if !stack.is_empty() {
                    items.push(TreeItem::Close);
                }
            }
        }
    }
    items
}

/// A person in the panel's member list.
pub struct MemberView {
    pub id: StaffId,
    pub name: String,
    pub title: String,
    pub version: i64,
    pub primary: bool,
    pub active: bool,
}

/// A link in the selected department's path.
pub struct Crumb {
    pub id: DepartmentId,
    pub name: String,
}

/// The selected department.
pub struct Selected {
    pub id: DepartmentId,
    pub name: String,
    pub dept_type: String,
    pub version: i64,
    pub from_ldap: bool,
    /// Why name, type and place cannot be edited here (LDAP owns them), if so.
    pub locked: Option<&'static str>,
    pub parent: Option<Crumb>,
    pub path: Vec<Crumb>,
    pub children: usize,
    pub members: usize,
    pub subtree_members: usize,
    pub member_list: Vec<MemberView>,
    pub is_first: bool,
    pub is_last: bool,
}

fn selected(state: &AppState, replica: &Replica, id: DepartmentId) -> Option<Selected> {
    let department = replica.department(id)?;
    let path: Vec<Crumb> = replica
        .ancestors_and_self(id)
        .into_iter()
        .rev()
        .filter_map(|a| replica.department(a))
        .map(|d| Crumb {
            id: d.id,
            name: d.name.clone(),
        })
        .collect();
    let siblings = sorted_children(replica, department.parent_id);
    let position = siblings.iter().position(|s| s.id == id).unwrap_or(0);
    let mut subtree_members = std::collections::HashSet::new();
    for d in replica.subtree(id) {
        subtree_members.extend(replica.members(d));
    }
    let mut members: Vec<(i64, &str, &crate::directory::Staff)> = replica
        .members(id)
        .filter_map(|s| replica.staff(s))
        .map(|s| {
            let order = s
                .memberships
                .iter()
                .find(|m| m.department_id == id)
                .map_or(0, |m| m.order_key);
            (order, s.pinyin_full.as_str(), s.as_ref())
        })
        .collect();
    members.sort_by(|a, b| (a.0, a.1).cmp(&(b.0, b.1)));
    let member_list = members
        .into_iter()
        .take(PANEL_MEMBERS)
        .map(|(_, _, s)| MemberView {
            id: s.id,
            name: s.display_name.clone(),
            title: s.title.clone(),
            version: s.version.0,
            primary: s.primary_department() == Some(id),
            active: s.is_active(),
        })
        .collect();
    Some(Selected {
        id,
        name: department.name.clone(),
        dept_type: department.dept_type.clone(),
        version: department.version.0,
        from_ldap: department.source == RecordSource::Ldap,
        locked: crate::api::admin::departments::ldap_owner(state, department),
        parent: department.parent_id.and_then(|p| {
            replica.department(p).map(|d| Crumb {
                id: d.id,
                name: d.name.clone(),
            })
        }),
        path,
        children: replica.children(Some(id)).count(),
        members: replica.members(id).count(),
        subtree_members: subtree_members.len(),
        member_list,
        is_first: position == 0,
        is_last: position + 1 >= siblings.len(),
    })
}

/// What a form sent, and why it was refused, to show it again.
#[derive(Default)]
pub struct FormState {
    /// Which form: `edit`, `create`, `move`, `delete`.
    pub form: &'static str,
    pub values: HashMap<&'static str, String>,
    /// Field → message.
    pub errors: HashMap<String, String>,
    /// A message for the whole form (stale edit, conflict).
    pub message: Option<String>,
}

impl FormState {
    pub fn value(&self, form: &str, field: &str) -> Option<&str> {
        (self.form == form)
            .then(|| self.values.get(field).map(String::as_str))
            .flatten()
    }
    pub fn error(&self, form: &str, field: &str) -> Option<&str> {
        (self.form == form)
            .then(|| self.errors.get(field).map(String::as_str))
            .flatten()
    }
    pub fn message_for(&self, form: &str) -> Option<&str> {
        (self.form == form)
            .then_some(self.message.as_deref())
            .flatten()
    }
}

#[derive(Template)]
#[template(path = "admin/org.html")]
struct OrgPage {
    c: Chrome,
    tr: Tr,
    tree: Vec<TreeItem>,
    departments: usize,
    selected: Option<Selected>,
    notice: Option<String>,
    f: FormState,
    org_js: String,
}

#[derive(Deserialize)]
pub struct OrgParams {
    dept: Option<String>,
    notice: Option<String>,
}

/// The notices a redirect after a write may ask for (`?notice=`).
fn notice_text(tr: Tr, key: Option<&str>) -> Option<String> {
    let key = match key? {
        "saved" => "org.notice.saved",
        "created" => "org.notice.created",
        "moved" => "org.notice.moved",
        "deleted" => "org.notice.deleted",
        "person_moved" => "org.notice.person_moved",
        _ => return None,
    };
    Some(tr.t(key).to_owned())
}

/// Renders the page for `dept` with a form's state (errors, typed values).
pub fn render(
    state: &AppState,
    visitor: &Visitor,
    dept: Option<DepartmentId>,
    notice: Option<&str>,
    f: FormState,
    status: StatusCode,
) -> Response {
    let tr = visitor.tr();
    let replica = state.directory.read();
    let selected = dept.and_then(|id| selected(state, &replica, id));
    let page = OrgPage {
        c: Chrome::new(state, visitor, "org", "nav.org"),
        tr,
        tree: tree(&replica, selected.as_ref().map(|s| s.id)),
        departments: replica.department_count(),
        selected,
        notice: notice_text(tr, notice),
        f,
        org_js: super::assets::url("org.js"),
    };
    drop(replica);
    page::render_status(status, &page)
}

/// A department id from a query or form value (`None` when absent or not an id).
pub fn parse_id(text: Option<&str>) -> Option<DepartmentId> {
    text.and_then(|t| t.trim().parse().ok()).map(DepartmentId)
}

/// `GET /admin/org?dept=…`.
pub async fn show(
    State(state): State<AppState>,
    hr: HrAdmin,
    Query(params): Query<OrgParams>,
) -> Response {
    let visitor = hr.0;
    let dept = parse_id(params.dept.as_deref());
    render(
        &state,
        &visitor,
        dept,
        params.notice.as_deref(),
        FormState::default(),
        StatusCode::OK,
    )
}

#[derive(Template)]
#[template(path = "admin/org_children.html")]
struct ChildrenFragment {
    tr: Tr,
    nodes: Vec<NodeView>,
}

/// `GET /admin/org/tree/{id}`: the children of a department, for the tree (htmx).
pub async fn children(
    State(state): State<AppState>,
    hr: HrAdmin,
    Path(id): Path<String>,
) -> Result<Response, PortalError> {
    let visitor = hr.0;
    let id = parse_id(Some(&id)).ok_or(PortalError::NotFound(visitor.lang))?;
    let replica = state.directory.read();
    if replica.department(id).is_none() {
        return Err(PortalError::NotFound(visitor.lang));
    }
    let nodes = sorted_children(&replica, Some(id))
        .iter()
        .map(|d| node(&replica, d, false, false))
        .collect();
    drop(replica);
    Ok(page::render(&ChildrenFragment {
        tr: visitor.tr(),
        nodes,
    }))
}

/// A search result or a choice in a department picker.
pub struct HitView {
    pub id: DepartmentId,
    pub name: String,
    pub path: String,
    pub dept_type: String,
}

#[derive(Template)]
#[template(path = "admin/org_search.html")]
struct SearchFragment {
    tr: Tr,
    q: String,
    hits: Vec<HitView>,
    total: usize,
    /// A picker: radio buttons named this; a search: links.
    pick: Option<String>,
}

#[derive(Deserialize)]
pub struct SearchParams {
    #[serde(default)]
    q: String,
    /// For a picker: the form field the choice fills.
    pick: Option<String>,
    /// For a picker: a department that cannot be chosen (with its subtree).
    exclude: Option<String>,
}

/// `GET /admin/org/search?q=…[&pick=field&exclude=id]`: departments by name, pinyin or
/// initials, as links (the tree's search) or as choices (the move and delete dialogs).
pub async fn search(
    State(state): State<AppState>,
    hr: HrAdmin,
    Query(params): Query<SearchParams>,
) -> Response {
    let visitor = hr.0;
    let replica = state.directory.read();
    let excluded: std::collections::HashSet<DepartmentId> = parse_id(params.exclude.as_deref())
        .map(|id| replica.subtree(id).into_iter().collect())
        .unwrap_or_default();
    let (found, total) = search_departments(
        &replica,
        &params.q,
        SEARCH_LIMIT + excluded.len().min(SEARCH_LIMIT),
    );
    let hits = found
        .into_iter()
        .filter(|h| !excluded.contains(&h.department.id))
        .take(SEARCH_LIMIT)
        .map(|h| HitView {
            id: h.department.id,
            name: h.department.name.clone(),
            path: h.path.join(" / "),
            dept_type: h.department.dept_type.clone(),
        })
        .collect();
    drop(replica);
    // Only names of form fields we use may come back as a radio group's name.
    let pick = params.pick.filter(|p| {
        [
            "parent",
            "children_target",
            "members_target",
            "department",
            "add_department",
        ]
        .contains(&p.as_str())
    });
    page::render(&SearchFragment {
        tr: visitor.tr(),
        q: params.q,
        hits,
        total,
        pick,
    })
}
