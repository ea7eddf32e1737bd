//! Field encryption at rest (AES-256-GCM) through a key ring, and blind
//! indexes (HMAC-SHA256) to look encrypted values up by equality.
//!
//! A ciphertext is stored as text: `v1:<key id>:<base64(nonce ‖ ciphertext ‖
//! tag)>`. The key id travels with every value, so keys can rotate while
//! old values stay readable; the associated data binds a value to its
//! column and row, so a ciphertext copied into another row or column does
//! not decrypt. See docs/decisions/0009-field-encryption.md.

use std::collections::BTreeMap;
use std::path::Path;

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use anyhow::Context;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use serde::{Deserialize, Serialize};

const PREFIX: &str = "v1";
const NONCE_LEN: usize = 12;

/// The keys of a running Faena: every key ever active (to read), the one
/// that writes, and the blind-index key.
pub struct KeyRing {
    keys: BTreeMap<u32, Aes256Gcm>,
    active: u32,
    index_key: [u8; 32],
}

/// Encryption keys from the configuration (production, several replicas):
/// `crypto.keys = { "1" = "<base64>", "2" = "<base64>" }`, `crypto.active`,
/// `crypto.index_key`. Empty: keys live in `<data_dir>/keys/`.
#[derive(Clone, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct CryptoConfig {
    #[serde(serialize_with = "redact_map")]
    pub keys: BTreeMap<String, String>,
    pub active: Option<u32>,
    #[serde(serialize_with = "redact_str")]
    pub index_key: String,
}

impl std::fmt::Debug for CryptoConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CryptoConfig")
            .field("keys", &self.keys.keys().collect::<Vec<_>>())
            .field("active", &self.active)
            .finish_non_exhaustive()
    }
}

fn redact_map<S: serde::Serializer>(m: &BTreeMap<String, String>, s: S) -> Result<S::Ok, S::Error> {
    let redacted: BTreeMap<&String, &str> = m.keys().map(|k| (k, "***")).collect();
    redacted.serialize(s)
}

fn redact_str<S: serde::Serializer>(v: &str, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(if v.is_empty() { "" } else { "***" })
}

/// A column holding values encrypted with `aad = "<aad_prefix>:<row id>"`.
#[derive(Debug, Clone, Copy)]
pub struct EncryptedColumn {
    pub table: &'static str,
    pub id_column: &'static str,
    pub column: &'static str,
    pub aad_prefix: &'static str,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CryptoError {
    #[error("not an encrypted value")]
    Malformed,
    #[error("encrypted with key {0}, which this installation does not have")]
    UnknownKey(u32),
    #[error("the value does not decrypt: altered, or moved from another field")]
    Tampered,
}

fn decode_key(text: &str, what: &str) -> anyhow::Result<[u8; 32]> {
    let bytes = B64
        .decode(text.trim())
        .with_context(|| format!("{what} is not base64"))?;
    bytes
        .try_into()
        .map_err(|_| anyhow::anyhow!("{what} must be 32 bytes"))
}

impl KeyRing {
    /// Keys from the configuration when given, else from (and on first run
    /// into) `<data_dir>/keys/`.
    pub fn load(config: &CryptoConfig, data_dir: &Path) -> anyhow::Result<Self> {
        if !config.keys.is_empty() {
            let mut keys = BTreeMap::new();
            for (id, text) in &config.keys {
                let id: u32 = id
                    .parse()
                    .with_context(|| format!("crypto.keys: `{id}` is not a key id"))?;
                keys.insert(id, decode_key(text, &format!("crypto.keys.{id}"))?);
            }
            let active = config
                .active
                .or_else(|| keys.keys().max().copied())
                .unwrap_or(1);
            anyhow::ensure!(
                keys.contains_key(&active),
                "crypto.active = {active} names no key"
            );
            anyhow::ensure!(
                !config.index_key.is_empty(),
                "crypto.index_key is required with crypto.keys"
            );
            let index_key = decode_key(&config.index_key, "crypto.index_key")?;
            return Ok(Self::from_keys(keys, active, index_key));
        }
        let dir = data_dir.join("keys");
        let mut keys = BTreeMap::new();
        if dir.exists() {
            for entry in std::fs::read_dir(&dir)? {
                let name = entry?.file_name().to_string_lossy().into_owned();
                if let Some(id) = name
                    .strip_prefix("field-")
                    .and_then(|n| n.strip_suffix(".key"))
                    && let Ok(id) = id.parse::<u32>()
                {
                    keys.insert(
                        id,
                        crate::secrets::load_or_create(data_dir, &format!("field-{id}"))?,
                    );
                }
            }
        }
        if keys.is_empty() {
            keys.insert(1, crate::secrets::load_or_create(data_dir, "field-1")?);
        }
        let active = match std::fs::read_to_string(dir.join("field-active")) {
            Ok(text) => text
                .trim()
                .parse()
                .context("keys/field-active holds no key id")?,
            Err(_) => keys.keys().max().copied().unwrap_or(1),
        };
        anyhow::ensure!(
            keys.contains_key(&active),
            "keys/field-active names key {active}, which is missing"
        );
        let index_key = crate::secrets::load_or_create(data_dir, "blind-index")?;
        Ok(Self::from_keys(keys, active, index_key))
    }

    pub fn from_keys(keys: BTreeMap<u32, [u8; 32]>, active: u32, index_key: [u8; 32]) -> Self {
        let keys = keys
            .into_iter()
            .map(|(id, k)| (id, Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(&k))))
            .collect();
        Self {
            keys,
            active,
            index_key,
        }
    }

    /// Adds a new key in `<data_dir>/keys/` and makes it the active one.
    /// Returns its id. Existing values are re-encrypted by the caller.
    pub fn add_key_on_disk(data_dir: &Path) -> anyhow::Result<u32> {
        let current = Self::load(&CryptoConfig::default(), data_dir)?;
        let next = current.keys.keys().max().copied().unwrap_or(0) + 1;
        crate::secrets::load_or_create(data_dir, &format!("field-{next}"))?;
        let active = data_dir.join("keys").join("field-active");
        std::fs::write(&active, next.to_string())
            .with_context(|| format!("writing {}", active.display()))?;
        Ok(next)
    }

    pub fn active_key(&self) -> u32 {
        self.active
    }

    /// Encrypts `plaintext` for the field named by `aad` (e.g.
    /// `clients.phone:<row id>`).
    pub fn encrypt(&self, plaintext: &str, aad: &str) -> String {
        let nonce_bytes = crate::secrets::random_bytes::<NONCE_LEN>();
        let nonce = Nonce::from_slice(&nonce_bytes);
        let Some(cipher) = self.keys.get(&self.active) else {
            unreachable!("the active key is checked at load");
        };
        // AES-GCM fails only for messages over 64 GiB.
        #[allow(clippy::expect_used)]
        let sealed = cipher
            .encrypt(
                nonce,
                Payload {
                    msg: plaintext.as_bytes(),
                    aad: aad.as_bytes(),
                },
            )
            .expect("a field fits AES-GCM's limits");
        let mut blob = Vec::with_capacity(NONCE_LEN + sealed.len());
        blob.extend_from_slice(&nonce_bytes);
        blob.extend_from_slice(&sealed);
        format!("{PREFIX}:{}:{}", self.active, B64.encode(blob))
    }

    pub fn decrypt(&self, stored: &str, aad: &str) -> Result<String, CryptoError> {
        let mut parts = stored.splitn(3, ':');
        let (Some(PREFIX), Some(id), Some(body)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(CryptoError::Malformed);
        };
        let id: u32 = id.parse().map_err(|_| CryptoError::Malformed)?;
        let cipher = self.keys.get(&id).ok_or(CryptoError::UnknownKey(id))?;
        let blob = B64.decode(body).map_err(|_| CryptoError::Malformed)?;
        if blob.len() < NONCE_LEN + 16 {
            return Err(CryptoError::Malformed);
        }
        let (nonce, sealed) = blob.split_at(NONCE_LEN);
        let plain = cipher
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: sealed,
                    aad: aad.as_bytes(),
                },
            )
            .map_err(|_| CryptoError::Tampered)?;
        String::from_utf8(plain).map_err(|_| CryptoError::Tampered)
    }

    /// The key id a stored value was encrypted with.
    pub fn key_of(stored: &str) -> Option<u32> {
        stored.split(':').nth(1)?.parse().ok()
    }

    /// A deterministic, keyed fingerprint of an already normalised value,
    /// for equality lookups on encrypted columns. `purpose` separates
    /// indexes, so equal values in two columns do not match.
    pub fn blind_index(&self, purpose: &str, normalised: &str) -> String {
        let mut data = Vec::with_capacity(purpose.len() + 1 + normalised.len());
        data.extend_from_slice(purpose.as_bytes());
        data.push(0);
        data.extend_from_slice(normalised.as_bytes());
        crate::auth::token::hmac_hex(&self.index_key, &data)
    }
}

/// Re-encrypts with the active key every value of `columns` written with
/// another key, in batches, each row in its own short update. Returns how
/// many values changed. Safe to run while Faena serves, and to re-run.
pub async fn reencrypt(
    db: &sea_orm::DatabaseConnection,
    ring: &KeyRing,
    columns: &[EncryptedColumn],
) -> anyhow::Result<u64> {
    use sea_orm::{ConnectionTrait, Statement, Value};
    let backend = db.get_database_backend();
    let placeholder = |n: usize| match backend {
        sea_orm::DatabaseBackend::Postgres => format!("${n}"),
        _ => "?".to_owned(),
    };
    let current = format!("{PREFIX}:{}:%", ring.active);
    let mut total = 0;
    for col in columns {
        loop {
            let select = format!(
                "SELECT {id}, {c} FROM {t} WHERE {c} IS NOT NULL AND {c} NOT LIKE {p} LIMIT 500",
                id = col.id_column,
                c = col.column,
                t = col.table,
                p = placeholder(1),
            );
            let rows = db
                .query_all(Statement::from_sql_and_values(
                    backend,
                    select,
                    [Value::from(current.clone())],
                ))
                .await?;
            if rows.is_empty() {
                break;
            }
            for row in rows {
                let id: uuid::Uuid = row.try_get_by_index(0)?;
                let old: String = row.try_get_by_index(1)?;
                let aad = format!("{}:{id}", col.aad_prefix);
                let plain = ring
                    .decrypt(&old, &aad)
                    .map_err(|e| anyhow::anyhow!("{}.{} of {id}: {e}", col.table, col.column))?;
                let update = format!(
                    "UPDATE {t} SET {c} = {p1} WHERE {id} = {p2} AND {c} = {p3}",
                    t = col.table,
                    c = col.column,
                    id = col.id_column,
                    p1 = placeholder(1),
                    p2 = placeholder(2),
                    p3 = placeholder(3),
                );
                db.execute(Statement::from_sql_and_values(
                    backend,
                    update,
                    [
                        Value::from(ring.encrypt(&plain, &aad)),
                        Value::from(id),
                        Value::from(old),
                    ],
                ))
                .await?;
                total += 1;
            }
        }
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ring(active: u32) -> KeyRing {
        let keys = BTreeMap::from([(1, [1u8; 32]), (2, [2u8; 32])]);
        KeyRing::from_keys(keys, active, [9u8; 32])
    }

    #[test]
    fn round_trip_with_key_id_and_fresh_nonces() {
        let r = ring(1);
        let a = r.encrypt("+56 9 1234 5678", "clients.phone:1");
        let b = r.encrypt("+56 9 1234 5678", "clients.phone:1");
        assert_ne!(a, b, "a fresh nonce every time");
        assert!(a.starts_with("v1:1:"));
        assert!(!a.contains("1234"));
        assert_eq!(r.decrypt(&a, "clients.phone:1").unwrap(), "+56 9 1234 5678");
        assert_eq!(KeyRing::key_of(&a), Some(1));
    }

    #[test]
    fn a_value_moved_to_another_row_or_altered_does_not_decrypt() {
        let r = ring(1);
        let a = r.encrypt("Av. Matta 123", "clients.address:1");
        assert_eq!(
            r.decrypt(&a, "clients.address:2"),
            Err(CryptoError::Tampered)
        );
        assert_eq!(r.decrypt(&a, "clients.phone:1"), Err(CryptoError::Tampered));
        let mut altered = a.clone();
        let last = altered.pop().unwrap();
        altered.push(if last == 'A' { 'B' } else { 'A' });
        assert!(r.decrypt(&altered, "clients.address:1").is_err());
        assert_eq!(r.decrypt("plain text", "x"), Err(CryptoError::Malformed));
    }

    #[test]
    fn old_keys_still_read_after_rotation() {
        let old = ring(1).encrypt("76.086.428-5", "clients.tax_id:1");
        let rotated = ring(2);
        assert_eq!(
            rotated.decrypt(&old, "clients.tax_id:1").unwrap(),
            "76.086.428-5"
        );
        assert!(rotated.encrypt("x", "y").starts_with("v1:2:"));
        let only_new = KeyRing::from_keys(BTreeMap::from([(2, [2u8; 32])]), 2, [9u8; 32]);
        assert_eq!(
            only_new.decrypt(&old, "clients.tax_id:1"),
            Err(CryptoError::UnknownKey(1))
        );
    }

    #[test]
    fn blind_index_is_deterministic_keyed_and_separated() {
        let r = ring(1);
        assert_eq!(
            r.blind_index("tax_id", "760864285"),
            r.blind_index("tax_id", "760864285")
        );
        assert_ne!(
            r.blind_index("tax_id", "760864285"),
            r.blind_index("phone", "760864285")
        );
        let other = KeyRing::from_keys(BTreeMap::from([(1, [1u8; 32])]), 1, [8u8; 32]);
        assert_ne!(
            r.blind_index("tax_id", "760864285"),
            other.blind_index("tax_id", "760864285")
        );
    }

    #[test]
    fn keys_are_generated_into_the_data_dir_and_rotate() {
        let dir = tempfile::tempdir().unwrap();
        let r = KeyRing::load(&CryptoConfig::default(), dir.path()).unwrap();
        assert_eq!(r.active_key(), 1);
        let ct = r.encrypt("secreto", "t.c:1");
        assert_eq!(KeyRing::add_key_on_disk(dir.path()).unwrap(), 2);
        let r2 = KeyRing::load(&CryptoConfig::default(), dir.path()).unwrap();
        assert_eq!(r2.active_key(), 2);
        assert_eq!(r2.decrypt(&ct, "t.c:1").unwrap(), "secreto");
        assert_eq!(
            r.blind_index("p", "v"),
            r2.blind_index("p", "v"),
            "the index key does not rotate"
        );
    }
}
