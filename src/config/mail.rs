//! Mail settings: the `[mail]` table of the configuration file and `SWITCHBOARD_SMTP_*` /
//! `SWITCHBOARD_MAIL_*` variables, validated at start-up. They are the *first* values: an
//! administrator may replace the SMTP settings at run time (`crate::mail` stores those in its
//! own table). The mechanics (timeouts, retries, intervals) are configuration only.

use std::time::Duration;

use serde::Deserialize;

use super::{
    ConfigError, Secret,
    address::{parse_public_url, valid_address},
};

/// How the connection to the SMTP server is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpSecurity {
    /// Plain SMTP (only for a relay on the same host or a trusted network).
    None,
    /// Plain connection upgraded with STARTTLS, which must succeed (usually port 587).
    StartTls,
    /// TLS from the first byte (SMTPS, usually port 465).
    Tls,
}

impl SmtpSecurity {
    pub fn parse(text: &str) -> Option<Self> {
        match text.trim().to_ascii_lowercase().as_str() {
            "none" => Some(Self::None),
            "starttls" => Some(Self::StartTls),
            "tls" => Some(Self::Tls),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::StartTls => "starttls",
            Self::Tls => "tls",
        }
    }

    /// The port this kind of connection usually uses.
    pub fn default_port(self) -> u16 {
        match self {
            Self::None => 25,
            Self::StartTls => 587,
            Self::Tls => 465,
        }
    }
}

/// The language of a mail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MailLanguage {
    Zh,
    En,
}

impl MailLanguage {
    pub fn parse(text: &str) -> Option<Self> {
        match text.trim().to_ascii_lowercase().as_str() {
            "zh" | "zh-cn" | "zh-hans" => Some(Self::Zh),
            "en" | "en-us" | "en-gb" => Some(Self::En),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Zh => "zh",
            Self::En => "en",
        }
    }
}

/// A number in the file (`25`) or text in the environment (`"25"`).
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum Scalar {
    Number(i64),
    Text(String),
}

impl Scalar {
    pub(super) fn within(&self, key: &str, min: i64, max: i64) -> Result<i64, ConfigError> {
        let value = match self {
            Self::Number(n) => Some(*n),
            Self::Text(text) => text.trim().parse().ok(),
        };
        value
            .filter(|n| (min..=max).contains(n))
            .ok_or_else(|| ConfigError::new(key, format!("must be a number from {min} to {max}")))
    }
}

/// Unvalidated `[mail]` settings.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMailConfig {
    pub smtp_host: Option<String>,
    pub smtp_port: Option<Scalar>,
    pub smtp_security: Option<String>,
    pub smtp_username: Option<String>,
    /// Better given as `SWITCHBOARD_SMTP_PASSWORD`.
    pub smtp_password: Option<String>,
    pub from_address: Option<String>,
    pub from_name: Option<String>,
    pub public_url: Option<String>,
    pub language: Option<String>,
    pub digest_after_minutes: Option<Scalar>,
    pub alert_to: Option<Vec<String>>,
    pub welcome: Option<bool>,
    pub smtp_timeout_secs: Option<Scalar>,
    pub retry_base_secs: Option<Scalar>,
    pub retry_cap_secs: Option<Scalar>,
    pub max_attempts: Option<Scalar>,
    pub digest_interval_secs: Option<Scalar>,
    pub reset_ttl_minutes: Option<Scalar>,
}

impl RawMailConfig {
    /// The variables that may set mail settings (the rest is file only).
    pub fn from_env(lookup: impl Fn(&str) -> Option<String>) -> Self {
        Self {
            smtp_host: lookup("SWITCHBOARD_SMTP_HOST"),
            smtp_port: lookup("SWITCHBOARD_SMTP_PORT").map(Scalar::Text),
            smtp_security: lookup("SWITCHBOARD_SMTP_SECURITY"),
            smtp_username: lookup("SWITCHBOARD_SMTP_USERNAME"),
            smtp_password: lookup("SWITCHBOARD_SMTP_PASSWORD"),
            from_address: lookup("SWITCHBOARD_MAIL_FROM"),
            from_name: lookup("SWITCHBOARD_MAIL_FROM_NAME"),
            public_url: lookup("SWITCHBOARD_PUBLIC_URL"),
            language: lookup("SWITCHBOARD_MAIL_LANGUAGE"),
            alert_to: lookup("SWITCHBOARD_MAIL_ALERT_TO").map(|list| {
                list.split(',')
                    .map(str::trim)
                    .filter(|a| !a.is_empty())
                    .map(str::to_owned)
                    .collect()
            }),
            ..Self::default()
        }
    }

    /// Keys set in `over` replace those in `self`, one by one.
    pub fn overlay(self, over: RawMailConfig) -> Self {
        Self {
            smtp_host: over.smtp_host.or(self.smtp_host),
            smtp_port: over.smtp_port.or(self.smtp_port),
            smtp_security: over.smtp_security.or(self.smtp_security),
            smtp_username: over.smtp_username.or(self.smtp_username),
            smtp_password: over.smtp_password.or(self.smtp_password),
            from_address: over.from_address.or(self.from_address),
            from_name: over.from_name.or(self.from_name),
            public_url: over.public_url.or(self.public_url),
            language: over.language.or(self.language),
            digest_after_minutes: over.digest_after_minutes.or(self.digest_after_minutes),
            alert_to: over.alert_to.or(self.alert_to),
            welcome: over.welcome.or(self.welcome),
            smtp_timeout_secs: over.smtp_timeout_secs.or(self.smtp_timeout_secs),
            retry_base_secs: over.retry_base_secs.or(self.retry_base_secs),
            retry_cap_secs: over.retry_cap_secs.or(self.retry_cap_secs),
            max_attempts: over.max_attempts.or(self.max_attempts),
            digest_interval_secs: over.digest_interval_secs.or(self.digest_interval_secs),
            reset_ttl_minutes: over.reset_ttl_minutes.or(self.reset_ttl_minutes),
        }
    }

    /// Whether nothing at all is set (no `[mail]` table and no variables).
    pub fn is_empty(&self) -> bool {
        self.smtp_host.is_none()
            && self.smtp_port.is_none()
            && self.smtp_security.is_none()
            && self.smtp_username.is_none()
            && self.smtp_password.is_none()
            && self.from_address.is_none()
            && self.public_url.is_none()
    }
}

/// Validated mail settings.
#[derive(Debug, Clone)]
pub struct MailConfig {
    /// `None`: no SMTP server yet (mail is off until an administrator sets one).
    pub smtp_host: Option<String>,
    pub smtp_port: u16,
    pub smtp_security: SmtpSecurity,
    pub smtp_username: Option<String>,
    pub smtp_password: Option<Secret>,
    pub from_address: Option<String>,
    pub from_name: String,
    /// The address people open links at (`https://switchboard.example.com`); the address the
    /// service listens on when unset.
    pub public_url: Option<String>,
    /// The language of mails to people who chose none.
    pub language: MailLanguage,
    /// How long a person is offline before unread messages are mailed to them (if they opted in).
    pub digest_after: Duration,
    /// Extra recipients of alerts to IT (besides people with the `access` admin power).
    pub alert_to: Vec<String>,
    /// Whether new staff get a welcome mail.
    pub welcome: bool,
    /// The limit of one SMTP conversation (connect, TLS, every command).
    pub smtp_timeout: Duration,
    /// The wait after the first failed attempt; it doubles after each further one...
    pub retry_base: Duration,
    /// ...up to this.
    pub retry_cap: Duration,
    /// Attempts before a mail is given up (marked failed).
    pub max_attempts: u32,
    /// How often the digest looks for people to mail.
    pub digest_interval: Duration,
    /// How long a password-reset link works.
    pub reset_ttl: Duration,
}

impl Default for MailConfig {
    fn default() -> Self {
        Self {
            smtp_host: None,
            smtp_port: SmtpSecurity::StartTls.default_port(),
            smtp_security: SmtpSecurity::StartTls,
            smtp_username: None,
            smtp_password: None,
            from_address: None,
            from_name: "Switchboard".into(),
            public_url: None,
            language: MailLanguage::Zh,
            digest_after: Duration::from_secs(60 * 60),
            alert_to: Vec::new(),
            welcome: true,
            smtp_timeout: Duration::from_secs(30),
            retry_base: Duration::from_secs(30),
            retry_cap: Duration::from_secs(3600),
            max_attempts: 12,
            digest_interval: Duration::from_secs(300),
            reset_ttl: Duration::from_secs(3600),
        }
    }
}

impl MailConfig {
    pub fn parse(raw: RawMailConfig) -> Result<Self, ConfigError> {
        let defaults = Self::default();
        let smtp_security = match &raw.smtp_security {
            None => defaults.smtp_security,
            Some(text) => SmtpSecurity::parse(text).ok_or_else(|| {
                ConfigError::new(
                    "mail.smtp_security",
                    format!("'{text}' is not one of: none, starttls, tls"),
                )
            })?,
        };
        let smtp_port = match &raw.smtp_port {
            None => smtp_security.default_port(),
            Some(port) => port.within("mail.smtp_port", 1, 65_535)? as u16,
        };
        let smtp_host = raw
            .smtp_host
            .map(|h| h.trim().to_owned())
            .filter(|h| !h.is_empty());
        let from_address = match raw.from_address.map(|a| a.trim().to_owned()) {
            Some(address) if !valid_address(&address) => {
                return Err(ConfigError::new(
                    "mail.from_address",
                    format!("'{address}' is not a mail address"),
                ));
            }
            other => other.filter(|a| !a.is_empty()),
        };
        if smtp_host.is_some() && from_address.is_none() {
            return Err(ConfigError::new(
                "mail.from_address",
                "is needed with an SMTP host (the sender of every mail)",
            ));
        }
        let public_url = match raw.public_url {
            None => None,
            Some(text) => Some(parse_public_url(&text).ok_or_else(|| {
                ConfigError::new(
                    "mail.public_url",
                    format!("'{text}' is not an http(s) URL without query"),
                )
            })?),
        };
        let language = match &raw.language {
            None => defaults.language,
            Some(text) => MailLanguage::parse(text).ok_or_else(|| {
                ConfigError::new("mail.language", format!("'{text}' is not one of: zh, en"))
            })?,
        };
        let alert_to = raw.alert_to.unwrap_or_default();
        if let Some(bad) = alert_to.iter().find(|a| !valid_address(a)) {
            return Err(ConfigError::new(
                "mail.alert_to",
                format!("'{bad}' is not a mail address"),
            ));
        }
        let secs = |value: &Option<Scalar>, key: &str, min: i64, max: i64, default: Duration| {
            value.as_ref().map_or(Ok(default), |v| {
                v.within(key, min, max)
                    .map(|n| Duration::from_secs(n as u64))
            })
        };
        let retry_base = secs(
            &raw.retry_base_secs,
            "mail.retry_base_secs",
            1,
            86_400,
            defaults.retry_base,
        )?;
        let retry_cap = secs(
            &raw.retry_cap_secs,
            "mail.retry_cap_secs",
            1,
            7 * 86_400,
            defaults.retry_cap,
        )?;
        if retry_cap < retry_base {
            return Err(ConfigError::new(
                "mail.retry_cap_secs",
                "must not be below mail.retry_base_secs",
            ));
        }
        let minutes = |value: &Option<Scalar>, key: &str, min: i64, max: i64, default: Duration| {
            value.as_ref().map_or(Ok(default), |v| {
                v.within(key, min, max)
                    .map(|n| Duration::from_secs(n as u64 * 60))
            })
        };
        Ok(Self {
            smtp_host,
            smtp_port,
            smtp_security,
            smtp_username: raw.smtp_username.filter(|u| !u.is_empty()),
            smtp_password: raw.smtp_password.filter(|p| !p.is_empty()).map(Secret::new),
            from_address,
            from_name: raw.from_name.unwrap_or(defaults.from_name),
            public_url,
            language,
            digest_after: minutes(
                &raw.digest_after_minutes,
                "mail.digest_after_minutes",
                0,
                30 * 24 * 60,
                defaults.digest_after,
            )?,
            alert_to,
            welcome: raw.welcome.unwrap_or(defaults.welcome),
            smtp_timeout: secs(
                &raw.smtp_timeout_secs,
                "mail.smtp_timeout_secs",
                1,
                600,
                defaults.smtp_timeout,
            )?,
            retry_base,
            retry_cap,
            max_attempts: match &raw.max_attempts {
                None => defaults.max_attempts,
                Some(n) => n.within("mail.max_attempts", 1, 100)? as u32,
            },
            digest_interval: secs(
                &raw.digest_interval_secs,
                "mail.digest_interval_secs",
                1,
                86_400,
                defaults.digest_interval,
            )?,
            reset_ttl: minutes(
                &raw.reset_ttl_minutes,
                "mail.reset_ttl_minutes",
                5,
                7 * 24 * 60,
                defaults.reset_ttl,
            )?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_leave_mail_off() {
        let config = MailConfig::parse(RawMailConfig::default()).unwrap();
        assert!(config.smtp_host.is_none());
        assert_eq!(config.smtp_port, 587);
    }

    #[test]
    fn a_host_needs_a_sender_and_bad_values_name_their_key() {
        let raw = RawMailConfig {
            smtp_host: Some("smtp.example.com".into()),
            ..Default::default()
        };
        assert_eq!(
            MailConfig::parse(raw.clone()).unwrap_err().key,
            "mail.from_address"
        );
        let raw = RawMailConfig {
            from_address: Some("sb@example.com".into()),
            smtp_security: Some("tls".into()),
            ..raw
        };
        let config = MailConfig::parse(raw.clone()).unwrap();
        assert_eq!(config.smtp_port, 465);
        for (bad, key) in [
            (
                RawMailConfig {
                    smtp_port: Some(Scalar::Text("99999".into())),
                    ..raw.clone()
                },
                "mail.smtp_port",
            ),
            (
                RawMailConfig {
                    public_url: Some("ftp://x".into()),
                    ..raw.clone()
                },
                "mail.public_url",
            ),
            (
                RawMailConfig {
                    alert_to: Some(vec!["not an address".into()]),
                    ..raw.clone()
                },
                "mail.alert_to",
            ),
        ] {
            assert_eq!(MailConfig::parse(bad).unwrap_err().key, key);
        }
    }

    #[test]
    fn env_overlays_the_file_key_by_key_and_the_password_does_not_print() {
        let file = RawMailConfig {
            smtp_host: Some("file-host".into()),
            from_address: Some("sb@example.com".into()),
            ..Default::default()
        };
        let env = RawMailConfig::from_env(|key| match key {
            "SWITCHBOARD_SMTP_PORT" => Some("2525".into()),
            "SWITCHBOARD_SMTP_PASSWORD" => Some("hunter2hunter2".into()),
            _ => None,
        });
        let config = MailConfig::parse(file.overlay(env)).unwrap();
        assert_eq!(config.smtp_host.as_deref(), Some("file-host"));
        assert_eq!(config.smtp_port, 2525);
        assert!(!format!("{config:?}").contains("hunter2"));
        assert_eq!(
            parse_public_url("https://sb.example.com/").as_deref(),
            Some("https://sb.example.com")
        );
    }
}
