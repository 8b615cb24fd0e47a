//! One person (`/admin/staff/{id}`): edit (name, title, type, emails, phones, departments with
//! the primary one, custom fields), disable or enable, reset the local password. A save sends
//! only the fields that differ from the record, with the version the page showed: the API's
//! write path (through LDAP when connected) refuses LDAP-owned fields in `read_only` mode and
//! stale edits, and the page says so next to the fields, keeping what was typed.

use std::collections::HashMap;

use askama::Template;
use axum::{
    body::Bytes,
    extract::{Path, Query, State},
    http::StatusCode,
    response::{IntoResponse, Redirect, Response},
};
use serde::Deserialize;

use crate::{
    admin::{
        PortalError,
        i18n::Tr,
        page::{self, Chrome},
        posted::Posted,
        session::{HrAdmin, Visitor},
    },
    api::{ApiError, admin::staff::store_patch},
    directory::{
        CustomFields, DepartmentId, FieldEntity, FieldType, MembershipInput, Staff, StaffId,
        StaffPatch, query::department_path,
    },
    state::AppState,
};

/// A membership row of the form.
pub struct MembershipRow {
    pub id: DepartmentId,
    pub path: String,
    pub primary: bool,
}

/// A custom field of the form.
pub struct CustomRow {
    pub key: String,
    pub label: String,
    /// `text`, `number`, `date`, `bool` or `choice`.
    pub kind: &'static str,
    pub value: String,
    pub choices: Vec<String>,
    pub required: bool,
    pub locked: bool,
    /// The record's value (`was.custom.<key>`).
    pub was: String,
}

#[derive(Template)]
#[template(path = "admin/staff_edit.html")]
struct EditPage {
    c: Chrome,
    tr: Tr,
    id: StaffId,
    login: String,
    version: i64,
    active: bool,
    from_ldap: bool,
    /// Field names LDAP owns (read-only here), when any.
    locked: Vec<&'static str>,
    v: HashMap<&'static str, String>,
    /// The record's values the form was drawn from (sent back as `was.*`, so a save changes
    /// only what the person edited, and a stale form keeps exactly their edits).
    was: HashMap<&'static str, String>,
    memberships: Vec<MembershipRow>,
    custom: Vec<CustomRow>,
    errors: HashMap<String, String>,
    message: Option<String>,
    notice: Option<String>,
}

impl EditPage {
    fn value(&self, name: &str) -> &str {
        self.v.get(name).map_or("", String::as_str)
    }
    fn was_value(&self, name: &str) -> &str {
        self.was.get(name).map_or("", String::as_str)
    }
    fn error(&self, name: &str) -> Option<&str> {
        self.errors.get(name).map(String::as_str)
    }
    fn is_locked(&self, name: &str) -> bool {
        self.locked.contains(&name)
    }
}

/// The fields a form edits, and their values as the form shows them.
fn values_of(person: &Staff) -> HashMap<&'static str, String> {
    HashMap::from([
        ("display_name", person.display_name.clone()),
        ("title", person.title.clone()),
        ("staff_type", person.staff_type.clone()),
        ("emails", person.emails.join("\n")),
        ("phones", person.phones.join("\n")),
    ])
}

fn custom_text(value: Option<&serde_json::Value>) -> String {
    match value {
        None | Some(serde_json::Value::Null) => String::new(),
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    }
}

/// Memberships as the form compares them: `id:1` (primary) or `id:0`, in order; with none
/// marked primary the first is, as the directory decides.
fn membership_text<'a>(rows: impl Iterator<Item = (&'a DepartmentId, bool)>) -> String {
    let rows: Vec<(&DepartmentId, bool)> = rows.collect();
    let any = rows.iter().any(|r| r.1);
    rows.iter()
        .enumerate()
        .map(|(i, (id, primary))| format!("{id}:{}", u8::from(*primary || (!any && i == 0))))
        .collect::<Vec<_>>()
        .join(",")
}

fn person_memberships(person: &Staff) -> String {
    membership_text(
        person
            .memberships
            .iter()
            .map(|m| (&m.department_id, m.primary)),
    )
}

/// Whether the person edited `name` (its value differs from the `was.` value it was drawn
/// from); without `was.` (an old form), whether it differs from `current`.
fn edited(posted: &Posted, name: &str, current: &str) -> bool {
    let was = format!("was.{name}");
    let base = if posted.all(&was).is_empty() {
        current
    } else {
        posted.get(&was)
    };
    posted.get(name).replace("\r\n", "\n").trim() != base.replace("\r\n", "\n").trim()
}

/// LDAP-owned fields of this person (shown read-only), as the connector decides them.
fn locked_fields(state: &AppState, person: &Staff) -> (Vec<&'static str>, Vec<String>) {
    let Some(ldap) = state.ldap_connected() else {
        return (Vec::new(), Vec::new());
    };
    if ldap.mode() != crate::ldap::Mode::ReadOnly {
        return (Vec::new(), Vec::new());
    }
    let every = StaffPatch {
        display_name: Some(String::new()),
        title: Some(String::new()),
        emails: Some(Vec::new()),
        phones: Some(Vec::new()),
        staff_type: Some(String::new()),
        departments: Some(Vec::new()),
        ..Default::default()
    };
    const NAMES: [&str; 8] = [
        "login",
        "display_name",
        "title",
        "emails",
        "phones",
        "staff_type",
        "custom",
        "departments",
    ];
    let fields = ldap
        .ldap_owned(person, &every)
        .into_iter()
        .filter_map(|f| NAMES.into_iter().find(|n| *n == f))
        .collect();
    let custom = state
        .directory
        .field_definitions()
        .into_iter()
        .filter(|d| d.entity == FieldEntity::Staff)
        .filter(|d| {
            let one = StaffPatch {
                custom: Some(CustomFields::from([(
                    d.key.clone(),
                    serde_json::Value::Null,
                )])),
                ..Default::default()
            };
            !ldap.ldap_owned(person, &one).is_empty()
        })
        .map(|d| d.key)
        .collect();
    (fields, custom)
}

#[allow(clippy::too_many_arguments)]
pub(super) fn render(
    state: &AppState,
    visitor: &Visitor,
    person: &Staff,
    typed: Option<(&Posted, Vec<MembershipRow>)>,
    errors: HashMap<String, String>,
    message: Option<String>,
    notice: Option<String>,
    status: StatusCode,
) -> Response {
    let (locked, locked_custom) = locked_fields(state, person);
    let defs: Vec<_> = state
        .directory
        .field_definitions()
        .into_iter()
        .filter(|d| d.entity == FieldEntity::Staff)
        .collect();
    let posted = typed.as_ref().map(|(p, _)| *p);
    let current = values_of(person);
    let current_rows = || {
        let replica = state.directory.read();
        person
            .memberships
            .iter()
            .map(|m| MembershipRow {
                id: m.department_id,
                path: department_path(&replica, m.department_id).join(" / "),
                primary: m.primary,
            })
            .collect::<Vec<_>>()
    };
    // Edited fields keep what was typed; the others show the record as it is now.
    let (v, memberships) = match typed {
        Some((posted, rows)) => {
            let v = current
                .iter()
                .map(|(k, now)| {
                    if edited(posted, k, now) {
                        (*k, posted.get(k).to_owned())
                    } else {
                        (*k, now.clone())
                    }
                })
                .collect();
            let typed_rows = membership_text(rows.iter().map(|r| (&r.id, r.primary)));
            let rows = if edited_departments(posted, &typed_rows, person) {
                rows
            } else {
                current_rows()
            };
            (v, rows)
        }
        None => (current.clone(), current_rows()),
    };
    let mut was = current;
    was.insert("departments", person_memberships(person));
    let custom = defs
        .into_iter()
        .map(|d| CustomRow {
            value: match posted {
                Some(posted)
                    if edited(
                        posted,
                        &format!("custom.{}", d.key),
                        &custom_text(person.custom.get(&d.key)),
                    ) =>
                {
                    posted.get(&format!("custom.{}", d.key)).to_owned()
                }
                _ => custom_text(person.custom.get(&d.key)),
            },
            was: custom_text(person.custom.get(&d.key)),
            kind: d.field_type.as_str(),
            locked: locked_custom.contains(&d.key),
            key: d.key,
            label: d.label,
            choices: d.choices,
            required: d.required,
        })
        .collect();
    let page = EditPage {
        c: Chrome::new(state, visitor, "staff", "staff.edit.title"),
        tr: visitor.tr(),
        id: person.id,
        login: person.login.clone(),
        version: person.version.0,
        active: person.is_active(),
        from_ldap: person.source == crate::directory::RecordSource::Ldap,
        locked,
        v,
        was,
        memberships,
        custom,
        errors,
        message,
        notice,
    };
    let mut page = page;
    page.c.title = format!("{} · {}", person.display_name, page.c.title);
    page::render_status(status, &page)
}

pub(super) fn find(
    state: &AppState,
    lang: crate::admin::i18n::Lang,
    id: &str,
) -> Result<Staff, PortalError> {
    id.parse()
        .ok()
        .map(StaffId)
        .and_then(|id| state.directory.read().staff(id).map(|s| Staff::clone(s)))
        .ok_or(PortalError::NotFound(lang))
}

#[derive(Deserialize)]
pub struct ShowParams {
    notice: Option<String>,
}

/// `GET /admin/staff/{id}`.
pub async fn show(
    State(state): State<AppState>,
    hr: HrAdmin,
    Path(id): Path<String>,
    Query(params): Query<ShowParams>,
) -> Result<Response, PortalError> {
    let visitor = hr.0;
    let person = find(&state, visitor.lang, &id)?;
    let tr = visitor.tr();
    let notice = params.notice.as_deref().and_then(|n| match n {
        "saved" => Some(tr.t("staff.notice.saved").to_owned()),
        "password" => Some(tr.t("staff.notice.password").to_owned()),
        "disabled" => Some(tr.t("staff.notice.disabled").to_owned()),
        "enabled" => Some(tr.t("staff.notice.enabled").to_owned()),
        _ => None,
    });
    Ok(render(
        &state,
        &visitor,
        &person,
        None,
        HashMap::new(),
        None,
        notice,
        StatusCode::OK,
    ))
}

/// Whether the departments of the form differ from those it was drawn from.
fn edited_departments(posted: &Posted, typed: &str, person: &Staff) -> bool {
    if posted.all("was.departments").is_empty() {
        typed != person_memberships(person)
    } else {
        typed != posted.get("was.departments")
    }
}

fn lines(text: &str) -> Vec<String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect()
}

/// The form's custom values as JSON by their definitions (`null` clears a field).
fn custom_values(
    state: &AppState,
    posted: &Posted,
    tr: Tr,
    errors: &mut HashMap<String, String>,
) -> CustomFields {
    let mut out = CustomFields::new();
    for def in state
        .directory
        .field_definitions()
        .into_iter()
        .filter(|d| d.entity == FieldEntity::Staff)
    {
        let name = format!("custom.{}", def.key);
        let text = posted.get(&name).trim();
        let value = if text.is_empty() {
            serde_json::Value::Null
        } else {
            match def.field_type {
                FieldType::Number => match text.parse::<f64>() {
                    Ok(n) => serde_json::json!(n),
                    Err(_) => {
                        errors.insert(name, tr.t("staff.error.number").to_owned());
                        continue;
                    }
                },
                FieldType::Bool => serde_json::Value::Bool(text == "true"),
                _ => serde_json::Value::String(text.to_owned()),
            }
        };
        out.insert(def.key, value);
    }
    out
}

/// `POST /admin/staff/{id}`: saves the fields that differ from the record.
pub async fn save(
    State(state): State<AppState>,
    hr: HrAdmin,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, PortalError> {
    let visitor = hr.0;
    let tr = visitor.tr();
    let person = find(&state, visitor.lang, &id)?;
    let posted = Posted::parse(&body);
    let mut errors = HashMap::new();

    // Departments: the rows kept, the one marked primary, and one added with the picker.
    let primary = posted.get("primary").to_owned();
    let mut rows: Vec<MembershipRow> = Vec::new();
    {
        let replica = state.directory.read();
        let mut ids: Vec<&str> = posted.all("dept");
        if let Some(added) = posted.opt("add_department") {
            ids.push(added);
        }
        for text in ids {
            let Some(dept) = crate::admin::org::parse_id(Some(text)) else {
                continue;
            };
            if rows.iter().any(|r| r.id == dept) {
                continue;
            }
            rows.push(MembershipRow {
                id: dept,
                path: department_path(&replica, dept).join(" / "),
                primary: primary == dept.to_string(),
            });
        }
    }
    let memberships: Vec<MembershipInput> = rows
        .iter()
        .map(|r| MembershipInput {
            department_id: r.id,
            order_key: person
                .memberships
                .iter()
                .find(|m| m.department_id == r.id)
                .map(|m| m.order_key),
            primary: r.primary,
        })
        .collect();

    let mut patch = StaffPatch {
        if_version: posted.version(),
        ..Default::default()
    };
    let current = values_of(&person);
    let now = |k: &str| current.get(k).cloned().unwrap_or_default();
    let text = |k: &str| posted.get(k).trim().to_owned();
    if edited(&posted, "display_name", &now("display_name")) {
        patch.display_name = Some(text("display_name"));
    }
    if edited(&posted, "title", &now("title")) {
        patch.title = Some(text("title"));
    }
    if edited(&posted, "staff_type", &now("staff_type")) {
        patch.staff_type = Some(text("staff_type"));
    }
    if edited(&posted, "emails", &now("emails")) {
        patch.emails = Some(lines(posted.get("emails")));
    }
    if edited(&posted, "phones", &now("phones")) {
        patch.phones = Some(lines(posted.get("phones")));
    }
    let typed_rows = membership_text(rows.iter().map(|r| (&r.id, r.primary)));
    if edited_departments(&posted, &typed_rows, &person) {
        patch.departments = Some(memberships);
    }
    let custom: CustomFields = custom_values(&state, &posted, tr, &mut errors)
        .into_iter()
        .filter(|(k, _)| {
            edited(
                &posted,
                &format!("custom.{k}"),
                &custom_text(person.custom.get(k)),
            )
        })
        .collect();
    if !custom.is_empty() {
        patch.custom = Some(custom);
    }
    if !errors.is_empty() {
        return Ok(render(
            &state,
            &visitor,
            &person,
            Some((&posted, rows)),
            errors,
            None,
            None,
            StatusCode::UNPROCESSABLE_ENTITY,
        ));
    }
    let result = store_patch(&state, &visitor.actor(), person.id, patch).await;
    let error = match result {
        Ok(_) => {
            return Ok(
                Redirect::to(&format!("/admin/staff/{}?notice=saved", person.id)).into_response(),
            );
        }
        Err(error) => error,
    };
    // Shown against the record as it is now (a stale edit then carries the new version).
    let current = find(&state, visitor.lang, &id)?;
    let (message, status) = match error {
        ApiError::Invalid { field, reason } => {
            let key = format!("staff.error.{}", field.split('.').next().unwrap_or(""));
            let known = [
                "display_name",
                "staff_type",
                "emails",
                "phones",
                "title",
                "departments",
            ]
            .iter()
            .any(|f| key.ends_with(f));
            let text = if known { tr.t(&key).to_owned() } else { reason };
            errors.insert(field, text);
            (None, StatusCode::UNPROCESSABLE_ENTITY)
        }
        ApiError::PreconditionFailed(_) => (
            Some(tr.t("staff.error.stale").to_owned()),
            StatusCode::PRECONDITION_FAILED,
        ),
        ApiError::Conflict(m) | ApiError::NotFound(m) | ApiError::Unavailable(m) => {
            (Some(m), StatusCode::CONFLICT)
        }
        other => return Err(PortalError::Api(visitor.lang, other)),
    };
    Ok(render(
        &state,
        &visitor,
        &current,
        Some((&posted, rows)),
        errors,
        message,
        None,
        status,
    ))
}
