//! Access tokens (JWT, HS256, RFC 7519) and the hashing of opaque tokens
//! (refresh tokens, API keys, session ids).
//!
//! The JWT is deliberately narrow: one algorithm, fixed in code, never read
//! from the token's header; `exp` always checked. See
//! docs/decisions/0007-identity.md.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

type HmacSha256 = Hmac<Sha256>;

/// The claims Faena puts in an access token.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Claims {
    /// User id.
    pub sub: String,
    /// The user's email, for logs and the audit trail.
    pub email: String,
    /// Role name; its permissions are looked up, so a role change applies
    /// within seconds, not at token expiry.
    pub role: String,
    /// Refresh-token family, so logout can be traced to the session.
    pub fam: String,
    pub iat: i64,
    pub exp: i64,
    pub iss: String,
    /// Who the token is for: Faena's API (`AUDIENCE`). A token minted for
    /// anything else with the same key is refused.
    #[serde(default)]
    pub aud: String,
}

pub const ISSUER: &str = "faena";
pub const AUDIENCE: &str = "faena:api";
const HEADER: &str = r#"{"alg":"HS256","typ":"JWT"}"#;

pub fn sign(claims: &Claims, key: &[u8]) -> anyhow::Result<String> {
    let header = B64.encode(HEADER);
    let payload = B64.encode(serde_json::to_vec(claims)?);
    let signing_input = format!("{header}.{payload}");
    let signature = B64.encode(mac(key, signing_input.as_bytes())?);
    Ok(format!("{signing_input}.{signature}"))
}

#[derive(Debug, PartialEq, Eq)]
pub enum TokenError {
    Malformed,
    BadSignature,
    Expired,
}

/// Verifies signature, algorithm, issuer, audience and expiry.
pub fn verify(token: &str, key: &[u8], now: i64) -> Result<Claims, TokenError> {
    let mut parts = token.split('.');
    let (Some(header), Some(payload), Some(signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(TokenError::Malformed);
    };
    let header_json = B64.decode(header).map_err(|_| TokenError::Malformed)?;
    let header_value: serde_json::Value =
        serde_json::from_slice(&header_json).map_err(|_| TokenError::Malformed)?;
    if header_value["alg"] != "HS256" {
        return Err(TokenError::Malformed);
    }
    let signature = B64.decode(signature).map_err(|_| TokenError::Malformed)?;
    let mut verifier = HmacSha256::new_from_slice(key).map_err(|_| TokenError::BadSignature)?;
    let signing_input = &token[..header.len() + 1 + payload.len()];
    verifier.update(signing_input.as_bytes());
    verifier
        .verify_slice(&signature)
        .map_err(|_| TokenError::BadSignature)?;
    let payload = B64.decode(payload).map_err(|_| TokenError::Malformed)?;
    let claims: Claims = serde_json::from_slice(&payload).map_err(|_| TokenError::Malformed)?;
    if claims.iss != ISSUER || claims.aud != AUDIENCE {
        return Err(TokenError::Malformed);
    }
    if claims.exp <= now {
        return Err(TokenError::Expired);
    }
    Ok(claims)
}

fn mac(key: &[u8], data: &[u8]) -> anyhow::Result<Vec<u8>> {
    let mut m = HmacSha256::new_from_slice(key).map_err(|e| anyhow::anyhow!("hmac key: {e}"))?;
    m.update(data);
    Ok(m.finalize().into_bytes().to_vec())
}

/// HMAC-SHA256 of `data`, hex encoded (CSRF tokens, blind indexes).
pub fn hmac_hex(key: &[u8], data: &[u8]) -> String {
    mac(key, data).map(hex).unwrap_or_default()
}

/// SHA-256, hex encoded. Opaque tokens are 256-bit random values, so a
/// fast hash is enough to store them: there is nothing to brute-force.
pub fn sha256_hex(data: &[u8]) -> String {
    hex(Sha256::digest(data).to_vec())
}

pub fn hex(bytes: Vec<u8>) -> String {
    use std::fmt::Write;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

/// Constant-time equality for secrets.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    use subtle::ConstantTimeEq;
    a.len() == b.len() && bool::from(a.ct_eq(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(exp: i64) -> Claims {
        Claims {
            sub: "u1".into(),
            email: "a@b.cl".into(),
            role: "admin".into(),
            fam: "f1".into(),
            iat: 0,
            exp,
            iss: ISSUER.into(),
            aud: AUDIENCE.into(),
        }
    }

    #[test]
    fn round_trip_and_rejections() {
        let key = b"0123456789abcdef0123456789abcdef";
        let token = sign(&claims(100), key).unwrap();
        assert_eq!(verify(&token, key, 50).unwrap(), claims(100));
        assert_eq!(verify(&token, key, 100), Err(TokenError::Expired));
        assert_eq!(
            verify(&token, b"another key", 50),
            Err(TokenError::BadSignature)
        );

        // A payload edited to another role fails the signature.
        let mut parts: Vec<&str> = token.split('.').collect();
        let forged = B64.encode(
            serde_json::to_vec(&Claims {
                role: "root".into(),
                ..claims(100)
            })
            .unwrap(),
        );
        parts[1] = &forged;
        assert_eq!(
            verify(&parts.join("."), key, 50),
            Err(TokenError::BadSignature)
        );

        // `alg: none` is not accepted, whatever the signature.
        let none = format!(
            "{}.{}.",
            B64.encode(r#"{"alg":"none"}"#),
            B64.encode(serde_json::to_vec(&claims(100)).unwrap())
        );
        assert_eq!(verify(&none, key, 50), Err(TokenError::Malformed));
        // Signed with the right key, for another audience (or none).
        for aud in ["faena:otra", ""] {
            let other = sign(
                &Claims {
                    aud: aud.into(),
                    ..claims(100)
                },
                key,
            )
            .unwrap();
            assert_eq!(
                verify(&other, key, 50),
                Err(TokenError::Malformed),
                "{aud:?}"
            );
        }
        assert_eq!(verify("a.b", key, 50), Err(TokenError::Malformed));
    }

    #[test]
    fn hashes_are_stable() {
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert!(constant_time_eq(b"same", b"same"));
        assert!(!constant_time_eq(b"same", b"diff"));
        assert!(!constant_time_eq(b"short", b"longer"));
    }
}
