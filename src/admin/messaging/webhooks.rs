//! Webhooks: the list with each endpoint's last delivery, a new endpoint, one endpoint's page
//! to change its URL, events or secret (the secret is never shown back) with its recent
//! deliveries (status, HTTP status, time, error), and removing one.

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
use crate::{
    im::{Delivery, DeliveryStatus, webhooks::EVENTS},
    state::AppState,
};

/// Fields the service names in its refusals.
const FIELDS: &[&str] = &["url", "secret", "events"];

/// The webhook form: as stored, or as typed after a refusal (never the secret).
struct HookForm {
    url: String,
    /// (event, i18n key of its description, checked).
    events: Vec<(&'static str, String, bool)>,
    errors: FieldErrors,
}

impl HookForm {
    fn new(url: &str, chosen: &[&str]) -> Self {
        Self {
            url: url.to_owned(),
            events: EVENTS
                .iter()
                .map(|e| {
                    (
                        *e,
                        format!("webhooks.event.{}", e.replace('.', "_")),
                        chosen.contains(e),
                    )
                })
                .collect(),
            errors: FieldErrors::default(),
        }
    }

    fn chosen(&self) -> Vec<String> {
        self.events
            .iter()
            .filter(|(_, _, on)| *on)
            .map(|(e, _, _)| (*e).to_owned())
            .collect()
    }
}

/// A delivery as a row.
struct DeliveryRow {
    ok: bool,
    code: String,
    at: String,
    attempts: u32,
    events: u32,
    duration_ms: u64,
    error: String,
}

fn delivery_row(d: &Delivery) -> DeliveryRow {
    DeliveryRow {
        ok: d.status == DeliveryStatus::Ok,
        code: d.response_code.map(|c| c.to_string()).unwrap_or_default(),
        at: local_time(d.at),
        attempts: d.attempts,
        events: d.events,
        duration_ms: d.duration_ms,
        error: d.error.clone().unwrap_or_default(),
    }
}

struct HookRow {
    id: String,
    url: String,
    events: String,
    last: Option<DeliveryRow>,
}

#[derive(Template)]
#[template(path = "admin/webhooks.html")]
struct HooksPage {
    c: Chrome,
    hooks: Vec<HookRow>,
    form: HookForm,
    notice: Option<String>,
}

#[derive(Template)]
#[template(path = "admin/webhook.html")]
struct HookPage {
    c: Chrome,
    id: String,
    form: HookForm,
    deliveries: Vec<DeliveryRow>,
    notice: Option<String>,
}

fn failed(visitor: &Visitor) -> impl Fn(crate::im::ImError) -> PortalError + '_ {
    |e| PortalError::Api(visitor.lang, e.into())
}

async fn hooks_page(
    state: &AppState,
    visitor: &Visitor,
    form: HookForm,
) -> Result<HooksPage, PortalError> {
    let mut hooks = Vec::new();
    for hook in state.im.webhooks().await.map_err(failed(visitor))? {
        let last = state
            .im
            .webhook_deliveries(hook.id, 1)
            .await
            .map_err(failed(visitor))?;
        hooks.push(HookRow {
            id: hook.id.to_string(),
            url: hook.url,
            events: hook.events.join(", "),
            last: last.first().map(delivery_row),
        });
    }
    Ok(HooksPage {
        c: Chrome::new(state, visitor, "webhooks", "nav.webhooks"),
        hooks,
        form,
        notice: notice(&visitor.tr(), &visitor.path, "webhooks", &["deleted"]),
    })
}

/// `GET /admin/webhooks`.
pub async fn list(State(state): State<AppState>, It(visitor): It) -> Result<Response, PortalError> {
    let form = HookForm::new("", &["message"]);
    Ok(page::render(&hooks_page(&state, &visitor, form).await?))
}

fn posted_form(posted: &Posted) -> HookForm {
    let chosen = posted.all("events");
    HookForm::new(posted.get("url"), &chosen)
}

/// `POST /admin/webhooks` (`url`, `secret`, `events`).
pub async fn create(
    State(state): State<AppState>,
    It(visitor): It,
    posted: Posted,
) -> Result<Response, PortalError> {
    let tr = visitor.tr();
    let mut form = posted_form(&posted);
    let added = state
        .im
        .add_webhook(
            &visitor.actor(),
            &form.url,
            posted.raw("secret"),
            &form.chosen(),
        )
        .await;
    match added {
        Ok(hook) => {
            return Ok(
                Redirect::to(&format!("/admin/webhooks/{}?done=created", hook.id)).into_response(),
            );
        }
        Err(error) => field_error(&tr, "webhooks", FIELDS, error, &mut form.errors)
            .map_err(|e| PortalError::Api(visitor.lang, e))?,
    }
    let page = hooks_page(&state, &visitor, form).await?;
    Ok(page::render_status(StatusCode::UNPROCESSABLE_ENTITY, &page))
}

fn parse_id(visitor: &Visitor, id: &str) -> Result<Uuid, PortalError> {
    id.parse().map_err(|_| PortalError::NotFound(visitor.lang))
}

async fn hook_page(
    state: &AppState,
    visitor: &Visitor,
    id: Uuid,
    form: Option<HookForm>,
) -> Result<HookPage, PortalError> {
    let hook = state.im.webhook(id).await.map_err(failed(visitor))?;
    let deliveries = state
        .im
        .webhook_deliveries(id, crate::im::deliveries::KEEP)
        .await
        .map_err(failed(visitor))?;
    let chosen: Vec<&str> = hook.events.iter().map(String::as_str).collect();
    let mut page = HookPage {
        c: Chrome::new(state, visitor, "webhooks", "nav.webhooks"),
        id: id.to_string(),
        form: form.unwrap_or_else(|| HookForm::new(&hook.url, &chosen)),
        deliveries: deliveries.iter().map(delivery_row).collect(),
        notice: notice(
            &visitor.tr(),
            &visitor.path,
            "webhooks",
            &["created", "saved"],
        ),
    };
    page.c.title = hook.url;
    Ok(page)
}

/// `GET /admin/webhooks/{id}`.
pub async fn show(
    State(state): State<AppState>,
    It(visitor): It,
    Path(id): Path<String>,
) -> Result<Response, PortalError> {
    let id = parse_id(&visitor, &id)?;
    Ok(page::render(&hook_page(&state, &visitor, id, None).await?))
}

/// `POST /admin/webhooks/{id}` (`url`, `events`, and `secret` when it changes).
pub async fn update(
    State(state): State<AppState>,
    It(visitor): It,
    Path(id): Path<String>,
    posted: Posted,
) -> Result<Response, PortalError> {
    let tr = visitor.tr();
    let id = parse_id(&visitor, &id)?;
    let mut form = posted_form(&posted);
    let secret = Some(posted.raw("secret")).filter(|s| !s.is_empty());
    let saved = state
        .im
        .update_webhook(&visitor.actor(), id, &form.url, secret, &form.chosen())
        .await;
    match saved {
        Ok(_) => {
            return Ok(Redirect::to(&format!("/admin/webhooks/{id}?done=saved")).into_response());
        }
        Err(error) => field_error(&tr, "webhooks", FIELDS, error, &mut form.errors)
            .map_err(|e| PortalError::Api(visitor.lang, e))?,
    }
    let page = hook_page(&state, &visitor, id, Some(form)).await?;
    Ok(page::render_status(StatusCode::UNPROCESSABLE_ENTITY, &page))
}

/// `POST /admin/webhooks/{id}/delete`.
pub async fn delete(
    State(state): State<AppState>,
    It(visitor): It,
    Path(id): Path<String>,
) -> Result<Response, PortalError> {
    let id = parse_id(&visitor, &id)?;
    state
        .im
        .remove_webhook(&visitor.actor(), id)
        .await
        .map_err(failed(&visitor))?;
    Ok(Redirect::to("/admin/webhooks?done=deleted").into_response())
}
