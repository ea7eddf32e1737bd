//! File settings: where objects live, and what may be uploaded.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use secrecy::SecretString;
use serde::{Deserialize, Serialize};

/// Where file contents are stored. `local` is the default: a folder
/// (`files.dir`, default `<data_dir>/files`) on this machine, fine for a
/// single node; replicas share S3 or Azure Blob.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    Local,
    S3,
    Azure,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct FilesConfig {
    pub backend: Backend,
    /// The local backend's folder; empty means `<data_dir>/files`.
    pub dir: PathBuf,
    /// Largest upload, in MB (MiB), unless `max_size_mb_by_type` says less
    /// (or more) for its type.
    pub max_size_mb: u64,
    /// Per-type limits in MB, keyed by the names of `allowed_types`
    /// (`pdf = 50`, `jpeg = 10`).
    pub max_size_mb_by_type: BTreeMap<String, u64>,
    /// Types that may be uploaded, as sniffed from the content: `jpeg`,
    /// `png`, `webp`, `gif`, `pdf`, `text`, `csv`, `docx`, `xlsx`, `pptx`,
    /// `odt`, `ods`.
    pub allowed_types: Vec<String>,
    /// Longest side of a thumbnail, in pixels.
    pub thumbnail_px: u32,
    /// Lifetime of a signed link when the request names none, and the
    /// most a request may ask for, in minutes.
    pub link_default_minutes: u64,
    pub link_max_minutes: u64,
    /// How old an object without rows, or a staging file of an unfinished
    /// write, must be before the sweep deletes it (what a process that
    /// died mid-upload leaves). Keep it above `http.upload_timeout_secs`.
    pub orphan_grace_secs: u64,
    pub s3: S3Config,
    pub azure: AzureConfig,
}

impl Default for FilesConfig {
    fn default() -> Self {
        Self {
            backend: Backend::Local,
            dir: PathBuf::new(),
            max_size_mb: 25,
            max_size_mb_by_type: BTreeMap::new(),
            allowed_types: [
                "jpeg", "png", "webp", "gif", "pdf", "text", "csv", "docx", "xlsx", "pptx",
            ]
            .map(str::to_owned)
            .to_vec(),
            thumbnail_px: 320,
            link_default_minutes: 15,
            link_max_minutes: 7 * 24 * 60,
            orphan_grace_secs: 3600,
            s3: S3Config::default(),
            azure: AzureConfig::default(),
        }
    }
}

/// An S3 bucket (AWS or any S3-compatible server).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct S3Config {
    pub bucket: String,
    pub region: String,
    /// For S3-compatible servers (`http://127.0.0.1:9000`); empty: AWS.
    pub endpoint: String,
    pub access_key_id: String,
    #[serde(serialize_with = "crate::secrets::serialize_secret")]
    pub secret_access_key: SecretString,
    /// Allow a plain-HTTP endpoint (local servers only).
    pub allow_http: bool,
}

/// An Azure Blob Storage container.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct AzureConfig {
    pub account: String,
    pub container: String,
    #[serde(serialize_with = "crate::secrets::serialize_secret")]
    pub access_key: SecretString,
    /// The blob endpoint; empty: `https://<account>.blob.core.windows.net`.
    /// For Azurite: `http://127.0.0.1:10000/devstoreaccount1`.
    pub endpoint: String,
    /// Talk to the Azurite emulator: its well-known account and key unless
    /// given, its default endpoint unless given, plain HTTP allowed.
    pub use_emulator: bool,
    /// Allow a plain-HTTP endpoint (the emulator only).
    pub allow_http: bool,
}

impl Default for AzureConfig {
    fn default() -> Self {
        Self {
            account: String::new(),
            container: String::new(),
            access_key: SecretString::from(String::new()),
            endpoint: String::new(),
            use_emulator: false,
            allow_http: false,
        }
    }
}

impl FilesConfig {
    /// The local backend's folder: `dir`, or `<data_dir>/files`.
    pub fn local_dir(&self, data_dir: &Path) -> PathBuf {
        if self.dir.as_os_str().is_empty() {
            data_dir.join("files")
        } else {
            self.dir.clone()
        }
    }

    /// The size limit in bytes for a sniffed type (its short name).
    pub fn max_bytes_for(&self, kind: &str) -> u64 {
        let mb = self
            .max_size_mb_by_type
            .get(kind)
            .copied()
            .unwrap_or(self.max_size_mb);
        mb.saturating_mul(1024 * 1024)
    }

    /// The largest any upload may be, whatever its type.
    pub fn max_bytes(&self) -> u64 {
        self.max_size_mb_by_type
            .values()
            .copied()
            .chain([self.max_size_mb])
            .max()
            .unwrap_or(self.max_size_mb)
            .saturating_mul(1024 * 1024)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_per_type_override_the_default() {
        let mut c = FilesConfig::default();
        c.max_size_mb_by_type.insert("pdf".into(), 50);
        c.max_size_mb_by_type.insert("jpeg".into(), 5);
        assert_eq!(c.max_bytes_for("pdf"), 50 * 1024 * 1024);
        assert_eq!(c.max_bytes_for("jpeg"), 5 * 1024 * 1024);
        assert_eq!(c.max_bytes_for("png"), 25 * 1024 * 1024);
        assert_eq!(c.max_bytes(), 50 * 1024 * 1024);
    }

    #[test]
    fn unknown_types_stop_the_start() {
        let dir = tempfile::tempdir().unwrap();
        let mut c = FilesConfig::default();
        c.allowed_types.push("exe".into());
        let err = super::super::Files::new(&c, dir.path(), Vec::new())
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("\"exe\""), "{err}");
    }
}
