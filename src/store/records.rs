//! What the journal records and answers: versions, entity kinds, sources and actors, audit
//! entries as written and as read back, and the audit log's filters.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// A point in the global, commit-ordered history of the directory and its rules.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Default,
)]
#[serde(transparent)]
pub struct Version(pub i64);

impl std::fmt::Display for Version {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// What kind of entity a change or an audit entry is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntityKind {
    Department,
    Staff,
    Account,
    Role,
    Rule,
    Assignment,
    FieldDefinition,
    LdapRun,
    /// A settings record of a module (mail, messaging): no id of its own.
    Setting,
    /// A mail of the outbox (a test mail, a retry).
    Mail,
    ApiKey,
    Webhook,
    /// A group or department conversation (dissolved, new owner, an announcement sent to it).
    Conversation,
    /// An app of the messaging server API (it sends cards).
    App,
}

impl EntityKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Department => "department",
            Self::Staff => "staff",
            Self::Account => "account",
            Self::Role => "role",
            Self::Rule => "rule",
            Self::Assignment => "assignment",
            Self::FieldDefinition => "field_definition",
            Self::LdapRun => "ldap_run",
            Self::Setting => "setting",
            Self::Mail => "mail",
            Self::ApiKey => "api_key",
            Self::Webhook => "webhook",
            Self::Conversation => "conversation",
            Self::App => "app",
        }
    }

    pub const ALL: [EntityKind; 14] = [
        Self::Department,
        Self::Staff,
        Self::Account,
        Self::Role,
        Self::Rule,
        Self::Assignment,
        Self::FieldDefinition,
        Self::LdapRun,
        Self::Setting,
        Self::Mail,
        Self::ApiKey,
        Self::Webhook,
        Self::Conversation,
        Self::App,
    ];

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == text)
    }
}

/// Whether a changed entity now exists (upsert) or is gone (remove).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeOp {
    Upsert,
    Remove,
}

/// Where a write came from, as the audit log records it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    Portal,
    Api,
    Ldap,
    Demo,
    System,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Portal => "portal",
            Self::Api => "api",
            Self::Ldap => "ldap",
            Self::Demo => "demo",
            Self::System => "system",
        }
    }

    pub const ALL: [Source; 5] = [
        Self::Portal,
        Self::Api,
        Self::Ldap,
        Self::Demo,
        Self::System,
    ];

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == text)
    }
}

/// Who performs a write, and from where.
#[derive(Debug, Clone)]
pub struct Actor {
    pub name: String,
    pub source: Source,
    pub remote_addr: Option<String>,
}

impl Actor {
    pub fn new(name: impl Into<String>, source: Source) -> Self {
        Self {
            name: name.into(),
            source,
            remote_addr: None,
        }
    }
    pub fn system() -> Self {
        Self::new("system", Source::System)
    }
}

/// One audit line: what happened to which entity, with its state before and after as JSON
/// text (serialised once, straight from the entity: bulk imports write one line per record).
#[derive(Debug, Clone)]
pub struct AuditEntry {
    pub action: &'static str,
    pub entity_kind: EntityKind,
    pub entity_id: Option<Uuid>,
    pub before: Option<String>,
    pub after: Option<String>,
}

impl AuditEntry {
    /// Serialises an entity state for `before` / `after`.
    pub fn json<T: Serialize>(value: &T) -> Option<String> {
        serde_json::to_string(value).ok()
    }
}

/// An audit line as stored, for the admin API.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct AuditRecord {
    pub id: i64,
    /// Milliseconds since the Unix epoch.
    pub at: i64,
    pub version: i64,
    pub actor: String,
    pub source: String,
    pub action: String,
    pub entity_kind: String,
    pub entity_id: Option<Uuid>,
    pub before: Option<serde_json::Value>,
    pub after: Option<serde_json::Value>,
    pub remote_addr: Option<String>,
}

/// Filters for reading the audit log, newest first.
#[derive(Debug, Clone, Default)]
pub struct AuditQuery {
    pub entity_id: Option<Uuid>,
    /// Only entries by this actor (their login, `admin`, `ldap`, `system`, …).
    pub actor: Option<String>,
    /// Only entries about this kind of entity (`department`, `staff`, …).
    pub entity_kind: Option<EntityKind>,
    pub source: Option<Source>,
    /// Only entries at or after this time (Unix milliseconds).
    pub since: Option<i64>,
    /// Only entries before this time (Unix milliseconds).
    pub until: Option<i64>,
    /// Only entries with an id below this one (for paging backwards).
    pub before_id: Option<i64>,
    pub limit: u64,
}
