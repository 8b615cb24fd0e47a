//! Staff (`/admin/staff`, HR): the list with search (name, pinyin, initials, login, email),
//! filters (department with or without its subtree, type, status, source) and keyset paging
//! (`directory::query`: one scan, no sort of the company, whatever the page); one person's
//! page to edit, disable or enable, and reset a local password (`edit.rs`).

mod account;
mod csv;
mod edit;
mod import;

pub use account::{password, set_status};
pub use edit::{save, show as edit_page};
pub use import::{export, form as import_form, submit as import_submit};

use std::collections::BTreeSet;

use askama::Template;
use axum::{
    extract::{Query, State},
    response::Response,
};
use serde::Deserialize;

use super::{
    form::url_encode,
    i18n::Tr,
    page::{self, Chrome},
    session::HrAdmin,
};
use crate::{
    directory::{
        DepartmentId, RecordSource, Replica, StaffStatus,
        query::{PageAt, StaffKey, StaffQuery, department_path},
    },
    state::AppState,
};

/// People per page.
const PAGE: usize = 50;

/// The list's query string, as links and the filter form write it.
#[derive(Debug, Default, Deserialize)]
pub struct ListParams {
    #[serde(default)]
    q: String,
    department: Option<String>,
    subtree: Option<String>,
    #[serde(rename = "type")]
    staff_type: Option<String>,
    status: Option<String>,
    source: Option<String>,
    after: Option<String>,
    before: Option<String>,
}

impl ListParams {
    /// The filters (no position) as a query string, for page links and the export.
    fn filters(&self) -> String {
        let mut out = Vec::new();
        let mut push = |name: &str, value: Option<&str>| {
            if let Some(v) = value.filter(|v| !v.trim().is_empty()) {
                out.push(format!("{name}={}", url_encode(v)));
            }
        };
        push("q", Some(&self.q));
        push("department", self.department.as_deref());
        push("subtree", self.subtree.as_deref());
        push("type", self.staff_type.as_deref());
        push("status", self.status.as_deref());
        push("source", self.source.as_deref());
        out.join("&")
    }

    fn department(&self) -> Option<DepartmentId> {
        super::org::parse_id(self.department.as_deref())
    }

    fn subtree(&self) -> bool {
        self.subtree
            .as_deref()
            .is_some_and(|s| !s.is_empty() && s != "0")
    }

    /// The directory query these parameters ask for.
    pub fn query(&self, replica: &Replica) -> StaffQuery {
        StaffQuery {
            text: Some(self.q.clone()),
            departments: self.department().map(|id| {
                if self.subtree() {
                    replica.subtree(id).into_iter().collect()
                } else {
                    [id].into()
                }
            }),
            staff_type: self.staff_type.clone().filter(|t| !t.is_empty()),
            status: match self.status.as_deref() {
                Some("active") => Some(StaffStatus::Active),
                Some("disabled") => Some(StaffStatus::Disabled),
                _ => None,
            },
            source: self.source.as_deref().and_then(RecordSource::parse),
        }
    }
}

/// A person as a row of the list.
pub struct Row {
    pub id: String,
    pub name: String,
    pub login: String,
    pub title: String,
    pub department: String,
    pub staff_type: String,
    pub active: bool,
    pub ldap: bool,
}

#[derive(Template)]
#[template(path = "admin/staff.html")]
struct StaffPage {
    c: Chrome,
    tr: Tr,
    p: ListParams,
    /// The department filter's path, when there is one.
    department_path: Option<String>,
    types: Vec<String>,
    total: usize,
    rows: Vec<Row>,
    prev: Option<String>,
    next: Option<String>,
    export: String,
}

/// `GET /admin/staff`.
pub async fn list(
    State(state): State<AppState>,
    hr: HrAdmin,
    Query(params): Query<ListParams>,
) -> Response {
    let visitor = hr.0;
    let replica = state.directory.read();
    let at = match (&params.after, &params.before) {
        (Some(after), _) => StaffKey::decode(after).map_or(PageAt::First, PageAt::After),
        (None, Some(before)) => StaffKey::decode(before).map_or(PageAt::First, PageAt::Before),
        _ => PageAt::First,
    };
    let query = params.query(&replica);
    let page = query.page(&replica, &at, PAGE);
    let filters = params.filters();
    let link = |cursor: &str, key: &StaffKey| {
        let sep = if filters.is_empty() { "" } else { "&" };
        format!(
            "/admin/staff?{filters}{sep}{cursor}={}",
            url_encode(&key.encode())
        )
    };
    let prev = page
        .items
        .first()
        .filter(|_| page.has_prev)
        .map(|s| link("before", &StaffKey::of(s)));
    let next = page
        .items
        .last()
        .filter(|_| page.has_next)
        .map(|s| link("after", &StaffKey::of(s)));
    let rows = page
        .items
        .iter()
        .map(|s| Row {
            id: s.id.to_string(),
            name: s.display_name.clone(),
            login: s.login.clone(),
            title: s.title.clone(),
            department: s
                .primary_department()
                .and_then(|d| replica.department(d))
                .map(|d| d.name.clone())
                .unwrap_or_default(),
            staff_type: s.staff_type.clone(),
            active: s.is_active(),
            ldap: s.source == RecordSource::Ldap,
        })
        .collect();
    let department_path = params
        .department()
        .filter(|id| replica.department(*id).is_some())
        .map(|id| department_path(&replica, id).join(" / "));
    let types = staff_types(&replica);
    drop(replica);
    let export = format!("/admin/staff/export?{filters}");
    page::render(&StaffPage {
        c: Chrome::new(&state, &visitor, "staff", "nav.staff"),
        tr: visitor.tr(),
        p: params,
        department_path,
        types,
        total: page.total,
        rows,
        prev,
        next,
        export,
    })
}

/// Every staff type in use, for the filter.
fn staff_types(replica: &Replica) -> Vec<String> {
    let set: BTreeSet<&str> = replica.all_staff().map(|s| s.staff_type.as_str()).collect();
    set.into_iter().map(str::to_owned).collect()
}
