//! LDAP sync runs (IT, `access` power): "Sync now" (a background job, as the JSON API starts
//! it), the run history with counts and failures, one run with its progress while it runs
//! (htmx polls a fragment until it ends), and approve or reject for a blocked run. Each
//! action is the `LdapService` call the JSON API makes.

use askama::Template;
use axum::{
    extract::{Path, State},
    response::{IntoResponse, Redirect, Response},
};
use uuid::Uuid;

use super::{It, posted::Posted};
use crate::admin::{
    dashboard::local_time,
    error::PortalError,
    i18n::Tr,
    page::{self, Chrome},
};
use crate::{
    api::ApiError,
    ldap::{LdapError, LdapService, Run, SyncKind},
    state::AppState,
};

/// A run as the pages draw it.
#[derive(Clone)]
pub struct RunView {
    pub id: String,
    pub status: String,
    pub status_key: &'static str,
    pub badge: &'static str,
    pub trigger_key: String,
    pub kind_key: String,
    pub started: String,
    /// How long it ran ("12 s"), or how long it has been running.
    pub took: String,
    pub message: String,
    pub running: bool,
    /// Blocked and not decided yet: approve or reject.
    pub waiting: bool,
    pub approved: bool,
    /// (i18n key, number).
    pub counts: Vec<(&'static str, usize)>,
    pub added: usize,
    pub updated: usize,
    pub disabled: usize,
    pub failed: usize,
    pub failures: Vec<(String, String)>,
}

pub fn status_key(status: &str) -> (&'static str, &'static str) {
    match status {
        "succeeded" => ("ldap.status.succeeded", "badge-ok"),
        "running" => ("ldap.status.running", "badge-info"),
        "blocked" => ("ldap.status.blocked", "badge-warn"),
        "rejected" => ("ldap.status.rejected", "badge-muted"),
        _ => ("ldap.status.failed", "badge-error"),
    }
}

/// A run's message in the reader's language where it is one of the job's own (progress, the
/// summary, a block); errors from the server stay as they came.
fn message(tr: &Tr, run: &Run) -> String {
    let c = &run.counts;
    let text = run.message.as_str();
    match run.status.as_str() {
        "succeeded" => tr.f(
            "ldap.message.summary",
            &[
                ("added", &c.added),
                ("updated", &c.updated),
                ("moved", &c.moved),
                ("disabled", &c.disabled),
                ("re_enabled", &c.re_enabled),
                ("skipped", &c.failed),
            ],
        ),
        "blocked" | "rejected" if text.contains("returned nobody") => {
            tr.t("ldap.message.nobody").to_owned()
        }
        "blocked" | "rejected" if text.contains("would disable") => {
            let of = text
                .split(" of ")
                .nth(1)
                .and_then(|rest| rest.split(' ').next())
                .unwrap_or("?");
            tr.f(
                "ldap.message.threshold",
                &[("disabled", &c.disabled), ("of", &of)],
            )
        }
        "running" if text == "starting" => tr.t("ldap.message.starting").to_owned(),
        "running" if text == "reading LDAP" => tr.t("ldap.message.reading").to_owned(),
        "running" if text.ends_with("entries; applying") => {
            tr.f("ldap.message.applying", &[("read", &c.read)])
        }
        "running" if text.starts_with("updating group") => tr.t("ldap.message.groups").to_owned(),
        _ => text.to_owned(),
    }
}

fn view(tr: &Tr, run: &Run) -> RunView {
    let (status_key, badge) = status_key(&run.status);
    let end = run
        .finished_at
        .unwrap_or_else(|| chrono::Utc::now().timestamp_millis());
    let seconds = (end - run.started_at).max(0) as f64 / 1000.0;
    let c = &run.counts;
    RunView {
        id: run.id.to_string(),
        status: run.status.clone(),
        status_key,
        badge,
        trigger_key: format!("ldap.trigger.{}", run.trigger),
        kind_key: format!("ldap.kind.{}", run.kind),
        started: local_time(run.started_at),
        took: if seconds < 0.1 {
            "< 0.1 s".to_owned()
        } else if seconds < 60.0 {
            format!("{seconds:.1} s")
        } else {
            format!("{:.0} min", seconds / 60.0)
        },
        message: message(tr, run),
        running: run.status == "running",
        waiting: run.status == "blocked" && !run.approved,
        approved: run.approved,
        counts: vec![
            ("ldap.count.read", c.read),
            ("ldap.count.added", c.added),
            ("ldap.count.updated", c.updated),
            ("ldap.count.moved", c.moved),
            ("ldap.count.disabled", c.disabled),
            ("ldap.count.re_enabled", c.re_enabled),
            ("ldap.count.departments_added", c.departments_added),
            ("ldap.count.departments_updated", c.departments_updated),
            ("ldap.count.departments_moved", c.departments_moved),
            ("ldap.count.departments_removed", c.departments_removed),
            ("ldap.count.groups", c.groups),
            ("ldap.count.failed", c.failed),
        ],
        added: c.added,
        updated: c.updated,
        disabled: c.disabled,
        failed: c.failed,
        failures: run
            .failures
            .iter()
            .take(200)
            .map(|f| (f.dn.clone(), f.reason.clone()))
            .collect(),
    }
}

#[derive(Template)]
#[template(path = "admin/ldap_runs.html")]
struct RunsPage {
    c: Chrome,
    configured: bool,
    runs: Vec<RunView>,
    /// The last run waiting for approval, if any.
    waiting: Option<RunView>,
}

#[derive(Template)]
#[template(path = "admin/ldap_run.html")]
struct RunPage {
    c: Chrome,
    run: RunView,
    notice: Option<String>,
}

#[derive(Template)]
#[template(path = "admin/ldap_run_status.html")]
struct RunStatus {
    tr: Tr,
    run: RunView,
}

#[derive(Template)]
#[template(path = "admin/ldap_run_row.html")]
struct RunRow {
    tr: Tr,
    run: RunView,
}

fn connector<'a>(
    state: &'a AppState,
    it: &It,
) -> Result<&'a std::sync::Arc<LdapService>, PortalError> {
    state
        .ldap_connected()
        .ok_or(PortalError::NotFound(it.0.lang))
}

fn fail(it: &It) -> impl Fn(LdapError) -> PortalError + '_ {
    move |e| PortalError::Api(it.0.lang, ApiError::from(e))
}

fn run_id(it: &It, id: &str) -> Result<Uuid, PortalError> {
    Uuid::parse_str(id).map_err(|_| PortalError::NotFound(it.0.lang))
}

/// `GET /admin/ldap/runs`.
pub async fn list(State(state): State<AppState>, it: It) -> Result<Response, PortalError> {
    let tr = it.0.tr();
    let (runs, waiting) = match state.ldap_connected() {
        Some(ldap) => {
            let runs: Vec<RunView> = ldap
                .runs(50)
                .await
                .map_err(fail(&it))?
                .iter()
                .map(|r| view(&tr, r))
                .collect();
            let waiting = runs.iter().find(|r| r.waiting).cloned();
            (runs, waiting)
        }
        None => (Vec::new(), None),
    };
    Ok(page::render(&RunsPage {
        c: Chrome::new(&state, &it.0, "ldap_runs", "ldap.runs.title"),
        configured: state.ldap.configured(),
        runs,
        waiting,
    }))
}

/// `POST /admin/ldap/sync` (`kind`: `full` or `incremental`): starts a run in the background
/// and shows its page, which follows it.
pub async fn sync(
    State(state): State<AppState>,
    it: It,
    posted: Posted,
) -> Result<Response, PortalError> {
    let kind = match posted.get("kind") {
        "incremental" => SyncKind::Incremental,
        _ => SyncKind::Full,
    };
    let run = connector(&state, &it)?
        .start_sync("manual", kind, false)
        .await
        .map_err(fail(&it))?;
    Ok(Redirect::to(&format!("/admin/ldap/runs/{}", run.id)).into_response())
}

/// `GET /admin/ldap/runs/{id}`.
pub async fn show(
    State(state): State<AppState>,
    it: It,
    Path(id): Path<String>,
) -> Result<Response, PortalError> {
    let id = run_id(&it, &id)?;
    let run = connector(&state, &it)?.run(id).await.map_err(fail(&it))?;
    let tr = it.0.tr();
    let notice = match it.0.path.split("done=").nth(1) {
        Some(done) if done.starts_with("rejected") => Some(tr.t("ldap.notice.rejected").to_owned()),
        _ => None,
    };
    Ok(page::render(&RunPage {
        c: Chrome::new(&state, &it.0, "ldap_runs", "ldap.run.title"),
        run: view(&it.0.tr(), &run),
        notice,
    }))
}

/// `GET /admin/ldap/runs/{id}/status` (htmx, every second while the run runs): its status,
/// progress and counts.
pub async fn status(
    State(state): State<AppState>,
    it: It,
    Path(id): Path<String>,
) -> Result<Response, PortalError> {
    let id = run_id(&it, &id)?;
    let run = connector(&state, &it)?.run(id).await.map_err(fail(&it))?;
    Ok(page::render(&RunStatus {
        tr: it.0.tr(),
        run: view(&it.0.tr(), &run),
    }))
}

/// `GET /admin/ldap/runs/{id}/row` (htmx, the history's row of a running run).
pub async fn row(
    State(state): State<AppState>,
    it: It,
    Path(id): Path<String>,
) -> Result<Response, PortalError> {
    let id = run_id(&it, &id)?;
    let run = connector(&state, &it)?.run(id).await.map_err(fail(&it))?;
    Ok(page::render(&RunRow {
        tr: it.0.tr(),
        run: view(&it.0.tr(), &run),
    }))
}

/// `POST /admin/ldap/runs/{id}/approve`: starts the approved full sync and shows it.
pub async fn approve(
    State(state): State<AppState>,
    it: It,
    Path(id): Path<String>,
) -> Result<Response, PortalError> {
    let id = run_id(&it, &id)?;
    let started = connector(&state, &it)?
        .approve(&it.0.actor(), id)
        .await
        .map_err(fail(&it))?;
    Ok(Redirect::to(&format!("/admin/ldap/runs/{}", started.id)).into_response())
}

/// `POST /admin/ldap/runs/{id}/reject`.
pub async fn reject(
    State(state): State<AppState>,
    it: It,
    Path(id): Path<String>,
) -> Result<Response, PortalError> {
    let id = run_id(&it, &id)?;
    connector(&state, &it)?
        .reject(&it.0.actor(), id)
        .await
        .map_err(fail(&it))?;
    Ok(Redirect::to(&format!("/admin/ldap/runs/{id}?done=rejected")).into_response())
}
