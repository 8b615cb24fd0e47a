//! Revocation that takes effect at once: when a person's tokens stop being valid (logout, a new
//! password, disabled or removed from the directory, admin rights taken away), listeners such
//! as the WebSocket gateway are told in the same moment, so open sessions end with the commit
//! rather than at their next periodic token check.

use crate::locks::RwLockExt;
use std::sync::{Arc, Weak};

use super::Auth;
use crate::{
    directory::{Change, DirectoryListener, Replica, StaffId},
    store::{Actor, Version},
};

/// Told when every token of a person stops being valid.
pub trait RevocationListener: Send + Sync {
    /// Ends whatever the person has open. Called while a writer lock may be held: it must only
    /// signal, never wait.
    fn revoked(&self, staff: StaffId);
}

/// Why a person's tokens were revoked by the system rather than by an administrator's call.
#[derive(Debug, Clone, Copy)]
pub enum RevocationCause {
    /// Disabled, or removed from the directory.
    LeftDirectory,
    /// No longer holds any admin role.
    AdminRightsRemoved,
}

impl RevocationCause {
    fn audit_action(self) -> &'static str {
        match self {
            Self::LeftDirectory => "account.revoke_tokens.left_directory",
            Self::AdminRightsRemoved => "account.revoke_tokens.admin_removed",
        }
    }
}

/// Follows the directory: a person who is disabled or removed loses their sessions at once,
/// and their tokens stay revoked if they are enabled again.
pub struct DirectoryWatch {
    auth: Weak<Auth>,
}

impl DirectoryWatch {
    pub fn new(auth: &Arc<Auth>) -> Arc<Self> {
        Arc::new(Self {
            auth: Arc::downgrade(auth),
        })
    }
}

impl DirectoryListener for DirectoryWatch {
    fn committed(&self, _version: Version, changes: &[Change], _replica: &Replica) {
        let left: Vec<StaffId> = changes
            .iter()
            .filter_map(|change| match change {
                Change::Staff {
                    before: Some(before),
                    after,
                } if before.is_active() && after.as_ref().is_none_or(|a| !a.is_active()) => {
                    Some(before.id)
                }
                _ => None,
            })
            .collect();
        if let Some(auth) = self.auth.upgrade() {
            auth.revoke_in_background(left, RevocationCause::LeftDirectory);
        }
    }
}

impl Auth {
    /// Tells every listener, now, that these people's tokens are no longer valid.
    pub(super) fn announce_revoked(&self, staff: impl IntoIterator<Item = StaffId>) {
        let listeners = self.revocation_listeners.read_or_recover().clone();
        for staff in staff {
            for listener in &listeners {
                listener.revoked(staff);
            }
        }
    }

    /// Registers a listener for revocations (the messaging gateway ends open sessions).
    pub fn on_revoked(&self, listener: Arc<dyn RevocationListener>) {
        self.revocation_listeners.write_or_recover().push(listener);
    }

    /// Ends these people's sessions at once and revokes their tokens in a write of its own.
    /// For callers inside another commit (directory and policy listeners), which cannot wait
    /// for a second write: the announcement is immediate, the epoch bump follows.
    pub fn revoke_in_background(self: &Arc<Self>, staff: Vec<StaffId>, cause: RevocationCause) {
        if staff.is_empty() {
            return;
        }
        self.announce_revoked(staff.iter().copied());
        let auth = self.clone();
        tokio::spawn(async move {
            if let Err(error) = auth.revoke_staff(&Actor::system(), &staff, cause).await {
                tracing::error!(%error, ?cause, people = staff.len(), "could not revoke tokens");
            }
        });
    }

    /// Revokes every token of these people (those who have an account) in one write.
    pub async fn revoke_staff(
        &self,
        actor: &Actor,
        staff: &[StaffId],
        cause: RevocationCause,
    ) -> Result<(), super::AuthError> {
        let accounts: Vec<_> = staff
            .iter()
            .filter_map(|s| self.staff_account(*s))
            .map(|mut account| {
                account.token_epoch += 1;
                account
            })
            .collect();
        if accounts.is_empty() {
            return Ok(());
        }
        tracing::info!(?cause, people = accounts.len(), "tokens revoked");
        self.store(actor, cause.audit_action(), accounts).await
    }
}
