//! Messaging domain types: ids, conversation kinds, member roles and message bodies. Values
//! from clients become these types at the edge (`MessageBody::parse`) and are valid by
//! construction; nothing here knows SQL or WebSocket.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use uuid::Uuid;

use super::ImError;
use crate::directory::StaffId;

/// Identifies a conversation for its whole life.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, ToSchema,
)]
#[serde(transparent)]
#[schema(value_type = String, format = Uuid)]
pub struct ConversationId(pub Uuid);

impl ConversationId {
    pub fn generate() -> Self {
        Self(Uuid::now_v7())
    }
}

impl std::fmt::Display for ConversationId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// A message's position in its conversation: 1, 2, 3… without gaps.
pub type Seq = i64;

/// What a conversation is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ConversationKind {
    /// Two staff.
    Direct,
    /// Created by someone, with an owner, admins and members.
    Group,
    /// One per department; its members are the department's members.
    Department,
    /// Notices from back-end systems to one person (server API); read-only for the person.
    System,
}

impl ConversationKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Direct => "direct",
            Self::Group => "group",
            Self::Department => "department",
            Self::System => "system",
        }
    }
    pub fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "direct" => Self::Direct,
            "group" => Self::Group,
            "department" => Self::Department,
            "system" => Self::System,
            _ => return None,
        })
    }
}

/// A member's role in a group (department and direct members are plain members).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, ToSchema,
)]
#[serde(rename_all = "snake_case")]
#[schema(as = MemberRole)]
pub enum Role {
    Member,
    Admin,
    Owner,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Member => "member",
            Self::Admin => "admin",
            Self::Owner => "owner",
        }
    }
    pub fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "member" => Self::Member,
            "admin" => Self::Admin,
            "owner" => Self::Owner,
            _ => return None,
        })
    }
    /// Owners and admins manage a group.
    pub fn manages(self) -> bool {
        self >= Self::Admin
    }
}

/// Who sent a message: a person, or the system (server API, membership notices).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Sender {
    Staff(StaffId),
    System,
}

impl Sender {
    pub fn staff(self) -> Option<StaffId> {
        match self {
            Self::Staff(id) => Some(id),
            Self::System => None,
        }
    }
    /// The namespace of this sender's `client_msg_id`s.
    pub fn dedup_key(self, client_msg_id: &str) -> String {
        match self {
            Self::Staff(id) => format!("{}/{client_msg_id}", id.0.simple()),
            Self::System => format!("system/{client_msg_id}"),
        }
    }
}

/// What a message is. `system`, `recall` and `edit` are written by the server only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum MessageKind {
    Text,
    Image,
    File,
    Voice,
    Location,
    Custom,
    System,
    Recall,
    Edit,
    /// An app's card (`im::apps`): written by the server for an app.
    Card,
    /// A card's new state (`ref_seq` names the card).
    CardUpdate,
}

impl MessageKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Text => "text",
            Self::Image => "image",
            Self::File => "file",
            Self::Voice => "voice",
            Self::Location => "location",
            Self::Custom => "custom",
            Self::System => "system",
            Self::Recall => "recall",
            Self::Edit => "edit",
            Self::Card => "card",
            Self::CardUpdate => "card_update",
        }
    }
    pub fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "text" => Self::Text,
            "image" => Self::Image,
            "file" => Self::File,
            "voice" => Self::Voice,
            "location" => Self::Location,
            "custom" => Self::Custom,
            "system" => Self::System,
            "recall" => Self::Recall,
            "edit" => Self::Edit,
            "card" => Self::Card,
            "card_update" => Self::CardUpdate,
            _ => return None,
        })
    }
    /// Kinds a client may send.
    pub fn client_sendable(self) -> bool {
        !matches!(
            self,
            Self::System | Self::Recall | Self::Edit | Self::Card | Self::CardUpdate
        )
    }
    /// Kinds that refer to an uploaded file by `file_id`.
    pub fn carries_file(self) -> bool {
        matches!(self, Self::Image | Self::File | Self::Voice)
    }
}

/// The longest text a message may carry, in characters.
pub const MAX_TEXT_CHARS: usize = 10_000;
/// The largest serialised body, in bytes (custom JSON included).
pub const MAX_BODY_BYTES: usize = 32 * 1024;
/// The longest `client_msg_id`.
pub const MAX_CLIENT_MSG_ID: usize = 64;

/// A validated message body, kept as its JSON text (stored and sent as is).
#[derive(Debug, Clone, PartialEq)]
pub struct MessageBody {
    pub kind: MessageKind,
    pub json: String,
    /// The words search indexes (text, file or place names).
    pub searchable: Option<String>,
    /// The uploaded file it refers to, for image / file / voice.
    pub file_id: Option<Uuid>,
}

fn invalid(field: &str, reason: impl Into<String>) -> ImError {
    ImError::Invalid {
        field: field.to_owned(),
        reason: reason.into(),
    }
}

fn text_field<'a>(body: &'a Value, key: &str, required: bool) -> Result<Option<&'a str>, ImError> {
    match body.get(key) {
        None | Some(Value::Null) if !required => Ok(None),
        None | Some(Value::Null) => Err(invalid(&format!("body.{key}"), "is required")),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(invalid(&format!("body.{key}"), "must be a string")),
    }
}

impl MessageBody {
    /// Checks a client-sent body against its kind.
    pub fn parse(kind: MessageKind, body: &Value) -> Result<Self, ImError> {
        if !kind.client_sendable() {
            return Err(invalid(
                "kind",
                format!("'{}' is written by the server only", kind.as_str()),
            ));
        }
        if !body.is_object() {
            return Err(invalid("body", "must be a JSON object"));
        }
        let mut searchable = None;
        let mut file_id = None;
        match kind {
            MessageKind::Text => {
                let text = text_field(body, "text", true)?.unwrap_or_default();
                check_text(text)?;
                searchable = Some(text.to_owned());
            }
            MessageKind::Image | MessageKind::File | MessageKind::Voice => {
                let raw = text_field(body, "file_id", true)?.unwrap_or_default();
                let id = Uuid::parse_str(raw)
                    .map_err(|_| invalid("body.file_id", "is not a file id"))?;
                file_id = Some(id);
                searchable = text_field(body, "name", false)?.map(str::to_owned);
                if kind == MessageKind::Voice {
                    match body.get("duration_ms") {
                        Some(Value::Number(n)) if n.as_u64().is_some() => {}
                        _ => return Err(invalid("body.duration_ms", "must be a whole number")),
                    }
                }
            }
            MessageKind::Location => {
                let lat = body.get("lat").and_then(Value::as_f64);
                let lng = body.get("lng").and_then(Value::as_f64);
                match (lat, lng) {
                    (Some(lat), Some(lng))
                        if (-90.0..=90.0).contains(&lat) && (-180.0..=180.0).contains(&lng) => {}
                    _ => {
                        return Err(invalid(
                            "body",
                            "a location needs lat (-90..90) and lng (-180..180)",
                        ));
                    }
                }
                searchable = text_field(body, "name", false)?.map(str::to_owned);
            }
            MessageKind::Custom => {}
            MessageKind::System
            | MessageKind::Recall
            | MessageKind::Edit
            | MessageKind::Card
            | MessageKind::CardUpdate => {}
        }
        let json = serde_json::to_string(body).map_err(|e| invalid("body", e.to_string()))?;
        if json.len() > MAX_BODY_BYTES {
            return Err(invalid(
                "body",
                format!("is larger than {MAX_BODY_BYTES} bytes"),
            ));
        }
        Ok(Self {
            kind,
            json,
            searchable,
            file_id,
        })
    }

    /// A body the server writes (system notices, recall and edit events).
    pub fn server(kind: MessageKind, body: &Value) -> Self {
        Self {
            kind,
            json: body.to_string(),
            searchable: None,
            file_id: None,
        }
    }
}

/// Checks an edited or sent text.
pub fn check_text(text: &str) -> Result<(), ImError> {
    if text.trim().is_empty() {
        return Err(invalid("body.text", "must not be empty"));
    }
    if text.chars().count() > MAX_TEXT_CHARS {
        return Err(invalid(
            "body.text",
            format!("is longer than {MAX_TEXT_CHARS} characters"),
        ));
    }
    Ok(())
}

/// Checks a client's idempotency key.
pub fn check_client_msg_id(id: &str) -> Result<(), ImError> {
    if id.is_empty() || id.len() > MAX_CLIENT_MSG_ID {
        return Err(invalid(
            "client_msg_id",
            format!("must be 1 to {MAX_CLIENT_MSG_ID} bytes"),
        ));
    }
    if id.chars().any(char::is_control) {
        return Err(invalid(
            "client_msg_id",
            "must not contain control characters",
        ));
    }
    Ok(())
}

/// Who a message mentions.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Mentions {
    pub staff: Vec<StaffId>,
    pub all: bool,
}

impl Mentions {
    pub fn is_empty(&self) -> bool {
        self.staff.is_empty() && !self.all
    }
    /// As stored: `"all"`, a JSON array of ids, or nothing.
    pub fn to_column(&self) -> Option<String> {
        if self.all {
            Some("\"all\"".into())
        } else if self.staff.is_empty() {
            None
        } else {
            serde_json::to_string(&self.staff).ok()
        }
    }
    pub fn from_column(text: Option<&str>) -> Self {
        match text {
            Some("\"all\"") => Self {
                staff: Vec::new(),
                all: true,
            },
            Some(text) => Self {
                staff: serde_json::from_str(text).unwrap_or_default(),
                all: false,
            },
            None => Self::default(),
        }
    }
    /// As sent to clients: `"all"`, an array, or absent.
    pub fn to_json(&self) -> Option<Value> {
        if self.all {
            Some(Value::String("all".into()))
        } else if self.staff.is_empty() {
            None
        } else {
            serde_json::to_value(&self.staff).ok()
        }
    }
}

/// Milliseconds since the Unix epoch.
pub fn now_millis() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn bodies_are_checked_against_their_kind() {
        assert!(MessageBody::parse(MessageKind::Text, &json!({"text": "你好"})).is_ok());
        assert!(MessageBody::parse(MessageKind::Text, &json!({"text": "  "})).is_err());
        assert!(MessageBody::parse(MessageKind::Text, &json!({"txt": "x"})).is_err());
        assert!(MessageBody::parse(MessageKind::Text, &json!("x")).is_err());
        assert!(
            MessageBody::parse(MessageKind::Location, &json!({"lat": 31.2, "lng": 121.5})).is_ok()
        );
        assert!(MessageBody::parse(MessageKind::Location, &json!({"lat": 91, "lng": 0})).is_err());
        assert!(MessageBody::parse(MessageKind::File, &json!({"file_id": "nope"})).is_err());
        assert!(MessageBody::parse(MessageKind::Recall, &json!({})).is_err());
        let custom = MessageBody::parse(MessageKind::Custom, &json!({"card": {"a": 1}})).unwrap();
        assert_eq!(custom.json, r#"{"card":{"a":1}}"#);
    }

    #[test]
    fn mentions_round_trip_through_their_column() {
        let all = Mentions {
            staff: vec![],
            all: true,
        };
        assert_eq!(Mentions::from_column(all.to_column().as_deref()), all);
        let some = Mentions {
            staff: vec![StaffId(Uuid::now_v7())],
            all: false,
        };
        assert_eq!(Mentions::from_column(some.to_column().as_deref()), some);
        assert_eq!(Mentions::default().to_column(), None);
    }
}
