//! Messaging settings. Mechanics of the gateway and the writer come from `SWITCHBOARD_IM_*`
//! environment variables (read once at start); policies an administrator changes at run time
//! (recall window, file size limit) live in the `im_settings` table behind the admin API.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Gateway and writer mechanics.
#[derive(Debug, Clone)]
pub struct ImConfig {
    /// The largest client frame accepted; larger ones close the session with 1009.
    pub max_frame_bytes: usize,
    /// Frames per second per session, sustained.
    pub rate_per_sec: u32,
    /// Frames allowed in a burst above the sustained rate.
    pub rate_burst: u32,
    /// A session that sends nothing for this long is closed (4000).
    pub idle: Duration,
    /// Frames queued for one session before it counts as too slow (4008).
    pub outbound_queue: usize,
    /// Bytes queued for one session before it counts as too slow (4008).
    pub outbound_bytes: u64,
    /// Sends one session may have waiting for their commit before reading pauses.
    pub max_inflight: u32,
    /// Operations the writer commits together at most.
    pub batch_max: usize,
    /// Operations waiting for the writer before senders wait.
    pub writer_queue: usize,
}

impl Default for ImConfig {
    fn default() -> Self {
        Self {
            max_frame_bytes: 64 * 1024,
            rate_per_sec: 200,
            rate_burst: 400,
            idle: Duration::from_secs(90),
            outbound_queue: 2048,
            outbound_bytes: 4 << 20,
            max_inflight: 256,
            batch_max: 4096,
            writer_queue: 65_536,
        }
    }
}

impl ImConfig {
    /// Reads `SWITCHBOARD_IM_*` through `lookup`; unset or unparsable values keep defaults
    /// (and say so in the log).
    pub fn from_env(lookup: impl Fn(&str) -> Option<String>) -> Self {
        let mut config = Self::default();
        let read = |key: &str, min: u64, max: u64| -> Option<u64> {
            let text = lookup(key)?;
            match text.trim().parse::<u64>() {
                Ok(n) if (min..=max).contains(&n) => Some(n),
                _ => {
                    tracing::warn!(key, value = %text, min, max, "ignoring out-of-range setting");
                    None
                }
            }
        };
        if let Some(n) = read("SWITCHBOARD_IM_MAX_FRAME_BYTES", 1024, 16 << 20) {
            config.max_frame_bytes = n as usize;
        }
        if let Some(n) = read("SWITCHBOARD_IM_RATE_PER_SEC", 1, 1_000_000) {
            config.rate_per_sec = n as u32;
        }
        if let Some(n) = read("SWITCHBOARD_IM_RATE_BURST", 1, 1_000_000) {
            config.rate_burst = n as u32;
        }
        if let Some(n) = read("SWITCHBOARD_IM_IDLE_SECS", 5, 3600) {
            config.idle = Duration::from_secs(n);
        }
        if let Some(n) = read("SWITCHBOARD_IM_OUTBOUND_QUEUE", 16, 1_000_000) {
            config.outbound_queue = n as usize;
        }
        if let Some(n) = read("SWITCHBOARD_IM_OUTBOUND_BYTES", 64 << 10, 1 << 30) {
            config.outbound_bytes = n;
        }
        if let Some(n) = read("SWITCHBOARD_IM_MAX_INFLIGHT", 1, 100_000) {
            config.max_inflight = n as u32;
        }
        if let Some(n) = read("SWITCHBOARD_IM_BATCH_MAX", 1, 100_000) {
            config.batch_max = n as usize;
        }
        config
    }
}

/// Policies an administrator may change at run time (`/api/v1/im/settings`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(default)]
pub struct Settings {
    /// How long after sending a message its sender may recall it (group admins: any time).
    pub recall_window_secs: u64,
    /// How long after sending a text its sender may edit it.
    pub edit_window_secs: u64,
    /// The largest file upload, in bytes.
    pub max_file_bytes: u64,
    /// Whether offline push notifications carry the message text; `null` (the default): as
    /// the configuration file's `push.include_text` says (off unless set).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub push_include_text: Option<bool>,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            recall_window_secs: 120,
            edit_window_secs: 24 * 3600,
            max_file_bytes: 20 * 1024 * 1024,
            push_include_text: None,
        }
    }
}

impl Settings {
    /// Checks values an administrator sent.
    pub fn check(&self) -> Result<(), super::ImError> {
        if self.recall_window_secs > 30 * 86_400 {
            return Err(super::ImError::invalid(
                "recall_window_secs",
                "at most 30 days",
            ));
        }
        if self.edit_window_secs > 365 * 86_400 {
            return Err(super::ImError::invalid(
                "edit_window_secs",
                "at most a year",
            ));
        }
        if !(1024..=(4u64 << 30)).contains(&self.max_file_bytes) {
            return Err(super::ImError::invalid(
                "max_file_bytes",
                "between 1 KiB and 4 GiB",
            ));
        }
        Ok(())
    }
}
