//! The API reference (`/api/docs`): the served OpenAPI document (`/api/openapi.json`) drawn
//! as a page on the server — operations grouped by tag with their parameters, body and
//! answers, then every schema with its fields. No viewer script: it works under the strict
//! Content-Security-Policy and offline. Public, like the document itself.

use std::{collections::BTreeMap, sync::OnceLock};

use askama::Template;
use axum::{
    http::{HeaderMap, StatusCode},
    response::{Html, IntoResponse, Response},
};
use serde_json::Value;
use utoipa::OpenApi;

use super::{
    assets,
    i18n::{Lang, Tr},
    page::{self, LangLink},
};
use crate::api::ApiDoc;

#[derive(Template)]
#[template(path = "api_docs.html")]
struct DocsPage {
    tr: Tr,
    lang: Lang,
    css: String,
    favicon: String,
    languages: Vec<LangLink>,
    title: String,
    version: String,
    description: Rich,
    groups: Vec<Group>,
    schemas: Vec<Schema>,
}

struct Group {
    tag: String,
    anchor: String,
    operations: Vec<Operation>,
}

struct Operation {
    method: String,
    path: String,
    anchor: String,
    summary: Rich,
    description: Rich,
    auth: String,
    parameters: Vec<Parameter>,
    body: Option<Kind>,
    responses: Vec<Answer>,
}

struct Parameter {
    name: String,
    location: String,
    required: bool,
    kind: Kind,
    description: Rich,
}

struct Answer {
    status: String,
    description: Rich,
    kind: Option<Kind>,
}

/// Prose from the document, with its `code` spans marked: (is code, text) pieces.
struct Rich(Vec<(bool, String)>);

impl Rich {
    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Splits at backticks: the odd pieces are code. Shown piece by piece, all auto-escaped.
fn rich(value: Option<&Value>) -> Rich {
    let text = value.and_then(Value::as_str).unwrap_or("");
    Rich(
        text.split('`')
            .enumerate()
            .filter(|(_, piece)| !piece.is_empty())
            .map(|(index, piece)| (index % 2 == 1, piece.to_owned()))
            .collect(),
    )
}

/// A type as shown: text, and the schema it links to (if it names one).
struct Kind {
    text: String,
    link: Option<String>,
}

struct Schema {
    name: String,
    anchor: String,
    description: Rich,
    /// `None` for schemas that are not objects (enums, aliases): then `kind` says what it is.
    fields: Option<Vec<Field>>,
    kind: Kind,
}

struct Field {
    name: String,
    required: bool,
    kind: Kind,
    description: Rich,
}

/// An id for links: `prefix-` and the text's letters and digits, other runs as one `-`.
fn anchor(prefix: &str, text: &str) -> String {
    let mut slug = format!("{prefix}-");
    for c in text.chars() {
        if c.is_ascii_alphanumeric() {
            slug.push(c);
        } else if !slug.ends_with('-') {
            slug.push('-');
        }
    }
    slug.trim_end_matches('-').to_owned()
}

fn ref_name(reference: &str) -> Option<&str> {
    reference.rsplit('/').next()
}

/// The type of a schema as one line: `string (uuid)`, `array of Department`, `A | null`, …
fn kind(schema: &Value) -> Kind {
    if let Some(reference) = schema.get("$ref").and_then(Value::as_str) {
        let name = ref_name(reference).unwrap_or(reference).to_owned();
        return Kind {
            link: Some(format!("#{}", anchor("schema", &name))),
            text: name,
        };
    }
    for key in ["oneOf", "anyOf", "allOf"] {
        if let Some(options) = schema.get(key).and_then(Value::as_array) {
            let kinds: Vec<Kind> = options.iter().map(kind).collect();
            let link = kinds.iter().find_map(|k| k.link.clone());
            let separator = if key == "allOf" { " & " } else { " | " };
            let text = kinds
                .into_iter()
                .map(|k| k.text)
                .collect::<Vec<_>>()
                .join(separator);
            return Kind { text, link };
        }
    }
    if let Some(values) = schema.get("enum").and_then(Value::as_array) {
        let values: Vec<String> = values
            .iter()
            .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned))
            .collect();
        return Kind {
            text: format!("enum: {}", values.join(", ")),
            link: None,
        };
    }
    let types: Vec<String> = match schema.get("type") {
        Some(Value::String(t)) => vec![t.clone()],
        Some(Value::Array(ts)) => ts
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect(),
        _ => Vec::new(),
    };
    if types.iter().any(|t| t == "array") {
        let item = schema.get("items").map(kind);
        let nullable = types.iter().any(|t| t == "null");
        let mut text = format!(
            "array of {}",
            item.as_ref().map_or("any", |k| k.text.as_str())
        );
        if nullable {
            text.push_str(" | null");
        }
        return Kind {
            text,
            link: item.and_then(|k| k.link),
        };
    }
    let mut text = if types.is_empty() {
        "any".to_owned()
    } else {
        types.join(" | ")
    };
    if let Some(format) = schema.get("format").and_then(Value::as_str) {
        text.push_str(&format!(" ({format})"));
    }
    Kind { text, link: None }
}

fn text(value: Option<&Value>) -> String {
    value.and_then(Value::as_str).unwrap_or("").to_owned()
}

/// The schema of a JSON body or answer.
fn content_kind(content: Option<&Value>) -> Option<Kind> {
    let content = content?.as_object()?;
    let (media, body) = content.iter().next()?;
    let schema = body.get("schema");
    Some(match schema {
        Some(schema) => {
            let mut kind = kind(schema);
            if media != "application/json" {
                kind.text = format!("{} ({media})", kind.text);
            }
            kind
        }
        None => Kind {
            text: media.clone(),
            link: None,
        },
    })
}

fn operation(document: &Value, method: &str, path: &str, op: &Value) -> Operation {
    let parameters = op
        .get("parameters")
        .and_then(Value::as_array)
        .map(|ps| {
            ps.iter()
                .map(|p| Parameter {
                    name: text(p.get("name")),
                    location: text(p.get("in")),
                    required: p.get("required").and_then(Value::as_bool).unwrap_or(false),
                    kind: p.get("schema").map_or(
                        Kind {
                            text: "any".into(),
                            link: None,
                        },
                        kind,
                    ),
                    description: rich(p.get("description")),
                })
                .collect()
        })
        .unwrap_or_default();
    let responses = op
        .get("responses")
        .and_then(Value::as_object)
        .map(|rs| {
            rs.iter()
                .map(|(status, answer)| {
                    // Shared answers (the errors) are references to components.responses.
                    let answer = match answer.get("$ref").and_then(Value::as_str) {
                        Some(reference) => ref_name(reference)
                            .and_then(|name| {
                                document.pointer(&format!("/components/responses/{name}"))
                            })
                            .unwrap_or(answer),
                        None => answer,
                    };
                    Answer {
                        status: status.clone(),
                        description: rich(answer.get("description")),
                        kind: content_kind(answer.get("content")),
                    }
                })
                .collect()
        })
        .unwrap_or_default();
    let auth = op
        .get("security")
        .and_then(Value::as_array)
        .map(|schemes| {
            schemes
                .iter()
                .filter_map(Value::as_object)
                .flat_map(|s| s.keys().cloned())
                .collect::<Vec<_>>()
                .join(", ")
        })
        .unwrap_or_default();
    Operation {
        method: method.to_uppercase(),
        path: path.to_owned(),
        anchor: anchor("op", &format!("{method} {path}")),
        summary: rich(op.get("summary")),
        description: rich(op.get("description")),
        auth,
        parameters,
        body: op
            .get("requestBody")
            .and_then(|b| content_kind(b.get("content"))),
        responses,
    }
}

fn schema(name: &str, schema: &Value) -> Schema {
    let required: Vec<&str> = schema
        .get("required")
        .and_then(Value::as_array)
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let fields = schema
        .get("properties")
        .and_then(Value::as_object)
        .map(|properties| {
            properties
                .iter()
                .map(|(field, property)| Field {
                    name: field.clone(),
                    required: required.contains(&field.as_str()),
                    kind: kind(property),
                    description: rich(property.get("description")),
                })
                .collect()
        });
    Schema {
        name: name.to_owned(),
        anchor: anchor("schema", name),
        description: rich(schema.get("description")),
        fields,
        kind: kind(schema),
    }
}

/// `GET /api/docs`. The document is fixed for a build: each language's page is drawn once.
pub async fn show(headers: HeaderMap) -> Response {
    static PAGES: [OnceLock<Result<String, String>>; 2] = [OnceLock::new(), OnceLock::new()];
    let lang = Lang::from_headers(&headers);
    let slot = &PAGES[match lang {
        Lang::En => 0,
        Lang::Zh => 1,
    }];
    match slot.get_or_init(|| draw(lang).render().map_err(|e| e.to_string())) {
        Ok(html) => Html(html.clone()).into_response(),
        Err(error) => {
            tracing::error!(%error, "API reference template failed");
            (StatusCode::INTERNAL_SERVER_ERROR, "template error").into_response()
        }
    }
}

fn draw(lang: Lang) -> DocsPage {
    let document = serde_json::to_value(ApiDoc::openapi()).unwrap_or(Value::Null);
    let mut groups: BTreeMap<String, Vec<Operation>> = BTreeMap::new();
    if let Some(paths) = document.get("paths").and_then(Value::as_object) {
        for (path, item) in paths {
            let Some(methods) = item.as_object() else {
                continue;
            };
            for method in ["get", "post", "put", "patch", "delete"] {
                if let Some(op) = methods.get(method) {
                    let tag = op
                        .pointer("/tags/0")
                        .and_then(Value::as_str)
                        .unwrap_or("other")
                        .to_owned();
                    groups
                        .entry(tag)
                        .or_default()
                        .push(operation(&document, method, path, op));
                }
            }
        }
    }
    let schemas = document
        .pointer("/components/schemas")
        .and_then(Value::as_object)
        .map(|all| all.iter().map(|(name, s)| schema(name, s)).collect())
        .unwrap_or_default();
    DocsPage {
        tr: lang.tr(),
        lang,
        css: assets::url("admin.css"),
        favicon: assets::url("favicon.svg"),
        languages: page::languages(lang, "/api/docs"),
        title: text(document.pointer("/info/title")),
        version: text(document.pointer("/info/version")),
        description: rich(document.pointer("/info/description")),
        groups: groups
            .into_iter()
            .map(|(tag, operations)| Group {
                anchor: anchor("tag", &tag),
                tag,
                operations,
            })
            .collect(),
        schemas,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn anchors_are_plain() {
        assert_eq!(
            anchor("op", "post /api/v1/auth/login"),
            "op-post-api-v1-auth-login"
        );
        assert_eq!(anchor("schema", "Department"), "schema-Department");
    }

    #[test]
    fn types_read_as_one_line() {
        assert_eq!(
            kind(&json!({"type": "string", "format": "uuid"})).text,
            "string (uuid)"
        );
        let nullable =
            kind(&json!({"oneOf": [{"type": "null"}, {"$ref": "#/components/schemas/LdapRef"}]}));
        assert_eq!(nullable.text, "null | LdapRef");
        assert_eq!(nullable.link.as_deref(), Some("#schema-LdapRef"));
        assert_eq!(
            kind(&json!({"type": "array", "items": {"$ref": "#/components/schemas/Department"}}))
                .text,
            "array of Department"
        );
        assert_eq!(kind(&json!({"enum": ["a", "b"]})).text, "enum: a, b");
    }
}
