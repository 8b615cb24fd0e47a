//! Bearer tokens: `v1.<claims>.<mac>`, base64url, HMAC-SHA256 over the claims with the
//! installation's secret. Claims carry an expiry and the account's token epoch; bumping the
//! epoch (logout, password change, disabling the person) revokes every older token at once.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use hmac::{Hmac, KeyInit, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use uuid::Uuid;

/// What a token says about its bearer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// Account id.
    pub sub: Uuid,
    /// Account token epoch at issue time.
    pub epoch: i64,
    /// Expiry, seconds since the Unix epoch.
    pub exp: i64,
}

/// Why a token was not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenRejection {
    Malformed,
    BadSignature,
    Expired,
}

/// Signs and checks tokens with one secret key.
#[derive(Clone)]
pub struct TokenSigner {
    key: Vec<u8>,
}

impl TokenSigner {
    pub fn new(key: &[u8]) -> Self {
        Self { key: key.to_vec() }
    }

    fn mac(&self) -> Hmac<Sha256> {
        // HMAC accepts keys of any length, so this cannot fail.
        <Hmac<Sha256> as KeyInit>::new_from_slice(&self.key).unwrap_or_else(|_| unreachable!())
    }

    pub fn sign(&self, claims: &Claims) -> String {
        let body = URL_SAFE_NO_PAD.encode(serde_json::to_vec(claims).unwrap_or_default());
        let mut mac = self.mac();
        mac.update(body.as_bytes());
        let tag = URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
        format!("v1.{body}.{tag}")
    }

    /// A value bound to `input` under this key, for `purpose` (e.g. the portal's CSRF token
    /// of a session): unforgeable without the key, and different for every purpose.
    pub fn derive(&self, purpose: &str, input: &str) -> String {
        let mut mac = self.mac();
        mac.update(purpose.as_bytes());
        mac.update(&[0]);
        mac.update(input.as_bytes());
        URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
    }

    /// Checks the signature (in constant time) and the expiry against `now` (Unix seconds).
    pub fn verify(&self, token: &str, now: i64) -> Result<Claims, TokenRejection> {
        let mut parts = token.split('.');
        let (Some("v1"), Some(body), Some(tag), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(TokenRejection::Malformed);
        };
        let tag = URL_SAFE_NO_PAD
            .decode(tag)
            .map_err(|_| TokenRejection::Malformed)?;
        let mut mac = self.mac();
        mac.update(body.as_bytes());
        mac.verify_slice(&tag)
            .map_err(|_| TokenRejection::BadSignature)?;
        let bytes = URL_SAFE_NO_PAD
            .decode(body)
            .map_err(|_| TokenRejection::Malformed)?;
        let claims: Claims =
            serde_json::from_slice(&bytes).map_err(|_| TokenRejection::Malformed)?;
        if claims.exp <= now {
            return Err(TokenRejection::Expired);
        }
        Ok(claims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(exp: i64) -> Claims {
        Claims {
            sub: Uuid::now_v7(),
            epoch: 3,
            exp,
        }
    }

    #[test]
    fn round_trip() {
        let signer = TokenSigner::new(b"0123456789abcdef0123456789abcdef");
        let c = claims(2_000);
        assert_eq!(signer.verify(&signer.sign(&c), 1_000), Ok(c));
    }

    #[test]
    fn rejects_tampering_other_keys_expiry_and_garbage() {
        let signer = TokenSigner::new(b"0123456789abcdef0123456789abcdef");
        let other = TokenSigner::new(b"ffffffffffffffffffffffffffffffff");
        let token = signer.sign(&claims(2_000));
        assert_eq!(
            other.verify(&token, 1_000),
            Err(TokenRejection::BadSignature)
        );
        assert_eq!(signer.verify(&token, 2_000), Err(TokenRejection::Expired));
        let forged_body =
            URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims(9_999_999_999)).unwrap());
        let tag = token.rsplit('.').next().unwrap();
        assert_eq!(
            signer.verify(&format!("v1.{forged_body}.{tag}"), 1_000),
            Err(TokenRejection::BadSignature)
        );
        for junk in ["", "v1", "v1..", "v2.a.b", "v1.a.b.c", "v1.!!.??"] {
            assert!(signer.verify(junk, 1_000).is_err(), "{junk}");
        }
    }
}
