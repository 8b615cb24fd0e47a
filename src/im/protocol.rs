//! The WebSocket protocol, version 1: serde frame types only, shared by the server, the load
//! tool and the tests so they cannot drift apart. `docs/protocol.md` describes every frame.
//!
//! Every frame is one JSON text message with a `type`. A client frame may carry an `id`
//! (string or number); the server echoes it in the reply to that frame.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use serde_json::{Value, value::RawValue};
use utoipa::ToSchema;

use super::model::{ConversationId, ConversationKind, Role, Seq};
use crate::directory::{DepartmentId, StaffId};

/// The protocol version this server speaks.
pub const PROTOCOL_VERSION: u32 = 1;

/// WebSocket close codes the server uses (1000-1011 are RFC 6455's).
pub mod close {
    /// Normal closure (the client asked, or the server is done with the session).
    pub const NORMAL: u16 = 1000;
    /// The server is shutting down; reconnect later (to another node).
    pub const GOING_AWAY: u16 = 1001;
    /// A frame was larger than the advertised `max_frame_bytes`.
    pub const TOO_BIG: u16 = 1009;
    /// An unexpected server failure.
    pub const INTERNAL: u16 = 1011;
    /// Nothing received for `idle_secs` (send `ping` frames to stay connected).
    pub const IDLE: u16 = 4000;
    /// The token expired: log in again, then reconnect.
    pub const TOKEN_EXPIRED: u16 = 4001;
    /// No token, a bad token, a revoked token, or a disabled person.
    pub const UNAUTHORIZED: u16 = 4003;
    /// The same device connected again; this older session is replaced.
    pub const REPLACED: u16 = 4005;
    /// The client did not read fast enough; its outbound queue overflowed. Reconnect and sync.
    pub const TOO_SLOW: u16 = 4008;
    /// The client asked for a protocol version this server does not speak.
    pub const UNSUPPORTED_VERSION: u16 = 4010;
    /// The client kept sending over its rate limit.
    pub const RATE_LIMITED: u16 = 4029;
}

/// The request id a client may put on a frame, echoed in the reply.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ReqId {
    Num(u64),
    Str(String),
}

/// Every frame type a client may send.
pub const CLIENT_FRAME_TYPES: &[&str] = &[
    "ping",
    "sync",
    "send",
    "read",
    "recall",
    "edit",
    "typing",
    "presence",
    "conversations",
    "action",
];

/// A frame from the client.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientFrame {
    /// Heartbeat; answered by `pong`.
    Ping {
        #[serde(default)]
        id: Option<ReqId>,
    },
    /// "Here is the last seq I have of each conversation; send me what I am missing."
    Sync {
        #[serde(default)]
        id: Option<ReqId>,
        #[serde(default)]
        cursors: HashMap<ConversationId, Seq>,
        /// For conversations missing from `cursors`: how many recent messages to send (default 20).
        #[serde(default)]
        recent: Option<u32>,
    },
    Send(SendFrame),
    /// "I have read up to `seq`."
    Read {
        #[serde(default)]
        id: Option<ReqId>,
        conversation: ConversationId,
        seq: Seq,
    },
    Recall {
        #[serde(default)]
        id: Option<ReqId>,
        conversation: ConversationId,
        seq: Seq,
    },
    Edit {
        #[serde(default)]
        id: Option<ReqId>,
        conversation: ConversationId,
        seq: Seq,
        body: Value,
    },
    Typing {
        conversation: ConversationId,
    },
    Presence {
        #[serde(default)]
        id: Option<ReqId>,
        staff: Vec<StaffId>,
    },
    Conversations {
        #[serde(default)]
        id: Option<ReqId>,
    },
    /// "I press action `action` of the card at `seq`" (with a comment where the action offers
    /// one); answered by `ack` (the `card_update` event's position) or `error`.
    Action {
        #[serde(default)]
        id: Option<ReqId>,
        conversation: ConversationId,
        seq: Seq,
        action: String,
        #[serde(default)]
        comment: Option<String>,
    },
}

/// A message to store and deliver. Exactly one of `conversation` and `to` is set.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
pub struct SendFrame {
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub id: Option<ReqId>,
    /// The client's idempotency key: a resend with the same key returns the same ack.
    pub client_msg_id: String,
    #[serde(default)]
    pub conversation: Option<ConversationId>,
    /// A colleague: sends in the direct conversation with them (created on first use).
    #[serde(default)]
    pub to: Option<StaffId>,
    /// text, image, file, voice, location or custom.
    pub kind: String,
    #[schema(value_type = Object)]
    pub body: Value,
    #[serde(default)]
    pub mentions: Vec<StaffId>,
    /// @all (group owners and admins only).
    #[serde(default)]
    pub mention_all: bool,
}

/// Only the `type` and `id` of a frame that did not parse, to word the error.
#[derive(Debug, Deserialize)]
pub struct FrameHead {
    #[serde(rename = "type")]
    pub frame_type: Option<Value>,
    #[serde(default)]
    pub id: Option<ReqId>,
}

/// Server → client: the first frame of every session.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Welcome {
    #[serde(rename = "type")]
    pub frame_type: String,
    pub v: u32,
    pub session: String,
    pub staff: StaffId,
    pub server_time: i64,
    pub max_frame_bytes: usize,
    pub rate_per_sec: u32,
    pub idle_secs: u64,
    /// How long senders may recall and edit (the administrators' settings when the session
    /// began), so a client offers the actions only while they can succeed.
    pub recall_window_secs: u64,
    pub edit_window_secs: u64,
}

/// The answer to a stored message (also to a recall or edit: the event's position).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Ack {
    #[serde(rename = "type")]
    #[schema(value_type = String, example = "ack")]
    pub frame_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub id: Option<ReqId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_msg_id: Option<String>,
    pub msg_id: uuid::Uuid,
    pub conversation: ConversationId,
    pub seq: Seq,
    /// Milliseconds since the Unix epoch, as stored.
    pub ts: i64,
}

/// An error answer; the connection stays open.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ErrorFrame {
    #[serde(rename = "type")]
    pub frame_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<ReqId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_msg_id: Option<String>,
    pub code: String,
    pub message: String,
}

/// A stored message as clients see it (live push, sync, history, search).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct MessageView {
    pub conversation: ConversationId,
    pub seq: Seq,
    pub msg_id: uuid::Uuid,
    /// Absent for system messages.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sender: Option<StaffId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_msg_id: Option<String>,
    pub kind: String,
    /// The body as sent (null once recalled).
    #[schema(value_type = Option<Object>)]
    pub body: Box<RawValue>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Mentions>)]
    pub mentions: Option<Value>,
    pub ts: i64,
    /// For `recall` and `edit` events: the message they change.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ref_seq: Option<Seq>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub edited_at: Option<i64>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub recalled: bool,
}

/// Whom a message mentions: everyone (`"all"`), or these people. (The document's shape of
/// `MessageView.mentions`, which is kept as the JSON it was stored as.)
#[derive(Serialize, ToSchema)]
#[serde(untagged)]
#[allow(dead_code)]
pub enum Mentions {
    All(MentionAll),
    People(Vec<StaffId>),
}

/// The mention of everyone.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
#[allow(dead_code)]
pub enum MentionAll {
    All,
}

/// Several messages of one conversation, in order (sync answers).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MessagesFrame {
    #[serde(rename = "type")]
    pub frame_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<ReqId>,
    pub conversation: ConversationId,
    pub items: Vec<MessageView>,
    /// More were missed than one sync sends; page back with the history API.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub truncated: bool,
}

/// One conversation in a list, as its member sees it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ConversationSummary {
    pub id: ConversationId,
    pub kind: ConversationKind,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub department: Option<DepartmentId>,
    /// The other person, in a direct conversation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peer: Option<StaffId>,
    pub role: Role,
    pub members: usize,
    pub last_seq: Seq,
    pub read_seq: Seq,
    /// Messages after `read_seq` from others.
    pub unread: u64,
    /// Whether one of the unread messages mentions the member (or @all).
    pub mention: bool,
    pub muted: bool,
    pub mute_all: bool,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub announcement: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_message: Option<MessageView>,
}

/// The end of a sync: everything missed has been sent; here is the conversation list.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SyncDone {
    #[serde(rename = "type")]
    pub frame_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<ReqId>,
    pub conversations: Vec<ConversationSummary>,
}

/// The conversation list on request.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ConversationsFrame {
    #[serde(rename = "type")]
    pub frame_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<ReqId>,
    pub items: Vec<ConversationSummary>,
}

/// Someone read up to `seq` (pushed to their other devices, and to the peer in direct chats).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ReadFrame {
    #[serde(rename = "type")]
    pub frame_type: String,
    pub conversation: ConversationId,
    pub staff: StaffId,
    pub seq: Seq,
}

/// Someone is typing.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TypingFrame {
    #[serde(rename = "type")]
    pub frame_type: String,
    pub conversation: ConversationId,
    pub staff: StaffId,
}

/// Online state of people (answer to `presence`, and pushed on change to direct contacts).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PresenceFrame {
    #[serde(rename = "type")]
    pub frame_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<ReqId>,
    pub items: Vec<PresenceItem>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PresenceItem {
    pub staff: StaffId,
    pub online: bool,
}

/// A bare reply (`pong`, `ok`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Reply {
    #[serde(rename = "type")]
    pub frame_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<ReqId>,
}

/// Any server frame, for clients (the load tool and tests) that read them.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "type")]
pub enum ServerFrame {
    #[serde(rename = "welcome")]
    Welcome(Value),
    #[serde(rename = "pong")]
    Pong(Value),
    #[serde(rename = "ok")]
    Ok(Value),
    #[serde(rename = "ack")]
    Ack(Value),
    #[serde(rename = "error")]
    Error(Value),
    #[serde(rename = "message")]
    Message(Value),
    #[serde(rename = "messages")]
    Messages(Value),
    #[serde(rename = "sync.done")]
    SyncDone(Value),
    #[serde(rename = "conversations")]
    Conversations(Value),
    #[serde(rename = "read")]
    Read(Value),
    #[serde(rename = "typing")]
    Typing(Value),
    #[serde(rename = "presence")]
    Presence(Value),
    #[serde(rename = "contacts.changed")]
    ContactsChanged(Value),
    #[serde(rename = "shutdown")]
    Shutdown(Value),
}

/// Serialises a server frame (these types cannot fail to serialise).
pub fn to_text<T: Serialize>(frame: &T) -> String {
    serde_json::to_string(frame).unwrap_or_else(|_| "{}".into())
}

/// An `error` frame.
pub fn error_frame(
    id: Option<ReqId>,
    client_msg_id: Option<String>,
    code: &str,
    message: String,
) -> String {
    to_text(&ErrorFrame {
        frame_type: "error".into(),
        id,
        client_msg_id,
        code: code.into(),
        message,
    })
}

/// A bare `pong` / `ok`.
pub fn reply(frame_type: &str, id: Option<ReqId>) -> String {
    to_text(&Reply {
        frame_type: frame_type.into(),
        id,
    })
}

/// A `message` frame: the view with `"type":"message"` in front (spliced, as `flatten`
/// cannot carry the raw body).
pub fn message_frame(message: &MessageView) -> String {
    let view = to_text(message);
    let mut out = String::with_capacity(view.len() + 18);
    out.push_str("{\"type\":\"message\",");
    out.push_str(view.get(1..).unwrap_or("}"));
    out
}
