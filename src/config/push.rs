//! Offline push: the `[push]` table of the configuration file and `SWITCHBOARD_PUSH_*`
//! variables. Push is off while no gateway URL is set.

use std::time::Duration;

use serde::Deserialize;

use super::{ConfigError, Flag, mail::Scalar};

/// Unvalidated `[push]` settings.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPushConfig {
    pub gateway_url: Option<String>,
    pub include_text: Option<Flag>,
    pub batch_window_ms: Option<Scalar>,
    pub timeout_secs: Option<Scalar>,
    pub retry_base_ms: Option<Scalar>,
    pub retry_cap_secs: Option<Scalar>,
    pub max_attempts: Option<Scalar>,
}

impl RawPushConfig {
    /// The variables that may set push settings (the mechanics are file only).
    pub fn from_env(lookup: impl Fn(&str) -> Option<String>) -> Self {
        Self {
            gateway_url: lookup("SWITCHBOARD_PUSH_GATEWAY_URL"),
            include_text: lookup("SWITCHBOARD_PUSH_INCLUDE_TEXT").map(Flag::Text),
            batch_window_ms: lookup("SWITCHBOARD_PUSH_BATCH_WINDOW_MS").map(Scalar::Text),
            ..Self::default()
        }
    }

    /// Keys set in `over` replace those in `self`, one by one.
    pub fn overlay(self, over: RawPushConfig) -> Self {
        Self {
            gateway_url: over.gateway_url.or(self.gateway_url),
            include_text: over.include_text.or(self.include_text),
            batch_window_ms: over.batch_window_ms.or(self.batch_window_ms),
            timeout_secs: over.timeout_secs.or(self.timeout_secs),
            retry_base_ms: over.retry_base_ms.or(self.retry_base_ms),
            retry_cap_secs: over.retry_cap_secs.or(self.retry_cap_secs),
            max_attempts: over.max_attempts.or(self.max_attempts),
        }
    }
}

/// Validated push settings.
#[derive(Debug, Clone)]
pub struct PushConfig {
    /// Where notifications are POSTed (`.../_matrix/push/v1/notify`); `None`: push is off.
    pub gateway_url: Option<String>,
    /// Whether notifications carry the message text (the messaging setting
    /// `push_include_text` overrides it at run time).
    pub include_text: bool,
    /// How long a notification waits for later messages of its conversation to fold in.
    pub batch_window: Duration,
    /// The limit of one request to the gateway.
    pub timeout: Duration,
    /// The wait after the first failed attempt; it doubles after each further one...
    pub retry_base: Duration,
    /// ...up to this.
    pub retry_cap: Duration,
    /// Attempts before a notification is given up.
    pub max_attempts: u32,
}

impl Default for PushConfig {
    fn default() -> Self {
        Self {
            gateway_url: None,
            include_text: false,
            batch_window: Duration::from_millis(2000),
            timeout: Duration::from_secs(10),
            retry_base: Duration::from_millis(1000),
            retry_cap: Duration::from_secs(600),
            max_attempts: 10,
        }
    }
}

impl PushConfig {
    pub fn parse(raw: RawPushConfig) -> Result<Self, ConfigError> {
        let defaults = Self::default();
        let gateway_url = match raw.gateway_url.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(text) => match reqwest::Url::parse(text) {
                Ok(url) if matches!(url.scheme(), "http" | "https") && url.has_host() => {
                    Some(text.to_owned())
                }
                _ => {
                    return Err(ConfigError::new(
                        "push.gateway_url",
                        format!("'{text}' is not an http:// or https:// URL"),
                    ));
                }
            },
        };
        let millis = |value: &Option<Scalar>, key: &str, min: i64, max: i64, default: Duration| {
            value
                .as_ref()
                .map(|v| {
                    v.within(key, min, max)
                        .map(|n| Duration::from_millis(n as u64))
                })
                .unwrap_or(Ok(default))
        };
        Ok(Self {
            gateway_url,
            include_text: match &raw.include_text {
                Some(flag) => flag.parse("push.include_text")?,
                None => defaults.include_text,
            },
            batch_window: millis(
                &raw.batch_window_ms,
                "push.batch_window_ms",
                0,
                600_000,
                defaults.batch_window,
            )?,
            timeout: millis(
                &raw.timeout_secs.as_ref().map(|s| scaled(s, 1000)),
                "push.timeout_secs",
                1000,
                300_000,
                defaults.timeout,
            )
            .map_err(|e| seconds_error(e, "push.timeout_secs", 1, 300))?,
            retry_base: millis(
                &raw.retry_base_ms,
                "push.retry_base_ms",
                10,
                3_600_000,
                defaults.retry_base,
            )?,
            retry_cap: millis(
                &raw.retry_cap_secs.as_ref().map(|s| scaled(s, 1000)),
                "push.retry_cap_secs",
                1000,
                86_400_000,
                defaults.retry_cap,
            )
            .map_err(|e| seconds_error(e, "push.retry_cap_secs", 1, 86_400))?,
            max_attempts: match &raw.max_attempts {
                Some(n) => n.within("push.max_attempts", 1, 100)? as u32,
                None => defaults.max_attempts,
            },
        })
    }

    /// Whether a gateway is configured.
    pub fn enabled(&self) -> bool {
        self.gateway_url.is_some()
    }
}

/// A number of seconds as milliseconds (unparsable text stays unparsable).
fn scaled(value: &Scalar, factor: i64) -> Scalar {
    match value {
        Scalar::Number(n) => Scalar::Number(n.saturating_mul(factor)),
        Scalar::Text(text) => match text.trim().parse::<i64>() {
            Ok(n) => Scalar::Number(n.saturating_mul(factor)),
            Err(_) => Scalar::Text(text.clone()),
        },
    }
}

fn seconds_error(_: ConfigError, key: &str, min: i64, max: i64) -> ConfigError {
    ConfigError::new(key, format!("must be a number from {min} to {max}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn off_without_a_url_and_urls_are_checked() {
        let config = PushConfig::parse(RawPushConfig::default()).unwrap();
        assert!(!config.enabled() && !config.include_text);
        let config = PushConfig::parse(RawPushConfig {
            gateway_url: Some("http://127.0.0.1:9/_matrix/push/v1/notify".into()),
            include_text: Some(Flag::Text("true".into())),
            batch_window_ms: Some(Scalar::Text("250".into())),
            ..RawPushConfig::default()
        })
        .unwrap();
        assert!(config.enabled() && config.include_text);
        assert_eq!(config.batch_window, Duration::from_millis(250));
        for bad in ["ftp://x/", "not a url", "http://"] {
            let err = PushConfig::parse(RawPushConfig {
                gateway_url: Some(bad.into()),
                ..RawPushConfig::default()
            })
            .unwrap_err();
            assert_eq!(err.key, "push.gateway_url", "{bad}");
        }
        let err = PushConfig::parse(RawPushConfig {
            timeout_secs: Some(Scalar::Number(0)),
            ..RawPushConfig::default()
        })
        .unwrap_err();
        assert_eq!(err.key, "push.timeout_secs");
    }
}
