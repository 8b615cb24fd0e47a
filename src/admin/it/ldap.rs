//! LDAP settings (IT, `access` power; HR does not see these pages): the form over the settings
//! in force, saved through `LdapService::save_settings` (checked, audited with source `portal`,
//! applied to the next run without a restart), and "Test connection" on what is typed, before
//! it is saved (`LdapService::candidate` + `test_with`: counts, a sample mapped entry and the
//! dry run's diff). The bind password is never drawn back into a page.

use askama::Template;
use axum::{
    extract::State,
    http::StatusCode,
    response::{IntoResponse, Redirect, Response},
};

use super::{
    It,
    ldap_form::{self, SectionView, Values},
    posted::{FieldErrors, Posted},
};
use crate::admin::{
    error::PortalError,
    i18n::Tr,
    page::{self, Chrome},
    session::Visitor,
};
use crate::{
    api::ApiError,
    ldap::{LdapError, LdapSettings, TestReport},
    state::AppState,
};

#[derive(Template)]
#[template(path = "admin/ldap.html")]
struct SettingsPage {
    c: Chrome,
    /// `None`: LDAP is not configured (no `[ldap]` table in the configuration file).
    form: Option<SettingsForm>,
    notice: Option<String>,
}

struct SettingsForm {
    sections: Vec<SectionView>,
    /// Where the settings in force come from, translated ("the configuration file", "saved
    /// by it-admin on …").
    source: String,
    /// Whether the password in force is the file's or one IT entered, translated.
    password: String,
    /// The intro: how saved settings relate to the file's, or how to connect a first time.
    intro: String,
    /// A digest of the settings the form showed: a save over newer ones is refused.
    was: String,
    message: Option<String>,
}

#[derive(Template)]
#[template(path = "admin/ldap_test.html")]
struct TestFragment {
    tr: Tr,
    report: Option<ReportView>,
    /// Why the test could not run (settings refused, server unreachable, bind refused).
    error: Option<String>,
    /// Field errors of the settings tested.
    errors: Vec<(String, String)>,
}

/// A test report as the fragment draws it.
pub struct ReportView {
    pub departments: usize,
    pub staff: usize,
    pub groups: usize,
    pub paging: bool,
    /// The sample entry's fields: (name, value).
    pub sample: Vec<(String, String)>,
    /// The dry run's counts: (i18n key, number).
    pub diff: Vec<(&'static str, usize)>,
    pub blocked: Option<String>,
    /// (entry, reason), the first ones.
    pub failures: Vec<(String, String)>,
    pub failed: usize,
}

fn digest(settings: &LdapSettings) -> String {
    use sha2::{Digest, Sha256};
    let text = serde_json::to_string(settings).unwrap_or_default();
    hex::encode(&Sha256::digest(text.as_bytes())[..8])
}

fn source_text(tr: &Tr, settings: &LdapSettings) -> (String, String) {
    let source = match (&settings.updated_by, settings.updated_at) {
        (Some(by), Some(at)) => tr.f(
            "ldap.source.portal",
            &[
                ("who", by),
                ("when", &crate::admin::dashboard::local_time(at)),
            ],
        ),
        _ if settings.source == "none" => tr.t("ldap.source.none").to_owned(),
        _ => tr.t("ldap.source.file").to_owned(),
    };
    let password = if settings.bind_password_stored {
        tr.t("ldap.password.stored")
    } else if settings.source == "none" {
        tr.t("ldap.password.required")
    } else {
        tr.t("ldap.password.file")
    };
    (source, password.to_owned())
}

fn settings_page(
    state: &AppState,
    visitor: &Visitor,
    current: Option<&LdapSettings>,
    values: Option<Values>,
    errors: FieldErrors,
    message: Option<String>,
) -> SettingsPage {
    let tr = visitor.tr();
    let notice = visitor
        .path
        .contains("done=saved")
        .then(|| tr.t("ldap.notice.saved").to_owned());
    let form = current.map(|settings| {
        let values = values.unwrap_or_else(|| Values::of(&settings.settings));
        let (source, password) = source_text(&tr, settings);
        let first_time = settings.source == "none";
        let mut sections = ldap_form::sections(&tr, &values, &errors);
        if first_time {
            // No file's password to go back to.
            for section in &mut sections {
                section.fields.retain(|f| f.name != "bind_password_reset");
            }
        }
        SettingsForm {
            sections,
            source,
            password,
            intro: tr
                .t(if first_time {
                    "ldap.settings.intro_new"
                } else {
                    "ldap.settings.intro"
                })
                .to_owned(),
            was: digest(settings),
            message,
        }
    });
    SettingsPage {
        c: Chrome::new(state, visitor, "ldap", "ldap.settings.title"),
        form,
        notice,
    }
}

/// `GET /admin/ldap`.
pub async fn show(State(state): State<AppState>, It(visitor): It) -> Result<Response, PortalError> {
    let current = state
        .ldap
        .settings()
        .await
        .map_err(|e| PortalError::Api(visitor.lang, e.into()))?;
    Ok(page::render(&settings_page(
        &state,
        &visitor,
        Some(&current),
        None,
        FieldErrors::default(),
        None,
    )))
}

/// Puts a service's refusal next to its field, in the reader's language where the table has
/// the field's message (else the service's own words); other errors are the page's.
fn to_field_error(tr: &Tr, error: LdapError, errors: &mut FieldErrors) -> Result<(), LdapError> {
    match error {
        LdapError::Invalid { field, reason } => {
            let field = ldap_form::field_of(&field);
            let key = format!("ldap.invalid.{}", field.replace('.', "_"));
            errors.add(field, tr.get(&key).map_or(reason, str::to_owned));
            Ok(())
        }
        other => Err(other),
    }
}

/// `POST /admin/ldap`: saves the settings, or shows the form again with what was typed and
/// the errors next to their fields.
pub async fn save(
    State(state): State<AppState>,
    It(visitor): It,
    posted: Posted,
) -> Result<Response, PortalError> {
    let tr = visitor.tr();
    let api = |e: LdapError| PortalError::Api(visitor.lang, ApiError::from(e));
    let ldap = &state.ldap;
    let current = ldap.settings().await.map_err(api)?;
    let mut errors = FieldErrors::default();
    let mut message = None;
    if posted.get("was") != digest(&current) {
        message = Some(tr.t("ldap.error.stale").to_owned());
    }
    let raw = ldap_form::to_raw(&tr, &current.settings, &posted, &mut errors);
    if errors.is_empty() && message.is_none() {
        match ldap.save_settings(&visitor.actor(), raw).await {
            Ok(_) => return Ok(Redirect::to("/admin/ldap?done=saved").into_response()),
            Err(error) => to_field_error(&tr, error, &mut errors).map_err(api)?,
        }
    }
    if message.is_none() {
        message = Some(tr.t("ldap.error.fix").to_owned());
    }
    let page = settings_page(
        &state,
        &visitor,
        Some(&current),
        Some(Values::posted(&posted)),
        errors,
        message,
    );
    Ok(page::render_status(StatusCode::UNPROCESSABLE_ENTITY, &page))
}

/// `POST /admin/ldap/test` (htmx, from the form): tests what is typed, without saving it.
pub async fn test(
    State(state): State<AppState>,
    It(visitor): It,
    posted: Posted,
) -> Result<Response, PortalError> {
    let tr = visitor.tr();
    let ldap = &state.ldap;
    let current = ldap
        .settings()
        .await
        .map_err(|e| PortalError::Api(visitor.lang, e.into()))?;
    let mut errors = FieldErrors::default();
    let raw = ldap_form::to_raw(&tr, &current.settings, &posted, &mut errors);
    let mut fragment = TestFragment {
        tr,
        report: None,
        error: None,
        errors: Vec::new(),
    };
    if errors.is_empty() {
        let outcome = match ldap.candidate(raw).await {
            Ok(config) => ldap.test_with(&config).await,
            Err(error) => Err(error),
        };
        match outcome {
            Ok(report) => fragment.report = Some(report_view(&report)),
            Err(error) => {
                if let Err(other) = to_field_error(&tr, error, &mut errors) {
                    fragment.error = Some(match ApiError::from(other) {
                        ApiError::Internal(_) => tr.t("error.internal.text").to_owned(),
                        shown => shown.to_string(),
                    });
                }
            }
        }
    }
    fragment.errors = errors
        .0
        .into_iter()
        .map(|(field, reason)| {
            let key = format!("ldap.field.{}", field.replace('.', "_"));
            (tr.t(&key).to_owned(), reason)
        })
        .collect();
    Ok(page::render(&fragment))
}

fn report_view(report: &TestReport) -> ReportView {
    let text = |value: &serde_json::Value| match value {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Array(items) => items
            .iter()
            .map(|i| i.as_str().map_or_else(|| i.to_string(), str::to_owned))
            .collect::<Vec<_>>()
            .join(", "),
        serde_json::Value::Object(map) => map
            .iter()
            .map(|(k, v)| {
                format!(
                    "{k}: {}",
                    v.as_str().map_or_else(|| v.to_string(), str::to_owned)
                )
            })
            .collect::<Vec<_>>()
            .join(", "),
        other => other.to_string(),
    };
    // In the order a person reads a record: who, then how to reach them, then the ids.
    const ORDER: [&str; 9] = [
        "login",
        "display_name",
        "title",
        "emails",
        "phones",
        "staff_type",
        "custom",
        "dn",
        "stable_id",
    ];
    let sample = report
        .sample
        .as_ref()
        .and_then(|s| s.as_object())
        .map(|object| {
            ORDER
                .iter()
                .filter_map(|key| object.get(*key).map(|v| (key, v)))
                .filter(|(_, v)| !v.is_null() && v.as_object().is_none_or(|o| !o.is_empty()))
                .map(|(k, v)| ((*k).to_owned(), text(v)))
                .collect()
        })
        .unwrap_or_default();
    let d = &report.dry_run;
    ReportView {
        departments: report.departments,
        staff: report.staff,
        groups: report.groups,
        paging: report.paging,
        sample,
        diff: vec![
            ("ldap.count.added", d.added),
            ("ldap.count.updated", d.updated),
            ("ldap.count.moved", d.moved),
            ("ldap.count.disabled", d.disabled),
            ("ldap.count.re_enabled", d.re_enabled),
            ("ldap.count.departments_added", d.departments_added),
            ("ldap.count.departments_updated", d.departments_updated),
            ("ldap.count.departments_moved", d.departments_moved),
            ("ldap.count.departments_removed", d.departments_removed),
            ("ldap.count.groups", d.groups),
            ("ldap.count.failed", d.failed),
        ],
        blocked: report.blocked.clone(),
        failures: report
            .failures
            .iter()
            .take(20)
            .map(|f| (f.dn.clone(), f.reason.clone()))
            .collect(),
        failed: d.failed,
    }
}
