//! Secrets generated on first run into the data dir (never in code): files
//! of random bytes, created with 0600 permissions, read at start.

use std::io::Write;
use std::path::Path;

use anyhow::Context;

/// Fills a buffer with bytes from the operating system's CSPRNG.
pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut buf = [0u8; N];
    // The OS generator failing is not something a request can recover from.
    #[allow(clippy::expect_used)]
    getrandom::fill(&mut buf).expect("the operating system's random generator");
    buf
}

/// A random token, URL-safe base64 without padding.
pub fn random_token(bytes: usize) -> String {
    use base64::Engine;
    let mut buf = vec![0u8; bytes];
    #[allow(clippy::expect_used)]
    getrandom::fill(&mut buf).expect("the operating system's random generator");
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(buf)
}

/// Reads the 32-byte secret `name` from `<data_dir>/keys/`, creating it
/// (and the folder, 0700) with fresh random bytes on first use.
pub fn load_or_create(data_dir: &Path, name: &str) -> anyhow::Result<[u8; 32]> {
    use base64::Engine;
    let dir = data_dir.join("keys");
    let path = dir.join(format!("{name}.key"));
    if path.exists() {
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(text.trim())
            .with_context(|| format!("{} is not base64", path.display()))?;
        return bytes
            .try_into()
            .map_err(|_| anyhow::anyhow!("{} must hold 32 bytes", path.display()));
    }
    create_private_dir(&dir)?;
    let key = random_bytes::<32>();
    let encoded = base64::engine::general_purpose::STANDARD.encode(key);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    match options.open(&path) {
        Ok(mut file) => {
            file.write_all(encoded.as_bytes())?;
            file.sync_all()?;
            tracing::info!(path = %path.display(), "generated a new secret key");
            Ok(key)
        }
        // Another process created it first: use theirs.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => load_or_create(data_dir, name),
        Err(e) => Err(e).with_context(|| format!("creating {}", path.display())),
    }
}

fn create_private_dir(dir: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    }
    Ok(())
}

/// Writes a secret setting as `***` (or empty when unset), so printed
/// configuration never shows it.
pub(crate) fn serialize_secret<S: serde::Serializer>(
    secret: &secrecy::SecretString,
    s: S,
) -> Result<S::Ok, S::Error> {
    if secrecy::ExposeSecret::expose_secret(secret).is_empty() {
        s.serialize_str("")
    } else {
        s.serialize_str("***")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_is_created_once_private_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let a = load_or_create(dir.path(), "jwt").unwrap();
        let b = load_or_create(dir.path(), "jwt").unwrap();
        assert_eq!(a, b);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join("keys/jwt.key"))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert_ne!(a, load_or_create(dir.path(), "other").unwrap());
    }
}
