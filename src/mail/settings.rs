//! The SMTP settings in force: first from the configuration, then — once an administrator has
//! saved them — from the `mail_settings` table, so they can change without a restart. The
//! password is kept (it is needed to log in to the server), sealed at rest, and never shown or
//! logged.

use sea_orm::{ActiveValue::Set, DatabaseConnection, EntityTrait, sea_query::OnConflict};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{MailError, entities::setting};
use crate::auth::{Sealer, Unsealed};
use crate::config::{
    Secret,
    address::{parse_public_url, valid_address},
    mail::{MailConfig, MailLanguage, SmtpSecurity},
};

const SMTP_KEY: &str = "smtp";

/// How the connection to the SMTP server is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Security {
    /// Plain SMTP (a relay on the same host or a trusted network only).
    None,
    /// STARTTLS, required (usually port 587).
    Starttls,
    /// TLS from the first byte (usually port 465).
    Tls,
}

impl From<SmtpSecurity> for Security {
    fn from(security: SmtpSecurity) -> Self {
        match security {
            SmtpSecurity::None => Self::None,
            SmtpSecurity::StartTls => Self::Starttls,
            SmtpSecurity::Tls => Self::Tls,
        }
    }
}

/// The language of a mail or page.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Language {
    Zh,
    En,
}

impl From<MailLanguage> for Language {
    fn from(language: MailLanguage) -> Self {
        match language {
            MailLanguage::Zh => Self::Zh,
            MailLanguage::En => Self::En,
        }
    }
}

impl Language {
    pub fn parse(text: &str) -> Option<Self> {
        MailLanguage::parse(text).map(Self::from)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Zh => "zh",
            Self::En => "en",
        }
    }

    /// For templates: `{% if lang.zh() %}`.
    pub fn zh(self) -> bool {
        self == Self::Zh
    }
}

/// The mail settings as administrators see them (the password only as "set or not").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct MailSettings {
    /// The SMTP server; `null`: mail is off.
    pub smtp_host: Option<String>,
    pub smtp_port: u16,
    pub smtp_security: Security,
    pub smtp_username: Option<String>,
    /// Whether a password is stored (it is never shown).
    pub smtp_password_set: bool,
    /// The sender of every mail.
    pub from_address: Option<String>,
    pub from_name: String,
    /// Where links in mails point (`https://switchboard.example.com`); `null`: the address
    /// the service listens on.
    pub public_url: Option<String>,
    /// The language of mails to people who have not chosen one.
    pub language: Language,
    /// How long a person is offline before their unread messages are mailed (if they opted in).
    pub digest_after_minutes: u32,
    /// Extra recipients of alerts to IT, besides people with the `access` admin power.
    pub alert_to: Vec<String>,
    /// Whether new staff get a welcome mail.
    pub welcome: bool,
}

/// New mail settings (they replace the old ones).
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MailSettingsInput {
    pub smtp_host: Option<String>,
    #[schema(minimum = 1, maximum = 65535)]
    pub smtp_port: u16,
    pub smtp_security: Security,
    pub smtp_username: Option<String>,
    /// Absent: keep the stored password; `""`: remove it; otherwise the new password.
    #[serde(default)]
    pub smtp_password: Option<String>,
    pub from_address: Option<String>,
    pub from_name: String,
    pub public_url: Option<String>,
    pub language: Language,
    #[schema(minimum = 0, maximum = 43200)]
    pub digest_after_minutes: u32,
    #[serde(default)]
    pub alert_to: Vec<String>,
    pub welcome: bool,
}

/// The settings in force, password included.
#[derive(Clone, Serialize, Deserialize)]
pub(crate) struct Settings {
    pub smtp_host: Option<String>,
    pub smtp_port: u16,
    pub smtp_security: Security,
    pub smtp_username: Option<String>,
    #[serde(with = "secret_text")]
    pub smtp_password: Option<Secret>,
    pub from_address: Option<String>,
    pub from_name: String,
    pub public_url: Option<String>,
    pub language: Language,
    pub digest_after_minutes: u32,
    pub alert_to: Vec<String>,
    pub welcome: bool,
}

/// The stored form keeps the password as text: `save` puts the sealed password there.
mod secret_text {
    use serde::{Deserialize, Deserializer, Serializer};

    use crate::config::Secret;

    pub fn serialize<S: Serializer>(value: &Option<Secret>, s: S) -> Result<S::Ok, S::Error> {
        match value {
            Some(secret) => s.serialize_some(secret.expose()),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Secret>, D::Error> {
        Ok(Option::<String>::deserialize(d)?.map(Secret::new))
    }
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("smtp_host", &self.smtp_host)
            .field("smtp_port", &self.smtp_port)
            .field("smtp_password", &self.smtp_password)
            .finish_non_exhaustive()
    }
}

impl Settings {
    pub fn from_config(config: &MailConfig) -> Self {
        Self {
            smtp_host: config.smtp_host.clone(),
            smtp_port: config.smtp_port,
            smtp_security: config.smtp_security.into(),
            smtp_username: config.smtp_username.clone(),
            smtp_password: config.smtp_password.clone(),
            from_address: config.from_address.clone(),
            from_name: config.from_name.clone(),
            public_url: config.public_url.clone(),
            language: config.language.into(),
            digest_after_minutes: (config.digest_after.as_secs() / 60) as u32,
            alert_to: config.alert_to.clone(),
            welcome: config.welcome,
        }
    }

    /// Whether mails can be sent: a server and a sender.
    pub fn configured(&self) -> bool {
        self.smtp_host.is_some() && self.from_address.is_some()
    }

    pub fn view(&self) -> MailSettings {
        MailSettings {
            smtp_host: self.smtp_host.clone(),
            smtp_port: self.smtp_port,
            smtp_security: self.smtp_security,
            smtp_username: self.smtp_username.clone(),
            smtp_password_set: self.smtp_password.is_some(),
            from_address: self.from_address.clone(),
            from_name: self.from_name.clone(),
            public_url: self.public_url.clone(),
            language: self.language,
            digest_after_minutes: self.digest_after_minutes,
            alert_to: self.alert_to.clone(),
            welcome: self.welcome,
        }
    }

    /// The settings `input` asks for, checked; the password is kept unless it says otherwise.
    pub fn replaced_by(&self, input: MailSettingsInput) -> Result<Self, MailError> {
        let trimmed =
            |value: Option<String>| value.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
        let smtp_host = trimmed(input.smtp_host);
        if smtp_host.as_ref().is_some_and(|h| {
            h.len() > 253 || h.chars().any(|c| c.is_whitespace() || c == '/' || c == ':')
        }) {
            return Err(MailError::invalid("smtp_host", "not a host name"));
        }
        if input.smtp_port == 0 {
            return Err(MailError::invalid("smtp_port", "must be 1 to 65535"));
        }
        let from_address = trimmed(input.from_address);
        if let Some(address) = &from_address
            && !valid_address(address)
        {
            return Err(MailError::invalid("from_address", "not a mail address"));
        }
        if smtp_host.is_some() && from_address.is_none() {
            return Err(MailError::invalid(
                "from_address",
                "is needed with an SMTP host (the sender of every mail)",
            ));
        }
        let from_name = input.from_name.trim().to_owned();
        if from_name.chars().count() > 100 || from_name.chars().any(char::is_control) {
            return Err(MailError::invalid(
                "from_name",
                "at most 100 characters, no control characters",
            ));
        }
        let public_url = match trimmed(input.public_url) {
            None => None,
            Some(text) => Some(parse_public_url(&text).ok_or_else(|| {
                MailError::invalid("public_url", "not an http(s) URL without query")
            })?),
        };
        if input.digest_after_minutes > 43_200 {
            return Err(MailError::invalid(
                "digest_after_minutes",
                "at most 43200 (30 days)",
            ));
        }
        if input.alert_to.len() > 50 {
            return Err(MailError::invalid("alert_to", "at most 50 addresses"));
        }
        if input.alert_to.iter().any(|a| !valid_address(a.trim())) {
            return Err(MailError::invalid("alert_to", "not all are mail addresses"));
        }
        let smtp_username = trimmed(input.smtp_username);
        if smtp_username
            .as_ref()
            .is_some_and(|u| u.chars().count() > 256)
        {
            return Err(MailError::invalid(
                "smtp_username",
                "at most 256 characters",
            ));
        }
        let smtp_password = match input.smtp_password {
            None => self.smtp_password.clone(),
            Some(text) if text.is_empty() => None,
            Some(text) if text.chars().count() > 1024 => {
                return Err(MailError::invalid(
                    "smtp_password",
                    "at most 1024 characters",
                ));
            }
            Some(text) => Some(Secret::new(text)),
        };
        Ok(Self {
            smtp_host,
            smtp_port: input.smtp_port,
            smtp_security: input.smtp_security,
            smtp_username,
            smtp_password,
            from_address,
            from_name: if from_name.is_empty() {
                "Switchboard".into()
            } else {
                from_name
            },
            public_url,
            language: input.language,
            digest_after_minutes: input.digest_after_minutes,
            alert_to: input.alert_to.iter().map(|a| a.trim().to_owned()).collect(),
            welcome: input.welcome,
        })
    }
}

/// What the stored password is sealed for (see `auth::Sealer`).
const PASSWORD_PURPOSE: &str = "mail.smtp_password";

/// The settings in force and whether the stored password was still in clear (written before
/// sealing), so that the caller seals it now.
pub(crate) struct Loaded {
    pub settings: Settings,
    pub password_in_clear: bool,
}

/// The stored settings, if an administrator has saved any. A stored row without a password
/// keeps the configured one (`SWITCHBOARD_SMTP_PASSWORD`), so the secret may stay out of the
/// database; so does one sealed under another token key, with a warning to enter it again.
pub(crate) async fn load(
    db: &DatabaseConnection,
    config: &MailConfig,
    sealer: &Sealer,
) -> Result<Loaded, MailError> {
    let first = Settings::from_config(config);
    let Some(row) = setting::Entity::find_by_id(SMTP_KEY.to_owned())
        .one(db)
        .await?
    else {
        return Ok(Loaded {
            settings: first,
            password_in_clear: false,
        });
    };
    match serde_json::from_str::<Settings>(&row.value) {
        Ok(mut stored) => {
            let mut password_in_clear = false;
            stored.smtp_password = match stored.smtp_password.take() {
                None => None,
                Some(column) => match sealer.open(PASSWORD_PURPOSE, column.expose()) {
                    Unsealed::Sealed(password) => Some(password),
                    Unsealed::Legacy(password) => {
                        password_in_clear = true;
                        Some(password)
                    }
                    Unsealed::Unreadable => {
                        tracing::warn!(
                            "the stored SMTP password was sealed under another token key; enter it again in the mail settings"
                        );
                        None
                    }
                },
            };
            if stored.smtp_password.is_none() {
                stored.smtp_password = first.smtp_password;
            }
            Ok(Loaded {
                settings: stored,
                password_in_clear,
            })
        }
        Err(error) => {
            tracing::warn!(%error, "stored mail settings unreadable; using the configuration");
            Ok(Loaded {
                settings: first,
                password_in_clear: false,
            })
        }
    }
}

/// Stores the settings, the password sealed.
pub(crate) async fn save<C: sea_orm::ConnectionTrait>(
    db: &C,
    settings: &Settings,
    sealer: &Sealer,
) -> Result<(), MailError> {
    let mut stored = settings.clone();
    stored.smtp_password = settings
        .smtp_password
        .as_ref()
        .map(|password| Secret::new(sealer.seal(PASSWORD_PURPOSE, password)));
    let value = serde_json::to_string(&stored).map_err(|e| MailError::Internal(e.to_string()))?;
    setting::Entity::insert(setting::ActiveModel {
        key: Set(SMTP_KEY.to_owned()),
        value: Set(value),
    })
    .on_conflict(
        OnConflict::column(setting::Column::Key)
            .update_column(setting::Column::Value)
            .to_owned(),
    )
    .exec_without_returning(db)
    .await?;
    Ok(())
}

/// A bookkeeping value of the module (`mail_settings` beside the SMTP row).
pub(crate) async fn get_value(
    db: &DatabaseConnection,
    key: &str,
) -> Result<Option<String>, MailError> {
    Ok(setting::Entity::find_by_id(key.to_owned())
        .one(db)
        .await?
        .map(|row| row.value))
}

pub(crate) async fn set_value<C: sea_orm::ConnectionTrait>(
    db: &C,
    key: &str,
    value: &str,
) -> Result<(), MailError> {
    setting::Entity::insert(setting::ActiveModel {
        key: Set(key.to_owned()),
        value: Set(value.to_owned()),
    })
    .on_conflict(
        OnConflict::column(setting::Column::Key)
            .update_column(setting::Column::Value)
            .to_owned(),
    )
    .exec_without_returning(db)
    .await?;
    Ok(())
}
