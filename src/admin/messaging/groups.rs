//! Chat groups (`/admin/groups`, IT): every active group, searched by name and paged through the
//! database (`Im::admin_groups`); one group's page with its members and their roles, where IT
//! hands the group to another member, removes or adds members (the people picker) and
//! dissolves it. Each change is `Im::admin_*`: made as the system, with the notice members'
//! clients receive, and audited under the administrator's name with source `portal`.

use askama::Template;
use axum::{
    extract::{Path, Query, State},
    http::StatusCode,
    response::{IntoResponse, Redirect, Response},
};
use serde::Deserialize;

use super::notice;
use crate::admin::{
    dashboard::local_time,
    error::PortalError,
    form::url_encode,
    it::{
        It,
        posted::{FieldErrors, Posted},
    },
    page::{self, Chrome},
    session::Visitor,
};
use crate::{
    directory::StaffId,
    im::{ConversationId, GroupQuery, ImError, Role},
    state::AppState,
};

/// Groups per page.
const PAGE: u64 = 50;
/// Members a group's page lists (the count says how many more there are).
const SHOWN_MEMBERS: usize = 500;

#[derive(Debug, Default, Deserialize)]
pub struct ListParams {
    #[serde(default)]
    q: String,
    page: Option<u64>,
}

struct GroupRow {
    id: String,
    name: String,
    owner: String,
    members: i64,
    created: String,
    last: String,
}

#[derive(Template)]
#[template(path = "admin/groups.html")]
struct GroupsPage {
    c: Chrome,
    q: String,
    total: i64,
    rows: Vec<GroupRow>,
    /// "Page 2 of 7".
    position: String,
    prev: Option<String>,
    next: Option<String>,
    notice: Option<String>,
}

fn failed(visitor: &Visitor) -> impl Fn(ImError) -> PortalError + '_ {
    |e| PortalError::Api(visitor.lang, e.into())
}

/// `GET /admin/groups?q=&page=`.
pub async fn list(
    State(state): State<AppState>,
    It(visitor): It,
    Query(params): Query<ListParams>,
) -> Result<Response, PortalError> {
    let tr = visitor.tr();
    let number = params.page.unwrap_or(1).clamp(1, u64::MAX / PAGE);
    let query = GroupQuery {
        q: params.q.trim().to_owned(),
        limit: PAGE,
        offset: (number - 1) * PAGE,
    };
    let found = state
        .im
        .admin_groups(&query)
        .await
        .map_err(failed(&visitor))?;
    let pages = (found.total.max(0) as u64).div_ceil(PAGE).max(1);
    let link = |n: u64| {
        let q = if query.q.is_empty() {
            String::new()
        } else {
            format!("q={}&", url_encode(&query.q))
        };
        format!("/admin/groups?{q}page={n}")
    };
    let rows = found
        .items
        .into_iter()
        .map(|g| GroupRow {
            id: g.id.to_string(),
            name: g.name,
            owner: g.owner_name.unwrap_or_else(|| "—".into()),
            members: g.members,
            created: local_time(g.created_at),
            last: g.last_activity.map(local_time).unwrap_or_default(),
        })
        .collect();
    Ok(page::render(&GroupsPage {
        c: Chrome::new(&state, &visitor, "groups", "nav.groups"),
        q: query.q.clone(),
        total: found.total,
        rows,
        position: tr.f(
            "groups.position",
            &[("page", &number.min(pages)), ("pages", &pages)],
        ),
        prev: (number > 1).then(|| link((number - 1).min(pages))),
        next: (number < pages).then(|| link(number + 1)),
        notice: notice(&tr, &visitor.path, "groups", &["dissolved"]),
    }))
}

struct MemberRow {
    id: String,
    name: String,
    login: String,
    /// i18n key of the role.
    role: &'static str,
    owner: bool,
    /// The question before removing them.
    remove_confirm: String,
}

#[derive(Template)]
#[template(path = "admin/group.html")]
struct GroupPage {
    c: Chrome,
    id: String,
    name: String,
    announcement: String,
    dissolved: bool,
    member_count: usize,
    members: Vec<MemberRow>,
    more: Option<String>,
    errors: FieldErrors,
    person_q: String,
    notice: Option<String>,
}

fn parse_id(visitor: &Visitor, id: &str) -> Result<ConversationId, PortalError> {
    id.parse()
        .map(ConversationId)
        .map_err(|_| PortalError::NotFound(visitor.lang))
}

fn role_key(role: Role) -> &'static str {
    match role {
        Role::Owner => "groups.role.owner",
        Role::Admin => "groups.role.admin",
        Role::Member => "groups.role.member",
    }
}

fn group_page(
    state: &AppState,
    visitor: &Visitor,
    id: ConversationId,
) -> Result<GroupPage, PortalError> {
    let tr = visitor.tr();
    let info = state.im.admin_group(id).map_err(failed(visitor))?;
    let replica = state.directory.read();
    let members: Vec<MemberRow> = info
        .members
        .iter()
        .take(SHOWN_MEMBERS)
        .map(|m| {
            let person = replica.staff(m.staff);
            let name = person.map_or_else(|| m.staff.to_string(), |s| s.display_name.clone());
            MemberRow {
                id: m.staff.to_string(),
                remove_confirm: tr.f("groups.remove_confirm", &[("name", &name)]),
                name,
                login: person.map(|s| s.login.clone()).unwrap_or_default(),
                role: role_key(m.role),
                owner: m.role == Role::Owner,
            }
        })
        .collect();
    drop(replica);
    let count = info.members.len();
    let mut page = GroupPage {
        c: Chrome::new(state, visitor, "groups", "nav.groups"),
        id: id.to_string(),
        name: info.name.clone(),
        announcement: info.announcement,
        dissolved: info.dissolved,
        member_count: count,
        members,
        more: (count > SHOWN_MEMBERS).then(|| tr.n("groups.more", count - SHOWN_MEMBERS)),
        errors: FieldErrors::default(),
        person_q: String::new(),
        notice: notice(&tr, &visitor.path, "groups", &["owner", "removed", "added"]),
    };
    page.c.title = info.name;
    Ok(page)
}

/// `GET /admin/groups/{id}`.
pub async fn show(
    State(state): State<AppState>,
    It(visitor): It,
    Path(id): Path<String>,
) -> Result<Response, PortalError> {
    let id = parse_id(&visitor, &id)?;
    Ok(page::render(&group_page(&state, &visitor, id)?))
}

fn member(visitor: &Visitor, posted: &Posted) -> Result<StaffId, PortalError> {
    posted
        .get("staff")
        .parse()
        .map(StaffId)
        .map_err(|_| PortalError::NotFound(visitor.lang))
}

/// `POST /admin/groups/{id}/owner` (`staff`: a member).
pub async fn set_owner(
    State(state): State<AppState>,
    It(visitor): It,
    Path(id): Path<String>,
    posted: Posted,
) -> Result<Response, PortalError> {
    let id = parse_id(&visitor, &id)?;
    let staff = member(&visitor, &posted)?;
    state
        .im
        .admin_set_owner(&visitor.actor(), id, staff)
        .await
        .map_err(failed(&visitor))?;
    Ok(Redirect::to(&format!("/admin/groups/{id}?done=owner")).into_response())
}

/// `POST /admin/groups/{id}/remove` (`staff`: a member other than the owner).
pub async fn remove(
    State(state): State<AppState>,
    It(visitor): It,
    Path(id): Path<String>,
    posted: Posted,
) -> Result<Response, PortalError> {
    let id = parse_id(&visitor, &id)?;
    let staff = member(&visitor, &posted)?;
    state
        .im
        .admin_remove_member(&visitor.actor(), id, staff)
        .await
        .map_err(failed(&visitor))?;
    Ok(Redirect::to(&format!("/admin/groups/{id}?done=removed")).into_response())
}

/// `POST /admin/groups/{id}/add` (`person` from the picker, or `person_q`: a login typed).
pub async fn add(
    State(state): State<AppState>,
    It(visitor): It,
    Path(id): Path<String>,
    posted: Posted,
) -> Result<Response, PortalError> {
    let tr = visitor.tr();
    let id = parse_id(&visitor, &id)?;
    let typed = match posted.get("person") {
        "" => posted.get("person_q"),
        picked => picked,
    };
    let found = crate::admin::it::find_person(&state.directory.read(), typed);
    let mut errors = FieldErrors::default();
    match found {
        Some(staff) => match state
            .im
            .admin_add_members(&visitor.actor(), id, &[staff])
            .await
        {
            Ok(()) => {
                return Ok(Redirect::to(&format!("/admin/groups/{id}?done=added")).into_response());
            }
            Err(ImError::NotFound(_)) => errors.add("person", tr.t("groups.error.inactive")),
            Err(error) => return Err(failed(&visitor)(error)),
        },
        None if typed.is_empty() => errors.add("person", tr.t("groups.error.person_required")),
        None => errors.add(
            "person",
            tr.f("groups.error.no_person", &[("login", &typed)]),
        ),
    }
    let mut page = group_page(&state, &visitor, id)?;
    page.errors = errors;
    page.person_q = posted.get("person_q").to_owned();
    Ok(page::render_status(StatusCode::UNPROCESSABLE_ENTITY, &page))
}

/// `POST /admin/groups/{id}/dissolve` (the page asks first).
pub async fn dissolve(
    State(state): State<AppState>,
    It(visitor): It,
    Path(id): Path<String>,
) -> Result<Response, PortalError> {
    let id = parse_id(&visitor, &id)?;
    state
        .im
        .admin_dissolve(&visitor.actor(), id)
        .await
        .map_err(failed(&visitor))?;
    Ok(Redirect::to("/admin/groups?done=dissolved").into_response())
}
