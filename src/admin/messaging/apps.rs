//! Apps: the list (name, key prefix, callback URL, reach, status) with each app's recent
//! callbacks, registering one (its key and callback secret are shown on the answer, once), and
//! revoking one.

use askama::Template;
use axum::{
    extract::{Path, State},
    http::StatusCode,
    response::{IntoResponse, Redirect, Response},
};
use uuid::Uuid;

use super::{field_error, notice};
use crate::admin::{
    dashboard::local_time,
    error::PortalError,
    it::{
        It,
        posted::{FieldErrors, Posted},
    },
    page::{self, Chrome},
    session::Visitor,
};
use crate::im::apps::{AppInput, CallbackStatus, Reach, ReachKind};
use crate::state::AppState;

/// Callbacks shown per app.
const SHOWN_CALLBACKS: u64 = 5;

struct CallbackRow {
    id: String,
    action: String,
    staff: String,
    /// `ok`, `failed` or `pending`.
    status: &'static str,
    attempts: u32,
    code: String,
    error: String,
    at: String,
}

struct AppRow {
    id: String,
    name: String,
    prefix: String,
    url: String,
    /// The i18n key of the reach's kind, and how many ids it names.
    reach: &'static str,
    reach_count: usize,
    created: String,
    revoked: bool,
    callbacks: Vec<CallbackRow>,
}

#[derive(Template)]
#[template(path = "admin/apps.html")]
struct AppsPage {
    c: Chrome,
    apps: Vec<AppRow>,
    form: Form,
    errors: FieldErrors,
    /// The app just registered: (name, key, secret), shown this once.
    created: Option<(String, String, String)>,
    notice: Option<String>,
}

#[derive(Default)]
struct Form {
    name: String,
    url: String,
    avatar: String,
    reach: String,
    ids: String,
}

async fn apps_page(state: &AppState, visitor: &Visitor) -> Result<AppsPage, PortalError> {
    let api = |e: crate::im::ImError| PortalError::Api(visitor.lang, e.into());
    let mut rows = Vec::new();
    for app in state.im.apps().await.map_err(api)? {
        let callbacks = state
            .im
            .app_callbacks(app.id, SHOWN_CALLBACKS)
            .await
            .map_err(api)?
            .into_iter()
            .map(|c| CallbackRow {
                id: c.id.to_string(),
                action: c.action,
                staff: c.staff_name,
                status: match c.status {
                    CallbackStatus::Ok => "ok",
                    CallbackStatus::Failed => "failed",
                    CallbackStatus::Pending => "pending",
                },
                attempts: c.attempts,
                code: c.response_code.map(|c| c.to_string()).unwrap_or_default(),
                error: c.error.unwrap_or_default(),
                at: local_time(c.done_at.unwrap_or(c.created_at)),
            })
            .collect();
        rows.push(AppRow {
            id: app.id.to_string(),
            name: app.name,
            prefix: app.key_prefix,
            url: app.callback_url,
            reach: match app.reach.kind {
                ReachKind::Everyone => "apps.reach.everyone",
                ReachKind::Departments => "apps.reach.departments",
                ReachKind::Groups => "apps.reach.groups",
            },
            reach_count: app.reach.ids.len(),
            created: local_time(app.created_at),
            revoked: app.revoked,
            callbacks,
        });
    }
    rows.sort_by_key(|r| r.revoked);
    Ok(AppsPage {
        c: Chrome::new(state, visitor, "apps", "nav.apps"),
        apps: rows,
        form: Form {
            reach: "everyone".into(),
            ..Form::default()
        },
        errors: FieldErrors::default(),
        created: None,
        notice: notice(&visitor.tr(), &visitor.path, "apps", &["revoked"]),
    })
}

/// `GET /admin/apps`.
pub async fn list(State(state): State<AppState>, It(visitor): It) -> Result<Response, PortalError> {
    Ok(page::render(&apps_page(&state, &visitor).await?))
}

/// `POST /admin/apps` (`name`, `callback_url`, `avatar`, `reach`, `ids` one per line): the
/// answer shows the key and secret once (no redirect, so they are in no address).
pub async fn create(
    State(state): State<AppState>,
    It(visitor): It,
    posted: Posted,
) -> Result<Response, PortalError> {
    let tr = visitor.tr();
    let form = Form {
        name: posted.get("name").to_owned(),
        url: posted.get("callback_url").trim().to_owned(),
        avatar: posted.get("avatar").trim().to_owned(),
        reach: posted.get("reach").to_owned(),
        ids: posted.get("ids").to_owned(),
    };
    let mut errors = FieldErrors::default();
    let kind = match form.reach.as_str() {
        "departments" => ReachKind::Departments,
        "groups" => ReachKind::Groups,
        _ => ReachKind::Everyone,
    };
    let mut ids = Vec::new();
    for line in form
        .ids
        .split([',', '\n', ' '])
        .map(str::trim)
        .filter(|l| !l.is_empty())
    {
        match line.parse::<Uuid>() {
            Ok(id) => ids.push(id),
            Err(_) => errors.add("reach.ids", tr.t("apps.error.reach.ids")),
        }
    }
    let mut created = None;
    if errors.is_empty() {
        let input = AppInput {
            name: form.name.clone(),
            avatar: (!form.avatar.is_empty()).then(|| form.avatar.clone()),
            callback_url: form.url.clone(),
            reach: Reach { kind, ids },
        };
        match state.im.create_app(&visitor.actor(), &input).await {
            Ok((app, key, secret)) => created = Some((app.name, key, secret)),
            Err(error) => field_error(
                &tr,
                "apps",
                &["name", "callback_url", "avatar", "reach.ids"],
                error,
                &mut errors,
            )
            .map_err(|e| PortalError::Api(visitor.lang, e))?,
        }
    }
    let mut page = apps_page(&state, &visitor).await?;
    let status = if created.is_some() {
        StatusCode::OK
    } else {
        page.form = form;
        StatusCode::UNPROCESSABLE_ENTITY
    };
    page.errors = errors;
    page.created = created;
    Ok(page::render_status(status, &page))
}

/// `POST /admin/apps/{id}/revoke`.
pub async fn revoke(
    State(state): State<AppState>,
    It(visitor): It,
    Path(id): Path<String>,
) -> Result<Response, PortalError> {
    let id = id
        .parse::<Uuid>()
        .map_err(|_| PortalError::NotFound(visitor.lang))?;
    state
        .im
        .revoke_app(&visitor.actor(), id)
        .await
        .map_err(|e| PortalError::Api(visitor.lang, e.into()))?;
    Ok(Redirect::to("/admin/apps?done=revoked").into_response())
}
