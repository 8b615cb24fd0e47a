//! What the server enforces on requests that the derived schemas cannot say: patterns,
//! lengths and bounds of the checks in the service modules, variants that depend on another
//! field (a rule's `effect`, a message's `kind`), and this instance's custom fields. Applied
//! to the derived document before it is served, so a client (or schemathesis) that honours
//! the document sends nothing the server refuses as invalid, and the server refuses what the
//! document forbids.
//!
//! Each entry names the check it mirrors. Patterns are ECMA-262 regular expressions that also
//! read the same in Python and Rust; "trimmed" values allow the whitespace `str::trim` removes.

use serde_json::{Value, json};

use crate::directory::{FieldDefinition, FieldEntity, FieldType};

/// What `str::trim` removes (Unicode White_Space), as a character-class body.
const WS: &str = r"\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000";
/// What `char::is_control` matches (Unicode Cc), as a character-class body.
const CTRL: &str = r"\x00-\x1f\x7f-\x9f";
/// A string with something other than whitespace in it.
const NONBLANK: &str =
    r"[^\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]";
/// A UUID as the `uuid` crate reads it (hyphenated or simple).
const UUID: &str = "(?:[0-9a-fA-F]{32}|[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})";
/// `If-Match` as `IfMatch` reads it: `*` or one tag of a version (a weak one never matches);
/// empty is no condition.
pub const IF_MATCH: &str = r#"^[\t ]*(?:\*|(?:W/)?"[0-9]{1,18}")?[\t ]*$"#;

/// Text that is trimmed, then must be 1 (0 when `optional`) to `max` characters, without
/// control characters unless `controls` (`directory::required_text`, role, group and key
/// names).
fn trimmed(max: usize, controls: bool, optional: bool) -> String {
    let (edge, mid) = if controls {
        (format!("[^{WS}]"), r"[\s\S]".to_owned())
    } else {
        (format!("[^{WS}{CTRL}]"), format!("[^{CTRL}]"))
    };
    let core = format!("{edge}(?:{mid}{{0,{}}}{edge})?", max - 2);
    let core = if optional {
        format!("(?:{core})?")
    } else {
        core
    };
    format!("^[{WS}]*{core}[{WS}]*$")
}

fn pattern(p: &str) -> Value {
    json!({ "pattern": p })
}

/// `directory::parse_login`: trimmed, 1–64 letters, digits or `._-@`.
fn login() -> Value {
    pattern(&format!(r"^[{WS}]*[\w.@-]{{1,64}}[{WS}]*$"))
}

/// `directory::parse_tag`: trimmed and lower-cased, 1–40 of `a-z 0-9 _ -`.
fn tag() -> Value {
    pattern(&format!(r"^[{WS}]*[A-Za-z0-9_-]{{1,40}}[{WS}]*$"))
}

/// `directory::parse_emails` (each item).
fn email() -> Value {
    json!({ "pattern": format!(r"^[{WS}]*[^@\s{CTRL}]+@[^@\s{CTRL}]+[{WS}]*$"), "maxLength": 254 })
}

/// `directory::parse_phones` (each item): 3–20 digits among `+ - ( ) # x` and spaces.
fn phone() -> Value {
    pattern(&format!(
        r"^[{WS}]*(?=(?:[^0-9]*[0-9]){{3,20}}[^0-9]*$)[0-9 +()#x-]{{1,40}}[{WS}]*$"
    ))
}

/// `config::address::valid_address` (trimmed): a dot-atom local part and a host name.
pub fn mail_address_pattern() -> String {
    format!(
        r"^[{WS}]*{}[{WS}]*$",
        crate::config::address::ADDRESS_PATTERN
    )
}

/// `config::address::is_plain_http_url` (trimmed; blank when `blank`).
fn http_url(blank: bool) -> String {
    let url = crate::config::address::HTTP_URL_PATTERN;
    if blank {
        format!("^[{WS}]*(?:{url})?[{WS}]*$")
    } else {
        format!("^[{WS}]*{url}[{WS}]*$")
    }
}

fn absent_or_null(name: &str) -> Value {
    json!({ "anyOf": [{ "not": { "required": [name] } }, { "properties": { name: { "type": "null" } } }] })
}

fn schema_ref(name: &str) -> Value {
    json!({ "$ref": format!("#/components/schemas/{name}") })
}

/// `access::Object::parse` plus `check_rule`: what each effect may name.
fn rule_variants() -> Value {
    let space = "[\\t\\n\\x0b\\x0c\\r \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]*";
    let typed = format!("(?:dept_type|staff_type):{space}[A-Za-z0-9_-]{{1,40}}{space}");
    let by_id = format!("(?:subtree|department|staff):{UUID}");
    let entry = format!("^{space}(?:all|own_department|own_subtree|{typed}|{by_id}){space}$");
    let deny = format!("^{space}(?:{typed}|{by_id}){space}$");
    let field = format!(
        r"^{space}field:(?:title|emails|phones|custom|custom\.\*|custom\.[a-z0-9_]+){space}$"
    );
    json!([
        { "required": ["role_id"], "properties": {
            "effect": { "const": "allow" }, "role_id": schema_ref("RoleId"),
            "object": { "pattern": entry }, "exempt_roles": { "maxItems": 0 } } },
        { "allOf": [absent_or_null("role_id")], "properties": {
            "effect": { "const": "deny" }, "object": { "pattern": deny } } },
        { "required": ["role_id"], "properties": {
            "effect": { "const": "mask" }, "role_id": schema_ref("RoleId"),
            "object": { "pattern": field.clone() }, "exempt_roles": { "maxItems": 0 } } },
        { "allOf": [absent_or_null("role_id")], "properties": {
            "effect": { "const": "mask" }, "object": { "pattern": field } } },
    ])
}

/// `im::MessageBody::parse`: the body each kind a client may send needs.
fn message_variants() -> Value {
    let name = json!({ "type": ["string", "null"] });
    let file_id = json!({ "type": "string", "format": "uuid", "pattern": format!("^{UUID}$") });
    json!([
        { "properties": { "kind": { "const": "text" }, "body": { "type": "object", "required": ["text"],
            "properties": { "text": { "type": "string", "pattern": NONBLANK,
                "maxLength": crate::im::model::MAX_TEXT_CHARS } } } } },
        { "properties": { "kind": { "enum": ["image", "file"] }, "body": { "type": "object",
            "required": ["file_id"], "properties": { "file_id": file_id, "name": name } } } },
        { "properties": { "kind": { "const": "voice" }, "body": { "type": "object",
            "required": ["file_id", "duration_ms"], "properties": { "file_id": file_id, "name": name,
                "duration_ms": { "type": "integer", "minimum": 0 } } } } },
        { "properties": { "kind": { "const": "location" }, "body": { "type": "object",
            "required": ["lat", "lng"], "properties": {
                "lat": { "type": "number", "minimum": -90, "maximum": 90 },
                "lng": { "type": "number", "minimum": -180, "maximum": 180 }, "name": name } } } },
        { "properties": { "kind": { "const": "custom" } } },
    ])
}

/// Constraints by component schema (merged into the derived schema; every property named
/// here must exist there).
fn schemas() -> Value {
    let name200 = pattern(&trimmed(200, false, false));
    let title = pattern(&trimmed(200, false, true));
    let short_name = pattern(&trimmed(100, true, false));
    let person = json!({ "properties": {
        "login": login(), "display_name": name200, "title": title, "staff_type": tag(),
        "emails": { "items": email() }, "phones": { "items": phone() } } });
    let department = json!({ "properties": { "name": name200, "dept_type": tag() } });
    let announcement = json!({ "maxLength": crate::im::MAX_ANNOUNCEMENT });
    let group = json!({ "properties": { "name": short_name, "announcement": announcement } });
    let address = mail_address_pattern();
    json!({
        "NewStaff": person, "StaffPatch": person,
        "NewDepartment": department, "DepartmentPatch": department,
        "ImportRequest": { "properties": { "people": { "minItems": 1, "maxItems": 5000 } } },
        "FieldDefinition": {
            "properties": { "key": pattern("^[a-z][a-z0-9_]{0,39}$"), "label": pattern(NONBLANK) } },
        "NewApiKey": { "properties": { "name": short_name } },
        "Settings": { "properties": {
            "recall_window_secs": { "maximum": 30 * 86_400 },
            "edit_window_secs": { "maximum": 365 * 86_400 },
            "max_file_bytes": { "minimum": 1024, "maximum": 4u64 << 30 } } },
        "NewWebhook": { "properties": {
            "url": pattern(&http_url(false)), "secret": { "minLength": 16 },
            "events": { "minItems": 1, "items": { "enum": crate::im::webhooks::EVENTS } } } },
        "WebhookUpdate": { "properties": {
            "url": pattern(&http_url(false)), "secret": { "minLength": 16 },
            "events": { "minItems": 1, "items": { "enum": crate::im::webhooks::EVENTS } } } },
        "NewRole": { "properties": { "name": short_name } },
        "RolePatch": { "properties": { "name": short_name } },
        "RuleInput": { "properties": { "description": { "maxLength": 500 } }, "anyOf": rule_variants() },
        "AssignmentBody": {
            "properties": { "subject_kind": { "enum": ["staff", "ldap_group"] } } },
        "PasswordRequest": { "properties": { "password": { "minLength": 8 } } },
        "ResetConfirm": { "properties": { "password": { "minLength": 8, "maxLength": 1024 } } },
        "ResetRequest": { "oneOf": [
            { "required": ["login"], "properties": {
                "login": { "type": "string", "pattern": NONBLANK, "maxLength": 256 },
                "email": { "type": "null" } } },
            { "required": ["email"], "properties": {
                "email": { "type": "string", "pattern": NONBLANK, "maxLength": 256 },
                "login": { "type": "null" } } } ] },
        "NewGroup": group, "GroupPatch": group, "ServerGroup": group,
        "EditBody": { "properties": { "body": { "required": ["text"], "properties": {
            "text": { "type": "string", "pattern": NONBLANK, "maxLength": crate::im::model::MAX_TEXT_CHARS } } } } },
        "MailSettingsInput": {
            "properties": {
                "smtp_host": pattern(&format!(r"^[{WS}]*[^\s/:]{{0,253}}[{WS}]*$")),
                "from_address": pattern(&format!("^[{WS}]*$|{address}")),
                "from_name": pattern(&trimmed(100, false, true)),
                "public_url": pattern(&http_url(true)),
                "alert_to": { "maxItems": 50, "items": pattern(&address) },
                "smtp_username": { "maxLength": 256 }, "smtp_password": { "maxLength": 1024 } },
            "anyOf": [
                { "properties": { "smtp_host": { "anyOf": [{ "type": "null" }, pattern(&format!("^[{WS}]*$"))] } } },
                { "required": ["from_address"], "properties": { "from_address": { "type": "string", "pattern": address } } } ] },
        "TestMailRequest": { "properties": { "to": pattern(&address) } },
        // `push::devices::mute`.
        "MuteInput": { "properties": { "until": { "minimum": 1, "maximum": 9_007_199_254_740_991_i64 } } },
        "SendFrame": {
            "properties": {
                "id": { "anyOf": [{ "type": "null" }, { "type": "integer", "minimum": 0 }, { "type": "string" }] },
                "client_msg_id": { "minLength": 1, "maxLength": crate::im::model::MAX_CLIENT_MSG_ID,
                    "pattern": format!("^[^{CTRL}]*$") },
                "kind": { "enum": ["text", "image", "file", "voice", "location", "custom"] } },
            "allOf": [
                { "anyOf": message_variants() },
                { "oneOf": [
                    { "required": ["conversation"], "properties": {
                        "conversation": schema_ref("ConversationId"), "to": { "type": "null" } } },
                    { "required": ["to"], "properties": {
                        "to": schema_ref("StaffId"), "conversation": { "type": "null" } } } ] } ] },
    })
}

/// Constraints of request bodies whose schema is also an answer's (so they stay off the shared
/// schema), by `"<path> <method>"`: the body must match the schema and these too.
fn request_bodies() -> Value {
    json!({
        // `FieldDefinition::check`: a choice field needs choices.
        "/api/v1/admin/fields post": { "anyOf": [
            { "properties": { "field_type": { "enum": ["text", "number", "bool", "date"] } } },
            { "required": ["choices"], "properties": {
                "field_type": { "const": "choice" }, "choices": { "minItems": 1 } } } ] },
        // `access::Subject::parse`: a staff id, or a group DN.
        "/api/v1/admin/assignments post": { "anyOf": [
            { "properties": { "subject_kind": { "const": "staff" },
                "subject": pattern(&format!("^{UUID}$")) } },
            { "properties": { "subject_kind": { "const": "ldap_group" },
                "subject": { "pattern": NONBLANK, "maxLength": 1000 } } } ] },
    })
}

/// The operation object of `"<path> <method>"`.
fn operation<'a>(document: &'a mut Value, key: &str) -> Result<&'a mut Value, String> {
    let (path, method) = key.split_once(' ').ok_or("operation key")?;
    document
        .get_mut("paths")
        .and_then(|p| p.get_mut(path))
        .and_then(|p| p.get_mut(method))
        .ok_or_else(|| format!("no operation {key}"))
}

/// Constraints of parameters, by `"<path> <method>"` and parameter name.
fn parameters() -> Value {
    // A string when present (the derive says `string | null`, and a header has no null).
    let if_match = json!({ "If-Match": { "type": "string", "pattern": IF_MATCH } });
    json!({
        "/api/v1/admin/assignments delete": { "subject_kind": { "enum": ["staff", "ldap_group"] } },
        "/api/v1/im/search get": { "q": { "maxLength": crate::im::search::MAX_QUERY_CHARS } },
        "/api/v1/admin/staff/{id} patch": if_match,
        "/api/v1/admin/departments/{id} patch": if_match,
    })
}

/// Merges `patch` into `target`: objects key by key, anything else replaced. `"type": null`
/// removes the derived type (a schema that becomes an `anyOf`).
fn merge(target: &mut Value, patch: &Value) {
    match (target, patch) {
        (Value::Object(target), Value::Object(patch)) => {
            for (key, value) in patch {
                match target.get_mut(key) {
                    Some(slot) if value.is_object() && slot.is_object() => merge(slot, value),
                    _ => {
                        target.insert(key.clone(), value.clone());
                    }
                }
            }
        }
        (target, patch) => *target = patch.clone(),
    }
}

/// The schema of one custom field's values (`directory::fields::validate`); `null` removes.
fn custom_value(def: &FieldDefinition) -> Value {
    let value = match def.field_type {
        FieldType::Text => json!({ "type": "string", "maxLength": 2000 }),
        FieldType::Number => json!({ "type": "number" }),
        FieldType::Bool => json!({ "type": "boolean" }),
        FieldType::Date => {
            json!({ "type": "string", "format": "date", "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2}$" })
        }
        FieldType::Choice => json!({ "type": "string", "enum": def.choices }),
    };
    json!({ "anyOf": [{ "type": "null" }, value] })
}

/// This instance's custom fields as the `custom` objects of staff and department bodies.
fn custom_fields(schemas: &mut serde_json::Map<String, Value>, fields: &[FieldDefinition]) {
    for (schema, entity, creating) in [
        ("NewStaff", FieldEntity::Staff, true),
        ("StaffPatch", FieldEntity::Staff, false),
        ("NewDepartment", FieldEntity::Department, true),
        ("DepartmentPatch", FieldEntity::Department, false),
    ] {
        let Some(custom) = schemas
            .get_mut(schema)
            .and_then(|s| s.pointer_mut("/properties/custom"))
        else {
            continue;
        };
        let defs: Vec<&FieldDefinition> = fields.iter().filter(|d| d.entity == entity).collect();
        let properties: serde_json::Map<String, Value> = defs
            .iter()
            .map(|d| (d.key.clone(), custom_value(d)))
            .collect();
        let required: Vec<&str> = defs
            .iter()
            .filter(|d| creating && d.required)
            .map(|d| d.key.as_str())
            .collect();
        let mut patch = json!({ "properties": properties, "additionalProperties": false });
        if !required.is_empty() {
            patch["required"] = json!(required);
        }
        merge(custom, &patch);
    }
}

/// The derived document with the server's constraints and this instance's custom fields.
pub fn apply(document: &mut Value, fields: &[FieldDefinition]) -> Result<(), String> {
    let schemas = document
        .pointer_mut("/components/schemas")
        .and_then(Value::as_object_mut)
        .ok_or("the document has no component schemas")?;
    if let Value::Object(constraints) = self::schemas() {
        for (name, patch) in &constraints {
            let schema = schemas
                .get_mut(name)
                .ok_or_else(|| format!("no schema {name}"))?;
            for property in patch["properties"].as_object().into_iter().flatten() {
                if schema
                    .pointer(&format!("/properties/{}", property.0))
                    .is_none()
                {
                    return Err(format!("no property {name}.{}", property.0));
                }
            }
            merge(schema, patch);
        }
    }
    custom_fields(schemas, fields);
    if let Value::Object(by_operation) = request_bodies() {
        for (key, extra) in by_operation {
            let schema = operation(document, &key)?
                .pointer_mut("/requestBody/content/application~1json/schema")
                .ok_or_else(|| format!("no JSON request body of {key}"))?;
            *schema = json!({ "allOf": [schema.take(), extra] });
        }
    }
    if let Value::Object(by_operation) = parameters() {
        for (key, patches) in &by_operation {
            let parameters = operation(document, key)?
                .get_mut("parameters")
                .and_then(Value::as_array_mut)
                .ok_or_else(|| format!("no parameters of {key}"))?;
            for (name, patch) in patches.as_object().into_iter().flatten() {
                let parameter = parameters
                    .iter_mut()
                    .find(|p| p["name"] == *name)
                    .ok_or_else(|| format!("no parameter {name} of {key}"))?;
                merge(&mut parameter["schema"], patch);
            }
        }
    }
    uuid_path_patterns(document);
    Ok(())
}

/// Ids in paths are read as UUIDs (`ApiPath<Uuid>`): anything else is a 400, so the document
/// says so with a pattern, not only `format: uuid` (which validators may leave unchecked).
fn uuid_path_patterns(document: &mut Value) {
    let uuid = format!("^{UUID}$");
    let operations = document
        .get_mut("paths")
        .and_then(Value::as_object_mut)
        .into_iter()
        .flat_map(|paths| paths.values_mut())
        .filter_map(Value::as_object_mut)
        .flat_map(|methods| methods.values_mut());
    for operation in operations {
        let parameters = operation
            .get_mut("parameters")
            .and_then(Value::as_array_mut)
            .into_iter()
            .flatten();
        for parameter in parameters {
            if parameter["in"] == "path"
                && parameter["schema"]["format"] == "uuid"
                && parameter["schema"].get("pattern").is_none()
            {
                parameter["schema"]["pattern"] = Value::String(uuid.clone());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every constraint lands on a schema, property and parameter the derive produced (a
    /// renamed field would otherwise leave its constraint behind unnoticed).
    #[test]
    fn every_constraint_finds_its_target() {
        use utoipa::OpenApi;
        let mut document = serde_json::to_value(crate::api::ApiDoc::openapi()).unwrap();
        apply(&mut document, &[]).unwrap();
        assert_eq!(
            document.pointer("/components/schemas/NewStaff/properties/login/pattern"),
            Some(&login()["pattern"])
        );
    }

    #[test]
    fn trimmed_text_counts_the_trimmed_characters() {
        assert_eq!(
            trimmed(3, true, false),
            format!("^[{WS}]*[^{WS}](?:[\\s\\S]{{0,1}}[^{WS}])?[{WS}]*$")
        );
    }
}
