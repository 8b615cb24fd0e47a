//! The contract check: every response a test receives through `TestApp` is checked against the
//! OpenAPI document the server serves at `/api/openapi.json`. The operation is found by method
//! and path template, the response by status; an undocumented status, a body where none is
//! documented, or a JSON body that its schema refuses fails the test.
//!
//! Response schemas are checked strictly: an object may carry only the properties its schema
//! names (`unevaluatedProperties: false` is added wherever the document leaves it open), so a
//! field the server sends but the document forgets is caught too. Validators are compiled once
//! per process for each distinct document.

use std::{
    collections::{BTreeMap, HashMap, HashSet},
    hash::{DefaultHasher, Hash, Hasher},
    sync::{Arc, LazyLock, Mutex},
};

use reqwest::{Method, StatusCode, header::HeaderMap};
use serde_json::{Map, Value, json};

/// What a documented response may carry.
enum Body {
    /// No content: the body must be empty.
    Empty,
    /// `application/json`, checked against the schema.
    Json(Arc<jsonschema::Validator>),
    /// Another content type (text, bytes): the content type must match.
    Other(Vec<String>),
}

struct Operation {
    method: Method,
    /// The path template's segments; `None` stands for a `{parameter}`.
    segments: Vec<Option<String>>,
    template: String,
    responses: BTreeMap<u16, Body>,
}

/// The operations of one OpenAPI document, ready to check responses against.
pub struct Contract {
    operations: Vec<Operation>,
}

static COMPILED: LazyLock<Mutex<HashMap<u64, Arc<Contract>>>> =
    LazyLock::new(|| Mutex::new(HashMap::new()));

impl Contract {
    /// The contract for a document, compiled once per process.
    pub fn for_document(text: &[u8]) -> Arc<Contract> {
        let mut hasher = DefaultHasher::new();
        text.hash(&mut hasher);
        let key = hasher.finish();
        let mut compiled = COMPILED.lock().unwrap_or_else(|e| e.into_inner());
        compiled
            .entry(key)
            .or_insert_with(|| {
                let document: Value =
                    serde_json::from_slice(text).expect("/api/openapi.json is JSON");
                Arc::new(Contract::compile(&document))
            })
            .clone()
    }

    fn compile(document: &Value) -> Self {
        assert!(
            document["openapi"]
                .as_str()
                .is_some_and(|v| v.starts_with("3.1")),
            "an OpenAPI 3.1 document"
        );
        let mut components = document["components"].clone();
        strict_components(&mut components);
        let mut operations = Vec::new();
        for (template, item) in document["paths"].as_object().expect("paths") {
            for (method, operation) in item.as_object().expect("path item") {
                let Ok(method) = method.to_uppercase().parse::<Method>() else {
                    continue;
                };
                let mut responses = BTreeMap::new();
                for (status, response) in operation["responses"].as_object().expect("responses") {
                    let status: u16 = status
                        .parse()
                        .unwrap_or_else(|_| panic!("{method} {template}: status {status}"));
                    let response = resolve(document, response);
                    responses.insert(status, body_of(response, &components, &method, template));
                }
                operations.push(Operation {
                    method,
                    segments: template
                        .split('/')
                        .map(|s| (!s.starts_with('{')).then(|| s.to_owned()))
                        .collect(),
                    template: template.clone(),
                    responses,
                });
            }
        }
        Self { operations }
    }

    /// Checks one response; `Err` says what does not match the document.
    pub fn check(
        &self,
        method: &Method,
        path: &str,
        status: StatusCode,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Result<(), String> {
        let path = path.split('?').next().unwrap_or(path);
        let segments: Vec<&str> = path.split('/').collect();
        let matches = |op: &&Operation| {
            op.segments.len() == segments.len()
                && op
                    .segments
                    .iter()
                    .zip(&segments)
                    .all(|(template, actual)| template.as_deref().is_none_or(|t| t == *actual))
        };
        // A literal segment beats a parameter (`/staff/{id}` vs. a longer literal path).
        let literals = |op: &&Operation| op.segments.iter().filter(|s| s.is_some()).count();
        let best = self
            .operations
            .iter()
            .filter(matches)
            .map(|op| literals(&op))
            .max();
        let Some(best) = best else {
            // Not a documented path: only "no such endpoint" may answer.
            return if status == StatusCode::NOT_FOUND {
                Ok(())
            } else {
                Err(format!(
                    "{path} is not in the document but answered {status}"
                ))
            };
        };
        let candidates: Vec<&Operation> = self
            .operations
            .iter()
            .filter(matches)
            .filter(|op| literals(op) == best)
            .collect();
        let Some(operation) = candidates.iter().find(|op| op.method == *method) else {
            return if status == StatusCode::METHOD_NOT_ALLOWED {
                Ok(())
            } else {
                Err(format!(
                    "{method} {path}: no such operation in the document, yet it answered {status}"
                ))
            };
        };
        let name = format!("{method} {}", operation.template);
        let expected = operation.responses.get(&status.as_u16()).ok_or_else(|| {
            format!(
                "{name}: status {status} is not documented (documented: {:?}); body: {}",
                operation.responses.keys().collect::<Vec<_>>(),
                String::from_utf8_lossy(body)
            )
        })?;
        let content_type = headers
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        match expected {
            Body::Empty if body.is_empty() => Ok(()),
            Body::Empty => Err(format!(
                "{name} {status}: no content is documented, got {} bytes of {content_type}",
                body.len()
            )),
            Body::Other(types) if types.contains(&content_type) => Ok(()),
            Body::Other(types) => Err(format!(
                "{name} {status}: content type {content_type:?}, documented {types:?}"
            )),
            Body::Json(validator) => {
                if content_type != "application/json" {
                    return Err(format!(
                        "{name} {status}: content type {content_type:?}, documented application/json"
                    ));
                }
                let value: Value = serde_json::from_slice(body)
                    .map_err(|e| format!("{name} {status}: the body is not JSON ({e})"))?;
                let errors: Vec<String> = validator
                    .iter_errors(&value)
                    .take(5)
                    .map(|e| format!("{} at {}", e, e.instance_path()))
                    .collect();
                if errors.is_empty() {
                    Ok(())
                } else {
                    let mut shown = value.to_string();
                    if shown.len() > 2_000 {
                        let mut end = 2_000;
                        while !shown.is_char_boundary(end) {
                            end -= 1;
                        }
                        shown.truncate(end);
                    }
                    Err(format!(
                        "{name} {status}: the body does not match the document:\n  {}\nbody: {shown}",
                        errors.join("\n  ")
                    ))
                }
            }
        }
    }
}

/// Follows a `$ref` to `#/components/...`.
fn resolve<'a>(document: &'a Value, value: &'a Value) -> &'a Value {
    match value.get("$ref").and_then(Value::as_str) {
        Some(pointer) => document
            .pointer(pointer.trim_start_matches('#'))
            .unwrap_or_else(|| panic!("unresolved {pointer}")),
        None => value,
    }
}

fn body_of(response: &Value, components: &Value, method: &Method, template: &str) -> Body {
    let Some(content) = response.get("content").and_then(Value::as_object) else {
        return Body::Empty;
    };
    if let Some(json) = content.get("application/json") {
        let schema = json.get("schema").cloned().unwrap_or(json!({}));
        // The schema with the components beside it, so `#/components/...` resolves.
        let mut root = Map::new();
        root.insert(
            "$schema".into(),
            json!("https://json-schema.org/draft/2020-12/schema"),
        );
        root.insert("components".into(), components.clone());
        root.insert("allOf".into(), json!([strict(schema)]));
        let validator = jsonschema::options()
            .with_draft(jsonschema::Draft::Draft202012)
            .should_validate_formats(true)
            .build(&Value::Object(root))
            .unwrap_or_else(|e| panic!("{method} {template}: the schema does not compile: {e}"));
        return Body::Json(Arc::new(validator));
    }
    Body::Other(content.keys().map(|k| k.to_ascii_lowercase()).collect())
}

/// Closes every object schema that names its properties and leaves the rest open.
fn strict(mut schema: Value) -> Value {
    close(&mut schema, false);
    schema
}

fn strict_components(components: &mut Value) {
    // A component used as a part of an `allOf` is closed by the whole, not by itself.
    let mut parts = HashSet::new();
    collect_all_of_refs(components, &mut parts);
    if let Some(schemas) = components.get_mut("schemas").and_then(Value::as_object_mut) {
        for (name, schema) in schemas.iter_mut() {
            let reference = format!("#/components/schemas/{name}");
            close(schema, parts.contains(&reference));
        }
    }
}

fn collect_all_of_refs(value: &Value, out: &mut HashSet<String>) {
    match value {
        Value::Object(map) => {
            if let Some(Value::Array(parts)) = map.get("allOf") {
                for part in parts {
                    if let Some(reference) = part.get("$ref").and_then(Value::as_str) {
                        out.insert(reference.to_owned());
                    }
                }
            }
            map.values().for_each(|v| collect_all_of_refs(v, out));
        }
        Value::Array(items) => items.iter().for_each(|v| collect_all_of_refs(v, out)),
        _ => {}
    }
}

/// Adds `unevaluatedProperties: false` to object schemas with `properties` (or an `allOf`)
/// that say nothing about other properties; `part` marks a schema that is one part of an
/// `allOf`, which the whole closes instead.
fn close(schema: &mut Value, part: bool) {
    let Value::Object(map) = schema else {
        return;
    };
    let open =
        !map.contains_key("additionalProperties") && !map.contains_key("unevaluatedProperties");
    let names_properties = map.contains_key("properties") || map.contains_key("allOf");
    if open && names_properties && !part {
        map.insert("unevaluatedProperties".into(), Value::Bool(false));
    }
    for (key, value) in map.iter_mut() {
        match (key.as_str(), value) {
            ("properties", Value::Object(properties)) => {
                properties.values_mut().for_each(|p| close(p, false));
            }
            ("allOf", Value::Array(parts)) => parts.iter_mut().for_each(|p| close(p, true)),
            ("oneOf" | "anyOf", Value::Array(parts)) => {
                parts.iter_mut().for_each(|p| close(p, false));
            }
            ("items" | "additionalProperties", item @ Value::Object(_)) => close(item, false),
            _ => {}
        }
    }
}
