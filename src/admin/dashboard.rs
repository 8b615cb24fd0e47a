//! The dashboard (`/admin`): people and departments, people online, messages today and per
//! day, and the LDAP connector's last run and recent history. Read-only; any administrator.

use askama::Template;
use axum::{extract::State, response::Response};

use super::{
    chart::{self, BarChart, Datum},
    error::PortalError,
    page::{self, Chrome},
    session::Staffer,
};
use crate::{api::ApiError, ldap::Run, state::AppState};

/// Days in the messages chart.
const MESSAGE_DAYS: u32 = 14;
/// Runs in the sync history chart.
const SYNC_RUNS: u64 = 12;

#[derive(Template)]
#[template(path = "admin/dashboard.html")]
struct DashboardPage {
    c: Chrome,
    active_staff: usize,
    people_note: String,
    departments: usize,
    online: usize,
    messages_today: u64,
    messages_chart: BarChart,
    ldap: Option<LdapCard>,
}

/// The LDAP connector at a glance.
struct LdapCard {
    mode: &'static str,
    last: Option<RunView>,
    history: Option<BarChart>,
}

/// A run as the dashboard shows it.
struct RunView {
    status: String,
    /// i18n key of the status.
    status_key: &'static str,
    /// CSS class of the status badge.
    badge: &'static str,
    kind: String,
    started: String,
    added: usize,
    updated: usize,
    disabled: usize,
    failed: usize,
    message: String,
}

fn status_key(status: &str) -> (&'static str, &'static str) {
    match status {
        "succeeded" => ("ldap.status.succeeded", "badge-ok"),
        "running" => ("ldap.status.running", "badge-info"),
        "blocked" => ("ldap.status.blocked", "badge-warn"),
        "rejected" => ("ldap.status.rejected", "badge-muted"),
        _ => ("ldap.status.failed", "badge-error"),
    }
}

/// A time as the person reads it: the server's local time, to the minute.
pub fn local_time(millis: i64) -> String {
    use chrono::TimeZone;
    match chrono::Local.timestamp_millis_opt(millis).single() {
        Some(time) => time.format("%Y-%m-%d %H:%M").to_string(),
        None => millis.to_string(),
    }
}

fn run_view(run: &Run) -> RunView {
    let (status_key, badge) = status_key(&run.status);
    RunView {
        status: run.status.clone(),
        status_key,
        badge,
        kind: run.kind.clone(),
        started: local_time(run.started_at),
        added: run.counts.added + run.counts.departments_added,
        updated: run.counts.updated
            + run.counts.moved
            + run.counts.departments_updated
            + run.counts.departments_moved,
        disabled: run.counts.disabled + run.counts.departments_removed,
        failed: run.counts.failed,
        message: run.message.clone(),
    }
}

/// `GET /admin`.
pub async fn show(
    State(state): State<AppState>,
    Staffer(visitor): Staffer,
) -> Result<Response, PortalError> {
    let lang = visitor.lang;
    let tr = visitor.tr();
    let fail = |e: ApiError| PortalError::Api(lang, e);
    let (staff, active_staff, departments) = {
        let replica = state.directory.read();
        let active = replica.all_staff().filter(|s| s.is_active()).count();
        (replica.staff_count(), active, replica.department_count())
    };
    let now = chrono::Utc::now();
    let offset_ms = i64::from(chrono::Local::now().offset().local_minus_utc()) * 1000;
    let days = state
        .im
        .messages_per_day(MESSAGE_DAYS, offset_ms, now.timestamp_millis())
        .await
        .map_err(|e| fail(e.into()))?;
    let messages_today = days.last().map_or(0, |d| d.messages);
    let data: Vec<Datum> = days
        .iter()
        .enumerate()
        .map(|(index, day)| Datum {
            label: day_label(day.day),
            value: day.messages,
            class: "bar",
            show_label: (days.len() - 1 - index) % 2 == 0,
        })
        .collect();
    let total: u64 = days.iter().map(|d| d.messages).sum();
    let messages_chart = chart::bars(
        &data,
        tr.f(
            "dashboard.messages_chart_summary",
            &[("days", &MESSAGE_DAYS), ("total", &total)],
        ),
    );
    let ldap = match state.ldap_connected() {
        None => None,
        Some(ldap) => {
            let runs = ldap.runs(SYNC_RUNS).await.map_err(|e| fail(e.into()))?;
            let history = (!runs.is_empty()).then(|| {
                let data: Vec<Datum> = runs
                    .iter()
                    .rev()
                    .map(|run| {
                        let view = run_view(run);
                        Datum {
                            label: view.started.clone(),
                            value: (view.added + view.updated + view.disabled) as u64,
                            class: match run.status.as_str() {
                                "succeeded" => "bar",
                                "running" => "bar-info",
                                "blocked" => "bar-warn",
                                _ => "bar-error",
                            },
                            show_label: false,
                        }
                    })
                    .collect();
                chart::bars(
                    &data,
                    tr.f("dashboard.sync_chart_summary", &[("runs", &runs.len())]),
                )
            });
            Some(LdapCard {
                mode: match ldap.mode() {
                    crate::config::ldap::Mode::ReadOnly => "ldap.mode.read_only",
                    crate::config::ldap::Mode::Writable => "ldap.mode.writable",
                    crate::config::ldap::Mode::Unsynced => "ldap.mode.unsynced",
                },
                last: runs.first().map(run_view),
                history,
            })
        }
    };
    Ok(page::render(&DashboardPage {
        c: Chrome::new(&state, &visitor, "dashboard", "nav.dashboard"),
        active_staff,
        people_note: tr.f(
            "dashboard.people_note",
            &[("total", &staff), ("disabled", &(staff - active_staff))],
        ),
        departments,
        online: state.im.people_online(),
        messages_today,
        messages_chart,
        ldap,
    }))
}

/// `MM-DD` of a day number (days since the epoch).
fn day_label(day: i64) -> String {
    chrono::DateTime::from_timestamp(day * 86_400, 0)
        .map(|d| d.format("%m-%d").to_string())
        .unwrap_or_default()
}
