//! Standard Webhooks signatures (<https://www.standardwebhooks.com/>): a
//! secret `whsec_<base64>`, and `webhook-signature: v1,<base64>` holding
//! HMAC-SHA256 over `{webhook-id}.{webhook-timestamp}.{body}` keyed with
//! the secret's decoded bytes. Pure functions, no I/O.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// What every secret starts with.
pub const SECRET_PREFIX: &str = "whsec_";

/// Random bytes in a secret we generate (the specification asks for 24 to
/// 64).
const SECRET_BYTES: usize = 32;

/// Shortest key accepted from configuration.
const MIN_KEY_BYTES: usize = 16;

/// Signatures looked at in one header, at most (a header may carry several
/// while a sender rotates its secret).
const MAX_SIGNATURES: usize = 8;

/// Standard base64 that accepts a value with or without its padding, as
/// the reference libraries do.
const LENIENT: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// A fresh secret, `whsec_` and the base64 of 32 random bytes.
pub fn new_secret() -> String {
    let bytes = crate::secrets::random_bytes::<SECRET_BYTES>();
    format!("{SECRET_PREFIX}{}", STANDARD.encode(bytes))
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SecretError {
    #[error("the secret is not base64 (after the optional `whsec_` prefix)")]
    NotBase64,
    #[error("the secret must hold at least {MIN_KEY_BYTES} bytes")]
    TooShort,
}

/// The HMAC key of a secret: its base64 part decoded (`whsec_` optional).
pub fn decode_secret(secret: &str) -> Result<Vec<u8>, SecretError> {
    let text = secret.trim();
    let text = text.strip_prefix(SECRET_PREFIX).unwrap_or(text);
    let key = LENIENT.decode(text).map_err(|_| SecretError::NotBase64)?;
    if key.len() < MIN_KEY_BYTES {
        return Err(SecretError::TooShort);
    }
    Ok(key)
}

fn mac(key: &[u8], msg_id: &str, timestamp: &str, body: &[u8]) -> Hmac<Sha256> {
    // HMAC takes keys of any length.
    #[allow(clippy::expect_used)]
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC accepts any key length");
    mac.update(msg_id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

/// The `webhook-signature` value for a message: `v1,<base64>`.
pub fn sign(key: &[u8], msg_id: &str, timestamp: i64, body: &[u8]) -> String {
    let tag = mac(key, msg_id, &timestamp.to_string(), body)
        .finalize()
        .into_bytes();
    format!("v1,{}", STANDARD.encode(tag))
}

/// Whether any `v1` signature of a `webhook-signature` header (entries
/// separated by spaces) matches, compared in constant time. `timestamp` is
/// the header's text, signed as sent.
pub fn verify(key: &[u8], msg_id: &str, timestamp: &str, body: &[u8], header: &str) -> bool {
    let expected = mac(key, msg_id, timestamp, body);
    header
        .split(' ')
        .filter(|s| !s.is_empty())
        .take(MAX_SIGNATURES)
        .filter_map(|entry| entry.split_once(','))
        .filter(|(version, _)| *version == "v1")
        .filter_map(|(_, sig)| LENIENT.decode(sig).ok())
        .any(|sig| expected.clone().verify_slice(&sig).is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    // The test vector published with the Standard Webhooks libraries.
    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const MSG_ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    const TIMESTAMP: i64 = 1_614_265_330;
    const BODY: &str = r#"{"test": 2432232314}"#;
    const SIGNATURE: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

    #[test]
    fn signs_like_the_specification_vector() {
        let key = decode_secret(SECRET).unwrap();
        assert_eq!(sign(&key, MSG_ID, TIMESTAMP, BODY.as_bytes()), SIGNATURE);
        // The prefix is optional.
        assert_eq!(
            decode_secret("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap(),
            key
        );
    }

    #[test]
    fn verifies_the_vector_and_refuses_any_change() {
        let key = decode_secret(SECRET).unwrap();
        let ts = TIMESTAMP.to_string();
        assert!(verify(&key, MSG_ID, &ts, BODY.as_bytes(), SIGNATURE));
        // Among other signatures, or other versions.
        let several = format!("v2,abc v1,bm9wZQ== {SIGNATURE}");
        assert!(verify(&key, MSG_ID, &ts, BODY.as_bytes(), &several));
        assert!(!verify(
            &key,
            MSG_ID,
            &ts,
            br#"{"test": 2432232315}"#,
            SIGNATURE
        ));
        assert!(!verify(&key, "msg_other", &ts, BODY.as_bytes(), SIGNATURE));
        assert!(!verify(
            &key,
            MSG_ID,
            "1614265331",
            BODY.as_bytes(),
            SIGNATURE
        ));
        let other = decode_secret(&new_secret()).unwrap();
        assert!(!verify(&other, MSG_ID, &ts, BODY.as_bytes(), SIGNATURE));
        assert!(!verify(&key, MSG_ID, &ts, BODY.as_bytes(), ""));
        assert!(!verify(
            &key,
            MSG_ID,
            &ts,
            BODY.as_bytes(),
            "v1,not base64!"
        ));
        let v2 = SIGNATURE.replacen("v1,", "v2,", 1);
        assert!(!verify(&key, MSG_ID, &ts, BODY.as_bytes(), &v2));
    }

    #[test]
    fn fresh_secrets_decode_to_32_random_bytes() {
        let a = new_secret();
        assert!(a.starts_with(SECRET_PREFIX));
        assert_eq!(decode_secret(&a).unwrap().len(), 32);
        assert_ne!(a, new_secret());
        assert_eq!(decode_secret("whsec_c2hvcnQ="), Err(SecretError::TooShort));
        assert_eq!(decode_secret("whsec_***"), Err(SecretError::NotBase64));
    }
}
