//! Mail settings (IT, `access` power): the SMTP server, its security and login (the password is
//! never shown back), the sender, links, digests, alerts and welcome mails; "Send test mail"
//! with its result as the outbox sees it; the outbox with a retry for failed mails. Every
//! action calls `Mail` exactly as `/api/v1/admin/mail/...` does (checks, audit, worker wake-up).

use askama::Template;
use axum::{
    extract::{Path, State},
    http::StatusCode,
    response::{IntoResponse, Redirect, Response},
};
use uuid::Uuid;

use super::{
    dashboard::local_time,
    error::PortalError,
    i18n::Tr,
    it::{
        It,
        posted::{FieldErrors, Posted},
    },
    page::{self, Chrome},
    session::Visitor,
};
use crate::{
    api::ApiError,
    mail::{
        Language, MailError, MailSettings, MailSettingsInput, OutboxEntry, OutboxStatus, Security,
    },
    state::AppState,
};

/// Mails listed on the page (the newest; the JSON API pages further).
const OUTBOX_SHOWN: u64 = 50;

/// The settings form: as stored, or as typed after a refusal.
pub struct SettingsForm {
    host: String,
    port: String,
    /// `none`, `starttls` or `tls`.
    security: String,
    username: String,
    password_set: bool,
    from_address: String,
    from_name: String,
    public_url: String,
    /// `zh` or `en`.
    language: String,
    digest_after_minutes: String,
    /// One address a line.
    alert_to: String,
    welcome: bool,
    errors: FieldErrors,
}

fn security_name(security: Security) -> &'static str {
    match security {
        Security::None => "none",
        Security::Starttls => "starttls",
        Security::Tls => "tls",
    }
}

impl SettingsForm {
    fn of(settings: &MailSettings) -> Self {
        Self {
            host: settings.smtp_host.clone().unwrap_or_default(),
            port: settings.smtp_port.to_string(),
            security: security_name(settings.smtp_security).to_owned(),
            username: settings.smtp_username.clone().unwrap_or_default(),
            password_set: settings.smtp_password_set,
            from_address: settings.from_address.clone().unwrap_or_default(),
            from_name: settings.from_name.clone(),
            public_url: settings.public_url.clone().unwrap_or_default(),
            language: settings.language.as_str().to_owned(),
            digest_after_minutes: settings.digest_after_minutes.to_string(),
            alert_to: settings.alert_to.join("\n"),
            welcome: settings.welcome,
            errors: FieldErrors::default(),
        }
    }

    /// What was typed (never the password: it is not sent back).
    fn posted(form: &Posted, password_set: bool) -> Self {
        Self {
            host: form.get("smtp_host").to_owned(),
            port: form.get("smtp_port").to_owned(),
            security: form.get("smtp_security").to_owned(),
            username: form.get("smtp_username").to_owned(),
            password_set,
            from_address: form.get("from_address").to_owned(),
            from_name: form.get("from_name").to_owned(),
            public_url: form.get("public_url").to_owned(),
            language: form.get("language").to_owned(),
            digest_after_minutes: form.get("digest_after_minutes").to_owned(),
            alert_to: form.get("alert_to").to_owned(),
            welcome: form.get("welcome") == "on",
            errors: FieldErrors::default(),
        }
    }

    /// The input for `Mail::update_settings`; what cannot even be parsed is reported here (the
    /// rules about values are the service's).
    fn input(&mut self, tr: &Tr, posted: &Posted) -> Option<MailSettingsInput> {
        let port = self.port.parse::<u16>().ok();
        if port.is_none() {
            self.errors.add("smtp_port", tr.t("mail.error.smtp_port"));
        }
        let minutes = self.digest_after_minutes.parse::<u32>().ok();
        if minutes.is_none() {
            self.errors.add(
                "digest_after_minutes",
                tr.t("mail.error.digest_after_minutes"),
            );
        }
        let security = match self.security.as_str() {
            "none" => Some(Security::None),
            "starttls" => Some(Security::Starttls),
            "tls" => Some(Security::Tls),
            _ => None,
        };
        if security.is_none() {
            self.errors
                .add("smtp_security", tr.t("mail.error.smtp_security"));
        }
        let language = Language::parse(&self.language);
        if language.is_none() {
            self.errors.add("language", tr.t("mail.error.language"));
        }
        let password = match (posted.raw("smtp_password"), posted.get("clear_password")) {
            (_, "on") => Some(String::new()),
            ("", _) => None,
            (typed, _) => Some(typed.to_owned()),
        };
        let text = |value: &str| Some(value.to_owned()).filter(|v| !v.is_empty());
        Some(MailSettingsInput {
            smtp_host: text(&self.host),
            smtp_port: port?,
            smtp_security: security?,
            smtp_username: text(&self.username),
            smtp_password: password,
            from_address: text(&self.from_address),
            from_name: self.from_name.clone(),
            public_url: text(&self.public_url),
            language: language?,
            digest_after_minutes: minutes?,
            alert_to: self
                .alert_to
                .split(|c: char| c == ',' || c == ';' || c.is_whitespace())
                .filter(|a| !a.is_empty())
                .map(str::to_owned)
                .collect(),
            welcome: self.welcome,
        })
    }
}

/// A mail of the outbox as a row.
pub struct OutboxRow {
    id: String,
    kind_key: &'static str,
    to: String,
    subject: String,
    status_key: &'static str,
    status_class: &'static str,
    attempts: i32,
    created: String,
    /// Sent, or the next attempt while queued.
    when: String,
    error: String,
    failed: bool,
    /// Still waiting or being sent (the test result polls).
    pending: bool,
}

fn row(entry: &OutboxEntry) -> OutboxRow {
    let (status_key, status_class) = match entry.status {
        OutboxStatus::Queued => ("mail.status.queued", "badge-info"),
        OutboxStatus::Sending => ("mail.status.sending", "badge-info"),
        OutboxStatus::Sent => ("mail.status.sent", "badge-ok"),
        OutboxStatus::Failed => ("mail.status.failed", "badge-error"),
    };
    let when = match (entry.status, entry.sent_at) {
        (_, Some(at)) => local_time(at),
        (OutboxStatus::Queued, None) => local_time(entry.next_attempt_at),
        _ => String::new(),
    };
    OutboxRow {
        id: entry.id.to_string(),
        kind_key: match entry.kind {
            crate::mail::MailKind::Test => "mail.kind.test",
            crate::mail::MailKind::Welcome => "mail.kind.welcome",
            crate::mail::MailKind::PasswordReset => "mail.kind.password_reset",
            crate::mail::MailKind::Digest => "mail.kind.digest",
            crate::mail::MailKind::LdapAlert => "mail.kind.ldap_alert",
        },
        to: entry.recipient.clone(),
        subject: entry.subject.clone(),
        status_key,
        status_class,
        attempts: entry.attempts,
        created: local_time(entry.created_at),
        when,
        error: entry.last_error.clone().unwrap_or_default(),
        failed: entry.status == OutboxStatus::Failed,
        pending: matches!(entry.status, OutboxStatus::Queued | OutboxStatus::Sending),
    }
}

#[derive(Template)]
#[template(path = "admin/mail.html")]
struct MailPage {
    c: Chrome,
    form: SettingsForm,
    configured: bool,
    test_to: String,
    test_errors: FieldErrors,
    /// The test mail just sent, as the outbox has it now.
    test: Option<OutboxRow>,
    outbox: Vec<OutboxRow>,
    /// The outbox filter: `""`, `queued`, `sending`, `sent` or `failed`.
    filter: String,
    notice: Option<String>,
}

/// The test mail's result (polled by htmx while it is on its way).
#[derive(Template)]
#[template(path = "admin/mail_test.html")]
struct TestResult {
    tr: Tr,
    test: OutboxRow,
}

fn query<'a>(visitor: &'a Visitor, name: &str) -> Option<&'a str> {
    let query = visitor.path.split_once('?')?.1;
    query
        .split('&')
        .find_map(|pair| pair.strip_prefix(name)?.strip_prefix('='))
}

async fn mail_page(
    state: &AppState,
    visitor: &Visitor,
    form: SettingsForm,
) -> Result<MailPage, PortalError> {
    let tr = visitor.tr();
    let fail = |e: MailError| PortalError::Api(visitor.lang, e.into());
    let filter = match query(visitor, "status") {
        Some(s @ ("queued" | "sending" | "sent" | "failed")) => s.to_owned(),
        _ => String::new(),
    };
    let status = match filter.as_str() {
        "queued" => Some(OutboxStatus::Queued),
        "sending" => Some(OutboxStatus::Sending),
        "sent" => Some(OutboxStatus::Sent),
        "failed" => Some(OutboxStatus::Failed),
        _ => None,
    };
    let outbox = state
        .mail
        .outbox(status, OUTBOX_SHOWN)
        .await
        .map_err(fail)?;
    let test = match query(visitor, "test").and_then(|id| id.parse::<Uuid>().ok()) {
        Some(id) => state.mail.outbox_entry(id).await.ok().map(|e| row(&e)),
        None => None,
    };
    let notice = match query(visitor, "done") {
        Some("saved") => Some(tr.t("mail.notice.saved").to_owned()),
        Some("retried") => Some(tr.t("mail.notice.retried").to_owned()),
        _ => None,
    };
    Ok(MailPage {
        c: Chrome::new(state, visitor, "mail", "nav.mail"),
        form,
        configured: state.mail.settings().smtp_host.is_some(),
        test_to: String::new(),
        test_errors: FieldErrors::default(),
        test,
        outbox: outbox.iter().map(row).collect(),
        filter,
        notice,
    })
}

/// `GET /admin/mail`.
pub async fn show(State(state): State<AppState>, It(visitor): It) -> Result<Response, PortalError> {
    let form = SettingsForm::of(&state.mail.settings());
    Ok(page::render(&mail_page(&state, &visitor, form).await?))
}

/// A refusal of the service next to its field, translated; anything else ends on an error page.
fn field_error(tr: &Tr, error: MailError, errors: &mut FieldErrors) -> Result<(), ApiError> {
    match error {
        MailError::Invalid { field, reason } => {
            let key = match field.as_str() {
                "from_address" if reason.starts_with("is needed") => "mail.error.from_required",
                "smtp_host" => "mail.error.smtp_host",
                "smtp_port" => "mail.error.smtp_port",
                "from_address" => "mail.error.from_address",
                "from_name" => "mail.error.from_name",
                "public_url" => "mail.error.public_url",
                "digest_after_minutes" => "mail.error.digest_after_minutes",
                "alert_to" => "mail.error.alert_to",
                "smtp_username" => "mail.error.smtp_username",
                "smtp_password" => "mail.error.smtp_password",
                "to" => "mail.error.to",
                _ => {
                    errors.add(&field, reason);
                    return Ok(());
                }
            };
            errors.add(&field, tr.t(key));
            Ok(())
        }
        MailError::NotConfigured => {
            errors.add("to", tr.t("mail.error.not_configured"));
            Ok(())
        }
        other => Err(other.into()),
    }
}

/// `POST /admin/mail`: the settings.
pub async fn save(
    State(state): State<AppState>,
    It(visitor): It,
    posted: Posted,
) -> Result<Response, PortalError> {
    let tr = visitor.tr();
    let mut form = SettingsForm::posted(&posted, state.mail.settings().smtp_password_set);
    if let Some(input) = form.input(&tr, &posted)
        && form.errors.is_empty()
    {
        match state.mail.update_settings(&visitor.actor(), input).await {
            Ok(_) => return Ok(Redirect::to("/admin/mail?done=saved").into_response()),
            Err(error) => field_error(&tr, error, &mut form.errors)
                .map_err(|e| PortalError::Api(visitor.lang, e))?,
        }
    }
    let page = mail_page(&state, &visitor, form).await?;
    Ok(page::render_status(StatusCode::UNPROCESSABLE_ENTITY, &page))
}

/// `POST /admin/mail/test` (`to`: empty for the administrator's own address).
pub async fn send_test(
    State(state): State<AppState>,
    It(visitor): It,
    posted: Posted,
) -> Result<Response, PortalError> {
    let tr = visitor.tr();
    let to = Some(posted.get("to").to_owned()).filter(|t| !t.is_empty());
    let sent = state
        .mail
        .send_test(&visitor.actor(), to, visitor.principal.staff_id)
        .await;
    let mut errors = FieldErrors::default();
    match sent {
        Ok(entry) => {
            return Ok(Redirect::to(&format!("/admin/mail?test={}#test", entry.id)).into_response());
        }
        Err(error) => {
            field_error(&tr, error, &mut errors).map_err(|e| PortalError::Api(visitor.lang, e))?
        }
    }
    let form = SettingsForm::of(&state.mail.settings());
    let mut page = mail_page(&state, &visitor, form).await?;
    page.test_to = posted.get("to").to_owned();
    page.test_errors = errors;
    Ok(page::render_status(StatusCode::UNPROCESSABLE_ENTITY, &page))
}

/// `GET /admin/mail/test/{id}`: the test mail's result (an htmx fragment).
pub async fn test_result(
    State(state): State<AppState>,
    It(visitor): It,
    Path(id): Path<String>,
) -> Result<Response, PortalError> {
    let id = id
        .parse::<Uuid>()
        .map_err(|_| PortalError::NotFound(visitor.lang))?;
    let entry = state
        .mail
        .outbox_entry(id)
        .await
        .map_err(|e| PortalError::Api(visitor.lang, e.into()))?;
    Ok(page::render(&TestResult {
        tr: visitor.tr(),
        test: row(&entry),
    }))
}

/// `POST /admin/mail/outbox/{id}/retry`.
pub async fn retry(
    State(state): State<AppState>,
    It(visitor): It,
    Path(id): Path<String>,
) -> Result<Response, PortalError> {
    let id = id
        .parse::<Uuid>()
        .map_err(|_| PortalError::NotFound(visitor.lang))?;
    state
        .mail
        .retry(&visitor.actor(), id)
        .await
        .map_err(|e| PortalError::Api(visitor.lang, e.into()))?;
    Ok(Redirect::to("/admin/mail?done=retried#outbox").into_response())
}
