//! Short-lived signed links: a token naming one version of one file and
//! the moment it stops working, signed with HMAC-SHA256 under a key from
//! the data dir (`keys/file-links.key`). Anyone holding the link may
//! download until then, without a session; a changed character fails the
//! signature (403) and a late link is gone (410). Pure, unit-tested.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use uuid::Uuid;

/// What a valid token grants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Grant {
    pub file_id: Uuid,
    pub version: i32,
    /// Unix seconds.
    pub expires: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkError {
    /// Malformed or not signed by us.
    Invalid,
    Expired,
}

fn mac(key: &[u8; 32], grant: &Grant) -> Hmac<Sha256> {
    // A 32-byte key is always a valid HMAC key.
    #[allow(clippy::expect_used)]
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(
        format!(
            "faena-file-link\n{}\n{}\n{}",
            grant.file_id, grant.version, grant.expires
        )
        .as_bytes(),
    );
    mac
}

/// `<file id>.<version>.<expires>.<signature>`: URL-safe as it is.
pub fn sign(key: &[u8; 32], grant: &Grant) -> String {
    let sig = URL_SAFE_NO_PAD.encode(mac(key, grant).finalize().into_bytes());
    format!(
        "{}.{}.{}.{sig}",
        grant.file_id.simple(),
        grant.version,
        grant.expires
    )
}

/// Checks the signature first (so nothing about an unsigned token is
/// believed), then the time.
pub fn verify(key: &[u8; 32], token: &str, now: i64) -> Result<Grant, LinkError> {
    let mut parts = token.split('.');
    let (Some(id), Some(version), Some(expires), Some(sig), None) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return Err(LinkError::Invalid);
    };
    let grant = Grant {
        file_id: Uuid::try_parse(id).map_err(|_| LinkError::Invalid)?,
        version: version.parse().map_err(|_| LinkError::Invalid)?,
        expires: expires.parse().map_err(|_| LinkError::Invalid)?,
    };
    let sig = URL_SAFE_NO_PAD
        .decode(sig)
        .map_err(|_| LinkError::Invalid)?;
    // Only the canonical spelling of each number was signed.
    if sign(key, &grant).split('.').take(3).collect::<Vec<_>>()
        != token.split('.').take(3).collect::<Vec<_>>()
    {
        return Err(LinkError::Invalid);
    }
    mac(key, &grant)
        .verify_slice(&sig)
        .map_err(|_| LinkError::Invalid)?;
    if now >= grant.expires {
        return Err(LinkError::Expired);
    }
    Ok(grant)
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: [u8; 32] = [7; 32];

    fn grant() -> Grant {
        Grant {
            file_id: Uuid::now_v7(),
            version: 2,
            expires: 1_000,
        }
    }

    #[test]
    fn a_signed_link_works_until_it_expires() {
        let g = grant();
        let token = sign(&KEY, &g);
        assert_eq!(verify(&KEY, &token, 999), Ok(g));
        assert_eq!(verify(&KEY, &token, 1_000), Err(LinkError::Expired));
    }

    #[test]
    fn tampering_is_refused() {
        let g = grant();
        let token = sign(&KEY, &g);
        let longer = token.replace(".1000.", ".99999.");
        assert_eq!(verify(&KEY, &longer, 0), Err(LinkError::Invalid));
        let other_version = token.replacen(".2.", ".1.", 1);
        assert_eq!(verify(&KEY, &other_version, 0), Err(LinkError::Invalid));
        let mut bytes = token.clone().into_bytes();
        let last = bytes.len() - 1;
        bytes[last] = if bytes[last] == b'A' { b'B' } else { b'A' };
        let flipped = String::from_utf8(bytes).unwrap();
        assert_eq!(verify(&KEY, &flipped, 0), Err(LinkError::Invalid));
        assert_eq!(verify(&[8; 32], &token, 0), Err(LinkError::Invalid));
        assert_eq!(verify(&KEY, "nada", 0), Err(LinkError::Invalid));
        assert_eq!(
            verify(&KEY, &token.replace(".1000.", ".01000."), 0),
            Err(LinkError::Invalid)
        );
    }
}
