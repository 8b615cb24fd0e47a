//! Admin powers taken away end the person's sessions at once (docs/api.md: losing admin rights
//! revokes every token). The admin API already checks rights on every call; this makes
//! an open portal or WebSocket session of a former administrator end with the commit too.

use std::sync::{Arc, Weak};

use super::{PolicyListener, PolicySnapshot};
use crate::{
    auth::{Auth, RevocationCause},
    directory::{Replica, StaffId},
    store::Version,
};

/// Watches policy commits for people who lose some admin power.
pub struct AdminWatch {
    auth: Weak<Auth>,
}

impl AdminWatch {
    pub fn new(auth: &Arc<Auth>) -> Arc<Self> {
        Arc::new(Self {
            auth: Arc::downgrade(auth),
        })
    }
}

/// The people who hold fewer admin powers under `new` than under `old`.
pub fn former_admins(old: &PolicySnapshot, new: &PolicySnapshot) -> Vec<StaffId> {
    let admin_roles = |s: &PolicySnapshot| -> Vec<_> {
        let mut roles: Vec<_> = s
            .role_profiles
            .iter()
            .filter(|(_, p)| p.powers.any())
            .map(|(r, p)| (*r, p.powers.to_text()))
            .collect();
        roles.sort();
        roles
    };
    // Most policy edits touch neither who holds roles nor which roles are admin roles.
    if Arc::ptr_eq(&old.staff_roles, &new.staff_roles) && admin_roles(old) == admin_roles(new) {
        return Vec::new();
    }
    old.staff_roles
        .keys()
        .copied()
        .filter(|staff| !new.powers(*staff).covers(old.powers(*staff)))
        .collect()
}

impl PolicyListener for AdminWatch {
    fn policy_changed(
        &self,
        _version: Version,
        old: &PolicySnapshot,
        new: &PolicySnapshot,
        _replica: &Replica,
    ) {
        let former = former_admins(old, new);
        if let Some(auth) = self.auth.upgrade() {
            auth.revoke_in_background(former, RevocationCause::AdminRightsRemoved);
        }
    }
}
