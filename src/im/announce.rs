//! Announcements from IT: a text sent as the system (a message without `sender`, as the server
//! API sends) either into department chats — one department's, or its whole subtree's, since a
//! department chat holds only the department's direct members — or, for everyone, into each
//! active person's `system` conversation ("System notices"). Department chats of top-level
//! departments would not reach everyone (their members are only the people placed directly in
//! them), and one chat per person reaches each person exactly once. The web client shows both
//! as ordinary messages that count as unread.
//!
//! Every message's `client_msg_id` is derived from the announcement's key, so sending the same
//! confirmed announcement twice (a double click, a retry) stores nothing new.

use std::collections::HashSet;

use futures_util::{StreamExt, stream};
use serde_json::json;

use super::{
    Im, ImError,
    model::{ConversationId, MAX_TEXT_CHARS, Sender},
    protocol::SendFrame,
};
use crate::{
    directory::{DepartmentId, StaffId},
    store::Actor,
};

/// Sends in flight at once (the writer commits them in groups).
const IN_FLIGHT: usize = 32;

/// Who an announcement goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Audience {
    /// The department's chat, and with `subtree` the chats of every department below it.
    Department { id: DepartmentId, subtree: bool },
    /// Every active person, in their own notice conversation.
    Everyone,
}

/// How far an announcement goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Reach {
    /// Distinct people who will read it (or did).
    pub people: usize,
    /// Conversations it is posted into.
    pub conversations: usize,
}

/// Where the messages go: department chats, or people's notice conversations.
enum Targets {
    Chats(Vec<ConversationId>),
    People(Vec<StaffId>),
}

/// Checks an announcement's text as a `text` message would be checked.
pub fn check_text(text: &str) -> Result<String, ImError> {
    let text = text.trim();
    if text.is_empty() {
        return Err(ImError::invalid("text", "required"));
    }
    if text.chars().count() > MAX_TEXT_CHARS {
        return Err(ImError::invalid(
            "text",
            format!("at most {MAX_TEXT_CHARS} characters"),
        ));
    }
    Ok(text.to_owned())
}

/// An announcement key: 8 to 16 letters and digits (the portal makes one per confirmation; the
/// `client_msg_id`s made from it stay within their 64 bytes).
fn check_key(key: &str) -> Result<&str, ImError> {
    if (8..=16).contains(&key.len()) && key.bytes().all(|b| b.is_ascii_alphanumeric()) {
        Ok(key)
    } else {
        Err(ImError::invalid("key", "8 to 16 letters and digits"))
    }
}

impl Im {
    fn targets(&self, audience: Audience) -> Result<(Targets, Reach), ImError> {
        match audience {
            Audience::Department { id, subtree } => {
                let departments = {
                    let replica = self.directory.read();
                    if replica.department(id).is_none() {
                        return Err(ImError::NotFound("department".into()));
                    }
                    if subtree {
                        replica.subtree(id)
                    } else {
                        vec![id]
                    }
                };
                let state = self.state();
                let mut chats = Vec::new();
                let mut people = HashSet::new();
                for department in departments {
                    if let Some(conv) = state.by_department(department).and_then(|c| state.get(c)) {
                        chats.push(conv.id);
                        people.extend(conv.members.keys().copied());
                    }
                }
                let reach = Reach {
                    people: people.len(),
                    conversations: chats.len(),
                };
                Ok((Targets::Chats(chats), reach))
            }
            Audience::Everyone => {
                let mut people: Vec<StaffId> = self
                    .directory
                    .read()
                    .all_staff()
                    .filter(|s| s.is_active())
                    .map(|s| s.id)
                    .collect();
                people.sort_unstable();
                let reach = Reach {
                    people: people.len(),
                    conversations: people.len(),
                };
                Ok((Targets::People(people), reach))
            }
        }
    }

    /// Who an announcement would reach now (the confirmation shows it before sending).
    pub fn announcement_reach(&self, audience: Audience) -> Result<Reach, ImError> {
        self.targets(audience).map(|(_, reach)| reach)
    }

    /// Sends an announcement and audits it; answers how far it went. People who left in the
    /// meantime (disabled, or a chat dissolved) are skipped.
    pub async fn announce(
        &self,
        actor: &Actor,
        audience: Audience,
        text: &str,
        key: &str,
    ) -> Result<Reach, ImError> {
        let text = check_text(text)?;
        let key = check_key(key)?;
        let (targets, reach) = self.targets(audience)?;
        if reach.conversations == 0 {
            return Err(ImError::invalid("audience", "nobody to announce to"));
        }
        let frame =
            |conversation: Option<ConversationId>, to: Option<StaffId>, n: uuid::Uuid| SendFrame {
                id: None,
                client_msg_id: format!("ann-{key}-{}", n.simple()),
                conversation,
                to,
                kind: "text".into(),
                body: json!({ "text": text }),
                mentions: Vec::new(),
                mention_all: false,
            };
        let frames: Vec<SendFrame> = match &targets {
            Targets::Chats(chats) => chats.iter().map(|c| frame(Some(*c), None, c.0)).collect(),
            Targets::People(people) => people.iter().map(|p| frame(None, Some(*p), p.0)).collect(),
        };
        let results: Vec<Result<_, ImError>> = stream::iter(frames)
            .map(|f| self.send_and_wait(Sender::System, f))
            .buffer_unordered(IN_FLIGHT)
            .collect()
            .await;
        let mut sent = 0;
        let mut first_error = None;
        for result in results {
            match result {
                Ok(_) => sent += 1,
                Err(ImError::NotFound(_) | ImError::Conflict(_)) => {}
                Err(error) => {
                    tracing::warn!(%error, "announcement not delivered to one conversation");
                    first_error.get_or_insert(error);
                }
            }
        }
        if sent == 0
            && let Some(error) = first_error
        {
            return Err(error);
        }
        let people = match targets {
            Targets::Chats(_) => reach.people,
            Targets::People(_) => sent,
        };
        let (kind, department, subtree) = match audience {
            Audience::Department { id, subtree } => ("department", Some(id), subtree),
            Audience::Everyone => ("everyone", None, false),
        };
        self.audit_admin(
            actor,
            "conversation.announce",
            None,
            json!({"audience": kind, "department": department, "subtree": subtree,
                   "text": text, "people": people, "conversations": sent}),
        )
        .await?;
        Ok(Reach {
            people,
            conversations: sent,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texts_and_keys_are_checked() {
        assert_eq!(check_text("  hi ").ok().as_deref(), Some("hi"));
        assert!(check_text("   ").is_err());
        assert!(check_text(&"x".repeat(MAX_TEXT_CHARS + 1)).is_err());
        assert!(check_key("0123456789abcdef").is_ok());
        assert!(check_key("short").is_err());
        assert!(check_key("0123456789abcdef0").is_err());
        assert!(check_key("0123456-").is_err());
    }
}
