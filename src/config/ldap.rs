//! LDAP settings: the `[ldap]` table of the configuration file, validated at start-up. The
//! connector (`crate::ldap`) reads them; nothing here talks to a server.
//! Names follow Keycloak's and Mattermost's where they exist.

use std::{collections::BTreeMap, time::Duration};

use serde::{Deserialize, Serialize};

use super::{ConfigError, Secret};

/// How Switchboard treats the fields LDAP owns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// LDAP is the source: LDAP-owned fields are read-only in Switchboard.
    ReadOnly,
    /// Edits of LDAP-owned fields are written to LDAP first, then stored.
    Writable,
    /// Imported by a sync on demand, then edited locally; no scheduled syncs.
    Unsynced,
}

/// Search scope.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SearchScope {
    One,
    Sub,
}

/// Where and what to search for one kind of entry.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SearchSpec {
    pub base_dn: String,
    pub filter: String,
    #[serde(default = "sub")]
    pub scope: SearchScope,
}

fn sub() -> SearchScope {
    SearchScope::Sub
}

/// How a person's departments are found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DepartmentFrom {
    /// The department OU the person's entry sits under.
    Dn,
    /// The values of `department_attribute`, matched against department names or OU names.
    Attribute,
    /// Both: the OU above the entry, plus every department the attribute names.
    Both,
}

/// Attribute names for departments.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DepartmentAttributes {
    /// The display name; the RDN value when absent on an entry.
    #[serde(default = "description")]
    pub name: String,
    #[serde(default = "business_category")]
    pub dept_type: String,
    #[serde(default = "team")]
    pub default_type: String,
}

fn description() -> String {
    "description".into()
}
fn business_category() -> String {
    "businessCategory".into()
}
fn team() -> String {
    "team".into()
}

/// Attribute names for people.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StaffAttributes {
    /// `uid` (OpenLDAP), `sAMAccountName` (AD).
    #[serde(default = "uid")]
    pub login: String,
    /// `displayName`; `cn` is used when absent.
    #[serde(default = "display_name")]
    pub display_name: String,
    #[serde(default = "title")]
    pub title: String,
    #[serde(default = "mail")]
    pub emails: Vec<String>,
    #[serde(default = "phones")]
    pub phones: Vec<String>,
    #[serde(default = "employee_type")]
    pub staff_type: String,
    #[serde(default = "employee")]
    pub default_staff_type: String,
    /// For `department_from = attribute|both`.
    #[serde(default = "department_number")]
    pub department: String,
    /// Custom field key → attribute.
    #[serde(default)]
    pub custom: BTreeMap<String, String>,
}

fn uid() -> String {
    "uid".into()
}
fn display_name() -> String {
    "displayName".into()
}
fn title() -> String {
    "title".into()
}
fn mail() -> Vec<String> {
    vec!["mail".into()]
}
fn phones() -> Vec<String> {
    vec!["telephoneNumber".into(), "mobile".into()]
}
fn employee_type() -> String {
    "employeeType".into()
}
fn employee() -> String {
    "employee".into()
}
fn department_number() -> String {
    "departmentNumber".into()
}

/// The `[ldap]` table as written.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RawLdapConfig {
    pub url: String,
    #[serde(default)]
    pub start_tls: bool,
    pub ca_file: Option<String>,
    #[serde(default = "ten")]
    pub connect_timeout_secs: u64,
    #[serde(default = "thirty")]
    pub operation_timeout_secs: u64,
    pub bind_dn: String,
    /// Prefer `bind_password_file` or `SWITCHBOARD_LDAP_BIND_PASSWORD`. Never written out: not
    /// in answers, audit lines or the stored settings' JSON (the password has its own column).
    /// In `PUT /api/v1/admin/ldap/settings`: absent keeps the password in force, `""` goes back
    /// to the file's or environment's, anything else replaces it.
    #[serde(skip_serializing)]
    #[schema(write_only)]
    pub bind_password: Option<String>,
    /// Configuration file only (refused in stored settings).
    #[serde(skip_serializing)]
    #[schema(ignore)]
    pub bind_password_file: Option<String>,
    #[serde(default = "read_only")]
    pub mode: Mode,
    #[serde(default = "fifteen_minutes")]
    pub sync_interval_secs: u64,
    /// A sync that would disable more than this share of LDAP people waits for approval.
    #[serde(default = "twenty")]
    pub deletion_threshold_percent: u32,
    #[serde(default = "five_hundred")]
    pub page_size: u32,
    /// `entryUUID` (OpenLDAP, 389-DS) or `objectGUID` (AD; binary, read as its
    /// little-endian GUID string).
    #[serde(default = "entry_uuid")]
    pub stable_id: String,
    /// What incremental runs compare against their high-water mark: `modifyTimestamp`
    /// (portable, one-second resolution), `entryCSN` (OpenLDAP, microseconds) or `uSNChanged`
    /// (Active Directory, per domain controller).
    #[serde(default = "modify_timestamp")]
    pub change_attribute: String,
    /// Incremental runs use RFC 4533 content sync (refreshOnly with a stored cookie) for
    /// people when the server offers it and `stable_id` is `entryUUID`: the server then says
    /// who changed and who was deleted, so no run lists everyone. Off: always compare
    /// `change_attribute` and list every id for deletions.
    #[serde(default = "yes")]
    pub content_sync: bool,
    pub departments: SearchSpec,
    #[serde(default = "department_attributes")]
    pub department_attributes: DepartmentAttributes,
    pub staff: SearchSpec,
    #[serde(default = "staff_attributes")]
    pub staff_attributes: StaffAttributes,
    #[serde(default = "dn_position")]
    pub department_from: DepartmentFrom,
    pub groups: Option<SearchSpec>,
    #[serde(default = "member")]
    pub group_member_attribute: String,
    /// Group DN → role name: the sync gives the role to the group.
    #[serde(default)]
    pub group_roles: BTreeMap<String, String>,
}

fn ten() -> u64 {
    10
}
fn thirty() -> u64 {
    30
}
fn read_only() -> Mode {
    Mode::ReadOnly
}
fn fifteen_minutes() -> u64 {
    900
}
fn twenty() -> u32 {
    20
}
fn yes() -> bool {
    true
}
fn five_hundred() -> u32 {
    500
}
fn entry_uuid() -> String {
    "entryUUID".into()
}
fn modify_timestamp() -> String {
    "modifyTimestamp".into()
}
fn member() -> String {
    "member".into()
}
fn dn_position() -> DepartmentFrom {
    DepartmentFrom::Dn
}
fn department_attributes() -> DepartmentAttributes {
    DepartmentAttributes {
        name: description(),
        dept_type: business_category(),
        default_type: team(),
    }
}
fn staff_attributes() -> StaffAttributes {
    StaffAttributes {
        login: uid(),
        display_name: display_name(),
        title: title(),
        emails: mail(),
        phones: phones(),
        staff_type: employee_type(),
        default_staff_type: employee(),
        department: department_number(),
        custom: BTreeMap::new(),
    }
}

/// Scheduled runs closer together than this would overlap on a large directory.
pub const MIN_SYNC_INTERVAL_SECS: u64 = 30;

/// Validated LDAP settings.
#[derive(Debug, Clone)]
pub struct LdapConfig {
    pub url: String,
    pub start_tls: bool,
    pub ca_file: Option<std::path::PathBuf>,
    pub connect_timeout: Duration,
    pub operation_timeout: Duration,
    pub bind_dn: String,
    pub bind_password: Secret,
    pub mode: Mode,
    pub sync_interval: Duration,
    pub deletion_threshold_percent: u32,
    pub page_size: i32,
    pub stable_id: String,
    pub change_attribute: String,
    pub content_sync: bool,
    pub departments: SearchSpec,
    pub department_attributes: DepartmentAttributes,
    pub staff: SearchSpec,
    pub staff_attributes: StaffAttributes,
    pub department_from: DepartmentFrom,
    pub groups: Option<SearchSpec>,
    pub group_member_attribute: String,
    pub group_roles: BTreeMap<String, String>,
}

fn error(key: &str, reason: impl Into<String>) -> ConfigError {
    ConfigError {
        key: format!("ldap.{key}"),
        reason: reason.into(),
    }
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ReadOnly => "read_only",
            Self::Writable => "writable",
            Self::Unsynced => "unsynced",
        }
    }
}

impl RawLdapConfig {
    /// The form IT starts from when nothing is configured yet: every default of the table,
    /// with the usual OpenLDAP object classes and the server and bases left to fill in.
    pub fn blank() -> Self {
        let search = |filter: &str| SearchSpec {
            base_dn: String::new(),
            filter: filter.to_owned(),
            scope: sub(),
        };
        Self {
            url: String::new(),
            start_tls: false,
            ca_file: None,
            connect_timeout_secs: ten(),
            operation_timeout_secs: thirty(),
            bind_dn: String::new(),
            bind_password: None,
            bind_password_file: None,
            mode: read_only(),
            sync_interval_secs: fifteen_minutes(),
            deletion_threshold_percent: twenty(),
            page_size: five_hundred(),
            stable_id: entry_uuid(),
            change_attribute: modify_timestamp(),
            content_sync: yes(),
            departments: search("(objectClass=organizationalUnit)"),
            department_attributes: department_attributes(),
            staff: search("(objectClass=inetOrgPerson)"),
            staff_attributes: staff_attributes(),
            department_from: dn_position(),
            groups: None,
            group_member_attribute: member(),
            group_roles: BTreeMap::new(),
        }
    }
}

impl LdapConfig {
    /// The settings as a table to edit (the portal's form starts from the file's values); the
    /// bind password is not part of it.
    pub fn to_raw(&self) -> RawLdapConfig {
        RawLdapConfig {
            url: self.url.clone(),
            start_tls: self.start_tls,
            ca_file: self.ca_file.as_ref().map(|p| p.display().to_string()),
            connect_timeout_secs: self.connect_timeout.as_secs(),
            operation_timeout_secs: self.operation_timeout.as_secs(),
            bind_dn: self.bind_dn.clone(),
            bind_password: None,
            bind_password_file: None,
            mode: self.mode,
            sync_interval_secs: self.sync_interval.as_secs(),
            deletion_threshold_percent: self.deletion_threshold_percent,
            page_size: self.page_size.max(0) as u32,
            stable_id: self.stable_id.clone(),
            change_attribute: self.change_attribute.clone(),
            content_sync: self.content_sync,
            departments: self.departments.clone(),
            department_attributes: self.department_attributes.clone(),
            staff: self.staff.clone(),
            staff_attributes: self.staff_attributes.clone(),
            department_from: self.department_from,
            groups: self.groups.clone(),
            group_member_attribute: self.group_member_attribute.clone(),
            group_roles: self.group_roles.clone(),
        }
    }

    /// A digest of every setting that decides which entries a run reads and what it makes of
    /// them (server, searches, ids, change tracking, attribute mapping). Where an incremental
    /// run starts from is only valid for the settings it was reached with: after any of these
    /// change, the next run reads everything, or entries that did not change in LDAP would
    /// keep the old mapping (or stay outside a widened search) until some later full run.
    pub fn search_fingerprint(&self) -> String {
        use sha2::{Digest, Sha256};
        let settings = format!(
            "{:?}",
            (
                &self.url,
                &self.stable_id,
                &self.change_attribute,
                self.content_sync,
                &self.departments,
                &self.department_attributes,
                &self.staff,
                &self.staff_attributes,
                &self.department_from,
                &self.groups,
                &self.group_member_attribute,
            )
        );
        hex::encode(&Sha256::digest(settings.as_bytes())[..16])
    }

    /// Validates the table; `env_password` is `SWITCHBOARD_LDAP_BIND_PASSWORD`.
    pub fn parse(raw: RawLdapConfig, env_password: Option<String>) -> Result<Self, ConfigError> {
        let url = raw.url.trim().to_owned();
        if !(url.starts_with("ldap://") || url.starts_with("ldaps://")) {
            return Err(error("url", "must start with ldap:// or ldaps://"));
        }
        if raw.start_tls && url.starts_with("ldaps://") {
            return Err(error(
                "start_tls",
                "is for ldap:// URLs; ldaps:// is already TLS",
            ));
        }
        let bind_password = match (env_password, raw.bind_password, raw.bind_password_file) {
            (Some(p), _, _) | (None, Some(p), _) => Secret::new(p),
            (None, None, Some(path)) => Secret::new(
                std::fs::read_to_string(&path)
                    .map_err(|e| error("bind_password_file", format!("cannot read {path}: {e}")))?
                    .trim_end_matches(['\n', '\r'])
                    .to_owned(),
            ),
            (None, None, None) => {
                return Err(error(
                    "bind_password",
                    "set SWITCHBOARD_LDAP_BIND_PASSWORD or ldap.bind_password_file",
                ));
            }
        };
        if raw.bind_dn.trim().is_empty() {
            return Err(error("bind_dn", "must not be empty"));
        }
        if raw.deletion_threshold_percent > 100 {
            return Err(error("deletion_threshold_percent", "must be 0-100"));
        }
        if raw.sync_interval_secs < MIN_SYNC_INTERVAL_SECS {
            return Err(error(
                "sync_interval_secs",
                format!(
                    "must be at least {MIN_SYNC_INTERVAL_SECS} (got {}); use mode = \"unsynced\" for no scheduled runs",
                    raw.sync_interval_secs
                ),
            ));
        }
        for (key, secs) in [
            ("connect_timeout_secs", raw.connect_timeout_secs),
            ("operation_timeout_secs", raw.operation_timeout_secs),
        ] {
            if secs == 0 {
                return Err(error(key, "must be at least 1"));
            }
        }
        if !(1..=10_000).contains(&raw.page_size) {
            return Err(error("page_size", "must be 1-10000"));
        }
        for (key, spec) in [("departments", &raw.departments), ("staff", &raw.staff)] {
            if spec.base_dn.trim().is_empty() || !spec.filter.trim().starts_with('(') {
                return Err(error(key, "needs base_dn and a filter in parentheses"));
            }
        }
        let ca_file = raw.ca_file.map(std::path::PathBuf::from);
        if let Some(path) = &ca_file
            && !path.is_file()
        {
            return Err(error(
                "ca_file",
                format!("{} is not a readable file", path.display()),
            ));
        }
        Ok(Self {
            url,
            start_tls: raw.start_tls,
            ca_file,
            connect_timeout: Duration::from_secs(raw.connect_timeout_secs),
            operation_timeout: Duration::from_secs(raw.operation_timeout_secs),
            bind_dn: raw.bind_dn,
            bind_password,
            mode: raw.mode,
            sync_interval: Duration::from_secs(raw.sync_interval_secs),
            deletion_threshold_percent: raw.deletion_threshold_percent,
            page_size: raw.page_size as i32,
            stable_id: raw.stable_id,
            change_attribute: raw.change_attribute,
            content_sync: raw.content_sync,
            departments: raw.departments,
            department_attributes: raw.department_attributes,
            staff: raw.staff,
            staff_attributes: raw.staff_attributes,
            department_from: raw.department_from,
            groups: raw.groups,
            group_member_attribute: raw.group_member_attribute,
            group_roles: raw.group_roles,
        })
    }
}
