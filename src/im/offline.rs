//! Messages for people with no session online, as the dispatcher decides them after each
//! commit: one rule, heard by the `message.offline` webhook and by offline push alike.

use uuid::Uuid;

use super::model::{ConversationId, ConversationKind, Mentions, MessageKind, Seq};
use crate::directory::StaffId;

/// A committed message, for members who had no session online when it was delivered.
#[derive(Debug, Clone)]
pub struct OfflineMessage {
    pub conversation: ConversationId,
    pub conversation_kind: ConversationKind,
    pub seq: Seq,
    pub msg_id: Uuid,
    pub sender: Option<StaffId>,
    pub kind: MessageKind,
    /// The text of a text message, else `[kind]`; at most 100 characters.
    pub preview: String,
    pub mentions: Mentions,
    /// Milliseconds since the Unix epoch.
    pub ts: i64,
    /// The members who were offline (never the sender).
    pub to: Vec<StaffId>,
}

/// Hears offline messages (see [`crate::im::Im::on_offline_message`]).
pub trait OfflineListener: Send + Sync {
    /// Called by the dispatcher for every committed message: it must only queue, never wait,
    /// or every conversation's delivery waits with it.
    fn offline(&self, message: OfflineMessage);
}
