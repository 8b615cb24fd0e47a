//! What a card is: the app's content (title, text, fields, image, actions), parsed and
//! size-limited at the edge, and the body members see — the content, the app that sent it, and
//! the server's part (the decisions taken, and who closed it when).

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::im::ImError;

/// Fields a card may show at most.
pub const MAX_FIELDS: usize = 20;
/// Actions a card may offer at most.
pub const MAX_ACTIONS: usize = 6;
/// The longest comment a person may add to an action, in characters.
pub const MAX_COMMENT: usize = 500;
/// Responses listed in a card's body (the newest; `response_count` has them all).
const SHOWN_RESPONSES: usize = 50;

/// One label and value line of a card.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CardField {
    #[schema(min_length = 1, max_length = 50, pattern = r"\S")]
    pub label: String,
    #[schema(max_length = 500)]
    pub value: String,
}

/// A button of a card.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CardAction {
    /// Named in the `action` frame and the callback.
    #[schema(pattern = r"^[A-Za-z0-9_.-]{1,40}$")]
    pub id: String,
    #[schema(min_length = 1, max_length = 40, pattern = r"\S")]
    pub label: String,
    /// A question the client asks before sending the action ("Reject this request?").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(min_length = 1, max_length = 200, pattern = r"\S")]
    pub confirm: Option<String>,
    /// Whether the client offers a short comment (up to 500 characters) with the action.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub comment: bool,
}

/// What an app puts on a card.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CardContent {
    #[schema(min_length = 1, max_length = 200, pattern = r"\S")]
    pub title: String,
    #[serde(default)]
    #[schema(max_length = 4000)]
    pub text: String,
    #[serde(default)]
    #[schema(max_items = 20)]
    pub fields: Vec<CardField>,
    /// An http(s) URL of a picture shown on the card.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(max_length = 1000, pattern = r"^https?://\S+$")]
    pub image: Option<String>,
    #[serde(default)]
    #[schema(max_items = 6)]
    pub actions: Vec<CardAction>,
}

/// How many decisions a card takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    /// Every member may act once.
    PerPerson,
    /// The first action closes the card for everyone.
    Single,
}

impl Decision {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::PerPerson => "per_person",
            Self::Single => "single",
        }
    }
    pub fn parse(text: &str) -> Self {
        if text == "single" {
            Self::Single
        } else {
            Self::PerPerson
        }
    }
}

fn invalid(field: &str, reason: impl Into<String>) -> ImError {
    ImError::invalid(field, reason)
}

fn text(field: &str, value: &str, min: usize, max: usize) -> Result<(), ImError> {
    let count = value.chars().count();
    if min > 0 && value.trim().is_empty() {
        return Err(invalid(field, "must not be blank"));
    }
    if count > max {
        return Err(invalid(field, format!("at most {max} characters")));
    }
    Ok(())
}

/// An http(s) URL without spaces, up to 1000 characters (the pattern the document states).
pub fn plain_http_url(url: &str) -> bool {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"));
    rest.is_some_and(|r| !r.is_empty())
        && !url.chars().any(char::is_whitespace)
        && url.chars().count() <= 1000
}

impl CardContent {
    /// Checks the limits the OpenAPI document states (`field` prefixes the names).
    pub fn check(&self, field: &str) -> Result<(), ImError> {
        text(&format!("{field}.title"), &self.title, 1, 200)?;
        text(&format!("{field}.text"), &self.text, 0, 4000)?;
        if self.fields.len() > MAX_FIELDS {
            return Err(invalid(
                &format!("{field}.fields"),
                format!("at most {MAX_FIELDS}"),
            ));
        }
        for (i, f) in self.fields.iter().enumerate() {
            text(&format!("{field}.fields[{i}].label"), &f.label, 1, 50)?;
            text(&format!("{field}.fields[{i}].value"), &f.value, 0, 500)?;
        }
        if let Some(image) = &self.image
            && !plain_http_url(image)
        {
            return Err(invalid(
                &format!("{field}.image"),
                "an http(s) URL of at most 1000 characters",
            ));
        }
        if self.actions.len() > MAX_ACTIONS {
            return Err(invalid(
                &format!("{field}.actions"),
                format!("at most {MAX_ACTIONS}"),
            ));
        }
        for (i, a) in self.actions.iter().enumerate() {
            let name = format!("{field}.actions[{i}]");
            let id_ok = (1..=40).contains(&a.id.len())
                && a.id
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c));
            if !id_ok {
                return Err(invalid(
                    &format!("{name}.id"),
                    "1 to 40 letters, digits, '_', '.', '-'",
                ));
            }
            if self.actions[..i].iter().any(|b| b.id == a.id) {
                return Err(invalid(&format!("{name}.id"), "used twice"));
            }
            text(&format!("{name}.label"), &a.label, 1, 40)?;
            if let Some(confirm) = &a.confirm {
                text(&format!("{name}.confirm"), confirm, 1, 200)?;
            }
        }
        Ok(())
    }

    pub fn action(&self, id: &str) -> Option<&CardAction> {
        self.actions.iter().find(|a| a.id == id)
    }
}

/// The app as a card names it.
#[derive(Debug, Clone, Serialize)]
pub struct AppRef {
    pub id: Uuid,
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub avatar: Option<String>,
}

/// One recorded action, as the body lists it.
#[derive(Debug, Clone, Serialize)]
pub struct Response {
    pub staff: Uuid,
    pub name: String,
    pub action: String,
    pub label: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    pub at: i64,
}

/// Everything a card's body is made of.
pub struct CardState<'a> {
    pub id: Uuid,
    pub app: &'a AppRef,
    pub content: &'a CardContent,
    pub decision: Decision,
    /// Oldest first.
    pub responses: &'a [Response],
    /// When the card closed, and the deciding response (none when the app closed it).
    pub closed: Option<(i64, Option<&'a Response>)>,
    pub updated_at: i64,
}

impl CardState<'_> {
    /// The message body members see (kind `card`, and `card_update` events).
    pub fn body(&self) -> Value {
        let shown = &self.responses[self.responses.len().saturating_sub(SHOWN_RESPONSES)..];
        let closed = self.closed.map(|(at, by)| match by {
            Some(r) => json!({
                "at": at, "by": r.staff, "by_name": r.name, "action": r.action,
                "label": r.label, "comment": r.comment,
            }),
            None => json!({"at": at, "by": null}),
        });
        json!({
            "card_id": self.id,
            "app": self.app,
            "title": self.content.title,
            "text": self.content.text,
            "fields": self.content.fields,
            "image": self.content.image,
            "actions": self.content.actions,
            "decision": self.decision,
            "responses": shown,
            "response_count": self.responses.len(),
            "closed": closed,
            "updated_at": self.updated_at,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn content() -> CardContent {
        serde_json::from_value(json!({
            "title": "Leave request", "text": "3 days", "fields": [{"label": "From", "value": "Mon"}],
            "actions": [{"id": "approve", "label": "Approve"},
                        {"id": "reject", "label": "Reject", "confirm": "Sure?", "comment": true}]
        }))
        .unwrap()
    }

    #[test]
    fn cards_are_checked() {
        assert!(content().check("card").is_ok());
        let mut twice = content();
        twice.actions[1].id = "approve".into();
        assert!(twice.check("card").is_err());
        let mut blank = content();
        blank.title = "  ".into();
        assert!(blank.check("card").is_err());
        let mut bad_id = content();
        bad_id.actions[0].id = "a b".into();
        assert!(bad_id.check("card").is_err());
        let mut image = content();
        image.image = Some("javascript:alert(1)".into());
        assert!(image.check("card").is_err());
        image.image = Some("https://example.com/a.png".into());
        assert!(image.check("card").is_ok());
        assert!(serde_json::from_value::<CardContent>(json!({"title": "x", "evil": 1})).is_err());
    }
}
