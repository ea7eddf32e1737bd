//! Password hashing (argon2id, OWASP parameters) and the strength rule.
//! See docs/decisions/0007-identity.md for the parameters.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

use crate::error::FieldError;

/// OWASP Password Storage Cheat Sheet, first of its equivalent argon2id
/// configurations: m = 46 MiB, t = 1, p = 1. Chosen over m = 19 MiB, t = 2
/// because a buffer over 32 MiB is always mapped and unmapped by the system
/// allocator, so sign-ins leave no memory behind (see
/// docs/decisions/0007-identity.md).
const MEMORY_KIB: u32 = 46 * 1024;
const ITERATIONS: u32 = 1;
const PARALLELISM: u32 = 1;

pub const MIN_LENGTH: usize = 10;
pub const MAX_LENGTH: usize = 128;

fn hasher() -> Argon2<'static> {
    // The parameters are constants inside argon2's documented bounds.
    #[allow(clippy::expect_used)]
    let params = Params::new(MEMORY_KIB, ITERATIONS, PARALLELISM, None).expect("valid parameters");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Hashes a password into a PHC string (algorithm, parameters and salt
/// travel with the hash, so parameters can be raised later).
pub fn hash(password: &str) -> anyhow::Result<String> {
    let salt = SaltString::encode_b64(&crate::secrets::random_bytes::<16>())
        .map_err(|e| anyhow::anyhow!("salt: {e}"))?;
    hasher()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| anyhow::anyhow!("hashing a password: {e}"))
}

/// Checks a password against a stored hash in constant time.
pub fn verify(password: &str, stored: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(stored) else {
        return false;
    };
    hasher()
        .verify_password(password.as_bytes(), &parsed)
        .is_ok()
}

/// At most this many hashes run at once: each takes 46 MiB and a core for
/// tens of milliseconds, so a burst of sign-ins queues instead of exhausting
/// memory.
fn gate() -> &'static tokio::sync::Semaphore {
    static GATE: std::sync::OnceLock<tokio::sync::Semaphore> = std::sync::OnceLock::new();
    GATE.get_or_init(|| {
        let cores = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2);
        tokio::sync::Semaphore::new(cores)
    })
}

/// `hash`, off the async threads and within the concurrency gate.
pub async fn hash_async(password: &str) -> anyhow::Result<String> {
    let _permit = gate().acquire().await?;
    let password = password.to_owned();
    tokio::task::spawn_blocking(move || hash(&password)).await?
}

/// `verify`, off the async threads and within the concurrency gate.
pub async fn verify_async(password: &str, stored: &str) -> bool {
    let Ok(_permit) = gate().acquire().await else {
        return false;
    };
    let (password, stored) = (password.to_owned(), stored.to_owned());
    tokio::task::spawn_blocking(move || verify(&password, &stored))
        .await
        .unwrap_or(false)
}

/// A real hash of a random password, verified against when the account
/// does not exist, so that an unknown email costs the same time as a wrong
/// password (no user enumeration by timing).
pub fn dummy_hash() -> &'static str {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY.get_or_init(|| {
        hash(&crate::secrets::random_token(24)).unwrap_or_else(|_| {
            "$argon2id$v=19$m=47104,t=1,p=1$c2FsdHNhbHRzYWx0$4k0gVkN2P3bM9b1GSw4Vw0Yxg7o3Sx3Q2e4pXvL1wE0".into()
        })
    })
}

/// Refuses short, overlong or guessable passwords. `context` holds the
/// user's own words (email, name), which make a password weak.
pub fn check_strength(field: &str, password: &str, context: &[&str]) -> Result<(), FieldError> {
    let length = password.chars().count();
    if length < MIN_LENGTH {
        return Err(FieldError::new(field, "password_too_short").with("min", MIN_LENGTH));
    }
    if length > MAX_LENGTH {
        return Err(FieldError::new(field, "too_long").with("max", MAX_LENGTH));
    }
    let entropy = zxcvbn::zxcvbn(password, context);
    if u8::from(entropy.score()) < 3 {
        return Err(FieldError::new(field, "password_weak"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_verify_and_differ_by_salt() {
        let a = hash("correct horse battery staple").unwrap();
        let b = hash("correct horse battery staple").unwrap();
        assert_ne!(a, b);
        assert!(a.starts_with("$argon2id$v=19$m=47104,t=1,p=1$"));
        assert!(verify("correct horse battery staple", &a));
        assert!(!verify("correct horse battery stapler", &a));
        assert!(!verify("x", "not a hash"));
    }

    #[test]
    fn weak_passwords_are_refused() {
        let code = |pw: &str| {
            check_strength("password", pw, &["ana@example.cl", "Ana Pérez"])
                .err()
                .map(|e| e.code)
        };
        assert_eq!(code("corto").as_deref(), Some("password_too_short"));
        assert_eq!(code("password123").as_deref(), Some("password_weak"));
        assert_eq!(code("ana@example.cl1").as_deref(), Some("password_weak"));
        assert_eq!(code("Tetera-azul-contra-7-nubes"), None);
    }
}
