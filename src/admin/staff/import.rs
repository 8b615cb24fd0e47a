//! CSV import and export of staff. The import reads a file (the page's script puts it into the
//! form, or it is pasted), previews every row through the JSON API's import as a dry run
//! (`api::admin::import::run`: what would be created or changed, and each bad row's error),
//! then applies exactly that preview; if the directory moved in between, it previews again
//! instead. The export writes the same columns, so a file can go out, be edited and come back.

use std::collections::HashMap;

use askama::Template;
use axum::{
    body::Bytes,
    extract::{Query, State},
    http::{StatusCode, header},
    response::{IntoResponse, Response},
};

use super::{ListParams, csv};
use crate::{
    admin::{
        PortalError,
        i18n::Tr,
        page::{self, Chrome},
        posted::Posted,
        session::HrAdmin,
    },
    api::{
        ApiError,
        admin::import::{ImportMembership, ImportOutcome, ImportPerson, ImportRequest, run},
    },
    auth::AdminPower,
    directory::{
        CustomFields, FieldEntity, FieldType, Replica, StaffStatus,
        query::{PageAt, department_path},
    },
    state::AppState,
};

/// The columns a file may have (besides `custom.<key>`), with the other names accepted.
const COLUMNS: &[(&str, &[&str])] = &[
    ("login", &["login", "账号"]),
    ("display_name", &["display_name", "name", "姓名"]),
    ("title", &["title", "职务"]),
    ("staff_type", &["staff_type", "type", "类型"]),
    ("emails", &["emails", "email", "邮箱"]),
    ("phones", &["phones", "phone", "电话"]),
    ("departments", &["departments", "department", "部门"]),
    ("status", &["status", "状态"]),
    ("roles", &["roles", "角色"]),
    (
        "initial_password",
        &["initial_password", "password", "初始密码"],
    ),
];

/// A row of the preview or the result.
pub struct RowView {
    pub line: usize,
    pub login: String,
    pub name: String,
    /// `created`, `updated`, `unchanged` or `failed`.
    pub outcome: &'static str,
    pub changes: String,
    pub error: String,
}

#[derive(Template)]
#[template(path = "admin/staff_import.html")]
struct ImportPage {
    c: Chrome,
    tr: Tr,
    csv: String,
    /// The directory version the preview was made at.
    version: i64,
    /// A problem with the whole file (or "changed since the preview").
    message: Option<String>,
    /// Whether this shows what was done (not a preview).
    applied: bool,
    created: usize,
    updated: usize,
    unchanged: usize,
    failed: usize,
    rows: Vec<RowView>,
    org_js: String,
}

fn split(text: &str) -> Vec<String> {
    text.split([';', '\n'])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

fn custom_value(kind: FieldType, text: &str) -> Option<serde_json::Value> {
    Some(match kind {
        FieldType::Number => serde_json::json!(text.parse::<f64>().ok()?),
        FieldType::Bool => match text.to_lowercase().as_str() {
            "true" | "yes" | "1" | "是" => serde_json::Value::Bool(true),
            "false" | "no" | "0" | "否" => serde_json::Value::Bool(false),
            _ => return None,
        },
        _ => serde_json::Value::String(text.to_owned()),
    })
}

/// The file's rows as import requests, each with its line, and the rows refused already.
type ReadFile = (Vec<(usize, ImportPerson)>, Vec<RowView>);

/// The file's rows as import requests (with their lines), and the rows refused already.
fn read(state: &AppState, tr: Tr, text: &str) -> Result<ReadFile, String> {
    let rows = csv::parse(text).map_err(|line| tr.f("import.error.quote", &[("line", &line)]))?;
    let mut rows = rows.into_iter();
    let (_, header) = rows
        .next()
        .ok_or_else(|| tr.t("import.error.empty").to_owned())?;
    let defs: HashMap<String, FieldType> = state
        .directory
        .field_definitions()
        .into_iter()
        .filter(|d| d.entity == FieldEntity::Staff)
        .map(|d| (d.key, d.field_type))
        .collect();
    let mut columns: Vec<String> = Vec::new();
    for name in &header {
        let name = name.trim().to_lowercase();
        let known = COLUMNS
            .iter()
            .find(|(_, names)| names.contains(&name.as_str()))
            .map(|(key, _)| (*key).to_owned())
            .or_else(|| {
                name.strip_prefix("custom.")
                    .filter(|k| defs.contains_key(*k))
                    .map(|_| name.clone())
            });
        match known {
            Some(key) => columns.push(key),
            None => return Err(tr.f("import.error.column", &[("name", &name)])),
        }
    }
    if !columns.iter().any(|c| c == "login") {
        return Err(tr.t("import.error.no_login").to_owned());
    }
    let mut people = Vec::new();
    let mut refused = Vec::new();
    for (line, cells) in rows {
        let mut p = ImportPerson::default();
        let mut error = None;
        let mut custom = CustomFields::new();
        for (column, cell) in columns
            .iter()
            .zip(cells.iter().chain(std::iter::repeat(&String::new())))
        {
            let cell = cell.trim();
            if cell.is_empty() {
                continue;
            }
            match column.as_str() {
                "login" => p.login = cell.to_owned(),
                "display_name" => p.display_name = Some(cell.to_owned()),
                "title" => p.title = Some(cell.to_owned()),
                "staff_type" => p.staff_type = Some(cell.to_owned()),
                "emails" => p.emails = Some(split(cell)),
                "phones" => p.phones = Some(split(cell)),
                "departments" => {
                    p.departments = Some(
                        split(cell)
                            .into_iter()
                            .enumerate()
                            .map(|(i, d)| ImportMembership {
                                department: d,
                                primary: i == 0,
                            })
                            .collect(),
                    );
                }
                "status" => match cell.to_lowercase().as_str() {
                    "active" | "在职" => p.status = Some(StaffStatus::Active),
                    "disabled" | "已停用" => p.status = Some(StaffStatus::Disabled),
                    _ => error = Some(tr.t("import.error.status").to_owned()),
                },
                "roles" => p.roles = split(cell),
                "initial_password" => p.initial_password = Some(cell.to_owned()),
                other => {
                    let key = other.trim_start_matches("custom.");
                    match defs.get(key).and_then(|kind| custom_value(*kind, cell)) {
                        Some(value) => {
                            custom.insert(key.to_owned(), value);
                        }
                        None => error = Some(tr.f("import.error.custom", &[("name", &key)])),
                    }
                }
            }
        }
        if !custom.is_empty() {
            p.custom = Some(custom);
        }
        if p.login.is_empty() {
            error = Some(tr.t("import.error.login").to_owned());
        }
        match error {
            Some(error) => refused.push(RowView {
                line,
                login: p.login.clone(),
                name: p.display_name.clone().unwrap_or_default(),
                outcome: "failed",
                changes: String::new(),
                error,
            }),
            None => people.push((line, p)),
        }
    }
    Ok((people, refused))
}

fn page_for(state: &AppState, visitor: &crate::admin::session::Visitor) -> ImportPage {
    ImportPage {
        c: Chrome::new(state, visitor, "staff", "import.title"),
        tr: visitor.tr(),
        csv: String::new(),
        version: state.directory.journal().head().0,
        message: None,
        applied: false,
        created: 0,
        updated: 0,
        unchanged: 0,
        failed: 0,
        rows: Vec::new(),
        org_js: crate::admin::assets::url("org.js"),
    }
}

/// `GET /admin/staff/import`.
pub async fn form(State(state): State<AppState>, hr: HrAdmin) -> Response {
    page::render(&page_for(&state, &hr.0))
}

/// `POST /admin/staff/import`: `csv`, and `apply` with the preview's `version`.
pub async fn submit(
    State(state): State<AppState>,
    hr: HrAdmin,
    body: Bytes,
) -> Result<Response, PortalError> {
    let visitor = hr.0;
    let tr = visitor.tr();
    let posted = Posted::parse(&body);
    let mut page = page_for(&state, &visitor);
    page.csv = posted.get("csv").to_owned();
    let (people, mut rows) = match read(&state, tr, &page.csv) {
        Ok(read) => read,
        Err(message) => {
            page.message = Some(message);
            return Ok(page::render_status(StatusCode::UNPROCESSABLE_ENTITY, &page));
        }
    };
    if people.is_empty() && rows.is_empty() {
        page.message = Some(tr.t("import.error.no_rows").to_owned());
        return Ok(page::render_status(StatusCode::UNPROCESSABLE_ENTITY, &page));
    }
    let wants_apply = posted.get("apply") == "1";
    let current = state.directory.journal().head();
    let fresh = posted.version() == Some(current);
    if wants_apply && !fresh {
        page.message = Some(tr.t("import.changed").to_owned());
    }
    let apply = wants_apply && fresh;
    let lines: Vec<usize> = people.iter().map(|(line, _)| *line).collect();
    let names: Vec<String> = people
        .iter()
        .map(|(_, p)| p.display_name.clone().unwrap_or_default())
        .collect();
    let request = ImportRequest {
        dry_run: !apply,
        people: people.into_iter().map(|(_, p)| p).collect(),
    };
    let may_assign = visitor.principal.powers.has(AdminPower::Access);
    if !request.people.is_empty() {
        let report = match run(&state, &visitor.actor(), request, may_assign).await {
            Ok(report) => report,
            Err(ApiError::Forbidden(_)) => {
                page.message = Some(tr.t("import.error.roles").to_owned());
                return Ok(page::render_status(StatusCode::FORBIDDEN, &page));
            }
            Err(ApiError::Invalid { .. }) => {
                page.message = Some(tr.t("import.error.too_many").to_owned());
                return Ok(page::render_status(StatusCode::UNPROCESSABLE_ENTITY, &page));
            }
            Err(other) => return Err(PortalError::Api(visitor.lang, other)),
        };
        for result in report.results {
            rows.push(RowView {
                line: lines.get(result.index).copied().unwrap_or(0),
                login: result.login,
                name: names.get(result.index).cloned().unwrap_or_default(),
                outcome: match result.outcome {
                    ImportOutcome::Created => "created",
                    ImportOutcome::Updated => "updated",
                    ImportOutcome::Unchanged => "unchanged",
                    ImportOutcome::Failed => "failed",
                },
                changes: result.changes.join(", "),
                error: result.error.map(|e| e.message).unwrap_or_default(),
            });
        }
    }
    rows.sort_by_key(|r| r.line);
    let count = |o: &str| rows.iter().filter(|r| r.outcome == o).count();
    page.created = count("created");
    page.updated = count("updated");
    page.unchanged = count("unchanged");
    page.failed = count("failed");
    page.applied = apply;
    page.version = state.directory.journal().head().0;
    page.rows = rows;
    Ok(page::render(&page))
}

/// `GET /admin/staff/export?…`: everyone the list's filters match, as CSV (UTF-8 with a byte
/// order mark, so spreadsheet programs read Chinese names right).
pub async fn export(
    State(state): State<AppState>,
    _hr: HrAdmin,
    Query(params): Query<ListParams>,
) -> Response {
    let replica = state.directory.read();
    let defs: Vec<String> = state
        .directory
        .field_definitions()
        .into_iter()
        .filter(|d| d.entity == FieldEntity::Staff)
        .map(|d| d.key)
        .collect();
    let mut out = String::from("\u{feff}");
    let mut header: Vec<String> = [
        "login",
        "display_name",
        "title",
        "staff_type",
        "emails",
        "phones",
        "departments",
        "status",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    header.extend(defs.iter().map(|k| format!("custom.{k}")));
    out.push_str(&csv::line(&header));
    let query = params.query(&replica);
    let everyone = query.page(&replica, &PageAt::First, replica.staff_count().max(1));
    for person in &everyone.items {
        let mut fields = vec![
            person.login.clone(),
            person.display_name.clone(),
            person.title.clone(),
            person.staff_type.clone(),
            person.emails.join("; "),
            person.phones.join("; "),
            departments(&replica, person),
            match person.status {
                StaffStatus::Active => "active".into(),
                StaffStatus::Disabled => "disabled".into(),
            },
        ];
        fields.extend(defs.iter().map(|k| match person.custom.get(k) {
            None | Some(serde_json::Value::Null) => String::new(),
            Some(serde_json::Value::String(s)) => s.clone(),
            Some(other) => other.to_string(),
        }));
        out.push_str(&csv::line(&fields));
    }
    drop(replica);
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"staff.csv\"",
            ),
        ],
        out,
    )
        .into_response()
}

/// A person's departments as paths, the primary first.
fn departments(replica: &Replica, person: &crate::directory::Staff) -> String {
    let mut memberships = person.memberships.clone();
    memberships.sort_by_key(|m| !m.primary);
    memberships
        .iter()
        .map(|m| department_path(replica, m.department_id).join("/"))
        .collect::<Vec<_>>()
        .join("; ")
}
