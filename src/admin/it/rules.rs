//! Visibility rules (IT, `access` power): every rule in one list, and the rule builder that
//! shows a change's effect on everyone's contact list before it is saved. The effect comes
//! from `Access::dry_run` (the very planning and checks a save runs) and
//! `Contacts::policy_effect` (the class views a save would compute): no second copy of the
//! rules. Saving is a `PolicyChange` through `Access::apply`, as the JSON API makes it.

use askama::Template;
use axum::{
    extract::{Path, Query, State},
    http::StatusCode,
    response::{IntoResponse, Redirect, Response},
};

use super::{
    It,
    posted::{FieldErrors, Posted},
    roles::to_field_error,
    rule_form::{Choices, EffectView, RuleForm, choices, effect_view},
    rule_text::{self, RuleRow},
};
use crate::admin::{
    error::PortalError,
    i18n::Tr,
    page::{self, Chrome},
    session::{Staffer, Visitor},
};
use crate::{
    access::{PolicyChange, Rule, RuleId},
    api::ApiError,
    state::AppState,
};

#[derive(Template)]
#[template(path = "admin/rules.html")]
struct RulesPage {
    c: Chrome,
    rules: Vec<RuleRow>,
    globals: Vec<RuleRow>,
    notice: Option<String>,
}

#[derive(Template)]
#[template(path = "admin/rule.html")]
struct RulePage {
    c: Chrome,
    /// The rule's id when editing; empty for a new rule.
    id: String,
    form: RuleForm,
    choices: Choices,
    errors: FieldErrors,
    was: String,
    /// Where to go after saving (the role page the builder was opened from, or the list).
    back: String,
}

/// What deleting a rule would do, fetched by its page once shown (working it out reads every
/// viewer's list, too slow to hold the page for at 100,000 people).
#[derive(Template)]
#[template(path = "admin/rule_delete_effect.html")]
struct DeleteEffectFragment {
    view: Option<EffectView>,
    error: Option<String>,
}

#[derive(Template)]
#[template(path = "admin/rule_effect.html")]
struct EffectFragment {
    tr: Tr,
    view: Option<EffectView>,
    error: Option<String>,
}

fn digest(rule: &Rule) -> String {
    use sha2::{Digest, Sha256};
    let text = format!(
        "{:?}",
        (
            rule.role_id,
            rule.effect,
            rule.object.to_string(),
            &rule.exempt_roles,
            &rule.description
        )
    );
    hex::encode(&Sha256::digest(text.as_bytes())[..8])
}

/// `GET /admin/rules`.
pub async fn list(State(state): State<AppState>, Staffer(visitor): Staffer) -> Response {
    let tr = visitor.tr();
    let snapshot = state.access.snapshot();
    let replica = state.directory.read();
    let names = rule_text::role_names(&snapshot);
    let (mut rules, mut globals) = (Vec::new(), Vec::new());
    for rule in snapshot.policy.rules.values() {
        let row = rule_text::rule_row(&tr, rule, &names, &replica);
        if rule.role_id.is_some() {
            rules.push(row);
        } else {
            globals.push(row);
        }
    }
    drop(replica);
    rules.sort_by(|a, b| (&a.role, a.effect, &a.object).cmp(&(&b.role, b.effect, &b.object)));
    globals.sort_by(|a, b| (a.effect, &a.object).cmp(&(b.effect, &b.object)));
    let notice = match visitor.path.split("done=").nth(1) {
        Some(done) if done.starts_with("deleted") => Some(tr.t("rules.notice.deleted").to_owned()),
        Some(done) if done.starts_with("saved") => Some(tr.t("rules.notice.saved").to_owned()),
        _ => None,
    };
    page::render(&RulesPage {
        c: Chrome::new(&state, &visitor, "rules", "nav.rules"),
        rules,
        globals,
        notice,
    })
}

/// A new rule's starting values (links elsewhere may prefill it: "hide this department").
#[derive(serde::Deserialize)]
pub struct NewParams {
    role: Option<String>,
    effect: Option<String>,
    kind: Option<String>,
    department: Option<String>,
    dept_type: Option<String>,
}

fn back_to(role: &str) -> String {
    match rule_text::parse_id(role) {
        Some(id) => format!("/admin/roles/{id}?done=saved#rules"),
        None => "/admin/rules?done=saved".into(),
    }
}

fn rule_page(
    state: &AppState,
    visitor: &Visitor,
    id: Option<&Rule>,
    form: RuleForm,
    errors: FieldErrors,
    back: String,
) -> RulePage {
    let tr = visitor.tr();
    let snapshot = state.access.snapshot();
    let choices = choices(state, &tr, &form, &snapshot);
    let title = if id.is_some() {
        "rules.edit"
    } else {
        "rules.new"
    };
    RulePage {
        c: Chrome::new(state, visitor, "rules", title),
        id: id.map(|r| r.id.to_string()).unwrap_or_default(),
        was: id.map(digest).unwrap_or_default(),
        form,
        choices,
        errors,
        back,
    }
}

/// `GET /admin/rules/new?role=…`.
pub async fn new_form(
    State(state): State<AppState>,
    It(visitor): It,
    Query(params): Query<NewParams>,
) -> Response {
    let back = params
        .role
        .as_deref()
        .map(back_to)
        .unwrap_or_else(|| back_to(""));
    let mut form = RuleForm::new(params.role);
    form.effect = params.effect.unwrap_or(form.effect);
    form.kind = params.kind.unwrap_or(form.kind);
    form.department = params.department.unwrap_or_default();
    form.dept_type = params.dept_type.unwrap_or_default();
    page::render(&rule_page(
        &state,
        &visitor,
        None,
        form,
        FieldErrors::default(),
        back,
    ))
}

fn find(state: &AppState, visitor: &Visitor, id: &str) -> Result<Rule, PortalError> {
    rule_text::parse_id(id)
        .and_then(|id| {
            state
                .access
                .snapshot()
                .policy
                .rules
                .get(&RuleId(id))
                .cloned()
        })
        .ok_or(PortalError::NotFound(visitor.lang))
}

/// The effect of `changes` on everyone's contact list, or why they would be refused.
async fn effect_of(
    state: &AppState,
    tr: &Tr,
    changes: &[PolicyChange],
) -> Result<EffectView, ApiError> {
    let (old, new) = state.access.dry_run(changes).await?;
    let effect = state.contacts.policy_effect(&old, &new);
    // Only what this edit adds: the warnings of other rules are not its business.
    let before = old.dangling_references(&state.directory.read());
    let warnings = new
        .dangling_references(&state.directory.read())
        .into_iter()
        .filter(|w| !before.contains(w))
        .collect();
    Ok(effect_view(tr, effect, warnings))
}

/// `GET /admin/rules/{id}`.
pub async fn show(
    State(state): State<AppState>,
    Staffer(visitor): Staffer,
    Path(id): Path<String>,
) -> Result<Response, PortalError> {
    let rule = find(&state, &visitor, &id)?;
    let form = RuleForm::of(&rule, &state.directory.read());
    let back = back_to(&form.role);
    let page = rule_page(
        &state,
        &visitor,
        Some(&rule),
        form,
        FieldErrors::default(),
        back,
    );
    Ok(page::render(&page))
}

/// `GET /admin/rules/{id}/delete-effect`: the fragment saying what deleting the rule would do.
pub async fn delete_effect(
    State(state): State<AppState>,
    Staffer(visitor): Staffer,
    Path(id): Path<String>,
) -> Result<Response, PortalError> {
    let tr = visitor.tr();
    let rule = find(&state, &visitor, &id)?;
    let (view, error) = match effect_of(&state, &tr, &[PolicyChange::DeleteRule(rule.id)]).await {
        Ok(view) => (Some(view), None),
        Err(error) => (None, Some(error.to_string())),
    };
    Ok(page::render(&DeleteEffectFragment { view, error }))
}

/// The change a submitted builder asks for: a new rule, or the rule `id` replaced.
fn change_of(
    state: &AppState,
    tr: &Tr,
    form: &RuleForm,
    id: Option<RuleId>,
) -> Result<PolicyChange, (String, String)> {
    let input = form
        .input(tr, &state.directory.read())
        .map_err(|(field, message)| (field.to_owned(), message))?;
    let id = id.unwrap_or_else(|| RuleId(uuid::Uuid::now_v7()));
    let rule = input.into_rule(id).map_err(|e| match e {
        ApiError::Invalid { field, reason } => (field, reason),
        other => ("form".to_owned(), other.to_string()),
    })?;
    Ok(PolicyChange::PutRule(rule))
}

/// Saves a new rule (`id` none) or replaces one; re-renders the builder with the errors.
async fn save(
    state: AppState,
    visitor: Visitor,
    existing: Option<Rule>,
    posted: Posted,
) -> Result<Response, PortalError> {
    let tr = visitor.tr();
    let form = RuleForm::posted(&posted);
    let mut errors = FieldErrors::default();
    if let Some(rule) = &existing
        && posted.get("was") != digest(rule)
    {
        errors.add("form", tr.t("rules.error.stale"));
    }
    let back = match posted.get("back") {
        back if back.starts_with("/admin/") && !back.contains("//") => back.to_owned(),
        _ => back_to(""),
    };
    if errors.is_empty() {
        match change_of(&state, &tr, &form, existing.as_ref().map(|r| r.id)) {
            Err((field, message)) => errors.add(&field, message),
            Ok(change) => match state.access.apply(&visitor.actor(), vec![change]).await {
                Ok(_) => return Ok(Redirect::to(&back).into_response()),
                Err(error) => to_field_error(&tr, error.into(), &mut errors)
                    .map_err(|e| PortalError::Api(visitor.lang, e))?,
            },
        }
    }
    let page = rule_page(&state, &visitor, existing.as_ref(), form, errors, back);
    Ok(page::render_status(StatusCode::UNPROCESSABLE_ENTITY, &page))
}

/// `POST /admin/rules`.
pub async fn create(
    State(state): State<AppState>,
    It(visitor): It,
    posted: Posted,
) -> Result<Response, PortalError> {
    save(state, visitor, None, posted).await
}

/// `POST /admin/rules/{id}`.
pub async fn replace(
    State(state): State<AppState>,
    It(visitor): It,
    Path(id): Path<String>,
    posted: Posted,
) -> Result<Response, PortalError> {
    let rule = find(&state, &visitor, &id)?;
    save(state, visitor, Some(rule), posted).await
}

/// `POST /admin/rules/{id}/delete`.
pub async fn delete(
    State(state): State<AppState>,
    It(visitor): It,
    Path(id): Path<String>,
) -> Result<Response, PortalError> {
    let rule = find(&state, &visitor, &id)?;
    state
        .access
        .apply(&visitor.actor(), vec![PolicyChange::DeleteRule(rule.id)])
        .await
        .map_err(|e| PortalError::Api(visitor.lang, e.into()))?;
    let back = match rule.role_id {
        Some(role) => format!("/admin/roles/{role}?done=saved#rules"),
        None => "/admin/rules?done=deleted".into(),
    };
    Ok(Redirect::to(&back).into_response())
}

/// `POST /admin/rules/effect` (htmx, from the builder as it changes): what saving the form as
/// it stands would do. `id` names the rule being edited.
pub async fn effect(State(state): State<AppState>, It(visitor): It, posted: Posted) -> Response {
    let tr = visitor.tr();
    let form = RuleForm::posted(&posted);
    let id = rule_text::parse_id(posted.get("id")).map(RuleId);
    let (view, error) = match change_of(&state, &tr, &form, id) {
        Err((_, message)) => (None, Some(message)),
        Ok(change) => match effect_of(&state, &tr, &[change]).await {
            Ok(view) => (Some(view), None),
            Err(error) => {
                let mut errors = FieldErrors::default();
                match to_field_error(&tr, error, &mut errors) {
                    Ok(()) => (None, errors.0.into_iter().next().map(|(_, m)| m)),
                    Err(other) if other.to_string() != "internal error" => {
                        (None, Some(other.to_string()))
                    }
                    Err(_) => (None, Some(tr.t("error.internal.text").to_owned())),
                }
            }
        },
    };
    page::render(&EffectFragment { tr, view, error })
}
