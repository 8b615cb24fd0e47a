//! When people were last connected, for those who mail them while they are away (the digest of
//! unread messages). In memory only: after a restart, everyone not seen since counts as
//! offline since the start.

use std::{collections::HashMap, sync::Mutex};

use super::{Im, model::now_millis};
use crate::{directory::StaffId, locks::MutexExt};

/// The moment each person's last session closed.
pub(crate) struct LastSeen {
    started_ms: i64,
    offline_at: Mutex<HashMap<StaffId, i64>>,
}

impl LastSeen {
    pub(crate) fn new() -> Self {
        Self {
            started_ms: now_millis(),
            offline_at: Mutex::new(HashMap::new()),
        }
    }

    /// The person's last session has just closed.
    pub(crate) fn went_offline(&self, staff: StaffId) {
        self.offline_at
            .lock_or_recover()
            .insert(staff, now_millis());
    }
}

impl Im {
    /// Adds a listener for messages to people with no session online (offline push); the
    /// dispatcher calls it after each commit with the people it found offline.
    pub fn on_offline_message(&self, listener: std::sync::Arc<dyn super::OfflineListener>) {
        self.webhooks.listen_offline(listener);
    }

    /// Since when a person has been offline (milliseconds since the Unix epoch): `None` while
    /// they have a session on this node; the process start for people not seen since.
    pub fn offline_since(&self, staff: StaffId) -> Option<i64> {
        if self.sessions.online(staff) {
            return None;
        }
        Some(
            self.last_seen
                .offline_at
                .lock_or_recover()
                .get(&staff)
                .copied()
                .unwrap_or(self.last_seen.started_ms),
        )
    }
}
