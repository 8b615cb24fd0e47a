//! Roles (IT, `access` power): the list, a new role, one role with its admin powers, its
//! rules, the global rules it is exempt from, and who holds it (people and LDAP groups).
//! Every write is a `PolicyChange` through `Access::apply`, as the JSON API makes it.

use std::collections::HashMap;

use askama::Template;
use axum::{
    extract::{Path, State},
    http::StatusCode,
    response::{IntoResponse, Redirect, Response},
};

use super::{
    It,
    posted::{FieldErrors, Posted},
    rule_text::{self, RuleRow},
};
use crate::admin::{
    error::PortalError,
    i18n::Tr,
    page::{self, Chrome},
    session::{Staffer, Visitor, power_key},
};
use crate::{
    access::{Assignment, PolicyChange, Role, RoleId, Subject},
    api::ApiError,
    auth::{AdminPower, Powers},
    state::AppState,
};

/// A role in the list.
struct RoleItem {
    id: String,
    name: String,
    description: String,
    /// i18n keys of its admin powers.
    powers: Vec<&'static str>,
    rules: usize,
    holders: usize,
}

#[derive(Template)]
#[template(path = "admin/roles.html")]
struct RolesPage {
    c: Chrome,
    roles: Vec<RoleItem>,
    notice: Option<String>,
}

/// What the role form shows: the values (as typed, after a refused submit) and errors.
struct RoleForm {
    name: String,
    description: String,
    directory: bool,
    access: bool,
    errors: FieldErrors,
}

impl RoleForm {
    fn of(role: &Role) -> Self {
        Self {
            name: role.name.clone(),
            description: role.description.clone(),
            directory: role.powers.has(AdminPower::Directory),
            access: role.powers.has(AdminPower::Access),
            errors: FieldErrors::default(),
        }
    }

    fn posted(form: &Posted) -> Self {
        Self {
            name: form.get("name").to_owned(),
            description: form.get("description").to_owned(),
            directory: form.all("powers").contains(&"directory"),
            access: form.all("powers").contains(&"access"),
            errors: FieldErrors::default(),
        }
    }

    fn powers(&self) -> Powers {
        let mut list = Vec::new();
        if self.directory {
            list.push(AdminPower::Directory);
        }
        if self.access {
            list.push(AdminPower::Access);
        }
        Powers::from_list(list)
    }
}

#[derive(Template)]
#[template(path = "admin/role_new.html")]
struct NewRolePage {
    c: Chrome,
    form: RoleForm,
}

/// Someone or some group holding the role.
struct Holder {
    /// `staff` or `ldap_group` (the unassign form's `kind`).
    kind: &'static str,
    /// Staff id or group DN (the unassign form's `subject`).
    subject: String,
    name: String,
    detail: String,
}

#[derive(Template)]
#[template(path = "admin/role.html")]
struct RolePage {
    c: Chrome,
    id: String,
    form: RoleForm,
    /// A digest of the role as loaded, to catch an edit made meanwhile by someone else.
    was: String,
    rules: Vec<RuleRow>,
    exempt_from: Vec<RuleRow>,
    /// The first `HOLDERS_SHOWN` people, by name.
    people: Vec<Holder>,
    people_count: usize,
    /// "and 153 more" when there are more.
    people_more: Option<String>,
    groups: Vec<Holder>,
    holders_text: String,
    assign_errors: FieldErrors,
    person_q: String,
    group_dn: String,
    notice: Option<String>,
}

/// People listed on a role's page (a role held by thousands lists the first ones by name).
const HOLDERS_SHOWN: usize = 200;

fn digest(role: &Role) -> String {
    use sha2::{Digest, Sha256};
    let text = format!("{:?}", (&role.name, &role.description, role.powers.list()));
    hex::encode(&Sha256::digest(text.as_bytes())[..8])
}

fn power_keys(powers: Powers) -> Vec<&'static str> {
    powers.list().into_iter().map(power_key).collect()
}

/// `GET /admin/roles`.
pub async fn list(State(state): State<AppState>, Staffer(visitor): Staffer) -> Response {
    let snapshot = state.access.snapshot();
    let mut holders: HashMap<RoleId, usize> = HashMap::new();
    for roles in snapshot.staff_roles.values() {
        for role in roles {
            *holders.entry(*role).or_default() += 1;
        }
    }
    let mut roles: Vec<RoleItem> = snapshot
        .policy
        .roles
        .values()
        .map(|r| RoleItem {
            id: r.id.to_string(),
            name: r.name.clone(),
            description: r.description.clone(),
            powers: power_keys(r.powers),
            rules: snapshot
                .policy
                .rules
                .values()
                .filter(|rule| rule.role_id == Some(r.id))
                .count(),
            holders: holders.get(&r.id).copied().unwrap_or(0),
        })
        .collect();
    roles.sort_by(|a, b| a.name.cmp(&b.name));
    let notice = notice(&visitor);
    page::render(&RolesPage {
        c: Chrome::new(&state, &visitor, "roles", "nav.roles"),
        roles,
        notice,
    })
}

/// A message carried by `?done=` after a redirect (translated here, never echoed).
fn notice(visitor: &Visitor) -> Option<String> {
    let done = visitor.path.split("done=").nth(1)?.split('&').next()?;
    let key = match done {
        "deleted" => "roles.notice.deleted",
        "saved" => "roles.notice.saved",
        "assigned" => "roles.notice.assigned",
        "unassigned" => "roles.notice.unassigned",
        _ => return None,
    };
    Some(visitor.tr().t(key).to_owned())
}

/// `GET /admin/roles/new`.
pub async fn new_form(State(state): State<AppState>, It(visitor): It) -> Response {
    page::render(&NewRolePage {
        c: Chrome::new(&state, &visitor, "roles", "roles.new"),
        form: RoleForm {
            name: String::new(),
            description: String::new(),
            directory: false,
            access: false,
            errors: FieldErrors::default(),
        },
    })
}

/// A module's refusal of a form as an error next to a field, translated where we know it;
/// anything else ends on an error page.
pub fn to_field_error(tr: &Tr, error: ApiError, errors: &mut FieldErrors) -> Result<(), ApiError> {
    match error {
        ApiError::Invalid { field, reason } => {
            errors.add(&field, reason);
            Ok(())
        }
        ApiError::Conflict(message) if message.contains("a role named") => {
            errors.add("name", tr.t("roles.error.name_taken"));
            Ok(())
        }
        ApiError::Conflict(message) if message.contains("no administrator could see") => {
            errors.add("form", tr.t("rules.error.blind"));
            Ok(())
        }
        other => Err(other),
    }
}

fn check_name(tr: &Tr, form: &mut RoleForm) {
    let count = form.name.chars().count();
    if count == 0 {
        form.errors.add("name", tr.t("roles.error.name_required"));
    } else if count > 100 {
        form.errors.add("name", tr.t("roles.error.name_long"));
    }
    if form.description.chars().count() > 500 {
        form.errors
            .add("description", tr.t("roles.error.description_long"));
    }
}

/// `POST /admin/roles`.
pub async fn create(
    State(state): State<AppState>,
    It(visitor): It,
    form: Posted,
) -> Result<Response, PortalError> {
    let tr = visitor.tr();
    let mut form = RoleForm::posted(&form);
    check_name(&tr, &mut form);
    if form.errors.is_empty() {
        let role = Role {
            id: RoleId(uuid::Uuid::now_v7()),
            name: form.name.clone(),
            description: form.description.clone(),
            powers: form.powers(),
        };
        match state
            .access
            .apply(&visitor.actor(), vec![PolicyChange::PutRole(role.clone())])
            .await
        {
            Ok(_) => return Ok(Redirect::to(&format!("/admin/roles/{}", role.id)).into_response()),
            Err(error) => to_field_error(&tr, error.into(), &mut form.errors)
                .map_err(|e| PortalError::Api(visitor.lang, e))?,
        }
    }
    let page = NewRolePage {
        c: Chrome::new(&state, &visitor, "roles", "roles.new"),
        form,
    };
    Ok(page::render_status(StatusCode::UNPROCESSABLE_ENTITY, &page))
}

fn find(state: &AppState, visitor: &Visitor, id: &str) -> Result<Role, PortalError> {
    rule_text::parse_id(id)
        .and_then(|id| {
            state
                .access
                .snapshot()
                .policy
                .roles
                .get(&RoleId(id))
                .cloned()
        })
        .ok_or(PortalError::NotFound(visitor.lang))
}

/// The role page with `form` (as loaded, or as typed after a refusal).
fn role_page(state: &AppState, visitor: &Visitor, role: &Role, form: RoleForm) -> RolePage {
    let tr = visitor.tr();
    let snapshot = state.access.snapshot();
    let replica = state.directory.read();
    let names = rule_text::role_names(&snapshot);
    let rules = snapshot
        .policy
        .rules
        .values()
        .filter(|r| r.role_id == Some(role.id))
        .map(|r| rule_text::rule_row(&tr, r, &names, &replica))
        .collect();
    let exempt_from = snapshot
        .policy
        .rules
        .values()
        .filter(|r| r.exempt_roles.contains(&role.id))
        .map(|r| rule_text::rule_row(&tr, r, &names, &replica))
        .collect();
    let (mut people, mut groups) = (Vec::new(), Vec::new());
    for a in snapshot
        .policy
        .assignments
        .iter()
        .filter(|a| a.role_id == role.id)
    {
        match &a.subject {
            Subject::Staff(id) => {
                let person = replica.staff(*id);
                people.push(Holder {
                    kind: "staff",
                    subject: id.to_string(),
                    name: person.map_or_else(|| id.to_string(), |p| p.display_name.clone()),
                    detail: person.map(|p| p.login.clone()).unwrap_or_default(),
                });
            }
            Subject::Group(dn) => groups.push(Holder {
                kind: "ldap_group",
                subject: dn.clone(),
                name: dn.clone(),
                detail: snapshot
                    .policy
                    .group_members
                    .get(dn)
                    .map(|m| tr.f("roles.group_members", &[("count", &m.len())]))
                    .unwrap_or_else(|| tr.t("roles.group_unsynced").to_owned()),
            }),
        }
    }
    people.sort_by(|a, b| a.name.cmp(&b.name));
    let people_count = people.len();
    let people_more = (people_count > HOLDERS_SHOWN).then(|| {
        tr.f(
            "roles.more_people",
            &[("count", &(people_count - HOLDERS_SHOWN))],
        )
    });
    people.truncate(HOLDERS_SHOWN);
    let holders = snapshot
        .staff_roles
        .values()
        .filter(|roles| roles.contains(&role.id))
        .count();
    RolePage {
        c: Chrome::new(state, visitor, "roles", "nav.roles"),
        id: role.id.to_string(),
        was: digest(role),
        form,
        rules,
        exempt_from,
        people,
        people_count,
        people_more,
        groups,
        holders_text: tr.f("roles.holders_count", &[("count", &holders)]),
        assign_errors: FieldErrors::default(),
        person_q: String::new(),
        group_dn: String::new(),
        notice: notice(visitor),
    }
}

/// `GET /admin/roles/{id}`.
pub async fn show(
    State(state): State<AppState>,
    Staffer(visitor): Staffer,
    Path(id): Path<String>,
) -> Result<Response, PortalError> {
    let role = find(&state, &visitor, &id)?;
    let mut page = role_page(&state, &visitor, &role, RoleForm::of(&role));
    page.c.title = role.name.clone();
    Ok(page::render(&page))
}

/// `POST /admin/roles/{id}`: name, description, admin powers.
pub async fn update(
    State(state): State<AppState>,
    It(visitor): It,
    Path(id): Path<String>,
    posted: Posted,
) -> Result<Response, PortalError> {
    let tr = visitor.tr();
    let current = find(&state, &visitor, &id)?;
    let mut form = RoleForm::posted(&posted);
    if posted.get("was") != digest(&current) {
        form.errors.add("form", tr.t("roles.error.stale"));
    }
    check_name(&tr, &mut form);
    if form.errors.is_empty() {
        let role = Role {
            name: form.name.clone(),
            description: form.description.clone(),
            powers: form.powers(),
            ..current.clone()
        };
        match state
            .access
            .apply(&visitor.actor(), vec![PolicyChange::PutRole(role.clone())])
            .await
        {
            Ok(_) => {
                return Ok(
                    Redirect::to(&format!("/admin/roles/{}?done=saved", role.id)).into_response(),
                );
            }
            Err(error) => to_field_error(&tr, error.into(), &mut form.errors)
                .map_err(|e| PortalError::Api(visitor.lang, e))?,
        }
    }
    let mut page = role_page(&state, &visitor, &current, form);
    page.c.title = current.name.clone();
    Ok(page::render_status(StatusCode::UNPROCESSABLE_ENTITY, &page))
}

/// `POST /admin/roles/{id}/delete`: the role with its rules and assignments.
pub async fn delete(
    State(state): State<AppState>,
    It(visitor): It,
    Path(id): Path<String>,
) -> Result<Response, PortalError> {
    let role = find(&state, &visitor, &id)?;
    state
        .access
        .apply(&visitor.actor(), vec![PolicyChange::DeleteRole(role.id)])
        .await
        .map_err(|e| PortalError::Api(visitor.lang, e.into()))?;
    Ok(Redirect::to("/admin/roles?done=deleted").into_response())
}

/// `POST /admin/roles/{id}/assign`: to a person (`person`: login or id, from the picker or
/// typed) or to an LDAP group (`group`: its DN).
pub async fn assign(
    State(state): State<AppState>,
    It(visitor): It,
    Path(id): Path<String>,
    posted: Posted,
) -> Result<Response, PortalError> {
    let tr = visitor.tr();
    let role = find(&state, &visitor, &id)?;
    let mut errors = FieldErrors::default();
    let subject = if posted.get("kind") == "ldap_group" {
        match Subject::parse("ldap_group", posted.get("group")) {
            Ok(subject) => Some(subject),
            Err(_) => {
                errors.add("group", tr.t("roles.error.group_dn"));
                None
            }
        }
    } else {
        let typed = match posted.get("person") {
            "" => posted.get("person_q"),
            picked => picked,
        };
        let found = rule_text::find_person(&state.directory.read(), typed);
        match found {
            Some(staff) => Some(Subject::Staff(staff)),
            None => {
                errors.add(
                    "person",
                    if typed.is_empty() {
                        tr.t("roles.error.person_required").to_owned()
                    } else {
                        tr.f("roles.error.no_person", &[("login", &typed)])
                    },
                );
                None
            }
        }
    };
    if let Some(subject) = subject {
        let change = PolicyChange::Assign(Assignment {
            role_id: role.id,
            subject,
        });
        match state.access.apply(&visitor.actor(), vec![change]).await {
            Ok(_) => {
                return Ok(Redirect::to(&format!(
                    "/admin/roles/{}?done=assigned#holders",
                    role.id
                ))
                .into_response());
            }
            Err(error) => to_field_error(&tr, error.into(), &mut errors)
                .map_err(|e| PortalError::Api(visitor.lang, e))?,
        }
    }
    let mut page = role_page(&state, &visitor, &role, RoleForm::of(&role));
    page.c.title = role.name.clone();
    page.assign_errors = errors;
    page.person_q = posted.get("person_q").to_owned();
    page.group_dn = posted.get("group").to_owned();
    Ok(page::render_status(StatusCode::UNPROCESSABLE_ENTITY, &page))
}

/// `POST /admin/roles/{id}/unassign` (`kind`, `subject`).
pub async fn unassign(
    State(state): State<AppState>,
    It(visitor): It,
    Path(id): Path<String>,
    posted: Posted,
) -> Result<Response, PortalError> {
    let role = find(&state, &visitor, &id)?;
    let subject = Subject::parse(posted.get("kind"), posted.get("subject"))
        .map_err(|e| PortalError::Api(visitor.lang, e.into()))?;
    let change = PolicyChange::Unassign(Assignment {
        role_id: role.id,
        subject,
    });
    state
        .access
        .apply(&visitor.actor(), vec![change])
        .await
        .map_err(|e| PortalError::Api(visitor.lang, e.into()))?;
    Ok(Redirect::to(&format!("/admin/roles/{}?done=unassigned#holders", role.id)).into_response())
}
