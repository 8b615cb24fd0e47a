//! Directory domain types. They know nothing of SQL or HTTP; values that come from outside
//! (HTTP bodies, LDAP entries) become these types at the edge and are valid by construction.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::DirectoryError;
use crate::store::Version;

macro_rules! uuid_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, ToSchema)]
        #[serde(transparent)]
        #[schema(value_type = String, format = Uuid)]
        pub struct $name(pub Uuid);

        impl $name {
            /// A fresh, time-ordered id.
            pub fn generate() -> Self {
                Self(Uuid::now_v7())
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}

uuid_id!(
    /// Identifies a department for its whole life, whatever LDAP does to its DN.
    DepartmentId
);
uuid_id!(
    /// Identifies a person for their whole life: moves and renames keep it.
    StaffId
);

/// Custom fields: key → JSON value, validated against the field definitions.
pub type CustomFields = BTreeMap<String, serde_json::Value>;

/// Who owns a record's fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RecordSource {
    Local,
    Ldap,
}

impl RecordSource {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Local => "local",
            Self::Ldap => "ldap",
        }
    }
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "local" => Some(Self::Local),
            "ldap" => Some(Self::Ldap),
            _ => None,
        }
    }
}

/// Where a record lives in LDAP: its DN now, and the id that survives renames and moves.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct LdapRef {
    pub dn: String,
    pub stable_id: String,
}

/// A node of the org chart.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Department {
    pub id: DepartmentId,
    pub parent_id: Option<DepartmentId>,
    pub name: String,
    /// A free tag that visibility rules refer to (e.g. `business`, `support`, `executive`).
    pub dept_type: String,
    /// Siblings are shown in ascending order of this key.
    pub order_key: i64,
    #[schema(value_type = Object)]
    pub custom: CustomFields,
    pub source: RecordSource,
    pub ldap: Option<LdapRef>,
    /// The version that last changed this department.
    #[schema(value_type = i64)]
    pub version: Version,
}

/// Whether a person can log in and appears in contact lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum StaffStatus {
    Active,
    Disabled,
}

/// Who disabled a person; LDAP re-enables only those it disabled itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DisabledBy {
    Admin,
    Ldap,
}

/// A person's place in one department.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Membership {
    pub department_id: DepartmentId,
    /// Position among the department's members (ascending).
    pub order_key: i64,
    pub primary: bool,
}

/// A person in the directory.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Staff {
    pub id: StaffId,
    pub login: String,
    pub display_name: String,
    /// Full pinyin of the name, lower case without spaces (`zhangwei`); the name itself
    /// lower-cased for non-Chinese names.
    pub pinyin_full: String,
    /// Initials (`zw`).
    pub pinyin_initials: String,
    pub title: String,
    pub emails: Vec<String>,
    pub phones: Vec<String>,
    pub staff_type: String,
    pub status: StaffStatus,
    pub disabled_by: Option<DisabledBy>,
    #[schema(value_type = Object)]
    pub custom: CustomFields,
    pub source: RecordSource,
    pub ldap: Option<LdapRef>,
    /// Departments, with exactly one primary when there are any.
    pub memberships: Vec<Membership>,
    #[schema(value_type = i64)]
    pub version: Version,
}

impl Staff {
    pub fn primary_department(&self) -> Option<DepartmentId> {
        self.memberships
            .iter()
            .find(|m| m.primary)
            .map(|m| m.department_id)
    }
    pub fn is_active(&self) -> bool {
        self.status == StaffStatus::Active
    }
}

/// Which record a custom field definition applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum FieldEntity {
    Staff,
    Department,
}

impl FieldEntity {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Staff => "staff",
            Self::Department => "department",
        }
    }
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "staff" => Some(Self::Staff),
            "department" => Some(Self::Department),
            _ => None,
        }
    }
}

/// The type a custom field's values must have.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum FieldType {
    Text,
    Number,
    Bool,
    /// `YYYY-MM-DD`.
    Date,
    /// One of `choices`.
    Choice,
}

impl FieldType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Text => "text",
            Self::Number => "number",
            Self::Bool => "bool",
            Self::Date => "date",
            Self::Choice => "choice",
        }
    }
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "text" => Some(Self::Text),
            "number" => Some(Self::Number),
            "bool" => Some(Self::Bool),
            "date" => Some(Self::Date),
            "choice" => Some(Self::Choice),
            _ => None,
        }
    }
}

/// A custom field that HR or the LDAP mapping may fill.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct FieldDefinition {
    pub entity: FieldEntity,
    /// `[a-z][a-z0-9_]{0,39}`.
    pub key: String,
    pub label: String,
    pub field_type: FieldType,
    #[serde(default)]
    pub required: bool,
    #[serde(default)]
    pub choices: Vec<String>,
}

impl FieldDefinition {
    /// Checks a definition's own shape before it is stored.
    pub fn check(&self) -> Result<(), DirectoryError> {
        let key_ok = self.key.len() <= 40
            && self.key.starts_with(|c: char| c.is_ascii_lowercase())
            && self
                .key
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if !key_ok {
            return Err(DirectoryError::invalid(
                "key",
                "must match [a-z][a-z0-9_]{0,39}",
            ));
        }
        if self.label.trim().is_empty() {
            return Err(DirectoryError::invalid("label", "must not be empty"));
        }
        if self.field_type == FieldType::Choice && self.choices.is_empty() {
            return Err(DirectoryError::invalid(
                "choices",
                "a choice field needs at least one choice",
            ));
        }
        Ok(())
    }
}

/// The longest name, title or type accepted, in characters.
pub const MAX_TEXT_CHARS: usize = 200;

/// Trims a required text value and checks its length.
pub fn required_text(field: &str, value: &str) -> Result<String, DirectoryError> {
    let value = value.trim();
    if value.is_empty() {
        return Err(DirectoryError::invalid(field, "must not be empty"));
    }
    optional_text(field, value)
}

/// Trims an optional text value and checks its length.
pub fn optional_text(field: &str, value: &str) -> Result<String, DirectoryError> {
    let value = value.trim();
    if value.chars().count() > MAX_TEXT_CHARS {
        return Err(DirectoryError::invalid(
            field,
            format!("must be at most {MAX_TEXT_CHARS} characters"),
        ));
    }
    if value.chars().any(char::is_control) {
        return Err(DirectoryError::invalid(
            field,
            "must not contain control characters",
        ));
    }
    Ok(value.to_owned())
}

/// A login name: lower case (LDAP uid and sAMAccountName compare case-insensitively),
/// 1–64 characters of letters, digits and `._-@`.
pub fn parse_login(value: &str) -> Result<String, DirectoryError> {
    let login = value.trim().to_lowercase();
    let ok = !login.is_empty()
        && login.chars().count() <= 64
        && login
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '.' | '_' | '-' | '@'));
    if !ok {
        return Err(DirectoryError::invalid(
            "login",
            "must be 1-64 letters, digits or . _ - @",
        ));
    }
    Ok(login)
}

/// A free tag (department or staff type): 1–40 characters of `[a-z0-9_-]`.
pub fn parse_tag(field: &str, value: &str) -> Result<String, DirectoryError> {
    let tag = value.trim().to_lowercase();
    let ok = !tag.is_empty()
        && tag.len() <= 40
        && tag
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-');
    if !ok {
        return Err(DirectoryError::invalid(
            field,
            "must be 1-40 characters of a-z, 0-9, _ or -",
        ));
    }
    Ok(tag)
}

/// Emails: trimmed, each with one `@` and something on both sides, no duplicates.
pub fn parse_emails(values: &[String]) -> Result<Vec<String>, DirectoryError> {
    let mut out: Vec<String> = Vec::with_capacity(values.len());
    for value in values {
        let email = value.trim().to_owned();
        let valid = email.len() <= 254
            && email.split('@').count() == 2
            && email.split('@').all(|part| !part.is_empty())
            && !email.chars().any(|c| c.is_whitespace() || c.is_control());
        if !valid {
            return Err(DirectoryError::invalid(
                "emails",
                format!("'{email}' is not an email address"),
            ));
        }
        if !out.contains(&email) {
            out.push(email);
        }
    }
    Ok(out)
}

/// Phones: trimmed; digits with optional `+`, spaces, dashes, parentheses and an extension.
pub fn parse_phones(values: &[String]) -> Result<Vec<String>, DirectoryError> {
    let mut out: Vec<String> = Vec::with_capacity(values.len());
    for value in values {
        let phone = value.trim().to_owned();
        let digits = phone.chars().filter(char::is_ascii_digit).count();
        let valid = (3..=20).contains(&digits)
            && phone.len() <= 40
            && phone
                .chars()
                .all(|c| c.is_ascii_digit() || " +-()#x".contains(c));
        if !valid {
            return Err(DirectoryError::invalid(
                "phones",
                format!("'{phone}' is not a phone number"),
            ));
        }
        if !out.contains(&phone) {
            out.push(phone);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logins_are_lower_case_and_limited() {
        assert_eq!(parse_login(" Alice.W ").unwrap(), "alice.w");
        assert_eq!(parse_login("张伟").unwrap(), "张伟");
        assert!(parse_login("").is_err());
        assert!(parse_login("a*b").is_err());
        assert!(parse_login("x)(uid=*").is_err());
        assert!(parse_login(&"a".repeat(65)).is_err());
    }

    #[test]
    fn tags_and_texts() {
        assert!(parse_tag("dept_type", "R&D").is_err());
        assert_eq!(parse_tag("dept_type", " Business ").unwrap(), "business");
        assert!(required_text("name", "   ").is_err());
        assert!(required_text("name", "a\u{0}b").is_err());
        assert_eq!(required_text("name", " 研发部 ").unwrap(), "研发部");
    }

    #[test]
    fn contact_values() {
        assert_eq!(
            parse_emails(&["a@x.cn".into(), "a@x.cn".into()]).unwrap(),
            vec!["a@x.cn"]
        );
        assert!(parse_emails(&["no-at".into()]).is_err());
        assert!(parse_emails(&["a@b@c".into()]).is_err());
        assert!(parse_phones(&["+86 138-0000-0000".into()]).is_ok());
        assert!(parse_phones(&["call me".into()]).is_err());
    }
}
