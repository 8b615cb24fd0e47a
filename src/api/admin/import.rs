//! `POST /api/v1/admin/staff/import`: many people created or updated in one call, with their
//! departments, roles and initial passwords (four calls per person before). People are matched
//! by login; each is checked on its own, so a bad row is reported and the others go through, all
//! directory changes in one transaction. The portal's CSV import runs exactly this (`run`).

use std::collections::{HashMap, HashSet};

use axum::{Json, Router, extract::State, routing::post};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::{
    access::{Assignment, PolicyChange, RoleId, Subject},
    api::{
        ApiError, ApiJson, DirectoryAdmin, RemoteAddr,
        error::{BadRequest, Forbidden, Invalid, PayloadTooLarge, Unauthorized},
    },
    auth::AdminPower,
    directory::{
        CustomFields, DepartmentId, DirectoryError, DisabledBy, MembershipInput, NewStaff, Replica,
        Staff, StaffId, StaffPatch, StaffStatus, Stage, parse_login, query::department_path,
    },
    state::AppState,
    store::Actor,
};

/// The most people one call may carry.
pub const MAX_PEOPLE: usize = 5_000;

pub fn router() -> Router<AppState> {
    Router::new().route("/api/v1/admin/staff/import", post(import))
}

/// People to create or update.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ImportRequest {
    /// Check everything and report what would happen, changing nothing.
    #[serde(default)]
    pub dry_run: bool,
    /// 1 to 5,000 people, matched to existing people by login.
    pub people: Vec<ImportPerson>,
}

/// One person. For someone new, `display_name` and `staff_type` are required; for someone who
/// exists, absent fields stay as they are.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ImportPerson {
    pub login: String,
    #[serde(default)]
    pub display_name: Option<String>,
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub staff_type: Option<String>,
    #[serde(default)]
    pub emails: Option<Vec<String>>,
    #[serde(default)]
    pub phones: Option<Vec<String>>,
    /// Replaces the person's departments. With none marked primary, the first is.
    #[serde(default)]
    pub departments: Option<Vec<ImportMembership>>,
    /// Custom field values (`null` removes one).
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub custom: Option<CustomFields>,
    #[serde(default)]
    pub status: Option<StaffStatus>,
    /// Role names or ids to give (roles already held stay). Needs the `access` power too.
    #[serde(default)]
    pub roles: Vec<String>,
    /// A local password (at least 8 characters), set only when this call creates the person.
    #[serde(default)]
    pub initial_password: Option<String>,
}

/// A department of an imported person.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ImportMembership {
    /// A department id, or its path from the top with `/` between the names
    /// (`总部/研发中心`).
    pub department: String,
    #[serde(default)]
    pub primary: bool,
}

/// What happened to each person.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ImportOutcome {
    Created,
    Updated,
    Unchanged,
    Failed,
}

/// Why a person was not imported.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RowError {
    /// The field at fault, when one is.
    pub field: Option<String>,
    pub message: String,
}

/// One person's result.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ImportResult {
    /// Position in `people`, from 0.
    pub index: usize,
    pub login: String,
    pub outcome: ImportOutcome,
    /// The person's id (absent when a new person failed, or in a dry run of a new person).
    pub id: Option<StaffId>,
    /// The fields that change (for updates), e.g. `title`, `departments`, `roles`.
    pub changes: Vec<String>,
    pub error: Option<RowError>,
}

/// The report of an import.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ImportReport {
    pub dry_run: bool,
    /// The directory version after the import (the current one for a dry run).
    pub version: i64,
    pub created: usize,
    pub updated: usize,
    pub unchanged: usize,
    pub failed: usize,
    pub results: Vec<ImportResult>,
}

/// Creates or updates many people at once: departments, roles, initial passwords.
#[utoipa::path(post, path = "/api/v1/admin/staff/import", tag = "admin: staff",
    security(("bearer" = [])), request_body = ImportRequest,
    responses((status = 200, description = "every person's outcome; failed rows changed nothing", body = ImportReport), (status = 400, response = BadRequest), (status = 401, response = Unauthorized), (status = 403, response = Forbidden), (status = 413, response = PayloadTooLarge), (status = 422, response = Invalid)))]
pub async fn import(
    State(state): State<AppState>,
    admin: DirectoryAdmin,
    remote: RemoteAddr,
    ApiJson(request): ApiJson<ImportRequest>,
) -> Result<Json<ImportReport>, ApiError> {
    let may_assign = admin.0.powers.has(AdminPower::Access);
    run(&state, &admin.actor(&remote), request, may_assign)
        .await
        .map(Json)
}

/// Department ids by their path (`A/B/C`); a path two departments share is ambiguous.
fn paths(replica: &Replica) -> HashMap<String, Option<DepartmentId>> {
    let mut out: HashMap<String, Option<DepartmentId>> = HashMap::new();
    for d in replica.departments() {
        let path = department_path(replica, d.id).join("/");
        out.entry(path)
            .and_modify(|slot| *slot = None)
            .or_insert(Some(d.id));
    }
    out
}

fn resolve(
    replica: &Replica,
    paths: &HashMap<String, Option<DepartmentId>>,
    text: &str,
) -> Result<DepartmentId, RowError> {
    let text = text.trim();
    if let Ok(id) = text.parse() {
        let id = DepartmentId(id);
        if replica.department(id).is_some() {
            return Ok(id);
        }
    }
    let key: String = text.split('/').map(str::trim).collect::<Vec<_>>().join("/");
    match paths.get(&key) {
        Some(Some(id)) => Ok(*id),
        Some(None) => Err(row_error(
            "departments",
            format!("'{text}' names more than one department: use its id"),
        )),
        None => Err(row_error("departments", format!("no department '{text}'"))),
    }
}

fn row_error(field: &str, message: impl Into<String>) -> RowError {
    RowError {
        field: Some(field.to_owned()),
        message: message.into(),
    }
}

impl From<DirectoryError> for RowError {
    fn from(error: DirectoryError) -> Self {
        match error {
            DirectoryError::Invalid { field, reason } => RowError {
                message: format!("{field}: {reason}"),
                field: Some(field),
            },
            other => RowError {
                field: None,
                message: other.to_string(),
            },
        }
    }
}

/// A row checked before the directory is touched: its roles found, its departments resolved.
struct Prepared {
    person: ImportPerson,
    roles: Vec<RoleId>,
    memberships: Option<Vec<MembershipInput>>,
}

/// The fields of `after` that differ from `before`.
fn changed(before: &Staff, after: &Staff) -> Vec<String> {
    let mut out = Vec::new();
    let mut check = |name: &str, differs: bool| {
        if differs {
            out.push(name.to_owned());
        }
    };
    check("display_name", before.display_name != after.display_name);
    check("title", before.title != after.title);
    check("staff_type", before.staff_type != after.staff_type);
    check("emails", before.emails != after.emails);
    check("phones", before.phones != after.phones);
    check("departments", before.memberships != after.memberships);
    check("custom", before.custom != after.custom);
    check("status", before.status != after.status);
    out
}

/// Applies one prepared row to the stage: (outcome, id, changed fields).
fn apply_row(
    stage: &mut Stage<'_>,
    state: &AppState,
    row: &Prepared,
) -> Result<(ImportOutcome, Option<StaffId>, Vec<String>), RowError> {
    let p = &row.person;
    let login = parse_login(&p.login).map_err(RowError::from)?;
    let existing = stage.staff_id_by_login(&login);
    match existing {
        Some(id) => {
            let before = stage
                .staff(id)
                .cloned()
                .ok_or_else(|| row_error("login", "gone"))?;
            let patch = StaffPatch {
                display_name: p.display_name.clone(),
                title: p.title.clone(),
                staff_type: p.staff_type.clone(),
                emails: p.emails.clone(),
                phones: p.phones.clone(),
                custom: p.custom.clone(),
                departments: row.memberships.clone(),
                ..Default::default()
            };
            if let Some(ldap) = state.ldap_connected() {
                // Bulk edits are not written to LDAP: fields LDAP owns are changed there.
                let mut owned = ldap.ldap_owned(&before, &patch);
                owned.retain(|f| patch_changes(&before, &patch, f));
                if !owned.is_empty() {
                    return Err(row_error(
                        owned[0],
                        format!(
                            "{} managed by LDAP: change it in the directory server",
                            owned.join(", ")
                        ),
                    ));
                }
            }
            stage.update_staff(id, patch)?;
            if let Some(status) = p.status {
                stage.set_status(id, status, DisabledBy::Admin)?;
            }
            let after = stage
                .staff(id)
                .cloned()
                .ok_or_else(|| row_error("login", "gone"))?;
            let changes = changed(&before, &after);
            let outcome = if changes.is_empty() {
                ImportOutcome::Unchanged
            } else {
                ImportOutcome::Updated
            };
            Ok((outcome, Some(id), changes))
        }
        None => {
            let display_name = p
                .display_name
                .clone()
                .ok_or_else(|| row_error("display_name", "is required for a new person"))?;
            let staff_type = p
                .staff_type
                .clone()
                .ok_or_else(|| row_error("staff_type", "is required for a new person"))?;
            let created = stage.create_staff(NewStaff {
                login,
                display_name,
                title: p.title.clone().unwrap_or_default(),
                emails: p.emails.clone().unwrap_or_default(),
                phones: p.phones.clone().unwrap_or_default(),
                staff_type,
                custom: p.custom.clone().unwrap_or_default(),
                departments: row.memberships.clone().unwrap_or_default(),
                source: None,
                ldap: None,
            })?;
            if p.status == Some(StaffStatus::Disabled) {
                stage.set_status(created.id, StaffStatus::Disabled, DisabledBy::Admin)?;
            }
            Ok((ImportOutcome::Created, Some(created.id), Vec::new()))
        }
    }
}

/// Whether a patch changes field `name` of `person` (unchanged LDAP fields are no refusal).
fn patch_changes(person: &Staff, patch: &StaffPatch, name: &str) -> bool {
    match name {
        "display_name" => patch
            .display_name
            .as_deref()
            .is_some_and(|v| v.trim() != person.display_name),
        "title" => patch
            .title
            .as_deref()
            .is_some_and(|v| v.trim() != person.title),
        "staff_type" => patch
            .staff_type
            .as_deref()
            .is_some_and(|v| v.trim() != person.staff_type),
        "emails" => patch.emails.as_ref().is_some_and(|v| *v != person.emails),
        "phones" => patch.phones.as_ref().is_some_and(|v| *v != person.phones),
        "departments" => patch.departments.as_ref().is_some_and(|v| {
            let wanted: HashSet<DepartmentId> = v.iter().map(|m| m.department_id).collect();
            let now: HashSet<DepartmentId> =
                person.memberships.iter().map(|m| m.department_id).collect();
            wanted != now
        }),
        _ => true,
    }
}

/// Runs an import (or its dry run) as `actor`; `may_assign` says whether roles may be given.
pub async fn run(
    state: &AppState,
    actor: &Actor,
    request: ImportRequest,
    may_assign: bool,
) -> Result<ImportReport, ApiError> {
    if request.people.is_empty() || request.people.len() > MAX_PEOPLE {
        return Err(ApiError::Invalid {
            field: "people".into(),
            reason: format!("must hold 1 to {MAX_PEOPLE} people"),
        });
    }
    if !may_assign && request.people.iter().any(|p| !p.roles.is_empty()) {
        return Err(ApiError::Forbidden(
            "giving roles needs the 'access' admin power".into(),
        ));
    }
    let mut results: Vec<ImportResult> = Vec::with_capacity(request.people.len());
    let mut prepared: Vec<(usize, Prepared)> = Vec::new();
    {
        let snapshot = state.access.snapshot();
        let replica = state.directory.read();
        let paths = paths(&replica);
        let mut seen = HashSet::new();
        for (index, person) in request.people.into_iter().enumerate() {
            let fail = |error: RowError| ImportResult {
                index,
                login: person.login.clone(),
                outcome: ImportOutcome::Failed,
                id: None,
                changes: Vec::new(),
                error: Some(error),
            };
            let key = person.login.trim().to_lowercase();
            if !seen.insert(key) {
                results.push(fail(row_error("login", "is listed twice in this import")));
                continue;
            }
            if person
                .initial_password
                .as_deref()
                .is_some_and(|p| p.chars().count() < 8)
            {
                results.push(fail(row_error(
                    "initial_password",
                    "must be at least 8 characters",
                )));
                continue;
            }
            let mut roles = Vec::new();
            let mut bad_role = None;
            for name in &person.roles {
                let found = snapshot
                    .policy
                    .roles
                    .values()
                    .find(|r| r.name == name.trim() || r.id.0.to_string() == name.trim());
                match found {
                    Some(role) => roles.push(role.id),
                    None => bad_role = Some(name.clone()),
                }
            }
            if let Some(name) = bad_role {
                results.push(fail(row_error("roles", format!("no role '{name}'"))));
                continue;
            }
            let memberships = match &person.departments {
                None => None,
                Some(list) => {
                    let resolved: Result<Vec<MembershipInput>, RowError> = list
                        .iter()
                        .map(|m| {
                            resolve(&replica, &paths, &m.department).map(|id| MembershipInput {
                                department_id: id,
                                order_key: None,
                                primary: m.primary,
                            })
                        })
                        .collect();
                    match resolved {
                        Ok(list) => Some(list),
                        Err(error) => {
                            results.push(fail(error));
                            continue;
                        }
                    }
                }
            };
            prepared.push((
                index,
                Prepared {
                    person,
                    roles,
                    memberships,
                },
            ));
        }
    }

    let build = |stage: &mut Stage<'_>| {
        prepared
            .iter()
            .map(|(index, row)| {
                let outcome = apply_row(stage, state, row);
                (*index, outcome)
            })
            .collect::<Vec<_>>()
    };
    let (outcomes, version) = if request.dry_run {
        (
            state.directory.preview(build),
            state.directory.journal().head(),
        )
    } else {
        state
            .directory
            .write(actor, |stage| Ok(build(stage)))
            .await?
    };

    let mut assignments = Vec::new();
    let mut passwords = Vec::new();
    for ((index, outcome), (_, row)) in outcomes.into_iter().zip(prepared.iter()) {
        let login = row.person.login.clone();
        let result = match outcome {
            Ok((mut outcome, id, mut changes)) => {
                if let Some(id) = id {
                    let held = state.access.snapshot();
                    let new_roles: Vec<RoleId> = row
                        .roles
                        .iter()
                        .copied()
                        .filter(|r| {
                            !held
                                .policy
                                .assignments
                                .iter()
                                .any(|a| a.role_id == *r && a.subject == Subject::Staff(id))
                        })
                        .collect();
                    if !new_roles.is_empty() {
                        changes.push("roles".into());
                        if outcome == ImportOutcome::Unchanged {
                            outcome = ImportOutcome::Updated;
                        }
                    }
                    assignments.extend(new_roles.into_iter().map(|role_id| {
                        PolicyChange::Assign(Assignment {
                            role_id,
                            subject: Subject::Staff(id),
                        })
                    }));
                    if outcome == ImportOutcome::Created
                        && let Some(password) = &row.person.initial_password
                    {
                        passwords.push((id, password.clone()));
                    }
                }
                ImportResult {
                    index,
                    login,
                    outcome,
                    id: id.filter(|_| !request.dry_run || outcome != ImportOutcome::Created),
                    changes,
                    error: None,
                }
            }
            Err(error) => ImportResult {
                index,
                login,
                outcome: ImportOutcome::Failed,
                id: None,
                changes: Vec::new(),
                error: Some(error),
            },
        };
        results.push(result);
    }
    let mut version = version;
    if !request.dry_run {
        for (id, password) in passwords {
            state.auth.set_staff_password(actor, id, &password).await?;
        }
        if !assignments.is_empty() {
            version = state.access.apply(actor, assignments).await?;
        }
    }
    results.sort_by_key(|r| r.index);
    let count = |o: ImportOutcome| results.iter().filter(|r| r.outcome == o).count();
    Ok(ImportReport {
        dry_run: request.dry_run,
        version: version.0,
        created: count(ImportOutcome::Created),
        updated: count(ImportOutcome::Updated),
        unchanged: count(ImportOutcome::Unchanged),
        failed: count(ImportOutcome::Failed),
        results,
    })
}
