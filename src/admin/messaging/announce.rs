//! Announcements (`/admin/announcements`, IT): a text to one department's chat (with its
//! sub-departments' chats if asked) or to everyone (each person's "System notices"
//! conversation), see `im::announce`. Two steps: the form previews how many people it will
//! reach, then the confirmation sends it (`Im::announce`, audited with source `portal`). The
//! confirmation carries a key of its own, so sending it twice stores nothing new.

use askama::Template;
use axum::{
    extract::State,
    http::StatusCode,
    response::{IntoResponse, Redirect, Response},
};

use crate::admin::{
    error::PortalError,
    it::{
        It,
        posted::{FieldErrors, Posted},
    },
    page::{self, Chrome},
    session::Visitor,
};
use crate::{
    directory::{DepartmentId, Replica},
    im::{Audience, ImError, Reach},
    state::AppState,
};

/// A department as an option of the picker, indented by its depth.
struct DepartmentOption {
    id: String,
    label: String,
    selected: bool,
}

/// What was typed (kept across the preview and after a refusal).
#[derive(Default)]
struct Draft {
    everyone: bool,
    department: String,
    subtree: bool,
    text: String,
}

impl Draft {
    fn of(posted: &Posted) -> Self {
        Self {
            everyone: posted.get("audience") == "everyone",
            department: posted.get("department").to_owned(),
            subtree: !posted.get("subtree").is_empty(),
            text: posted.raw("text").trim().to_owned(),
        }
    }
}

/// The confirmation step.
struct Confirm {
    key: String,
    /// "This announcement will reach …", translated.
    reach: String,
    people: usize,
    target: String,
}

#[derive(Template)]
#[template(path = "admin/announce.html")]
struct AnnouncePage {
    c: Chrome,
    draft: Draft,
    departments: Vec<DepartmentOption>,
    errors: FieldErrors,
    confirm: Option<Confirm>,
    notice: Option<String>,
}

/// Departments in tree order (siblings by their order key, then name), each with its depth.
fn tree(replica: &Replica) -> Vec<(DepartmentId, usize)> {
    let sorted = |parent| {
        let mut ids: Vec<DepartmentId> = replica.children(parent).collect();
        ids.sort_by_key(|id| {
            replica
                .department(*id)
                .map(|d| (d.order_key, d.name.clone()))
        });
        ids
    };
    let mut out = Vec::new();
    let mut stack: Vec<(DepartmentId, usize)> =
        sorted(None).into_iter().rev().map(|d| (d, 0)).collect();
    while let Some((id, depth)) = stack.pop() {
        out.push((id, depth));
        stack.extend(sorted(Some(id)).into_iter().rev().map(|d| (d, depth + 1)));
    }
    out
}

fn page_of(state: &AppState, visitor: &Visitor, draft: Draft) -> AnnouncePage {
    let replica = state.directory.read();
    let departments = tree(&replica)
        .into_iter()
        .filter_map(|(id, depth)| {
            let d = replica.department(id)?;
            Some(DepartmentOption {
                id: id.to_string(),
                label: format!("{}{}", "\u{3000}".repeat(depth), d.name),
                selected: draft.department == id.to_string(),
            })
        })
        .collect();
    drop(replica);
    let tr = visitor.tr();
    let notice = visitor
        .path
        .split("people=")
        .nth(1)
        .and_then(|n| n.split('&').next()?.parse::<usize>().ok())
        .filter(|_| visitor.path.contains("done=sent"))
        .map(|people| tr.n("announce.notice.sent", people));
    AnnouncePage {
        c: Chrome::new(state, visitor, "announcements", "nav.announcements"),
        draft,
        departments,
        errors: FieldErrors::default(),
        confirm: None,
        notice,
    }
}

/// `GET /admin/announcements`.
pub async fn show(State(state): State<AppState>, It(visitor): It) -> Response {
    page::render(&page_of(&state, &visitor, Draft::default()))
}

/// The audience the form names, or the error next to its field.
fn audience(draft: &Draft, errors: &mut FieldErrors, visitor: &Visitor) -> Option<Audience> {
    if draft.everyone {
        return Some(Audience::Everyone);
    }
    match draft.department.parse() {
        Ok(id) => Some(Audience::Department {
            id: DepartmentId(id),
            subtree: draft.subtree,
        }),
        Err(_) => {
            errors.add("department", visitor.tr().t("announce.error.department"));
            None
        }
    }
}

/// Checks the form; the audience and its reach, or the page with errors.
fn checked(
    state: &AppState,
    visitor: &Visitor,
    draft: &Draft,
) -> Result<Result<(Audience, Reach), FieldErrors>, PortalError> {
    let tr = visitor.tr();
    let mut errors = FieldErrors::default();
    if let Err(ImError::Invalid { .. }) = crate::im::announce_text(&draft.text) {
        errors.add("text", tr.t("announce.error.text"));
    }
    let Some(audience) = audience(draft, &mut errors, visitor) else {
        return Ok(Err(errors));
    };
    match state.im.announcement_reach(audience) {
        Ok(reach) if reach.conversations == 0 => {
            errors.add("department", tr.t("announce.error.nobody"));
        }
        Ok(reach) if errors.is_empty() => return Ok(Ok((audience, reach))),
        Ok(_) => {}
        Err(ImError::NotFound(_)) => errors.add("department", tr.t("announce.error.department")),
        Err(error) => return Err(PortalError::Api(visitor.lang, error.into())),
    }
    Ok(Err(errors))
}

fn refused(state: &AppState, visitor: &Visitor, draft: Draft, errors: FieldErrors) -> Response {
    let mut page = page_of(state, visitor, draft);
    page.errors = errors;
    page::render_status(StatusCode::UNPROCESSABLE_ENTITY, &page)
}

/// `POST /admin/announcements/preview`: how many people it will reach, and the button to send.
pub async fn preview(
    State(state): State<AppState>,
    It(visitor): It,
    posted: Posted,
) -> Result<Response, PortalError> {
    let tr = visitor.tr();
    let draft = Draft::of(&posted);
    let (audience, reach) = match checked(&state, &visitor, &draft)? {
        Ok(found) => found,
        Err(errors) => return Ok(refused(&state, &visitor, draft, errors)),
    };
    let target = match audience {
        Audience::Everyone => tr.t("announce.target.everyone").to_owned(),
        Audience::Department { id, subtree } => {
            let name = state
                .directory
                .read()
                .department(id)
                .map(|d| d.name.clone())
                .unwrap_or_default();
            let key = if subtree {
                "announce.target.subtree"
            } else {
                "announce.target.department"
            };
            tr.f(key, &[("name", &name)])
        }
    };
    let reach_text = match audience {
        Audience::Everyone => tr.n("announce.reach.everyone", reach.people),
        Audience::Department { .. } => tr.f(
            "announce.reach.chats",
            &[("count", &reach.people), ("chats", &reach.conversations)],
        ),
    };
    let key = uuid::Uuid::now_v7().simple().to_string();
    let mut page = page_of(&state, &visitor, draft);
    page.confirm = Some(Confirm {
        // The random end of a v7 id: 64 bits.
        key: key[16..].to_owned(),
        reach: reach_text,
        people: reach.people,
        target,
    });
    Ok(page::render(&page))
}

/// `POST /admin/announcements/send` (the confirmed form, with its `key`).
pub async fn send(
    State(state): State<AppState>,
    It(visitor): It,
    posted: Posted,
) -> Result<Response, PortalError> {
    let draft = Draft::of(&posted);
    let audience = match checked(&state, &visitor, &draft)? {
        Ok((audience, _)) => audience,
        Err(errors) => return Ok(refused(&state, &visitor, draft, errors)),
    };
    let reach = state
        .im
        .announce(&visitor.actor(), audience, &draft.text, posted.get("key"))
        .await
        .map_err(|e| PortalError::Api(visitor.lang, e.into()))?;
    Ok(Redirect::to(&format!(
        "/admin/announcements?done=sent&people={}",
        reach.people
    ))
    .into_response())
}
