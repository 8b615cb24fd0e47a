//! The LDAP settings form: its fields (named as in the `[ldap]` table and the JSON API, so a
//! service's error names the field it sits next to), the values it shows (the settings in
//! force, or what was typed after a refused submit), and what a submit asks for as a
//! `RawLdapConfig`. The checks themselves are the service's (`LdapService::candidate`); here
//! only text becomes numbers, lists and maps.

use std::collections::BTreeMap;

use serde::de::DeserializeOwned;

use super::posted::{FieldErrors, Posted};
use crate::{admin::i18n::Tr, ldap::RawLdapConfig};

/// How a field is drawn.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Text,
    Number,
    Password,
    Check,
    Select(&'static [&'static str]),
    Lines,
}

/// One field of the form: `(name, kind, wide)`.
type Spec = (&'static str, Kind, bool);

const MODES: &[&str] = &["read_only", "writable", "unsynced"];
const SCOPES: &[&str] = &["sub", "one"];
const DEPARTMENT_FROM: &[&str] = &["dn", "attribute", "both"];

/// The form's sections: an i18n key (`ldap.section.*`) and its fields.
pub const SECTIONS: &[(&str, &[Spec])] = &[
    (
        "connection",
        &[
            ("url", Kind::Text, true),
            ("bind_dn", Kind::Text, true),
            ("bind_password", Kind::Password, true),
            ("bind_password_reset", Kind::Check, true),
            ("start_tls", Kind::Check, false),
            ("ca_file", Kind::Text, false),
            ("connect_timeout_secs", Kind::Number, false),
            ("operation_timeout_secs", Kind::Number, false),
        ],
    ),
    (
        "sync",
        &[
            ("mode", Kind::Select(MODES), false),
            ("sync_interval_minutes", Kind::Number, false),
            ("deletion_threshold_percent", Kind::Number, false),
            ("page_size", Kind::Number, false),
            ("content_sync", Kind::Check, true),
        ],
    ),
    (
        "search",
        &[
            ("departments.base_dn", Kind::Text, false),
            ("departments.filter", Kind::Text, false),
            ("departments.scope", Kind::Select(SCOPES), false),
            ("staff.base_dn", Kind::Text, false),
            ("staff.filter", Kind::Text, false),
            ("staff.scope", Kind::Select(SCOPES), false),
            ("groups.base_dn", Kind::Text, false),
            ("groups.filter", Kind::Text, false),
            ("groups.scope", Kind::Select(SCOPES), false),
            ("group_member_attribute", Kind::Text, false),
        ],
    ),
    (
        "mapping",
        &[
            ("stable_id", Kind::Text, false),
            ("change_attribute", Kind::Text, false),
            ("department_from", Kind::Select(DEPARTMENT_FROM), false),
            ("staff_attributes.login", Kind::Text, false),
            ("staff_attributes.display_name", Kind::Text, false),
            ("staff_attributes.title", Kind::Text, false),
            ("staff_attributes.emails", Kind::Text, false),
            ("staff_attributes.phones", Kind::Text, false),
            ("staff_attributes.custom", Kind::Lines, true),
            ("group_roles", Kind::Lines, true),
        ],
    ),
];

/// A field as the template draws it.
pub struct FieldView {
    pub name: &'static str,
    /// The element id (`f-` and the name with dots as dashes).
    pub id: String,
    pub label: &'static str,
    pub hint: &'static str,
    pub kind: &'static str,
    pub value: String,
    pub checked: bool,
    /// `(value, label, selected)` of a select.
    pub options: Vec<(&'static str, &'static str, bool)>,
    pub error: Option<String>,
    pub wide: bool,
}

/// A section as the template draws it.
pub struct SectionView {
    pub id: &'static str,
    pub heading: &'static str,
    pub fields: Vec<FieldView>,
}

/// The form's values by field name.
#[derive(Default, Clone)]
pub struct Values(pub BTreeMap<&'static str, String>);

fn enum_text<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_value(value)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

fn parse_enum<T: DeserializeOwned>(text: &str) -> Option<T> {
    serde_json::from_value(serde_json::Value::String(text.to_owned())).ok()
}

fn lines_of(map: &BTreeMap<String, String>) -> String {
    map.iter()
        .map(|(k, v)| format!("{k} = {v}"))
        .collect::<Vec<_>>()
        .join("\n")
}

fn yes(checked: bool) -> String {
    if checked { "on".into() } else { String::new() }
}

impl Values {
    /// The values of settings in force.
    pub fn of(raw: &RawLdapConfig) -> Self {
        let mut v = BTreeMap::new();
        v.insert("url", raw.url.clone());
        v.insert("bind_dn", raw.bind_dn.clone());
        v.insert("start_tls", yes(raw.start_tls));
        v.insert("ca_file", raw.ca_file.clone().unwrap_or_default());
        v.insert("connect_timeout_secs", raw.connect_timeout_secs.to_string());
        v.insert(
            "operation_timeout_secs",
            raw.operation_timeout_secs.to_string(),
        );
        v.insert("mode", enum_text(&raw.mode));
        let minutes = raw.sync_interval_secs as f64 / 60.0;
        v.insert("sync_interval_minutes", format!("{minutes}"));
        v.insert(
            "deletion_threshold_percent",
            raw.deletion_threshold_percent.to_string(),
        );
        v.insert("page_size", raw.page_size.to_string());
        v.insert("content_sync", yes(raw.content_sync));
        for (name, spec) in [
            ("departments", Some(&raw.departments)),
            ("staff", Some(&raw.staff)),
            ("groups", raw.groups.as_ref()),
        ] {
            let (base, filter, scope) = match spec {
                Some(s) => (s.base_dn.clone(), s.filter.clone(), enum_text(&s.scope)),
                None => (String::new(), String::new(), "sub".into()),
            };
            v.insert(field_name(name, "base_dn"), base);
            v.insert(field_name(name, "filter"), filter);
            v.insert(field_name(name, "scope"), scope);
        }
        v.insert("group_member_attribute", raw.group_member_attribute.clone());
        v.insert("stable_id", raw.stable_id.clone());
        v.insert("change_attribute", raw.change_attribute.clone());
        v.insert("department_from", enum_text(&raw.department_from));
        let a = &raw.staff_attributes;
        v.insert("staff_attributes.login", a.login.clone());
        v.insert("staff_attributes.display_name", a.display_name.clone());
        v.insert("staff_attributes.title", a.title.clone());
        v.insert("staff_attributes.emails", a.emails.join(", "));
        v.insert("staff_attributes.phones", a.phones.join(", "));
        v.insert("staff_attributes.custom", lines_of(&a.custom));
        v.insert("group_roles", lines_of(&raw.group_roles));
        Self(v)
    }

    /// What was typed (the password field is never drawn back).
    pub fn posted(posted: &Posted) -> Self {
        let mut v = BTreeMap::new();
        for (_, fields) in SECTIONS {
            for (name, kind, _) in *fields {
                let text = match kind {
                    Kind::Password => String::new(),
                    Kind::Lines => posted.raw(name).replace("\r\n", "\n"),
                    _ => posted.get(name).to_owned(),
                };
                v.insert(*name, text);
            }
        }
        Self(v)
    }

    pub fn get(&self, name: &str) -> &str {
        self.0.get(name).map_or("", String::as_str)
    }
}

/// `departments` + `base_dn` as a field name with a static lifetime.
fn field_name(spec: &str, part: &str) -> &'static str {
    SECTIONS
        .iter()
        .flat_map(|(_, fields)| fields.iter())
        .map(|(name, _, _)| *name)
        .find(|name| name.split_once('.') == Some((spec, part)))
        .unwrap_or("")
}

/// The form's field a service error names (`sync_interval_secs` is shown in minutes; a search
/// named as a whole sits at its base DN).
pub fn field_of(service_field: &str) -> &str {
    match service_field {
        "sync_interval_secs" => "sync_interval_minutes",
        "departments" => "departments.base_dn",
        "staff" => "staff.base_dn",
        "groups" => "groups.base_dn",
        "bind_password_file" => "bind_password",
        other => other,
    }
}

/// The sections to draw with `values` and `errors`.
pub fn sections(tr: &Tr, values: &Values, errors: &FieldErrors) -> Vec<SectionView> {
    SECTIONS
        .iter()
        .map(|(id, fields)| SectionView {
            id,
            heading: tr.t(&format!("ldap.section.{id}")),
            fields: fields
                .iter()
                .map(|(name, kind, wide)| {
                    let value = values.get(name).to_owned();
                    let key = name.replace('.', "_");
                    FieldView {
                        name,
                        id: format!("f-{}", name.replace(['.', '_'], "-")),
                        label: tr.t(&format!("ldap.field.{key}")),
                        hint: tr.t(&format!("ldap.hint.{key}")),
                        kind: match kind {
                            Kind::Text => "text",
                            Kind::Number => "number",
                            Kind::Password => "password",
                            Kind::Check => "check",
                            Kind::Select(_) => "select",
                            Kind::Lines => "lines",
                        },
                        checked: !value.is_empty(),
                        options: match kind {
                            Kind::Select(options) => options
                                .iter()
                                .map(|o| (*o, tr.t(&format!("ldap.option.{o}")), *o == value))
                                .collect(),
                            _ => Vec::new(),
                        },
                        value,
                        error: errors.get(name).map(str::to_owned),
                        wide: *wide,
                    }
                })
                .collect(),
        })
        .collect()
}

/// The settings a submit asks for: `base` (the settings in force) with the form's fields
/// applied; text that is not a number, list or map is reported next to its field.
pub fn to_raw(
    tr: &Tr,
    base: &RawLdapConfig,
    posted: &Posted,
    errors: &mut FieldErrors,
) -> RawLdapConfig {
    let mut raw = base.clone();
    let text = |name: &str| posted.get(name).to_owned();
    let number = |name: &str, errors: &mut FieldErrors| -> Option<u64> {
        match posted.get(name).parse::<u64>() {
            Ok(n) => Some(n),
            Err(_) => {
                errors.add(name, tr.t("ldap.error.number"));
                None
            }
        }
    };
    raw.url = text("url");
    raw.bind_dn = text("bind_dn");
    raw.start_tls = !posted.get("start_tls").is_empty();
    raw.ca_file = Some(text("ca_file")).filter(|t| !t.is_empty());
    if let Some(n) = number("connect_timeout_secs", errors) {
        raw.connect_timeout_secs = n;
    }
    if let Some(n) = number("operation_timeout_secs", errors) {
        raw.operation_timeout_secs = n;
    }
    match posted.get("sync_interval_minutes").parse::<f64>() {
        Ok(minutes) if (0.0..=525_600.0).contains(&minutes) => {
            raw.sync_interval_secs = (minutes * 60.0).round() as u64;
        }
        _ => errors.add("sync_interval_minutes", tr.t("ldap.error.number")),
    }
    if let Some(n) = number("deletion_threshold_percent", errors) {
        raw.deletion_threshold_percent = u32::try_from(n).unwrap_or(u32::MAX);
    }
    if let Some(n) = number("page_size", errors) {
        raw.page_size = u32::try_from(n).unwrap_or(u32::MAX);
    }
    raw.content_sync = !posted.get("content_sync").is_empty();
    let choice = |name: &str, errors: &mut FieldErrors| -> String {
        let value = posted.get(name).to_owned();
        if SECTIONS
            .iter()
            .flat_map(|(_, f)| f.iter())
            .any(|(n, k, _)| {
                *n == name && matches!(k, Kind::Select(o) if o.contains(&value.as_str()))
            })
        {
            value
        } else {
            errors.add(name, tr.t("ldap.error.choice"));
            String::new()
        }
    };
    if let Some(mode) = parse_enum(&choice("mode", errors)) {
        raw.mode = mode;
    }
    if let Some(from) = parse_enum(&choice("department_from", errors)) {
        raw.department_from = from;
    }
    for (name, target) in [
        ("departments", &mut raw.departments),
        ("staff", &mut raw.staff),
    ] {
        target.base_dn = text(&format!("{name}.base_dn"));
        target.filter = text(&format!("{name}.filter"));
        if let Some(scope) = parse_enum(&choice(field_name(name, "scope"), errors)) {
            target.scope = scope;
        }
    }
    let (group_base, group_filter) = (text("groups.base_dn"), text("groups.filter"));
    raw.groups = if group_base.is_empty() && group_filter.is_empty() {
        None
    } else {
        Some(crate::config::ldap::SearchSpec {
            base_dn: group_base,
            filter: group_filter,
            scope: parse_enum(&choice("groups.scope", errors))
                .unwrap_or(crate::config::ldap::SearchScope::Sub),
        })
    };
    raw.group_member_attribute = text("group_member_attribute");
    raw.stable_id = text("stable_id");
    raw.change_attribute = text("change_attribute");
    let list = |name: &str| -> Vec<String> {
        posted
            .get(name)
            .split([',', ' '])
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect()
    };
    let a = &mut raw.staff_attributes;
    a.login = text("staff_attributes.login");
    a.display_name = text("staff_attributes.display_name");
    a.title = text("staff_attributes.title");
    a.emails = list("staff_attributes.emails");
    a.phones = list("staff_attributes.phones");
    if let Some(map) = map_of(
        tr,
        posted.raw("staff_attributes.custom"),
        "staff_attributes.custom",
        errors,
    ) {
        a.custom = map;
    }
    if let Some(map) = map_of(tr, posted.raw("group_roles"), "group_roles", errors) {
        raw.group_roles = map;
    }
    // The password: empty keeps the one in force; the box goes back to the file's.
    raw.bind_password = if !posted.get("bind_password_reset").is_empty() {
        Some(String::new())
    } else {
        Some(posted.raw("bind_password").to_owned()).filter(|p| !p.is_empty())
    };
    raw.bind_password_file = None;
    raw
}

/// `key = value` lines as a map (the last `=` of a line splits it: DNs hold `=` too).
fn map_of(
    tr: &Tr,
    text: &str,
    field: &str,
    errors: &mut FieldErrors,
) -> Option<BTreeMap<String, String>> {
    let mut map = BTreeMap::new();
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        match line.rsplit_once('=') {
            Some((key, value)) if !key.trim().is_empty() && !value.trim().is_empty() => {
                map.insert(key.trim().to_owned(), value.trim().to_owned());
            }
            _ => {
                errors.add(field, tr.f("ldap.error.line", &[("line", &line)]));
                return None;
            }
        }
    }
    Some(map)
}
