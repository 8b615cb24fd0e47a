//! The audit log page (`/admin/audit`): who did what, when, from where, with each change's
//! fields before and after; filters by actor, entity, source and time; newest first, paged by
//! entry id. It reads the journal's audit log exactly as `GET /api/v1/admin/audit` does.
//! Any administrator. Filter changes swap only the results (htmx) and keep the URL shareable.

use askama::Template;
use axum::{
    extract::{Query, State},
    http::HeaderMap,
    response::Response,
};
use serde_json::Value;

use super::{
    error::PortalError,
    form::url_encode,
    page::{self, Chrome},
    session::Staffer,
};
use crate::{
    state::AppState,
    store::{AuditQuery, AuditRecord, EntityKind, Source},
};

const PAGE: u64 = 50;
/// Longest value shown in a before/after cell (the rest is elided).
const VALUE_CHARS: usize = 240;

/// The filters as typed (kept as text so bad input can be shown back next to its field).
#[derive(Debug, Default, Clone, serde::Deserialize)]
pub struct Filters {
    #[serde(default)]
    actor: String,
    #[serde(default)]
    entity_kind: String,
    #[serde(default)]
    source: String,
    #[serde(default)]
    entity_id: String,
    /// `YYYY-MM-DD`, the server's local date.
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
    #[serde(default)]
    before: String,
}

/// A filter the server could not use, and why (an i18n key).
#[derive(Debug)]
struct FieldError {
    field: &'static str,
    key: &'static str,
}

#[derive(Template)]
#[template(path = "admin/audit.html")]
struct AuditPage {
    c: Chrome,
    r: Results,
    f: Filters,
    kinds: Vec<(&'static str, &'static str)>,
    sources: Vec<(&'static str, &'static str)>,
}

#[derive(Template)]
#[template(path = "admin/audit_results.html")]
struct AuditFragment {
    c: Chrome,
    r: Results,
}

struct Results {
    rows: Vec<Row>,
    errors: Vec<FieldError>,
    /// The link to the next (older) page, if there is one.
    older: Option<String>,
    /// The link back to the newest entries, when paging.
    newest: Option<String>,
    filtered: bool,
}

impl Results {
    fn error(&self, field: &str) -> Option<&'static str> {
        self.errors.iter().find(|e| e.field == field).map(|e| e.key)
    }
}

struct Row {
    when: String,
    actor: String,
    source: String,
    source_key: &'static str,
    action: String,
    kind_key: &'static str,
    entity_name: Option<String>,
    /// Link to this entity's history.
    entity_link: Option<String>,
    remote: String,
    changes: Vec<FieldChange>,
}

struct FieldChange {
    field: String,
    before: Option<String>,
    after: Option<String>,
}

fn kind_key(kind: &str) -> &'static str {
    match EntityKind::parse(kind) {
        Some(EntityKind::Department) => "audit.kind.department",
        Some(EntityKind::Staff) => "audit.kind.staff",
        Some(EntityKind::Account) => "audit.kind.account",
        Some(EntityKind::Role) => "audit.kind.role",
        Some(EntityKind::Rule) => "audit.kind.rule",
        Some(EntityKind::Assignment) => "audit.kind.assignment",
        Some(EntityKind::FieldDefinition) => "audit.kind.field_definition",
        Some(EntityKind::LdapRun) => "audit.kind.ldap_run",
        Some(EntityKind::Setting) => "audit.kind.setting",
        Some(EntityKind::Mail) => "audit.kind.mail",
        Some(EntityKind::ApiKey) => "audit.kind.api_key",
        Some(EntityKind::Webhook) => "audit.kind.webhook",
        Some(EntityKind::Conversation) => "audit.kind.conversation",
        Some(EntityKind::App) => "audit.kind.app",
        None => "audit.kind.other",
    }
}

fn source_key(source: &str) -> &'static str {
    match Source::parse(source) {
        Some(Source::Portal) => "audit.source.portal",
        Some(Source::Api) => "audit.source.api",
        Some(Source::Ldap) => "audit.source.ldap",
        Some(Source::Demo) => "audit.source.demo",
        Some(Source::System) => "audit.source.system",
        None => "audit.source.other",
    }
}

/// Midnight of a local `YYYY-MM-DD`, in Unix milliseconds (`days` later for an end).
fn local_midnight(date: &str, days: i64) -> Option<i64> {
    use chrono::{NaiveDate, TimeZone};
    let day = NaiveDate::parse_from_str(date.trim(), "%Y-%m-%d").ok()?;
    let day = day.checked_add_signed(chrono::TimeDelta::days(days))?;
    let midnight = day.and_hms_opt(0, 0, 0)?;
    chrono::Local
        .from_local_datetime(&midnight)
        .earliest()
        .map(|t| t.timestamp_millis())
}

fn show_value(value: &Value) -> String {
    let text = match value {
        Value::String(text) => text.clone(),
        Value::Null => "—".to_owned(),
        other => other.to_string(),
    };
    if text.chars().count() > VALUE_CHARS {
        let cut: String = text.chars().take(VALUE_CHARS).collect();
        format!("{cut}…")
    } else {
        text
    }
}

/// The fields that differ between before and after (every field of a creation or removal).
fn changes(before: Option<&Value>, after: Option<&Value>) -> Vec<FieldChange> {
    let empty = serde_json::Map::new();
    let old = before.and_then(Value::as_object).unwrap_or(&empty);
    let new = after.and_then(Value::as_object).unwrap_or(&empty);
    let mut fields: Vec<&String> = old.keys().chain(new.keys()).collect();
    fields.sort();
    fields.dedup();
    fields
        .into_iter()
        .filter(|field| old.get(*field) != new.get(*field))
        .map(|field| FieldChange {
            field: field.clone(),
            before: old.get(field).map(show_value),
            after: new.get(field).map(show_value),
        })
        .collect()
}

/// The entity's name as its own record states it.
fn entity_name(record: &AuditRecord) -> Option<String> {
    [record.after.as_ref(), record.before.as_ref()]
        .into_iter()
        .flatten()
        .find_map(|state| {
            ["display_name", "name", "login", "key"]
                .iter()
                .find_map(|k| state.get(*k).and_then(Value::as_str).map(str::to_owned))
        })
}

fn row(record: AuditRecord, filters: &Filters) -> Row {
    let entity_link = record.entity_id.map(|id| {
        link(&Filters {
            entity_id: id.to_string(),
            before: String::new(),
            ..filters.clone()
        })
    });
    Row {
        when: chrono::DateTime::from_timestamp_millis(record.at)
            .map(|t| {
                t.with_timezone(&chrono::Local)
                    .format("%Y-%m-%d %H:%M:%S")
                    .to_string()
            })
            .unwrap_or_default(),
        entity_name: entity_name(&record),
        changes: changes(record.before.as_ref(), record.after.as_ref()),
        source_key: source_key(&record.source),
        kind_key: kind_key(&record.entity_kind),
        actor: record.actor,
        source: record.source,
        action: record.action,
        entity_link,
        remote: record.remote_addr.unwrap_or_else(|| "—".into()),
    }
}

/// The page's URL for these filters.
fn link(filters: &Filters) -> String {
    let pairs = [
        ("actor", &filters.actor),
        ("entity_kind", &filters.entity_kind),
        ("source", &filters.source),
        ("entity_id", &filters.entity_id),
        ("from", &filters.from),
        ("to", &filters.to),
        ("before", &filters.before),
    ];
    let query: Vec<String> = pairs
        .iter()
        .filter(|(_, v)| !v.trim().is_empty())
        .map(|(k, v)| format!("{k}={}", url_encode(v.trim())))
        .collect();
    if query.is_empty() {
        "/admin/audit".into()
    } else {
        format!("/admin/audit?{}", query.join("&"))
    }
}

/// Turns the typed filters into a query, or says which are unusable.
fn parse(filters: &Filters) -> Result<AuditQuery, Vec<FieldError>> {
    let mut errors = Vec::new();
    let mut bad = |field, key| errors.push(FieldError { field, key });
    let text = |s: &str| (!s.trim().is_empty()).then(|| s.trim().to_owned());
    let entity_kind = text(&filters.entity_kind).and_then(|k| {
        EntityKind::parse(&k).or_else(|| {
            bad("entity_kind", "audit.error.kind");
            None
        })
    });
    let source = text(&filters.source).and_then(|s| {
        Source::parse(&s).or_else(|| {
            bad("source", "audit.error.source");
            None
        })
    });
    let entity_id = text(&filters.entity_id).and_then(|id| {
        uuid::Uuid::parse_str(&id).ok().or_else(|| {
            bad("entity_id", "audit.error.entity_id");
            None
        })
    });
    let since = text(&filters.from).and_then(|d| {
        local_midnight(&d, 0).or_else(|| {
            bad("from", "audit.error.date");
            None
        })
    });
    let until = text(&filters.to).and_then(|d| {
        local_midnight(&d, 1).or_else(|| {
            bad("to", "audit.error.date");
            None
        })
    });
    let before_id = text(&filters.before).and_then(|b| b.parse::<i64>().ok());
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(AuditQuery {
        entity_id,
        actor: text(&filters.actor),
        entity_kind,
        source,
        since,
        until,
        before_id,
        // One more than a page, to know whether an older page exists.
        limit: PAGE + 1,
    })
}

async fn results(state: &AppState, filters: &Filters) -> Result<Results, crate::api::ApiError> {
    let filtered = [
        &filters.actor,
        &filters.entity_kind,
        &filters.source,
        &filters.entity_id,
        &filters.from,
        &filters.to,
    ]
    .iter()
    .any(|f| !f.trim().is_empty());
    let query = match parse(filters) {
        Ok(query) => query,
        Err(errors) => {
            return Ok(Results {
                rows: Vec::new(),
                errors,
                older: None,
                newest: None,
                filtered,
            });
        }
    };
    let mut records = state.directory.journal().audit_log(&query).await?;
    let older = (records.len() as u64 > PAGE).then(|| {
        records.truncate(PAGE as usize);
        link(&Filters {
            before: records.last().map(|r| r.id.to_string()).unwrap_or_default(),
            ..filters.clone()
        })
    });
    let newest = query.before_id.map(|_| {
        link(&Filters {
            before: String::new(),
            ..filters.clone()
        })
    });
    Ok(Results {
        rows: records.into_iter().map(|r| row(r, filters)).collect(),
        errors: Vec::new(),
        older,
        newest,
        filtered,
    })
}

/// `GET /admin/audit`.
pub async fn show(
    State(state): State<AppState>,
    Staffer(visitor): Staffer,
    headers: HeaderMap,
    Query(filters): Query<Filters>,
) -> Result<Response, PortalError> {
    let r = results(&state, &filters)
        .await
        .map_err(|e| PortalError::Api(visitor.lang, e))?;
    let c = Chrome::new(&state, &visitor, "audit", "nav.audit");
    // A filter change from the page itself swaps only the results.
    let fragment = headers.contains_key("hx-request") && !headers.contains_key("hx-boosted");
    if fragment {
        let mut response = page::render(&AuditFragment { c, r });
        // The address bar shows the filters in use, without the empty ones.
        if let Ok(url) = axum::http::HeaderValue::from_str(&link(&filters)) {
            response.headers_mut().insert("hx-push-url", url);
        }
        return Ok(response);
    }
    let tr = visitor.tr();
    Ok(page::render(&AuditPage {
        kinds: EntityKind::ALL
            .iter()
            .map(|k| (k.as_str(), tr.t(kind_key(k.as_str()))))
            .collect(),
        sources: Source::ALL
            .iter()
            .map(|s| (s.as_str(), tr.t(source_key(s.as_str()))))
            .collect(),
        c,
        r,
        f: filters,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn only_changed_fields_are_listed() {
        let before = json!({"name": "Sales", "order_key": 1, "custom": {}});
        let after = json!({"name": "Sales & Marketing", "order_key": 1, "custom": {}});
        let changed = changes(Some(&before), Some(&after));
        assert_eq!(changed.len(), 1);
        assert_eq!(changed[0].field, "name");
        assert_eq!(changed[0].after.as_deref(), Some("Sales & Marketing"));
        assert_eq!(changes(None, Some(&after)).len(), 3);
    }

    #[test]
    fn bad_filters_name_their_field() {
        let errors = parse(&Filters {
            entity_id: "not-a-uuid".into(),
            from: "2026-13-40".into(),
            source: "mail".into(),
            ..Default::default()
        })
        .expect_err("refused");
        let fields: Vec<_> = errors.iter().map(|e| e.field).collect();
        assert_eq!(fields, ["source", "entity_id", "from"]);
        let query = parse(&Filters {
            actor: " zhang.wei ".into(),
            from: "2026-11-01".into(),
            to: "2026-11-01".into(),
            ..Default::default()
        })
        .expect("parses");
        assert_eq!(query.actor.as_deref(), Some("zhang.wei"));
        assert_eq!(
            query.until.zip(query.since).map(|(u, s)| u - s),
            Some(86_400_000)
        );
    }
}
