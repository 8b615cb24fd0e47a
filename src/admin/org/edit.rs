//! The org chart's writes: create, rename/retype, reorder, move (the dialog and drag and drop),
//! delete with a plan for children and members, and moving a person by drag and drop. Each is
//! one directory write with the visitor as actor (source `portal`); edits carry the version the
//! page showed, so a record changed since is reported, never overwritten.

use axum::{
    body::Bytes,
    extract::{Path, State},
    http::{HeaderValue, StatusCode},
    response::{Html, IntoResponse, Redirect, Response},
};

use super::{FormState, parse_id, render};
use crate::{
    admin::{
        posted::Posted,
        session::{HrAdmin, Visitor},
    },
    api::{ApiError, admin::departments::ldap_lock},
    directory::{
        DeleteDepartment, DepartmentId, DepartmentPatch, MembershipInput, NewDepartment, StaffId,
        StaffPatch, query::sorted_children,
    },
    state::AppState,
};

fn to_dept(id: DepartmentId, notice: &str) -> Response {
    Redirect::to(&format!("/admin/org?dept={id}&notice={notice}")).into_response()
}

/// A refused write shown on the page again: field errors next to their fields (in the
/// visitor's language where we know the rule), anything else as the form's message.
fn refused(
    state: &AppState,
    visitor: &Visitor,
    dept: Option<DepartmentId>,
    mut f: FormState,
    error: ApiError,
) -> Response {
    let tr = visitor.tr();
    let status = match &error {
        ApiError::Invalid { field, reason } => {
            let text = match field.as_str() {
                "name" => tr.t("org.error.name").to_owned(),
                "dept_type" => tr.t("org.error.dept_type").to_owned(),
                _ => reason.clone(),
            };
            f.errors.insert(field.clone(), text);
            StatusCode::UNPROCESSABLE_ENTITY
        }
        ApiError::PreconditionFailed(_) => {
            f.message = Some(tr.t("org.error.stale").to_owned());
            StatusCode::PRECONDITION_FAILED
        }
        ApiError::Conflict(message) | ApiError::NotFound(message) => {
            f.message = Some(message.clone());
            StatusCode::CONFLICT
        }
        _ => return crate::admin::PortalError::Api(visitor.lang, error).into_response(),
    };
    render(state, visitor, dept, None, f, status)
}

fn typed(form: &'static str, posted: &Posted, fields: &[&'static str]) -> FormState {
    FormState {
        form,
        values: fields
            .iter()
            .map(|f| (*f, posted.get(f).to_owned()))
            .collect(),
        ..Default::default()
    }
}

/// `POST /admin/org/new`: a department under `parent` (or at the top level).
pub async fn create(State(state): State<AppState>, hr: HrAdmin, body: Bytes) -> Response {
    let visitor = hr.0;
    let posted = Posted::parse(&body);
    let parent = parse_id(posted.opt("parent"));
    let input = NewDepartment {
        parent_id: parent,
        name: posted.get("name").to_owned(),
        dept_type: posted.get("dept_type").to_owned(),
        order_key: None,
        custom: Default::default(),
        source: None,
        ldap: None,
    };
    let written = state
        .directory
        .write(&visitor.actor(), |stage| stage.create_department(input))
        .await;
    match written {
        Ok((department, _)) => to_dept(department.id, "created"),
        Err(e) => {
            let f = typed("create", &posted, &["name", "dept_type"]);
            refused(&state, &visitor, parent, f, e.into())
        }
    }
}

/// `POST /admin/org/{id}/edit`: rename and retype.
pub async fn edit(
    State(state): State<AppState>,
    hr: HrAdmin,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let visitor = hr.0;
    let Some(id) = parse_id(Some(&id)) else {
        return crate::admin::PortalError::NotFound(visitor.lang).into_response();
    };
    let posted = Posted::parse(&body);
    let patch = DepartmentPatch {
        name: Some(posted.get("name").to_owned()),
        dept_type: Some(posted.get("dept_type").to_owned()),
        if_version: posted.version(),
        ..Default::default()
    };
    let result = match ldap_lock(&state, id, &patch) {
        Ok(()) => state
            .directory
            .write(&visitor.actor(), |stage| stage.update_department(id, patch))
            .await
            .map_err(ApiError::from),
        Err(e) => Err(e),
    };
    match result {
        Ok(_) => to_dept(id, "saved"),
        Err(e) => {
            let f = typed("edit", &posted, &["name", "dept_type"]);
            refused(&state, &visitor, Some(id), f, e)
        }
    }
}

/// `POST /admin/org/{id}/reorder`: one place up or down among its siblings. Siblings are
/// renumbered 0, 1, 2… where their keys differ from that (usually only the two that swap).
pub async fn reorder(
    State(state): State<AppState>,
    hr: HrAdmin,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let visitor = hr.0;
    let Some(id) = parse_id(Some(&id)) else {
        return crate::admin::PortalError::NotFound(visitor.lang).into_response();
    };
    let posted = Posted::parse(&body);
    let up = posted.get("dir") == "up";
    let if_version = posted.version();
    let written = state
        .directory
        .write(&visitor.actor(), |stage| {
            let parent = stage
                .department(id)
                .ok_or_else(|| crate::directory::DirectoryError::not_found("department", id))?
                .parent_id;
            let mut order: Vec<DepartmentId> = sorted_children(stage.base(), parent)
                .iter()
                .map(|d| d.id)
                .collect();
            let Some(at) = order.iter().position(|d| *d == id) else {
                return Ok(());
            };
            let to = if up {
                at.saturating_sub(1)
            } else {
                (at + 1).min(order.len() - 1)
            };
            order.swap(at, to);
            for (key, department) in order.into_iter().enumerate() {
                let current = stage.department(department).map(|d| d.order_key);
                if current != Some(key as i64) || department == id {
                    stage.update_department(
                        department,
                        DepartmentPatch {
                            order_key: Some(key as i64),
                            if_version: if department == id { if_version } else { None },
                            ..Default::default()
                        },
                    )?;
                }
            }
            Ok(())
        })
        .await;
    match written {
        Ok(_) => to_dept(id, "saved"),
        Err(e) => refused(&state, &visitor, Some(id), FormState::default(), e.into()),
    }
}

/// Where a move sends a department: `root` (the top level) or a department id.
fn target(text: &str) -> Option<Option<DepartmentId>> {
    match text.trim() {
        "root" => Some(None),
        other => parse_id(Some(other)).map(Some),
    }
}

async fn move_department(
    state: &AppState,
    visitor: &Visitor,
    id: DepartmentId,
    parent: Option<DepartmentId>,
    if_version: Option<crate::store::Version>,
) -> Result<(), ApiError> {
    let patch = DepartmentPatch {
        parent_id: Some(parent),
        if_version,
        ..Default::default()
    };
    ldap_lock(state, id, &patch)?;
    state
        .directory
        .write(&visitor.actor(), |stage| stage.update_department(id, patch))
        .await?;
    Ok(())
}

/// `POST /admin/org/{id}/move`: the move dialog (`parent` = a department id or `root`).
pub async fn move_to(
    State(state): State<AppState>,
    hr: HrAdmin,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let visitor = hr.0;
    let Some(id) = parse_id(Some(&id)) else {
        return crate::admin::PortalError::NotFound(visitor.lang).into_response();
    };
    let posted = Posted::parse(&body);
    let Some(parent) = target(posted.get("parent")) else {
        let mut f = typed("move", &posted, &[]);
        f.errors
            .insert("parent".into(), visitor.tr().t("org.error.pick").to_owned());
        return render(
            &state,
            &visitor,
            Some(id),
            None,
            f,
            StatusCode::UNPROCESSABLE_ENTITY,
        );
    };
    match move_department(&state, &visitor, id, parent, posted.version()).await {
        Ok(()) => to_dept(id, "moved"),
        Err(e) => refused(&state, &visitor, Some(id), typed("move", &posted, &[]), e),
    }
}

/// `POST /admin/org/{id}/delete`: `children_to` (`parent`, `root` or `other` with
/// `children_target`) and `members_to` (`parent` or `other` with `members_target`), as the
/// API's `move_children_to` and `move_members_to`.
pub async fn delete(
    State(state): State<AppState>,
    hr: HrAdmin,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let visitor = hr.0;
    let Some(id) = parse_id(Some(&id)) else {
        return crate::admin::PortalError::NotFound(visitor.lang).into_response();
    };
    let posted = Posted::parse(&body);
    let tr = visitor.tr();
    let (parent, has_children, has_members) = {
        let replica = state.directory.read();
        let Some(department) = replica.department(id) else {
            return crate::admin::PortalError::NotFound(visitor.lang).into_response();
        };
        (
            department.parent_id,
            replica.has_children(id),
            replica.has_members(id),
        )
    };
    let mut f = typed("delete", &posted, &["children_to", "members_to"]);
    let children = match posted.get("children_to") {
        _ if !has_children => None,
        "parent" => Some(parent),
        "root" => Some(None),
        _ => match parse_id(posted.opt("children_target")) {
            Some(target) => Some(Some(target)),
            None => {
                f.errors
                    .insert("children_target".into(), tr.t("org.error.pick").to_owned());
                None
            }
        },
    };
    let members = match posted.get("members_to") {
        _ if !has_members => None,
        "parent" if parent.is_some() => parent,
        _ => match parse_id(posted.opt("members_target")) {
            Some(target) => Some(target),
            None => {
                f.errors
                    .insert("members_target".into(), tr.t("org.error.pick").to_owned());
                None
            }
        },
    };
    if !f.errors.is_empty() {
        return render(
            &state,
            &visitor,
            Some(id),
            None,
            f,
            StatusCode::UNPROCESSABLE_ENTITY,
        );
    }
    let plan = DeleteDepartment {
        move_children_to: children,
        move_members_to: members,
    };
    let written = state
        .directory
        .write(&visitor.actor(), |stage| stage.delete_department(id, plan))
        .await;
    match written {
        Ok(_) => match parent {
            Some(parent) => to_dept(parent, "deleted"),
            None => Redirect::to("/admin/org?notice=deleted").into_response(),
        },
        Err(e) => refused(&state, &visitor, Some(id), f, e.into()),
    }
}

/// A person's memberships with `from` replaced by `to` (merged if already there; added as
/// another department when `from` is not one of theirs).
fn moved_memberships(
    person: &crate::directory::Staff,
    from: Option<DepartmentId>,
    to: DepartmentId,
) -> Vec<MembershipInput> {
    let mut out: Vec<MembershipInput> = Vec::new();
    let mut placed = false;
    for m in &person.memberships {
        let department_id = if Some(m.department_id) == from {
            placed = true;
            to
        } else {
            m.department_id
        };
        match out.iter_mut().find(|x| x.department_id == department_id) {
            Some(existing) => existing.primary |= m.primary,
            None => out.push(MembershipInput {
                department_id,
                order_key: Some(m.order_key),
                primary: m.primary,
            }),
        }
    }
    if !placed && !out.iter().any(|m| m.department_id == to) {
        out.push(MembershipInput {
            department_id: to,
            order_key: None,
            primary: out.is_empty(),
        });
    }
    out
}

/// `POST /admin/org/drop` (drag and drop, from `org.js`): `kind` (`department` or `staff`),
/// `id`, `version`, `from` (a person's department the drag started in) and `to` (a
/// department, or `root` for a department). Answers with `HX-Redirect` to the target, or a
/// `409`/`412` message for the page's notice area.
pub async fn drop_on(State(state): State<AppState>, hr: HrAdmin, body: Bytes) -> Response {
    let visitor = hr.0;
    let posted = Posted::parse(&body);
    let tr = visitor.tr();
    let to = target(posted.get("to"));
    let if_version = posted.version();
    let result = match (posted.get("kind"), to) {
        ("department", Some(parent)) => match parse_id(posted.opt("id")) {
            Some(id) => move_department(&state, &visitor, id, parent, if_version)
                .await
                .map(|()| (parent.unwrap_or(id), "moved")),
            None => Err(ApiError::BadRequest("id".into())),
        },
        ("staff", Some(Some(to))) => {
            let id = posted.opt("id").and_then(|t| t.parse().ok()).map(StaffId);
            let from = parse_id(posted.opt("from"));
            let person = id.and_then(|id| state.directory.read().staff(id).cloned());
            match person {
                Some(person) => {
                    let patch = StaffPatch {
                        departments: Some(moved_memberships(&person, from, to)),
                        if_version,
                        ..Default::default()
                    };
                    crate::api::admin::staff::store_patch(
                        &state,
                        &visitor.actor(),
                        person.id,
                        patch,
                    )
                    .await
                    .map(|_| (to, "person_moved"))
                }
                None => Err(ApiError::NotFound(tr.t("org.error.gone").to_owned())),
            }
        }
        _ => Err(ApiError::BadRequest(tr.t("org.error.drop").to_owned())),
    };
    match result {
        Ok((dept, notice)) => {
            let url = format!("/admin/org?dept={dept}&notice={notice}");
            let mut response = StatusCode::NO_CONTENT.into_response();
            if let Ok(value) = HeaderValue::from_str(&url) {
                response.headers_mut().insert("hx-redirect", value);
            }
            response
        }
        Err(error) => {
            // 409 for every refusal: admin.js swaps it into the page's notice area.
            let text = match &error {
                ApiError::PreconditionFailed(_) => tr.t("org.error.stale").to_owned(),
                ApiError::Internal(_) => tr.t("error.internal.text").to_owned(),
                other => other.to_string(),
            };
            if let ApiError::Internal(detail) = &error {
                tracing::error!(%detail, "portal drop failed");
            }
            let html = format!(
                "<div class=\"alert alert-error\" role=\"alert\" id=\"drop-error\">{}</div>",
                escape(&text)
            );
            (StatusCode::CONFLICT, Html(html)).into_response()
        }
    }
}

/// HTML-escapes text for the small fragment above (templates escape by themselves).
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}
