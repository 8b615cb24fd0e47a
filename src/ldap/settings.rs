//! LDAP settings saved by IT (portal or `PUT /api/v1/admin/ldap/settings`), in the
//! `ldap_settings` row. Once saved they replace the configuration file's `[ldap]` table, which
//! (with the environment) only gives the first values. Kept the way mail keeps its SMTP
//! settings (`mail::settings`): the password stays in the module's own table (it is needed to
//! bind), apart from the JSON of the rest, sealed at rest (`auth::Sealer`); it is never shown, logged or audited — answers say
//! only whether one is set. A save is audited (source `portal` or `api`) without it.

use sea_orm::{ActiveValue::Set, DatabaseConnection, EntityTrait, sea_query::OnConflict};
use serde::Serialize;
use utoipa::ToSchema;

use super::LdapError;
use crate::{
    auth::{Sealer, Unsealed},
    config::{
        Secret,
        ldap::{LdapConfig, RawLdapConfig, SearchSpec},
    },
    store::{Actor, AuditEntry, EntityKind, Journal},
};

pub mod settings_row {
    use sea_orm::entity::prelude::*;
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "ldap_settings")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: i32,
        /// `RawLdapConfig` as JSON, without the password.
        pub settings: String,
        /// The password entered by IT; `NULL`: the file's or environment's.
        pub bind_password: Option<String>,
        pub updated_at: i64,
        pub updated_by: String,
    }
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}
    impl ActiveModelBehavior for ActiveModel {}
}

/// The LDAP settings as administrators see them (the password only as "set or not").
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct LdapSettings {
    /// `file`: the configuration file's (nothing saved yet); `portal`: saved by IT; `none`:
    /// LDAP is not configured yet (`settings` is then the blank form to fill in).
    pub source: String,
    /// When and by whom they were saved (Unix milliseconds; `null` for the file's).
    pub updated_at: Option<i64>,
    pub updated_by: Option<String>,
    /// Whether the password in force was entered by IT (else it is the file's or
    /// environment's). It is never shown.
    pub bind_password_stored: bool,
    /// The settings in force, as in the `[ldap]` table, without the password: what
    /// `PUT /api/v1/admin/ldap/settings` takes.
    pub settings: RawLdapConfig,
}

/// The saved row, read.
#[derive(Debug, Clone)]
pub struct Stored {
    pub raw: RawLdapConfig,
    pub password: Option<Secret>,
    pub updated_at: i64,
    pub updated_by: String,
}

/// What the stored password is sealed for (see `auth::Sealer`).
const PASSWORD_PURPOSE: &str = "ldap.bind_password";

/// The saved settings, if any. A row that no longer parses (written by a newer version) is
/// ignored with a warning, as mail does: the file's settings hold. A password sealed under
/// another token key counts as not entered (the file's holds), with a warning to enter it again.
pub async fn load(db: &DatabaseConnection, sealer: &Sealer) -> Result<Option<Stored>, LdapError> {
    let Some(row) = settings_row::Entity::find_by_id(1).one(db).await? else {
        return Ok(None);
    };
    match serde_json::from_str::<RawLdapConfig>(&row.settings) {
        Ok(raw) => Ok(Some(Stored {
            raw,
            password: row
                .bind_password
                .as_deref()
                .and_then(|column| open_password(sealer, column)),
            updated_at: row.updated_at,
            updated_by: row.updated_by,
        })),
        Err(error) => {
            tracing::warn!(%error, "stored LDAP settings unreadable; using the configuration file's");
            Ok(None)
        }
    }
}

/// The settings in force: the saved ones (with their password, else the file's), else the
/// file's; `None` when there are neither (LDAP not configured). Saved settings that no longer
/// validate (a CA file removed) fall back to the file's.
pub fn effective(stored: Option<&Stored>, file: Option<&LdapConfig>) -> Option<LdapConfig> {
    let Some(stored) = stored else {
        return file.cloned();
    };
    match candidate(stored.raw.clone(), stored.password.clone(), file) {
        Ok(config) => Some(config),
        Err(error) => {
            tracing::warn!(%error, "stored LDAP settings invalid; using the configuration file's");
            file.cloned()
        }
    }
}

/// The view of the settings in force (`config`: `None` when LDAP is not configured: the
/// blank form, source `none`).
pub fn view(stored: Option<&Stored>, config: Option<&LdapConfig>) -> LdapSettings {
    let source = match (stored, config) {
        (Some(_), _) => "portal",
        (None, Some(_)) => "file",
        (None, None) => "none",
    };
    LdapSettings {
        source: source.into(),
        updated_at: stored.map(|s| s.updated_at),
        updated_by: stored.map(|s| s.updated_by.clone()),
        bind_password_stored: stored.is_some_and(|s| s.password.is_some()),
        settings: config.map_or_else(RawLdapConfig::blank, LdapConfig::to_raw),
    }
}

/// What a new password field means: absent keeps the stored one, `""` drops it (back to the
/// file's or environment's), anything else replaces it.
pub fn password_after(
    entered: Option<&str>,
    stored: Option<&Stored>,
) -> Result<Option<Secret>, LdapError> {
    match entered {
        None => Ok(stored.and_then(|s| s.password.clone())),
        Some("") => Ok(None),
        Some(text) if text.len() > 1024 => {
            Err(LdapError::invalid("bind_password", "at most 1024 bytes"))
        }
        Some(text) => Ok(Some(Secret::new(text))),
    }
}

/// Settings as typed (`raw`, its password already taken out), with `password` (`None`: the
/// file's), checked field by field and then as the configuration file's are.
pub fn candidate(
    mut raw: RawLdapConfig,
    password: Option<Secret>,
    file: Option<&LdapConfig>,
) -> Result<LdapConfig, LdapError> {
    if raw.bind_password_file.is_some() {
        return Err(LdapError::invalid(
            "bind_password_file",
            "only in the configuration file",
        ));
    }
    check(&raw)?;
    let password = password
        .or_else(|| file.map(|f| f.bind_password.clone()))
        .ok_or_else(|| {
            LdapError::invalid(
                "bind_password",
                "required (the configuration file gives none)",
            )
        })?;
    raw.bind_password = Some(password.expose().to_owned());
    LdapConfig::parse(raw, None).map_err(|e| LdapError::Invalid {
        field: e.key.trim_start_matches("ldap.").to_owned(),
        reason: e.reason,
    })
}

/// Checks `LdapConfig::parse` leaves to the server, with the field they concern.
fn check(raw: &RawLdapConfig) -> Result<(), LdapError> {
    let texts = [
        ("url", &raw.url),
        ("bind_dn", &raw.bind_dn),
        ("stable_id", &raw.stable_id),
        ("change_attribute", &raw.change_attribute),
        ("group_member_attribute", &raw.group_member_attribute),
    ];
    for (field, text) in texts {
        if text.len() > 1024 || text.chars().any(char::is_control) {
            return Err(LdapError::invalid(
                field,
                "at most 1024 bytes, no control characters",
            ));
        }
    }
    let url = raw.url.trim();
    let host = url
        .strip_prefix("ldap://")
        .or_else(|| url.strip_prefix("ldaps://"));
    match host {
        None => {
            return Err(LdapError::invalid(
                "url",
                "must start with ldap:// or ldaps://",
            ));
        }
        Some(rest)
            if rest.trim_end_matches('/').is_empty() || rest.contains(char::is_whitespace) =>
        {
            return Err(LdapError::invalid("url", "needs a host: ldap://host:389"));
        }
        Some(_) => {}
    }
    if raw.bind_dn.trim().is_empty() {
        return Err(LdapError::invalid("bind_dn", "must not be empty"));
    }
    let mut specs = vec![("departments", &raw.departments), ("staff", &raw.staff)];
    if let Some(groups) = &raw.groups {
        specs.push(("groups", groups));
    }
    for (name, spec) in specs {
        check_spec(name, spec)?;
    }
    for (field, attribute) in [
        ("stable_id", &raw.stable_id),
        ("change_attribute", &raw.change_attribute),
    ] {
        if attribute.trim().is_empty() {
            return Err(LdapError::invalid(field, "must not be empty"));
        }
    }
    Ok(())
}

fn check_spec(name: &str, spec: &SearchSpec) -> Result<(), LdapError> {
    if spec.base_dn.trim().is_empty() || !spec.base_dn.contains('=') {
        return Err(LdapError::invalid(
            &format!("{name}.base_dn"),
            "a DN such as ou=People,dc=example,dc=com",
        ));
    }
    if spec.base_dn.len() > 1024 || spec.filter.len() > 4096 {
        return Err(LdapError::invalid(&format!("{name}.filter"), "too long"));
    }
    let filter = spec.filter.trim();
    let mut depth = 0i32;
    let balanced = filter.chars().all(|c| {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            _ => {}
        }
        depth >= 0
    }) && depth == 0;
    if !filter.starts_with('(') || !filter.ends_with(')') || !balanced {
        return Err(LdapError::invalid(
            &format!("{name}.filter"),
            "an LDAP filter in parentheses, such as (objectClass=inetOrgPerson)",
        ));
    }
    Ok(())
}

/// Saves the settings (`password`: the one to store, `None` for the file's), audited as
/// `actor` without the password.
pub async fn save(
    journal: &Journal,
    sealer: &Sealer,
    actor: &Actor,
    raw: &RawLdapConfig,
    password: Option<&Secret>,
    before: &LdapSettings,
) -> Result<(), LdapError> {
    let settings = serde_json::to_string(raw)
        .map_err(|e| LdapError::Config(format!("LDAP settings do not serialise: {e}")))?;
    let password_changed = match (password, load_password(journal.db(), sealer).await?) {
        (Some(new), Some(old)) => new.expose() != old.expose(),
        (None, None) => false,
        _ => true,
    };
    let mut txn = journal.begin(actor).await?;
    settings_row::Entity::insert(settings_row::ActiveModel {
        id: Set(1),
        settings: Set(settings),
        bind_password: Set(password.map(|p| sealer.seal(PASSWORD_PURPOSE, p))),
        updated_at: Set(chrono::Utc::now().timestamp_millis()),
        updated_by: Set(actor.name.clone()),
    })
    .on_conflict(
        OnConflict::column(settings_row::Column::Id)
            .update_columns([
                settings_row::Column::Settings,
                settings_row::Column::BindPassword,
                settings_row::Column::UpdatedAt,
                settings_row::Column::UpdatedBy,
            ])
            .to_owned(),
    )
    .exec_without_returning(txn.txn())
    .await?;
    // The password appears only as whether it changed: the audit log is readable by admins.
    let audited = |raw: &RawLdapConfig, password: &str| {
        let mut value = serde_json::to_value(raw).unwrap_or_default();
        value["bind_password"] = password.into();
        AuditEntry::json(&value)
    };
    txn.audit(AuditEntry {
        action: "ldap.settings",
        entity_kind: EntityKind::Setting,
        entity_id: None,
        before: audited(&before.settings, "(not shown)"),
        after: audited(
            raw,
            match (password_changed, password.is_some()) {
                (false, _) => "(unchanged)",
                (true, true) => "(changed)",
                (true, false) => "(the configuration file's)",
            },
        ),
    });
    txn.commit(|_| ()).await?;
    Ok(())
}

async fn load_password(
    db: &DatabaseConnection,
    sealer: &Sealer,
) -> Result<Option<Secret>, LdapError> {
    Ok(settings_row::Entity::find_by_id(1)
        .one(db)
        .await?
        .and_then(|row| row.bind_password)
        .and_then(|column| open_password(sealer, &column)))
}

fn open_password(sealer: &Sealer, column: &str) -> Option<Secret> {
    let opened = sealer.open(PASSWORD_PURPOSE, column);
    if matches!(opened, Unsealed::Unreadable) {
        tracing::warn!(
            "the stored LDAP bind password was sealed under another token key; enter it again in the LDAP settings"
        );
    }
    opened.secret()
}

/// Seals a password stored in clear by a version before sealing.
pub async fn seal_stored_password(
    db: &DatabaseConnection,
    sealer: &Sealer,
) -> Result<(), LdapError> {
    let Some(row) = settings_row::Entity::find_by_id(1).one(db).await? else {
        return Ok(());
    };
    let Some(Unsealed::Legacy(password)) = row
        .bind_password
        .as_deref()
        .map(|column| sealer.open(PASSWORD_PURPOSE, column))
    else {
        return Ok(());
    };
    let mut sealed: settings_row::ActiveModel = row.into();
    sealed.bind_password = Set(Some(sealer.seal(PASSWORD_PURPOSE, &password)));
    settings_row::Entity::update(sealed).exec(db).await?;
    tracing::info!("the stored LDAP bind password is sealed now");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw() -> RawLdapConfig {
        toml::from_str(
            r#"
url = "ldap://127.0.0.1:389"
bind_dn = "cn=sync,dc=example,dc=com"
bind_password = "file secret"
departments = { base_dn = "ou=Org,dc=example,dc=com", filter = "(objectClass=organizationalUnit)" }
staff = { base_dn = "ou=Org,dc=example,dc=com", filter = "(objectClass=inetOrgPerson)" }
"#,
        )
        .expect("raw settings")
    }

    #[test]
    fn fields_are_checked_one_by_one() {
        let file = LdapConfig::parse(raw(), None).expect("file settings");
        let field_of = |edit: &dyn Fn(&mut RawLdapConfig)| {
            let mut r = raw();
            r.bind_password = None;
            edit(&mut r);
            match candidate(r, None, Some(&file)) {
                Err(LdapError::Invalid { field, .. }) => field,
                other => panic!("expected an invalid field, got {other:?}"),
            }
        };
        assert_eq!(field_of(&|r| r.url = "http://x".into()), "url");
        assert_eq!(field_of(&|r| r.url = "ldap://".into()), "url");
        assert_eq!(field_of(&|r| r.bind_dn = " ".into()), "bind_dn");
        assert_eq!(
            field_of(&|r| r.staff.filter = "(objectClass=x".into()),
            "staff.filter"
        );
        assert_eq!(
            field_of(&|r| r.departments.base_dn = "Org".into()),
            "departments.base_dn"
        );
        assert_eq!(
            field_of(&|r| r.sync_interval_secs = 5),
            "sync_interval_secs"
        );
        assert_eq!(field_of(&|r| r.page_size = 0), "page_size");
        assert_eq!(
            field_of(&|r| r.bind_password_file = Some("/etc/passwd".into())),
            "bind_password_file"
        );
        let mut r = raw();
        r.bind_password = None;
        let kept = candidate(r, None, Some(&file)).expect("valid");
        assert_eq!(kept.bind_password.expose(), "file secret");
        // Without a file, the first settings must bring their password.
        let mut r = raw();
        r.bind_password = None;
        assert!(matches!(
            candidate(r, None, None),
            Err(LdapError::Invalid { field, .. }) if field == "bind_password"
        ));
        let unconfigured = view(None, None);
        assert_eq!(unconfigured.source, "none");
        assert_eq!(unconfigured.settings, RawLdapConfig::blank());
        assert!(matches!(
            candidate(RawLdapConfig::blank(), Some(Secret::new("pw")), None),
            Err(LdapError::Invalid { field, .. }) if field == "url"
        ));
    }

    #[test]
    fn the_password_is_kept_dropped_or_replaced() {
        let stored = Stored {
            raw: raw(),
            password: Some(Secret::new("stored-pw-91")),
            updated_at: 0,
            updated_by: "it".into(),
        };
        let after = |entered| {
            password_after(entered, Some(&stored))
                .expect("ok")
                .map(|s| s.expose().to_owned())
        };
        assert_eq!(after(None).as_deref(), Some("stored-pw-91"));
        assert_eq!(after(Some("")), None);
        assert_eq!(after(Some("new")).as_deref(), Some("new"));
        let view = view(
            Some(&stored),
            Some(&LdapConfig::parse(raw(), None).expect("ok")),
        );
        let json = serde_json::to_string(&view).expect("json");
        assert!(
            !json.contains("file secret") && !json.contains("stored-pw-91"),
            "{json}"
        );
        assert!(json.contains("\"bind_password_stored\":true"));
    }
}
