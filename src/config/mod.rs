//! One typed configuration, assembled from defaults, an optional TOML file, `SWITCHBOARD_*`
//! environment variables and command-line flags (in rising precedence), and validated once at
//! start-up: a bad value stops the process with one line naming the key and the reason.

use std::{fmt, net::SocketAddr, path::PathBuf, time::Duration};

use serde::Deserialize;

pub mod address;
pub mod ldap;
pub mod mail;
pub mod push;

/// A configuration value that could not be used: which key, and why.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("configuration error: {key}: {reason}")]
pub struct ConfigError {
    pub key: String,
    pub reason: String,
}

impl ConfigError {
    fn new(key: &str, reason: impl Into<String>) -> Self {
        Self {
            key: key.to_owned(),
            reason: reason.into(),
        }
    }
}

/// A value that must never be printed: `Debug` shows only that it is set.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }
    /// The secret itself; call only where it is used, never to log.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

/// The validated configuration the service runs with.
#[derive(Debug, Clone)]
pub struct Config {
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    pub database_url: String,
    pub admin_password: Option<Secret>,
    pub token_secret: Option<Secret>,
    pub token_ttl: Duration,
    pub log_format: LogFormat,
    pub demo: bool,
    /// How long contact-sync history is kept for clients that stay away (then they reset).
    pub contacts_retention: Duration,
    /// The LDAP connector, when an `[ldap]` table is configured.
    pub ldap: Option<ldap::LdapConfig>,
    /// Portal cookies are `Secure` (also when a proxy sends `X-Forwarded-Proto: https`).
    pub secure_cookies: bool,
    /// Mail: the SMTP server and what is mailed (the first values; see `config::mail`).
    pub mail: mail::MailConfig,
    /// Offline push: the gateway and what notifications carry (see `config::push`).
    pub push: push::PushConfig,
}

/// A yes/no setting: a TOML boolean, or text from the environment (`true`, `1`, `false`, `0`).
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum Flag {
    Bool(bool),
    Text(String),
}

impl Flag {
    fn parse(&self, key: &str) -> Result<bool, ConfigError> {
        match self {
            Self::Bool(value) => Ok(*value),
            Self::Text(text) => match text.trim().to_ascii_lowercase().as_str() {
                "true" | "1" | "yes" => Ok(true),
                "false" | "0" | "no" | "" => Ok(false),
                _ => Err(ConfigError::new(
                    key,
                    format!("'{text}' is not true or false"),
                )),
            },
        }
    }
}

/// Unvalidated settings as they come from a file, the environment or flags.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    pub listen: Option<String>,
    pub data_dir: Option<String>,
    pub database_url: Option<String>,
    pub admin_password: Option<String>,
    pub token_secret: Option<String>,
    pub token_ttl_secs: Option<String>,
    pub log_format: Option<String>,
    pub demo: Option<bool>,
    pub contacts_retention_days: Option<String>,
    pub secure_cookies: Option<Flag>,
    pub ldap: Option<ldap::RawLdapConfig>,
    pub mail: Option<mail::RawMailConfig>,
    pub push: Option<push::RawPushConfig>,
    /// `SWITCHBOARD_LDAP_BIND_PASSWORD` (environment only).
    #[serde(skip)]
    pub ldap_bind_password: Option<String>,
}

impl RawConfig {
    /// Reads a TOML file; unknown keys are errors so typos do not pass silently.
    pub fn from_file(path: &std::path::Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            ConfigError::new("config", format!("cannot read {}: {e}", path.display()))
        })?;
        toml::from_str(&text)
            .map_err(|e| ConfigError::new("config", format!("{}: {}", path.display(), e.message())))
    }

    /// Reads the `SWITCHBOARD_*` variables through `lookup` (the process environment in `main`).
    pub fn from_env(lookup: impl Fn(&str) -> Option<String>) -> Self {
        Self {
            listen: lookup("SWITCHBOARD_LISTEN"),
            data_dir: lookup("SWITCHBOARD_DATA_DIR"),
            database_url: lookup("SWITCHBOARD_DATABASE_URL"),
            admin_password: lookup("SWITCHBOARD_ADMIN_PASSWORD"),
            token_secret: lookup("SWITCHBOARD_TOKEN_SECRET"),
            token_ttl_secs: lookup("SWITCHBOARD_TOKEN_TTL_SECS"),
            log_format: lookup("SWITCHBOARD_LOG_FORMAT"),
            demo: None,
            contacts_retention_days: lookup("SWITCHBOARD_CONTACTS_RETENTION_DAYS"),
            secure_cookies: lookup("SWITCHBOARD_SECURE_COOKIES").map(Flag::Text),
            ldap: None,
            mail: Some(mail::RawMailConfig::from_env(&lookup)),
            push: Some(push::RawPushConfig::from_env(&lookup)),
            ldap_bind_password: lookup("SWITCHBOARD_LDAP_BIND_PASSWORD"),
        }
    }

    /// Keys set in `over` replace those in `self`.
    pub fn overlay(self, over: RawConfig) -> Self {
        Self {
            listen: over.listen.or(self.listen),
            data_dir: over.data_dir.or(self.data_dir),
            database_url: over.database_url.or(self.database_url),
            admin_password: over.admin_password.or(self.admin_password),
            token_secret: over.token_secret.or(self.token_secret),
            token_ttl_secs: over.token_ttl_secs.or(self.token_ttl_secs),
            log_format: over.log_format.or(self.log_format),
            demo: over.demo.or(self.demo),
            contacts_retention_days: over
                .contacts_retention_days
                .or(self.contacts_retention_days),
            secure_cookies: over.secure_cookies.or(self.secure_cookies),
            ldap: over.ldap.or(self.ldap),
            mail: match (self.mail, over.mail) {
                (Some(under), Some(over)) => Some(under.overlay(over)),
                (under, over) => over.or(under),
            },
            push: match (self.push, over.push) {
                (Some(under), Some(over)) => Some(under.overlay(over)),
                (under, over) => over.or(under),
            },
            ldap_bind_password: over.ldap_bind_password.or(self.ldap_bind_password),
        }
    }
}

impl Config {
    pub const DEFAULT_LISTEN: &'static str = "127.0.0.1:8080";
    pub const DEFAULT_DATA_DIR: &'static str = "./data";
    pub const DEFAULT_TOKEN_TTL_SECS: u64 = 12 * 3600;

    /// Turns raw settings into a configuration that is valid by construction.
    pub fn parse(raw: RawConfig) -> Result<Self, ConfigError> {
        let listen_text = raw.listen.as_deref().unwrap_or(Self::DEFAULT_LISTEN);
        let listen: SocketAddr = listen_text.parse().map_err(|_| {
            ConfigError::new(
                "listen",
                format!("'{listen_text}' is not an address:port such as 127.0.0.1:8080"),
            )
        })?;

        let data_dir = PathBuf::from(raw.data_dir.as_deref().unwrap_or(Self::DEFAULT_DATA_DIR));
        if data_dir.as_os_str().is_empty() {
            return Err(ConfigError::new("data_dir", "must not be empty"));
        }

        let database_url = match raw.database_url {
            Some(url) => parse_database_url(&url)?,
            None => format!(
                "sqlite://{}?mode=rwc",
                data_dir.join("switchboard.db").display()
            ),
        };

        let admin_password = match raw.admin_password {
            Some(p) if p.chars().count() < 8 => {
                return Err(ConfigError::new(
                    "admin_password",
                    "must be at least 8 characters",
                ));
            }
            other => other.map(Secret::new),
        };

        let token_secret = match raw.token_secret {
            Some(s) if s.len() < 32 => {
                return Err(ConfigError::new(
                    "token_secret",
                    "must be at least 32 characters of random text",
                ));
            }
            other => other.map(Secret::new),
        };

        let token_ttl = match raw.token_ttl_secs {
            None => Duration::from_secs(Self::DEFAULT_TOKEN_TTL_SECS),
            Some(text) => match text.trim().parse::<u64>() {
                Ok(secs) if (60..=30 * 24 * 3600).contains(&secs) => Duration::from_secs(secs),
                _ => {
                    return Err(ConfigError::new(
                        "token_ttl_secs",
                        format!("'{text}' is not a number of seconds between 60 and 2592000"),
                    ));
                }
            },
        };

        let log_format = match raw.log_format.as_deref().unwrap_or("text") {
            "text" => LogFormat::Text,
            "json" => LogFormat::Json,
            other => {
                return Err(ConfigError::new(
                    "log_format",
                    format!("'{other}' is not one of: text, json"),
                ));
            }
        };

        let contacts_retention = match raw.contacts_retention_days {
            None => Duration::from_secs(30 * 86_400),
            Some(text) => match text.trim().parse::<u64>() {
                Ok(days) if (1..=3650).contains(&days) => Duration::from_secs(days * 86_400),
                _ => {
                    return Err(ConfigError::new(
                        "contacts_retention_days",
                        format!("'{text}' is not a number of days between 1 and 3650"),
                    ));
                }
            },
        };

        Ok(Self {
            listen,
            data_dir,
            database_url,
            admin_password,
            token_secret,
            token_ttl,
            log_format,
            demo: raw.demo.unwrap_or(false),
            contacts_retention,
            secure_cookies: match &raw.secure_cookies {
                Some(flag) => flag.parse("secure_cookies")?,
                None => false,
            },
            ldap: match raw.ldap {
                Some(ldap) => Some(ldap::LdapConfig::parse(ldap, raw.ldap_bind_password)?),
                None => None,
            },
            mail: mail::MailConfig::parse(raw.mail.unwrap_or_default())?,
            push: push::PushConfig::parse(raw.push.unwrap_or_default())?,
        })
    }

    /// Whether the database is the embedded SQLite file.
    pub fn is_sqlite(&self) -> bool {
        self.database_url.starts_with("sqlite:")
    }
}

fn parse_database_url(url: &str) -> Result<String, ConfigError> {
    let scheme_ok = ["sqlite:", "postgres://", "postgresql://"]
        .iter()
        .any(|scheme| url.starts_with(scheme));
    if !scheme_ok {
        return Err(ConfigError::new(
            "database_url",
            "must start with sqlite:, postgres:// or postgresql://",
        ));
    }
    Ok(url.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw() -> RawConfig {
        RawConfig::default()
    }

    #[test]
    fn defaults_give_embedded_sqlite_on_localhost() {
        let config = Config::parse(raw()).unwrap();
        assert_eq!(config.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(
            config.database_url,
            "sqlite://./data/switchboard.db?mode=rwc"
        );
        assert!(config.is_sqlite());
        assert_eq!(config.token_ttl, Duration::from_secs(12 * 3600));
    }

    #[test]
    fn bad_listen_names_the_key() {
        let err = Config::parse(RawConfig {
            listen: Some("localhost".into()),
            ..raw()
        })
        .unwrap_err();
        assert_eq!(err.key, "listen");
        assert!(err.to_string().contains("'localhost'"), "{err}");
    }

    #[test]
    fn unsupported_database_is_refused() {
        let err = Config::parse(RawConfig {
            database_url: Some("mysql://localhost/db".into()),
            ..raw()
        })
        .unwrap_err();
        assert_eq!(err.key, "database_url");
    }

    #[test]
    fn short_secrets_are_refused() {
        let err = Config::parse(RawConfig {
            admin_password: Some("short".into()),
            ..raw()
        })
        .unwrap_err();
        assert_eq!(err.key, "admin_password");
        let err = Config::parse(RawConfig {
            token_secret: Some("x".repeat(31)),
            ..raw()
        })
        .unwrap_err();
        assert_eq!(err.key, "token_secret");
    }

    #[test]
    fn ttl_must_be_a_sane_number() {
        for bad in ["abc", "5", "99999999"] {
            let err = Config::parse(RawConfig {
                token_ttl_secs: Some(bad.into()),
                ..raw()
            })
            .unwrap_err();
            assert_eq!(err.key, "token_ttl_secs", "{bad}");
        }
    }

    #[test]
    fn later_layers_win_and_env_is_read_by_name() {
        let file = RawConfig {
            listen: Some("127.0.0.1:1".into()),
            data_dir: Some("/file".into()),
            ..raw()
        };
        let env = RawConfig::from_env(|key| {
            (key == "SWITCHBOARD_LISTEN").then(|| "0.0.0.0:9000".to_owned())
        });
        let config = Config::parse(file.overlay(env)).unwrap();
        assert_eq!(config.listen.to_string(), "0.0.0.0:9000");
        assert_eq!(config.data_dir, PathBuf::from("/file"));
    }

    #[test]
    fn secrets_do_not_print() {
        let secret = Secret::new("hunter2hunter2");
        assert!(!format!("{secret:?}").contains("hunter2"));
    }

    #[test]
    fn unknown_file_keys_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        std::fs::write(&path, "listn = \"1.2.3.4:5\"\n").unwrap();
        let err = RawConfig::from_file(&path).unwrap_err();
        assert_eq!(err.key, "config");
        assert!(err.reason.contains("listn"), "{err}");
    }
}
