//! Messaging settings: the policies an administrator changes at run time (recall and edit
//! windows, the largest file), saved through `Im::set_settings` as
//! `PUT /api/v1/admin/im/settings` does, and — read only — the gateway's mechanics, which come
//! from `SWITCHBOARD_IM_*` environment variables at start.

use askama::Template;
use axum::{
    extract::State,
    http::StatusCode,
    response::{IntoResponse, Redirect, Response},
};

use super::{field_error, notice};
use crate::admin::{
    error::PortalError,
    i18n::Tr,
    it::{
        It,
        posted::{FieldErrors, Posted},
    },
    page::{self, Chrome},
    session::Visitor,
};
use crate::{im::Settings, state::AppState};

const MIB: u64 = 1024 * 1024;

struct SettingsForm {
    recall_window_secs: String,
    edit_window_secs: String,
    /// The largest file in MiB (the service keeps bytes).
    max_file_mib: String,
    errors: FieldErrors,
}

impl SettingsForm {
    fn of(settings: &Settings) -> Self {
        let mib = settings.max_file_bytes as f64 / MIB as f64;
        Self {
            recall_window_secs: settings.recall_window_secs.to_string(),
            edit_window_secs: settings.edit_window_secs.to_string(),
            max_file_mib: if mib.fract() == 0.0 {
                format!("{mib:.0}")
            } else {
                format!("{mib:.2}")
            },
            errors: FieldErrors::default(),
        }
    }

    /// The settings typed, or errors next to what cannot be read as a number.
    fn parse(&mut self, tr: &Tr) -> Option<Settings> {
        let seconds = |text: &str| text.parse::<u64>().ok();
        let recall = seconds(&self.recall_window_secs);
        if recall.is_none() {
            self.errors
                .add("recall_window_secs", tr.t("im_settings.error.number"));
        }
        let edit = seconds(&self.edit_window_secs);
        if edit.is_none() {
            self.errors
                .add("edit_window_secs", tr.t("im_settings.error.number"));
        }
        let bytes = self
            .max_file_mib
            .parse::<f64>()
            .ok()
            .filter(|m| m.is_finite() && *m >= 0.0)
            .map(|m| (m * MIB as f64).round() as u64);
        if bytes.is_none() {
            self.errors
                .add("max_file_bytes", tr.t("im_settings.error.number"));
        }
        Some(Settings {
            recall_window_secs: recall?,
            edit_window_secs: edit?,
            max_file_bytes: bytes?,
            ..Settings::default()
        })
    }
}

/// A mechanic of the gateway, read only: (environment variable, value).
struct Mechanic {
    variable: &'static str,
    value: String,
}

#[derive(Template)]
#[template(path = "admin/im_settings.html")]
struct SettingsPage {
    c: Chrome,
    form: SettingsForm,
    mechanics: Vec<Mechanic>,
    notice: Option<String>,
}

fn settings_page(state: &AppState, visitor: &Visitor, form: SettingsForm) -> SettingsPage {
    let config = &state.im.config;
    let m = |variable, value: String| Mechanic { variable, value };
    SettingsPage {
        c: Chrome::new(state, visitor, "im_settings", "nav.im_settings"),
        form,
        mechanics: vec![
            m(
                "SWITCHBOARD_IM_MAX_FRAME_BYTES",
                config.max_frame_bytes.to_string(),
            ),
            m(
                "SWITCHBOARD_IM_RATE_PER_SEC",
                config.rate_per_sec.to_string(),
            ),
            m("SWITCHBOARD_IM_RATE_BURST", config.rate_burst.to_string()),
            m(
                "SWITCHBOARD_IM_IDLE_SECS",
                config.idle.as_secs().to_string(),
            ),
            m(
                "SWITCHBOARD_IM_OUTBOUND_QUEUE",
                config.outbound_queue.to_string(),
            ),
            m(
                "SWITCHBOARD_IM_OUTBOUND_BYTES",
                config.outbound_bytes.to_string(),
            ),
            m(
                "SWITCHBOARD_IM_MAX_INFLIGHT",
                config.max_inflight.to_string(),
            ),
            m("SWITCHBOARD_IM_BATCH_MAX", config.batch_max.to_string()),
        ],
        notice: notice(&visitor.tr(), &visitor.path, "im_settings", &["saved"]),
    }
}

/// `GET /admin/messaging`.
pub async fn show(State(state): State<AppState>, It(visitor): It) -> Response {
    let form = SettingsForm::of(&state.im.settings());
    page::render(&settings_page(&state, &visitor, form))
}

/// `POST /admin/messaging`.
pub async fn save(
    State(state): State<AppState>,
    It(visitor): It,
    posted: Posted,
) -> Result<Response, PortalError> {
    let tr = visitor.tr();
    let mut form = SettingsForm {
        recall_window_secs: posted.get("recall_window_secs").to_owned(),
        edit_window_secs: posted.get("edit_window_secs").to_owned(),
        max_file_mib: posted.get("max_file_mib").to_owned(),
        errors: FieldErrors::default(),
    };
    if let Some(mut settings) = form.parse(&tr)
        && form.errors.is_empty()
    {
        // Not on this form (yet): kept as the API last set it.
        settings.push_include_text = state.im.settings().push_include_text;
        match state.im.set_settings(&visitor.actor(), settings).await {
            Ok(_) => return Ok(Redirect::to("/admin/messaging?done=saved").into_response()),
            Err(error) => field_error(
                &tr,
                "im_settings",
                &["recall_window_secs", "edit_window_secs", "max_file_bytes"],
                error,
                &mut form.errors,
            )
            .map_err(|e| PortalError::Api(visitor.lang, e))?,
        }
    }
    let page = settings_page(&state, &visitor, form);
    Ok(page::render_status(StatusCode::UNPROCESSABLE_ENTITY, &page))
}
