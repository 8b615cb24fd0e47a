//! Managing accounts: revoking tokens, staff passwords, creating and removing staff accounts.
//! Every change goes through `Auth::store`, which audits it and ends revoked sessions.

use uuid::Uuid;

use super::{Account, Auth, AuthError, MIN_PASSWORD_CHARS, accounts, password};
use crate::{
    directory::StaffId,
    locks::RwLockExt,
    store::{Actor, AuditEntry, EntityKind},
};

impl Auth {
    /// Revokes every token of an account.
    pub async fn revoke_all(&self, actor: &Actor, account_id: Uuid) -> Result<(), AuthError> {
        let mut account = self
            .cache
            .read_or_recover()
            .by_id
            .get(&account_id)
            .cloned()
            .ok_or_else(|| AuthError::NotFound(format!("account {account_id}")))?;
        account.token_epoch += 1;
        self.store(actor, "account.revoke_tokens", vec![account])
            .await
    }

    /// Sets (or creates) the local password of a staff member's account.
    pub async fn set_staff_password(
        &self,
        actor: &Actor,
        staff_id: StaffId,
        password_text: &str,
    ) -> Result<(), AuthError> {
        if password_text.chars().count() < MIN_PASSWORD_CHARS {
            return Err(AuthError::Invalid(format!(
                "password: must be at least {MIN_PASSWORD_CHARS} characters"
            )));
        }
        if self.directory.read().staff(staff_id).is_none() {
            return Err(AuthError::NotFound(format!("staff {staff_id}")));
        }
        let hash = password::hash(password_text).await?;
        let account = match self.staff_account(staff_id) {
            Some(mut account) => {
                account.password_hash = Some(hash);
                // A new password ends every session that used the old one.
                account.token_epoch += 1;
                account
            }
            None => Account {
                id: Uuid::now_v7(),
                login: None,
                password_hash: Some(hash),
                staff_id: Some(staff_id),
                is_admin: false,
                token_epoch: 0,
            },
        };
        self.store(actor, "account.set_password", vec![account])
            .await
    }

    /// Creates accounts for many staff at once with one shared, already hashed password
    /// (used by the demo company; real installations use LDAP or per-person passwords).
    pub async fn create_staff_accounts(
        &self,
        actor: &Actor,
        staff: &[StaffId],
        password_hash: &str,
    ) -> Result<(), AuthError> {
        let accounts = staff
            .iter()
            .map(|staff_id| Account {
                id: Uuid::now_v7(),
                login: None,
                password_hash: Some(password_hash.to_owned()),
                staff_id: Some(*staff_id),
                is_admin: false,
                token_epoch: 0,
            })
            .collect();
        self.store(actor, "account.create", accounts).await
    }

    /// The account of a staff member, created (without a local password) if missing.
    pub(super) async fn ensure_staff_account(
        &self,
        staff_id: StaffId,
    ) -> Result<Account, AuthError> {
        if let Some(account) = self.staff_account(staff_id) {
            return Ok(account);
        }
        let account = Account {
            id: Uuid::now_v7(),
            login: None,
            password_hash: None,
            staff_id: Some(staff_id),
            is_admin: false,
            token_epoch: 0,
        };
        self.store(&Actor::system(), "account.create", vec![account.clone()])
            .await?;
        Ok(account)
    }

    /// The account of a staff member, if they have one.
    pub fn staff_account(&self, staff_id: StaffId) -> Option<Account> {
        let cache = self.cache.read_or_recover();
        cache
            .by_staff
            .get(&staff_id)
            .and_then(|id| cache.by_id.get(id))
            .cloned()
    }

    /// Removes a staff member's account (when the person is deleted).
    pub async fn remove_staff_account(
        &self,
        actor: &Actor,
        staff_id: StaffId,
    ) -> Result<(), AuthError> {
        let Some(account) = self.staff_account(staff_id) else {
            return Ok(());
        };
        let mut txn = self.journal.begin(actor).await?;
        accounts::delete(txn.txn(), account.id).await?;
        txn.audit(AuditEntry {
            action: "account.delete",
            entity_kind: EntityKind::Account,
            entity_id: Some(account.id),
            before: AuditEntry::json(&serde_json::json!({"staff_id": account.staff_id})),
            after: None,
        });
        txn.commit(|_| {
            let mut cache = self.cache.write_or_recover();
            cache.by_id.remove(&account.id);
            cache.by_staff.remove(&staff_id);
        })
        .await?;
        Ok(())
    }
}
