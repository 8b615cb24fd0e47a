//! Secrets that settings keep in the database (the SMTP password, the LDAP bind password) are
//! sealed at rest: AES-256-GCM under a key derived from the token key, bound to what they are
//! for. A database dump or backup alone no longer gives away the credentials of the company's
//! mail and directory servers; it takes the token key too, which lives in the data directory
//! (mode 0600) or in the environment.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use hmac::{Hmac, KeyInit, Mac};
use rand::RngExt;
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};

use crate::config::Secret;

/// Marks a sealed value; anything else in a secret column is from before sealing.
const PREFIX: &str = "sealed:v1:";
/// Separates the key from the one that signs tokens and mail links.
const DERIVATION_LABEL: &[u8] = b"switchboard settings seal v1";

/// What a secret column holds, opened.
#[derive(Debug)]
pub enum Unsealed {
    /// Sealed by this server's key.
    Sealed(Secret),
    /// Stored in clear by a version before sealing: usable, and to be sealed again.
    Legacy(Secret),
    /// Sealed under another key (the token key was replaced) or damaged: unusable, and an
    /// administrator must enter the secret again.
    Unreadable,
}

impl Unsealed {
    /// The secret if it can be used.
    pub fn secret(self) -> Option<Secret> {
        match self {
            Self::Sealed(secret) | Self::Legacy(secret) => Some(secret),
            Self::Unreadable => None,
        }
    }
}

/// Seals and opens settings secrets; cheap to clone.
#[derive(Clone)]
pub struct Sealer {
    key: std::sync::Arc<LessSafeKey>,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sealer(***)")
    }
}

impl Sealer {
    pub fn derive(token_key: &[u8]) -> Self {
        let mut mac = <Hmac<sha2::Sha256> as KeyInit>::new_from_slice(token_key)
            .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
        mac.update(DERIVATION_LABEL);
        let derived = mac.finalize().into_bytes();
        let key = UnboundKey::new(&AES_256_GCM, &derived)
            .unwrap_or_else(|_| unreachable!("SHA-256 gives the 32 bytes AES-256 takes"));
        Self {
            key: std::sync::Arc::new(LessSafeKey::new(key)),
        }
    }

    /// `secret` sealed for `purpose` (e.g. `"mail.smtp_password"`): a value opened for another
    /// purpose does not open.
    pub fn seal(&self, purpose: &str, secret: &Secret) -> String {
        let nonce_bytes: [u8; NONCE_LEN] = rand::rng().random();
        let mut sealed = secret.expose().as_bytes().to_vec();
        self.key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce_bytes),
                Aad::from(purpose.as_bytes()),
                &mut sealed,
            )
            .unwrap_or_else(|_| unreachable!("a settings secret is far below AES-GCM's limit"));
        let mut framed = nonce_bytes.to_vec();
        framed.extend_from_slice(&sealed);
        format!("{PREFIX}{}", URL_SAFE_NO_PAD.encode(framed))
    }

    /// Opens what a secret column holds.
    pub fn open(&self, purpose: &str, stored: &str) -> Unsealed {
        let Some(encoded) = stored.strip_prefix(PREFIX) else {
            return Unsealed::Legacy(Secret::new(stored));
        };
        let Ok(mut framed) = URL_SAFE_NO_PAD.decode(encoded) else {
            return Unsealed::Unreadable;
        };
        if framed.len() < NONCE_LEN {
            return Unsealed::Unreadable;
        }
        let mut sealed = framed.split_off(NONCE_LEN);
        let Ok(nonce) = Nonce::try_assume_unique_for_key(&framed) else {
            return Unsealed::Unreadable;
        };
        match self
            .key
            .open_in_place(nonce, Aad::from(purpose.as_bytes()), &mut sealed)
        {
            Ok(clear) => match std::str::from_utf8(clear) {
                Ok(text) => Unsealed::Sealed(Secret::new(text)),
                Err(_) => Unsealed::Unreadable,
            },
            Err(_) => Unsealed::Unreadable,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opened(unsealed: Unsealed) -> Option<String> {
        match unsealed {
            Unsealed::Sealed(secret) => Some(secret.expose().to_owned()),
            _ => None,
        }
    }

    #[test]
    fn a_sealed_secret_opens_only_with_its_key_and_purpose() {
        let sealer = Sealer::derive(b"token key one");
        let sealed = sealer.seal("mail.smtp_password", &Secret::new("s3cret pässword"));
        assert!(sealed.starts_with(PREFIX));
        assert!(!sealed.contains("s3cret"));
        assert_eq!(
            opened(sealer.open("mail.smtp_password", &sealed)).as_deref(),
            Some("s3cret pässword")
        );
        assert!(matches!(
            sealer.open("ldap.bind_password", &sealed),
            Unsealed::Unreadable
        ));
        let other = Sealer::derive(b"token key two");
        assert!(matches!(
            other.open("mail.smtp_password", &sealed),
            Unsealed::Unreadable
        ));
        // Every seal draws a new nonce: equal secrets do not give equal columns.
        assert_ne!(
            sealed,
            sealer.seal("mail.smtp_password", &Secret::new("s3cret pässword"))
        );
    }

    #[test]
    fn clear_values_from_before_are_legacy_and_damage_is_unreadable() {
        let sealer = Sealer::derive(b"k");
        assert!(matches!(
            sealer.open("p", "plain old password"),
            Unsealed::Legacy(s) if s.expose() == "plain old password"
        ));
        assert!(matches!(
            sealer.open("p", "sealed:v1:!!!"),
            Unsealed::Unreadable
        ));
        assert!(matches!(
            sealer.open("p", "sealed:v1:AAAA"),
            Unsealed::Unreadable
        ));
        let sealed = sealer.seal("p", &Secret::new("x"));
        let mut framed = URL_SAFE_NO_PAD
            .decode(sealed.strip_prefix(PREFIX).unwrap_or_default())
            .unwrap_or_default();
        if let Some(last) = framed.last_mut() {
            *last ^= 1;
        }
        let tampered = format!("{PREFIX}{}", URL_SAFE_NO_PAD.encode(framed));
        assert!(matches!(sealer.open("p", &tampered), Unsealed::Unreadable));
    }
}
