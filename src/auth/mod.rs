//! Authentication: local accounts with argon2 hashes, signed expiring bearer tokens, and the
//! check every API call makes. It owns the `accounts` table and never reads another module's
//! tables; whether a staff member is active comes from the directory's replica.

mod accounts;
mod key;
pub mod limiter;
pub mod password;
mod powers;
mod revocation;
mod seal;
mod staff_accounts;
mod token;

pub use accounts::Account;
pub use key::{load_token_key, random_password};
pub use powers::{AdminPower, Powers};
pub use revocation::{DirectoryWatch, RevocationCause, RevocationListener};
pub use seal::{Sealer, Unsealed};
pub use token::{Claims, TokenRejection, TokenSigner};

use crate::locks::RwLockExt;
use std::{
    collections::HashMap,
    sync::{Arc, RwLock},
    time::Duration,
};

use uuid::Uuid;

use crate::{
    config::Secret,
    directory::{Directory, StaffId},
    store::{Actor, AuditEntry, EntityKind, Journal, StoreError},
};

/// Why a login or a token was refused, or auth failed inside.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("invalid login or password")]
    InvalidCredentials,
    #[error("too many failed logins for this account; try again in {0} seconds")]
    TooManyAttempts(u64),
    #[error("the account is disabled")]
    Disabled,
    #[error("missing bearer token")]
    MissingToken,
    #[error("invalid token")]
    InvalidToken,
    #[error("token expired")]
    Expired,
    #[error("token revoked")]
    Revoked,
    #[error("the directory server cannot check passwords right now: {0}")]
    Unavailable(String),
    #[error("{0}")]
    Invalid(String),
    #[error("{0} not found")]
    NotFound(String),
    #[error("internal: {0}")]
    Internal(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<sea_orm::DbErr> for AuthError {
    fn from(err: sea_orm::DbErr) -> Self {
        Self::Store(StoreError::Db(err))
    }
}

/// Tells which admin powers a staff member holds through their roles (the access module).
pub trait AdminLookup: Send + Sync {
    fn powers(&self, staff: StaffId) -> Powers;
}

/// Checks passwords elsewhere (the LDAP connector) for people whose account lives there.
#[async_trait::async_trait]
pub trait ExternalLogin: Send + Sync {
    /// `Ok(Some(staff))` when the password is right for this login, `Ok(None)` when it is not
    /// (or the login is unknown there), `Err` when the server cannot be asked.
    async fn verify(&self, login: &str, password: &str) -> Result<Option<StaffId>, String>;
    /// Whether it checks passwords now (LDAP is configured); if not, local passwords hold.
    fn active(&self) -> bool {
        true
    }
}

/// Who is calling, once their token checked out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub account_id: Uuid,
    pub staff_id: Option<StaffId>,
    /// Admin powers (none for most people).
    pub powers: Powers,
    /// How the caller is named in audit lines.
    pub name: String,
}

impl Principal {
    /// Whether the caller may use the admin API and portal at all.
    pub fn is_admin(&self) -> bool {
        self.powers.any()
    }
}

/// A successful login.
#[derive(Debug, Clone)]
pub struct Session {
    pub token: String,
    /// Seconds since the Unix epoch.
    pub expires_at: i64,
    pub staff_id: Option<StaffId>,
    pub powers: Powers,
}

/// The shortest password accepted for a local account.
pub const MIN_PASSWORD_CHARS: usize = 8;

#[derive(Default)]
struct AccountCache {
    by_id: HashMap<Uuid, Account>,
    by_login: HashMap<String, Uuid>,
    by_staff: HashMap<StaffId, Uuid>,
}

impl AccountCache {
    fn put(&mut self, account: Account) {
        if let Some(login) = &account.login {
            self.by_login.insert(login.clone(), account.id);
        }
        if let Some(staff) = account.staff_id {
            self.by_staff.insert(staff, account.id);
        }
        self.by_id.insert(account.id, account);
    }
}

/// The authentication service.
pub struct Auth {
    journal: Arc<Journal>,
    directory: Arc<Directory>,
    signer: TokenSigner,
    ttl: Duration,
    cache: RwLock<AccountCache>,
    limiter: limiter::FailedLogins,
    /// Verified against when the login is unknown, so timing does not reveal which logins exist.
    dummy_hash: String,
    admin_lookup: RwLock<Option<Arc<dyn AdminLookup>>>,
    external: RwLock<Option<Arc<dyn ExternalLogin>>>,
    revocation_listeners: RwLock<Vec<Arc<dyn RevocationListener>>>,
}

impl Auth {
    /// Loads the accounts and prepares token signing.
    pub async fn open(
        journal: Arc<Journal>,
        directory: Arc<Directory>,
        token_key: &[u8],
        ttl: Duration,
    ) -> Result<Self, AuthError> {
        let mut cache = AccountCache::default();
        for account in accounts::load_all(journal.db()).await? {
            cache.put(account);
        }
        Ok(Self {
            journal,
            directory,
            signer: TokenSigner::new(token_key),
            ttl,
            cache: RwLock::new(cache),
            limiter: limiter::FailedLogins::new(10, Duration::from_secs(15 * 60)),
            dummy_hash: password::hash("not a real password").await?,
            admin_lookup: RwLock::new(None),
            external: RwLock::new(None),
            revocation_listeners: RwLock::new(Vec::new()),
        })
    }

    /// Lets staff hold admin rights through roles.
    pub fn set_admin_lookup(&self, lookup: Arc<dyn AdminLookup>) {
        *self.admin_lookup.write_or_recover() = Some(lookup);
    }

    /// Lets people who came from LDAP log in with their LDAP password.
    pub fn set_external_login(&self, external: Arc<dyn ExternalLogin>) {
        *self.external.write_or_recover() = Some(external);
    }

    /// A service account's powers (all, for `admin`) plus those of the person's roles.
    fn powers_of(&self, account: &Account) -> Powers {
        let own = if account.is_admin {
            Powers::ALL
        } else {
            Powers::NONE
        };
        let through_roles = account.staff_id.map_or(Powers::NONE, |s| {
            self.admin_lookup
                .read_or_recover()
                .as_ref()
                .map_or(Powers::NONE, |l| l.powers(s))
        });
        own.union(through_roles)
    }

    /// Creates the `admin` service account on first start. Returns the password when it was
    /// generated here (to be shown once), `None` when the account existed or one was given.
    pub async fn bootstrap_admin(
        &self,
        password: Option<&Secret>,
    ) -> Result<Option<String>, AuthError> {
        if self.cache.read_or_recover().by_login.contains_key("admin") {
            return Ok(None);
        }
        let (password, generated) = match password {
            Some(p) => (p.expose().to_owned(), false),
            None => (random_password(), true),
        };
        let account = Account {
            id: Uuid::now_v7(),
            login: Some("admin".into()),
            password_hash: Some(password::hash(&password).await?),
            staff_id: None,
            is_admin: true,
            token_epoch: 0,
        };
        self.store(&Actor::system(), "account.bootstrap", vec![account])
            .await?;
        Ok(generated.then_some(password))
    }

    async fn store(
        &self,
        actor: &Actor,
        action: &'static str,
        accounts: Vec<Account>,
    ) -> Result<(), AuthError> {
        let mut txn = self.journal.begin(actor).await?;
        accounts::save(txn.txn(), &accounts).await?;
        for account in &accounts {
            txn.audit(AuditEntry {
                action,
                entity_kind: EntityKind::Account,
                entity_id: Some(account.id),
                before: None,
                // Never the hash: the audit log is readable by admins.
                after: AuditEntry::json(&serde_json::json!({
                    "login": account.login,
                    "staff_id": account.staff_id,
                    "is_admin": account.is_admin,
                })),
            });
        }
        let revoked = txn
            .commit(|_| {
                let mut cache = self.cache.write_or_recover();
                let mut revoked = Vec::new();
                for account in accounts {
                    let bumped = cache
                        .by_id
                        .get(&account.id)
                        .is_some_and(|old| old.token_epoch < account.token_epoch);
                    if let (true, Some(staff)) = (bumped, account.staff_id) {
                        revoked.push(staff);
                    }
                    cache.put(account);
                }
                revoked
            })
            .await?;
        // Open sessions end with the commit, not at their next token check.
        self.announce_revoked(revoked);
        Ok(())
    }

    /// Finds the account a login names: a service account first, then a staff member's.
    pub fn find_account(&self, login: &str) -> Option<Account> {
        let login = login.trim().to_lowercase();
        let cache = self.cache.read_or_recover();
        if let Some(id) = cache.by_login.get(&login) {
            return cache.by_id.get(id).cloned();
        }
        let staff_id = self.directory.read().staff_by_login(&login).map(|s| s.id)?;
        cache
            .by_staff
            .get(&staff_id)
            .and_then(|id| cache.by_id.get(id))
            .cloned()
    }

    /// Checks a password and issues a token.
    pub async fn login(&self, login: &str, password_text: &str) -> Result<Session, AuthError> {
        let key = login.trim().to_lowercase();
        if let Some(wait) = self.limiter.blocked_for(&key) {
            return Err(AuthError::TooManyAttempts(wait.as_secs().max(1)));
        }
        let account = self.find_account(&key);
        // People from LDAP prove their password to LDAP (service accounts never do, so a
        // local admin can still log in while LDAP is down).
        let from_ldap = self
            .directory
            .read()
            .staff_by_login(&key)
            .filter(|s| s.source == crate::directory::RecordSource::Ldap)
            .map(|s| s.id);
        let external = self
            .external
            .read_or_recover()
            .clone()
            .filter(|e| e.active());
        if let (Some(staff_id), Some(external)) = (from_ldap, external)
            && account.as_ref().is_none_or(|a| a.login.is_none())
        {
            return match external.verify(&key, password_text).await {
                Ok(Some(id)) if id == staff_id => {
                    self.limiter.succeeded(&key);
                    let account = self.ensure_staff_account(staff_id).await?;
                    self.issue(&account)
                }
                Ok(_) => {
                    self.limiter.failed(&key);
                    tracing::info!(login = %key, "LDAP login refused");
                    Err(AuthError::InvalidCredentials)
                }
                Err(reason) => Err(AuthError::Unavailable(reason)),
            };
        }
        let hash = account
            .as_ref()
            .and_then(|a| a.password_hash.clone())
            .unwrap_or_else(|| self.dummy_hash.clone());
        let password_ok = password::verify(password_text, &hash).await?;
        let Some(account) = account.filter(|a| password_ok && a.password_hash.is_some()) else {
            self.limiter.failed(&key);
            tracing::info!(login = %key, "login refused");
            return Err(AuthError::InvalidCredentials);
        };
        self.limiter.succeeded(&key);
        self.issue(&account)
    }

    /// Issues a token for an account whose credentials were checked elsewhere (LDAP bind).
    pub fn issue(&self, account: &Account) -> Result<Session, AuthError> {
        if let Some(staff_id) = account.staff_id {
            let active = self
                .directory
                .read()
                .staff(staff_id)
                .is_some_and(|s| s.is_active());
            if !active {
                return Err(AuthError::Disabled);
            }
        }
        let expires_at = chrono::Utc::now().timestamp() + self.ttl.as_secs() as i64;
        let token = self.signer.sign(&Claims {
            sub: account.id,
            epoch: account.token_epoch,
            exp: expires_at,
        });
        Ok(Session {
            token,
            expires_at,
            staff_id: account.staff_id,
            powers: self.powers_of(account),
        })
    }

    /// Checks a bearer token: signature, expiry, epoch, and that the person is still active.
    pub fn authenticate(&self, token: &str) -> Result<Principal, AuthError> {
        let claims = self
            .signer
            .verify(token, chrono::Utc::now().timestamp())
            .map_err(|rejection| match rejection {
                TokenRejection::Expired => AuthError::Expired,
                TokenRejection::Malformed | TokenRejection::BadSignature => AuthError::InvalidToken,
            })?;
        let account = self
            .cache
            .read_or_recover()
            .by_id
            .get(&claims.sub)
            .cloned()
            .ok_or(AuthError::Revoked)?;
        if account.token_epoch != claims.epoch {
            return Err(AuthError::Revoked);
        }
        let name = match account.staff_id {
            Some(staff_id) => {
                let replica = self.directory.read();
                let person = replica.staff(staff_id).ok_or(AuthError::Revoked)?;
                if !person.is_active() {
                    return Err(AuthError::Revoked);
                }
                person.login.clone()
            }
            None => account
                .login
                .clone()
                .unwrap_or_else(|| account.id.to_string()),
        };
        Ok(Principal {
            account_id: account.id,
            staff_id: account.staff_id,
            powers: self.powers_of(&account),
            name,
        })
    }

    /// The CSRF token of a browser session: derived from its bearer token under the token key,
    /// so it needs no storage and dies with the session.
    pub fn csrf_token(&self, session_token: &str) -> String {
        self.signer.derive("portal-csrf", session_token)
    }

    /// The token lifetime (a portal session cookie lives as long).
    pub fn token_ttl(&self) -> Duration {
        self.ttl
    }
}
