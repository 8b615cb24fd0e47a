//! The secrets in mail links. An unsubscribe link carries a signed, single-purpose token (the
//! person's id under an HMAC of a key derived from the token key): it needs no storage and no
//! login, works for as long as the key does, and can do nothing but stop that person's digest.
//! A password-reset link carries 32 random bytes; only their SHA-256 is stored
//! (`mail_tokens`), with an expiry and the moment it was used.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use hmac::{Hmac, KeyInit, Mac};
use rand::RngExt;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::directory::StaffId;

type HmacSha256 = Hmac<Sha256>;

const UNSUBSCRIBE: &[u8] = b"mail-unsubscribe-digest:v1";

/// Signs and checks the tokens of unsubscribe links.
pub(crate) struct LinkKey {
    key: Vec<u8>,
}

impl LinkKey {
    /// A key of its own, derived from the service's token key: a link token can never be
    /// mistaken for a bearer token, nor the other way round.
    pub fn derive(token_key: &[u8]) -> Self {
        let mut mac = mac(token_key);
        mac.update(b"switchboard mail links");
        Self {
            key: mac.finalize().into_bytes().to_vec(),
        }
    }

    fn tag(&self, staff: StaffId) -> HmacSha256 {
        let mut mac = mac(&self.key);
        mac.update(UNSUBSCRIBE);
        mac.update(staff.0.as_bytes());
        mac
    }

    /// The token of `staff`'s unsubscribe link.
    pub fn unsubscribe_token(&self, staff: StaffId) -> String {
        let tag = self.tag(staff).finalize().into_bytes();
        format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(staff.0.as_bytes()),
            URL_SAFE_NO_PAD.encode(&tag[..20])
        )
    }

    /// Whose unsubscribe token this is, if it is genuine (checked in constant time).
    pub fn verify_unsubscribe(&self, token: &str) -> Option<StaffId> {
        let (id, tag) = token.trim().split_once('.')?;
        let id = Uuid::from_slice(&URL_SAFE_NO_PAD.decode(id).ok()?).ok()?;
        let tag = URL_SAFE_NO_PAD.decode(tag).ok()?;
        let staff = StaffId(id);
        self.tag(staff).verify_truncated_left(&tag).ok()?;
        Some(staff)
    }
}

fn mac(key: &[u8]) -> HmacSha256 {
    // HMAC takes a key of any length.
    match <HmacSha256 as KeyInit>::new_from_slice(key) {
        Ok(mac) => mac,
        Err(_) => unreachable!("HMAC accepts keys of every length"),
    }
}

/// A new reset token and the hash that is stored for it.
pub(crate) fn new_secret() -> (String, String) {
    let bytes: [u8; 32] = rand::rng().random();
    let token = URL_SAFE_NO_PAD.encode(bytes);
    let hash = hash(&token);
    (token, hash)
}

/// The stored form of a token.
pub(crate) fn hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.trim().as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unsubscribe_tokens_verify_only_untouched_and_under_their_key() {
        let key = LinkKey::derive(b"0123456789abcdef0123456789abcdef");
        let staff = StaffId(Uuid::now_v7());
        let token = key.unsubscribe_token(staff);
        assert_eq!(key.verify_unsubscribe(&token), Some(staff));
        let other = StaffId(Uuid::now_v7());
        let (_, tag) = token.split_once('.').unwrap();
        let forged = format!("{}.{tag}", URL_SAFE_NO_PAD.encode(other.0.as_bytes()));
        assert_eq!(key.verify_unsubscribe(&forged), None);
        assert_eq!(key.verify_unsubscribe("nonsense"), None);
        let elsewhere = LinkKey::derive(b"another key, another installation");
        assert_eq!(elsewhere.verify_unsubscribe(&token), None);
    }

    #[test]
    fn reset_secrets_are_stored_as_hashes() {
        let (token, stored) = new_secret();
        assert_ne!(token, stored);
        assert_eq!(hash(&token), stored);
        assert_eq!(token.len(), 43);
    }
}
